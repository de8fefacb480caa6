/**
 * The replicated state of one chat server: its log, its commit point, and what the committed
 * entries imply — who is present (from `join`/`leave` entries) and the last line sequenced per
 * client (duplicate suppression that outlives the log window).
 *
 * Committed entries are applied once, in order, when the commit point passes them. The commit
 * point goes back only when the leader's merged log replaces committed entries after a partition
 * healed (the entries replaced are in the merged log elsewhere): it then returns to the fork
 * point, which the replica remembers until the sessions take it (their clients must re-anchor
 * there). This module decides nothing about leaders or clients.
 *
 * @module
 */

import { type ChatEntry, DEFAULT_ROOM } from "../wire/messages.ts";
import type { Presence } from "./directory.ts";
import { isClientLine, messageId } from "./keys.ts";
import { ChatLog } from "./log.ts";
import { SenderTable } from "./sequencer.ts";
import { assert } from "../util/assert.ts";

/** A chat line a better log replaced; `committed` when this server had applied it. */
export interface SetAside {
  /** The line as it stood in this log. */
  entry: ChatEntry;
  /** True when it was at or below the commit point (its sender's record counts it). */
  committed: boolean;
}

/** The log of a server and the state its committed entries imply. */
export class ChatReplica {
  /** The log. */
  readonly log: ChatLog = new ChatLog();
  /** Who is present, as of the commit point (user → holder). */
  readonly presence: Map<string, Presence> = new Map();
  /** The room of every present user, as of the commit point (user → room). */
  readonly rooms: Map<string, string> = new Map();
  /** Last committed line number per client. */
  readonly senders: SenderTable;
  readonly #logLimit: number;
  #commit = 0;
  #majorityCommit = 0;
  #conflicts = 0;
  #fork: number | undefined;
  #complete = true;
  #sendersComplete = true;
  #aside: SetAside[] = [];

  /** Creates an empty replica keeping `logLimit` committed entries and `maxSenders` clients. */
  constructor(logLimit: number, maxSenders: number) {
    this.#logLimit = logLimit;
    this.senders = new SenderTable(maxSenders);
  }

  /** Highest committed sequence number. */
  get commit(): number {
    return this.#commit;
  }

  /**
   * The highest entry committed by a leader that reached a majority of the full view (as this
   * server learnt it): a position the merge after a split never moves (see `leader.ts`).
   */
  get majorityCommit(): number {
    return this.#majorityCommit;
  }

  /** Records that entries up to `seq` (at most the commit point) were committed by a majority. */
  advanceMajority(seq: number): void {
    this.#majorityCommit = Math.max(this.#majorityCommit, Math.min(seq, this.#commit));
  }

  /** True while presence is known from the first entry on (no state transfer happened). */
  get complete(): boolean {
    return this.#complete;
  }

  /**
   * True while the last line of every client is known: no state transfer happened, or the
   * records older than the transferred window were pulled since (see `transfer.ts`).
   */
  get sendersComplete(): boolean {
    return this.#sendersComplete;
  }

  /** Records that the last line of every client was pulled from a server that knew it. */
  markSendersComplete(): void {
    this.#sendersComplete = true;
  }

  /** Committed entries that a merged log replaced (0 unless a partition healed). */
  get conflicts(): number {
    return this.#conflicts;
  }

  /** The lowest fork point since the last call, if a merged log replaced committed entries. */
  takeFork(): number | undefined {
    const fork = this.#fork;
    this.#fork = undefined;
    return fork;
  }

