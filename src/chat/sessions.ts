/**
 * The clients attached to one server, and their name leases: a joining client's name is claimed
 * at the leader (renewed every `leaseIntervalMs`, released when the client quits or falls silent),
 * it is welcomed once this server's log matches the leader's, at the fork point when its history
 * forked from this log, and it is forgotten (answered `unknown-client`, name kept) when this
 * server's log adopts a merged one ({@linkcode Sessions.rewound}). The split state goes to every
 * joined client on change. It owns who is attached and under which name; sending the log to them
 * (windows, NAKs, the stream) is `delivery.ts`, and what must go to the leader (forwarded lines,
 * claims) is returned for the core to route. The re-anchoring is in docs/design.md, "A client's
 * attachment and receiving side".
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import type { SplitView } from "../membership/events.ts";
import type {
  ChatAckBody,
  ChatClaim,
  ChatClaimResult,
  ChatEntry,
  ChatForwardItem,
  ChatJoinBody,
  ChatNakBody,
  ChatPastBody,
  ChatPostBody,
  ChatRefusal,
  ChatRunStart,
  ChatSenderRecord,
  ChatSplitBody,
  ChatWhoBody,
  Sender,
} from "../wire/messages.ts";
import { DEFAULT_ROOM, MAX_ROSTER_NAMES, MAX_ROSTER_ROOMS } from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { TokenBucket } from "../guard/bucket.ts";
import { clientKey, isUserName, textLength } from "./keys.ts";
import { isLineFor, roomSizes } from "./rooms.ts";
import { BODY_OVERHEAD_BYTES, jsonBytes } from "./size.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import { Delivery, type LeaderRef, type Recipient } from "./delivery.ts";

export type { LeaderRef } from "./delivery.ts";

/** Where an attached client stands. */
export type SessionPhase = "claiming" | "granted" | "joined";

/** One attached client as shown to the rest of the program. */
export interface SessionView {
  /** User name. */
  user: string;
  /** Session key. */
  client: string;
  /** Its address. */
  addr: Address;
  /** Claiming its name, granted (waiting to be welcomed), or joined. */
  phase: SessionPhase;
  /** First sequence number it lacks. */
  next: number;
}

interface Session extends Recipient {
  phase: SessionPhase;
  /** The room whose lines its `history` counts. */
  room: string;
  resume: number;
  runs: ChatRunStart[];
  history: number;
  /** The client's owner token, if it sent one. */
  owner: string | undefined;
  /**
   * This server's commit point when the join came in: the leader sequences the client's own
   * `join` entry after it, so that entry is found above it.
   */
  joinedAbove: number;
  start: number;
  heardAt: number;
  claimedAt: number;
  confirmed: boolean;
  slowAt: number;
  rate: TokenBucket;
  /** When it was first held back from re-anchoring during a split (`-Infinity`: never). */
  heldSince: number;
}

/**
 * Where a resuming client stopped, and where its history forks from this server's log
 * (undefined: the fork lies below this log's window).
 */
interface ResumedHistory {
  stopped: number;
  fork: number | undefined;
}

/** The split state sent to clients, without the attachment number each copy carries. */
type SplitState = Omit<ChatSplitBody, "gen">;

/** What {@linkcode Sessions} needs. */
export interface SessionsOptions {
  /** Tunables. */
  config: ChatConfig;
  /** The server's log and commit point. */
  replica: ChatReplica;
  /** Where datagrams and notices go. */
  out: ChatOutbox;
}

/** The clients attached to one server. */
export class Sessions {
  readonly #o: SessionsOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #releases = new Map<string, ChatClaim>();
  #leaseAt = -Infinity;
  #releaseAt = -Infinity;
  #split: SplitState = { kind: "chat-split", split: false, servers: 0, of: 0, majority: false };
  readonly #delivery: Delivery;
  #throttled = 0;

  /** Creates an empty set of sessions. */
  constructor(options: SessionsOptions) {
    this.#o = options;
    this.#delivery = new Delivery(options);
  }

  /** Lines refused so far because their client posted faster than `postRatePerSecond`. */
  get throttled(): number {
    return this.#throttled;
  }

