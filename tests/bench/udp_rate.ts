/**
 * Measures how many 64-byte unicast datagrams per second one transport delivers on loopback,
 * through the {@linkcode Transport} interface: one sender and `--receivers` receivers (default
 * 1), every datagram sent to each receiver; the rate counts datagrams that reached every
 * receiver. The chat benchmark uses it with three receivers as its raw reference.
 *
 * Sender and receivers share this process. The sender sends in bursts and keeps at most
 * `--window` datagrams in flight towards the slowest receiver, so the figure is what the
 * receivers keep up with, not how fast a socket buffer overflows: the default window stays under
 * the ~256 small datagrams that Linux's default receive buffer holds (Deno's transports do not
 * enlarge it). A stall (lost datagrams) ends after `--stall-ms` without progress.
 *
 * Run under Deno:  `deno run --unstable-net -A tests/bench/udp_rate.ts --transport deno|node`
 * Run under Node:  `deno run -A tests/bench/udp_bundle.ts` prints the bundle's path, then
 *                  `node <path> --transport node`.
 *
 * Options: `--count N` (datagrams, default 200000), `--receivers N` (default 1), `--burst N`
 * (default 64), `--window N` (default 192), `--size N` (bytes, default 64), `--stall-ms N`
 * (default 200), `--json` (print one {@linkcode RawResult} as JSON instead of a text line).
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { chooseTransportKind, openTransport } from "../../src/transport/select.ts";
import type { TransportOptions } from "../../src/transport/types.ts";

/** What one run measured. */
export interface RawResult {
  /** Runtime that ran the measurement, e.g. `node 20.20.2`. */
  runtime: string;
  /** Transport kind. */
  transport: string;
  /** Receivers every datagram was sent to. */
  receivers: number;
  /** Datagrams sent (each to every receiver). */
  sent: number;
  /** Datagrams received by the slowest receiver. */
  received: number;
  /** First send → last datagram of the slowest receiver, ms. */
  elapsedMs: number;
  /** Datagrams per second that reached every receiver. */
  rate: number;
}

function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

function numberFlag(name: string, fallback: number): number {
  const value = Number(flag(name, String(fallback)));
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`--${name} ${flag(name, "")}: expected a positive whole number`);
  }
  return value;
}

const kindFlag = flag("transport", "");
if (kindFlag !== "" && kindFlag !== "deno" && kindFlag !== "node") {
  throw new Error(`--transport ${kindFlag}: use deno or node`);
}
const kind = chooseTransportKind(kindFlag === "" ? undefined : kindFlag);
const count = numberFlag("count", 200_000);
const receiverCount = numberFlag("receivers", 1);
const burst = numberFlag("burst", 64);
const window = numberFlag("window", 192);
const size = numberFlag("size", 64);
const stallMs = numberFlag("stall-ms", 200);

const options: TransportOptions = {
  group: "239.255.77.78",
  port: 7400,
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
  Array.from({ length: receiverCount }, () => openTransport(options, kind)),
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

/** Waits until the slowest receiver progresses (true) or `stallMs` pass without it (false). */
async function progressed(): Promise<boolean> {
  const before = slowest();
  const from = performance.now();
  while (slowest() === before) {
    if (performance.now() - from > stallMs) return false;
    await yieldOnce();
  }
  return true;
}

const payload = new Uint8Array(size).fill(0x5a);
const targets = receivers.map((r) => r.localAddress);
const start = performance.now();
let sent = 0;
// Datagrams given up as lost after a stall; they no longer count as in flight.
let abandoned = 0;
while (sent < count) {
  if (sent - slowest() - abandoned >= window) {
    if (!(await progressed())) abandoned = sent - slowest();
    continue;
  }
  const n = Math.min(burst, count - sent);
  for (let i = 0; i < n; i++) for (const to of targets) sender.send(payload, to);
  sent += n;
  await yieldOnce();
}
while (slowest() < sent && await progressed());
const delivered = slowest();
const elapsedMs = (delivered > 0 ? lastReceiveAt : performance.now()) - start;
const sendErrors = sender.stats().sendErrors;
await Promise.all([sender.close(), ...receivers.map((r) => r.close())]);

const result: RawResult = {
  runtime: "Deno" in globalThis
    ? `deno ${globalThis.Deno.version.deno}`
    : `node ${process.version.slice(1)}`,
  transport: kind,
  receivers: receiverCount,
  sent,
  received: delivered,
  elapsedMs: Math.round(elapsedMs),
  rate: Math.round((delivered / elapsedMs) * 1000),
};
if (process.argv.includes("--json")) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    [
      `runtime=${result.runtime}`,
      `transport=${kind}`,
      `receivers=${receiverCount}`,
      `size=${size}`,
      `sent=${sent}`,
      `received=${delivered}`,
      `loss=${((100 * (sent - delivered)) / sent).toFixed(2)}%`,
      `sendErrors=${sendErrors}`,
      `elapsed=${elapsedMs.toFixed(0)}ms`,
      `rate=${result.rate}/s`,
    ].join(" "),
  );
}
