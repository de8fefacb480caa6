/**
 * The Bully order: which of two servers ranks higher. Every comparison of servers in dsys goes
 * through {@linkcode compareOrder}, so the rule lives in exactly one place.
 *
 * @module
 */

/** The two things the Bully order looks at. */
export interface Ranked {
  /** Bully priority (`--priority`, default 0). */
  priority: number;
  /** Node id, unique in the cluster. */
  id: string;
}

/**
 * Compares two servers in the Bully order: the higher priority ranks higher; between equal
 * priorities the greater id (compared by UTF-16 code units, as `<` compares strings) ranks
 * higher. Ids are unique, so two distinct servers never tie.
 *
 * Returns a positive number when `a` ranks above `b`, a negative one when below, 0 when both
 * are the same server; sorting with it puts the highest-ordered server last.
 *
 * @example
 * ```ts
 * import { compareOrder } from "./order.ts";
 * console.assert(compareOrder({ priority: 1, id: "a" }, { priority: 0, id: "z" }) > 0);
 * console.assert(compareOrder({ priority: 0, id: "a" }, { priority: 0, id: "b" }) < 0);
 * ```
 */
export function compareOrder(a: Ranked, b: Ranked): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? 1 : -1;
  if (a.id === b.id) return 0;
  return a.id > b.id ? 1 : -1;
}

/** True when `a` ranks strictly above `b` in the Bully order. */
export function outranks(a: Ranked, b: Ranked): boolean {
  return compareOrder(a, b) > 0;
}
