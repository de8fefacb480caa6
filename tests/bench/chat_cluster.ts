/**
 * The chat benchmark's cluster: three `dsys serve` processes on loopback (from the source under
 * Deno, or the Node bundle under Node), the configuration in-process clients use to reach them,
 * and the resident memory of each server process.
 *
 * @module
 */

import type { Config } from "../../src/config/mod.ts";
import type { SocketTransportKind } from "../../src/transport/select.ts";
import {
  assertLauncherReady,
  type DsysProcess,
  LAUNCHERS,
  spawnDsys,
  testNetwork,
} from "../helpers/process.ts";
import { BENCH_SECRET, clientConfig } from "./chat_load.ts";

/** Three running servers that agreed on a leader. */
export interface Cluster {
  /** The server processes, priority 1, 2, 3 (`s3` leads). */
  servers: DsysProcess[];
  /** Configuration for in-process clients of this cluster (loopback only). */
  config: Config;
  /** How the servers were started, e.g. `node dist/dsys.mjs`. */
  launcher: string;
}

/**
 * Starts three servers with `kind`'s launcher and waits until all three follow `s3`;
 * `serverArgs(id)` adds flags to server `id`'s command line (e.g. its `--data-dir`).
 */
export async function startCluster(
  kind: SocketTransportKind,
  serverArgs: (id: string) => string[] = () => [],
): Promise<Cluster> {
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
        "--secret",
        BENCH_SECRET,
        "--log-json",
        ...serverArgs(`s${priority}`),
      ], { label: `s${priority}`, env: { DSYS_TRANSPORT: kind } }));
    }
    await Promise.all(
      servers.map((s) => s.waitForEvent("leader-changed", { leader: "s3" }, { timeoutMs: 30_000 })),
    );
  } catch (error) {
    await stopCluster(servers);
    throw error;
  }
  const config = clientConfig({
    iface: "lo",
    group: net.group,
    port: net.port,
    cluster: net.cluster,
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
