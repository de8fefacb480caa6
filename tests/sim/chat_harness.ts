/**
 * A hand-driven chat cluster for focused tests: chat server cores and chat client cores joined by
 * a lossless FIFO wire that a test can filter (drop what it names), with the membership view set
 * by the test instead of a `ServerCore`. Time moves only when the test says so.
 *
 * @module
 */

import { type ChatConfig, defaultChatConfig } from "../../src/config/mod.ts";
import { type ChatClientAction, ChatClientCore } from "../../src/chat/client_core.ts";
import { type ChatNotice, ChatServerCore } from "../../src/chat/chat_server_core.ts";
import type { LogOp, RestoredLog } from "../../src/chat/journal.ts";
import type { MemberView, ViewSnapshot } from "../../src/membership/events.ts";
import type { Address } from "../../src/transport/types.ts";
import type { Body, ChatLineAddress, Envelope, Sender } from "../../src/wire/messages.ts";

/** Wall-clock time of simulated time 0. */
export const WALL = 1_750_000_000_000;

/** A made-up server sender; each id gets its own address. */
export function serverSender(id: string, incarnation = 1): Sender {
  return { id, incarnation, role: "server", addr: { host: `10.9.0.${hostOf(id)}`, port: 7401 } };
}

/** A made-up client sender. */
export function clientSender(id: string, incarnation = 1): Sender {
  return { id, incarnation, role: "client", addr: { host: `10.9.1.${hostOf(id)}`, port: 5000 } };
}

const hosts = new Map<string, number>();
function hostOf(id: string): number {
  if (!hosts.has(id)) hosts.set(id, hosts.size + 1);
  return hosts.get(id)!;
}

/** A view snapshot in which `self` and `others` are alive servers and `leader` leads at `term`. */
export function viewOf(
  self: Sender,
  others: readonly Sender[],
  leader: string | null,
  term: number,
): ViewSnapshot {
  const member = (s: Sender): MemberView => ({
    id: s.id,
    role: "server",
    addr: s.addr,
    incarnation: s.incarnation,
    priority: 0,
    state: "alive",
    lastHeardAgeMs: 0,
    isLeader: s.id === leader,
  });
  return { view: 1, members: [self, ...others].map(member), leader, term };
}

/** One datagram on the wire. */
export interface Datagram {
  /** Who sent it. */
  from: Sender;
  /** Where it goes. */
  to: Address;
  /** What it says. */
  body: Body;
}

/** Chat cores on a lossless wire the test drives. */
export class MiniCluster {
  /** The chat tunables every core uses. */
  readonly config: ChatConfig;
  /** Simulated time (ms). */
  now = 0;
  /** Datagrams in flight, oldest first. */
  readonly wire: Datagram[] = [];
  /** Every datagram ever sent, for assertions. */
  readonly sent: Datagram[] = [];
  /** Notices of every server, with the server's id. */
  readonly notices: { server: string; notice: ChatNotice }[] = [];
  /** Everything each client's core returned, by client id. */
  readonly clientActions = new Map<string, ChatClientAction[]>();
  /** Drops a datagram when it returns true. */
  drop: (d: Datagram) => boolean = () => false;
  readonly #servers = new Map<string, { sender: Sender; core: ChatServerCore }>();
  readonly #clients = new Map<string, { sender: Sender; core: ChatClientCore }>();

  /** Creates an empty cluster with `overrides` applied to the default chat tunables. */
  constructor(overrides: Partial<ChatConfig> = {}) {
    this.config = { ...defaultChatConfig(), ...overrides };
  }

  /**
   * The disk of every persistent server: the log changes it flushed, what it was asked to write
   * and did not flush yet, and whether flushes are held back (a slow disk).
   */
  readonly disks = new Map<
    string,
    { flushed: LogOp[]; unflushed: { id: number; ops: LogOp[] }[]; hold: boolean }
  >();

  /**
   * Starts a server core; `persist` keeps its log on a simulated disk (flushed on every tick
   * unless held, see {@linkcode MiniCluster.disks}), `restored` starts it from one.
   */
  addServer(
    sender: Sender,
    options: { persist?: boolean; restored?: RestoredLog } = {},
  ): ChatServerCore {
    const core = new ChatServerCore({ self: sender, config: this.config, ...options });
    if (options.persist) this.disks.set(sender.id, { flushed: [], unflushed: [], hold: false });
    this.#servers.set(sender.id, { sender, core });
    this.#serverStep(sender.id, () => core.step({ type: "start", now: this.now, wall: WALL }));
    return core;
  }