  /** How many joined clients say in their acks that they take the leader's stream. */
  get streamed(): number {
    let count = 0;
    for (const s of this.#sessions.values()) if (s.phase === "joined" && s.streamed) count++;
    return count;
  }

  /** How many clients are attached (joined or joining). */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The first entry a joined client still lacks (the slowest reader's delivery point, never below
   * the log window), or one past the last entry when no client lacks any: what the leader's
   * back-pressure waits for.
   */
  readPoint(): number {
    const { log } = this.#o.replica;
    let point = log.last + 1;
    for (const s of this.#sessions.values()) {
      if (s.phase === "joined") point = Math.min(point, Math.max(s.next, log.first));
    }
    return point;
  }

  /** Every attached client. */
  list(): SessionView[] {
    return [...this.#sessions.values()].map((s) => ({
      user: s.user,
      client: s.key,
      addr: s.addr,
      phase: s.phase,
      next: s.next,
    }));
  }

  /** Handles a join (or a repeated one, or a new attachment of a known client). */
  onJoin(sender: Sender, body: ChatJoinBody, now: number): void {
    const { config } = this.#o;
    if (!isUserName(body.user)) return this.#refuse(sender.addr, "bad-name", body.gen);
    const key = clientKey(sender);
    const known = this.#sessions.get(key);
    if (known) {
      if (body.gen < known.gen) return;
      known.addr = sender.addr;
      known.heardAt = now;
      if (body.gen === known.gen) {
        if (known.phase === "joined") this.#sendWelcome(known);
        else this.#delivery.keepalive(known, now);
        return;
      }
    } else if (this.#sessions.size >= config.maxClients) {
      return this.#refuse(sender.addr, "full", body.gen);
    }
    this.#sessions.set(key, {
      key,
      user: body.user,
      addr: sender.addr,
      gen: body.gen,
      phase: "claiming",
      resume: body.resume,
      runs: body.runs,
      history: Math.min(body.history, config.logLimit),
      room: body.room ?? DEFAULT_ROOM,
      owner: body.owner,
      joinedAbove: this.#o.replica.commit,
      start: 0,
      next: 0,
      pushed: 0,
      heardAt: now,
      progressAt: now,
      claimedAt: -Infinity,
      confirmed: false,
      slowAt: -Infinity,
      rate: known?.rate ??
        new TokenBucket({ ratePerSecond: config.postRatePerSecond, burst: config.postBurst }, now),
      keepalive: false,
      inflight: [],
      committed: 0,
      streamed: false,
      tookStream: false,
      repairTo: 0,
      sentAt: -Infinity,
      heldSince: -Infinity,
    });
  }

  /**
   * Handles lines from a client; returns them as items to forward to the leader. Lines beyond the
   * client's rate (`postRatePerSecond`, `postBurst`) are not forwarded: the client is told to
   * slow down and retries them, so none is lost.
   */
  onPost(sender: Sender, body: ChatPostBody, now: number): ChatForwardItem[] {
    const session = this.#session(sender, now);
    if (!session || session.phase !== "joined") return [];
    const max = this.#o.config.maxTextChars;
    const items = body.items.filter((item) => textLength(item.text) <= max);
    const admitted = session.rate.take(items.length, now);
    if (admitted < items.length) {
      this.#throttled += items.length - admitted;
      this.onBusy([session.key], now);
    }
    // The line and its address as posted; who sent it is this session's, whatever the item says.
    return items.slice(0, admitted).map((item) => ({
      ...item,
      client: session.key,
      user: session.user,
      acked: body.acked,
    }));
  }

  /**
   * Answers a joined client's `/rooms` or `/who`: the rooms by size and the users of the room it
   * asks about, as this server's committed log implies them.
   */
  onWho(sender: Sender, body: ChatWhoBody, now: number): void {
    const session = this.#session(sender, now);
    if (!session || session.phase !== "joined" || body.gen !== session.gen) return;
    const { replica, config } = this.#o;
    const rooms = roomSizes(replica.rooms);
    const users = [...replica.rooms].filter(([, room]) => room === body.room).map(([user]) => user)
      .sort();
    this.#o.out.send(session.addr, {
      kind: "chat-roster",
      gen: session.gen,
      ask: body.ask,
      at: replica.commit,
      rooms: rooms.slice(0, MAX_ROSTER_ROOMS),
      roomCount: rooms.length,
      room: body.room,
      users: users.slice(0, Math.min(MAX_ROSTER_NAMES, config.maxWhoListed)),
      total: users.length,
    });
  }

  /**
   * Answers a joined client's `/history N` beyond what it kept: the newest lines of the room it
   * names (and direct messages to or from it) before `before`, within one datagram, from this
   * server's committed log.
   */
  onPast(sender: Sender, body: ChatPastBody, now: number): void {
    const session = this.#session(sender, now);
    if (!session || session.phase !== "joined" || body.gen !== session.gen) return;
    const { replica, config } = this.#o;
    const { log } = replica;
    let budget = config.batchBodyBytes - BODY_OVERHEAD_BYTES;
    const found: ChatEntry[] = [];
    let seq = Math.min(body.before === 0 ? replica.commit : body.before - 1, replica.commit);
    for (; seq >= log.first && found.length < body.max; seq--) {
      const entry = log.get(seq)!;
      if (!isLineFor(entry, body.room, session.user)) continue;
      budget -= jsonBytes(entry);
      if (budget < 0) break;
      found.push(entry);
    }
    this.#o.out.send(session.addr, {
      kind: "chat-past-page",
      gen: session.gen,
      ask: body.ask,
      entries: found.reverse(),
      more: seq >= log.first,
    });
  }

  /** Handles a client's cumulative ack (and heartbeat). */
  onAck(sender: Sender, body: ChatAckBody, now: number): void {
    const session = this.#session(sender, now);
    if (!session || session.phase !== "joined" || body.gen !== session.gen) return;
    if (this.#showsOtherSplit(body)) this.#sendSplit(session);
    this.#delivery.onAck(session, body, now);
  }

  /**
   * True when a client's ack shows another split state than this server's: split or whole, or
   * (from clients that say) which side. A lost `chat-split` is repeated until the client shows it,
   * so a client that moved here from a server of the majority learns that this side is not one.
   */
  #showsOtherSplit(body: ChatAckBody): boolean {
    if (body.split !== this.#split.split) return true;
    return body.split && body.minority !== undefined && body.minority === this.#split.majority;
  }

  /** Resends the entries a client says it lacks, or tells it they are gone. */
  onNak(sender: Sender, body: ChatNakBody, now: number): void {
    const session = this.#session(sender, now);
    if (!session || session.phase !== "joined") return;
    this.#delivery.onNak(session, body);
  }

  /** A client quits: drop it and release its name. */
  onLeave(sender: Sender): void {
    const key = clientKey(sender);
    const session = this.#sessions.get(key);
    if (session) this.#drop(session, "quit");
  }

  /** Applies the leader's answers to this server's claims. */
  onClaimResults(results: readonly ChatClaimResult[]): void {
    for (const result of results) {
      const release = this.#releases.get(result.client);
      if (release && release.gen === result.gen && release.user === result.user) {
        this.#releases.delete(result.client);
        continue;
      }
      const session = this.#sessions.get(result.client);
      if (!session || session.gen !== result.gen || session.user !== result.user) continue;
      if (result.ok) {
        if (session.phase === "claiming") session.phase = "granted";
        session.confirmed = true;
        continue;
      }
      this.#sessions.delete(result.client);
      if (result.reason === "name-taken" || result.reason === "full") {
        this.#refuse(session.addr, result.reason, session.gen);
      }
    }
  }

  /** Tells these clients (if attached here) to slow down, at most once per `retransmitMs`. */
  onBusy(clients: readonly string[], now: number): void {
    for (const key of clients) {
      const session = this.#sessions.get(key);
      if (!session || now - session.slowAt < this.#o.config.retransmitMs) continue;
      session.slowAt = now;
      this.#o.out.send(session.addr, { kind: "chat-slow", gen: session.gen });
    }
  }

  /**
   * The leader says these clients' lines are committed up to a number (they retried committed
   * lines): tell each at once, as the acknowledgement its own log may be too young to give.
   */
  onCommitted(records: readonly ChatSenderRecord[], now: number): void {
    for (const { client, cseq } of records) {
      const session = this.#sessions.get(client);
      if (!session || session.phase !== "joined") continue;
      session.committed = Math.max(session.committed, cseq);
      this.#delivery.keepalive(session, now);
    }
  }

  /** Follows the view's split state; tells every joined client when it changed. */
  setSplit(split: SplitView | undefined): void {
    const body: SplitState = split
      ? {
        kind: "chat-split",
        split: true,
        servers: split.servers,
        of: split.of,
        majority: split.majority,
        partition: split.partition,
        missing: split.missing.map((m) => m.id),
      }
      : { kind: "chat-split", split: false, servers: 0, of: 0, majority: false };
    if (JSON.stringify(body) === JSON.stringify(this.#split)) return;
    this.#split = body;
    for (const session of this.#sessions.values()) {
      if (session.phase === "joined") this.#sendSplit(session);
    }
  }

  /**
   * Follows the leader this server names to its clients (the one whose multicast stream they
   * may take); tells every joined client at its next flush when it changed.
   */
  setLeader(leader: LeaderRef | null): void {
    if (!this.#delivery.setLeader(leader)) return;
    for (const session of this.#sessions.values()) {
      if (session.phase === "joined") session.keepalive = true;
    }
  }

  /**
   * This server's log adopted a merged one after `fork`: forgets (without releasing the name)
   * every client it sent entries beyond the fork, and every client that took the leader's stream
   * (it may hold any of them), so that it joins again and re-anchors.
   */
  rewound(fork: number): void {
    for (const session of [...this.#sessions.values()]) {
      if (session.phase !== "joined" || (session.pushed <= fork && !session.tookStream)) continue;
      this.#sessions.delete(session.key);
      this.#refuse(session.addr, "unknown-client", session.gen);
    }
  }

  /** A new leader: every name must be confirmed by it; claims and releases go to it at once. */
  leaderChanged(): void {
    this.#leaseAt = -Infinity;
    this.#releaseAt = -Infinity;
    for (const session of this.#sessions.values()) {
      session.claimedAt = -Infinity;
      session.confirmed = false;
    }
  }

  /**
   * The claims due now: names not yet confirmed by the current leader (every `retransmitMs`),
   * lease renewals (every `leaseIntervalMs`), unanswered releases.
   */
  claims(now: number): ChatClaim[] {
    const { config } = this.#o;
    const claims: ChatClaim[] = [];
    const lease = now - this.#leaseAt >= config.leaseIntervalMs;
    if (lease) this.#leaseAt = now;
    for (const s of this.#sessions.values()) {
      const due = s.confirmed ? lease : now - s.claimedAt >= config.retransmitMs;
      if (!due) continue;
      s.claimedAt = now;
      claims.push({
        user: s.user,
        client: s.key,
        gen: s.gen,
        op: "hold",
        ...(s.owner ? { owner: s.owner } : {}),
      });
    }
    if (this.#releases.size > 0 && now - this.#releaseAt >= config.retransmitMs) {
      this.#releaseAt = now;
      claims.push(...this.#releases.values());
    }
    return claims;
  }

  /**
   * Drops silent clients, and rewinds delivery to a client that neither acknowledged nor was sent
   * anything new for `retransmitMs` while it lacks entries.
   */
  tick(now: number): void {
    const { clientTimeoutMs } = this.#o.config;
    for (const session of this.#sessions.values()) {
      if (now - session.heardAt >= clientTimeoutMs) {
        this.#drop(session, "timeout");
      } else if (session.phase === "joined") {
        this.#delivery.tick(session, now);
      }
    }
  }

  /**
   * Welcomes granted clients (once `synced`, and not held back: see {@linkcode Sessions.#held})
   * and sends every joined client what it lacks.
   */
  flush(synced: boolean, now: number): void {
    for (const session of this.#sessions.values()) {
      if (session.phase === "granted" && synced && !this.#held(session, now)) {
        this.#welcome(session, now);
      }
      if (session.phase === "joined") this.#delivery.push(session, now);
    }
  }

  #session(sender: Sender, now: number): Session | undefined {
    const session = this.#sessions.get(clientKey(sender));
    if (!session) {
      this.#refuse(sender.addr, "unknown-client", 0);
      return undefined;
    }
    session.addr = sender.addr;
    session.heardAt = now;
    return session;
  }

  #refuse(to: Address, reason: ChatRefusal, gen: number): void {
    this.#o.out.send(to, { kind: "chat-refused", reason, gen });
  }

  #sendSplit(session: Session): void {
    this.#o.out.send(session.addr, { ...this.#split, gen: session.gen });
  }

  #drop(session: Session, reason: "quit" | "timeout"): void {
    this.#sessions.delete(session.key);
    this.#releases.set(session.key, {
      user: session.user,
      client: session.key,
      gen: session.gen,
      op: reason,
    });
    if (this.#releases.size > this.#o.config.maxClients) {
      this.#releases.delete(this.#releases.keys().next().value!);
    }
    this.#releaseAt = -Infinity;
    if (session.phase === "joined") {
      this.#o.out.notify({ type: "client-left", user: session.user, client: session.key, reason });
    }
  }

  #welcome(session: Session, now: number): void {
    const start = session.resume > 0
      ? this.#resumeStart(session)
      : Math.min(this.#historyStart(session), this.#ownJoin(session));
    session.phase = "joined";
    session.start = start;
    session.next = start;
    session.pushed = start - 1;
    session.progressAt = now;
    this.#o.out.notify({
      type: "client-joined",
      user: session.user,
      client: session.key,
      resumed: session.resume > 0,
    });
    this.#sendWelcome(session);
    if (this.#split.split) this.#sendSplit(session);
  }

  /**
   * True while a resuming client whose history differs from this server's log is kept waiting:
   * either the cluster is split as this server sees it, so the client comes from the other side
   * or the heal's merge has not reached this server yet, and which side keeps its positions is not
   * known here; or the entries that differ are not committed here yet, so whether the client's or
   * this server's stand is the leader's to say. At most `anchorWaitMs`; meanwhile its repeated
   * joins are answered by keepalives.
   */
  #held(session: Session, now: number): boolean {
    if (session.resume === 0) return false;
    const history = this.#historyOf(session);
    const split = this.#split.split && this.#split.partition !== false;
    if (!(split && this.#diverged(history)) && !this.#undecided(history)) return false;
    if (session.heldSince === -Infinity) session.heldSince = now;
    return now - session.heldSince < this.#o.config.anchorWaitMs;
  }

  /** What a resuming client delivered, placed against this server's log. */
  #historyOf(session: Session): ResumedHistory {
    const stopped = session.resume - 1;
    return { stopped, fork: this.#o.replica.log.forkPoint(session.runs, stopped) };
  }

  /** True when what a resuming client delivered differs from what this server committed. */
  #diverged({ stopped, fork }: ResumedHistory): boolean {
    const { log, commit } = this.#o.replica;
    return fork === undefined ? stopped >= log.first : fork < Math.min(stopped, commit);
  }

  /**
   * True when a resuming client's history forks from this server's log after this server's commit
   * point, below where the client stopped, and this server holds other entries there: neither is
   * committed here, and the leader's next commits decide which stand.
   */
  #undecided({ stopped, fork }: ResumedHistory): boolean {
    const { log, commit } = this.#o.replica;
    return fork !== undefined && fork < stopped && fork >= commit && log.last > fork;
  }

  /**
   * Where a resuming client's stream starts: where it stopped, unless what it delivered differs
   * from what this server holds — then the fork point of its history with this log (it
   * re-anchors), or this log's first entry when its history overlaps the window but forked below
   * it, or when it stopped before the window (it missed entries). A server that has not received
   * as much as the client delivered, and agrees with it as far as it has, lets it wait where it
   * stopped. (Entries that differ but are not committed here hold the client back first, until
   * the leader decides: {@linkcode Sessions.#held}.)
   */
  #resumeStart(session: Session): number {
    const { log, commit } = this.#o.replica;
    const { stopped, fork } = this.#historyOf(session);
    if (fork === undefined) {
      return stopped >= log.first ? log.first : Math.max(stopped + 1, log.first);
    }
    if (fork >= stopped || (fork >= commit && log.last <= fork)) {
      return Math.max(stopped + 1, log.first);
    }
    return Math.max(fork + 1, log.first);
  }

  /**
   * The sequence number of the client's own committed `join` entry, or past the commit point when
   * it is not committed yet. Its stream starts there at the latest: with `--history 0`, a welcome
   * that came after that entry committed here (the claim's answer was late) skipped it, and the
   * user never saw itself join.
   */
  #ownJoin(session: Session): number {
    const { log, commit } = this.#o.replica;
    for (let seq = commit; seq > Math.max(session.joinedAbove, log.first - 1); seq--) {
      const entry = log.get(seq)!;
      if (entry.kind === "join" && entry.client === session.key) return seq;
    }
    return commit + 1;
  }

  /**
   * Where a new client's stream starts: `history` lines of its room (or direct messages to or
   * from it) back, whatever else lies between.
   */
  #historyStart({ history, room, user }: Session): number {
    const { log, commit } = this.#o.replica;
    let start = commit + 1;
    for (let lines = 0; lines < history && start > log.first; start--) {
      if (isLineFor(log.get(start - 1)!, room, user)) lines++;
    }
    return start;
  }

  #sendWelcome(session: Session): void {
    this.#o.out.send(session.addr, {
      kind: "chat-welcome",
      user: session.user,
      gen: session.gen,
      start: session.start,
      commit: this.#o.replica.commit,
      ...this.#delivery.leaderFields(),
    });
  }
}
