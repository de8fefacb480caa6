/**
 * Nothing the decoder accepts can make a core or the encoder throw: seeded random messages, every
 * one of which the real codec seals and then accepts, reach three servers (server core and chat
 * core each) and a chat client in the middle of a running chat, and every action any core returns
 * is sealed again with the real codec. The numbers are drawn from the edges of every range (0,
 * 1, 2^31, 2^32, 2^40, 2^48, 2^53 − 1 and neighbours) and from small values near the cluster's
 * own, blind to the bounds the decoder enforces; the generator knows field names and types only.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig, testClusterConfig } from "../src/config/mod.ts";
import { type ChatClientAction, ChatClientCore } from "../src/chat/client_core.ts";
import { type ChatServerAction, ChatServerCore } from "../src/chat/chat_server_core.ts";
import { type CoreAction, ServerCore } from "../src/membership/core.ts";
import type { Address } from "../src/transport/types.ts";
import { SeededRandom } from "../src/util/random.ts";
import { WireCodec } from "../src/wire/codec.ts";
import { Keyring } from "../src/wire/keyring.ts";
import {
  type Body,
  type Envelope,
  type Kind,
  MESSAGE_KINDS,
  type Sender,
} from "../src/wire/mod.ts";
import { ReplayGuard } from "../src/wire/replay.ts";
import { SERVER_SKIPS, serverRoute } from "../src/server/node.ts";
import { VERSION } from "../src/version.ts";

const WALL = 1_750_000_000_000;
const CLUSTER = "bounds";
const SEEDS = 40;
const MESSAGES_PER_SEED = 150;

/** Numbers at the edges of every plausible range, and small ones near the cluster's own. */
const EDGES = [
  -2,
  -1,
  0,
  1,
  2,
  3,
  4,
  7,
  2 ** 16 - 1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 40 - 1,
  2 ** 40,
  2 ** 40 + 1,
  2 ** 48 - 1,
  2 ** 48,
  2 ** 48 + 1,
  WALL,
  8.64e15,
  8.64e15 + 1,
  2 ** 53 - 2,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
];

type Field =
  | "num"
  | "bool"
  | "id"
  | "user"
  | "client"
  | "text"
  | "host"
  | "version"
  | "entries"
  | "runs"
  | "members"
  | "items-post"
  | "items-forward"
  | "items-sender"
  | "claims"
  | "results"
  | "clients"
  | "reason"
  | "counts"
  | "split"
  | "disk"
  | "room"
  | "rooms";

