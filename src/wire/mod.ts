/**
 * The wire: every message kind, the byte layout, authentication and replay protection.
 *
 * This module only re-exports `messages.ts` (what messages mean), `codec.ts` (bytes and tags),
 * `keyring.ts` (keys), `replay.ts` (replay windows) and `rejections.ts` (rejection counters).
 * Other layers import the wire from here.
 *
 * @module
 */

export * from "./messages.ts";
export * from "./codec.ts";
export * from "./keyring.ts";
export * from "./replay.ts";
export * from "./rejections.ts";
