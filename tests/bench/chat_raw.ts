/**
 * The raw UDP rate the chat benchmark compares with: one sender, three unicast receivers on
 * loopback, 64-byte datagrams through the {@linkcode Transport} interface, every datagram sent to
 * all three. The rate counts datagrams that reached every receiver per second.
 *
 * Like `udp_rate.ts` the sender keeps at most `--window` datagrams in flight towards the slowest
 * receiver, so the figure is what three receivers keep up with, not how fast a socket buffer
 * overflows; a stall (lost datagrams) ends after 200 ms without progress.
 *
 * Run under Deno:  `deno run --unstable-net -A tests/bench/chat_raw.ts --transport deno|node`
 * Run under Node:  `chat.ts` bundles this file with esbuild and runs `node <bundle> --transport
 *                  node`. Prints one JSON line ({@linkcode RawResult}).
 *
 * Options: `--count N` (datagrams, default 100000), `--window N` (default 192).
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { chooseTransportKind, openTransport } from "../../src/transport/select.ts";
import type { TransportOptions } from "../../src/transport/types.ts";

/** What one raw run measured. */
export interface RawResult {
  /** Runtime that ran the measurement, e.g. `node 20.20.2`. */
  runtime: string;
  /** Transport kind. */
  transport: string;
  /** Datagrams sent (each to all three receivers). */
  sent: number;
  /** Datagrams received by the slowest receiver. */
  received: number;
  /** First send → last datagram of the slowest receiver, ms. */
  elapsedMs: number;
  /** Datagrams per second that reached all three receivers. */
  rate: number;
}

const RECEIVERS = 3;
const BURST = 64;
const STALL_MS = 200;
const SIZE = 64;

function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

const kindFlag = flag("transport", "deno");
if (kindFlag !== "deno" && kindFlag !== "node") {
  throw new Error(`--transport ${kindFlag}: use deno or node`);
}
const kind = chooseTransportKind(kindFlag);
const count = Number(flag("count", "100000"));
const window = Number(flag("window", "192"));

const options: TransportOptions = {
  group: "239.255.77.79",
  port: 7401,
  unicastPort: 0,
  joinGroup: false,
  interfaces: [{ name: "lo", address: "127.0.0.1", internal: true }],
  multicastTtl: 1,
  multicastLoopback: true,
  receiveBufferBytes: 4 * 1024 * 1024,
  maxDatagramBytes: 16 * 1024,
};

const yieldOnce = () => new Promise<void>((resolve) => setImmediate(resolve));

const sender = await openTransport(options, kind);
const receivers = await Promise.all(
  Array.from({ length: RECEIVERS }, () => openTransport(options, kind)),
);
const received = receivers.map(() => 0);
let lastReceiveAt = 0;
receivers.forEach((receiver, i) =>
  receiver.onReceive(() => {
    received[i]++;
    lastReceiveAt = performance.now();
  })
);
const slowest = () => Math.min(...received);

/** Waits until the slowest receiver progresses (true) or 200 ms pass without it (false). */
async function progressed(): Promise<boolean> {
  const before = slowest();
  const from = performance.now();
  while (slowest() === before) {
    if (performance.now() - from > STALL_MS) return false;
    await yieldOnce();
  }
  return true;
}

const payload = new Uint8Array(SIZE).fill(0x5a);
const targets = receivers.map((r) => r.localAddress);
const start = performance.now();
let sent = 0;
let abandoned = 0;
while (sent < count) {
  if (sent - slowest() - abandoned >= window) {
    if (!(await progressed())) abandoned = sent - slowest();
    continue;
  }
  const n = Math.min(BURST, count - sent);
  for (let i = 0; i < n; i++) for (const to of targets) sender.send(payload, to);
  sent += n;
  await yieldOnce();
}
while (slowest() < sent && await progressed());
const elapsedMs = lastReceiveAt - start;
await Promise.all([sender.close(), ...receivers.map((r) => r.close())]);

const result: RawResult = {
  runtime: "Deno" in globalThis
    ? `deno ${globalThis.Deno.version.deno}`
    : `node ${process.version.slice(1)}`,
  transport: kind,
  sent,
  received: slowest(),
  elapsedMs: Math.round(elapsedMs),
  rate: Math.round((slowest() / elapsedMs) * 1000),
};
console.log(JSON.stringify(result));