/** The fields of every kind (names and types only: no bounds). */
const SHAPES: Record<Kind, Record<string, Field>> = {
  "discover": { nonce: "num" },
  "discover-reply": {
    nonce: "num",
    version: "version",
    priority: "num",
    uptimeMs: "num",
    viaGroup: "bool",
    leader: "id",
    term: "num",
    view: "num",
    viewSize: "num",
    clients: "num",
    rejections: "counts",
    split: "split",
    disk: "disk",
  },
  "heartbeat": status(),
  "welcome": { ...status(), members: "members" },
  "ping": { nonce: "num" },
  "ack": { nonce: "num", target: "id" },
  "ping-req": { nonce: "num", target: "id", host: "host", port: "num" },
  "election": { term: "num", priority: "num" },
  "answer": { term: "num" },
  "coordinator": { term: "num", priority: "num" },
  "leave": {},
  "chat-join": { user: "user", gen: "num", resume: "num", history: "num", runs: "runs" },
  "chat-welcome": {
    user: "user",
    gen: "num",
    start: "num",
    commit: "num",
    leader: "id",
    leaderIncarnation: "num",
  },
  "chat-refused": { reason: "reason", gen: "num" },
  "chat-post": { acked: "num", items: "items-post" },
  "chat-deliver": {
    commit: "num",
    acked: "num",
    gen: "num",
    entries: "entries",
    leader: "id",
    leaderIncarnation: "num",
  },
  "chat-ack": { next: "num", gen: "num", split: "bool", streamed: "bool" },
  "chat-nak": { from: "num", to: "num" },
  "chat-missed": { from: "num", to: "num", gen: "num" },
  "chat-slow": { gen: "num" },
  "chat-leave": {},
  "chat-forward": { items: "items-forward" },
  "chat-busy": { clients: "clients" },
  "chat-append": {
    term: "num",
    prev: "num",
    prevTerm: "num",
    commit: "num",
    majorityCommit: "num",
    reset: "bool",
    entries: "entries",
  },
  "chat-append-reply": { term: "num", ok: "bool", match: "num", commit: "num", reader: "num" },
  "chat-gather": { term: "num" },
  "chat-gather-reply": {
    term: "num",
    ok: "bool",
    first: "num",
    last: "num",
    lastTerm: "num",
    commit: "num",
    majorityCommit: "num",
    complete: "bool",
    runs: "runs",
  },
  "chat-fetch": { term: "num", from: "num", to: "num" },
  "chat-fetched": { term: "num", prev: "num", prevTerm: "num", entries: "entries" },
  "chat-claim": { claims: "claims" },
  "chat-claim-reply": { results: "results" },
  "chat-committed": { items: "items-sender" },
  "chat-senders-fetch": { term: "num", after: "client" },
  "chat-senders": { term: "num", after: "client", done: "bool", senders: "items-sender" },
  "chat-split": {
    split: "bool",
    servers: "num",
    of: "num",
    majority: "bool",
    partition: "bool",
    gen: "num",
  },
  "chat-stream": { prevTerm: "num", prevMark: "num", entries: "entries" },
  "chat-who": { room: "room", gen: "num", ask: "num" },
  "chat-past": { room: "room", before: "num", max: "num", gen: "num", ask: "num" },
  "chat-past-page": { gen: "num", ask: "num", entries: "entries", more: "bool" },
  "chat-roster": {
    gen: "num",
    ask: "num",
    at: "num",
    rooms: "rooms",
    roomCount: "num",
    room: "room",
    users: "clients",
    total: "num",
  },
};

function status(): Record<string, Field> {
  return {
    version: "version",
    priority: "num",
    leader: "id",
    term: "num",
    view: "num",
    joining: "bool",
  };
}

const SERVER_IDS = ["s1", "s2", "s3"];

/** Draws random bodies of every kind from field shapes. */
class Generator {
  readonly #r: SeededRandom;
  readonly #clients: string[];

  constructor(r: SeededRandom, clients: string[]) {
    this.#r = r;
    this.#clients = clients;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.#r.int(items.length)];
  }

  num(): number {
    const r = this.#r;
    if (r.chance(0.45)) return this.pick(EDGES);
    if (r.chance(0.5)) return r.int(40);
    const base = this.pick(EDGES);
    return base + r.int(5) - 2;
  }

