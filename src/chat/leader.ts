/**
 * What a chat server does while its server core names it the leader: first gather, then
 * sequence.
 *
 * Gathering: the new leader asks every other live server of its view for a summary of its log
 * (window, last term, commit point, and the starts of its last term runs) and a promise to follow
 * no older term (`chat-gather`). When all have answered, it merges — Bully has no quorum, so after
 * a partition healed the two sides' logs have diverged, and neither may lose a line:
 *
 * 1. The fork point with every server is computed from its run starts
 *    (`ChatLog.forkPoint` in `log.ts`): the highest sequence number up to which both logs hold the
 *    same entries.
 * 2. Base: the leader keeps every position it, or a server agreeing with it, committed (and
 *    knows which of those a leader reaching a majority of the full view committed). A server
 *    whose log keeps all of them and ranks higher — more majority-committed positions, then more
 *    committed ones, then the newer last term, then the longer log — lends its entries after the
 *    fork at the same positions (`chat-fetch`, `fetchWindow` entries per round trip; the whole
 *    window by state transfer when the leader's log lies below it): the ordinary failover, and a
 *    paused leader that comes back takes the log the others went on with. A server whose log forks
 *    below the kept positions replaces them only when its side committed more with a majority, or
 *    as much with one and more in all (a healed split: the rule in docs/design.md). What the
 *    leader's own log held after the fork is set aside (`ChatReplica.rollback`) and merged after,
 *    in step 3.
 * 3. Merge: from every other server whose log has entries after its fork point, the leader
 *    fetches them (same windows) and appends, in that server's order, every chat line whose
 *    message id its log lacks, under its own term, and then its own set-aside lines. Presence
 *    entries are not merged: the name leases re-announce whoever is present. So the canonical
 *    order is the base log, then the other sides' lines (each sender's order kept), none twice.
 * 4. Replication starts at each server's fork point, so a server whose log diverged adopts the
 *    merged log from there (its commit point goes back to the fork and its clients re-anchor, see
 *    `sessions.ts`); the commit point the leader takes over counts only what the logs agree on.
 *
 * Bounded logs: when no run of a server's summary is found in the leader's window, the fork lies
 * below what both logs keep. The leader then merges every line the server still keeps, taking a
 * line as present when its id is in its window or its sender table already has that line number
 * of that client; the entries between the fork and the server's window cannot be compared
 * (counted in the `merged` notice as `unknownFork`). A leader whose whole log lies below the best
 * log's window adopts it by state transfer as before, so its own entries after the fork are not
 * merged; servers of its side that keep them still are.
 *
 * A server that joins the view while the leader leads has not been gathered: the core then
 * starts a new leadership with a higher term, which gathers it too. A leader whose log was ever
 * state-transferred then pulls the last line per client from a server that knows them all
 * (`transfer.ts`), so that it suppresses every duplicate. Only then does it sequence anything:
 * client lines through the {@linkcode Sequencer} (sender order, no duplicates, bounded
 * uncommitted tail), names through the {@linkcode Directory}, and replication through the
 * {@linkcode Replicator}. A refusal that names a higher term makes the caller start over with a
 * higher one.
 *
 * While it leads it multicasts every newly committed entry to the clients (`chat-stream`, see
 * `client_core.ts`), at most `streamWindow` entries beyond the slowest client's delivery point
 * (its own clients' and what the followers report in their append replies; followers that hold
 * the stream back are asked again every quarter of `retransmitMs`).
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
import { messageId, textLength } from "./keys.ts";
import { entryMark } from "./log.ts";
import { BODY_OVERHEAD_BYTES } from "./size.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import { type Peer, Replicator } from "./replication.ts";
import { type SenderTable, Sequencer } from "./sequencer.ts";
import { SendersPull } from "./transfer.ts";

/** The `source` of the `merged` notice for this server's own set-aside tail. */
const OWN_TAIL = "its own uncommitted tail";

/** Where a leadership stands. */
export type LeaderPhase = "gathering" | "fetching" | "completing" | "leading";

/** What the leader answers to forwarded lines. */
export interface ForwardAnswer {
  /** Clients that must slow down. */
  busy: string[];
  /** Clients whose retried lines are committed already, with their last committed line. */
  committed: ChatSenderRecord[];
}

/** What a server's gather reply said of its log, and which incarnation of it said so. */
type Summary = Omit<ChatGatherReplyBody, "kind" | "term" | "ok"> & { incarnation: number };

