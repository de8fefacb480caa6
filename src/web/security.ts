/**
 * Who may use the browser chat, as pure functions: the invite token derived from the cluster
 * secret, the owner token a page's own random secret becomes, and the Origin check.
 *
 * The token is an HMAC of the cluster name under the secret, so it proves the invite came from
 * someone holding the secret without revealing it, and one cluster's token opens no other. A
 * cluster without a secret needs no token (anyone on the LAN can join it with `dsys chat` too).
 *
 * @module
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * The invite token of `cluster` under `secret` (32 hex digits).
 *
 * @example
 * ```ts
 * import { webToken } from "./security.ts";
 * console.assert(webToken("s3cret", "dsys").length === 32);
 * ```
 */
export function webToken(secret: string, cluster: string): string {
  return createHmac("sha256", secret).update(`dsys web invite\0${cluster}`).digest("hex")
    .slice(0, 32);
}

/**
 * True when `token` opens the chat: always without secrets, else when it is the token of one of
 * `secrets` (the keyring: a token of a retiring secret still works), compared in constant time.
 */
export function tokenAllows(
  secrets: readonly string[],
  cluster: string,
  token: string | null | undefined,
): boolean {
  if (secrets.length === 0) return true;
  if (typeof token !== "string" || !/^[0-9a-f]{32}$/.test(token)) return false;
  const given = new TextEncoder().encode(token);
  return secrets.some((secret) =>
    timingSafeEqual(new TextEncoder().encode(webToken(secret, cluster)), given)
  );
}

/**
 * The owner token (see `ChatJoinBody.owner`) of a page: its random secret, kept in the
 * browser, hashed with the cluster and user, so a page that reloads or moves to another server
 * takes its name back at once while another browser's claim is still refused.
 */
export function pageOwner(pageSecret: string, cluster: string, user: string): string {
  return createHash("sha256").update(`dsys web owner\0${cluster}\0${user}\0${pageSecret}`)
    .digest("hex").slice(0, 32);
}

/**
 * True when a request's `Origin` may use the chat: none (not a browser's cross-site request),
 * the server's own (`http://` + the `Host` the request named), or one of `peers` (the other
 * servers' pages, which a page moves to when its server dies).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  peers: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (host !== undefined && origin === `http://${host}`) return true;
  return peers.includes(origin);
}
