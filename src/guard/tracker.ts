/**
 * Misbehaving members: judges authenticated senders whose datagrams no honest dsys process sends
 * (`flood`, `invalid`, `contradiction`) and ignores each offender for `coolOffMs` from its
 * offence, reporting an offence only when a cool-off starts, so the runtime logs one line per
 * offender per period. It owns each sender's token bucket and stated role and priority; it must
 * not judge what a message says (terms, leaders: those are the protocol's) and reads no clock
 * (the caller passes the monotonic time in milliseconds). Which offences there are, why honest
 * recovery never trips them and what is deliberately not one: docs/security.md, "Misbehaving
 * members".
 *
 * @module
 */

import { type Kind, MESSAGE_KINDS, type Role, type Sender } from "../wire/messages.ts";
import { TokenBucket } from "./bucket.ts";

/** Why a sender is ignored. */
export type Misbehaviour = "flood" | "invalid" | "contradiction";

/** Every {@linkcode Misbehaviour}, in the order the guard checks for them. */
export const MISBEHAVIOURS: readonly Misbehaviour[] = ["flood", "invalid", "contradiction"];

/** What a {@linkcode MemberGuard} needs. */
export interface MemberGuardOptions {
  /** Datagrams per second one sender may sustain. */
  ratePerSecond: number;
  /** Datagrams one sender may send at once. */
  burst: number;
  /** How long an offender is ignored (ms). */
  coolOffMs: number;
  /** Senders tracked at most; the least recently heard is forgotten beyond this. */
  maxSenders: number;
}

/** What the guard is shown of one authenticated datagram. */
export interface Observed {
  /** The authenticated sender. */
  sender: Pick<Sender, "id" | "incarnation" | "role">;
  /** The body (its kind, and `priority` where the kind carries one). */
  body: { kind: Kind; priority?: number };
}

/** A sender that just began a cool-off. */
export interface Offence {
  /** The offender's id. */
  id: string;
  /** What it did. */
  reason: Misbehaviour;
  /** In words, for the log. */
  detail: string;
  /** Until when it is ignored (ms, the caller's clock). */
  until: number;
}

/** The guard's answer for one datagram. */
export interface GuardVerdict {
  /** Whether the datagram may reach the protocol cores. */
  admit: boolean;
  /** Set when this datagram started a cool-off (log it). */
  offence?: Offence;
}

/** Counters of a {@linkcode MemberGuard}. */
export interface GuardStats {
  /** Cool-offs started, by reason. */
  misbehaviour: Record<Misbehaviour, number>;
  /** Datagrams dropped because their sender was cooling off (offending ones included). */
  ignored: number;
  /** Senders cooling off now. */
  ignoring: number;
}

/** True when a process of `role` may send `kind` (its `from` in {@linkcode MESSAGE_KINDS}). */
export function roleSends(role: Role, kind: Kind): boolean {
  const sender = MESSAGE_KINDS[kind].from;
  return sender === "any" || sender === role;
}

interface SenderState {
  bucket: TokenBucket;
  incarnation: number;
  role: Role;
  priority: number | undefined;
  until: number;
}

/** Judges authenticated datagrams per sender id and ignores offenders for a while. */
export class MemberGuard {
  readonly #o: MemberGuardOptions;
  /** Map order is recency order: the first entry is the least recently heard sender. */
  readonly #senders = new Map<string, SenderState>();
  readonly #counts = Object.fromEntries(MISBEHAVIOURS.map((m) => [m, 0])) as Record<
    Misbehaviour,
    number
  >;
  #ignored = 0;

  /** Creates a guard; throws a `RangeError` for a non-positive bound. */
  constructor(options: MemberGuardOptions) {
    for (const name of ["ratePerSecond", "burst", "coolOffMs", "maxSenders"] as const) {
      if (!(options[name] >= 1)) {
        throw new RangeError(`member guard ${name} ${options[name]}: must be at least 1`);
      }
    }
    this.#o = options;
  }

  /** Judges one authenticated datagram at `now` (ms, monotonic). */
  judge(datagram: Observed, now: number): GuardVerdict {
    const { sender, body } = datagram;
    const state = this.#track(sender, now);
    if (now < state.until) {
      this.#ignored++;
      return { admit: false };
    }
    if (state.bucket.take(1, now) === 0) {
      const { ratePerSecond, burst } = this.#o;
      return this.#offend(
        sender.id,
        state,
        "flood",
        `above ${ratePerSecond}/s (burst ${burst})`,
        now,
      );
    }
    if (!roleSends(sender.role, body.kind)) {
      return this.#offend(sender.id, state, "invalid", `a ${sender.role} sent ${body.kind}`, now);
    }
    if (sender.incarnation === state.incarnation) {
      if (sender.role !== state.role) {
        const detail =
          `role ${sender.role} after ${state.role} in incarnation ${state.incarnation}`;
        return this.#offend(sender.id, state, "contradiction", detail, now);
      }
      const priority = body.priority;
      if (priority !== undefined && state.priority !== undefined && priority !== state.priority) {
        const detail = `priority ${priority} after ${state.priority} in incarnation ` +
          `${state.incarnation}`;
        return this.#offend(sender.id, state, "contradiction", detail, now);
      }
      if (priority !== undefined) state.priority = priority;
    }
    return { admit: true };
  }

  /** The counters at `now` (ms, monotonic). */
  stats(now: number): GuardStats {
    let ignoring = 0;
    for (const state of this.#senders.values()) if (now < state.until) ignoring++;
    return { misbehaviour: { ...this.#counts }, ignored: this.#ignored, ignoring };
  }

  #offend(
    id: string,
    state: SenderState,
    reason: Misbehaviour,
    detail: string,
    now: number,
  ): GuardVerdict {
    state.until = now + this.#o.coolOffMs;
    this.#counts[reason]++;
    this.#ignored++;
    return { admit: false, offence: { id, reason, detail, until: state.until } };
  }

  /**
   * The state of `sender`, most recently heard now. A newer incarnation keeps the bucket and any
   * cool-off (they belong to the id) but forgets what the old incarnation stated.
   */
  #track(sender: Observed["sender"], now: number): SenderState {
    let state = this.#senders.get(sender.id);
    if (state) {
      this.#senders.delete(sender.id);
      if (sender.incarnation > state.incarnation) {
        state.incarnation = sender.incarnation;
        state.role = sender.role;
        state.priority = undefined;
      }
    } else {
      state = {
        bucket: new TokenBucket(this.#o, now),
        incarnation: sender.incarnation,
        role: sender.role,
        priority: undefined,
        until: -Infinity,
      };
    }
    this.#senders.set(sender.id, state);
    if (this.#senders.size > this.#o.maxSenders) {
      this.#senders.delete(this.#senders.keys().next().value!);
    }
    return state;
  }
}
