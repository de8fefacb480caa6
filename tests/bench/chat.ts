/**
 * The chat benchmark of issue 4, on loopback only, for the Deno and the Node transports:
 *
 * 1. throughput: three `dsys serve` processes, ten in-process {@linkcode ChatClient}s that all
 *    send `--count` lines as fast as back-pressure allows; messages per second delivered to all
 *    clients (first send → the last client delivered the last line);
 * 2. latency at a fixed offered load of `--rate` lines per second spread over the ten clients,
 *    for `--seconds` after `--warmup` seconds of the same load that are not counted (JIT
 *    compilation of the low-load paths): send → delivered at every client, on this process's
 *    monotonic clock;
 * 3. the raw rate of one sender to three unicast receivers with the same transport
 *    (`udp_rate.ts --receivers 3`, in its own process: under Deno, or bundled and run under Node), and the
 *    ratio chat/raw;
 * 4. memory (Deno transport): `--memory-messages` lines through the cluster with
 *    `--memory-clients` in-process clients, each server's VmRSS before, during and after.
 *
 * The servers run as processes (`deno run cmd/dsys.ts serve` for the Deno transport, `node
 * dist/dsys.mjs serve` for the Node transport); the clients run in this Deno process with the
 * matching transport (for `node`, Deno's `node:dgram`). Writes a Markdown table to
 * `dist/bench/chat.md` (or `--out`) and prints it.
 *
 * Run: `deno run --unstable-net -A tests/bench/chat.ts [--transport deno|node|both|none]
 * [--count 2000] [--rate 1000] [--seconds 10] [--warmup 1] [--memory-clients 100]
 * [--memory-messages 12000]`;
 * `--memory-clients 0` skips the memory step.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ChatClient } from "../../src/client/client.ts";
import type { Config } from "../../src/config/mod.ts";
import type { SocketTransportKind } from "../../src/transport/select.ts";
import { REPO_ROOT } from "../helpers/process.ts";
import { type Cluster, cpuSeconds, rssKiB, startCluster, stopCluster } from "./chat_cluster.ts";
import type { RawResult } from "./udp_rate.ts";
import { bundleUdpRate } from "./udp_bundle.ts";
import { summarize } from "./failover_report.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    transport: { type: "string", default: "both" },
    clients: { type: "string", default: "10" },
    count: { type: "string", default: "2000" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    "memory-clients": { type: "string", default: "100" },
    "memory-messages": { type: "string", default: "12000" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/chat.md` },
  },
});
const CLIENTS = Number(flags.clients);
const COUNT = Number(flags.count);
const RATE = Number(flags.rate);
const SECONDS = Number(flags.seconds);
const WARMUP = Number(flags.warmup);
const MEMORY_CLIENTS = Number(flags["memory-clients"]);
const MEMORY_MESSAGES = Number(flags["memory-messages"]);
const KINDS: SocketTransportKind[] = flags.transport === "both"
  ? ["deno", "node"]
  : flags.transport === "none"
  ? []
  : [flags.transport as SocketTransportKind];
/** Longest wait for one phase's deliveries before it is reported as incomplete. */
const PHASE_TIMEOUT_MS = 180_000;
/** Deliveries stopped this long (with lines outstanding): the phase ends incomplete. */
const STALL_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** In-process clients that record, per line of this run, when the last of them delivered it. */
class Audience {
  readonly clients: ChatClient[] = [];
  /** Line text → how many clients delivered it. */
  readonly #seen = new Map<string, number>();
  /** Line text → when the last client delivered it (ms, monotonic). */
  readonly allAt = new Map<string, number>();
  /** Deliveries of lines of this run, all clients together. */
  deliveries = 0;
  /** Deliveries skipped because a server said the lines are no longer kept ("missed"). */
  missed = 0;
  /** Input refused by a client (its queue was full): the benchmark's own fault. */
  refused = 0;

