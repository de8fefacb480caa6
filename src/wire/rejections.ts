/**
 * Why a datagram was rejected, and a counter per reason.
 *
 * This module owns the list of rejection reasons and their counters. It knows nothing of the
 * byte layout (`codec.ts`) or of keys (`keyring.ts`); the codec counts, others only read.
 *
 * @module
 */

/**
 * Why the codec rejected a datagram. "bad-tag" also covers a body that does not decrypt;
 * "misdirected" is an authentic unicast datagram bound to another receiver (a replayed copy).
 */
export type RejectReason =
  | "too-large"
  | "bad-magic"
  | "bad-version"
  | "malformed"
  | "wrong-cluster"
  | "unknown-key"
  | "bad-tag"
  | "misdirected"
  | "replayed"
  | "too-old";

/** Every rejection reason, in the order the codec checks for them. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "too-large",
  "bad-magic",
  "bad-version",
  "malformed",
  "wrong-cluster",
  "unknown-key",
  "bad-tag",
  "misdirected",
  "replayed",
  "too-old",
];

/** One counter per {@linkcode RejectReason}, all starting at zero. */
export class RejectionCounters {
  #counts = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;

  /** Adds one rejection for `reason`. */
  count(reason: RejectReason): void {
    this.#counts[reason] += 1;
  }

  /** How many datagrams were rejected for `reason`. */
  get(reason: RejectReason): number {
    return this.#counts[reason];
  }

  /** How many datagrams were rejected for any reason. */
  total(): number {
    return REJECT_REASONS.reduce((sum, reason) => sum + this.#counts[reason], 0);
  }

  /** A copy of every counter. */
  snapshot(): Record<RejectReason, number> {
    return { ...this.#counts };
  }
}