  body(kind: Kind): Body {
    const fields: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(SHAPES[kind])) {
      const value = this.#field(field);
      if (value !== undefined) fields[name] = value;
    }
    return { kind, ...fields } as unknown as Body;
  }

  #list<T>(make: () => T): T[] {
    return Array.from({ length: this.#r.int(4) }, make);
  }

  #entry() {
    return {
      seq: this.num(),
      term: this.num(),
      kind: this.pick(["text", "join", "leave", "action", "enter", "direct", "bounce"]),
      client: this.pick(this.#clients),
      cseq: this.num(),
      from: this.pick(["alice", "bob", "eve"]),
      text: this.pick(["x", "", "offline"]),
      ts: this.num(),
      ...this.#address(),
    };
  }

  /** A line's kind, room and recipient: each absent, valid or not, at random. */
  #address(): Record<string, unknown> {
    const r = this.#r;
    return {
      ...(r.chance(0.5) ? {} : { line: this.pick(["text", "action", "enter", "direct", "x"]) }),
      ...(r.chance(0.5) ? {} : { room: this.#field("room") }),
      ...(r.chance(0.7) ? {} : { to: this.pick(["alice", "bob", "eve", ""]) }),
    };
  }

  #field(field: Field): unknown {
    const r = this.#r;
    switch (field) {
      case "num":
        return this.num();
      case "bool":
        return r.chance(0.5);
      case "id":
        return this.pick([...SERVER_IDS, "c1", "x", ""]);
      case "user":
        return this.pick(["alice", "bob", "eve"]);
      case "client":
        return this.pick(this.#clients);
      case "text":
        return "x";
      case "host":
        return "10.9.0.1";
      case "version":
        return VERSION;
      case "entries":
        return this.#list(() => this.#entry());
      case "runs":
        return this.#list(() => ({ seq: this.num(), term: this.num(), mark: this.num() }));
      case "members":
        return this.#list(() => ({
          id: this.pick([...SERVER_IDS, "x"]),
          role: "server",
          host: "10.9.0.9",
          port: 7401,
          incarnation: this.num(),
          priority: this.num(),
        }));
      case "items-post":
        return this.#list(() => ({
          cseq: this.num(),
          text: "x",
          ts: this.num(),
          ...this.#address(),
        }));
      case "items-forward":
        return this.#list(() => ({
          client: this.pick(this.#clients),
          user: this.pick(["alice", "bob", "eve"]),
          acked: this.num(),
          cseq: this.num(),
          text: "x",
          ts: this.num(),
          ...this.#address(),
        }));
      case "items-sender":
        return this.#list(() => ({ client: this.pick(this.#clients), cseq: this.num() }));
      case "claims":
        return this.#list(() => ({
          user: this.pick(["alice", "bob", "eve"]),
          client: this.pick(this.#clients),
          gen: this.num(),
          op: this.pick(["hold", "quit", "timeout"]),
        }));
      case "results":
        return this.#list(() => ({
          user: this.pick(["alice", "bob", "eve"]),
          client: this.pick(this.#clients),
          gen: this.num(),
          ok: r.chance(0.5),
          reason: this.pick(["", "name-taken", "full", "moved"]),
        }));
      case "clients":
        return this.#list(() => this.pick(this.#clients));
      case "reason":
        return this.pick(["name-taken", "full", "bad-name", "unknown-client"]);
      case "counts":
        return { "too-old": this.num() };
      case "room":
        return this.pick(["lobby", "ops", "Ops", "", "-x", "a".repeat(33)]);
      case "rooms":
        return this.#list(() => ({ room: this.#field("room"), users: this.num() }));
      case "split":
        return r.chance(0.5)
          ? undefined
          : { servers: this.num(), of: this.num(), majority: r.chance(0.5) };
      case "disk":
        return r.chance(0.5) ? undefined : {
          dir: this.pick(["/var/lib/dsys/a", "", "x".repeat(600)]),
          bytes: this.num(),
          oldestSeq: this.num(),
          oldestTs: this.num(),
          lastFlushAt: this.num(),
          flushUs: this.num(),
          ...(r.chance(0.5) ? { failing: "ENOSPC" } : {}),
        };
    }
  }
}

interface ServerNode {
  sender: Sender;
  core: ServerCore;
  chat: ChatServerCore;
  seenView: string;
}

interface ClientNode {
  sender: Sender;
  core: ChatClientCore;
}

interface Datagram {
  from: Sender;
  to: Address | "group";
  body: Body;
}

const config = testClusterConfig();
const keyring = Keyring.fromSecrets([], CLUSTER);

/** A codec as a process has one: the default limits and a replay guard. */
function codec(receiverId = ""): WireCodec {
  return new WireCodec({
    cluster: CLUSTER,
    keyring,
    maxDatagramBytes: config.network.maxDatagramBytes,
    receiverId,
    replay: new ReplayGuard({
      window: config.security.replayWindow,
      maxSenders: config.security.replaySenders,
      maxClockSkewMs: config.security.maxClockSkewMs,
    }),
  });
}

