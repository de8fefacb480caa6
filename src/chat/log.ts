/**
 * The chat log of one server: a bounded window of the global order, `first..last`, plus the term
 * of the entry just before it (its base), so that the consistency check of an append works at the
 * window's edge. It owns storage, the consistency check (an append after `prev` is accepted only
 * when the entry at `prev` has the expected term; a conflicting suffix is replaced, as in Raft),
 * trimming, state transfer (reset to a new base), and the merge's questions: the starts of its
 * term runs ({@linkcode ChatLog.runs}) and the fork point with another log
 * ({@linkcode ChatLog.forkPoint}). Entries are compared by identity ({@linkcode sameEntry}),
 * never by term alone, because without a quorum two sides may use the same chat term (see
 * docs/design.md, "Partitions and the merge rule"). It knows nothing of leaders, commits or
 * clients; the caller passes the commit point where it matters.
 *
 * @module
 */

import type { ChatEntry, ChatRunStart } from "../wire/messages.ts";
import { assert } from "../util/assert.ts";
import { jsonBytes } from "./size.ts";

/** A 32-bit fingerprint (FNV-1a) of an entry's identity: term, kind, client, line number, time. */
export function entryMark(
  entry: Pick<ChatEntry, "term" | "kind" | "client" | "cseq" | "ts">,
): number {
  const text = `${entry.term}|${entry.kind}|${entry.client}|${entry.cseq}|${entry.ts}`;
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return hash >>> 0;
}

/** True when two entries are the same entry of the same leader (the position aside). */
export function sameEntry(a: ChatEntry, b: ChatEntry): boolean {
  return a.term === b.term && a.kind === b.kind && a.client === b.client && a.cseq === b.cseq &&
    a.ts === b.ts;
}

/** The outcome of {@linkcode ChatLog.store}. */
export type StoreResult =
  | {
    /** The entries follow a matching `prev` and are stored. */
    ok: true;
    /** Highest sequence number now known to match the sender's log. */
    match: number;
    /** Sequence numbers at or below `commit` whose entry was replaced (a merged log adopted). */
    conflicts: number;
    /** The first sequence number whose entry was replaced (Infinity when none was). */
    replacedFrom: number;
  }
  | {
    /** `prev` is missing or has another term. */
    ok: false;
    /** Where the sender should resume: the log is consistent up to here at least. */
    hint: number;
  };

/** A bounded window of the global chat order. */
export class ChatLog {
  #items: ChatEntry[] = [];
  #bytes: number[] = [];
  #head = 0;
  #first = 1;
  #baseTerm = 0;

  /** Sequence number of the first entry kept (`last + 1` when empty). */
  get first(): number {
    return this.#first;
  }

  /** Sequence number of the last entry (`first - 1` when empty). */
  get last(): number {
    return this.#first + this.size - 1;
  }

  /** How many entries are kept. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Term of the last entry (the base term when empty). */
  get lastTerm(): number {
    return this.size > 0 ? this.#items[this.#items.length - 1].term : this.#baseTerm;
  }

