/**
 * Names in the chat layer: the session key that identifies one client process, message ids, and
 * which user names are acceptable.
 *
 * @module
 */

import { type ChatEntry, MAX_USER_NAME, type Sender } from "../wire/messages.ts";

/**
 * The session key of a client process: its node id and incarnation. A restarted client is a new
 * session (its line numbers start again at 1).
 *
 * @example
 * ```ts
 * import { clientKey } from "./keys.ts";
 * const key = clientKey({ id: "10.0.0.5:5000", incarnation: 7 });
 * console.assert(key === "10.0.0.5:5000~7");
 * ```
 */
export function clientKey(sender: Pick<Sender, "id" | "incarnation">): string {
  return `${sender.id}~${sender.incarnation}`;
}

/** The incarnation in a session key (its start time, ms since the epoch); 0 when it has none. */
export function incarnationOf(key: string): number {
  return Number(key.slice(key.lastIndexOf("~") + 1)) || 0;
}

/**
 * True for an entry that is a client's line (it has the client's line number and counts toward
 * exactly-once): every kind but the leader's presence entries `join` and `leave`.
 */
export function isClientLine(entry: Pick<ChatEntry, "kind">): boolean {
  return entry.kind !== "join" && entry.kind !== "leave";
}

/** The id of a client's line: unique in the cluster, the same on every retry. */
export function messageId(client: string, cseq: number): string {
  return `${client}/${cseq}`;
}

/**
 * The length of a chat line as the user counts it: in characters (Unicode code points), so an
 * emoji counts one, not two UTF-16 units. `ChatConfig.maxTextChars` limits this length.
 */
export function textLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

const USER_NAME = /^[\p{L}\p{N}._-]+$/u;

/**
 * True for an acceptable user name: letters, digits, '.', '_' or '-', 1 to `MAX_USER_NAME` long
 * in UTF-16 units, as the wire counts (a letter outside the BMP counts 2).
 */
export function isUserName(name: string): boolean {
  return name.length <= MAX_USER_NAME && USER_NAME.test(name);
}