/** Three servers and a client, wired as the runtimes wire them, every datagram sealed. */
class World {
  now = 0;
  readonly servers: ServerNode[];
  readonly client: ClientNode;
  readonly wire: Datagram[] = [];
  readonly #sealer = codec();

  constructor() {
    this.servers = SERVER_IDS.map((id, i) => {
      const sender: Sender = {
        id,
        incarnation: WALL - 1000 + i,
        role: "server",
        addr: { host: `10.9.0.${i + 1}`, port: 7401 },
      };
      const core = new ServerCore({
        self: sender,
        priority: i,
        timing: config.timing,
        seeds: [],
        version: VERSION,
      });
      const chat = new ChatServerCore({ self: sender, config: defaultChatConfig() });
      return { sender, core, chat, seenView: "" };
    });
    const sender: Sender = {
      id: "c1",
      incarnation: WALL - 500,
      role: "client",
      addr: { host: "10.9.1.1", port: 5000 },
    };
    const core = new ChatClientCore({
      self: sender,
      user: "alice",
      config: { ...defaultChatConfig(), history: 100 },
    });
    this.client = { sender, core };
    for (const node of this.servers) {
      this.#server(node, () => node.core.step({ type: "start", now: 0 }));
      this.#chat(node, () => node.chat.step({ type: "start", now: 0, wall: WALL }));
    }
    this.#client(() => core.step({ type: "start", now: 0 }));
  }

  attach(): void {
    const server = this.servers[0].sender;
    this.#client(() =>
      this.client.core.step({
        type: "attach",
        server: { id: server.id, incarnation: server.incarnation, addr: server.addr },
        now: this.now,
      })
    );
  }

  type(text: string): void {
    this.#client(() =>
      this.client.core.step({ type: "send-text", text, ts: WALL + this.now, now: this.now })
    );
  }

  /** Advances time in ticks, delivering every datagram after each. */
  advance(ms: number): void {
    for (const end = this.now + ms; this.now < end;) {
      this.now += config.timing.tickIntervalMs;
      for (const node of this.servers) {
        this.#server(node, () => node.core.step({ type: "tick", now: this.now }));
        this.#chat(
          node,
          () => node.chat.step({ type: "tick", now: this.now, wall: WALL + this.now }),
        );
      }
      this.#client(() => this.client.core.step({ type: "tick", now: this.now }));
      for (let i = 0; i < 10_000 && this.wire.length > 0; i++) this.#deliver(this.wire.shift()!);
    }
  }

  /** Hands one decoded envelope to the node at `to`, as its runtime would. */
  receive(envelope: Envelope, to: Address | "group"): void {
    const viaGroup = to === "group";
    const now = this.now;
    for (const node of this.servers) {
      if (!viaGroup && !same(node.sender.addr, to)) continue;
      const { kind } = envelope.body;
      if (SERVER_SKIPS.includes(kind)) continue;
      if (serverRoute(kind) === "chat") {
        this.#chat(node, () => node.chat.step({ type: "receive", envelope, now }));
      } else if (MESSAGE_KINDS[kind].layer === "membership") {
        this.#server(node, () => node.core.step({ type: "receive", envelope, viaGroup, now }));
      }
    }
    if (viaGroup || same(this.client.sender.addr, to)) {
      this.#client(() => this.client.core.step({ type: "receive", envelope, now }));
    }
  }

  #deliver(d: Datagram): void {
    const envelope: Envelope = { cluster: CLUSTER, sender: d.from, seq: 0, ts: WALL, body: d.body };
    this.receive(envelope, d.to);
  }

  /** Seals `body` as `from` would: throws what the encoder throws. */
  #seal(from: Sender, body: Body): void {
    this.#sealer.encode(from, body, WALL + this.now);
  }

  #server(node: ServerNode, step: () => CoreAction[]): void {
    this.#emit(node.sender, step());
    const view = node.core.view();
    const key = JSON.stringify([view.view, view.leader, view.term, view.split ?? null]);
    if (key === node.seenView) return;
    node.seenView = key;
    this.#chat(node, () => node.chat.step({ type: "membership", view, now: this.now }));
  }

  #chat(node: ServerNode, step: () => ChatServerAction[]): void {
    this.#emit(node.sender, step());
  }

  /** Seals every datagram a server core returned and puts it on the wire. */
  #emit(from: Sender, actions: (CoreAction | ChatServerAction)[]): void {
    for (const action of actions) {
      if (action.type === "notify" || action.type === "persist") continue;
      this.#seal(from, action.body);
      this.wire.push({ from, to: action.type === "send" ? action.to : "group", body: action.body });
    }
  }

  #client(step: () => ChatClientAction[]): void {
    for (const action of step()) {
      if (action.type !== "send") continue;
      this.#seal(this.client.sender, action.body);
      this.wire.push({ from: this.client.sender, to: action.to, body: action.body });
    }
  }
}

