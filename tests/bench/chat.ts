/**
 * The chat benchmark, on loopback only, for the Deno and the Node transports:
 *
 * 1. throughput: three `dsys serve` processes, ten `ChatClient`s that all send `--count` lines
 *    as fast as back-pressure allows; messages per second delivered to all clients (first send →
 *    the last client delivered the last line);
 * 2. latency at a fixed offered load of `--rate` lines per second spread over the ten clients,
 *    for `--seconds` after `--warmup` seconds of the same load that are not counted (JIT
 *    compilation of the low-load paths): send → delivered at every client, on the client
 *    process's monotonic clock;
 * 3. the raw rate of one sender to three unicast receivers with the same transport
 *    (`udp_rate.ts --receivers 3`, in its own process: under Deno, or bundled and run under Node), and the
 *    ratio chat/raw;
 * 3b. the latency phase again at each `--sweep` rate, and for every latency phase the CPU the
 *    servers and the client process used per second (how busy the machine was);
 * 4. memory (Deno transport): `--memory-messages` lines through the cluster with
 *    `--memory-clients` in-process clients, each server's VmRSS before, during and after.
 *
 * The servers run as processes (`deno run cmd/dsys.ts serve` for the Deno transport, `node
 * dist/dsys.mjs serve` for the Node transport). The clients and steps 1–2 ({@linkcode runClients}
 * of `chat_load.ts`) run with the matching transport: for `deno` in this Deno process, for
 * `node` in one Node process (`chat_clients.ts`, bundled with esbuild), so that they use Node's
 * own `node:dgram` rather than Deno's emulation. Writes a Markdown table to
 * `dist/bench/chat.md` (or `--out`) and prints it.
 *
 * Run: `deno run --unstable-net -A tests/bench/chat.ts [--transport deno|node|both|none]
 * [--count 2000] [--rate 1000] [--seconds 10] [--warmup 1] [--sweep 200,500] [--memory-clients 100]
 * [--memory-messages 12000] [--json results.json]`;
 * `--memory-clients 0` skips the memory step.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import type { SocketTransportKind } from "../../src/transport/select.ts";
import { REPO_ROOT } from "../helpers/process.ts";
import { type Cluster, rssKiB, startCluster, stopCluster } from "./chat_cluster.ts";
import {
  Audience,
  type ClientsPlan,
  type ClientsResult,
  type Latency,
  rates,
  runClients,
  sendAll,
} from "./chat_load.ts";
import type { RawResult } from "./udp_rate.ts";
import { bundleForNode, type NodeEntry } from "./udp_bundle.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    transport: { type: "string", default: "both" },
    clients: { type: "string", default: "10" },
    count: { type: "string", default: "2000" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    sweep: { type: "string", default: "200,500" },
    "memory-clients": { type: "string", default: "100" },
    "memory-messages": { type: "string", default: "12000" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/chat.md` },
    json: { type: "string" },
  },
});
const CLIENTS = Number(flags.clients);
const COUNT = Number(flags.count);
const RATE = Number(flags.rate);
const SECONDS = Number(flags.seconds);
const WARMUP = Number(flags.warmup);
const SWEEP = rates(flags.sweep);
const MEMORY_CLIENTS = Number(flags["memory-clients"]);
const MEMORY_MESSAGES = Number(flags["memory-messages"]);
const KINDS: SocketTransportKind[] = flags.transport === "both"
  ? ["deno", "node"]
  : flags.transport === "none"
  ? []
  : [flags.transport as SocketTransportKind];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bundles `entry` for Node into a new temporary folder and returns the bundle's path. */
async function nodeBundle(entry: NodeEntry): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dsys-chat-bench-" });
  return await bundleForNode(entry, `${dir}/${entry.replace(/\.ts$/, ".mjs")}`);
}

/** Runs `command args`, its stderr shown, and parses the last line of its stdout as JSON. */
async function runJson<T>(command: string, args: string[]): Promise<T> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!) as T;
}

/**
 * Runs the clients of `plan`: in this process for `deno`, in one Node process running the
 * bundled `chat_clients.ts` for `node`.
 */
async function clients(plan: ClientsPlan): Promise<ClientsResult> {
  if (plan.kind === "deno") return await runClients(plan);
  const { cluster, group, port, iface } = plan.config.network;
  return await runJson<ClientsResult>("node", [
    await nodeBundle("chat_clients.ts"),
    ...["--cluster", cluster, "--group", group, "--port", String(port), "--iface", iface!],
    ...["--server-pids", plan.serverPids.join(","), "--clients", String(plan.clients)],
    ...["--count", String(plan.count), "--rate", String(plan.rate)],
    ...["--seconds", String(plan.seconds), "--warmup", String(plan.warmup)],
    ...["--sweep", plan.sweep.join(",")],
  ]);
}

