/**
 * The chat client runtime: the thin shell around {@linkcode ChatClientCore}. It owns the
 * endpoint, the clock and discovery (finding a server at start and again whenever the core
 * reports its server lost), performs the core's actions and turns them into what the REPL shows.
 * Delivery, ordering, retries and resumption are the core's; this layer only does I/O and time.
 *
 * @module
 */

import { type Config, effectiveChatConfig } from "../config/mod.ts";
import { logger } from "../log/mod.ts";
import {
  type ChatClientAction,
  ChatClientCore,
  type ChatClientEvent,
  type ClientNotice,
  type IgnoredReason,
  type ServerRef,
} from "../chat/client_core.ts";
import { type ChatMessage, chatMessage } from "../chat/client_receive.ts";
import { type DiscoveredServer, discoverServers } from "../net/discovery.ts";
import {
  type ChatLineAddress,
  type ChatPastPageBody,
  type ChatRosterBody,
  DEFAULT_ROOM,
  MAX_CHAT_ENTRIES,
} from "../wire/messages.ts";
import { Endpoint, type EndpointOptions } from "../net/endpoint.ts";
import { type Kind, MESSAGE_KINDS } from "../wire/messages.ts";
import { LivenessWatcher } from "../transport/liveness.ts";
import { DueTimer } from "../util/due_timer.ts";
import { orderedTime, type ShownMessage } from "./render.ts";
import type { ChatSession, ChatUiEvent, ServerEntry, WhoEntry } from "./repl.ts";

/**
 * How to start a chat client; `transport` runs it without sockets, `openSockets` opens them (see
 * {@linkcode EndpointOptions}).
 */
export interface ChatConnectOptions extends Pick<EndpointOptions, "transport" | "openSockets"> {
  /**
   * The resolved configuration; `chat.history` is how many past messages to receive first,
   * `chat.clientWaitMs` how long one discovery round looks for servers.
   */
  config: Config;
  /** The user name. */
  user: string;
  /** The room to be in (default {@linkcode DEFAULT_ROOM}); `config.chat.history` counts its lines. */
  room?: string;
  /**
   * Delivered messages kept for {@linkcode ChatClient.history} (the REPL's `/history`); default
   * {@linkcode HISTORY_KEPT}. A script that never asks keeps 0 and spares the garbage collector.
   */
  keepHistory?: number;
  /** The user's owner token on this computer (`ownerToken`), to take the name back after a crash. */
  owner?: string;
}

/** Thrown when the cluster refuses the user (name taken, server full, bad name). */
export class ChatRefusedError extends Error {
  /** Creates the error with a message fit to show the user. */
  constructor(message: string) {
    super(message);
    this.name = "ChatRefusedError";
  }
}

/** Thrown when no server answered discovery at start. */
export class NoServerError extends Error {
  /** Creates the error with a message fit to show the user. */
  constructor(message: string) {
    super(message);
    this.name = "NoServerError";
  }
}

/** What the user is told when the cluster refuses the name (see {@linkcode refusalMessage}). */
export interface RefusalContext {
  /** The client had joined before (the name was granted, then lost). */
  joined: boolean;
  /** The client was told of a cluster split during this session. */
  split: boolean;
  /** Lines typed and not acknowledged, dropped with the refusal. */
  unsent: number;
}

/**
 * The one line that explains a refusal. A name refused after it was granted went to another
 * client while the cluster was split (each side's leader granted it); the merged leader kept the
 * other holder. Lines acknowledged before are in the merged log.
 */
export function refusalMessage(
  user: string,
  reason: "name-taken" | "full" | "bad-name",
  context: RefusalContext,
): string {
  if (reason === "full") return "the server is full";
  if (reason === "bad-name") return `the user name ${user} is not allowed`;
  if (!context.joined) return `the user name ${user} is already taken`;
  const who = context.split
    ? "a user on the other side of the healed split"
    : "another user while this client was cut off";
  const unsent = context.unsent > 0
    ? `; ${context.unsent} unacknowledged messages were not sent`
    : "";
  return `the user name ${user} is now held by ${who}; this client stops ` +
    `(your acknowledged messages are kept${unsent})`;
}

