/**
 * Running dsys inside lab hosts: which launcher a transport uses, and starting a dsys process
 * in a host's namespace with the shared test helpers (`tests/helpers/process.ts`), so lab
 * tests get the same JSON-log waiting and cleanup as every other test.
 *
 * @module
 */

import {
  type DsysProcess,
  type Launcher,
  LAUNCHERS,
  spawnDsys,
  type SpawnOptions,
} from "../helpers/process.ts";
import type { LabHost } from "./harness.ts";

/** The two transports dsys can run on. */
export type TransportName = "deno" | "node";

/**
 * The launcher that exercises `transport`: the source under Deno for `deno`; for `node` the
 * built single executable, or the Node bundle when the executable is absent.
 */
export function launcherFor(transport: TransportName): Launcher {
  if (transport === "deno") return LAUNCHERS.source;
  try {
    Deno.statSync(LAUNCHERS.binary.command);
    return LAUNCHERS.binary;
  } catch {
    return LAUNCHERS.bundle;
  }
}

/** `launcher`, run inside `host`'s namespace through `ip netns exec` (which execs it). */
export function inHost(host: LabHost, launcher: Launcher): Launcher {
  return {
    name: `${launcher.name} on ${host.name}`,
    command: "ip",
    prefix: ["netns", "exec", host.ns, launcher.command, ...launcher.prefix],
    requires: launcher.requires,
  };
}

/**
 * Starts dsys with `args` on `host` using `transport` (`DSYS_TRANSPORT` is set to match), and
 * lets the host track it for its signals and for the lab's cleanup.
 */
export function spawnDsysOn(
  host: LabHost,
  transport: TransportName,
  args: string[],
  options: SpawnOptions = {},
): DsysProcess {
  const launcher = inHost(host, launcherFor(transport));
  return host.adopt(spawnDsys(launcher, args, {
    label: host.name,
    ...options,
    env: { DSYS_TRANSPORT: transport, ...options.env },
    allowNonLoopback: true,
  }));
}
