/**
 * The cost of the chat log on the disk (not a test): the chat benchmark's throughput and latency
 * phases (`chat_load.ts`: ten in-process clients, three `dsys serve` processes on loopback, Deno
 * transport) run once with every server memory-only (`--data-dir none`) and once with each
 * keeping its log in a data directory of its own under `--dir` (acknowledged = flushed with
 * `fdatasync` on every server), in the same run, one table. Writes `dist/bench/durable.md` (or
 * `--out`) and prints it.
 *
 * Run: `deno run --unstable-net -A tests/bench/durable.ts [--count 2000] [--rate 1000]
 * [--seconds 10] [--warmup 1] [--dir /var/tmp]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { REPO_ROOT } from "../helpers/process.ts";
import { startCluster, stopCluster } from "./chat_cluster.ts";
import { type ClientsResult, runClients } from "./chat_load.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "10" },
    count: { type: "string", default: "2000" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    dir: { type: "string", default: "/var/tmp" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/durable.md` },
  },
});

/** One mode measured: memory only, or the log on the disk. */
interface ModeResult extends ClientsResult {
  mode: string;
}

async function measure(mode: "memory" | "disk"): Promise<ModeResult> {
  const root = mode === "disk"
    ? await Deno.makeTempDir({ dir: flags.dir, prefix: "dsys-durable-bench-" })
    : undefined;
  console.error(`[durable bench] ${mode}: starting 3 servers`);
  const cluster = await startCluster(
    "deno",
    (id) => ["--data-dir", root === undefined ? "none" : `${root}/${id}`],
  );
  try {
    const measured = await runClients({
      config: cluster.config,
      kind: "deno",
      clients: Number(flags.clients),
      count: Number(flags.count),
      rate: Number(flags.rate),
      seconds: Number(flags.seconds),
      warmup: Number(flags.warmup),
      sweep: [],
      serverPids: cluster.servers.map((s) => s.pid),
    });
    return { mode, ...measured };
  } finally {
    await stopCluster(cluster.servers);
    if (root !== undefined) await Deno.remove(root, { recursive: true });
  }
}

function ms(value: number | null): string {
  return value === null || Number.isNaN(value) ? "–" : value.toFixed(1);
}

const results = [await measure("memory"), await measure("disk")];
const memoryRate = results[0].throughput.rate;
const rows = results.map((r) =>
  `| ${r.mode} | ${r.throughput.rate} | ${Math.round((r.throughput.rate / memoryRate) * 100)} % ` +
  `| ${r.latency.achievedRate} | ${ms(r.latency.p50)} | ${ms(r.latency.p99)} | ` +
  `${ms(r.latency.max)} | ${r.throughput.complete && r.latency.complete ? "yes" : "no"} |`
);
const table = [
  `Chat log on the disk vs memory only: 3 servers, ${flags.clients} clients, loopback, Deno ` +
  `transport; throughput: ${flags.clients} × ${flags.count} lines as fast as acknowledged; ` +
  `latency: ${flags.rate} lines/s for ${flags.seconds} s (send → delivered at every client). ` +
  `Disk: ${flags.dir}.`,
  "",
  "| mode | throughput (lines/s) | of memory | offered (lines/s) | p50 (ms) | p99 (ms) | max (ms) | complete |",
  "| ---- | -------------------: | --------: | ----------------: | -------: | -------: | -------: | -------- |",
  ...rows,
].join("\n");
await Deno.mkdir(`${REPO_ROOT}/dist/bench`, { recursive: true });
await Deno.writeTextFile(flags.out, `${table}\n`);
console.log(table);
