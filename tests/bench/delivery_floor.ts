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
 * [--rounds 5]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Keyring, peekKind, ReplayGuard, WireCodec } from "../../src/wire/mod.ts";
import { startCluster, stopCluster } from "./chat_cluster.ts";
import { Audience, throughput } from "./chat_load.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "10" },
    count: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
  },
});
const CLIENTS = Number(flags.clients);
const COUNT = Number(flags.count);
const ROUNDS = Number(flags.rounds);
for (const [name, value] of Object.entries({ clients: CLIENTS, count: COUNT, rounds: ROUNDS })) {
  if (!Number.isInteger(value) || value <= 0) {
    console.error(
      `--${name}: expected a positive whole number, got ${
        JSON.stringify(flags[name as "clients"])
      }`,
    );
    Deno.exit(2);
  }
}
const HTTP_PORT = 20_000 + Math.floor(Math.random() * 20_000);

/** The leader's counters that the cost per line is made of. */
interface LeaderCounters {
  cpu: number;
  received: number;
  sent: number;
  streamed: number;
}

/** Reads the leader's counters from its `/metrics`. */
async function leaderCounters(): Promise<LeaderCounters> {
  const text = await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text();
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

/** µs per delivery of opening every datagram once per client, median of `ROUNDS` rounds. */
function floorMicros(datagrams: Uint8Array[], lines: number, secrets: string[], cluster: string) {
  const perDelivery: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const codecs = Array.from({ length: CLIENTS }, (_, i) =>
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
    if (opened !== datagrams.length * CLIENTS) throw new Error("a captured datagram did not open");
    perDelivery.push((ms * 1000) / (lines * CLIENTS));
  }
  perDelivery.sort((a, b) => a - b);
  return perDelivery[Math.floor(perDelivery.length / 2)];
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const cluster = await startCluster(
  "deno",
  (id) => id === "s3" ? ["--http", `127.0.0.1:${HTTP_PORT}`] : [],
);
try {
  const { network, security } = cluster.config;
  const pids = cluster.servers.map((s) => s.pid);
  const audience = await Audience.connect(cluster.config, "deno", CLIENTS, "fl");
  try {
    await throughput(audience, 100, pids);
    const tap = capture(network.group, network.port);
    const first = await throughput(audience, COUNT, pids);
    const datagrams = await tap.stop();
    const meanBytes = datagrams.reduce((sum, d) => sum + d.length, 0) / datagrams.length;
    const before = await leaderCounters();
    const t = await throughput(audience, COUNT, pids);
    const after = await leaderCounters();
    const lines = t.delivered;
    const clientMicros = (t.cpu.clients * 1e6) / (lines * CLIENTS);
    const floor = floorMicros(datagrams, first.delivered, security.secrets, network.cluster);
    const streamed = after.streamed - before.streamed;
    console.log(
      [
        `- ${CLIENTS} clients × ${COUNT} lines, ${t.rate} lines/s delivered to all; ` +
        `captured ${datagrams.length} chat-stream datagrams in the first phase ` +
        `(${fmt(first.delivered / datagrams.length)} lines each, ${fmt(meanBytes, 0)} bytes)`,
        `- client process: ${fmt(clientMicros, 2)} µs CPU per delivery ` +
        `(${fmt(t.cpu.clients, 2)} s for ${lines * CLIENTS} deliveries)`,
        `- floor (open the captured datagrams once per client): ${fmt(floor, 2)} µs per ` +
        `delivery; client / floor = ${fmt(clientMicros / floor, 2)}`,
        `- leader: ${fmt(((after.cpu - before.cpu) * 1e6) / lines)} µs CPU per sequenced line; ` +
        `per line ${fmt((after.received - before.received) / lines, 2)} datagrams received, ` +
        `${fmt((after.sent - before.sent) / lines, 2)} sent; ` +
        `${fmt(lines / Math.max(1, streamed))} lines per stream datagram`,
      ].join("\n"),
    );
  } finally {
    await audience.close();
  }
} finally {
  await stopCluster(cluster.servers);
}