/**
 * How a log is ranked: more positions committed by a leader that reached a majority of the full
 * view first, then more committed positions, then the newer last term, then the longer log. A log
 * that keeps every position the leader keeps counts those as its own; logs that forked below them
 * are ranked among themselves by what they committed after their fork.
 */
interface Rank {
  majority: number;
  committed: number;
  lastTerm: number;
  last: number;
}

/** True when `a` is a better log to lead with than `b`. */
function outranks(a: Rank, b: Rank): boolean {
  if (a.majority !== b.majority) return a.majority > b.majority;
  if (a.committed !== b.committed) return a.committed > b.committed;
  if (a.lastTerm !== b.lastTerm) return a.lastTerm > b.lastTerm;
  return a.last > b.last;
}

/** One server's entries to merge: after its fork point, up to its last. */
interface Merge {
  peer: Peer;
  from: number;
  last: number;
  unknownFork: boolean;
}

interface Fetch {
  /** Extend: store at the same positions; merge: append the lines the leader lacks. */
  merge: Merge | null;
  source: Peer;
  last: number;
  first: number;
  fetchedTo: number;
  askedTo: number;
  askedAt: number;
  reset: boolean;
  early: Map<number, ChatFetchedBody>;
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
  #phase: LeaderPhase = "gathering";
  #peers: ReadonlyMap<string, Peer> = new Map();
  readonly #replies = new Map<string, Summary>();
  #askedAt = -Infinity;
  #fetch: Fetch | null = null;
  #pull: SendersPull | null = null;
  #replicator: Replicator | null = null;
  #sequencer: Sequencer | null = null;
  #directory: Directory | null = null;
  #gathered = { commit: 0, majority: 0 };
  /** True once this leadership reached no majority of the full view (see `flush`). */
  #minorityOnce = false;
  #source = "";
  #forks = new Map<string, number>();
  #merges: Merge[] = [];
  #ids = new Set<string>();
  #known: SenderTable | null = null;
  #appended = 0;
  /** The last entry multicast to the clients (`chat-stream`). */
  #streamed = 0;

  /** Starts gathering; nothing is sent before the first {@linkcode Leadership.flush}. */
  constructor(options: LeadershipOptions) {
    this.#o = options;
  }

  /** The chat term. */
  get term(): number {
    return this.#o.term;
  }