function same(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}

/** One run: a chat under way, then `MESSAGES_PER_SEED` random accepted datagrams among ticks. */
function run(seed: number): { injected: number; kinds: Set<Kind> } {
  const r = new SeededRandom(seed);
  const world = new World();
  world.advance(1_000);
  world.attach();
  world.advance(300);
  world.type("hello");
  world.advance(300);
  const senders: Sender[] = [...world.servers.map((s) => s.sender), world.client.sender];
  const clientKeys = [...senders.map((s) => `${s.id}~${s.incarnation}`), "x~1"];
  const gen = new Generator(r, clientKeys);
  const sealers = new Map<string, WireCodec>();
  const receivers = new Map<string, WireCodec>();
  const kinds = Object.keys(MESSAGE_KINDS) as Kind[];
  const targets: Sender[] = [...world.servers.map((s) => s.sender), world.client.sender];
  let injected = 0;
  const seen = new Set<Kind>();
  for (let i = 0; i < MESSAGES_PER_SEED; i++) {
    const kind = gen.pick(kinds);
    const base = r.chance(0.8)
      ? gen.pick(senders)
      : { ...gen.pick(senders), incarnation: Math.abs(gen.num()) };
    const sender: Sender = {
      ...base,
      role: r.chance(0.9) ? base.role : gen.pick(["server", "client"]),
    };
    const target = gen.pick(targets);
    const key = `${sender.id}~${sender.incarnation}~${sender.role}`;
    const sealer = sealers.get(key) ?? codec();
    sealers.set(key, sealer);
    const receiver = receivers.get(target.id) ?? codec(target.id);
    receivers.set(target.id, receiver);
    for (let attempt = 0; attempt < 30; attempt++) {
      const body = gen.body(kind);
      let bytes: Uint8Array;
      try {
        bytes = sealer.encode(sender, body, WALL + world.now);
      } catch {
        continue;
      }
      const decoded = receiver.decode(bytes, WALL + world.now);
      if (!decoded.ok) continue;
      const to = kind === "chat-stream" && r.chance(0.5) ? "group" : target.addr;
      try {
        world.receive(decoded.envelope, to);
        world.advance(r.int(4) * config.timing.tickIntervalMs);
      } catch (error) {
        throw new Error(
          `seed ${seed}, message ${i}: ${JSON.stringify(decoded.envelope)} to ${target.id}: ${
            (error as Error).message
          }`,
        );
      }
      injected++;
      seen.add(kind);
      break;
    }
  }
  world.advance(3_000);
  return { injected, kinds: seen };
}

Deno.test("no datagram the decoder accepts makes a core or the encoder throw", () => {
  let injected = 0;
  const kinds = new Set<Kind>();
  const failures: string[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    try {
      const result = run(seed);
      injected += result.injected;
      for (const kind of result.kinds) kinds.add(kind);
    } catch (error) {
      failures.push((error as Error).message.slice(0, 600));
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${SEEDS} seeds threw`);
  assert.ok(injected >= SEEDS * MESSAGES_PER_SEED * 0.6, `only ${injected} messages accepted`);
  assert.equal(kinds.size, Object.keys(MESSAGE_KINDS).length, "every kind was exercised");
});
