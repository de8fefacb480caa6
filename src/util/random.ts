/**
 * A small, fast, seeded pseudo-random generator for reproducible tests and fault injection.
 *
 * This module owns {@linkcode SeededRandom} only. It is not for anything secret (node ids that
 * must be unguessable, keys, nonces): use `node:crypto` for those. It does no I/O.
 *
 * @module
 */

/**
 * A deterministic pseudo-random generator (sfc32, seeded through splitmix32).
 *
 * The same seed always yields the same sequence, on every runtime, so a failing random test can
 * be replayed from the seed it prints.
 *
 * @example
 * ```ts
 * import { SeededRandom } from "./random.ts";
 * const a = new SeededRandom(42);
 * const b = new SeededRandom(42);
 * console.assert(a.next() === b.next());
 * ```
 */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Creates a generator; any finite number is a valid seed (it is truncated to an integer). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed ${seed}: must be a finite number`);
    const whole = Math.trunc(seed);
    let state = (whole ^ Math.floor(whole / 0x1_0000_0000)) >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    for (let i = 0; i < 12; i++) this.#step();
  }

  #step(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.#step() / 0x1_0000_0000;
  }

  /** A whole number in [0, n); `n` must be a positive integer. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`int(${n}): n must be a positive integer`);
    }
    return Math.floor(this.next() * n);
  }

  /** True with probability `p` (0 never, 1 always); always consumes one draw. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * A copy of `items` in a uniformly random order (Fisher-Yates): always the same draws for the
   * same length, unlike `sort` with a random comparator, whose number of calls the engine decides.
   */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** One element of a non-empty array, chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick() needs a non-empty array");
    return items[this.int(items.length)];
  }
}
