/**
 * Replay protection: rejects a datagram seen before or too old to judge.
 *
 * This module owns the per-sender sliding windows (the anti-replay window of IPsec, RFC 4303
 * §3.4.3, as a ring bitmap). It must only be fed datagrams whose tag verified, so that forged
 * datagrams cannot move a window or evict a real sender. It knows nothing of bytes or keys.
 *
 * @module
 */

import { STATIC_LIMITS, type WireLimits } from "./messages.ts";

/** What the guard needs to know. */
export interface ReplayGuardOptions {
  /** How many sequence numbers below the highest seen are still accepted once. */
  window: number;
  /** How many senders are tracked; the least recently heard is forgotten beyond this. */
  maxSenders: number;
  /** How far a datagram's timestamp may be from the receiver's clock (ms). */
  maxClockSkewMs: number;
}

/** The guard's verdict on one datagram. */
export type ReplayVerdict = "ok" | "replayed" | "too-old";

interface SenderWindow {
  incarnation: number;
  /** Highest sequence number accepted in this incarnation. */
  top: number;
  /** The sender's timestamp on that datagram. */
  topTs: number;
  /** Bit `seq % window` is set when `seq` (within the window below `top`) was accepted. */
  seen: Uint32Array;
}

/** Tracks, per sender id, which recent sequence numbers were already accepted. */
export class ReplayGuard {
  #window: number;
  #maxSenders: number;
  #maxClockSkewMs: number;
  /** Map order is recency order: the first entry is the least recently heard sender. */
  #senders = new Map<string, SenderWindow>();

  /** Creates a guard; throws a `RangeError` for a non-positive window or sender bound. */
  constructor(opts: ReplayGuardOptions) {
    checkPositiveInt("window", opts.window);
    checkPositiveInt("maxSenders", opts.maxSenders);
    if (!(opts.maxClockSkewMs >= 0)) {
      throw new RangeError(`replay guard maxClockSkewMs ${opts.maxClockSkewMs}: must be >= 0`);
    }
    this.#window = opts.window;
    this.#maxSenders = opts.maxSenders;
    this.#maxClockSkewMs = opts.maxClockSkewMs;
  }

  /** How many senders are tracked now. */
  get size(): number {
    return this.#senders.size;
  }

  /**
   * What a datagram decoded at `nowWallMs` may carry: no incarnation and no term beyond this clock
   * plus the skew bound (see `WireLimits`).
   */
  limits(nowWallMs: number): WireLimits {
    const clock = nowWallMs + this.#maxClockSkewMs;
    return {
      maxIncarnation: Math.min(STATIC_LIMITS.maxIncarnation, clock),
      maxTerm: Math.min(STATIC_LIMITS.maxTerm, clock),
    };
  }

  /**
   * Judges one authenticated datagram and, when it is accepted, remembers it.
   * A timestamp further than the allowed skew from `nowWallMs`, an incarnation below the
   * highest seen or beyond {@linkcode ReplayGuard.limits}, or a sequence number below the window are "too-old"; a sequence number
   * already accepted is "replayed". A higher incarnation starts a fresh window.
   */
  check(
    senderId: string,
    incarnation: number,
    seq: number,
    ts: number,
    nowWallMs: number,
  ): ReplayVerdict {
    if (!(Math.abs(ts - nowWallMs) <= this.#maxClockSkewMs)) return "too-old";
    if (!(incarnation <= this.limits(nowWallMs).maxIncarnation)) return "too-old";
    const known = this.#senders.get(senderId);
    if (known && incarnation < known.incarnation) return "too-old";
    if (!known || incarnation > known.incarnation) {
      this.#track(senderId, this.#fresh(incarnation, seq, ts));
      return "ok";
    }
    const verdict = this.#slide(known, seq, ts);
    if (verdict === "ok") this.#track(senderId, known);
    return verdict;
  }

  #fresh(incarnation: number, seq: number, ts: number): SenderWindow {
    const seen = new Uint32Array(Math.ceil(this.#window / 32));
    const state = { incarnation, top: seq, topTs: ts, seen };
    this.#mark(state, seq, true);
    return state;
  }

  /**
   * Moves the window. A sequence number below it is "too-old" unless its timestamp is later than
   * that of the window's top: a sender's timestamps grow with its sequence numbers, so that top
   * was forged (open clusters: anyone can sign) and the window starts again at `seq`, lest one
   * forged sequence number silence the sender for the rest of its incarnation.
   */
  #slide(state: SenderWindow, seq: number, ts: number): ReplayVerdict {
    const ahead = seq - state.top;
    if (ahead > 0 || (-ahead >= this.#window && ts > state.topTs)) {
      if (Math.abs(ahead) >= this.#window) state.seen.fill(0);
      else for (let s = state.top + 1; s < seq; s++) this.#mark(state, s, false);
      state.top = seq;
      state.topTs = ts;
      this.#mark(state, seq, true);
      return "ok";
    }
    if (-ahead >= this.#window) return "too-old";
    if (this.#isMarked(state, seq)) return "replayed";
    this.#mark(state, seq, true);
    return "ok";
  }

  #isMarked(state: SenderWindow, seq: number): boolean {
    const bit = seq % this.#window;
    return (state.seen[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  #mark(state: SenderWindow, seq: number, seen: boolean): void {
    const bit = seq % this.#window;
    if (seen) state.seen[bit >>> 5] |= 1 << (bit & 31);
    else state.seen[bit >>> 5] &= ~(1 << (bit & 31));
  }

  /** Makes `senderId` the most recently heard sender, forgetting the least recent if full. */
  #track(senderId: string, state: SenderWindow): void {
    this.#senders.delete(senderId);
    this.#senders.set(senderId, state);
    if (this.#senders.size > this.#maxSenders) {
      const oldest = this.#senders.keys().next();
      if (!oldest.done) this.#senders.delete(oldest.value);
    }
  }
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`replay guard ${name} ${value}: must be a positive whole number`);
  }
}
