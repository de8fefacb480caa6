/**
 * What every protocol's messages share: who sends a datagram ({@linkcode Sender}), the shape of a
 * kind's entry in the table ({@linkcode KindSpec}), the bound of every number a message carries
 * ({@linkcode WIRE_BOUNDS}) and the checks the validators are built from. It knows no message
 * kind; `../messages.ts` puts the protocols' tables together.
 *
 * @module
 */

import type { Address } from "../../transport/types.ts";

/** What kind of process sent a datagram. */
export type Role = "server" | "client" | "probe";

/** The roles in wire order (their index is the role's byte on the wire). */
export const ROLES: readonly Role[] = ["server", "client", "probe"];

/** Who sent a datagram and where to reply (the reply address is in the message, never taken from the socket). */
export interface Sender {
  /** Stable node id (unique in the cluster). */
  id: string;
  /** Grows on every restart (and when a server refutes a suspicion). */
  incarnation: number;
  /** Server, client or probe. */
  role: Role;
  /** Unicast reply address. */
  addr: Address;
}

/**
 * Which layer of a process handles a kind: `discovery` (who is there: every process asks, servers
 * answer), `membership` (the group view and the Bully election, between servers), `chat-server`
 * (what a chat server takes from clients and other servers) or `chat-client` (what a chat client
 * takes from its server).
 */
export type Layer = "discovery" | "membership" | "chat-server" | "chat-client";

/** The key of a {@linkcode ByName} record's value shape (a symbol: never a JSON field name). */
export const ANY_NAME: unique symbol = Symbol("any name");

/** A record whose every key is kept (counts by name), each value of the shape given. */
export interface ByName {
  /** The shape of every value. */
  readonly [ANY_NAME]: Fields;
}

/**
 * The fields a body declares, at every depth: `true` a number, string or boolean kept as it is;
 * a record naming each declared field; `[shape]` an array whose every item has that shape; or
 * {@linkcode byName}`(shape)`. The decoder keeps only what is declared (`../declared.ts`).
 */
export type Fields = true | { readonly [field: string]: Fields } | readonly [Fields] | ByName;

/** A record of any keys (counts by name), each value of `shape`. */
export function byName(shape: Fields): ByName {
  return { [ANY_NAME]: shape };
}

/**
 * Everything about one message kind: its wire code, fields and validator, who may send it, which
 * layer handles it and whether it goes to the multicast group. The guard, the routing in the
 * server node and the server's skip list are read from it, so a new kind decides all of them here.
 */
export interface KindSpec {
  /** The one-byte type code on the wire (never reused). */
  code: number;
  /** The role that sends it, or `any` (discovery, which every process uses and probes answer). */
  from: Role | "any";
  /** The layer that handles it. */
  layer: Layer;
  /** True when it may be sent to the multicast group (so every process there hears it). */
  multicast: boolean;
  /**
   * Every field the body has, optional ones too: the decoder drops the others at every depth
   * before it validates, so a field missing here makes every body that has it invalid.
   */
  fields: { readonly [field: string]: Fields };
  /**
   * True when `fields` (the decoded JSON without `kind`, only its declared fields) is a valid body
   * of this kind; `limits` (default {@linkcode STATIC_LIMITS}) adds what the decoder knows of the
   * time.
   */
  validate(fields: Record<string, unknown>, limits?: WireLimits): boolean;
}

/**
 * The bound of every number a message carries, each in this one place: the decoder refuses a
 * value beyond it, the encoder refuses to send one, and the cores never compute one (they stop
 * at the bound instead). Every bound leaves room below 2^53 for the `+ 1`s and windows the cores
 * add, so arithmetic on an accepted value stays exact.
 */
export const WIRE_BOUNDS = {
  /**
   * Bully and chat terms (one per election): on decode also at most the receiver's clock in ms
   * plus the skew bound (`WireLimits`), so time overtakes a forged term within that skew.
   */
  term: 8.64e15,
  /** Chat positions, line and attachment numbers, commit points: 2^48 lines is centuries of chat. */
  seq: 2 ** 48,
  /** Bully priority (its negation is the least): what `--priority` takes. */
  priority: 2 ** 31 - 1,
  /** Wall-clock times (ms since the epoch): the last instant a JavaScript `Date` can show. */
  wallMs: 8.64e15,
  /** Counts, sizes, view numbers, durations and nonces (either sign): only compared or shown. */
  count: Number.MAX_SAFE_INTEGER,
  /** Entry fingerprints (`entryMark`): 32 bits. */
  mark: 0xffff_ffff,
  /** UDP ports. */
  port: 0xffff,
} as const;

