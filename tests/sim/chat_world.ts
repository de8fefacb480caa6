/**
 * A seeded discrete-event simulator of a whole chat cluster: servers that each run the
 * `ServerNode` the runtime runs (membership, Bully, the chat core, the guard, defer/flush), and
 * clients that run a `ChatClientCore`, over a simulated network with loss, duplication and delay
 * jitter (hence reordering), with crashes, restarts and partitions (the servers split into sides,
 * each client on the side of its server, nothing crosses until the heal), in simulated time only.
 *
 * It plays the runtimes: it ticks every node and client core, turns actions into datagrams, steps
 * a server's `flush` after the datagrams of the same instant, re-discovers a server
 * for a client that asks (`need-server`), and checks that every body a core sends passes its wire
 * validator and fits a datagram, and that traffic never runs away. Everything a client delivers goes to the observer
 * (`chat_invariants.ts`). Given the same seed and calls it does exactly the same thing.
 *
 * @module
 */

import { type ChatConfig, defaultChatConfig } from "../../src/config/mod.ts";
import {
  type ChatClientAction,
  ChatClientCore,
  type ChatClientEvent,
  type ServerRef,
} from "../../src/chat/client_core.ts";
import type { ChatServerAction, ChatServerCore } from "../../src/chat/chat_server_core.ts";
import { jsonBytes } from "../../src/chat/size.ts";
import { defaultLanConfig, type TimingConfig } from "../../src/config/mod.ts";
import type { ServerCore } from "../../src/membership/core.ts";
import { type NodeEvent, SERVER_SKIPS, ServerNode, serverRoute } from "../../src/server/node.ts";
import type { Address } from "../../src/transport/types.ts";
import { SeededRandom } from "../../src/util/random.ts";
import {
  type Body,
  type ChatLineAddress,
  DEFAULT_ROOM,
  type Kind,
  MESSAGE_KINDS,
  type Role,
  type Sender,
} from "../../src/wire/messages.ts";
import { SimViolation } from "./invariants.ts";
import { SimClock } from "./queue.ts";
import type { NetworkModel } from "./simulator.ts";
import { defaultWireMode, type Packet, SIM_SECURITY, SimWire, type WireMode } from "./wire.ts";

/** The rooms simulated users move between. */
const SIM_ROOMS = [DEFAULT_ROOM, "ops", "dev"];

/** Wall-clock time of simulated time 0 (ms since the epoch). */
const EPOCH = 1_750_000_000_000;
/** Largest body a datagram may carry: `maxDatagramBytes` minus a generous envelope. */
const MAX_BODY_BYTES = defaultLanConfig().network.maxDatagramBytes - 400;
/** Datagrams per simulated second beyond which traffic has run away (normal runs send ~300). */
const RUNAWAY_PER_SECOND = 20_000;

/** Sees what clients deliver and every notice; may throw to stop the run. */
export interface ChatObserver {
  /** Called with every action a client core returned. */
  clientActions(client: SimClient, actions: readonly ChatClientAction[]): void;
  /** Called with every action a chat server core returned. */
  serverActions(server: SimServer, actions: readonly ChatServerAction[]): void;
  /**
   * Called when the user of `client` types `text` (`address`: its kind, room, recipient, when
   * not a lobby line), before its core sees it.
   */
  typed?(client: SimClient, text: string, address?: ChatLineAddress): void;
  /**
   * Called with every datagram sent toward a client's host (`viaGroup`: multicast to the group),
   * before the network decides whether it arrives: what a listener on that link would see.
   */
  toClient?(client: SimClient, body: Body, viaGroup: boolean): void;
}

/** One simulated server slot. */
export class SimServer {
  /** Node id. */
  readonly id: string;
  /** Bully priority. */
  readonly priority: number;
  /** Unicast address. */
  readonly addr: Address;
  /** The server node of the running process, or null while down. */
  node: ServerNode | null = null;
  /** Incarnation of the running (or last) process. */
  incarnation = 0;
  /** Bumped on every start and crash: ends stale tick loops. */
  epoch = 0;
  /** The running (or last) process's gate to the network: codec, replay window, bindings. */
  wire: SimWire | null = null;
  /** While `now` is below this the process is paused: it handles no event until then. */
  pausedUntil = 0;
  /** How far its wall clock is off simulated wall time (ms); jumps move it. */
  wallOffset = 0;

