/**
 * The leader's side of log replication: for every other server of the view, how far its log is
 * known to match (`match`), what to send next, and the appends that bring it up to date — in
 * batches, at most `replicationWindow` entries and `datagramsInFlight` datagrams beyond what it
 * acknowledged (entries sequenced meanwhile then leave together), going back to the last
 * acknowledged entry after `retransmitMs` of silence, probing with one datagram at a time after
 * a refusal (a refusal repeated within `retransmitMs` is ignored, so refusals never multiply
 * appends), and by state transfer (an append with `reset`) when it needs entries older than the
 * leader's log window.
 *
 * The commit point is the highest entry every server of the view has stored. This module owns
 * the progress records only; the log is the replica's and the view is the core's.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import { type ChatAppendReplyBody, type ChatEntry, MAX_CHAT_ENTRIES } from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import type { ChatLog } from "./log.ts";
import type { ChatOutbox } from "./outbox.ts";
import { BODY_OVERHEAD_BYTES } from "./size.ts";
import { assert } from "../util/assert.ts";

/** Another server of the view, as the chat layer needs it. */
export interface Peer {
  /** Node id. */
  id: string;
  /** Unicast address. */
  addr: Address;
  /** Incarnation: a restarted server has lost its log. */
  incarnation: number;
}

interface Progress {
  peer: Peer;
  /** Highest sequence number acknowledged as stored and matching. */
  match: number;
  /** Where sending resumes after silence: the match, or a lower guess from a refusal. */
  resume: number;
  /** Next sequence number to send. */
  next: number;
  /** The peer's own commit point, as it last said. */
  commit: number;
  /** The first entry a client attached to it lacks, as it last said (0 until it says). */
  reader: number;
  /** The commit point last sent to it. */
  sentCommit: number;
  /** When anything was last sent to it (ms). */
  sentAt: number;
  /** True while it needs a state transfer (its log lacks what the leader's window starts with). */
  reset: boolean;
  /** Last sequence number of each batch sent and not yet acknowledged. */
  inflight: number[];
  /** True after a refusal until an acceptance: one datagram at a time finds where logs match. */
  probing: boolean;
  /** The hint of the last refusal acted on, and when (duplicates and echoes are ignored). */
  refusal: { hint: number; at: number };
}

/** What a {@linkcode Replicator} needs. */
export interface ReplicatorOptions {
  /** The leader's chat term. */
  term: number;
  /** The leader's log. */
  log: ChatLog;
  /** The leader's majority commit point (see `ChatReplica.majorityCommit`), sent with appends. */
  majorityCommit: () => number;
  /** Where appends go. */
  out: ChatOutbox;
  /** Windows, budgets and timers. */
  config: ChatConfig;
}

/** Replication progress of every follower of one leadership term. */
export class Replicator {
  readonly #o: ReplicatorOptions;
  readonly #peers = new Map<string, Progress>();

  /** Creates a replicator with no followers. */
  constructor(options: ReplicatorOptions) {
    this.#o = options;
  }

