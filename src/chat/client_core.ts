/**
 * The chat core of one client: the attachment to a server and the receiving side — it delivers
 * the global order exactly once, in order, without gaps, across retransmissions, duplicates and
 * moves to another server. The sending side (numbering, retrying and windowing the user's lines)
 * is {@linkcode ClientSender} in `client_send.ts`; this module must not touch its pending lines,
 * only tell it when a line is acknowledged and send the posts it returns. One pure,
 * deterministic state machine like `ServerCore`: the runtime feeds it events and performs the
 * actions {@linkcode ChatClientCore.step} returns.
 *
 * A line is acknowledged when it comes back in the delivered order, or when the server says the
 * client's lines are committed up to it: then it is stored on every server of the view. Entries
 * are delivered only when their sequence number is the next one; early ones wait in a bounded
 * buffer, holes are NAKed, and a cumulative ack doubles as the heartbeat. When its server falls
 * silent the core asks for another (`need-server`) and, once attached, resumes from the first
 * sequence number it lacks and resends what is unacknowledged.
 *
 * The leader also multicasts committed entries to every client (`chat-stream`); a client takes a
 * batch of it only where it continues exactly what it delivered (the entry before `next` has the
 * batch's chat term and fingerprint), asks its server at once for a gap a lost batch left, and
 * says in its acks whether it takes the stream, so that its server sends only what is missing.
 *
 * After a partition healed, the logs of the two sides were merged and the entries this client
 * delivered since the fork have other sequence numbers. So the client remembers the last
 * `mergeMemory` entries it delivered (position, term, fingerprint, message id) and joins with
 * the starts of their term runs; a welcome that starts before where it stopped re-anchors it
 * there: from then on it skips every line whose id it delivered since that point (and every
 * presence entry it delivered at the same position), and delivers the rest — each message once.
 * A re-anchor below what it remembers redelivers what it cannot recognise (never loses it).
 * Deliveries and acks carry the attachment number, so a stale datagram of the old numbering is
 * never taken for the new. The server's `chat-split` becomes one notice when the cluster splits
 * and one when it is whole again.
 *
 * Whom it believes: a server datagram only from the server it is attached to (id and
 * incarnation, as discovery found it) and for its current attachment number, which starts at a
 * number the runtime draws at random; a stream batch only from the leader that server names in
 * its welcomes and deliveries (id and incarnation), and only while streams are on (the runtime
 * turns them off without a secret). Anything else is ignored and counted by why
 * ({@linkcode IgnoredReason}); the first of each reason and kind becomes a notice.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import {
  type Body,
  type ChatDeliverBody,
  type ChatEntry,
  type ChatSplitBody,
  type ChatStreamBody,
  type ChatWelcomeBody,
  type Envelope,
  type Kind,
  MAX_CHAT_RUNS,
  MESSAGE_KINDS,
  type Sender,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { clientKey, messageId } from "./keys.ts";
import { entryMark } from "./log.ts";
import { DeliveredMemory } from "./delivered.ts";
import { ClientSender, type SendNotice } from "./client_send.ts";

export type { SendNotice } from "./client_send.ts";

/** A server as discovery found it. */
export interface ServerRef {
  /** Its node id. */
  id: string;
  /** Its incarnation: datagrams of another incarnation of that id are not its. */
  incarnation: number;
  /** Its unicast address. */
  addr: Address;
}

/**
 * Why the client ignored a datagram: `not-my-server` — a server message from a sender other
 * than the server it is attached to (id and incarnation); `other-attachment` — from that server,
 * for another attachment number; `not-my-leader` — a stream batch from a sender other than the
 * leader its server names (or while it takes no stream).
 */
export type IgnoredReason = "not-my-server" | "other-attachment" | "not-my-leader";