  /** Moves the commit point up to `seq` (never past the log, never back) and applies entries. */
  advanceCommit(seq: number): void {
    const to = Math.min(seq, this.log.last);
    for (const entry of this.log.range(this.#commit + 1, to)) this.#apply(entry);
    this.#commit = Math.max(this.#commit, to);
    this.#checkCommit();
  }

  /**
   * Stores entries after `prev` (see {@linkcode ChatLog.store}). When committed entries are
   * replaced (a merged log), counts them and moves the commit point back to the fork.
   */
  store(
    prev: number,
    prevTerm: number,
    entries: readonly ChatEntry[],
  ): ReturnType<ChatLog["store"]> {
    const result = this.log.store(prev, prevTerm, entries, this.#commit);
    if (result.ok && result.replacedFrom <= this.#commit) {
      this.#conflicts += result.conflicts;
      this.#commit = result.replacedFrom - 1;
      this.#majorityCommit = Math.min(this.#majorityCommit, this.#commit);
      this.#fork = Math.min(this.#fork ?? Infinity, this.#commit);
    }
    this.#checkCommit();
    return result;
  }

  /**
   * Drops every entry after `fork`: a leader adopting a better log from there. Committed entries
   * dropped are counted and the commit point goes back to the fork, as when a follower adopts.
   * The chat lines dropped are kept until a leader merges them ({@linkcode ChatReplica.takeAside}),
   * whichever leadership of this server that is.
   */
  rollback(fork: number): void {
    for (const entry of this.log.range(fork + 1, this.log.last)) {
      if (isClientLine(entry)) this.#aside.push({ entry, committed: entry.seq <= this.#commit });
    }
    this.log.truncateAfter(fork);
    this.#majorityCommit = Math.min(this.#majorityCommit, fork);
    if (this.#commit > fork) {
      this.#conflicts += this.#commit - fork;
      this.#commit = fork;
      this.#fork = Math.min(this.#fork ?? Infinity, fork);
    }
    this.#checkCommit();
  }

  /** The chat lines {@linkcode ChatReplica.rollback} dropped and no leader merged yet. */
  get aside(): readonly SetAside[] {
    return this.#aside;
  }

  /**
   * Forgets the dropped chat lines the log holds again (by id), or that are older than their
   * sender's last committed line when they were never applied here; returns those left.
   */
  pruneAside(): readonly SetAside[] {
    if (this.#aside.length === 0) return this.#aside;
    const held = new Set<string>();
    for (const entry of this.log.range(this.log.first, this.log.last)) {
      if (isClientLine(entry)) held.add(messageId(entry.client, entry.cseq));
    }
    this.#aside = this.#aside.filter(({ entry, committed }) =>
      !held.has(messageId(entry.client, entry.cseq)) &&
      (committed || (this.senders.get(entry.client) ?? 0) < entry.cseq)
    );
    return this.#aside;
  }

  /** Hands over the dropped chat lines, oldest first, to be merged; forgets them. */
  takeAside(): SetAside[] {
    const aside = this.#aside;
    this.#aside = [];
    return aside;
  }

  /**
   * State transfer: the log restarts after `prev`, which is committed. Refused (false) when that
   * would discard committed entries this replica holds: a late copy of an old transfer.
   */
  reset(prev: number, prevTerm: number): boolean {
    if (prev < this.#commit) return false;
    this.log.reset(prev, prevTerm);
    this.#commit = prev;
    if (prev > 0) {
      this.#complete = false;
      this.#sendersComplete = false;
    }
    return true;
  }

  /** Drops committed entries beyond the log limit. */
  trim(): void {
    this.log.trim(this.#commit, this.#logLimit);
    this.#checkCommit();
  }

  /**
   * The commit point lies in the log's window (from the entry before the first kept one to the
   * last), and what a majority committed is committed here.
   */
  #checkCommit(): void {
    const { first, last } = this.log;
    assert(
      first - 1 <= this.#commit && this.#commit <= last,
      `commit ${this.#commit} outside the log ${first - 1}..${last}`,
    );
    assert(
      this.#majorityCommit <= this.#commit,
      `majority commit ${this.#majorityCommit} above commit ${this.#commit}`,
    );
  }

  /** Presence including the uncommitted tail of the log (what a new leader starts from). */
  presenceWithTail(): Map<string, Presence> {
    return this.#withTail().presence;
  }

  /** Every present user's room including the uncommitted tail (what the leader decides by). */
  roomsWithTail(): Map<string, string> {
    return this.#withTail().rooms;
  }

  #withTail(): { presence: Map<string, Presence>; rooms: Map<string, string> } {
    const presence = new Map(this.presence);
    const rooms = new Map(this.rooms);
    for (const entry of this.log.range(this.#commit + 1, this.log.last)) {
      applyPresence(presence, rooms, entry);
    }
    return { presence, rooms };
  }

  /** Last line number per client including the uncommitted tail (what a new leader starts from). */
  sendersWithTail(): SenderTable {
    const senders = this.senders.clone();
    for (const entry of this.log.range(this.#commit + 1, this.log.last)) {
      if (isClientLine(entry)) senders.note(entry.client, entry.cseq);
    }
    return senders;
  }

  #apply(entry: ChatEntry): void {
    if (isClientLine(entry)) this.senders.note(entry.client, entry.cseq);
    applyPresence(this.presence, this.rooms, entry);
  }
}

/**
 * Applies a presence entry: a `join` puts the user in the lobby, an `enter` of the session that
 * holds the name moves it to a room, a `leave` of that session removes it.
 */
function applyPresence(
  presence: Map<string, Presence>,
  rooms: Map<string, string>,
  entry: ChatEntry,
): void {
  const holds = presence.get(entry.from)?.client === entry.client;
  if (entry.kind === "join") {
    presence.set(entry.from, { client: entry.client, server: entry.text });
    rooms.set(entry.from, DEFAULT_ROOM);
  } else if (entry.kind === "enter" && holds) {
    rooms.set(entry.from, entry.room ?? DEFAULT_ROOM);
  } else if (entry.kind === "leave" && holds) {
    presence.delete(entry.from);
    rooms.delete(entry.from);
  }
}
