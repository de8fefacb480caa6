/**
 * The sequencer's admission of client lines: sender order and duplicate suppression.
 *
 * A client numbers its lines 1, 2, 3, …; the leader sequences a client's line only when it is the
 * next one after the last it sequenced for that client, buffers lines that arrive early (within
 * `orderWindow`, `maxBuffered` in all), and drops lines it already sequenced (retries). A client's
 * next line never waits for buffer space (so early lines of others cannot starve it); when the
 * uncommitted tail is full it is refused, and the client retries after slowing down. The last
 * sequenced number per client lives in a bounded {@linkcode SenderTable} that every server keeps
 * from its log, so that a new leader suppresses duplicates too. This module owns no log: the
 * caller's `sequence` callback appends.
 *
 * @module
 */

import type { ChatForwardItem, ChatSenderRecord } from "../wire/messages.ts";
import { jsonBytes } from "./size.ts";

/** The last sequenced line number of each client, bounded: the least recently used is forgotten. */
export class SenderTable {
  readonly #limit: number;
  readonly #last = new Map<string, number>();

  /** Creates an empty table that remembers at most `limit` clients. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The last line number sequenced for `client`, if remembered. */
  get(client: string): number | undefined {
    return this.#last.get(client);
  }

  /** Records that line `cseq` of `client` was sequenced. */
  note(client: string, cseq: number): void {
    const known = this.#last.get(client);
    this.#last.delete(client);
    this.#last.set(client, Math.max(known ?? 0, cseq));
    if (this.#last.size > this.#limit) this.#last.delete(this.#last.keys().next().value!);
  }

  /**
   * The records whose client key sorts after `after`, in key order, as many as fit `budget` bytes
   * of JSON (at least one) and `maxItems`; `done` when no record follows them.
   */
  page(
    after: string,
    budget: number,
    maxItems: number,
  ): { senders: ChatSenderRecord[]; done: boolean } {
    const keys = [...this.#last.keys()].filter((k) => k > after).sort();
    const senders: ChatSenderRecord[] = [];
    let used = 0;
    for (const client of keys) {
      const record = { client, cseq: this.#last.get(client)! };
      const size = jsonBytes(record) + 1;
      if (senders.length > 0 && (used + size > budget || senders.length >= maxItems)) break;
      senders.push(record);
      used += size;
    }
    return { senders, done: senders.length === keys.length };
  }

  /** An independent copy. */
  clone(): SenderTable {
    const copy = new SenderTable(this.#limit);
    for (const [client, cseq] of this.#last) copy.#last.set(client, cseq);
    return copy;
  }
}

/** What a {@linkcode Sequencer} needs. */
export interface SequencerOptions {
  /** The last sequenced line per client (owned by the sequencer from now on). */
  senders: SenderTable;
  /** How far ahead of the next expected line a client's lines are buffered. */
  orderWindow: number;
  /** Lines buffered in all. */
  maxBuffered: number;
  /** True while the leader may sequence another line (its uncommitted tail has room). */
  room: () => boolean;
  /** Sequences one line (appends it to the log). */
  sequence: (item: ChatForwardItem) => void;
}

/** Admits client lines in sender order, exactly once. */
export class Sequencer {
  readonly #o: SequencerOptions;
  readonly #buffers = new Map<string, Map<number, ChatForwardItem>>();
  #buffered = 0;

  /** Creates a sequencer. */
  constructor(options: SequencerOptions) {
    this.#o = options;
  }

  /** Lines waiting for an earlier line of their client, or for room. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Offers one line: sequences it (and the buffered lines after it) when it is its client's next,
   * buffers it when it is early, ignores it when it was sequenced already (`"duplicate"`). Returns
   * `"busy"` when the line could not be taken and the client should slow down.
   */
  offer(item: ChatForwardItem): "ok" | "busy" | "duplicate" {
    const { client, cseq } = item;
    const next = this.#next(client, item.acked);
    if (cseq < next) return "duplicate";
    if (cseq >= next + this.#o.orderWindow) return "busy";
    let buffer = this.#buffers.get(client);
    if (cseq === next) {
      if (!this.#o.room()) return "busy";
      if (buffer?.delete(cseq)) this.#buffered--;
      this.#o.sequence(item);
      this.#o.senders.note(client, cseq);
      if (buffer) this.#drain(client, buffer, next + 1);
      return "ok";
    }
    if (buffer?.has(cseq)) return "ok";
    if (this.#buffered >= this.#o.maxBuffered) return "busy";
    if (!buffer) {
      buffer = new Map();
      this.#buffers.set(client, buffer);
    }
    buffer.set(cseq, item);
    this.#buffered++;
    return "ok";
  }

  /** Sequences every buffered line that is now its client's next, while there is room. */
  drainAll(): void {
    for (const [client, buffer] of this.#buffers) {
      if (!this.#o.room()) return;
      this.#drain(client, buffer, this.#next(client, 0));
    }
  }

  /**
   * The client's next line: after the last one sequenced for it, or — for a client this leader
   * knows nothing of (forgotten by the bounded table) — after the last one it says is committed.
   * A known client's word is not taken: beyond what this leader's log knows, its lines were
   * committed on the other side of a partition, and they come back with the merge, in order.
   */
  #next(client: string, acked: number): number {
    return (this.#o.senders.get(client) ?? acked) + 1;
  }

  #drain(client: string, buffer: Map<number, ChatForwardItem>, next: number): void {
    for (const cseq of buffer.keys()) {
      if (cseq < next) {
        buffer.delete(cseq);
        this.#buffered--;
      }
    }
    while (buffer.has(next) && this.#o.room()) {
      const item = buffer.get(next)!;
      buffer.delete(next);
      this.#buffered--;
      this.#o.sequence(item);
      this.#o.senders.note(client, next);
      next++;
    }
    if (buffer.size === 0) this.#buffers.delete(client);
  }
}
