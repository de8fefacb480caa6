/**
 * Chooses and opens the socket transport for this runtime.
 *
 * This module owns the choice between the native Deno transport and `node:dgram`: an explicit
 * kind, else the `DSYS_TRANSPORT` environment variable, else native Deno where available, else
 * `node:dgram`. It does not pick interfaces or read any other setting.
 *
 * @module
 */

import process from "node:process";
import { denoDatagramAvailable, openDenoTransport } from "./deno_transport.ts";
import { openNodeTransport } from "./node_transport.ts";
import { type Transport, TransportError, type TransportOptions } from "./types.ts";

/** The socket transports {@linkcode openTransport} can open. */
export type SocketTransportKind = "deno" | "node";

/**
 * Which transport {@linkcode openTransport} opens for `kind`; `readEnv` (read only when no kind
 * is given) returns the `DSYS_TRANSPORT` setting.
 */
export function chooseTransportKind(
  kind?: SocketTransportKind,
  readEnv: () => string | undefined = () => process.env.DSYS_TRANSPORT,
): SocketTransportKind {
  let chosen = kind;
  const env = chosen === undefined ? readEnv() : undefined;
  if (env !== undefined && env !== "") {
    if (env !== "deno" && env !== "node") {
      throw new TransportError(`DSYS_TRANSPORT="${env}": use "deno" or "node"`);
    }
    chosen = env;
  }
  chosen ??= denoDatagramAvailable() ? "deno" : "node";
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
