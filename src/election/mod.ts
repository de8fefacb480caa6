/**
 * Leader election: the Bully algorithm with terms, and the one order it ranks servers by.
 * A pure state machine: no I/O, no timers, no clock; membership comes from `../membership/`.
 *
 * This module only re-exports `order.ts` (`compareOrder`) and `bully.ts` (the election).
 *
 * @module
 */

export * from "./order.ts";
export * from "./bully.ts";
