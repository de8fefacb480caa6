/**
 * What a chat server does while its server core names it the leader. `Leadership` is the façade
 * the server core drives: it runs a {@linkcode Recovery} (`recovery.ts`: gather, fetch, merge,
 * state transfer) until the log is ready, then leads — sequences client lines
 * ({@linkcode Sequencer}) and presence ({@linkcode Directory}), replicates
 * ({@linkcode Replicator}) and streams committed entries to the clients (`chat-stream`). It must
 * not decide which log wins or merge logs (that is `recovery.ts`), nor touch sockets or clocks.
 * The design is in docs/design.md ("How a new leader recovers the log").
 *
 * @module
 */

import type {
  ChatAppendReplyBody,
  ChatClaim,
  ChatClaimResult,
  ChatEntry,
  ChatFetchedBody,
  ChatForwardItem,
  ChatGatherReplyBody,
  ChatSenderRecord,
  ChatSendersBody,
} from "../wire/messages.ts";
import { MAX_CHAT_ENTRIES, WIRE_BOUNDS } from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { Directory, type PresenceChange } from "./directory.ts";
import { textLength } from "./keys.ts";
import { entryMark } from "./log.ts";
import { BODY_OVERHEAD_BYTES } from "./size.ts";
import { redactedFor } from "./rooms.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import { type Peer, Replicator } from "./replication.ts";
import { Sequencer } from "./sequencer.ts";
import { type LeaderPhase, type RecoveredBase, Recovery } from "./recovery.ts";

export type { LeaderPhase } from "./recovery.ts";

/** What the leader answers to forwarded lines. */
export interface ForwardAnswer {
  /** Clients that must slow down. */
  busy: string[];
  /** Clients whose retried lines are committed already, with their last committed line. */
  committed: ChatSenderRecord[];
}

/** What a {@linkcode Leadership} needs. */
export interface LeadershipOptions {
  /** The chat term of this leadership. */
  term: number;
  /** Tunables. */
  config: ChatConfig;
  /** This server's log and commit point. */
  replica: ChatReplica;
  /** Where datagrams go. */
  out: ChatOutbox;
  /** The delivery point of the slowest client attached to this server (`Sessions.readPoint`). */
  reader: () => number;
  /** True while this server reaches a majority of the full view (its commits are kept then). */
  majority: () => boolean;
}

/** One term of leadership of one server. */
export class Leadership {
  readonly #o: LeadershipOptions;
  readonly #recovery: Recovery;
  #replicator: Replicator | null = null;
  #sequencer: Sequencer | null = null;
  #directory: Directory | null = null;
  /** True once this leadership reached no majority of the full view (see `flush`). */
  #minorityOnce = false;
  /** The last entry multicast to the clients (`chat-stream`). */
  #streamed = 0;