/** What a {@linkcode ChatClientCore} needs. */
export interface ChatClientOptions {
  /** This client as it appears in every datagram (role `"client"`). */
  self: Sender;
  /** The user name. */
  user: string;
  /** How many past messages to receive first (`--history`). */
  history: number;
  /** Chat tunables (`defaultChatConfig()`); without `streamToClients` it takes no stream. */
  config: ChatConfig;
  /**
   * The attachment number before the first attach (default 0). The runtime draws it at random,
   * so that a host that does not see a client's unicast traffic cannot guess the number every
   * datagram of its server carries.
   */
  firstGen?: number;
  /** The user's owner token on this computer (see `ChatJoinBody.owner`), if it has one. */
  owner?: string;
}

/** One input to the client core; `now` is monotonic ms, `ts` ms since the epoch. */
export type ChatClientEvent =
  | { type: "start"; now: number }
  | {
    type: "receive";
    envelope: Envelope;
    now: number;
    /** When true, posts and acks wait for the next `flush` (deliveries do not): bundling. */
    defer?: boolean;
  }
  | { type: "tick"; now: number }
  | {
    type: "send-text";
    text: string;
    ts: number;
    now: number;
    /** When true, the line waits for the next `flush`, so lines typed together share a post. */
    defer?: boolean;
  }
  | { type: "flush"; now: number }
  | { type: "attach"; server: ServerRef; now: number }
  | { type: "server-lost"; now: number }
  /** Its liveness connection to its server closed: the server is checked, and left if silent. */
  | { type: "server-closed"; now: number }
  | { type: "quit"; now: number };

/** A chat line in the global order. */
export interface ChatMessage {
  /** Its position. */
  seq: number;
  /** Its id (`<client key>/<client sequence number>`), unique in the cluster. */
  id: string;
  /** User name of the sender. */
  from: string;
  /** The line. */
  text: string;
  /** When it was typed (ms since the epoch). */
  ts: number;
  /** True for a line this client sent. */
  own: boolean;
}

/** Something the user should be told. */
export type ClientNotice =
  | SendNotice
  | { kind: "attached"; server: string; resumed: boolean; start: number }
  | { kind: "missed"; from: number; to: number }
  | { kind: "server-lost"; server: string }
  | {
    kind: "split";
    servers: number;
    of: number;
    majority: boolean;
    /** False when the servers may as well have crashed (see `SplitView.partition`). */
    partition: boolean;
    /** Ids of the servers not reached. */
    missing: string[];
  }
  | { kind: "healed" }
  | { kind: "rewound"; from: number; remembered: number }
  | { kind: "skipped"; seq: number; id: string }
  | { kind: "refused"; reason: "name-taken" | "full" | "bad-name" }
  | { kind: "ignored"; reason: IgnoredReason; message: string; from: string; count: number }
  | { kind: "input-refused"; reason: "not-running" };

/** One thing the runtime must do for a client. */
export type ChatClientAction =
  | { type: "send"; to: Address; body: Body }
  | { type: "deliver"; message: ChatMessage }
  | {
    type: "presence";
    seq: number;
    user: string;
    change: "joined" | "left";
    detail: string;
    ts: number;
  }
  | { type: "notice"; notice: ClientNotice }
  | { type: "need-server"; avoid?: ServerRef }
  | { type: "flow"; paused: boolean };

/** Where a client stands. */
export type ClientPhase = "new" | "detached" | "joining" | "joined" | "refused" | "quit";

/** A client's state, for `/status` and tests. */
export interface ChatClientStatus {
  /** Where it stands. */
  phase: ClientPhase;
  /** The server it is attached to, if any. */
  server: string | null;
  /** First sequence number not yet delivered (0 before the first welcome). */
  next: number;
  /** Lines typed and not yet acknowledged. */
  unacknowledged: number;
  /** Lines acknowledged. */
  acknowledged: number;
  /** Lines it may have in flight now. */
  window: number;
  /** True while it takes the leader's multicast stream (it took a batch lately). */
  streaming: boolean;
  /** Stream batches it took so far. */
  streamBatches: number;
  /** Datagrams it ignored, by why. */
  ignored: Record<IgnoredReason, number>;
}

