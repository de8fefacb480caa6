/**
 * The sockets the CLI hands to its runtimes, shaped by two hidden settings read here and nowhere
 * else: `DSYS_TRANSPORT` (`deno` or `node`) picks the socket API, and `DSYS_FAULTS` (a fault spec
 * such as `drop=0.1,seed=7`, see `parseFaultSpec`) wraps the sockets in injected faults, for
 * tests of the real binary. The runtimes in `src/` read no environment variable: they take the
 * opener built here.
 *
 * @module
 */

import process from "node:process";
import { logger } from "../src/log/mod.ts";
import { parseFaultSpec, withFaults } from "../src/transport/faulty_transport.ts";
import { openTransport, type SocketTransportKind } from "../src/transport/select.ts";
import { type SocketOpener, TransportError } from "../src/transport/types.ts";

const log = logger("net");

/**
 * The socket API that a `DSYS_TRANSPORT` value names; undefined (the runtime's best) when unset
 * or empty. Throws a `TransportError` for any other value.
 */
export function transportKindFrom(value: string | undefined): SocketTransportKind | undefined {
  if (value === undefined || value === "") return undefined;
  if (value !== "deno" && value !== "node") {
    throw new TransportError(`DSYS_TRANSPORT="${value}": use "deno" or "node"`);
  }
  return value;
}

/**
 * Composes the CLI's sockets from `env`: the socket API `DSYS_TRANSPORT` names, opened on the
 * interfaces the runtime chose, wrapped in the faults of `DSYS_FAULTS` when it is set (seeded by
 * its `seed`, else the clock). Throws a `TransportError` for a bad `DSYS_TRANSPORT` and a
 * `FaultSpecError` for a bad `DSYS_FAULTS`, before anything is opened.
 */
export function socketOpener(
  env: Record<string, string | undefined> = process.env,
): SocketOpener {
  const kind = transportKindFrom(env.DSYS_TRANSPORT);
  const faults = env.DSYS_FAULTS;
  const spec = faults ? parseFaultSpec(faults) : undefined;
  return async (options) => {
    const sockets = await openTransport(options, kind);
    if (spec === undefined) return sockets;
    log.warn("fault injection on: {faults}", { event: "faults", faults });
    return withFaults(sockets, spec, spec.seed ?? Date.now());
  };
}