/** Runs `udp_rate.ts` with three receivers and `kind`: under Deno, or bundled and under Node. */
async function rawRate(kind: SocketTransportKind): Promise<RawResult> {
  const source = fileURLToPath(new URL("./udp_rate.ts", import.meta.url));
  const flags = ["--transport", kind, "--receivers", "3", "--count", "100000", "--json"];
  return kind === "node"
    ? await runJson<RawResult>("node", [await nodeBundle("udp_rate.ts"), ...flags])
    : await runJson<RawResult>(Deno.execPath(), ["run", "--unstable-net", "-A", source, ...flags]);
}

/** Everything measured for one transport. */
interface KindResult extends ClientsResult {
  kind: SocketTransportKind;
  launcher: string;
  raw: RawResult;
}

async function measureKind(kind: SocketTransportKind): Promise<KindResult> {
  console.error(`[chat bench] ${kind}: starting 3 servers`);
  const cluster: Cluster = await startCluster(kind);
  let measured: ClientsResult;
  try {
    measured = await clients({
      config: cluster.config,
      kind,
      clients: CLIENTS,
      count: COUNT,
      rate: RATE,
      seconds: SECONDS,
      warmup: WARMUP,
      sweep: SWEEP,
      serverPids: cluster.servers.map((s) => s.pid),
    });
  } finally {
    await stopCluster(cluster.servers);
  }
  console.error(`[chat bench] ${kind}: raw UDP, 1 sender → 3 unicast receivers`);
  const raw = await rawRate(kind);
  console.error(`[chat bench] ${kind}: ${JSON.stringify(raw)}`);
  return { kind, launcher: cluster.launcher, raw, ...measured };
}

/** Server RSS at one point of the memory run. */
interface MemoryPoint {
  label: string;
  kib: number[];
}

interface MemoryResult {
  clients: number;
  messages: number;
  delivered: number;
  missed: number;
  complete: boolean;
  points: MemoryPoint[];
}