  /** Gathering, fetching, or leading. */
  get phase(): LeaderPhase {
    return this.#phase;
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
    const ungathered = [...peers.values()].some((peer) =>
      this.#replies.get(peer.id)?.incarnation !== peer.incarnation
    );
    if (ungathered && this.#phase !== "gathering") return true;
    this.#peers = peers;
    this.#replicator?.setPeers(peers);
    const source = this.#fetch?.source ?? this.#pull?.source;
    if (source && peers.get(source.id)?.incarnation !== source.incarnation) {
      this.#replies.delete(source.id);
      this.#fetch = null;
      this.#pull = null;
      this.#phase = "gathering";
      this.#askedAt = -Infinity;
      this.#merges = [];
    }
    for (const merge of this.#merges) {
      if (peers.get(merge.peer.id)?.incarnation !== merge.peer.incarnation) return true;
    }
    return false;
  }

  /** Handles a log summary; returns a higher term when the server promised one elsewhere. */
  onGatherReply(from: Peer, body: ChatGatherReplyBody): number | undefined {
    if (!body.ok) return body.term >= this.#o.term ? body.term : undefined;
    if (this.#phase !== "gathering" || body.term !== this.#o.term) return undefined;
    const { kind: _kind, term: _term, ok: _ok, ...summary } = body;
    this.#replies.set(from.id, { ...summary, incarnation: from.incarnation });
    return undefined;
  }

  /** Handles fetched entries from the server with the best log. */
  onFetched(from: Peer, body: ChatFetchedBody, now: number): void {
    const fetch = this.#fetch;
    if (!fetch || from.id !== fetch.source.id || body.term !== this.#o.term) return;
    if (body.prev > fetch.fetchedTo && body.prev < fetch.askedTo) {
      if (fetch.early.size < this.#o.config.fetchWindow) fetch.early.set(body.prev, body);
      return;
    }
    if (body.prev !== fetch.fetchedTo) return;
    this.#applyFetched(fetch, body);
    for (
      let early = fetch.early.get(fetch.fetchedTo);
      early;
      early = fetch.early.get(fetch.fetchedTo)
    ) {
      fetch.early.delete(early.prev);
      this.#applyFetched(fetch, early);
    }
    if (fetch.fetchedTo >= fetch.last) {
      this.#fetch = null;
      if (fetch.merge) {
        this.#nextMerge(now);
      } else {
        this.#o.replica.log.truncateAfter(fetch.last);
        this.#planMerges(now);
      }
    } else if (fetch.fetchedTo >= fetch.askedTo) {
      this.#ask(fetch, now);
    }
  }

  /** Handles a follower's answer to an append; returns a higher term it promised elsewhere. */
  onAppendReply(from: Peer, body: ChatAppendReplyBody, now: number): number | undefined {
    return this.#replicator?.onReply(from.id, from.incarnation, body, now);
  }

  /** Handles a page of the last line per client, while completing the replica. */
  onSendersPage(from: Peer, body: ChatSendersBody, now: number): void {
    const pull = this.#pull;
    if (!pull) return;
    pull.onPage(from.id, body, now);
    if (!pull.done) return;
    this.#pull = null;
    this.#nextMerge(now);
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
    if (this.#fetch && now - this.#fetch.askedAt >= this.#o.config.retransmitMs) {
      this.#ask(this.#fetch, now);
    }
    this.#pull?.tick(now);
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
    if (this.#phase === "gathering") this.#gather(now);
    if (this.#phase !== "leading") return;
    const { replica } = this.#o;
    this.#sequencer!.drainAll();
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
        entries,
      });
      seq += entries.length;
    }
    this.#streamed = Math.max(this.#streamed, seq - 1);
  }

  #gather(now: number): void {
    const { out, config, replica } = this.#o;
    const missing = [...this.#peers.values()].filter((peer) =>
      this.#replies.get(peer.id)?.incarnation !== peer.incarnation
    );
    if (missing.length > 0) {
      if (now - this.#askedAt >= config.retransmitMs) {
        this.#askedAt = now;
        for (const peer of missing) {
          out.send(peer.addr, { kind: "chat-gather", term: this.#o.term });
        }
      }
      return;
    }
    const { log } = replica;
    const own = log.last;
    const kept = this.#kept();
    let best: { peer: Peer; summary: Summary; fork: number } | null = null;
    let top: Rank = {
      majority: kept.majority,
      committed: kept.commit,
      lastTerm: log.lastTerm,
      last: own,
    };
    let rival: { peer: Peer; summary: Summary; fork: number; rank: Rank } | null = null;
    for (const peer of this.#peers.values()) {
      const summary = this.#replies.get(peer.id)!;
      const fork = log.forkPoint(summary.runs, summary.last);
      // A window that keeps nothing (first past last) has nothing to fetch.
      const behind = fork === undefined && summary.first - 1 >= kept.commit &&
        summary.first <= summary.last;
      if (!behind && (fork === undefined || summary.last <= fork)) continue;
      const at = fork ?? kept.commit;
      if (at >= kept.commit) {
        const rank: Rank = {
          majority: Math.max(summary.majorityCommit, kept.majority),
          committed: Math.max(summary.commit, kept.commit),
          lastTerm: summary.lastTerm,
          last: summary.last,
        };
        if (outranks(rank, top)) {
          best = { peer, summary, fork: at };
          top = rank;
        }
        continue;
      }
      // A log that forked below the kept positions replaces them only when its side committed
      // more after the fork with a majority of the full view, or as much with one and more in all.
      // Counted from the fork: what both logs hold below it, each server may have learnt late.
      const rank: Rank = {
        majority: Math.max(0, summary.majorityCommit - at),
        committed: summary.commit - at,
        lastTerm: summary.lastTerm,
        last: summary.last,
      };
      const ours = { majority: Math.max(0, kept.majority - at), committed: kept.commit - at };
      const more = rank.majority > ours.majority ||
        (rank.majority === ours.majority && rank.committed > ours.committed);
      if (more && (!rival || outranks(rank, rival.rank))) rival = { peer, summary, fork: at, rank };
    }
    if (rival) best = rival;
    if (!best) {
      this.#planMerges(now);
      return;
    }
    this.#setAside(best.fork);
    const reset = log.last < best.summary.first - 1;
    const fetch: Fetch = {
      merge: null,
      source: best.peer,
      last: best.summary.last,
      first: best.summary.first,
      fetchedTo: reset ? best.summary.first - 1 : best.fork,
      askedTo: 0,
      askedAt: now,
      reset,
      early: new Map(),
    };
    this.#fetch = fetch;
    this.#source = best.peer.id;
    this.#phase = "fetching";
    this.#ask(fetch, now);
  }

  /**
   * The positions this leader's side committed (`commit`), and of those the ones committed with a
   * majority of the full view (`majority`): this server's, or further where a gathered server
   * committed entries it shares with this log. A log that keeps all of them may replace the
   * uncommitted tail after them; a log that forks below them replaces them only when its side
   * committed more with a majority (the majority side of a healed split, or the servers that went
   * on while this one was paused and then cut off), or as much with one and more in all (the
   * other side of an even split that chatted more); otherwise it is merged after them.
   */
  #kept(): { commit: number; majority: number } {
    const { replica } = this.#o;
    let commit = replica.commit;
    let majority = replica.majorityCommit;
    for (const peer of this.#peers.values()) {
      const summary = this.#replies.get(peer.id)!;
      const fork = replica.log.forkPoint(summary.runs, summary.last);
      if (fork === undefined) continue;
      commit = Math.max(commit, Math.min(summary.commit, fork));
      majority = Math.max(majority, Math.min(summary.majorityCommit, fork));
    }
    return { commit, majority };
  }

  /**
   * Before a better log replaces this one after `fork`: keeps the chat lines after it to merge
   * them after the better log, and cuts them off so that the fetched entries take those
   * positions. They are an uncommitted tail, or, after a partition, the lines of the side that
   * committed fewer since the split (its clients re-anchor, as a follower's do when it adopts).
   */
  #setAside(fork: number): void {
    this.#o.replica.rollback(fork);
  }

  /**
   * Appends the set-aside lines the log does not hold yet, in their order. An uncommitted line
   * counts as held by its sender's last line too (the better log may have sequenced it again
   * below its window); a committed one only by its id, since this server's sender table counts
   * it already.
   */
  #mergeAside(): void {
    const { replica } = this.#o;
    if (replica.aside.length === 0) return;
    this.#noteKnown();
    const fork = replica.log.last;
    let appended = 0;
    for (const { entry, committed } of replica.takeAside()) {
      if (this.#holds(entry, !committed)) continue;
      if (!this.#appendMerged(entry)) break;
      appended++;
    }
    this.#o.out.notify({
      type: "merged",
      source: OWN_TAIL,
      fork,
      appended,
      unknownFork: false,
    });
  }

  /** Builds the table of lines the log holds (by id, and by sender beyond the window). */
  #noteKnown(): void {
    if (this.#known) return;
    const { log } = this.#o.replica;
    this.#known = this.#o.replica.sendersWithTail();
    for (const entry of log.range(log.first, log.last)) {
      if (entry.kind === "text") this.#ids.add(messageId(entry.client, entry.cseq));
    }
  }

  /**
   * Appends a line of another log under this leadership's term; false (and nothing appended) when
   * the log reached the sequence bound.
   */
  #appendMerged(entry: ChatEntry): boolean {
    const { log } = this.#o.replica;
    if (log.last >= WIRE_BOUNDS.seq) return false;
    log.append({ ...entry, seq: log.last + 1, term: this.#o.term });
    this.#ids.add(messageId(entry.client, entry.cseq));
    this.#known!.note(entry.client, entry.cseq);
    return true;
  }

  /**
   * After the extension: the fork point of every server with the leader's log, what the leader
   * may count as committed (what a server committed and shares with it), and the merges to do.
   */
  #planMerges(now: number): void {
    const { replica } = this.#o;
    const { log } = replica;
    this.#forks.clear();
    this.#merges = [];
    for (const peer of this.#peers.values()) {
      const summary = this.#replies.get(peer.id)!;
      const fork = log.forkPoint(summary.runs, summary.last);
      this.#forks.set(peer.id, fork ?? 0);
      if (fork !== undefined && fork >= summary.last) continue;
      const from = fork === undefined ? summary.first : Math.max(fork + 1, summary.first);
      if (from > summary.last) continue;
      this.#merges.push({ peer, from, last: summary.last, unknownFork: fork === undefined });
    }
    this.#gathered = this.#kept();
    const byTable = replica.aside.length > 0 || this.#merges.some((merge) => merge.unknownFork);
    if (byTable && this.#pullSenders(now)) return;
    this.#nextMerge(now);
  }

  /**
   * Starts pulling the last line per client when this replica was state-transferred (its sender
   * table lacks clients whose lines lie below its window) and a server knows them all; false when
   * there is nothing to pull. A merge whose fork is unknown takes a line as present by that
   * table, so it must be complete first, or lines committed long ago would be appended again.
   */
  #pullSenders(now: number): boolean {
    const { replica, config, out, term } = this.#o;
    const source = [...this.#peers.values()].find((peer) => this.#replies.get(peer.id)?.complete);
    if (replica.sendersComplete || !source) return false;
    this.#phase = "completing";
    this.#pull = new SendersPull(source, term, replica, out, config.retransmitMs);
    this.#pull.tick(now);
    return true;
  }

  /** Fetches the next server's entries to merge, or completes when none is left. */
  #nextMerge(now: number): void {
    const merge = this.#merges.shift();
    if (!merge) {
      this.#mergeAside();
      this.#complete(now);
      return;
    }
    this.#noteKnown();
    this.#phase = "fetching";
    this.#fetch = {
      merge,
      source: merge.peer,
      last: merge.last,
      first: merge.from,
      fetchedTo: merge.from - 1,
      askedTo: 0,
      askedAt: now,
      reset: false,
      early: new Map(),
    };
    this.#appended = 0;
    this.#ask(this.#fetch, now);
  }

