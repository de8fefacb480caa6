/**
 * The simulator's event queue: a binary min-heap ordered by time, then by insertion order, so
 * that events at the same instant run in the order they were scheduled (determinism), and the
 * simulated clock that both simulators advance with it.
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

/** Simulated time driven by an {@linkcode EventQueue}; the simulators extend it. */
export class SimClock {
  /** Current simulated time (ms). */
  now = 0;
  /** Pending events. */
  protected readonly queue = new EventQueue();
  /** How often {@linkcode runUntil} checks its condition by default (simulated ms). */
  protected readonly pollMs: number;

  /** Creates a clock at time 0 whose `runUntil` polls every `pollMs` by default. */
  constructor(pollMs: number) {
    this.pollMs = pollMs;
  }

  /** Runs every event up to and including time `until`, then sets the clock to it. */
  run(until: number): void {
    while (this.queue.peekTime() <= until) {
      const event = this.queue.pop()!;
      this.now = event.at;
      event.run();
    }
    if (until > this.now) this.now = until;
  }

  /** Runs until `done()` holds (checked every `pollMs`) or `deadline`; true when it held. */
  runUntil(done: () => boolean, deadline: number, pollMs = this.pollMs): boolean {
    for (;;) {
      if (done()) return true;
      if (this.now >= deadline) return false;
      this.run(Math.min(deadline, this.now + pollMs));
    }
  }
}