  /** Creates a slot, down until started. */
  constructor(id: string, priority: number, index: number) {
    this.id = id;
    this.priority = priority;
    this.addr = { host: `10.0.0.${index + 1}`, port: 7401 };
  }

  /** True while a process runs. */
  get up(): boolean {
    return this.node !== null;
  }

  /** The membership core of the running process, or null while down. */
  get core(): ServerCore | null {
    return this.node?.core ?? null;
  }

  /** The chat core of the running process, or null while down. */
  get chat(): ChatServerCore | null {
    return this.node?.chat ?? null;
  }

  /** Its envelope sender. */
  sender(): Sender {
    return { id: this.id, incarnation: this.incarnation, role: "server", addr: this.addr };
  }
}

/** One simulated client slot. */
export class SimClient {
  /** Node id. */
  readonly id: string;
  /** User name. */
  readonly user: string;
  /** History it asks for. */
  readonly history: number;
  /** Unicast address. */
  readonly addr: Address;
  /** The running core, or null while down. */
  core: ChatClientCore | null = null;
  /** Incarnation of the running (or last) process. */
  incarnation = 0;
  /** Bumped on every start and crash. */
  epoch = 0;
  /** The running (or last) process's gate to the network: codec, replay window, bindings. */
  wire: SimWire | null = null;
  /** While `now` is below this the process is paused: it handles no event until then. */
  pausedUntil = 0;
  /** How far its wall clock is off simulated wall time (ms); jumps move it. */
  wallOffset = 0;
  /** Lines typed so far. */
  typed = 0;
  /** The room its user is in, or moving to (a new process starts in the lobby). */
  room = DEFAULT_ROOM;
  /** Bumped on every `need-server`: only the latest discovery attaches. */
  discoveries = 0;
  /** The servers that answered the latest discovery. */
  answered: ServerRef[] = [];

  /** Creates a slot, down until started. */
  constructor(id: string, user: string, history: number, index: number) {
    this.id = id;
    this.user = user;
    this.history = history;
    this.addr = { host: `10.0.1.${index + 1}`, port: 40000 + index };
  }

  /** True while a process runs. */
  get up(): boolean {
    return this.core !== null;
  }

  /** Its envelope sender. */
  sender(): Sender {
    return { id: this.id, incarnation: this.incarnation, role: "client", addr: this.addr };
  }
}

/** What a {@linkcode ChatWorld} needs. */
export interface ChatWorldOptions {
  /** Seed of every random choice. */
  seed: number;
  /** The network. */
  network: NetworkModel;
  /** Server protocol timing; default `defaultLanConfig().timing`. */
  timing?: TimingConfig;
  /** Chat tunables; default `defaultChatConfig()`. */
  chat?: ChatConfig;
  /** How datagrams travel (see `wire.ts`); default {@linkcode defaultWireMode}. */
  wire?: WireMode;
}

type Endpoint = { kind: "server"; node: SimServer } | { kind: "client"; node: SimClient };

/** A simulated chat cluster and network. */
export class ChatWorld extends SimClock {
  /** Every random choice comes from here, but what kind of line a user types. */
  readonly rng: SeededRandom;
  /**
   * What kind of line a user types (chat, action, room move, direct message): a stream of its
   * own, so that adding line kinds left every schedule's other choices as they were.
   */
  readonly #lineKinds: SeededRandom;
  /** Server timing. */
  readonly timing: TimingConfig;
  /** Chat tunables. */
  readonly chat: ChatConfig;
  /** How datagrams travel. */
  readonly wire: WireMode;
  /** The network (may change between steps). */
  network: NetworkModel;
  /** Datagrams sent. */
  datagrams = 0;
  /** Observers of client actions. */
  readonly observers: ChatObserver[] = [];
  readonly #servers: SimServer[] = [];
  readonly #clients: SimClient[] = [];
  readonly #byAddress = new Map<string, Endpoint>();
  #second = 0;
  #sentThisSecond = 0;
  #sides: Map<string, number> | null = null;
  #lastSides: Map<string, number> | null = null;