  #ask(fetch: Fetch, now: number): void {
    const to = Math.min(fetch.last, fetch.fetchedTo + this.#o.config.fetchWindow);
    fetch.askedTo = to;
    fetch.askedAt = now;
    this.#o.out.send(fetch.source.addr, {
      kind: "chat-fetch",
      term: this.#o.term,
      from: fetch.fetchedTo + 1,
      to,
    });
  }

  #applyFetched(fetch: Fetch, body: ChatFetchedBody): void {
    if (fetch.merge) return this.#applyMerged(fetch, fetch.merge, body);
    const { replica } = this.#o;
    if (fetch.reset && replica.reset(body.prev, body.prevTerm)) fetch.reset = false;
    const result = replica.store(body.prev, body.prevTerm, body.entries);
    if (result.ok) {
      fetch.fetchedTo = result.match;
    } else {
      fetch.reset = true;
      fetch.fetchedTo = fetch.first - 1;
      fetch.early.clear();
    }
  }

  /** Appends the fetched lines the leader's log lacks; reports the merge after its last page. */
  #applyMerged(fetch: Fetch, merge: Merge, body: ChatFetchedBody): void {
    for (const entry of body.entries) {
      if (entry.kind !== "text" || this.#holds(entry, merge.unknownFork)) continue;
      if (!this.#appendMerged(entry)) break;
      this.#appended++;
    }
    fetch.fetchedTo = body.prev + body.entries.length;
    if (fetch.fetchedTo >= fetch.last || body.entries.length === 0) {
      fetch.fetchedTo = fetch.last;
      this.#o.out.notify({
        type: "merged",
        source: merge.peer.id,
        fork: merge.unknownFork ? -1 : merge.from - 1,
        appended: this.#appended,
        unknownFork: merge.unknownFork,
      });
    }
  }

  /**
   * True when the leader's log holds this line: by id, or, with `byTable`, by its sender's last
   * line (a line below the window; sender order means every earlier line of theirs came first).
   */
  #holds(entry: ChatEntry, byTable: boolean): boolean {
    if (this.#ids.has(messageId(entry.client, entry.cseq))) return true;
    return byTable && (this.#known!.get(entry.client) ?? 0) >= entry.cseq;
  }

  /**
   * Before leading, a replica that was state-transferred pulls the last line per client from a
   * server that knows them all (when there is one); then the leader leads.
   */
  #complete(now: number): void {
    if (!this.#pullSenders(now)) this.#lead(now);
  }

  #lead(now: number): void {
    const { replica, config, out, term } = this.#o;
    this.#fetch = null;
    this.#pull = null;
    this.#phase = "leading";
    replica.advanceCommit(this.#gathered.commit);
    replica.advanceMajority(this.#gathered.majority);
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
          kind: "text",
          client: item.client,
          cseq: item.cseq,
          from: item.user,
          text: item.text,
          ts: item.ts,
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
    this.#replicator.setPeers(this.#peers);
    for (const [id, fork] of this.#forks) this.#replicator.startAt(id, fork);
    out.notify({
      type: "leading",
      term,
      source: this.#source,
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