  /** Follows the view: adds new peers, forgets gone ones, starts over with restarted ones. */
  setPeers(peers: ReadonlyMap<string, Peer>): void {
    for (const id of this.#peers.keys()) if (!peers.has(id)) this.#peers.delete(id);
    const last = this.#o.log.last;
    for (const peer of peers.values()) {
      const known = this.#peers.get(peer.id);
      if (known && known.peer.incarnation === peer.incarnation) {
        known.peer = peer;
        continue;
      }
      this.#peers.set(peer.id, {
        peer,
        match: 0,
        resume: last,
        next: last + 1,
        commit: 0,
        reader: 0,
        sentCommit: -1,
        sentAt: -Infinity,
        reset: false,
        inflight: [],
        probing: true,
        refusal: { hint: -1, at: -Infinity },
      });
    }
  }

  /**
   * Starts sending to `id` after `seq`, the highest entry its log is known to share with the
   * leader's (its fork point after a merge): a diverged log is then replaced from there, not
   * probed back by terms, which two sides of a partition may share.
   */
  startAt(id: string, seq: number): void {
    const p = this.#peers.get(id);
    if (!p) return;
    p.resume = Math.min(seq, this.#o.log.last);
    p.next = p.resume + 1;
  }

  /** The highest entry every follower (and the leader, which holds `last`) has stored. */
  commitPoint(): number {
    let point = this.#o.log.last;
    for (const p of this.#peers.values()) point = Math.min(point, p.match);
    return point;
  }

  /** The lowest delivery point any follower reported for its clients (Infinity with none). */
  readPoint(): number {
    let point = Infinity;
    for (const p of this.#peers.values()) point = Math.min(point, p.reader);
    return point;
  }

  /**
   * Handles a follower's answer. Returns the higher term it promised to someone else, if it
   * refused for that reason, else undefined.
   */
  onReply(
    id: string,
    incarnation: number,
    body: ChatAppendReplyBody,
    now: number,
  ): number | undefined {
    const p = this.#peers.get(id);
    if (!p || p.peer.incarnation !== incarnation) return undefined;
    if (body.term > this.#o.term) return body.ok ? undefined : body.term;
    if (body.term !== this.#o.term) return undefined;
    p.commit = Math.max(p.commit, body.commit);
    p.reader = body.reader;
    if (body.ok) {
      p.match = Math.max(p.match, Math.min(body.match, this.#o.log.last));
      p.resume = Math.max(p.resume, p.match);
      p.next = Math.max(p.next, p.match + 1);
      p.inflight = p.inflight.filter((end) => end > p.match);
      p.probing = false;
      if (p.match >= this.#o.log.first - 1) p.reset = false;
    } else {
      const { hint, at } = p.refusal;
      if (body.match === hint && now - at < this.#o.config.retransmitMs) return undefined;
      p.refusal = { hint: body.match, at: now };
      p.resume = Math.max(p.match, body.match);
      p.next = p.resume + 1;
      p.inflight = [];
      p.probing = true;
    }
    return undefined;
  }

  /** Sends every follower what it lacks (within its window) and the commit point if it moved. */
  flush(commit: number, now: number): void {
    for (const p of this.#peers.values()) this.#send(p, commit, now, false);
  }

  /**
   * Resends to followers that stayed silent for `retransmitMs` while behind, or while a slow
   * client of theirs holds senders back (their answer tells how far it got). Followers that
   * reported a delivery point below `wantedReader` (their clients hold the leader's stream back)
   * are asked again every `retransmitMs / 4`, so the stream goes on as soon as they caught up.
   */
  tick(commit: number, now: number, wantedReader = 0): void {
    const { log, config } = this.#o;
    for (const p of this.#peers.values()) {
      const waiting = p.match < log.last || p.commit < commit ||
        log.last + 1 - p.reader >= config.maxReaderLag;
      if (waiting && now - p.sentAt >= config.retransmitMs) {
        p.next = Math.max(p.match, p.resume) + 1;
        p.inflight = [];
        this.#send(p, commit, now, true);
      } else if (p.reader < wantedReader && now - p.sentAt >= config.retransmitMs / 4) {
        this.#send(p, commit, now, true);
      }
    }
  }

  #send(p: Progress, commit: number, now: number, probe: boolean): void {
    const { log, config } = this.#o;
    if (p.next < log.first) {
      p.next = log.first;
      p.reset = true;
    }
    const base = Math.max(p.match, p.resume, p.reset ? log.first - 1 : 0);
    let sent = false;
    const datagrams = p.probing ? 1 : config.datagramsInFlight;
    while (
      p.next <= log.last && p.next - 1 - base < config.replicationWindow &&
      p.inflight.length < datagrams
    ) {
      const prev = p.next - 1;
      const entries = log.batch(
        p.next,
        log.last,
        config.batchBodyBytes - BODY_OVERHEAD_BYTES,
        MAX_CHAT_ENTRIES,
      );
      this.#append(p, prev, commit, entries);
      p.next += entries.length;
      p.inflight.push(p.next - 1);
      sent = true;
    }
    if (!sent && (probe || p.sentCommit < commit)) {
      this.#append(p, Math.min(p.next - 1, log.last), commit, []);
      sent = true;
    }
    if (sent) {
      p.sentCommit = commit;
      p.sentAt = now;
    }
  }

  /** Sends `p` the entries after `prev` (none: a heartbeat carrying the commit point). */
  #append(p: Progress, prev: number, commit: number, entries: ChatEntry[]): void {
    const { log, out, term } = this.#o;
    const prevTerm = log.termAt(prev);
    assert(prevTerm !== undefined, `append after ${prev}, outside the log ${log.first - 1}..`);
    out.send(p.peer.addr, {
      kind: "chat-append",
      term,
      prev,
      prevTerm,
      commit,
      majorityCommit: Math.min(this.#o.majorityCommit(), commit),
      reset: p.reset && prev === log.first - 1,
      entries,
    });
  }
}