  /** Flushes what server `id` wrote to its disk and tells it so. */
  flushDisk(id: string): void {
    const disk = this.disks.get(id)!;
    const server = this.#servers.get(id);
    const last = disk.unflushed.at(-1)?.id;
    if (!server || last === undefined) return;
    for (const batch of disk.unflushed) disk.flushed.push(...batch.ops);
    disk.unflushed = [];
    this.#serverStep(id, () => server.core.step({ type: "persisted", id: last, now: this.now }));
  }

  /** The server core with this id. */
  server(id: string): ChatServerCore {
    return this.#servers.get(id)!.core;
  }

  /** Removes a server (a crash): datagrams to it are lost from now on. */
  crash(id: string): void {
    this.#servers.delete(id);
  }

  /** Tells every server that the live servers are `ids` and `leader` leads at `term`. */
  setView(ids: readonly string[], leader: string | null, term: number): void {
    const senders = ids.map((id) => this.#servers.get(id)!.sender);
    for (const { sender, core } of this.#servers.values()) {
      if (!ids.includes(sender.id)) continue;
      const view = viewOf(sender, senders.filter((s) => s !== sender), leader, term);
      this.#serverStep(sender.id, () => core.step({ type: "membership", view, now: this.now }));
    }
  }

  /** Starts a client core (whose `history` counts lines of `room`, when given). */
  addClient(sender: Sender, user: string, history = 100, room?: string): ChatClientCore {
    const core = new ChatClientCore({
      self: sender,
      user,
      config: { ...this.config, history },
      ...(room === undefined ? {} : { room }),
    });
    this.#clients.set(sender.id, { sender, core });
    this.clientActions.set(sender.id, []);
    this.#clientStep(sender.id, () => core.step({ type: "start", now: this.now }));
    return core;
  }

  /** Attaches a client to a server. */
  attach(clientId: string, serverId: string): void {
    const server = this.#servers.get(serverId)!.sender;
    const { core } = this.#clients.get(clientId)!;
    this.#clientStep(
      clientId,
      () =>
        core.step({
          type: "attach",
          server: { id: server.id, incarnation: server.incarnation, addr: server.addr },
          now: this.now,
        }),
    );
  }

