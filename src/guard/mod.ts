/**
 * The guard: what a server does about authenticated senders that misbehave, and the token
 * bucket that rate limits both senders and chat clients.
 *
 * This module only re-exports `bucket.ts` (a rate with a burst) and `tracker.ts` (the
 * misbehaviour tracker: flood, invalid, contradiction, and the cooling-off period). Both are
 * pure; the server runtime feeds them and logs what they decide. It must not touch sockets,
 * timers or the protocol cores.
 *
 * @module
 */

export * from "./bucket.ts";
export * from "./tracker.ts";
