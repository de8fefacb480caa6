/**
 * The client side of the chat benchmark: `ChatClient`s that generate the load and record when
 * every client delivered each line, the throughput and latency phases, and the CPU time of
 * processes. Only portable APIs (`node:fs`, `performance`, timers), so the same code runs in the
 * Deno benchmark process (`chat.ts`, `deno` row) and, bundled, under Node (`chat_clients.ts`,
 * `node` row).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";
import { ChatClient } from "../../src/client/client.ts";
import { type Config, type NetworkConfig, resolveConfig } from "../../src/config/mod.ts";
import { openTransport, type SocketTransportKind } from "../../src/transport/select.ts";
import { summarize } from "./failover_report.ts";

/** Longest wait for one phase's deliveries before it is reported as incomplete. */
const PHASE_TIMEOUT_MS = 180_000;
/** Deliveries stopped this long (with lines outstanding): the phase ends incomplete. */
const STALL_MS = 5_000;
/** `getconf CLK_TCK` on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses a comma-separated list of rates (lines per second); "" is none. */
export function rates(list: string): number[] {
  const parsed = list.split(",").filter((r) => r.trim() !== "").map(Number);
  if (parsed.some((r) => !Number.isInteger(r) || r <= 0)) {
    throw new Error(`rates must be positive integers separated by commas: ${JSON.stringify(list)}`);
  }
  return parsed;
}

/**
 * The benchmark cluster's secret (servers get it as `--secret`): as deployed securely, and the
 * leader's stream to clients runs only with a secret.
 */
export const BENCH_SECRET = "dsys-bench-loopback";

/**
 * Client configuration for the cluster on `network` (ephemeral unicast port, no status lines,
 * {@linkcode BENCH_SECRET}).
 */
export function clientConfig(
  network: Pick<NetworkConfig, "cluster" | "group" | "port" | "iface">,
): Config {
  return resolveConfig({
    network: { ...network, unicastPort: 0 },
    output: { statusIntervalMs: 0 },
    security: { secrets: [BENCH_SECRET] },
  });
}

