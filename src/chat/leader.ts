/**
 * What a chat server does while its server core names it the leader: first gather, then
 * sequence.
 *
 * Gathering: the new leader asks every other live server of its view for a summary of its log
 * and a promise to follow no older term (`chat-gather`). When all have answered, the log with the
 * highest (last term, last sequence number) holds every committed entry; if that is not its own,
 * the leader fetches the entries it lacks from that server (`chat-fetch`, from its own commit
 * point, or the other's whole window when its own log is too old) and drops its own stale tail.
 * A leader whose log was ever state-transferred then pulls the last line per client from a server
 * that knows them all (`transfer.ts`), so that it suppresses every duplicate. Only then does it
 * sequence anything: client lines through the {@linkcode Sequencer} (sender
 * order, no duplicates, bounded uncommitted tail), names through the {@linkcode Directory}, and
 * replication through the {@linkcode Replicator}. A refusal that names a higher term makes the
 * caller start over with a higher one.
 *
 * @module
 */

import type {
  ChatAppendReplyBody,
  ChatClaim,
  ChatClaimResult,
  ChatFetchedBody,
  ChatForwardItem,
  ChatGatherReplyBody,
  ChatSenderRecord,
  ChatSendersBody,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { Directory, type PresenceChange } from "./directory.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import { type Peer, Replicator } from "./replication.ts";
import { Sequencer } from "./sequencer.ts";
import { SendersPull } from "./transfer.ts";

/** Where a leadership stands. */
export type LeaderPhase = "gathering" | "fetching" | "completing" | "leading";

/** What the leader answers to forwarded lines. */
export interface ForwardAnswer {
  /** Clients that must slow down. */
  busy: string[];
  /** Clients whose retried lines are committed already, with their last committed line. */
  committed: ChatSenderRecord[];
}

interface Summary {
  incarnation: number;
  first: number;
  last: number;
  lastTerm: number;
  commit: number;
  complete: boolean;
}

interface Fetch {
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
  #gatheredCommit = 0;
  #source = "";

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

  /** Follows the view of live servers (this one excluded). */
  setPeers(peers: ReadonlyMap<string, Peer>): void {
    this.#peers = peers;
    this.#replicator?.setPeers(peers);
    const source = this.#fetch?.source ?? this.#pull?.source;
    if (source && peers.get(source.id)?.incarnation !== source.incarnation) {
      this.#replies.delete(source.id);
      this.#fetch = null;
      this.#pull = null;
      this.#phase = "gathering";
      this.#askedAt = -Infinity;
    }
  }

  /** Handles a log summary; returns a higher term when the server promised one elsewhere. */
  onGatherReply(from: Peer, body: ChatGatherReplyBody): number | undefined {
    if (!body.ok) return body.term >= this.#o.term ? body.term : undefined;
    if (this.#phase !== "gathering" || body.term !== this.#o.term) return undefined;
    this.#replies.set(from.id, {
      incarnation: from.incarnation,
      first: body.first,
      last: body.last,
      lastTerm: body.lastTerm,
      commit: body.commit,
      complete: body.complete,
    });
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
      this.#o.replica.log.truncateAfter(fetch.last);
      this.#fetch = null;
      this.#complete(now);
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
    if (pull.done) this.#lead(now);
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
      if (item.text.length > this.#o.config.maxTextChars) continue;
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
    this.#replicator?.tick(this.#o.replica.commit, now);
  }

  /** Gathers (asks whoever has not answered), or sequences, commits and replicates. */
  flush(now: number): void {
    if (this.#phase === "gathering") this.#gather(now);
    if (this.#phase !== "leading") return;
    const { replica } = this.#o;
    this.#sequencer!.drainAll();
    replica.advanceCommit(this.#replicator!.commitPoint());
    this.#replicator!.flush(replica.commit, now);
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
    let best: { peer: Peer; summary: Summary } | null = null;
    let commit = replica.commit;
    for (const peer of this.#peers.values()) {
      const summary = this.#replies.get(peer.id)!;
      commit = Math.max(commit, summary.commit);
      const top = best?.summary ?? { lastTerm: log.lastTerm, last: log.last };
      if (
        summary.lastTerm > top.lastTerm ||
        (summary.lastTerm === top.lastTerm && summary.last > top.last)
      ) best = { peer, summary };
    }
    this.#gatheredCommit = commit;
    if (!best || best.summary.last <= replica.commit) {
      this.#complete(now);
      return;
    }
    const reset = replica.commit < best.summary.first - 1;
    const fetch: Fetch = {
      source: best.peer,
      last: best.summary.last,
      first: best.summary.first,
      fetchedTo: reset ? best.summary.first - 1 : replica.commit,
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

  /**
   * Before leading, a replica that was state-transferred pulls the last line per client from a
   * server that knows them all (when there is one); then the leader leads.
   */
  #complete(now: number): void {
    const { replica, config, out, term } = this.#o;
    const source = [...this.#peers.values()].find((peer) => this.#replies.get(peer.id)?.complete);
    if (replica.sendersComplete || !source) {
      this.#lead(now);
      return;
    }
    this.#phase = "completing";
    this.#pull = new SendersPull(source, term, replica, out, config.retransmitMs);
    this.#pull.tick(now);
  }

  #lead(now: number): void {
    const { replica, config, out, term } = this.#o;
    this.#fetch = null;
    this.#pull = null;
    this.#phase = "leading";
    replica.advanceCommit(this.#gatheredCommit);
    const { log } = replica;
    this.#sequencer = new Sequencer({
      senders: replica.sendersWithTail(),
      orderWindow: config.orderWindow,
      maxBuffered: config.maxBuffered,
      room: () =>
        log.last - replica.commit < config.maxUncommitted &&
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
    this.#replicator = new Replicator({ term, log, out, config });
    this.#replicator.setPeers(this.#peers);
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