/** The term after `term`, or `term` itself at {@linkcode WIRE_BOUNDS}`.term` (never beyond it). */
export function nextTerm(term: number): number {
  return Math.min(term + 1, WIRE_BOUNDS.term);
}

/**
 * What a decoder knows beyond the fixed bounds: its wall clock plus the clock-skew bound caps
 * incarnations and terms. Incarnations are start times, so a higher one is forged or from a clock
 * far off, and accepting it would make every real datagram of that sender look stale for ever.
 * Terms grow by one per election, far slower than a clock in ms: a forged term beyond the clock
 * would leave no room above it (an election could not outbid it), one within it is overtaken by
 * time.
 */
export interface WireLimits {
  /** The highest incarnation accepted. */
  maxIncarnation: number;
  /** The highest term accepted. */
  maxTerm: number;
}

/** The limits the encoder checks against: only the fixed bounds. */
export const STATIC_LIMITS: WireLimits = {
  maxIncarnation: WIRE_BOUNDS.wallMs,
  maxTerm: WIRE_BOUNDS.term,
};

/** True for a whole number from `min` to `max`: the one check of every number a message carries. */
export function isNum(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** True for a count, size, view number or duration: 0 to {@linkcode WIRE_BOUNDS}`.count`. */
export function isCount(value: unknown): value is number {
  return isNum(value, 0, WIRE_BOUNDS.count);
}

/** Nonces are only echoed: any safe integer. */
export function isNonce(value: unknown): value is number {
  return isNum(value, -WIRE_BOUNDS.count, WIRE_BOUNDS.count);
}

/** True for a term from 0 up to what the decoder accepts (`limits.maxTerm`). */
export function isTerm(value: unknown, l: WireLimits): value is number {
  return isNum(value, 0, l.maxTerm);
}

/** True for a Bully priority (either sign, within {@linkcode WIRE_BOUNDS}`.priority`). */
export function isPriority(value: unknown): value is number {
  return isNum(value, -WIRE_BOUNDS.priority, WIRE_BOUNDS.priority);
}

/** True for a wall-clock time in ms since the epoch. */
export function isWallMs(value: unknown): value is number {
  return isNum(value, 0, WIRE_BOUNDS.wallMs);
}

/** A sequence-like number, 0 meaning none. */
export function isSeqOr0(value: unknown): value is number {
  return isNum(value, 0, WIRE_BOUNDS.seq);
}

/** A position in the order, from 1. */
export function isSeq(value: unknown): value is number {
  return isNum(value, 1, WIRE_BOUNDS.seq);
}

/** The position after one (first missing, first kept, where to resume): one past the last. */
export function isNext(value: unknown): value is number {
  return isNum(value, 0, WIRE_BOUNDS.seq + 1);
}

/** True when `f.from` and `f.to` are positions with `from <= to`. */
export function isSeqRange(f: Record<string, unknown>): boolean {
  return isSeq(f.from) && isSeq(f.to) && f.from <= f.to;
}

/** True for a plain JSON object (not null, not an array). */
export function isRecord(item: unknown): item is Record<string, unknown> {
  return typeof item === "object" && item !== null && !Array.isArray(item);
}

/** True for a node id: at most 128 units, terminal-safe. */
export function isId(value: unknown): value is string {
  return isText(value, 128) && isTerminalSafe(value);
}

/** True for a reply host: at most 255 units, terminal-safe. */
export function isHost(value: unknown): value is string {
  return isText(value, 255) && isTerminalSafe(value);
}

/**
 * Spaces, control characters (C0, DEL, C1) and the invisible, line and bidi controls that could
 * rearrange what an operator's terminal or log shows.
 */
// deno-lint-ignore no-control-regex -- control characters are exactly what it must find
const UNSAFE_NAME_CHARS = /[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

/**
 * True for a non-empty string without spaces or control characters: what node ids and reply hosts
 * must be, since servers print them in logs and status tables as they are.
 */
export function isTerminalSafe(value: string): boolean {
  return value.length > 0 && !UNSAFE_NAME_CHARS.test(value);
}

/** True for a UDP port (1 to 65535). */
export function isPort(value: unknown): value is number {
  return isNum(value, 1, WIRE_BOUNDS.port);
}

/** True for a string of at most `max` UTF-16 units. */
export function isText(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length <= max;
}

/** True for an array whose every item passes `check`, at most `max` long. */
export function isArrayOf<T>(
  value: unknown,
  max: number,
  check: (item: unknown) => item is T,
): value is T[] {
  return Array.isArray(value) && value.length <= max && value.every(check);
}
