/**
 * The traffic counters every transport keeps, behind one small class.
 *
 * This module owns {@linkcode TransportCounters} only: the counts, and the sends still in flight
 * (so that `close()` can wait until a final datagram, such as a `leave`, has left). Each
 * transport decides when a datagram counts as sent, received or refused. No I/O.
 *
 * @module
 */

import type dgram from "node:dgram";
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
  #inflight = 0;
  #drained: (() => void) | undefined;

  /** Notes a send handed to the socket whose outcome is not known yet. */
  begin(): void {
    this.#inflight++;
  }

  /** Ends a send begun with {@linkcode begin}: `bytes` sent, or -1 when the socket refused it. */
  settle(bytes: number): void {
    if (bytes < 0) this.sendError();
    else this.sent(bytes);
    if (--this.#inflight === 0) this.#drained?.();
  }

  /** Resolves once no send is in flight. */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

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

/** Closes a `node:dgram` socket, resolving once it is closed (or at once if it already was). */
export function closeDgramSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
