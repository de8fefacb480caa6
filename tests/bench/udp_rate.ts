/**
 * Measures how many 64-byte unicast datagrams per second one transport receives on loopback,
 * through the {@linkcode Transport} interface.
 *
 * Sender and receiver share this process. The sender sends in bursts and keeps at most
 * `--window` datagrams in flight, so the figure is what the receiver keeps up with, not how fast
 * a socket buffer overflows: the default window stays under the ~256 small datagrams that Linux's
 * default receive buffer holds (Deno's transports do not enlarge it). A stall (lost datagrams)
 * ends after `--stall-ms` without progress.
 *
 * Run under Deno:  `deno run --unstable-net -A tests/bench/udp_rate.ts --transport deno|node`
 * Run under Node:  `deno run -A tests/bench/udp_bundle.ts` prints the bundle's path, then
 *                  `node <path> --transport node`.
 *
 * Options: `--count N` (datagrams, default 200000), `--burst N` (default 64), `--window N`
 * (default 192), `--size N` (bytes, default 64), `--stall-ms N` (default 200).
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { chooseTransportKind, openTransport } from "../../src/transport/select.ts";
import type { TransportOptions } from "../../src/transport/types.ts";

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

const receiver = await openTransport(options, kind);
const sender = await openTransport(options, kind);
let received = 0;
let lastReceiveAt = 0;
receiver.onReceive(() => {
  received++;
  lastReceiveAt = performance.now();
});

/** Waits until another datagram arrives (true) or `stallMs` pass without one (false). */
async function progressed(): Promise<boolean> {
  const before = received;
  const from = performance.now();
  while (received === before) {
    if (performance.now() - from > stallMs) return false;
    await yieldOnce();
  }
  return true;
}

const payload = new Uint8Array(size).fill(0x5a);
const to = receiver.localAddress;
const start = performance.now();
let sent = 0;
// Datagrams given up as lost after a stall; they no longer count as in flight.
let abandoned = 0;
while (sent < count) {
  if (sent - received - abandoned >= window) {
    if (!(await progressed())) abandoned = sent - received;
    continue;
  }
  const n = Math.min(burst, count - sent);
  for (let i = 0; i < n; i++) sender.send(payload, to);
  sent += n;
  await yieldOnce();
}
while (received < sent && await progressed());
const elapsedMs = (received > 0 ? lastReceiveAt : performance.now()) - start;
const sendErrors = sender.stats().sendErrors;
await Promise.all([sender.close(), receiver.close()]);

const runtime = "Deno" in globalThis
  ? `deno ${globalThis.Deno.version.deno}`
  : `node ${process.version.slice(1)}`;
const loss = (100 * (sent - received)) / sent;
console.log(
  [
    `runtime=${runtime}`,
    `transport=${kind}`,
    `size=${size}`,
    `sent=${sent}`,
    `received=${received}`,
    `loss=${loss.toFixed(2)}%`,
    `sendErrors=${sendErrors}`,
    `elapsed=${elapsedMs.toFixed(0)}ms`,
    `rate=${Math.round((received / elapsedMs) * 1000)}/s`,
  ].join(" "),
);
