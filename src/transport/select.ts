/**
 * Chooses and opens the socket transport for this runtime.
 *
 * This module owns the choice between the native Deno transport and `node:dgram`: an explicit
 * kind, else native Deno where available, else `node:dgram`. It does not pick interfaces, and
 * reads no setting: the CLI turns `DSYS_TRANSPORT` into a kind (`cmd/transport.ts`).
 *
 * @module
 */

import { denoDatagramAvailable, openDenoTransport } from "./deno_transport.ts";
import { openNodeTransport } from "./node_transport.ts";
import { type Transport, TransportError, type TransportOptions } from "./types.ts";

/** The socket transports {@linkcode openTransport} can open. */
export type SocketTransportKind = "deno" | "node";

/**
 * Which transport {@linkcode openTransport} opens for `kind`: that one, or native Deno where it
 * is available and `node:dgram` elsewhere. Throws a `TransportError` when `deno` is asked for
 * where it is not available.
 */
export function chooseTransportKind(kind?: SocketTransportKind): SocketTransportKind {
  const chosen = kind ?? (denoDatagramAvailable() ? "deno" : "node");
  if (chosen === "deno" && !denoDatagramAvailable()) {
    throw new TransportError(
      "the deno transport is not available here: it needs Deno run with --unstable-net",
    );
  }
  return chosen;
}

/** Opens the transport chosen by {@linkcode chooseTransportKind}. */
export function openTransport(
  options: TransportOptions,
  kind?: SocketTransportKind,
): Promise<Transport> {
  return chooseTransportKind(kind) === "deno"
    ? openDenoTransport(options)
    : openNodeTransport(options);
}
