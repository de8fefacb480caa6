/**
 * How a new leader recovers the log before it leads: gather every live server's log summary,
 * extend this log from the best one (fetch, or state transfer when this log lies below its
 * window), set aside and merge the lines of the other sides, and complete a state-transferred
 * sender table (`transfer.ts`). It owns the gather/fetch/merge state machine and hands a ready
 * base (fork points, the commit points it may take over) to `Leadership` (`leader.ts`) through
 * `ready`; it must not sequence, replicate or stream anything (that is `leader.ts`). The rules
 * are in docs/design.md ("How a new leader recovers the log").
 *
 * @module
 */

import type {
  ChatEntry,
  ChatFetchedBody,
  ChatGatherReplyBody,
  ChatSendersBody,
} from "../wire/messages.ts";
import { WIRE_BOUNDS } from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { isClientLine, messageId } from "./keys.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import type { Peer } from "./replication.ts";
import type { SenderTable } from "./sequencer.ts";
import { SendersPull } from "./transfer.ts";

/** The `source` of the `merged` notice for this server's own set-aside tail. */
const OWN_TAIL = "its own uncommitted tail";

/** Where a leadership stands. */
export type LeaderPhase = "gathering" | "fetching" | "completing" | "leading";

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

/** What a recovered log hands to the leading part. */
export interface RecoveredBase {
  /** The live servers gathered (this one excluded). */
  peers: ReadonlyMap<string, Peer>;
  /** Where replication starts with each server: its fork point with the merged log. */
  forks: ReadonlyMap<string, number>;
  /** The server whose log was taken as the base ("" when it was this one's). */
  source: string;
  /** The positions the leader may count as committed, and as committed with a majority. */
  gathered: { commit: number; majority: number };
}

/** What a {@linkcode Recovery} needs. */
export interface RecoveryOptions {
  /** The chat term of this leadership. */
  term: number;
  /** Tunables. */
  config: ChatConfig;
  /** This server's log and commit point. */
  replica: ChatReplica;
  /** Where datagrams go. */
  out: ChatOutbox;
  /** Called once, when the merged log is ready to lead with. */
  ready: (base: RecoveredBase, now: number) => void;
}

/** The recovery of one term of leadership: from gathering until the log is ready to lead with. */
export class Recovery {
  readonly #o: RecoveryOptions;
  #phase: LeaderPhase = "gathering";
  #peers: ReadonlyMap<string, Peer> = new Map();
  readonly #replies = new Map<string, Summary>();
  #askedAt = -Infinity;
  #fetch: Fetch | null = null;
  #pull: SendersPull | null = null;
  #gathered = { commit: 0, majority: 0 };
  #source = "";
  #forks = new Map<string, number>();
  #merges: Merge[] = [];
  #ids = new Set<string>();
  #known: SenderTable | null = null;
  #appended = 0;

  /** Starts gathering; nothing is sent before the first {@linkcode Recovery.flush}. */
  constructor(options: RecoveryOptions) {
    this.#o = options;
  }

  /** Gathering, fetching, completing, or leading (handed over). */
  get phase(): LeaderPhase {
    return this.#phase;
  }

  /**
   * Follows the view of live servers (this one excluded). Returns true when a server joined that
   * was not gathered while this leadership is past gathering, or a server to merge from restarted:
   * the caller must start a new leadership.
   */
  setPeers(peers: ReadonlyMap<string, Peer>): boolean {
    const ungathered = [...peers.values()].some((peer) =>
      this.#replies.get(peer.id)?.incarnation !== peer.incarnation
    );
    if (ungathered && this.#phase !== "gathering") return true;
    this.#peers = peers;
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

  /** Handles a page of the last line per client, while completing the replica. */
  onSendersPage(from: Peer, body: ChatSendersBody, now: number): void {
    const pull = this.#pull;
    if (!pull) return;
    pull.onPage(from.id, body, now);
    if (!pull.done) return;
    this.#pull = null;
    this.#nextMerge(now);
  }

  /** Repeats an unanswered fetch or page request. */
  tick(now: number): void {
    if (this.#fetch && now - this.#fetch.askedAt >= this.#o.config.retransmitMs) {
      this.#ask(this.#fetch, now);
    }
    this.#pull?.tick(now);
  }

  /** While gathering: asks whoever has not answered, or merges once all have. */
  flush(now: number): void {
    if (this.#phase === "gathering") this.#gather(now);
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
      if (isClientLine(entry)) this.#ids.add(messageId(entry.client, entry.cseq));
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
    const source = this.#sendersSource();
    if (replica.sendersComplete || !source) return false;
    this.#phase = "completing";
    this.#pull = new SendersPull(source, term, replica, out, config.retransmitMs);
    this.#pull.tick(now);
    return true;
  }

  /**
   * The server to pull the last line per client from: one whose table is complete and that shares
   * this log's history furthest (its commit point up to where it forks from this log), so that
   * its table counts every line this log holds below its window; a complete server that lags, or
   * whose log went another way, would not know lines this log committed since. Without such a
   * server, the first complete one.
   */
  #sendersSource(): Peer | undefined {
    const { log } = this.#o.replica;
    let best: { peer: Peer; shared: number } | undefined;
    let first: Peer | undefined;
    for (const peer of this.#peers.values()) {
      const summary = this.#replies.get(peer.id);
      if (!summary?.complete) continue;
      first ??= peer;
      const fork = log.forkPoint(summary.runs, summary.last);
      if (fork === undefined) continue;
      const shared = Math.min(summary.commit, fork);
      if (!best || shared > best.shared) best = { peer, shared };
    }
    return best?.peer ?? first;
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
      if (!isClientLine(entry) || this.#holds(entry, merge.unknownFork)) continue;
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
    if (!this.#pullSenders(now)) this.#ready(now);
  }

  /** Hands the merged log to the leading part. */
  #ready(now: number): void {
    this.#fetch = null;
    this.#pull = null;
    this.#phase = "leading";
    this.#o.ready({
      peers: this.#peers,
      forks: this.#forks,
      source: this.#source,
      gathered: this.#gathered,
    }, now);
  }
}