  /** Starts gathering; nothing is sent before the first {@linkcode Leadership.flush}. */
  constructor(options: LeadershipOptions) {
    this.#o = options;
    const { term, config, replica, out } = options;
    this.#recovery = new Recovery({
      term,
      config,
      replica,
      out,
      ready: (base, now) => this.#lead(base, now),
    });
  }

  /** The chat term. */
  get term(): number {
    return this.#o.term;
  }

  /** Gathering, fetching, or leading. */
  get phase(): LeaderPhase {
    return this.#recovery.phase;
  }

  /** Lines buffered by the sequencer. */
  get buffered(): number {
    return this.#sequencer?.buffered ?? 0;
  }

  /** Names held in the cluster (0 before the leader leads). */
  get users(): number {
    return this.#directory?.size ?? 0;
  }

  /**
   * Follows the view of live servers (this one excluded). Returns true when a server joined that
   * was not gathered while this leadership is past gathering: the caller must start a new one.
   */
  setPeers(peers: ReadonlyMap<string, Peer>): boolean {
    if (this.#recovery.setPeers(peers)) return true;
    this.#replicator?.setPeers(peers);
    return false;
  }

  /** Handles a log summary; returns a higher term when the server promised one elsewhere. */
  onGatherReply(from: Peer, body: ChatGatherReplyBody): number | undefined {
    return this.#recovery.onGatherReply(from, body);
  }

  /** Handles fetched entries from the server with the best log. */
  onFetched(from: Peer, body: ChatFetchedBody, now: number): void {
    this.#recovery.onFetched(from, body, now);
  }

  /** Handles a follower's answer to an append; returns a higher term it promised elsewhere. */
  onAppendReply(from: Peer, body: ChatAppendReplyBody, now: number): number | undefined {
    return this.#replicator?.onReply(from.id, from.incarnation, body, now);
  }

  /** Handles a page of the last line per client, while completing the replica. */
  onSendersPage(from: Peer, body: ChatSendersBody, now: number): void {
    this.#recovery.onSendersPage(from, body, now);
  }

  /**
   * Offers forwarded client lines. Answers which clients must slow down, and the last committed
   * line of clients that retried a committed one (their server tells them).
   */
  onForward(items: readonly ChatForwardItem[]): ForwardAnswer {
    const answer: ForwardAnswer = { busy: [], committed: [] };
    const sequencer = this.#sequencer;
    if (!sequencer) return answer;
    const busy = new Set<string>();
    const committed = new Map<string, number>();
    const { senders } = this.#o.replica;
    for (const item of items) {
      if (textLength(item.text) > this.#o.config.maxTextChars) continue;
      const outcome = sequencer.offer(item);
      if (outcome === "busy") busy.add(item.client);
      const cseq = senders.get(item.client) ?? 0;
      if (outcome === "duplicate" && cseq >= item.cseq) committed.set(item.client, cseq);
    }
    answer.busy = [...busy];
    for (const [client, cseq] of committed) answer.committed.push({ client, cseq });
    return answer;
  }

  /** Answers name claims of `server`'s clients (no answers before the leader leads). */
  onClaims(
    server: string,
    claims: readonly ChatClaim[],
    now: number,
    wall: number,
  ): ChatClaimResult[] {
    const directory = this.#directory;
    if (!directory) return [];
    const results: ChatClaimResult[] = [];
    for (const claim of claims) {
      const { result, change } = directory.claim(claim, server, now);
      if (result) results.push(result);
      if (change) this.#sequencePresence(change, wall);
    }
    return results;
  }

  /** Repeats what went unanswered, expires name leases. */
  tick(now: number, wall: number): void {
    this.#recovery.tick(now);
    if (this.#directory) {
      for (const change of this.#directory.expire(now)) this.#sequencePresence(change, wall);
    }
    const { replica, config } = this.#o;
    const held = config.streamToClients && this.#streamed < replica.commit;
    this.#replicator?.tick(
      replica.commit,
      now,
      held ? this.#streamed + 2 - config.streamWindow : 0,
    );
  }

  /** Gathers (asks whoever has not answered), or sequences, commits and replicates. */
  flush(now: number): void {
    this.#recovery.flush(now);
    const sequencer = this.#sequencer;
    if (!sequencer) return;
    const { replica } = this.#o;
    sequencer.drainAll();
    // Only a leadership that has reached a majority of the full view all along counts what it
    // committed as kept by a majority: one that led a minority side meanwhile must not mark those
    // entries when the other side comes back into view.
    this.#minorityOnce ||= !this.#o.majority();
    replica.advanceCommit(this.#replicator!.commitPoint());
    if (!this.#minorityOnce) replica.advanceMajority(replica.commit);
    this.#replicator!.flush(replica.commit, now);
    if (this.#o.config.streamToClients) this.#stream();
  }

  /**
   * Multicasts what was committed since the last flush to every client (`chat-stream`), at most
   * `streamWindow` entries beyond the slowest client's delivery point (the stream's flow control:
   * its receive buffer is not overrun; what waits goes when the clients caught up).
   */
  #stream(): void {
    const { replica, config, out } = this.#o;
    if (this.#streamed >= replica.commit) return;
    const { log } = replica;
    const commit = Math.min(replica.commit, this.#readPoint() - 1 + config.streamWindow);
    const budget = config.batchBodyBytes - BODY_OVERHEAD_BYTES;
    let seq = Math.max(this.#streamed + 1, log.first);
    while (seq <= commit) {
      const entries = log.batch(seq, commit, budget, MAX_CHAT_ENTRIES);
      if (entries.length === 0) break;
      const prev = log.get(seq - 1);
      out.multicast({
        kind: "chat-stream",
        prevTerm: prev?.term ?? -1,
        prevMark: prev ? entryMark(prev) : -1,
        // Every client may take the stream: a direct message's text goes only by unicast.
        entries: entries.map((entry) => redactedFor(entry, undefined)),
      });
      seq += entries.length;
    }
    this.#streamed = Math.max(this.#streamed, seq - 1);
  }

  /**
   * The kind, text and address of a client's line as sequenced: a direct message to a user who
   * holds no name, or an `enter` that would open a room beyond `maxRooms`, becomes a `bounce`
   * saying why (the text of a bounced direct message is not kept); an `enter` says which room the
   * user left, as this leader's log knows it (the client's word is not taken).
   */
  #addressed(item: ChatForwardItem): Pick<ChatEntry, "kind" | "text" | "room" | "to"> {
    const { line = "text", room, to } = item;
    if (line === "direct") {
      return this.#directory?.holds(to!)
        ? { kind: "direct", text: item.text, to }
        : { kind: "bounce", text: "offline", to };
    }
    if (line === "enter") {
      const rooms = this.#o.replica.roomsWithTail();
      const inUse = new Set(rooms.values());
      if (!inUse.has(room!) && inUse.size >= this.#o.config.maxRooms) {
        return { kind: "bounce", text: "rooms-full", room };
      }
      return { kind: "enter", text: rooms.get(item.user) ?? "", room };
    }
    return { kind: line, text: item.text, ...(room === undefined ? {} : { room }) };
  }

  /** Starts leading with the log the recovery made ready. */
  #lead(base: RecoveredBase, now: number): void {
    const { replica, config, out, term } = this.#o;
    replica.advanceCommit(base.gathered.commit);
    replica.advanceMajority(base.gathered.majority);
    this.#streamed = replica.commit;
    const { log } = replica;
    this.#sequencer = new Sequencer({
      senders: replica.sendersWithTail(),
      orderWindow: config.orderWindow,
      maxBuffered: config.maxBuffered,
      room: () =>
        log.last < WIRE_BOUNDS.seq && log.last - replica.commit < config.maxUncommitted &&
        log.last + 1 - this.#readPoint() < config.maxReaderLag,
      sequence: (item) =>
        log.append({
          seq: log.last + 1,
          term,
          client: item.client,
          cseq: item.cseq,
          from: item.user,
          ts: item.ts,
          ...this.#addressed(item),
        }),
    });
    this.#directory = new Directory(
      {
        maxUsers: config.maxUsers,
        clientTimeoutMs: config.clientTimeoutMs,
        settledAt: replica.complete ? now : now + config.settleMs,
      },
      replica.presenceWithTail(),
      now,
    );
    this.#replicator = new Replicator({
      term,
      log,
      out,
      config,
      majorityCommit: () => replica.majorityCommit,
    });
    this.#replicator.setPeers(base.peers);
    for (const [id, fork] of base.forks) this.#replicator.startAt(id, fork);
    out.notify({
      type: "leading",
      term,
      source: base.source,
      first: log.first,
      last: log.last,
      commit: replica.commit,
    });
  }

  /** The slowest client's delivery point in the cluster, as last reported by every server. */
  #readPoint(): number {
    return Math.min(this.#o.reader(), this.#replicator?.readPoint() ?? Infinity);
  }

  #sequencePresence(change: PresenceChange, wall: number): void {
    const { log } = this.#o.replica;
    if (log.last >= WIRE_BOUNDS.seq) return;
    log.append({
      seq: log.last + 1,
      term: this.#o.term,
      kind: change.kind,
      client: change.client,
      cseq: 0,
      from: change.user,
      text: change.text,
      ts: wall,
    });
  }
}
