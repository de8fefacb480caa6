/**
 * Membership: the group view (who is in the group, in which state), failure detection, and the
 * events and actions they produce. Pure state machines: no I/O, no timers, no clock.
 *
 * This module only re-exports `events.ts` (view and event shapes), `outbox.ts` (actions),
 * `table.ts` (member records, view number), `detector.ts` (suspect, verify, declare dead) and
 * `split.ts` (partitions: split and healed).
 * Leadership is `../election/`'s; the server core (`core.ts`, `ServerCore`, imported directly)
 * wires both together.
 *
 * @module
 */

export * from "./events.ts";
export * from "./outbox.ts";
export * from "./table.ts";
export * from "./detector.ts";
export * from "./split.ts";
