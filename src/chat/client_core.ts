/**
 * The chat core of one client: its attachment to a server — asking for one, joining and
 * resuming with the attachment number, acks that double as the heartbeat, noticing its server
 * fall silent and asking for another — and whom it believes (a server datagram only from the
 * server and attachment it joined, a stream batch only from the leader that server names). It
 * composes the two sides it feeds: the receiving side ({@linkcode ClientReceiver},
 * `client_receive.ts`) and the sending side ({@linkcode ClientSender}, `client_send.ts`); it must
 * not touch their state, only pass them what it believes and send what they return. One pure,
 * deterministic state machine like `ServerCore`: the runtime feeds it events and performs the
 * actions {@linkcode ChatClientCore.step} returns. The design is in docs/design.md, "A client's
 * attachment and receiving side".
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import {
  type Body,
  type ChatDeliverBody,
  type ChatLineAddress,
  type ChatPastBody,
  type ChatPastPageBody,
  type ChatRosterBody,
  type ChatSplitBody,
  type ChatWelcomeBody,
  type ChatWhoBody,
  type Envelope,
  type Kind,
  MAX_CHAT_RUNS,
  MESSAGE_KINDS,
  type Sender,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { clientKey } from "./keys.ts";
import { ClientSender, type SendNotice } from "./client_send.ts";
import { ClientReceiver, type ReceiveNotice, type ReceiveOutput } from "./client_receive.ts";

export type { SendNotice } from "./client_send.ts";
export type { ChatMessage, ReceiveNotice, ReceiveOutput } from "./client_receive.ts";

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
  /** The room whose lines `history` counts (absent: the lobby). */
  room?: string;
  /**
   * Chat tunables (`defaultChatConfig()`): `history` is how many past messages to receive first;
   * without `streamToClients` it takes no stream.
   */
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
    /** Its kind, room and recipient (absent: a chat line in the lobby). */
    address?: ChatLineAddress;
  }
  | { type: "ask-who"; room: string; now: number }
  | { type: "ask-past"; room: string; before: number; max: number; now: number }
  | { type: "flush"; now: number }
  | { type: "attach"; server: ServerRef; now: number }
  | { type: "server-lost"; now: number }
  /** Its liveness connection to its server closed: the server is checked, and left if silent. */
  | { type: "server-closed"; now: number }
  | { type: "quit"; now: number };

/** Something the user should be told. */
export type ClientNotice =
  | SendNotice
  | ReceiveNotice
  | { kind: "attached"; server: string; resumed: boolean; start: number }
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
  | { kind: "refused"; reason: "name-taken" | "full" | "bad-name" }
  | { kind: "ignored"; reason: IgnoredReason; message: string; from: string; count: number }
  | { kind: "input-refused"; reason: "not-running" }
  | { kind: "unanswered"; question: "chat-who" | "chat-past" };

