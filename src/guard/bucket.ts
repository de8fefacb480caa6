/**
 * A token bucket: a rate with a burst, as a pure value driven by the time it is given.
 *
 * This module owns the arithmetic only: no clock, no timers. Callers pass the monotonic time
 * in milliseconds; a time that goes backwards refills nothing.
 *
 * @module
 */

/** How fast a {@linkcode TokenBucket} refills and how much it holds. */
export interface BucketRate {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens the bucket holds (and holds at first). */
  burst: number;
}

/**
 * Admits up to `burst` units at once and `ratePerSecond` units per second on average.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./bucket.ts";
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2 }, 0);
 * console.assert(bucket.take(3, 0) === 2); // the burst
 * console.assert(bucket.take(1, 50) === 0); // half a token refilled
 * console.assert(bucket.take(1, 100) === 1); // a whole one
 * ```
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /** A full bucket at time `now` (ms); throws a `RangeError` for a non-positive rate or burst. */
  constructor(rate: BucketRate, now: number) {
    if (!(rate.ratePerSecond > 0) || !(rate.burst >= 1)) {
      throw new RangeError(
        `token bucket rate ${rate.ratePerSecond}/s burst ${rate.burst}: both must be positive`,
      );
    }
    this.#perMs = rate.ratePerSecond / 1000;
    this.#burst = rate.burst;
    this.#tokens = rate.burst;
    this.#at = now;
  }

  /** Takes up to `count` whole tokens at time `now` (ms); returns how many it got. */
  take(count: number, now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
    const granted = Math.max(0, Math.min(count, Math.floor(this.#tokens)));
    this.#tokens -= granted;
    return granted;
  }
}
