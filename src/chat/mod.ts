/**
 * The chat layer: totally ordered, exactly-once delivery of chat lines through the leader, with
 * replication so that no acknowledged line is lost. Pure state machines: no I/O, no timers, no
 * clock.
 *
 * `chat_server_core.ts` is the server's side (sequencer, replica, attached clients), `client_core.ts`
 * the client's attachment to a server (its receiving side is `client_receive.ts`, its sending side
 * `client_send.ts`); the rest are their parts: `log.ts` (the
 * bounded log), `replica.ts` (log, commit point and what it implies), `recovery.ts` (a new leader's
 * gather, fetch and merge), `leader.ts` (leading: sequence, replicate, stream), `replication.ts`
 * (follower progress), `transfer.ts` (completing a state transfer: the last line of every client),
 * `sequencer.ts` (sender order, duplicates), `directory.ts` (user names), `sessions.ts` (clients of
 * one server and their name leases), `delivery.ts` (sending the log to them), `delivered.ts` (what
 * a client remembers of its deliveries, to re-anchor after a merge), `outbox.ts` (actions and
 * batching), `size.ts` (datagram budgets), and `keys.ts` (session keys, message ids, user names).
 * The tunables are `ChatConfig` in `src/config/mod.ts`.
 *
 * @module
 */

export * from "./keys.ts";
export * from "./chat_server_core.ts";
export * from "./client_core.ts";