  /** The user of a client types a line (of a kind, room, recipient: `address`). */
  type(clientId: string, text: string, address?: ChatLineAddress): void {
    const { core } = this.#clients.get(clientId)!;
    this.#clientStep(
      clientId,
      () =>
        core.step({
          type: "send-text",
          text,
          ts: WALL + this.now,
          now: this.now,
          ...(address ? { address } : {}),
        }),
    );
  }

  /** The user of a client asks its server for up to `max` past lines of `room` before `before`. */
  askPast(clientId: string, room: string, before: number, max: number): void {
    const { core } = this.#clients.get(clientId)!;
    this.#clientStep(
      clientId,
      () => core.step({ type: "ask-past", room, before, max, now: this.now }),
    );
  }

  /** The user of a client asks about rooms and the users of `room` (`/rooms`, `/who`). */
  ask(clientId: string, room: string): void {
    const { core } = this.#clients.get(clientId)!;
    this.#clientStep(clientId, () => core.step({ type: "ask-who", room, now: this.now }));
  }

  /** The core of client `id`. */
  client(id: string): ChatClientCore {
    return this.#clients.get(id)!.core;
  }

  /** Removes a client (a crash): it sends and receives nothing from now on. */
  crashClient(id: string): void {
    this.#clients.delete(id);
  }

  /** The user of a client quits. */
  quit(clientId: string): void {
    const { core } = this.#clients.get(clientId)!;
    this.#clientStep(clientId, () => core.step({ type: "quit", now: this.now }));
  }

  /** Delivers datagrams (and those they cause) until the wire is empty. */
  settle(limit = 100_000): void {
    for (let i = 0; i < limit && this.wire.length > 0; i++) this.#deliver(this.wire.shift()!);
  }

  /** Advances time by `ms` in ticks of `step` ms, settling the wire after every tick. */
  advance(ms: number, step = 25): void {
    const until = this.now + ms;
    while (this.now < until) {
      this.now = Math.min(until, this.now + step);
      for (const [id, { core }] of this.#servers) {
        this.#serverStep(
          id,
          () => core.step({ type: "tick", now: this.now, wall: WALL + this.now }),
        );
      }
      for (const [id, { core }] of this.#clients) {
        this.#clientStep(id, () => core.step({ type: "tick", now: this.now }));
      }
      for (const [id, disk] of this.disks) if (!disk.hold) this.flushDisk(id);
      this.settle();
    }
  }

  /** The lines a client delivered, as `from: text`, in order. */
  lines(clientId: string): string[] {
    return this.clientActions.get(clientId)!.flatMap((a) =>
      a.type === "deliver" ? [`${a.message.from}: ${a.message.text}`] : []
    );
  }

  /** The bodies of one kind sent so far. */
  bodies<K extends Body["kind"]>(kind: K): Extract<Body, { kind: K }>[] {
    return this.sent.flatMap((d) =>
      d.body.kind === kind ? [d.body as Extract<Body, { kind: K }>] : []
    );
  }

  #serverStep(id: string, step: () => ReturnType<ChatServerCore["step"]>): void {
    const sender = this.#servers.get(id)!.sender;
    for (const action of step()) {
      if (action.type === "send") this.#send({ from: sender, to: action.to, body: action.body });
      else if (action.type === "multicast") {
        for (const client of this.#clients.values()) {
          this.#send({ from: sender, to: client.sender.addr, body: action.body });
        }
      } else if (action.type === "notify") this.notices.push({ server: id, notice: action.notice });
      else this.disks.get(id)?.unflushed.push({ id: action.id, ops: action.ops });
    }
  }

  #clientStep(id: string, step: () => ChatClientAction[]): void {
    const sender = this.#clients.get(id)!.sender;
    const actions = step();
    this.clientActions.get(id)!.push(...actions);
    for (const action of actions) {
      if (action.type === "send") this.#send({ from: sender, to: action.to, body: action.body });
    }
  }

  #send(d: Datagram): void {
    this.sent.push(d);
    if (!this.drop(d)) this.wire.push(d);
  }

  #deliver(d: Datagram): void {
    const envelope: Envelope = { cluster: "test", sender: d.from, seq: 0, ts: WALL, body: d.body };
    for (const [id, { sender, core }] of this.#servers) {
      if (sameAddress(sender.addr, d.to)) {
        this.#serverStep(id, () => core.step({ type: "receive", envelope, now: this.now }));
        return;
      }
    }
    for (const [id, { sender, core }] of this.#clients) {
      if (sameAddress(sender.addr, d.to)) {
        this.#clientStep(id, () => core.step({ type: "receive", envelope, now: this.now }));
        return;
      }
    }
  }
}

function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * A `MiniCluster` of four servers `<prefix>-a` … `<prefix>-d`, all in one view led by the last at
 * term 1 (the start of the partition tests).
 */
export function fourServers(prefix: string): { cluster: MiniCluster; servers: Sender[] } {
  const cluster = new MiniCluster();
  const servers = ["a", "b", "c", "d"].map((id) => serverSender(`${prefix}-${id}`));
  for (const s of servers) cluster.addServer(s);
  cluster.setView(servers.map((s) => s.id), servers[3].id, 1);
  return { cluster, servers };
}

/**
 * A `MiniCluster` of servers `s1`, `s2`, `s3` led by `s3` at term 1, with client `a` (user
 * alice) attached to `s1` and joined: the start of most chat core tests.
 */
export function threeServers(overrides: Partial<ChatConfig> = {}): MiniCluster {
  const cluster = new MiniCluster(overrides);
  for (const id of ["s1", "s2", "s3"]) cluster.addServer(serverSender(id));
  cluster.setView(["s1", "s2", "s3"], "s3", 1);
  cluster.settle();
  cluster.addClient(clientSender("a"), "alice");
  cluster.attach("a", "s1");
  cluster.advance(100);
  return cluster;
}

/**
 * `threeServers` with client `b` (user bob) attached to `s2` too and one line of each committed:
 * both take the leader's multicast stream (the start of the stream tests).
 */
export function streamingServers(overrides: Partial<ChatConfig> = {}): MiniCluster {
  const cluster = threeServers(overrides);
  cluster.addClient(clientSender("b"), "bob");
  cluster.attach("b", "s2");
  cluster.advance(100);
  cluster.type("a", "warm 1");
  cluster.advance(100);
  cluster.type("b", "warm 2");
  cluster.advance(100);
  return cluster;
}