  /** Connects `n` clients of `config` with `kind`, a few at a time. */
  static async connect(
    config: Config,
    kind: SocketTransportKind,
    n: number,
    tag: string,
  ): Promise<Audience> {
    const audience = new Audience();
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, (_, j) =>
          ChatClient.connect({
            config,
            user: `${tag}${i + j}`,
            history: 0,
            discoveryTimeoutMs: 3000,
            transportKind: kind,
          })),
      );
      for (const client of batch) audience.#watch(client);
    }
    return audience;
  }

  #watch(client: ChatClient): void {
    this.clients.push(client);
    const total = () => this.clients.length;
    client.onEvent((event) => {
      if (event.type === "system") {
        if (event.kind === "input-refused") this.refused++;
        if (event.kind === "missed") {
          const { from, to } = event.details as { from: number; to: number };
          this.missed += to - from + 1;
        }
        return;
      }
      const text = event.message.text;
      if (!text.startsWith("b|")) return;
      this.deliveries++;
      const seen = (this.#seen.get(text) ?? 0) + 1;
      this.#seen.set(text, seen);
      if (seen === total()) {
        this.allAt.set(text, performance.now());
        this.#seen.delete(text);
      }
    });
  }

  /**
   * Waits until `n` lines were delivered everywhere (true), or deliveries stop for
   * `STALL_MS` or the phase times out (false).
   */
  async allDelivered(n: number): Promise<boolean> {
    const deadline = performance.now() + PHASE_TIMEOUT_MS;
    let seen = this.deliveries;
    let progressAt = performance.now();
    while (this.allAt.size < n) {
      if (this.deliveries !== seen) {
        seen = this.deliveries;
        progressAt = performance.now();
      }
      if (performance.now() > deadline || performance.now() - progressAt > STALL_MS) {
        console.error(
          `[chat bench] stalled: ${this.allAt.size}/${n} lines everywhere, ${this.deliveries} ` +
            `deliveries, ${this.missed} skipped as "missed"`,
        );
        return false;
      }
      await sleep(5);
    }
    return true;
  }

  /** Forgets what earlier phases delivered. */
  reset(): void {
    this.#seen.clear();
    this.allAt.clear();
    this.deliveries = 0;
    this.missed = 0;
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

/** Sends `count` lines from `client` as fast as its flow control allows. */
async function sendAll(client: ChatClient, phase: string, count: number): Promise<void> {
  let paused = false;
  let resume: () => void = () => {};
  client.onFlow((p) => {
    paused = p;
    if (!p) resume();
  });
  for (let i = 0; i < count; i++) {
    if (paused) await new Promise<void>((resolve) => (resume = resolve));
    client.send(`b|${phase}|${client.user}|${i}`);
    if (i % 32 === 31) await sleep(0);
  }
}

/** Throughput: every client sends `count` lines at once. */
interface Throughput {
  /** Lines sent, all clients together. */
  lines: number;
  /** Deliveries skipped as "missed" (a client fell more than the log limit behind). */
  missed: number;
  /** Lines delivered at every client. */
  delivered: number;
  /** First send → the last client delivered the last line it delivered, ms. */
  ms: number;
  /** `delivered` per second. */
  rate: number;
  /** Deliveries per second in this process, all clients together. */
  deliveryRate: number;
  /** CPU seconds used in the phase by each server and by this process (the clients). */
  cpu: { servers: number[]; clients: number };
  /** Every line reached every client. */
  complete: boolean;
}

async function throughput(audience: Audience, count: number, pids: number[]): Promise<Throughput> {
  audience.reset();
  const lines = audience.clients.length * count;
  const cpuBefore = [...pids, "self" as const].map(cpuSeconds);
  const start = performance.now();
  await Promise.all(audience.clients.map((c) => sendAll(c, "t", count)));
  const complete = await audience.allDelivered(lines);
  const cpu = [...pids, "self" as const].map((pid, i) => cpuSeconds(pid) - cpuBefore[i]);
  const end = audience.allAt.size > 0 ? Math.max(...audience.allAt.values()) : performance.now();
  const ms = end - start;
  return {
    lines,
    missed: audience.missed,
    delivered: audience.allAt.size,
    ms,
    rate: Math.round((audience.allAt.size / ms) * 1000),
    deliveryRate: Math.round((audience.deliveries / ms) * 1000),
    cpu: { servers: cpu.slice(0, -1), clients: cpu.at(-1)! },
    complete,
  };
}

/** Latency at a fixed offered load. */
interface Latency {
  sent: number;
  delivered: number;
  missed: number;
  achievedRate: number;
  p50: number;
  p99: number;
  max: number;
  complete: boolean;
}

async function latency(
  audience: Audience,
  rate: number,
  seconds: number,
  warmup: number,
): Promise<Latency> {
  audience.reset();
  const sentAt = new Map<string, number>();
  const warm = Math.round(rate * warmup);
  const total = warm + rate * seconds;
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    for (; sent < due; sent++) {
      const client = audience.clients[sent % audience.clients.length];
      const text = `b|l|${client.user}|${sent}`;
      if (sent >= warm) sentAt.set(text, performance.now());
      client.send(text);
    }
    await sleep(1);
  }
  const sendMs = performance.now() - start;
  const complete = await audience.allDelivered(total);
  const samples = [...audience.allAt].filter(([text]) => sentAt.has(text)).map(([text, at]) =>
    at - sentAt.get(text)!
  );
  const summary = summarize(samples);
  return {
    sent,
    delivered: samples.length,
    missed: audience.missed,
    achievedRate: Math.round((sent / sendMs) * 1000),
    p50: summary?.median ?? NaN,
    p99: summary?.p99 ?? NaN,
    max: summary?.max ?? NaN,
    complete,
  };
}

