/**
 * The chat benchmark's cluster: three `dsys serve` processes on loopback (from the source under
 * Deno, or the Node bundle under Node), the configuration in-process clients use to reach them,
 * and the resident memory of each server process.
 *
 * @module
 */

import { type Config, resolveConfig } from "../../src/config/mod.ts";
import type { SocketTransportKind } from "../../src/transport/select.ts";
import {
  assertLauncherReady,
  type DsysProcess,
  LAUNCHERS,
  spawnDsys,
  testNetwork,
} from "../helpers/process.ts";

/** Three running servers that agreed on a leader. */
export interface Cluster {
  /** The server processes, priority 1, 2, 3 (`s3` leads). */
  servers: DsysProcess[];
  /** Configuration for in-process clients of this cluster (loopback only). */
  config: Config;
  /** How the servers were started, e.g. `node dist/dsys.mjs`. */
  launcher: string;
}

/** Starts three servers with `kind`'s launcher and waits until all three follow `s3`. */
export async function startCluster(kind: SocketTransportKind): Promise<Cluster> {
  const launcher = kind === "deno" ? LAUNCHERS.source : LAUNCHERS.bundle;
  assertLauncherReady(launcher);
  const net = testNetwork();
  const servers: DsysProcess[] = [];
  try {
    for (const priority of [1, 2, 3]) {
      servers.push(spawnDsys(launcher, [
        "serve",
        ...net.args,
        "--priority",
        String(priority),
        "--id",
        `s${priority}`,
        "--unicast-port",
        "0",
        "--status-interval",
        "0",
        "--log-json",
      ], { label: `s${priority}`, env: { DSYS_TRANSPORT: kind } }));
    }
    await Promise.all(
      servers.map((s) => s.waitForEvent("leader-changed", { leader: "s3" }, { timeoutMs: 30_000 })),
    );
  } catch (error) {
    await stopCluster(servers);
    throw error;
  }
  const config = resolveConfig({
    network: {
      iface: "lo",
      group: net.group,
      port: net.port,
      cluster: net.cluster,
      unicastPort: 0,
    },
    output: { statusIntervalMs: 0 },
  });
  return { servers, config, launcher: launcher.name };
}

/** Kills every server process and waits for it. */
export async function stopCluster(servers: DsysProcess[]): Promise<void> {
  await Promise.all(servers.map((s) => s.kill()));
}

/** Resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`). */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

/** CPU time (user + system) process `pid` used so far, in seconds (`/proc/PID/stat`). */
export function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** `getconf CLK_TCK` on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;