/** Past messages kept for `/history` unless {@linkcode ChatConnectOptions.keepHistory} says. */
export const HISTORY_KEPT = 1000;

/**
 * How long discovery keeps collecting after the first server answered: the others answer the
 * same request within a LAN round trip, and a lost answer is repeated by the retry at 100 ms.
 */
const DISCOVERY_SETTLE_MS = 200;

/**
 * The same wait when the client lost its server: any other live server will do, and the chat
 * stalls until it has one, so only the answers of about one LAN round trip are compared.
 */
const FAILOVER_SETTLE_MS = 20;

/**
 * Kinds a client never handles — the servers' membership and chat-server traffic it hears on the
 * group while it takes the leader's stream — dropped by their header before they are
 * authenticated and decoded. Heartbeats stay: while the stream brings its lines, its server's
 * heartbeats are what shows that server alive (its acks then draw no keepalive).
 */
export const CLIENT_SKIPS: readonly Kind[] = (Object.keys(MESSAGE_KINDS) as Kind[]).filter((kind) =>
  kind !== "heartbeat" &&
  (MESSAGE_KINDS[kind].layer === "membership" || MESSAGE_KINDS[kind].layer === "chat-server")
);

/**
 * The client's sockets: joined to the multicast group when the leader's stream is on (the
 * client then takes committed entries from it), else — or when the group cannot be joined here —
 * unicast only, and its server sends it everything.
 */
async function openEndpoint(options: ChatConnectOptions): Promise<Endpoint> {
  const common = {
    config: options.config,
    role: "client" as const,
    unicastPort: 0,
    skipKinds: CLIENT_SKIPS,
    transport: options.transport,
    openSockets: options.openSockets,
  };
  if (!effectiveChatConfig(options.config).streamToClients) {
    return await Endpoint.open({ ...common, joinGroup: false });
  }
  return (await Endpoint.openJoiningIfPossible(common)).endpoint;
}

/**
 * Attachment numbers start below this, at random (the core counts up from there): 2^40 keeps
 * a blind guess of the number a server's datagrams to this client carry at one in a trillion,
 * and leaves the count far inside the wire's safe integers.
 */
const FIRST_GEN_BOUND = 2 ** 40;

/** A random first attachment number in [0, {@linkcode FIRST_GEN_BOUND}). */
function randomFirstGen(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high % (FIRST_GEN_BOUND / 2 ** 32)) * 2 ** 32 + low;
}

const log = logger("chat");

/** A connected chat client. */
export class ChatClient implements ChatSession {
  readonly #endpoint: Endpoint;
  readonly #core: ChatClientCore;
  readonly #options: ChatConnectOptions;
  readonly #delivered: (ShownMessage & { id: string })[] = [];
  /** The time shown with the last delivered line (times shown never go back). */
  #shownTs = -Infinity;
  readonly #keepHistory: number;
  readonly #users = new Map<string, string>();
  /** The room the user is in, or asked to move to (its lines go there). */
  #room: string;
  /** The room the log last put this user in (where a refused move goes back to). */
  #placed = DEFAULT_ROOM;
  /** The caller waiting for the answer to the open question to the server (one at a time). */
  #answer: ((body: ChatRosterBody | ChatPastPageBody | undefined) => void) | undefined;
  #servers: DiscoveredServer[] = [];
  #handler: ((event: ChatUiEvent) => void) | undefined;
  #flow: (paused: boolean) => void = () => {};
  #pendingEvents: ChatUiEvent[] = [];
  #flush?: ReturnType<typeof setImmediate>;
  readonly #clock: DueTimer;
  /** The liveness connection to its server (sockets only): it closes when the server ends. */
  #watcher?: LivenessWatcher;
  #discovering = false;
  #closed = false;
  #attachedOnce = false;
  /** When (wall clock) the client lost its server; unset while it has one. */
  #lostAt: number | undefined;
  #splitSeen = false;
  #lostName: (error: ChatRefusedError) => void = () => {};
  #joined: { resolve: () => void; reject: (error: Error) => void } | undefined;
  readonly #waiters = new Set<() => void>();