/** CPU time (user + system) process `pid` used so far, in seconds (`/proc/PID/stat`). */
export function cpuSeconds(pid: number | "self"): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Clients in this process that record, per line of this run, when the last of them delivered it. */
export class Audience {
  /** The connected clients. */
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
            config: resolveConfig({ chat: { history: 0, clientWaitMs: 3000 } }, config),
            user: `${tag}${i + j}`,
            openSockets: (options) => openTransport(options, kind),
            // Scripted load, like `dsys chat` reading a pipe: no `/history` to keep.
            keepHistory: 0,
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
export async function sendAll(client: ChatClient, phase: string, count: number): Promise<void> {
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
export interface Throughput {
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
  /** Deliveries per second in the client process, all clients together. */
  deliveryRate: number;
  /** CPU seconds used in the phase by each server and by the client process. */
  cpu: { servers: number[]; clients: number };
  /** Every line reached every client. */
  complete: boolean;
}

/** Runs one throughput phase: every client of `audience` sends `count` lines at once. */
export async function throughput(
  audience: Audience,
  count: number,
  pids: number[],
): Promise<Throughput> {
  audience.reset();
  const lines = audience.clients.length * count;
  const meter = cpuMeter(pids);
  const start = performance.now();
  await Promise.all(audience.clients.map((c) => sendAll(c, "t", count)));
  const complete = await audience.allDelivered(lines);
  const { servers, clients } = meter();
  const end = audience.allAt.size > 0 ? Math.max(...audience.allAt.values()) : performance.now();
  const ms = end - start;
  return {
    lines,
    missed: audience.missed,
    delivered: audience.allAt.size,
    ms,
    rate: Math.round((audience.allAt.size / ms) * 1000),
    deliveryRate: Math.round((audience.deliveries / ms) * 1000),
    cpu: { servers, clients },
    complete,
  };
}

/** Latency at a fixed offered load (ms figures; NaN, or null after JSON, without samples). */
export interface Latency {
  /** Lines per second offered. */
  rate: number;
  /** Lines sent, warm-up included. */
  sent: number;
  /** Counted lines (after the warm-up) delivered at every client. */
  delivered: number;
  /** Deliveries skipped as "missed". */
  missed: number;
  /** Lines per second actually offered. */
  achievedRate: number;
  /** Median send → delivered at all clients, ms. */
  p50: number;
  /** 99th percentile, ms. */
  p99: number;
  /** Largest, ms. */
  max: number;
  /** Every line reached every client. */
  complete: boolean;
  /** Wall seconds of the phase, warm-up included, and the CPU seconds used in them. */
  cpu: { seconds: number; servers: number[]; clients: number };
}

/** Measures every process's CPU seconds from now on: call the result to read them. */
function cpuMeter(pids: number[]): () => { seconds: number; servers: number[]; clients: number } {
  const all = [...pids, "self" as const];
  const before = all.map(cpuSeconds);
  const start = performance.now();
  return () => {
    const used = all.map((pid, i) => cpuSeconds(pid) - before[i]);
    return {
      seconds: (performance.now() - start) / 1000,
      servers: used.slice(0, -1),
      clients: used.at(-1)!,
    };
  };
}

async function latency(
  audience: Audience,
  rate: number,
  seconds: number,
  warmup: number,
  pids: number[],
): Promise<Latency> {
  audience.reset();
  const meter = cpuMeter(pids);
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
  const cpu = meter();
  const samples = [...audience.allAt].filter(([text]) => sentAt.has(text)).map(([text, at]) =>
    at - sentAt.get(text)!
  );
  const summary = summarize(samples);
  return {
    rate,
    sent,
    delivered: samples.length,
    missed: audience.missed,
    achievedRate: Math.round((sent / sendMs) * 1000),
    p50: summary?.median ?? NaN,
    p99: summary?.p99 ?? NaN,
    max: summary?.max ?? NaN,
    complete,
    cpu,
  };
}

/** What {@linkcode runClients} measures with, and against which cluster. */
export interface ClientsPlan {
  /** Client configuration of the cluster (see {@linkcode clientConfig}). */
  config: Config;
  /** Transport of the clients. */
  kind: SocketTransportKind;
  /** Number of clients. */
  clients: number;
  /** Lines each client sends in the throughput phase. */
  count: number;
  /** Lines per second offered in the latency phase, all clients together. */
  rate: number;
  /** Counted seconds of the latency phase. */
  seconds: number;
  /** Seconds of the latency phase's load before counting starts. */
  warmup: number;
  /** Further offered loads (lines per second) measured like the latency phase, after it. */
  sweep: number[];
  /** Server processes whose CPU time the throughput phase reports. */
  serverPids: number[];
}

/** Everything the clients measured. */
export interface ClientsResult {
  /** Runtime that ran the clients, e.g. `node 20.20.2`. */
  runtime: string;
  /** The throughput phase. */
  throughput: Throughput;
  /** The latency phase. */
  latency: Latency;
  /** The latency phase repeated at each rate of the plan's `sweep`. */
  sweep: Latency[];
  /** Lines refused by a client over the whole run. */
  refused: number;
}

/**
 * Connects `plan.clients` clients in this process, runs a 100-line warm-up throughput run, the
 * throughput phase, the latency phase and its repetitions at the `sweep` rates, and closes the
 * clients; progress goes to stderr.
 */
export async function runClients(plan: ClientsPlan): Promise<ClientsResult> {
  const { kind } = plan;
  const log = (line: string) => console.error(`[chat bench] ${kind}: ${line}`);
  const runtime = "Deno" in globalThis
    ? `deno ${globalThis.Deno.version.deno}`
    : `node ${process.version.slice(1)}`;
  const audience = await Audience.connect(plan.config, kind, plan.clients, `${kind}c`);
  try {
    log(`${plan.clients} clients connected (${runtime}, pid ${process.pid}); warm-up`);
    await throughput(audience, 100, plan.serverPids);
    log(`throughput, ${plan.clients} × ${plan.count} lines`);
    const t = await throughput(audience, plan.count, plan.serverPids);
    log(JSON.stringify(t));
    log(`latency at ${plan.rate}/s for ${plan.seconds} s`);
    const l = await latency(audience, plan.rate, plan.seconds, plan.warmup, plan.serverPids);
    log(JSON.stringify(l));
    const sweep: Latency[] = [];
    for (const rate of plan.sweep) {
      log(`latency at ${rate}/s for ${plan.seconds} s`);
      sweep.push(await latency(audience, rate, plan.seconds, plan.warmup, plan.serverPids));
      log(JSON.stringify(sweep.at(-1)));
    }
    if (audience.refused > 0) log(`${audience.refused} lines refused`);
    return { runtime, throughput: t, latency: l, sweep, refused: audience.refused };
  } finally {
    await audience.close();
  }
}
