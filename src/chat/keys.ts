/**
 * Names in the chat layer: the session key that identifies one client process, message ids, and
 * which user names are acceptable.
 *
 * @module
 */

import { MAX_USER_NAME, type Sender } from "../wire/messages.ts";

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

/** The id of a client's line: unique in the cluster, the same on every retry. */
export function messageId(client: string, cseq: number): string {
  return `${client}/${cseq}`;
}

const USER_NAME = /^[\p{L}\p{N}._-]+$/u;

/**
 * True for an acceptable user name: letters, digits, '.', '_' or '-', 1 to `MAX_USER_NAME` long
 * in UTF-16 units, as the wire counts (a letter outside the BMP counts 2).
 */
export function isUserName(name: string): boolean {
  return name.length <= MAX_USER_NAME && USER_NAME.test(name);
}