  /** The user's name. */
  readonly user: string;

  /**
   * Resolves when the cluster refuses the user after it had joined: its name went to another
   * user while the cluster was split (the merged leader kept the other holder). The client has
   * stopped by then (it sends and delivers nothing more); the caller should close it and exit
   * as for a refusal at join. Never rejects.
   */
  readonly refused: Promise<ChatRefusedError>;

  private constructor(endpoint: Endpoint, options: ChatConnectOptions) {
    this.refused = new Promise((resolve) => this.#lostName = resolve);
    this.#endpoint = endpoint;
    this.#options = options;
    this.#keepHistory = options.keepHistory ?? HISTORY_KEPT;
    this.user = options.user;
    this.#room = options.room ?? DEFAULT_ROOM;
    this.#core = new ChatClientCore({
      self: endpoint.self,
      user: options.user,
      ...(this.#room === DEFAULT_ROOM ? {} : { room: this.#room }),
      config: effectiveChatConfig(options.config),
      firstGen: randomFirstGen(),
      owner: options.owner,
    });
    const { timing } = options.config;
    this.#clock = new DueTimer(() => this.#tick(), timing.tickIntervalMs, MAX_SLEEP_MS);
    if (!options.transport) {
      this.#watcher = new LivenessWatcher(
        () =>
          endpoint.contain(
            "a closed liveness connection",
            () => this.#step({ type: "server-closed", now: now() }),
          ),
        timing.livenessRetryMs,
      );
    }
  }

  /**
   * Finds a server, joins the chat and resolves once the cluster accepted the user name.
   * Throws {@linkcode NoServerError} or {@linkcode ChatRefusedError}.
   */
  static async connect(options: ChatConnectOptions): Promise<ChatClient> {
    const endpoint = await openEndpoint(options);
    const client = new ChatClient(endpoint, options);
    if (endpoint.usesClusterKey) {
      log.warn(
        "no --secret: this cluster is open. Anyone on the LAN can read your lines and post " +
          "under your name; secure it with `dsys secret > dsys.key` and --secret-file dsys.key " +
          "on every server and client",
        { event: "insecure" },
      );
    }
    endpoint.onEnvelope((envelope) => {
      client.#step({ type: "receive", envelope, now: now(), defer: true });
      client.#scheduleFlush();
    });
    const joined = new Promise<void>((resolve, reject) => {
      client.#joined = { resolve, reject };
    });
    client.#step({ type: "start", now: now() });
    // A session starts in the lobby: moving to another room is its first line.
    if (client.#room !== DEFAULT_ROOM) client.#type("", { line: "enter", room: client.#room });
    try {
      await joined;
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The room the user is in (or moving to): where its lines go and whose lines it shows. */
  get room(): string {
    return this.#room;
  }

  /** Queues one line for the current room (retried until acknowledged). */
  send(text: string): void {
    this.#type(text, this.#room === DEFAULT_ROOM ? {} : { room: this.#room });
  }

  /** Queues an action line (`/me waves`) for the current room. */
  act(text: string): void {
    this.#type(text, {
      line: "action",
      ...(this.#room === DEFAULT_ROOM ? {} : { room: this.#room }),
    });
  }

  /** Queues a direct message to `to`, shown to that user and this one only. */
  direct(to: string, text: string): void {
    this.#type(text, { line: "direct", to });
  }

  /**
   * Moves to `room` (created when nobody is in it): lines typed from now on go there, and only
   * its lines (and direct messages) are shown. Moving to the current room does nothing.
   */
  enter(room: string): void {
    if (room === this.#room) return;
    this.#room = room;
    this.#type("", { line: "enter", room });
  }

  /**
   * The rooms and who is in the current one, as the client's server knows them; undefined when
   * no answer came (no server, or it did not answer within the server timeout).
   */
  roster(): Promise<ChatRosterBody | undefined> {
    return this.#question({ type: "ask-who", room: this.#room, now: now() }) as Promise<
      ChatRosterBody | undefined
    >;
  }

  /**
   * The last `n` lines of the current room (and direct messages) as the client's server keeps
   * them, older than what it kept itself included, a page (a datagram) at a time; undefined when
   * the server did not answer (then {@linkcode ChatClient.history} has what this client kept).
   */
  async past(n: number): Promise<(ShownMessage & { id: string })[] | undefined> {
    const lines: (ShownMessage & { id: string })[] = [];
    let before = 0;
    while (lines.length < n) {
      const page = await this.#question({
        type: "ask-past",
        room: this.#room,
        before,
        max: Math.min(n - lines.length, MAX_CHAT_ENTRIES),
        now: now(),
      }) as ChatPastPageBody | undefined;
      if (!page) return undefined;
      lines.unshift(
        ...page.entries.map((entry) =>
          shownMessage(chatMessage(entry, entry.from === this.user), entry.ts)
        ),
      );
      if (!page.more || page.entries.length === 0) break;
      before = page.entries[0].seq;
    }
    return lines.slice(-n);
  }

  #question(event: ChatClientEvent): Promise<ChatRosterBody | ChatPastPageBody | undefined> {
    this.#answerQuestion(undefined);
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#answer = resolve;
      this.#step(event);
    });
  }

  #type(text: string, address: ChatLineAddress): void {
    this.#step({ type: "send-text", text, ts: Date.now(), now: now(), defer: true, address });
    this.#scheduleFlush();
    this.#settleWaiters();
  }

  /** Registers the handler for messages and system lines (and replays what came before). */
  onEvent(handler: (event: ChatUiEvent) => void): void {
    this.#handler = handler;
    const pending = this.#pendingEvents;
    this.#pendingEvents = [];
    for (const event of pending) handler(event);
  }

  /** Registers the handler told when to stop and resume reading input (back-pressure). */
  onFlow(handler: (paused: boolean) => void): void {
    this.#flow = handler;
  }

  /**
   * Users (as announced by presence entries) and the servers discovery found; `lostAt` is set
   * while the client has lost its server, when all of it is only last known.
   */
  who(): { users: WhoEntry[]; servers: ServerEntry[]; lostAt?: number } {
    const users = [...this.#users].map(([user, server]) => ({ user, server }))
      .sort((a, b) => a.user.localeCompare(b.user));
    const servers = this.#servers.map((s) => ({
      id: s.id,
      role: s.reply.leader === s.id ? "leader" : "follower",
    }));
    return { users, servers, ...(this.#lostAt === undefined ? {} : { lostAt: this.#lostAt }) };
  }

  /** Where the client stands, for `/status`. */
  status(): Record<string, string | number> {
    const core = this.#core.status();
    const stats = this.#endpoint.stats();
    return {
      state: core.phase,
      server: core.server ?? "none",
      "next seq": core.next,
      acknowledged: core.acknowledged,
      unacknowledged: core.unacknowledged,
      "send window": core.window,
      "messages come": core.streaming
        ? "by multicast, straight from the leader"
        : "from your server, by unicast",
      "multicast batches": core.streamBatches,
      "ignored (not from its server)": core.ignored["not-my-server"],
      "ignored (another attachment)": core.ignored["other-attachment"],
      "ignored (stream not from its leader)": core.ignored["not-my-leader"],
      "datagrams sent": stats.sentDatagrams,
      "datagrams received": stats.receivedDatagrams,
      rejected: Object.values(stats.rejections).reduce((a, b) => a + b, 0),
      "round trip (discovery)": this.#servers.length > 0
        ? `${Math.min(...this.#servers.map((s) => s.rttMs)).toFixed(2)} ms`
        : "n/a",
    };
  }

  /** The last `n` delivered messages of the current room and direct messages. */
  history(n: number): (ShownMessage & { id: string })[] {
    return this.#delivered.filter((m) => m.kind === "direct" || m.room === this.#room).slice(-n);
  }

  /** The texts of the messages sent but not yet acknowledged, oldest first. */
  unacknowledged(): string[] {
    return this.#core.unacknowledgedTexts();
  }

  /** Resolves true once every line sent is acknowledged, false after `timeoutMs`. */
  waitAcknowledged(timeoutMs: number): Promise<boolean> {
    return this.#waitFor(() => this.#core.allAcknowledged(), timeoutMs);
  }

  /**
   * Resolves true once everything its server said is committed was delivered (the history asked
   * for, and what came since), false after `timeoutMs`.
   */
  waitCaughtUp(timeoutMs: number): Promise<boolean> {
    return this.#waitFor(() => this.#core.caughtUp(), timeoutMs);
  }

  #waitFor(holds: () => boolean, timeoutMs: number): Promise<boolean> {
    if (holds()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(result);
      };
      const check = () => {
        if (holds()) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Announces that the user leaves, then closes the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#step({ type: "quit", now: now() });
    this.#answerQuestion(undefined);
    this.#clock.stop();
    clearImmediate(this.#flush);
    for (const waiter of this.#waiters) waiter();
    await this.#watcher?.close();
    await this.#endpoint.close();
  }

  /**
   * Sends what the lines typed and the datagrams read so far call for once they are all handled
   * (`setImmediate`): lines typed together share a post, and a burst of deliveries one ack.
   */
  #scheduleFlush(): void {
    this.#flush ??= setImmediate(() => {
      this.#flush = undefined;
      this.#endpoint.contain("a flush", () => this.#step({ type: "flush", now: now() }));
    });
  }

  #tick(): void {
    try {
      this.#endpoint.contain("a tick", () => this.#step({ type: "tick", now: now() }));
    } finally {
      this.#clock.schedule(this.#core.dueAt(), now());
    }
  }

  #step(event: ChatClientEvent): void {
    if (this.#closed && event.type !== "quit") return;
    for (const action of this.#core.step(event)) this.#perform(action);
    this.#clock.schedule(this.#core.dueAt(), now());
    this.#settleWaiters();
  }

  #settleWaiters(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #perform(action: ChatClientAction): void {
    switch (action.type) {
      case "send":
        this.#endpoint.send(action.body, action.to);
        break;
      case "deliver": {
        const { kind, room } = action.message;
        const ts = this.#shownTs = orderedTime(action.message.ts, this.#shownTs);
        const shown = shownMessage(action.message, ts);
        if (this.#keepHistory > 0) {
          this.#delivered.push(shown);
          if (this.#delivered.length > this.#keepHistory) this.#delivered.shift();
        }
        if (kind === "direct" || room === this.#room) {
          this.#emit({ type: "message", message: shown });
        }
        break;
      }
      case "moved":
        this.#onMoved(action);
        break;
      case "bounced":
        this.#onBounced(action);
        break;
      case "roster":
        this.#answerQuestion(action.roster);
        break;
      case "past":
        this.#answerQuestion(action.page);
        break;
      case "presence":
        if (action.change === "joined") this.#users.set(action.user, action.detail);
        else this.#users.delete(action.user);
        this.#emit({
          type: "system",
          kind: action.change,
          text: `${action.user} ${action.change}`,
          details: { seq: action.seq, user: action.user, ts: action.ts },
        });
        break;
      case "notice":
        this.#onNotice(action.notice);
        break;
      case "need-server":
        void this.#findServer(action.avoid);
        break;
      case "flow":
        this.#flow(action.paused);
        break;
    }
  }

  #onNotice(notice: ClientNotice): void {
    switch (notice.kind) {
      case "attached":
        if (this.#attachedOnce) {
          this.#emit({
            type: "system",
            kind: "reconnected",
            text: `reconnected to ${notice.server}`,
            details: { server: notice.server },
          });
        }
        this.#attachedOnce = true;
        this.#lostAt = undefined;
        this.#joined?.resolve();
        this.#joined = undefined;
        break;
      case "refused": {
        const error = new ChatRefusedError(refusalMessage(this.user, notice.reason, {
          joined: this.#attachedOnce,
          split: this.#splitSeen,
          unsent: this.#core.status().unacknowledged,
        }));
        if (this.#joined) {
          this.#joined.reject(error);
          this.#joined = undefined;
          break;
        }
        this.#emit({
          type: "system",
          kind: "refused",
          text: error.message,
          details: { reason: notice.reason },
        });
        this.#lostName(error);
        break;
      }
      case "missed":
        this.#emit({
          type: "system",
          kind: "missed",
          text: `messages ${notice.from}-${notice.to} are no longer kept and were skipped`,
          details: { from: notice.from, to: notice.to },
        });
        break;
      case "slow-down":
        this.#emit({
          type: "system",
          kind: "slow-down",
          text: `the cluster asks to slow down (window ${notice.window})`,
        });
        break;
      case "input-refused":
        this.#emit({
          type: "system",
          kind: "input-refused",
          text: notice.reason === "too-long"
            ? `message too long: not sent (${notice.length} characters, at most ${notice.limit})`
            : notice.reason === "queue-full"
            ? "too many unsent messages: not sent"
            : "not connected: not sent",
        });
        break;
      case "split": {
        this.#splitSeen = true;
        const side = notice.majority ? "majority" : "minority";
        const { servers, of, majority, missing } = notice;
        const names = missing.length > 0 ? `: ${missing.join(", ")}` : "";
        this.#emit(
          notice.partition
            ? {
              type: "system",
              kind: "split",
              text: `cluster split: you are on the ${side} side with ${servers} of ${of} ` +
                `servers (unreachable${names})`,
              details: { servers, of, majority, missing },
            }
            : {
              type: "system",
              kind: "unreachable",
              text: `${missing.length === 1 ? "a server is" : "servers are"} unreachable, ` +
                `crashed or cut off${names}; ${servers} of ${of} servers remain`,
              details: { servers, of, majority, missing },
            },
        );
        break;
      }
      case "healed":
        this.#emit({ type: "system", kind: "healed", text: "the cluster is whole again" });
        break;
      case "ignored":
        log.warn(
          "ignored a {message} from {from}: {why} (the first such; later ones are only counted)",
          {
            event: "ignored",
            reason: notice.reason,
            message: notice.message,
            from: notice.from,
            why: IGNORED_WHY[notice.reason],
          },
        );
        break;
      case "rewound":
        if (notice.remembered > 0) {
          this.#emit({
            type: "system",
            kind: "reordered",
            text:
              `the split healed and the other side keeps its positions: the ${notice.remembered} ` +
              `line(s) shown here since position ${notice.from} now come after its lines, ` +
              `which follow now`,
            details: { from: notice.from, moved: notice.remembered },
          });
        }
        break;
      case "server-lost": {
        this.#watcher?.watch([]);
        this.#lostAt = Date.now();
        const { group, port, peers } = this.#options.config.network;
        const asking = `the group ${group}:${port}` +
          (peers.length > 0 ? ` and ${peers.join(", ")}` : "");
        this.#emit({
          type: "system",
          kind: "server-lost",
          text: `lost server ${notice.server}; looking for another (asking ${asking})`,
          details: { server: notice.server },
        });
        break;
      }
      case "unanswered":
        this.#answerQuestion(undefined);
        break;
      case "acknowledged":
      case "skipped":
        break;
    }
  }

  #answerQuestion(body: ChatRosterBody | ChatPastPageBody | undefined): void {
    const answer = this.#answer;
    this.#answer = undefined;
    answer?.(body);
  }

  /** A user moved between rooms: said in the room left and in the room entered. */
  #onMoved(action: Extract<ChatClientAction, { type: "moved" }>): void {
    const { user, from, room, seq, ts, own } = action;
    if (own) this.#placed = room;
    const details = { seq, user, from, room, ts };
    if (own && room === this.#room) {
      this.#emit({ type: "system", kind: "entered", text: `you are in #${room}`, details });
    } else if (!own && room === this.#room && from !== room) {
      this.#emit({ type: "system", kind: "entered", text: `${user} came to #${room}`, details });
    } else if (!own && from === this.#room && from !== room) {
      this.#emit({ type: "system", kind: "exited", text: `${user} left #${from}`, details });
    }
  }

  /** One of this user's lines was not delivered: say why; a refused move goes back. */
  #onBounced(action: Extract<ChatClientAction, { type: "bounced" }>): void {
    const details = { seq: action.seq, reason: action.reason, to: action.to, room: action.room };
    if (action.reason === "offline") {
      this.#emit({
        type: "system",
        kind: "not-delivered",
        text: `${action.to} is not online: your direct message was not delivered`,
        details,
      });
      return;
    }
    if (action.room === this.#room) this.#room = this.#placed;
    this.#emit({
      type: "system",
      kind: "not-delivered",
      text: `#${action.room} was not opened: the cluster keeps at most ` +
        `${effectiveChatConfig(this.#options.config).maxRooms} rooms; you are in #${this.#room}`,
      details,
    });
  }

  #emit(event: ChatUiEvent): void {
    if (this.#handler) this.#handler(event);
    else this.#pendingEvents.push(event);
  }

  async #findServer(avoid?: ServerRef): Promise<void> {
    if (this.#discovering || this.#closed) return;
    this.#discovering = true;
    let delay = 100;
    try {
      while (!this.#closed) {
        const found = await discoverServers(this.#endpoint, {
          timeoutMs: this.#options.config.chat.clientWaitMs,
          attempts: this.#options.config.timing.discoveryAttempts,
          enough: 3,
          settleMs: avoid ? FAILOVER_SETTLE_MS : DISCOVERY_SETTLE_MS,
        });
        if (this.#closed) return;
        if (found.length > 0) this.#servers = found;
        const choices = found.filter((s) => s.id !== avoid?.id);
        const candidates = choices.length > 0 ? choices : found;
        if (candidates.length > 0) {
          const server = candidates[Math.floor(Math.random() * candidates.length)];
          this.#watcher?.watch([server.address]);
          this.#step({
            type: "attach",
            server: { id: server.id, incarnation: server.incarnation, addr: server.address },
            now: now(),
          });
          return;
        }
        if (!this.#attachedOnce && this.#joined) {
          this.#joined.reject(
            new NoServerError(
              `no server answered within ${this.#options.config.chat.clientWaitMs} ms ` +
                `(cluster ${this.#options.config.network.cluster}, group ` +
                `${this.#options.config.network.group}:${this.#options.config.network.port})`,
            ),
          );
          this.#joined = undefined;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 2000);
      }
    } finally {
      this.#discovering = false;
    }
  }
}

/** How the log explains an ignored datagram. */
const IGNORED_WHY: Record<IgnoredReason, string> = {
  "not-my-server": "not from the server this client is attached to (forged, or a restarted server)",
  "other-attachment": "meant for another attachment of this client (stale, or forged)",
  "not-my-leader": "not from the leader this client's server names, or no stream is taken",
};

/** A delivered line as the chat shows it, at the time `ts` it is shown with. */
function shownMessage(message: ChatMessage, ts: number): ShownMessage & { id: string } {
  const { seq, id, from, text, room, kind, to } = message;
  return {
    seq,
    id,
    from,
    text,
    ts,
    room,
    ...(kind === "text" ? {} : { kind }),
    ...(to === undefined ? {} : { to }),
  };
}

/**
 * Longest a client sleeps without a tick when its core has nothing due (detached, looking for a
 * server): a safety net, not a deadline.
 */
const MAX_SLEEP_MS = 1000;

/** The monotonic clock. */
function now(): number {
  return performance.now();
}
