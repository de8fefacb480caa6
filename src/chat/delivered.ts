/**
 * What a client remembers of the entries it delivered, so that it can re-anchor on a merged log
 * after a partition (see `client_receive.ts`): the last `capacity` entries' position, chat term and
 * identity, in a ring of typed arrays. A delivery adds no object that outlives it (client keys
 * are shared), so remembering 10 000 entries costs neither garbage-collector time nor much memory.
 *
 * @module
 */

import { CHAT_ENTRY_KINDS, type ChatEntry, type ChatRunStart } from "../wire/messages.ts";
import { isClientLine, messageId } from "./keys.ts";
import { entryMark } from "./log.ts";

/** One remembered delivery. */
export interface RememberedDelivery {
  /** Its position when it was delivered. */
  seq: number;
  /** Its fingerprint (`entryMark`). */
  mark: number;
  /** The line's id; undefined for presence entries. */
  id?: string;
}

/** Slots allocated at first; the ring doubles up to its capacity as deliveries come. */
const INITIAL_SLOTS = 256;

/** The last `capacity` delivered entries, oldest first. */
export class DeliveredMemory {
  readonly #capacity: number;
  #seq: Float64Array;
  #term: Float64Array;
  #cseq: Float64Array;
  #ts: Float64Array;
  #kind: Uint8Array;
  #client: string[];
  /** Slot of the oldest entry. */
  #head = 0;
  #size = 0;
  /** One string per client key, so that remembered keys share it. */
  readonly #keys = new Map<string, string>();

  /** A memory of at most `capacity` (≥ 1) entries. */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
    const slots = Math.min(this.#capacity, INITIAL_SLOTS);
    this.#seq = new Float64Array(slots);
    this.#term = new Float64Array(slots);
    this.#cseq = new Float64Array(slots);
    this.#ts = new Float64Array(slots);
    this.#kind = new Uint8Array(slots);
    this.#client = new Array<string>(slots).fill("");
  }

  /** Entries remembered. */
  get size(): number {
    return this.#size;
  }

  /** Remembers `entry` as the newest; the oldest is forgotten when the memory is full. */
  remember(entry: ChatEntry): void {
    if (this.#size === this.#seq.length && this.#size < this.#capacity) this.#grow();
    let slot: number;
    if (this.#size === this.#seq.length) {
      slot = this.#head;
      this.#head = (this.#head + 1) % this.#seq.length;
    } else {
      slot = (this.#head + this.#size) % this.#seq.length;
      this.#size++;
    }
    this.#seq[slot] = entry.seq;
    this.#term[slot] = entry.term;
    this.#cseq[slot] = entry.cseq;
    this.#ts[slot] = entry.ts;
    this.#kind[slot] = CHAT_ENTRY_KINDS.indexOf(entry.kind);
    this.#client[slot] = this.#shared(entry.client);
  }

  /** The newest entry's position, chat term and fingerprint; undefined when none is kept. */
  last(): { seq: number; term: number; mark: number } | undefined {
    if (this.#size === 0) return undefined;
    const slot = this.#slot(this.#size - 1);
    return { seq: this.#seq[slot], term: this.#term[slot], mark: this.#mark(slot) };
  }

  /** The starts of the last `max` term runs (consecutive positions of one term), oldest first. */
  runs(max: number): ChatRunStart[] {
    const runs: ChatRunStart[] = [];
    for (let i = this.#size - 1; i >= 0 && runs.length < max; i--) {
      const slot = this.#slot(i);
      const seq = this.#seq[slot];
      const term = this.#term[slot];
      const before = i > 0 ? this.#slot(i - 1) : -1;
      if (before < 0 || this.#term[before] !== term || this.#seq[before] !== seq - 1) {
        runs.push({ seq, term, mark: this.#mark(slot) });
      }
    }
    return runs.reverse();
  }

  /** Forgets the entries delivered at `start` or later and returns them, oldest first. */
  forgetFrom(start: number): RememberedDelivery[] {
    let keep = this.#size;
    while (keep > 0 && this.#seq[this.#slot(keep - 1)] >= start) keep--;
    const forgotten: RememberedDelivery[] = [];
    for (let i = keep; i < this.#size; i++) {
      const slot = this.#slot(i);
      const text = isClientLine({ kind: CHAT_ENTRY_KINDS[this.#kind[slot]] });
      forgotten.push({
        seq: this.#seq[slot],
        mark: this.#mark(slot),
        id: text ? messageId(this.#client[slot], this.#cseq[slot]) : undefined,
      });
    }
    this.#size = keep;
    return forgotten;
  }

  #slot(index: number): number {
    return (this.#head + index) % this.#seq.length;
  }

  #mark(slot: number): number {
    return entryMark({
      term: this.#term[slot],
      kind: CHAT_ENTRY_KINDS[this.#kind[slot]],
      client: this.#client[slot],
      cseq: this.#cseq[slot],
      ts: this.#ts[slot],
    });
  }

  #shared(key: string): string {
    const known = this.#keys.get(key);
    if (known !== undefined) return known;
    if (this.#keys.size >= this.#capacity) this.#keys.clear();
    this.#keys.set(key, key);
    return key;
  }

  /** Doubles the slots (up to the capacity), the oldest entry moving to slot 0. */
  #grow(): void {
    const slots = Math.min(this.#capacity, this.#seq.length * 2);
    const head = this.#head;
    const move = <T extends Float64Array | Uint8Array>(from: T, to: T): T => {
      to.set(from.subarray(head));
      to.set(from.subarray(0, head), from.length - head);
      return to;
    };
    this.#seq = move(this.#seq, new Float64Array(slots));
    this.#term = move(this.#term, new Float64Array(slots));
    this.#cseq = move(this.#cseq, new Float64Array(slots));
    this.#ts = move(this.#ts, new Float64Array(slots));
    this.#kind = move(this.#kind, new Uint8Array(slots));
    const client = [...this.#client.slice(head), ...this.#client.slice(0, head)];
    this.#client = client.concat(new Array<string>(slots - client.length).fill(""));
    this.#head = 0;
  }
}
