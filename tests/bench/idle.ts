/**
 * The idle benchmark: three `dsys serve` and two `dsys chat` processes on loopback with nothing
 * to say, per runtime (the source under Deno, the bundle under Node). After they settle, the CPU
 * time each process uses over a window (user + system from `/proc/<pid>/stat`) as a share of one
 * core, and its resident memory at the end.
 *
 * `deno run --unstable-net -A tests/bench/idle.ts [--seconds N] [--runtime deno|node]` prints the
 * table; `summary.ts` uses {@linkcode measureIdle} for its table.
 *
 * @module
 */

import {
  assertLauncherReady,
  type DsysProcess,
  LAUNCHERS,
  spawnDsys,
  startServers,
  testNetwork,
} from "../helpers/process.ts";
import { rssKiB } from "./chat_cluster.ts";
import { cpuSeconds } from "./chat_load.ts";

/** Idle cost of one kind of process: the mean and worst of its processes. */
export interface IdleRow {
  /** `deno` or `node`. */
  runtime: string;
  /** `server` or `client`. */
  role: string;
  /** CPU of each process of this role, % of one core. */
  cpuPercent: number[];
  /** Resident memory of each process, MiB. */
  rssMiB: number[];
}

/**
 * Starts 3 servers and 2 clients with `runtime`'s launcher, waits until both clients joined and
 * `settleSeconds` more, then measures `seconds` of idleness.
 */
export async function measureIdle(
  runtime: "deno" | "node",
  seconds: number,
  settleSeconds = 3,
): Promise<IdleRow[]> {
  const launcher = runtime === "deno" ? LAUNCHERS.source : LAUNCHERS.bundle;
  assertLauncherReady(launcher);
  const net = testNetwork();
  const servers = startServers(launcher, net, ["s1", "s2", "s3"], ["--status-interval", "0"]);
  const clients: DsysProcess[] = [];
  try {
    await Promise.all(servers.map((s) =>
      s.waitForEvent("chat-leading", {}, { timeoutMs: 60_000 })
        .catch(() => s.waitForEvent("leader-changed", { leader: "s3" }, { timeoutMs: 60_000 }))
    ));
    for (const user of ["ann", "bob"]) {
      clients.push(spawnDsys(launcher, ["chat", ...net.args, "--user", user, "--log-json"], {
        stdin: true,
        label: `client ${user}`,
      }));
    }
    for (const user of ["ann", "bob"]) {
      await Promise.any(
        servers.map((s) => s.waitForEvent("client-joined", { user }, { timeoutMs: 60_000 })),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    const all = [...servers, ...clients];
    const before = all.map((p) => cpuSeconds(p.pid));
    const from = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const elapsed = (performance.now() - from) / 1000;
    const cpu = all.map((p, i) => (cpuSeconds(p.pid) - before[i]) / elapsed * 100);
    const rss = all.map((p) => rssKiB(p.pid) / 1024);
    return [
      { runtime, role: "server", cpuPercent: cpu.slice(0, 3), rssMiB: rss.slice(0, 3) },
      { runtime, role: "client", cpuPercent: cpu.slice(3), rssMiB: rss.slice(3) },
    ];
  } finally {
    await Promise.all([...clients, ...servers].map((p) => p.kill()));
  }
}

/** One line per row: CPU and RSS of each process. */
export function formatIdle(rows: IdleRow[]): string {
  const lines = [
    "| runtime | role | CPU % of a core (each) | RSS MiB (each) |",
    "|---|---|---|---|",
  ];
  for (const r of rows) {
    const cpu = r.cpuPercent.map((c) => c.toFixed(2)).join(" / ");
    const rss = r.rssMiB.map((m) => m.toFixed(0)).join(" / ");
    lines.push(`| ${r.runtime} | ${r.role} | ${cpu} | ${rss} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--seconds");
  const seconds = at >= 0 ? Number(Deno.args[at + 1]) : 20;
  const only = Deno.args.indexOf("--runtime");
  const runtimes = only >= 0 ? [Deno.args[only + 1] as "deno" | "node"] : ["deno", "node"] as const;
  const rows: IdleRow[] = [];
  for (const runtime of runtimes) rows.push(...await measureIdle(runtime, seconds));
  console.log(formatIdle(rows));
}