async function measureMemory(): Promise<MemoryResult> {
  const kind: SocketTransportKind = "deno";
  console.error(`[chat bench] memory: 3 servers, ${MEMORY_CLIENTS} clients`);
  const cluster = await startCluster(kind);
  let audience: Audience | undefined;
  const points: MemoryPoint[] = [];
  const sample = (label: string) => {
    points.push({ label, kib: cluster.servers.map((s) => rssKiB(s.pid)) });
    console.error(`[chat bench] memory ${label}: ${points.at(-1)!.kib.join(" ")} KiB`);
  };
  try {
    sample("started");
    audience = await Audience.connect(cluster.config, kind, MEMORY_CLIENTS, "m");
    sample(`${MEMORY_CLIENTS} clients joined`);
    // Ten of the clients send (every client receives everything).
    const senders = audience.clients.slice(0, 10);
    const per = Math.ceil(MEMORY_MESSAGES / senders.length);
    const step = Math.ceil(MEMORY_MESSAGES / 4);
    const messages = per * senders.length;
    let next = step;
    const sending = Promise.all(senders.map((c) => sendAll(c, "m", per)));
    let finished = false;
    const done = audience.allDelivered(messages).finally(() => (finished = true));
    while (!finished) {
      if (audience.allAt.size >= next) {
        sample(`${next} lines delivered to all`);
        next += step;
      }
      await sleep(20);
    }
    await sending;
    const complete = await done;
    await sleep(2000);
    sample(`${audience.allAt.size} lines, 2 s later`);
    return {
      clients: MEMORY_CLIENTS,
      messages,
      delivered: audience.allAt.size,
      missed: audience.missed,
      complete,
      points,
    };
  } finally {
    await audience?.close();
    await stopCluster(cluster.servers);
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "n/a";
}

const met = (ok: boolean) => (ok ? "met" : "**not met**");

/** One row of the latency-and-load table. */
function loadRow(kind: string, l: Latency): string {
  const perSecond = (cpu: number) => cpu / l.cpu.seconds;
  const total = l.cpu.servers.reduce((a, b) => a + b, l.cpu.clients);
  const busy = perSecond(total) / navigator.hardwareConcurrency;
  return `| ${kind} | ${fmt(l.rate)} (${fmt(l.achievedRate)})${l.complete ? "" : " incomplete"} | ${
    fmt(l.p50, 2)
  } | ${fmt(l.p99, 2)} | ${fmt(l.max, 1)} | ${
    l.cpu.servers.map((c) => fmt(perSecond(c), 2)).join(" / ")
  } | ${fmt(perSecond(l.cpu.clients), 2)} | ${fmt(busy * 100)} % |`;
}

function report(results: KindResult[], memory: MemoryResult | undefined): string {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  const lines = [
    "# dsys chat benchmark",
    "",
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${navigator.hardwareConcurrency} × ${cpu}, load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    } at the end, ${Deno.osRelease()}; deno ${Deno.version.deno}`,
    `- Command: \`${["deno run --unstable-net -A tests/bench/chat.ts", ...Deno.args].join(" ")}\``,
    `- Setup: 3 \`dsys serve\` processes on \`lo\`; ${CLIENTS} ChatClients (keeping no \`/history\`, ` +
    "as `dsys chat` in a script) with the same transport kind in one client process: " +
    "for `deno` the benchmark process (Deno), for " +
    "`node` a Node process (bundled `chat_clients.ts`, Node's own `node:dgram`); " +
    `throughput: every client sends ${COUNT} lines at once, as fast as flow control allows; ` +
    `latency: ${RATE} lines/s offered for ${SECONDS} s after ${WARMUP} s not counted (warm-up), ` +
    `send → delivered at all ${CLIENTS} ` +
    "clients; raw: one sender → three unicast receivers (64-byte datagrams, each sent to all " +
    "three), in its own process.",
    "",
    "| transport | servers | chat msg/s to all clients | raw datagrams/s (1 → 3) | chat/raw " +
    "| offered (achieved) msg/s | p50 ms | p99 ms | max ms | ≥ 50 000 msg/s | ≥ ½ raw " +
    "| p99 < 5 ms |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|---|",
  ];
  for (const r of results) {
    const t = r.throughput;
    const l = r.latency;
    const ratio = t.rate / r.raw.rate;
    const chat = `${fmt(t.rate)}${
      t.complete ? "" : ` (incomplete: ${t.delivered}/${t.lines}, ${t.missed} deliveries "missed")`
    } in ${fmt(t.ms / 1000, 2)} s`;
    lines.push(
      `| ${r.kind} | \`${r.launcher}\` | ${chat} | ${fmt(r.raw.rate)} (${r.raw.runtime}) | ${
        fmt(ratio, 2)
      } | ${fmt(RATE)} (${fmt(l.achievedRate)})${
        l.complete ? "" : ` incomplete: ${l.delivered}/${l.sent}, ${l.missed} "missed"`
      } | ${fmt(l.p50, 2)} | ${fmt(l.p99, 2)} | ${fmt(l.max, 1)} | ${
        met(t.complete && t.rate >= 50_000)
      } | ${met(t.complete && ratio >= 0.5)} | ${met(l.complete && l.p99 < 5)} |`,
    );
  }
  if (results.length > 0) {
    lines.push(
      "",
      "## Where the time goes (throughput phase)",
      "",
      "| transport | client process | wall s | deliveries/s in the client process " +
        '| CPU s: s1 / s2 / s3 (leader) | CPU s: client process | deliveries skipped as "missed" |',
      "|---|---|--:|--:|--:|--:|--:|",
      ...results.map(({ kind, runtime, throughput: t }) =>
        `| ${kind} | ${runtime} | ${fmt(t.ms / 1000, 2)} | ${fmt(t.deliveryRate)} | ${
          t.cpu.servers.map((c) => fmt(c, 2)).join(" / ")
        } | ${fmt(t.cpu.clients, 2)} | ${fmt(t.missed)} |`
      ),
      "",
      "CPU seconds span the whole phase, including the wait for stragglers (up to 5 s without a " +
        "delivery ends an incomplete phase).",
      "",
      "## Latency and load",
      "",
      "Each offered load for the same time as the latency phase (warm-up not counted); CPU per " +
        `second of the phase, warm-up included; busy = all CPU over ${navigator.hardwareConcurrency} cores.`,
      "",
      "| transport | offered (achieved) msg/s | p50 ms | p99 ms | max ms " +
        "| CPU/s: s1 / s2 / s3 (leader) | CPU/s: client process | busy |",
      "|---|--:|--:|--:|--:|--:|--:|--:|",
      ...results.flatMap(({ kind, latency, sweep }) =>
        [latency, ...sweep].sort((a, b) => a.rate - b.rate).map((l) => loadRow(kind, l))
      ),
    );
  }
  if (memory) {
    lines.push(
      "",
      `## Memory (deno transport, ${memory.clients} clients, ${memory.messages} lines, ` +
        "log limit 10 000)",
      "",
      `Delivered to all clients: ${memory.delivered}/${memory.messages}` +
        `${memory.complete ? "" : " (incomplete)"}; deliveries skipped as "missed": ` +
        `${memory.missed}.`,
      "",
      "| point | s1 VmRSS MiB | s2 VmRSS MiB | s3 (leader) VmRSS MiB |",
      "|---|--:|--:|--:|",
      ...memory.points.map((p) =>
        `| ${p.label} | ${p.kib.map((k) => fmt(k / 1024, 1)).join(" | ")} |`
      ),
    );
  }
  return lines.join("\n") + "\n";
}

const results: KindResult[] = [];
for (const kind of KINDS) results.push(await measureKind(kind));
const memory = MEMORY_CLIENTS > 0 ? await measureMemory() : undefined;
const markdown = report(results, memory);
await Deno.mkdir(new URL(".", `file://${flags.out}`), { recursive: true });
await Deno.writeTextFile(flags.out, markdown);
console.log(markdown);
if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(results));