/** The chat state machine of one dsys client. */
export class ChatClientCore {
  readonly #o: ChatClientOptions;
  readonly #key: string;
  #actions: ChatClientAction[] = [];
  #phase: ClientPhase = "new";
  #server: ServerRef | null = null;
  #gen = 0;
  #next = 0;
  readonly #early = new Map<number, ChatEntry>();
  readonly #sender: ClientSender;
  #now = 0;
  #joinAt = -Infinity;
  #heardAt = 0;
  /** When its liveness connection closed; the server is left unless heard from after it. */
  #closedAt = -Infinity;
  #ackAt = -Infinity;
  #ackedNext = -1;
  /** Delivery datagrams that moved `next` since the last ack (acks are delayed, as TCP's). */
  #deliveriesSinceAck = 0;
  #progressAt = 0;
  #nakAt = -Infinity;
  /** Where the last NAK for a gap in the stream started: a new gap is asked for at once. */
  #nakedFrom = -1;
  #commitSeen = 0;
  readonly #delivered: DeliveredMemory;
  /** Stream batches that start beyond `next`, kept until the gap before them is filled. */
  #streamQueue: ChatStreamBody[] = [];
  /** When the last stream batch was taken, and how many were. */
  #streamedAt = -Infinity;
  #streamBatches = 0;
  readonly #skipIds = new Set<string>();
  readonly #skipMarks = new Map<number, number>();
  #split: ChatSplitBody | null = null;
  /** The leader its server names: the only sender whose stream it takes. */
  #leader: { id: string; incarnation: number } | null = null;
  readonly #ignored: Record<IgnoredReason, number> = {
    "not-my-server": 0,
    "other-attachment": 0,
    "not-my-leader": 0,
  };
  /** The reasons and kinds ignored at least once (the first of each is a notice). */
  readonly #ignoredKinds = new Set<string>();

  /** Creates a client core; nothing happens until the `start` event. */
  constructor(options: ChatClientOptions) {
    this.#o = options;
    this.#key = clientKey(options.self);
    this.#sender = new ClientSender({
      config: options.config,
      key: this.#key,
      notice: (notice) => this.#notice(notice),
      flow: (paused) => this.#actions.push({ type: "flow", paused }),
    });
    this.#gen = options.firstGen ?? 0;
    this.#delivered = new DeliveredMemory(options.config.mergeMemory);
  }

  /** The texts of the lines sent but not yet acknowledged, oldest first. */
  unacknowledgedTexts(): string[] {
    return this.#sender.unacknowledgedTexts();
  }

  /** True when every line typed so far is acknowledged (the runtime may exit). */
  allAcknowledged(): boolean {
    return this.#sender.unacknowledged === 0;
  }

  /** Where the client stands and its counters. */
  status(): ChatClientStatus {
    return {
      phase: this.#phase,
      server: this.#server?.id ?? null,
      next: this.#next,
      unacknowledged: this.#sender.unacknowledged,
      acknowledged: this.#sender.acked,
      window: this.#sender.window,
      streaming: this.#streaming(),
      streamBatches: this.#streamBatches,
      ignored: { ...this.#ignored },
    };
  }

  /**
   * The earliest monotonic time at which a `tick` can do anything (`Infinity`: nothing until
   * another event); the runtime may sleep until then. While lines or acks wait, that is now.
   */
  dueAt(): number {
    if (this.#phase !== "joining" && this.#phase !== "joined") return Infinity;
    const { serverTimeoutMs, serverCheckMs, clientRetryMs, clientHeartbeatMs, retransmitMs } =
      this.#o.config;
    let due = this.#heardAt + serverTimeoutMs;
    if (this.#closedAt >= this.#heardAt) due = Math.min(due, this.#closedAt + serverCheckMs);
    if (this.#phase === "joining") return Math.min(due, this.#joinAt + clientRetryMs);
    if (this.#sender.unacknowledged > 0 || this.#next !== this.#ackedNext) return this.#now;
    due = Math.min(due, this.#ackAt + clientHeartbeatMs);
    if (this.#wantedUpTo() >= this.#next) {
      due = Math.min(
        due,
        Math.max(this.#progressAt + retransmitMs / 2, this.#nakAt + retransmitMs),
      );
    }
    return due;
  }

  /** Feeds one event and returns what the runtime must do, in order. */
  step(event: ChatClientEvent): ChatClientAction[] {
    if (this.#phase === "quit" || this.#phase === "refused") {
      if (event.type === "send-text") {
        this.#notice({ kind: "input-refused", reason: "not-running" });
      }
      return this.#drain();
    }
    if (event.type === "start") {
      if (this.#phase === "new") {
        this.#phase = "detached";
        this.#actions.push({ type: "need-server" });
      }
      return this.#drain();
    }
    if (this.#phase === "new") return [];
    this.#now = Math.max(this.#now, event.now);
    switch (event.type) {
      case "attach":
        this.#attach(event.server);
        break;
      case "server-lost":
        if (this.#server) this.#lose();
        break;
      case "server-closed":
        if (this.#phase === "joined") this.#sendAck();
        if (this.#server) this.#closedAt = this.#now;
        break;
      case "send-text":
        this.#sender.type(event.text, event.ts);
        break;
      case "quit":
        if (this.#server && this.#phase === "joined") this.#send({ kind: "chat-leave" });
        this.#phase = "quit";
        return this.#drain();
      case "tick":
        this.#tick();
        break;
      case "receive":
        this.#receive(event.envelope);
        break;
    }
    if (!("defer" in event && event.defer)) this.#flush();
    return this.#drain();
  }

  #drain(): ChatClientAction[] {
    const actions = this.#actions;
    this.#actions = [];
    return actions;
  }

  #notice(notice: ClientNotice): void {
    this.#actions.push({ type: "notice", notice });
  }

  #send(body: Body): void {
    if (this.#server) this.#actions.push({ type: "send", to: this.#server.addr, body });
  }

  #attach(server: ServerRef): void {
    this.#server = server;
    this.#leader = null;
    this.#gen++;
    this.#phase = "joining";
    this.#joinAt = -Infinity;
    this.#heardAt = this.#now;
    this.#closedAt = -Infinity;
  }

  #lose(): void {
    const avoid = this.#server!;
    this.#server = null;
    this.#phase = "detached";
    this.#notice({ kind: "server-lost", server: avoid.id });
    this.#actions.push({ type: "need-server", avoid });
  }

  #tick(): void {
    const now = this.#now;
    const { serverTimeoutMs, clientRetryMs, clientHeartbeatMs, retransmitMs } = this.#o.config;
    if (this.#phase !== "joining" && this.#phase !== "joined") return;
    if (now - this.#heardAt >= serverTimeoutMs) return this.#lose();
    if (this.#closedAt >= this.#heardAt && now - this.#closedAt >= this.#o.config.serverCheckMs) {
      return this.#lose();
    }
    if (this.#phase === "joining") {
      if (now - this.#joinAt >= clientRetryMs) this.#sendJoin();
      return;
    }
    if (this.#next !== this.#ackedNext || now - this.#ackAt >= clientHeartbeatMs) this.#sendAck();
    const wanted = this.#wantedUpTo();
    if (
      wanted >= this.#next && now - this.#progressAt >= retransmitMs / 2 &&
      now - this.#nakAt >= retransmitMs
    ) {
      this.#nak(wanted);
    }
  }

  /** Asks the server for what this client lacks from `next` up to `to` (one delivery window). */
  #nak(to: number): void {
    this.#nakAt = this.#now;
    const upTo = Math.min(to, this.#next + this.#o.config.deliveryWindow - 1);
    this.#send({ kind: "chat-nak", from: this.#next, to: upTo });
  }

  /** The last sequence number known to exist that this client lacks (below `next`: none). */
  #wantedUpTo(): number {
    if (this.#early.size === 0) return this.#commitSeen;
    let lowest = Infinity;
    for (const seq of this.#early.keys()) lowest = Math.min(lowest, seq);
    return lowest - 1;
  }

  #sendJoin(): void {
    this.#joinAt = this.#now;
    this.#send({
      kind: "chat-join",
      user: this.#o.user,
      gen: this.#gen,
      resume: this.#next,
      history: this.#o.history,
      runs: this.#delivered.runs(MAX_CHAT_RUNS),
      ...(this.#o.owner ? { owner: this.#o.owner } : {}),
    });
  }

  #sendAck(): void {
    this.#deliveriesSinceAck = 0;
    this.#ackAt = this.#now;
    this.#ackedNext = this.#next;
    this.#send({
      kind: "chat-ack",
      next: this.#next,
      gen: this.#gen,
      split: this.#split !== null,
      streamed: this.#streaming(),
    });
  }

  #tookStream(): void {
    this.#streamedAt = this.#now;
    this.#streamBatches++;
  }

  /** True while this client takes the leader's stream (it took a batch lately). */
  #streaming(): boolean {
    return this.#now - this.#streamedAt < this.#o.config.streamSilenceMs;
  }

  /** Re-anchors at `start`: what it delivered from there on is skipped when it comes again. */
  #rewind(start: number): void {
    const again = this.#delivered.forgetFrom(start);
    for (const r of again) {
      if (r.id !== undefined) this.#skipIds.add(r.id);
      else this.#skipMarks.set(r.seq, r.mark);
    }
    const limit = this.#o.config.mergeMemory;
    while (this.#skipIds.size > limit) this.#skipIds.delete(this.#skipIds.values().next().value!);
    this.#early.clear();
    this.#streamQueue = [];
    this.#notice({ kind: "rewound", from: start, remembered: again.length });
    this.#next = start;
  }

  #onSplit(body: ChatSplitBody): void {
    const shown = this.#split;
    if (!body.split) {
      if (shown) this.#notice({ kind: "healed" });
      this.#split = null;
      return;
    }
    this.#split = body;
    const missing = body.missing ?? [];
    const partition = body.partition ?? true;
    if (
      shown?.servers === body.servers && shown.of === body.of &&
      (shown.partition ?? true) === partition && (shown.missing ?? []).join() === missing.join()
    ) return;
    const { servers, of, majority } = body;
    this.#notice({ kind: "split", servers, of, majority, partition, missing });
  }

  /** Counts an ignored datagram; the first of each reason and kind becomes a notice. */
  #ignore(reason: IgnoredReason, envelope: Envelope): void {
    const count = ++this.#ignored[reason];
    const key = `${reason} ${envelope.body.kind}`;
    if (this.#ignoredKinds.has(key)) return;
    this.#ignoredKinds.add(key);
    const from = envelope.sender.id;
    this.#notice({ kind: "ignored", reason, message: envelope.body.kind, from, count });
  }

  /**
   * A datagram is taken only from the server this client is attached to (id and incarnation),
   * for its current attachment number; a stream batch only from the leader that server names.
   */
  #receive(envelope: Envelope): void {
    const { sender, body } = envelope;
    const server = this.#server;
    if (!server || sender.role !== "server") return;
    const mine = sender.id === server.id && sender.incarnation === server.incarnation;
    // Any datagram of its server shows it alive (its multicast heartbeats, while streaming).
    if (mine) this.#heardAt = this.#now;
    if (!CLIENT_KINDS.has(body.kind)) return;
    if (body.kind === "chat-stream") {
      if (this.#phase !== "joined") return;
      const leader = this.#leader;
      if (
        !this.#o.config.streamToClients || leader === null || sender.id !== leader.id ||
        sender.incarnation !== leader.incarnation
      ) return this.#ignore("not-my-leader", envelope);
      return this.#onStream(body);
    }
    if (!mine) return this.#ignore("not-my-server", envelope);
    if ("gen" in body && body.gen !== this.#gen && !isUnknownClient(body)) {
      return this.#ignore("other-attachment", envelope);
    }
    switch (body.kind) {
      case "chat-welcome":
        if (this.#phase === "joining") this.#welcome(body);
        return;
      case "chat-refused":
        if (body.reason === "unknown-client") {
          if (this.#phase === "joined") this.#attach(server);
        } else {
          this.#phase = "refused";
          this.#notice({ kind: "refused", reason: body.reason });
        }
        return;
      case "chat-deliver":
        if (this.#phase === "joined") this.#onDeliver(body);
        return;
      case "chat-split":
        return this.#onSplit(body);
      case "chat-missed":
        if (this.#phase === "joined" && body.from <= this.#next && body.to >= this.#next) {
          this.#notice({ kind: "missed", from: this.#next, to: body.to });
          this.#skipTo(body.to + 1);
        }
        return;
      case "chat-slow":
        this.#sender.slowDown(this.#now);
        return;
      default:
        return;
    }
  }

  /** Follows the leader the server names (whose stream this client may take). */
  #learnLeader(body: ChatWelcomeBody | ChatDeliverBody): void {
    const { leader, leaderIncarnation } = body;
    this.#leader = leader === "" ? null : { id: leader, incarnation: leaderIncarnation };
  }

  #welcome(body: ChatWelcomeBody): void {
    this.#learnLeader(body);
    const resumed = this.#next > 0;
    this.#phase = "joined";
    if (!resumed) this.#next = body.start;
    else if (body.start < this.#next) this.#rewind(body.start);
    else if (body.start > this.#next) {
      this.#notice({ kind: "missed", from: this.#next, to: body.start - 1 });
    }
    this.#skipTo(Math.max(this.#next, body.start));
    this.#commitSeen = Math.max(this.#commitSeen, body.commit);
    this.#progressAt = this.#now;
    this.#sender.resendAll();
    this.#notice({ kind: "attached", server: this.#server!.id, resumed, start: body.start });
  }

  #skipTo(next: number): void {
    this.#next = Math.max(this.#next, next);
    for (const seq of this.#early.keys()) if (seq < this.#next) this.#early.delete(seq);
    this.#deliverReady();
  }

  #onDeliver(body: ChatDeliverBody): void {
    this.#learnLeader(body);
    this.#commitSeen = Math.max(this.#commitSeen, body.commit);
    this.#take(body.entries);
    const sender = this.#sender;
    if (body.acked > sender.acked && body.acked <= sender.lastCseq) sender.acknowledge(body.acked);
  }

  /** Delivers what `entries` (from one datagram) hold at `next` on, and keeps early ones. */
  #take(entries: readonly ChatEntry[]): void {
    const before = this.#next;
    const limit = before + this.#o.config.receiveWindow;
    for (const entry of entries) {
      if (entry.seq === this.#next && this.#early.size === 0) {
        this.#next++;
        this.#emit(entry);
      } else if (entry.seq >= this.#next && entry.seq < limit) this.#early.set(entry.seq, entry);
    }
    if (this.#next > before) this.#progressAt = this.#now;
    this.#deliverReady();
    if (this.#next > before) {
      this.#deliveriesSinceAck++;
      this.#connectStream();
    }
  }

  /**
   * A batch of the leader's multicast stream: taken where it continues what this client
   * delivered (the entry before `next` has the batch's term and fingerprint there), kept for
   * later when it starts beyond `next` (a batch was lost: the gap is asked for at once), ignored
   * otherwise — the client's server sends whatever the stream did not bring.
   */
  #onStream(body: ChatStreamBody): void {
    if (this.#phase !== "joined") return;
    const last = body.entries[body.entries.length - 1].seq;
    if (last < this.#next) return;
    this.#commitSeen = Math.max(this.#commitSeen, last);
    if (this.#connects(body)) {
      this.#tookStream();
      return this.#take(body.entries);
    }
    const first = body.entries[0].seq;
    if (first <= this.#next) return;
    this.#streamQueue.push(body);
    let queued = 0;
    for (const batch of this.#streamQueue) queued += batch.entries.length;
    if (queued > this.#o.config.receiveWindow) this.#streamQueue.shift();
    if (
      this.#next !== this.#nakedFrom || this.#now - this.#nakAt >= this.#o.config.retransmitMs / 4
    ) {
      let gapEnd = first - 1;
      for (const batch of this.#streamQueue) {
        const start = batch.entries[0].seq;
        if (start > this.#next) gapEnd = Math.min(gapEnd, start - 1);
      }
      this.#nakedFrom = this.#next;
      this.#nak(gapEnd);
    }
  }

  /** True when `body` continues what this client delivered last, at `next`. */
  #connects(body: ChatStreamBody): boolean {
    const { entries } = body;
    const at = this.#next - 1;
    const index = at - entries[0].seq;
    if (index < -1 || index >= entries.length - 1) return false;
    const known = this.#delivered.last();
    if (known === undefined || known.seq !== at) return false;
    const term = index === -1 ? body.prevTerm : entries[index].term;
    const mark = index === -1 ? body.prevMark : entryMark(entries[index]);
    return term === known.term && mark === known.mark;
  }

  /** Takes the kept stream batches that continue what was delivered, drops the passed ones. */
  #connectStream(): void {
    while (this.#streamQueue.length > 0) {
      this.#streamQueue = this.#streamQueue.filter((b) => b.entries.at(-1)!.seq >= this.#next);
      const batch = this.#streamQueue.find((b) => this.#connects(b));
      if (!batch) return;
      this.#streamQueue = this.#streamQueue.filter((b) => b !== batch);
      this.#tookStream();
      this.#take(batch.entries);
    }
  }

  #deliverReady(): void {
    const start = this.#next;
    for (let entry = this.#early.get(this.#next); entry; entry = this.#early.get(this.#next)) {
      this.#early.delete(this.#next);
      this.#next++;
      this.#emit(entry);
    }
    if (this.#next > start) this.#progressAt = this.#now;
  }

  #emit(entry: ChatEntry): void {
    const id = entry.kind === "text" ? messageId(entry.client, entry.cseq) : undefined;
    this.#delivered.remember(entry);
    const mark = this.#skipMarks.get(entry.seq);
    if (mark !== undefined && this.#skipMarks.delete(entry.seq) && mark === entryMark(entry)) {
      return this.#notice({ kind: "skipped", seq: entry.seq, id: "" });
    }
    if (entry.kind !== "text") {
      this.#actions.push({
        type: "presence",
        seq: entry.seq,
        user: entry.from,
        change: entry.kind === "join" ? "joined" : "left",
        detail: entry.text,
        ts: entry.ts,
      });
      return;
    }
    if (id === undefined) return;
    const own = entry.client === this.#key;
    if (this.#skipIds.delete(id)) return this.#notice({ kind: "skipped", seq: entry.seq, id });
    this.#actions.push({
      type: "deliver",
      message: { seq: entry.seq, id, from: entry.from, text: entry.text, ts: entry.ts, own },
    });
    if (own && entry.cseq > this.#sender.acked) this.#sender.acknowledge(entry.cseq);
  }

  #flush(): void {
    if (this.#phase === "joining" && this.#joinAt === -Infinity) this.#sendJoin();
    if (this.#phase !== "joined") return;
    const { ackEvery, streamAckEntries } = this.#o.config;
    const delayable = this.#deliveriesSinceAck > 0 &&
      (this.#streaming()
        ? this.#next - this.#ackedNext < streamAckEntries
        : this.#deliveriesSinceAck < ackEvery);
    if (this.#next !== this.#ackedNext && !delayable) this.#sendAck();
    for (const post of this.#sender.posts(this.#now)) this.#send(post);
  }
}

/**
 * The kinds a server sends to clients, by the kind table's `chat-client` layer (anything else
 * from a server only shows it alive).
 */
const CLIENT_KINDS: ReadonlySet<string> = new Set(
  (Object.keys(MESSAGE_KINDS) as Kind[]).filter((kind) =>
    MESSAGE_KINDS[kind].layer === "chat-client"
  ),
);

/** A server's `unknown-client` for a client it does not know (it names no attachment). */
function isUnknownClient(body: Body): boolean {
  return body.kind === "chat-refused" && body.reason === "unknown-client" && body.gen === 0;
}
