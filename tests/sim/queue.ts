/**
 * The simulator's event queue: a binary min-heap ordered by time, then by insertion order, so
 * that events at the same instant run in the order they were scheduled (determinism).
 *
 * @module
 */

interface Entry {
  at: number;
  seq: number;
  run: () => void;
}

/** A time-ordered queue of callbacks. */
export class EventQueue {
  readonly #heap: Entry[] = [];
  #seq = 0;

  /** Time of the earliest pending event, or Infinity. */
  peekTime(): number {
    return this.#heap.length > 0 ? this.#heap[0].at : Infinity;
  }

  /** Schedules `run` at time `at`. */
  push(at: number, run: () => void): void {
    const heap = this.#heap;
    const entry = { at, seq: this.#seq++, run };
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = entry;
  }

  /** Removes and returns the earliest event. */
  pop(): { at: number; run: () => void } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right], heap[left]) ? right : left;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