  /** Creates an empty world. */
  constructor(options: ChatWorldOptions) {
    super(50);
    this.rng = new SeededRandom(options.seed);
    this.#lineKinds = new SeededRandom((options.seed * 7919 + 17) >>> 0);
    this.network = options.network;
    this.timing = options.timing ?? defaultLanConfig().timing;
    this.chat = options.chat ?? defaultChatConfig();
    this.wire = options.wire ?? defaultWireMode();
  }

  /** Every server slot. */
  get servers(): readonly SimServer[] {
    return this.#servers;
  }

  /** Every client slot. */
  get clients(): readonly SimClient[] {
    return this.#clients;
  }

  /** Adds a server slot. */
  addServer(id: string, priority = 0): SimServer {
    const node = new SimServer(id, priority, this.#servers.length);
    this.#servers.push(node);
    this.#byAddress.set(key(node.addr), { kind: "server", node });
    return node;
  }

  /** Adds a client slot. */
  addClient(id: string, user: string, history: number): SimClient {
    const node = new SimClient(id, user, history, this.#clients.length);
    this.#clients.push(node);
    this.#byAddress.set(key(node.addr), { kind: "client", node });
    return node;
  }

  /** The server with this id. */
  server(id: string): SimServer {
    const node = this.#servers.find((s) => s.id === id);
    if (!node) throw new Error(`no simulated server ${id}`);
    return node;
  }

  /** The client with this id. */
  client(id: string): SimClient {
    const node = this.#clients.find((c) => c.id === id);
    if (!node) throw new Error(`no simulated client ${id}`);
    return node;
  }

  /** The server every up server follows, if they all agree on one that is up. */
  agreedLeader(): SimServer | undefined {
    const up = this.#servers.filter((s) => s.up);
    const leaders = new Set(up.map((s) => s.core!.leader().id));
    if (leaders.size !== 1) return undefined;
    const [id] = leaders;
    return up.find((s) => s.id === id);
  }

  /** Starts (or restarts with a higher incarnation) a server. */
  startServer(id: string): void {
    const node = this.server(id);
    if (node.up) return;
    node.incarnation++;
    node.epoch++;
    node.wire = new SimWire(node.sender(), this.wire, SERVER_SKIPS);
    node.node = new ServerNode({
      self: node.sender(),
      priority: node.priority,
      config: { timing: this.timing, chat: this.chat, security: SIM_SECURITY },
      seeds: [],
      version: "sim",
      random: () => this.rng.next(),
      rejections: () => node.wire!.rejections(),
    });
    this.#stepServer(node, { type: "start", now: this.now, wall: this.#wall(node) });
    const epoch = node.epoch;
    this.queue.push(
      this.now + this.rng.next() * this.timing.tickIntervalMs,
      () => this.#tickServer(node, epoch),
    );
  }

  /** Kills a server (SIGKILL): its state is lost. */
  crashServer(id: string): void {
    const node = this.server(id);
    node.node = null;
    node.epoch++;
  }

  /** Starts (or restarts as a new session) a client. */
  startClient(id: string): void {
    const node = this.client(id);
    if (node.up) return;
    node.incarnation++;
    node.epoch++;
    node.room = DEFAULT_ROOM;
    node.wire = new SimWire(node.sender(), this.wire);
    node.core = new ChatClientCore({
      self: node.sender(),
      user: node.user,
      config: { ...this.chat, history: node.history },
    });
    this.#stepClient(node, { type: "start", now: this.now });
    const epoch = node.epoch;
    this.queue.push(
      this.now + this.rng.next() * this.timing.tickIntervalMs,
      () => this.#tickClient(node, epoch),
    );
  }

  /** Kills a client. */
  crashClient(id: string): void {
    const node = this.client(id);
    node.core = null;
    node.epoch++;
  }

  /** The user of client `id` types a line now. */
  type(id: string): void {
    const node = this.client(id);
    if (!node.core) return;
    if (this.#deferred(node, () => this.type(id))) return;
    node.typed++;
    const text = `${node.id}#${node.incarnation}:${node.typed}`;
    const address = this.#address(node);
    for (const observer of this.observers) observer.typed?.(node, text, address);
    this.#stepClient(node, {
      type: "send-text",
      text,
      ts: this.#wall(node),
      now: this.now,
      ...(address ? { address } : {}),
    });
  }

  /**
   * What the next line of `node` is: mostly a chat line in its room; sometimes a direct message
   * to another user (up or not), a move to another room, or an action line.
   */
  #address(node: SimClient): ChatLineAddress | undefined {
    const roll = this.#lineKinds.next();
    const room = node.room === DEFAULT_ROOM ? {} : { room: node.room };
    if (roll < 0.08) {
      const others = this.#clients.filter((c) => c.user !== node.user);
      if (others.length > 0) return { line: "direct", to: this.#lineKinds.pick(others).user };
    }
    if (roll < 0.14) {
      node.room = this.#lineKinds.pick(SIM_ROOMS);
      return { line: "enter", room: node.room };
    }
    if (roll < 0.2) return { line: "action", ...room };
    return node.room === DEFAULT_ROOM ? undefined : room;
  }

  /**
   * Pauses the process of node `id` (SIGSTOP, a long GC) for `ms`: it handles no datagram, timer
   * or input until then, and then everything that waited at once, in arrival order.
   */
  pause(id: string, ms: number): void {
    const node = this.#servers.find((s) => s.id === id) ?? this.client(id);
    node.pausedUntil = Math.max(node.pausedUntil, this.now + ms);
  }

  /** True while node `id` is paused. */
  paused(id: string): boolean {
    const node = this.#servers.find((s) => s.id === id) ?? this.client(id);
    return this.now < node.pausedUntil;
  }

  /** Moves the wall clock of node `id` by `ms` (either way); its monotonic clock never jumps. */
  jumpClock(id: string, ms: number): void {
    const node = this.#servers.find((s) => s.id === id) ?? this.client(id);
    node.wallOffset += ms;
  }

  /**
   * Splits the network: the servers of each group form one side, every client joins the side of
   * the server it is attached to (or of its first group when detached); datagrams between sides
   * are lost and clients discover only servers of their side, until {@linkcode ChatWorld.heal}.
   */
  partition(groups: readonly (readonly string[])[]): void {
    const sides = new Map<string, number>();
    groups.forEach((ids, side) => ids.forEach((id) => sides.set(id, side)));
    for (const client of this.#clients) {
      const server = client.core?.status().server;
      sides.set(client.id, (server !== null && server !== undefined && sides.get(server)) || 0);
    }
    this.#sides = sides;
    this.#lastSides = sides;
  }

  /** Ends a partition: every datagram may cross again. */
  heal(): void {
    this.#sides = null;
  }

  /** The side of a node during a partition (undefined when whole). */
  sideOf(id: string): number | undefined {
    return this.#sides?.get(id);
  }

  /** The side a node was on in the latest partition, healed or not (undefined: none, or new). */
  lastSideOf(id: string): number | undefined {
    return this.#lastSides?.get(id);
  }

  /** Schedules `run` at time `at`. */
  at(at: number, run: () => void): void {
    this.queue.push(at, run);
  }

  #tickServer(node: SimServer, epoch: number): void {
    if (node.epoch !== epoch || !node.up) return;
    if (this.#deferred(node, () => this.#tickServer(node, epoch))) return;
    this.#stepServer(node, { type: "tick", now: this.now, wall: this.#wall(node) });
    const delay = this.timing.tickIntervalMs + this.rng.next() * 2;
    this.queue.push(this.now + delay, () => this.#tickServer(node, epoch));
  }

  #tickClient(node: SimClient, epoch: number): void {
    if (node.epoch !== epoch || !node.up) return;
    if (this.#deferred(node, () => this.#tickClient(node, epoch))) return;
    this.#stepClient(node, { type: "tick", now: this.now });
    const delay = this.timing.tickIntervalMs + this.rng.next() * 2;
    this.queue.push(this.now + delay, () => this.#tickClient(node, epoch));
  }

  #stepServer(node: SimServer, event: NodeEvent): void {
    const server = node.node;
    if (!server) return;
    const actions = server.step(event);
    const chat: ChatServerAction[] = [];
    for (const action of actions) {
      if (action.type === "chat-notice") chat.push({ type: "notify", notice: action.notice });
      else if (action.type !== "send" && action.type !== "multicast") continue;
      else if (serverRoute(action.body.kind) === "chat") chat.push(action);
    }
    for (const observer of this.observers) observer.serverActions(node, chat);
    for (const action of actions) {
      if (action.type === "send") {
        this.#transmit(node.sender(), node, action.to, action.body, false);
      } else if (action.type === "multicast") {
        this.#multicast(node, action.body);
      } else if (action.type === "flush-soon") {
        const epoch = node.epoch;
        const flush = () => {
          if (node.epoch !== epoch || this.#deferred(node, flush)) return;
          this.#stepServer(node, { type: "flush", now: this.now });
        };
        this.queue.push(this.now, flush);
      } else if (action.type === "offence") {
        throw new SimViolation(
          `${node.id} cut off ${action.offence.id}: ${action.offence.reason} (${action.offence.detail})`,
        );
      }
    }
  }

  /**
   * The group reaches every process, but servers ignore the chat multicast and clients the
   * servers' own: only those that would read it get a copy (clients only while up, as before).
   */
  #multicast(node: SimServer, body: Body): void {
    const data = this.#seal(node, body);
    if (MESSAGE_KINDS[body.kind].layer === "chat-client") {
      for (const to of this.#clients) {
        if (to.up) this.#transmit(node.sender(), node, to.addr, body, true, data);
      }
      return;
    }
    for (const to of this.#servers) {
      if (to !== node) this.#transmit(node.sender(), node, to.addr, body, true, data);
    }
  }

  #stepClient(node: SimClient, event: ChatClientEvent): void {
    const core = node.core;
    if (!core) return;
    const actions = core.step(event);
    for (const observer of this.observers) observer.clientActions(node, actions);
    for (const action of actions) {
      if (action.type === "send") {
        this.#transmit(node.sender(), node, action.to, action.body, false);
      } else if (action.type === "need-server") {
        this.#discover(node, node.epoch, ++node.discoveries, action.avoid?.id);
      }
    }
  }

  /**
   * Plays the client's discovery through the servers' own answers: it sends `discover` to the
   * group (every server of its side may hear it, loss permitting), and after a short while
   * attaches to a random one of the servers that answered (preferring others than `avoid`); when
   * none did, it asks again.
   */
  #discover(node: SimClient, epoch: number, token: number, avoid: string | undefined): void {
    node.answered = [];
    const ask: Body = { kind: "discover", nonce: token };
    const packet = this.#seal(node, ask);
    for (const to of this.#servers) this.#transmit(node.sender(), node, to.addr, ask, true, packet);
    const delay = 30 + this.rng.next() * 200;
    const decide = () => {
      if (node.epoch !== epoch || node.discoveries !== token) return;
      if (this.#deferred(node, decide)) return;
      const preferred = node.answered.filter((s) => s.id !== avoid);
      const choices = preferred.length > 0 ? preferred : node.answered;
      if (choices.length === 0) {
        this.#discover(node, epoch, token, avoid);
        return;
      }
      const server = this.rng.pick(choices);
      this.#stepClient(node, { type: "attach", server, now: this.now });
    };
    this.queue.push(this.now + delay, decide);
  }

  #transmit(
    sender: Sender,
    from: SimServer | SimClient,
    to: Address,
    body: Body,
    viaGroup: boolean,
    sealed?: Packet,
  ): void {
    const data = sealed ?? this.#seal(from, body, to);
    const target = this.#byAddress.get(key(to));
    if (!target || target.node === from) return;
    if (this.#sides && this.#sides.get(sender.id) !== this.#sides.get(target.node.id)) return;
    if (target.kind === "client") {
      for (const observer of this.observers) observer.toClient?.(target.node, body, viaGroup);
    }
    this.datagrams++;
    if (Math.floor(this.now / 1000) !== this.#second) {
      this.#second = Math.floor(this.now / 1000);
      this.#sentThisSecond = 0;
    }
    if (++this.#sentThisSecond > RUNAWAY_PER_SECOND) {
      throw new SimViolation(
        `more than ${RUNAWAY_PER_SECOND} datagrams in simulated second ${this.#second}: traffic ran away (last ${body.kind})`,
      );
    }
    const { latencyMs, jitterMs, loss, duplicate } = this.network;
    if (loss > 0 && this.rng.chance(loss)) return;
    const copies = duplicate > 0 && this.rng.chance(duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.now + latencyMs + this.rng.next() * jitterMs;
      this.queue.push(at, () => this.#arrive(target, data, viaGroup));
    }
  }

  /** Checks a body as the wire would, then seals it (for `to`, or for the group). */
  #seal(from: SimServer | SimClient, body: Body, to?: Address): Packet {
    checkBody(from.sender().role, body, this.chat);
    return from.wire!.seal(body, this.#wall(from), to);
  }

  /** True when `node` is paused now; `run` then runs when it wakes. */
  #deferred(node: SimServer | SimClient, run: () => void): boolean {
    if (this.now >= node.pausedUntil) return false;
    this.queue.push(node.pausedUntil, run);
    return true;
  }

  /** The wall clock of `node` now (ms since the epoch). */
  #wall(node: SimServer | SimClient): number {
    return EPOCH + Math.floor(this.now) + node.wallOffset;
  }

  /** Hands a datagram to its process through the process's gate, as its runtime would. */
  #arrive(target: Endpoint, packet: Packet, viaGroup: boolean): void {
    if (this.#deferred(target.node, () => this.#arrive(target, packet, viaGroup))) return;
    if (!target.node.up) return;
    const envelope = target.node.wire!.open(packet, this.#wall(target.node));
    if (!envelope) return;
    const now = this.now;
    if (target.kind === "client") {
      const { sender, body } = envelope;
      if (body.kind !== "discover-reply") {
        this.#stepClient(target.node, { type: "receive", envelope, now });
      } else if (
        body.nonce === target.node.discoveries && sender.role === "server" &&
        !target.node.answered.some((s) => s.id === sender.id)
      ) {
        const { id, incarnation, addr } = sender;
        target.node.answered.push({ id, incarnation, addr });
      }
      return;
    }
    this.#stepServer(target.node, { type: "receive", envelope, viaGroup, now });
  }
}

/**
 * Throws a {@linkcode SimViolation} for a body the wire would refuse: invalid for its kind, too
 * large for a datagram, or a batch of several items over the datagram budget.
 */
function checkBody(role: Role, body: Body, chat: ChatConfig): void {
  const { kind, ...fields } = body;
  if (!MESSAGE_KINDS[kind as Kind].validate(fields)) {
    throw new SimViolation(`a ${role} sent an invalid ${kind}: ${JSON.stringify(fields)}`);
  }
  if (serverRoute(kind as Kind) !== "chat") return;
  const bytes = jsonBytes(fields);
  if (bytes > MAX_BODY_BYTES) {
    throw new SimViolation(`a ${role} sent a ${kind} of ${bytes} bytes`);
  }
  const list = Object.values(fields).find(Array.isArray) as unknown[] | undefined;
  if (list && list.length > 1 && bytes > chat.batchBodyBytes) {
    throw new SimViolation(
      `a ${role} batched ${list.length} items into ${bytes} bytes (budget ${chat.batchBodyBytes})`,
    );
  }
}

function key(address: Address): string {
  return `${address.host}:${address.port}`;
}
