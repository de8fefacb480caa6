/**
 * The traffic counters every transport keeps, behind one small class.
 *
 * This module owns {@linkcode TransportCounters} only; each transport decides when a datagram
 * counts as sent, received or refused. No I/O.
 *
 * @module
 */

import type { TransportStats } from "./types.ts";

/** Mutable counters that produce {@linkcode TransportStats} snapshots. */
export class TransportCounters {
  #stats: TransportStats = {
    sentDatagrams: 0,
    sentBytes: 0,
    receivedDatagrams: 0,
    receivedBytes: 0,
    sendErrors: 0,
  };

  /** Counts one datagram the socket accepted for sending. */
  sent(bytes: number): void {
    this.#stats.sentDatagrams++;
    this.#stats.sentBytes += bytes;
  }

  /** Counts one datagram delivered to the receive handler. */
  received(bytes: number): void {
    this.#stats.receivedDatagrams++;
    this.#stats.receivedBytes += bytes;
  }

  /** Counts one send the socket refused (or that was refused before reaching it). */
  sendError(): void {
    this.#stats.sendErrors++;
  }

  /** A copy of the counters. */
  snapshot(): TransportStats {
    return { ...this.#stats };
  }
}
