/**
 * Finding servers: the ask-and-collect step that chat clients and probes run before anything
 * else. It multicasts `discover` (and unicasts it to `--peers` seeds), repeats with exponential
 * backoff in case a datagram is lost, and collects the `discover-reply` answers with their
 * round-trip times.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import type { DiscoverReplyBody } from "../wire/messages.ts";
import type { Endpoint } from "./endpoint.ts";

/** A server that answered discovery. */
export interface DiscoveredServer {
  /** Server id. */
  id: string;
  /** Its incarnation (as its answer carried it). */
  incarnation: number;
  /** Its unicast reply address. */
  address: Address;
  /** Its answer. */
  reply: DiscoverReplyBody;
  /** Round trip of the first answer (ms). */
  rttMs: number;
}

/** How long and how often to ask. */
export interface DiscoveryOptions {
  /** Total time to collect answers (ms). */
  timeoutMs: number;
  /** How many discover requests to send (backoff doubles from 100 ms). */
  attempts: number;
  /** Stop early once this many servers answered (default: collect until the timeout). */
  enough?: number;
  /**
   * Stop this long after the first answer, with whoever answered by then (default: collect until
   * `enough` answered or the timeout), so that a cluster smaller than `enough` is not waited on
   * for the whole timeout.
   */
  settleMs?: number;
}

/** First retry delay; each later one doubles. */
const FIRST_RETRY_MS = 100;

/** Asks the group and the seeds who is there and collects the answers. */
export function discoverServers(
  endpoint: Endpoint,
  options: DiscoveryOptions,
): Promise<DiscoveredServer[]> {
  const found = new Map<string, DiscoveredServer>();
  const sentAt = new Map<number, number>();
  const timers: ReturnType<typeof setTimeout>[] = [];
  const nonceBase = Math.floor(Math.random() * 1e9);
  return new Promise((resolve) => {
    const finish = () => {
      for (const timer of timers) clearTimeout(timer);
      unsubscribe();
      resolve([...found.values()].sort((a, b) => a.id.localeCompare(b.id)));
    };
    const unsubscribe = endpoint.onEnvelope(({ sender, body }) => {
      if (body.kind !== "discover-reply" || sender.role !== "server") return;
      const started = sentAt.get(body.nonce);
      if (started === undefined || found.has(sender.id)) return;
      found.set(sender.id, {
        id: sender.id,
        incarnation: sender.incarnation,
        address: sender.addr,
        reply: body,
        rttMs: performance.now() - started,
      });
      if (options.enough !== undefined && found.size >= options.enough) finish();
      else if (options.settleMs !== undefined && found.size === 1) {
        timers.push(setTimeout(finish, options.settleMs));
      }
    });
    let delay = 0;
    for (let attempt = 0; attempt < options.attempts; attempt++) {
      const nonce = nonceBase + attempt;
      timers.push(setTimeout(() => {
        sentAt.set(nonce, performance.now());
        endpoint.broadcast({ kind: "discover", nonce });
      }, delay));
      delay = delay === 0 ? FIRST_RETRY_MS : delay * 2;
      if (delay >= options.timeoutMs) break;
    }
    timers.push(setTimeout(finish, options.timeoutMs));
  });
}