/** Runs `udp_rate.ts` with three receivers and `kind`: under Deno, or bundled and under Node. */
async function rawRate(kind: SocketTransportKind): Promise<RawResult> {
  const source = fileURLToPath(new URL("./udp_rate.ts", import.meta.url));
  const flags = ["--transport", kind, "--receivers", "3", "--count", "100000", "--json"];
  let command = Deno.execPath();
  let args = ["run", "--unstable-net", "-A", source, ...flags];
  if (kind === "node") {
    const dir = await Deno.makeTempDir({ prefix: "dsys-chat-raw-" });
    command = "node";
    args = [await bundleUdpRate(`${dir}/udp_rate.mjs`), ...flags];
  }
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim()) as RawResult;
}

/** Everything measured for one transport. */
interface KindResult {
  kind: SocketTransportKind;
  launcher: string;
  throughput: Throughput;
  latency: Latency;
  raw: RawResult;
}

async function measureKind(kind: SocketTransportKind): Promise<KindResult> {
  console.error(`[chat bench] ${kind}: starting 3 servers`);
  const cluster: Cluster = await startCluster(kind);
  let audience: Audience | undefined;
  try {
    audience = await Audience.connect(cluster.config, kind, CLIENTS, `${kind}c`);
    console.error(`[chat bench] ${kind}: ${CLIENTS} clients connected; warm-up`);
    const pids = cluster.servers.map((s) => s.pid);
    await throughput(audience, 100, pids);
    console.error(`[chat bench] ${kind}: throughput, ${CLIENTS} × ${COUNT} lines`);
    const t = await throughput(audience, COUNT, pids);
    console.error(`[chat bench] ${kind}: ${JSON.stringify(t)}`);
    console.error(`[chat bench] ${kind}: latency at ${RATE}/s for ${SECONDS} s`);
    const l = await latency(audience, RATE, SECONDS, WARMUP);
    console.error(`[chat bench] ${kind}: ${JSON.stringify(l)}`);
    if (audience.refused > 0) console.error(`[chat bench] ${audience.refused} lines refused`);
    await audience.close();
    audience = undefined;
    await stopCluster(cluster.servers);
    console.error(`[chat bench] ${kind}: raw UDP, 1 sender → 3 unicast receivers`);
    const raw = await rawRate(kind);
    console.error(`[chat bench] ${kind}: ${JSON.stringify(raw)}`);
    return { kind, launcher: cluster.launcher, throughput: t, latency: l, raw };
  } finally {
    await audience?.close();
    await stopCluster(cluster.servers);
  }
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
    `- Setup: 3 \`dsys serve\` processes on \`lo\`; ${CLIENTS} ChatClients in the benchmark ` +
    "process (Deno) with the same transport kind (for `node`: Deno's `node:dgram`); " +
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
      "| transport | wall s | deliveries/s in the client process | CPU s: s1 / s2 / s3 (leader) " +
        '| CPU s: client process | deliveries skipped as "missed" |',
      "|---|--:|--:|--:|--:|--:|",
      ...results.map(({ kind, throughput: t }) =>
        `| ${kind} | ${fmt(t.ms / 1000, 2)} | ${fmt(t.deliveryRate)} | ${
          t.cpu.servers.map((c) => fmt(c, 2)).join(" / ")
        } | ${fmt(t.cpu.clients, 2)} | ${fmt(t.missed)} |`
      ),
      "",
      "CPU seconds span the whole phase, including the wait for stragglers (up to 5 s without a " +
        "delivery ends an incomplete phase).",
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