  /** Term of the entry at `seq`; for `first - 1` the base term; undefined outside the window. */
  termAt(seq: number): number | undefined {
    if (seq === this.#first - 1) return this.#baseTerm;
    return this.get(seq)?.term;
  }

  /** The entry at `seq`, if kept. */
  get(seq: number): ChatEntry | undefined {
    if (seq < this.#first || seq > this.last) return undefined;
    return this.#items[this.#head + seq - this.#first];
  }

  /** JSON size of the entry at `seq` (bytes); 0 when not kept. */
  bytesAt(seq: number): number {
    if (seq < this.#first || seq > this.last) return 0;
    return this.#bytes[this.#head + seq - this.#first];
  }

  /** Appends `entry`, whose `seq` must be `last + 1`. */
  append(entry: ChatEntry): void {
    assert(entry.seq === this.last + 1, `append of seq ${entry.seq} after ${this.last}`);
    this.#items.push(entry);
    this.#bytes.push(jsonBytes(entry));
  }

  /**
   * Stores `entries` (sequence numbers `prev + 1` on) when the entry at `prev` has `prevTerm`.
   * Entries already held are kept ({@linkcode sameEntry}); the first other one and everything
   * after it are replaced. Entries below the window are committed everywhere, so a
   * `prev` below it matches. Entries that do not follow `prev` one by one are refused.
   */
  store(
    prev: number,
    prevTerm: number,
    entries: readonly ChatEntry[],
    commit: number,
  ): StoreResult {
    if (prev > this.last || !entries.every((e, i) => e.seq === prev + 1 + i)) {
      return { ok: false, hint: this.last };
    }
    if (prev >= this.#first - 1 && this.termAt(prev) !== prevTerm) {
      return { ok: false, hint: Math.max(this.#first - 1, Math.min(commit, prev - 1)) };
    }
    let conflicts = 0;
    let replacedFrom = Infinity;
    for (const entry of entries) {
      if (entry.seq < this.#first) continue;
      if (entry.seq <= this.last) {
        if (sameEntry(this.get(entry.seq)!, entry)) continue;
        conflicts += Math.max(0, Math.min(commit, this.last) - entry.seq + 1);
        replacedFrom = Math.min(replacedFrom, entry.seq);
        this.truncateAfter(entry.seq - 1);
      }
      this.append(entry);
    }
    const match = prev + entries.length;
    assert(match <= this.last, `store matched up to ${match} beyond the log's last ${this.last}`);
    return { ok: true, match, conflicts, replacedFrom };
  }

  /** Drops every entry after `seq`. */
  truncateAfter(seq: number): void {
    if (seq >= this.last) return;
    const keep = this.#head + Math.max(0, seq - this.#first + 1);
    this.#items.length = keep;
    this.#bytes.length = keep;
  }

  /** Empties the log; the next entry is `prev + 1` and the entry at `prev` had `prevTerm`. */
  reset(prev: number, prevTerm: number): void {
    this.#items = [];
    this.#bytes = [];
    this.#head = 0;
    this.#first = prev + 1;
    this.#baseTerm = prevTerm;
  }

  /** Drops the oldest entries at or below `commit` while more than `limit` are kept. */
  trim(commit: number, limit: number): void {
    while (this.size > limit && this.#first <= commit) {
      this.#baseTerm = this.#items[this.#head].term;
      this.#head++;
      this.#first++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#bytes = this.#bytes.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * A 32-bit fingerprint of the entries `first..to` (their positions and identities): two logs
   * with the same window and the same digest hold the same entries in the same order.
   */
  digest(to: number): number {
    let hash = 2166136261;
    for (let seq = this.#first; seq <= Math.min(to, this.last); seq++) {
      hash = Math.imul(hash ^ entryMark(this.get(seq)!), 16777619) ^ seq;
    }
    return hash >>> 0;
  }

  /**
   * The entries from `from` on, at most up to `to`, that fit `budget` bytes of JSON (at least one
   * when any is kept, at most `maxEntries`).
   */
  batch(from: number, to: number, budget: number, maxEntries: number): ChatEntry[] {
    const out: ChatEntry[] = [];
    let used = 0;
    for (let seq = Math.max(from, this.#first); seq <= Math.min(to, this.last); seq++) {
      const size = this.bytesAt(seq) + 1;
      if (out.length > 0 && (used + size > budget || out.length >= maxEntries)) break;
      out.push(this.get(seq)!);
      used += size;
    }
    return out;
  }

  /**
   * The starts of the last `max` runs of one term in the window, oldest first; the oldest listed
   * is the window's first entry when its run started before the window.
   */
  runs(max: number): ChatRunStart[] {
    const runs: ChatRunStart[] = [];
    for (let seq = this.last; seq >= this.#first && runs.length < max; seq--) {
      const entry = this.get(seq)!;
      if (seq === this.#first || this.get(seq - 1)!.term !== entry.term) {
        runs.push({ seq, term: entry.term, mark: entryMark(entry) });
      }
    }
    return runs.reverse();
  }

  /**
   * The highest sequence number up to which this log and another agree, given the other's run
   * starts (oldest first) and last sequence number; undefined when none of its listed runs is
   * found here (the logs forked below what both windows show). A run matches when this log holds
   * its start entry (by fingerprint), or, when the start lies below this window, holds the run's
   * term at the window's first entry; the agreement then extends while this log keeps the term.
   * A run that covers this window's base (the committed entry just before the window) and has the
   * base's term agrees up to the base.
   * An empty other log agrees up to its last (there is nothing of it to merge), a log that never
   * held an entry agrees with every log up to 0.
   */
  forkPoint(runs: readonly ChatRunStart[], otherLast: number): number | undefined {
    if (runs.length === 0) return otherLast;
    if (this.last === 0) return 0;
    const base = this.#first - 1;
    for (let i = runs.length - 1; i >= 0; i--) {
      const { seq, term, mark } = runs[i];
      const end = i + 1 < runs.length ? runs[i + 1].seq - 1 : otherLast;
      const probe = Math.max(seq, this.#first);
      if (probe > end || probe > this.last) {
        if (base >= 1 && seq <= base && base <= end && this.#baseTerm === term) return base;
        continue;
      }
      const held = this.get(probe)!;
      if (held.term !== term || (probe === seq && entryMark(held) !== mark)) continue;
      let agreed = probe;
      while (agreed < Math.min(end, this.last) && this.get(agreed + 1)!.term === term) agreed++;
      return agreed;
    }
    return undefined;
  }

  /** Every kept entry from `from` to `to`, in order. */
  *range(from: number, to: number): IterableIterator<ChatEntry> {
    for (let seq = Math.max(from, this.#first); seq <= Math.min(to, this.last); seq++) {
      yield this.get(seq)!;
    }
  }
}
