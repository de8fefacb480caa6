/**
 * What a delivered chat line costs against a floor, in one run (Deno transport, loopback):
 *
 * 1. three `dsys serve` processes (the leader `s3` with `--http`) and `--clients` in-process
 *    clients; a first throughput phase while a bare socket in this process, joined to the group,
 *    captures the leader's `chat-stream` datagrams (then it closes);
 * 2. the measured throughput phase: the client process's CPU per delivery (one line at one
 *    client), and from the leader's `/metrics` its CPU and datagrams per sequenced line and the
 *    lines per stream datagram;
 * 3. the floor: the captured datagrams opened (ChaCha20-Poly1305, replay guard, JSON parse and validation
 *    by {@linkcode WireCodec}) once per client, as a receiver that does nothing else would, µs
 *    per delivery (the median of several rounds; no socket receive, no client logic).
 *
 * Run: `deno run --unstable-net -A tests/bench/delivery_floor.ts [--clients 10] [--count 2000]
 * [--rounds 5]`; `summary.ts` uses {@linkcode measureDeliveryCost} for its table.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Keyring, peekKind, ReplayGuard, WireCodec } from "../../src/wire/mod.ts";
import { startCluster, stopCluster } from "./chat_cluster.ts";
import { Audience, throughput } from "./chat_load.ts";

/** How big a run {@linkcode measureDeliveryCost} makes. */
export interface DeliveryPlan {
  /** In-process clients, each sending `count` lines per phase. */
  clients: number;
  /** Lines each client sends in one throughput phase. */
  count: number;
  /** Rounds of the floor; the median is taken. */
  rounds: number;
}

/** What {@linkcode measureDeliveryCost} measured. */
export interface DeliveryCost {
  /** The plan it ran. */
  plan: DeliveryPlan;
  /** Lines per second delivered to every client in the measured phase. */
  rate: number;
  /** Every line of the measured phase reached every client. */
  complete: boolean;
  /** `chat-stream` datagrams captured in the first phase. */
  captured: number;
  /** Lines per captured datagram. */
  linesPerCaptured: number;
  /** Mean size of a captured datagram, bytes. */
  capturedBytes: number;
  /** Deliveries (lines × clients) in the measured phase. */
  deliveries: number;
  /** CPU seconds of the client process in the measured phase. */
  clientCpuSeconds: number;
  /** The client process's CPU per delivery, µs. */
  clientMicros: number;
  /** The floor: opening the captured datagrams once per client, µs per delivery. */
  floorMicros: number;
  /** The leader's CPU per sequenced line, µs. */
  leaderMicros: number;
  /** Datagrams the leader received per sequenced line. */
  receivedPerLine: number;
  /** Datagrams the leader sent per sequenced line. */
  sentPerLine: number;
  /** Sequenced lines per `chat-stream` datagram of the leader. */
  linesPerStream: number;
}

/** The leader's counters that the cost per line is made of. */
interface LeaderCounters {
  cpu: number;
  received: number;
  sent: number;
  streamed: number;
}

/** Reads the leader's counters from its `/metrics` on `httpPort`. */
async function leaderCounters(httpPort: number): Promise<LeaderCounters> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    if (!match) throw new Error(`the leader's /metrics has no ${name}`);
    return Number(match[1]);
  };
  return {
    cpu: value("dsys_process_cpu_seconds_total"),
    received: value("dsys_datagrams_received_total"),
    sent: value("dsys_datagrams_sent_total"),
    streamed: value("dsys_chat_stream_datagrams_total"),
  };
}
/** Collects the `chat-stream` datagrams on the group until `stop` is called. */
function capture(group: string, port: number): { stop: () => Promise<Uint8Array[]> } {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port,
    reuseAddress: true,
    loopback: true,
  });
  const captured: Uint8Array[] = [];
  const joined = socket.joinMulticastV4(group, "127.0.0.1");
  const done = (async () => {
    await joined;
    try {
      while (true) {
        const [data] = await socket.receive();
        if (peekKind(data) === "chat-stream") captured.push(data);
      }
    } catch {
      // Closed by stop().
    }
  })();
  return {
    stop: async () => {
      socket.close();
      await done;
      return captured;
    },
  };
}