/** One thing the runtime must do for a client. */
export type ChatClientAction =
  | { type: "send"; to: Address; body: Body }
  | ReceiveOutput
  | { type: "notice"; notice: ClientNotice }
  | { type: "roster"; roster: ChatRosterBody }
  | { type: "past"; page: ChatPastPageBody }
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
  readonly #sender: ClientSender;
  readonly #receiver: ClientReceiver;
  #now = 0;
  #joinAt = -Infinity;
  #heardAt = 0;
  /** When its liveness connection closed; the server is left unless heard from after it. */
  #closedAt = -Infinity;
  /** When a server other than its own was last heard (its heartbeats on the group). */
  #othersHeardAt = -Infinity;
  #ackAt = -Infinity;
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
  /** The question to its server about rooms and users, until answered or given up. */
  #asking: { question: Question; ask: number; firstAt: number; sentAt: number } | null = null;
  #asks = 0;

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
    this.#receiver = new ClientReceiver({
      config: options.config,
      key: this.#key,
      user: options.user,
      now: () => this.#now,
      output: (output) => this.#actions.push(output),
      notice: (notice) => this.#notice(notice),
      nak: (body) => this.#send(body),
      ownDelivered: (cseq) => {
        if (cseq > this.#sender.acked) this.#sender.acknowledge(cseq);
      },
    });
    this.#gen = options.firstGen ?? 0;
  }

  /** The texts of the lines sent but not yet acknowledged, oldest first. */
  unacknowledgedTexts(): string[] {
    return this.#sender.unacknowledgedTexts();
  }

  /** True when every line typed so far is acknowledged (the runtime may exit). */
  allAcknowledged(): boolean {
    return this.#sender.unacknowledged === 0;
  }

  /**
   * True when it is joined and delivered every entry its server said is committed: the history
   * it asked for, and what came since.
   */
  caughtUp(): boolean {
    return this.#phase === "joined" && this.#receiver.caughtUp;
  }

  /** Where the client stands and its counters. */
  status(): ChatClientStatus {
    return {
      phase: this.#phase,
      server: this.#server?.id ?? null,
      next: this.#receiver.next,
      unacknowledged: this.#sender.unacknowledged,
      acknowledged: this.#sender.acked,
      window: this.#sender.window,
      streaming: this.#receiver.streaming(),
      streamBatches: this.#receiver.streamBatches,
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
    else if (this.#othersHeardAt > this.#heardAt) {
      due = Math.min(due, this.#heardAt + this.#o.config.serverQuietMs);
    }
    if (this.#phase === "joining") return Math.min(due, this.#joinAt + clientRetryMs);
    if (this.#sender.unacknowledged > 0 || this.#receiver.unacked()) return this.#now;
    due = Math.min(due, this.#ackAt + clientHeartbeatMs, this.#receiver.nakDueAt(retransmitMs));
    const asking = this.#asking;
    if (asking) {
      due = Math.min(due, asking.sentAt + clientRetryMs, asking.firstAt + serverTimeoutMs);
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
        this.#sender.type(event.text, event.ts, event.address);
        break;
      case "ask-who":
        this.#ask({ kind: "chat-who", room: event.room });
        break;
      case "ask-past":
        this.#ask({ kind: "chat-past", room: event.room, before: event.before, max: event.max });
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

  /**
   * True when its server has been silent for `serverQuietMs` and another server was heard since
   * it fell silent: the network around works, its server (or the path to it) does not.
   */
  #quiet(now: number): boolean {
    return now - this.#heardAt >= this.#o.config.serverQuietMs &&
      this.#othersHeardAt > this.#heardAt;
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
    const { serverTimeoutMs, clientRetryMs, clientHeartbeatMs } = this.#o.config;
    if (this.#phase !== "joining" && this.#phase !== "joined") return;
    if (now - this.#heardAt >= serverTimeoutMs) return this.#lose();
    if (this.#closedAt >= this.#heardAt && now - this.#closedAt >= this.#o.config.serverCheckMs) {
      return this.#lose();
    }
    if (this.#quiet(now) && this.#closedAt < this.#heardAt) {
      // Its server fell silent while others are heard: check it as on a closed connection.
      this.#closedAt = now;
      if (this.#phase === "joined") this.#sendAck();
    }
    if (this.#phase === "joining") {
      if (now - this.#joinAt >= clientRetryMs) this.#sendJoin();
      return;
    }
    if (this.#receiver.unacked() || now - this.#ackAt >= clientHeartbeatMs) this.#sendAck();
    this.#receiver.tick();
    const asking = this.#asking;
    if (asking && now - asking.firstAt >= serverTimeoutMs) {
      this.#asking = null;
      this.#notice({ kind: "unanswered", question: asking.question.kind });
    }
  }

  /** A new question to its server (one at a time: it replaces one still unanswered). */
  #ask(question: Question): void {
    this.#asking = { question, ask: ++this.#asks, firstAt: this.#now, sentAt: -Infinity };
  }

  /** Asks its server the open question (again after `clientRetryMs` without an answer). */
  #sendQuestion(): void {
    const asking = this.#asking;
    if (!asking || this.#now - asking.sentAt < this.#o.config.clientRetryMs) return;
    asking.sentAt = this.#now;
    this.#send({ ...asking.question, gen: this.#gen, ask: asking.ask });
  }

  /** Takes the answer to the open question, if this is it. */
  #answered(body: { ask: number }): boolean {
    if (this.#asking?.ask !== body.ask) return false;
    this.#asking = null;
    return true;
  }

  #sendJoin(): void {
    this.#joinAt = this.#now;
    this.#send({
      kind: "chat-join",
      user: this.#o.user,
      gen: this.#gen,
      resume: this.#receiver.next,
      history: this.#o.config.history,
      runs: this.#receiver.runs(MAX_CHAT_RUNS),
      ...(this.#o.owner ? { owner: this.#o.owner } : {}),
      ...(this.#o.room === undefined ? {} : { room: this.#o.room }),
    });
  }

  #sendAck(): void {
    this.#ackAt = this.#now;
    const { next, streamed } = this.#receiver.acked();
    const split = this.#split !== null;
    const minority = this.#split?.majority === false;
    this.#send({ kind: "chat-ack", next, gen: this.#gen, split, minority, streamed });
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
    // Any datagram of its server shows it alive (its multicast heartbeats, while streaming), and
    // answers a check begun before it, also one begun at the same instant.
    if (mine) {
      this.#heardAt = this.#now;
      this.#closedAt = -Infinity;
    } else {
      this.#othersHeardAt = this.#now;
    }
    if (!CLIENT_KINDS.has(body.kind)) return;
    if (body.kind === "chat-stream") {
      if (this.#phase !== "joined") return;
      const leader = this.#leader;
      if (
        !this.#o.config.streamToClients || leader === null || sender.id !== leader.id ||
        sender.incarnation !== leader.incarnation
      ) return this.#ignore("not-my-leader", envelope);
      return this.#receiver.stream(body);
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
        if (this.#phase === "joined") this.#receiver.missed(body.from, body.to);
        return;
      case "chat-slow":
        this.#sender.slowDown(this.#now);
        return;
      case "chat-roster":
        if (this.#answered(body)) this.#actions.push({ type: "roster", roster: body });
        return;
      case "chat-past-page":
        if (this.#answered(body)) this.#actions.push({ type: "past", page: body });
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
    this.#phase = "joined";
    const resumed = this.#receiver.welcome(body.start, body.commit);
    this.#sender.resendAll();
    this.#notice({ kind: "attached", server: this.#server!.id, resumed, start: body.start });
  }

  #onDeliver(body: ChatDeliverBody): void {
    this.#learnLeader(body);
    this.#receiver.deliver(body.entries, body.commit);
    const sender = this.#sender;
    if (body.acked > sender.acked && body.acked <= sender.lastCseq) sender.acknowledge(body.acked);
  }

  #flush(): void {
    if (this.#phase === "joining" && this.#joinAt === -Infinity) this.#sendJoin();
    if (this.#phase !== "joined") return;
    if (this.#receiver.ackDue()) this.#sendAck();
    for (const post of this.#sender.posts(this.#now)) this.#send(post);
    this.#sendQuestion();
  }
}

/** A question a client asks its server: about rooms and users, or for past lines. */
type Question =
  | Omit<ChatWhoBody, "gen" | "ask">
  | Omit<ChatPastBody, "gen" | "ask">;

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