/** µs per delivery of opening every datagram once per client, median of `rounds` rounds. */
function floorMicros(
  datagrams: Uint8Array[],
  lines: number,
  secrets: string[],
  cluster: string,
  { clients, rounds }: DeliveryPlan,
) {
  const perDelivery: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const codecs = Array.from({ length: clients }, (_, i) =>
      new WireCodec({
        cluster,
        keyring: Keyring.fromSecrets(secrets, cluster),
        maxDatagramBytes: 65_507,
        receiverId: `floor${i}`,
        replay: new ReplayGuard({ window: 1024, maxSenders: 1024, maxClockSkewMs: 120_000 }),
      }));
    let opened = 0;
    const start = performance.now();
    for (const data of datagrams) {
      for (const codec of codecs) {
        const result = codec.decode(data, Date.now());
        if (result.ok && result.envelope.body.kind === "chat-stream") opened++;
      }
    }
    const ms = performance.now() - start;
    if (opened !== datagrams.length * clients) throw new Error("a captured datagram did not open");
    perDelivery.push((ms * 1000) / (lines * clients));
  }
  perDelivery.sort((a, b) => a - b);
  return perDelivery[Math.floor(perDelivery.length / 2)];
}

/**
 * Starts three Deno servers and `plan.clients` in-process clients, captures the leader's stream
 * in a first throughput phase, measures a second one, then the floor on the captured datagrams.
 */
export async function measureDeliveryCost(plan: DeliveryPlan): Promise<DeliveryCost> {
  const httpPort = 20_000 + Math.floor(Math.random() * 20_000);
  const cluster = await startCluster(
    "deno",
    (id) => id === "s3" ? ["--http", `127.0.0.1:${httpPort}`] : [],
  );
  try {
    const { network, security } = cluster.config;
    const pids = cluster.servers.map((s) => s.pid);
    const audience = await Audience.connect(cluster.config, "deno", plan.clients, "fl");
    try {
      await throughput(audience, 100, pids);
      const tap = capture(network.group, network.port);
      const first = await throughput(audience, plan.count, pids);
      const datagrams = await tap.stop();
      const before = await leaderCounters(httpPort);
      const t = await throughput(audience, plan.count, pids);
      const after = await leaderCounters(httpPort);
      const lines = t.delivered;
      const clientMicros = (t.cpu.clients * 1e6) / (lines * plan.clients);
      const floor = floorMicros(
        datagrams,
        first.delivered,
        security.secrets,
        network.cluster,
        plan,
      );
      return {
        plan,
        rate: t.rate,
        complete: t.complete,
        captured: datagrams.length,
        linesPerCaptured: first.delivered / datagrams.length,
        capturedBytes: datagrams.reduce((sum, d) => sum + d.length, 0) / datagrams.length,
        deliveries: lines * plan.clients,
        clientCpuSeconds: t.cpu.clients,
        clientMicros,
        floorMicros: floor,
        leaderMicros: ((after.cpu - before.cpu) * 1e6) / lines,
        receivedPerLine: (after.received - before.received) / lines,
        sentPerLine: (after.sent - before.sent) / lines,
        linesPerStream: lines / Math.max(1, after.streamed - before.streamed),
      };
    } finally {
      await audience.close();
    }
  } finally {
    await stopCluster(cluster.servers);
  }
}

/** The standalone report of one {@linkcode DeliveryCost}, one line per figure. */
export function formatDeliveryCost(cost: DeliveryCost): string {
  const fmt = (n: number, digits = 1) => n.toFixed(digits);
  const { clients, count } = cost.plan;
  return [
    `- ${clients} clients × ${count} lines, ${cost.rate} lines/s delivered to all` +
    `${cost.complete ? "" : " (incomplete)"}; ` +
    `captured ${cost.captured} chat-stream datagrams in the first phase ` +
    `(${fmt(cost.linesPerCaptured)} lines each, ${fmt(cost.capturedBytes, 0)} bytes)`,
    `- client process: ${fmt(cost.clientMicros, 2)} µs CPU per delivery ` +
    `(${fmt(cost.clientCpuSeconds, 2)} s for ${cost.deliveries} deliveries)`,
    `- floor (open the captured datagrams once per client): ${fmt(cost.floorMicros, 2)} µs per ` +
    `delivery; client / floor = ${fmt(cost.clientMicros / cost.floorMicros, 2)}`,
    `- leader: ${fmt(cost.leaderMicros)} µs CPU per sequenced line; ` +
    `per line ${fmt(cost.receivedPerLine, 2)} datagrams received, ` +
    `${fmt(cost.sentPerLine, 2)} sent; ` +
    `${fmt(cost.linesPerStream)} lines per stream datagram`,
  ].join("\n");
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "10" },
      count: { type: "string", default: "2000" },
      rounds: { type: "string", default: "5" },
    },
  });
  const plan = {
    clients: Number(flags.clients),
    count: Number(flags.count),
    rounds: Number(flags.rounds),
  };
  for (const [name, value] of Object.entries(plan)) {
    if (!Number.isInteger(value) || value <= 0) {
      console.error(
        `--${name}: expected a positive whole number, got ${
          JSON.stringify(flags[name as keyof typeof plan])
        }`,
      );
      Deno.exit(2);
    }
  }
  console.log(formatDeliveryCost(await measureDeliveryCost(plan)));
}
