/**
 * The fault-injecting wrapper, its spec parser and the seeded generator behind them. The inner
 * transport is a recorder, so every decision is observed synchronously and no socket is opened.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type FaultSpec,
  FaultSpecError,
  noFaults,
  parseFaultSpec,
  REORDER_HOLD_MS,
  withFaults,
} from "../src/transport/faulty_transport.ts";
import type { Address, ReceiveHandler, Transport, TransportStats } from "../src/transport/types.ts";
import { SeededRandom } from "../src/util/random.ts";

const PEER: Address = { host: "127.0.0.1", port: 9 };
const SEED = 42;

/** Records what the wrapper sends and lets a test inject received datagrams. */
class Recorder implements Transport {
  readonly kind = "memory";
  readonly localAddress: Address = { host: "127.0.0.1", port: 7 };
  readonly joinedInterfaces = [];
  readonly sent: { data: number[]; to: Address | "group" }[] = [];
  handler: ReceiveHandler | undefined;
  closed = false;

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
  send(data: Uint8Array, to: Address): void {
    this.sent.push({ data: [...data], to });
  }
  sendToGroup(data: Uint8Array): void {
    this.sent.push({ data: [...data], to: "group" });
  }
  stats(): TransportStats {
    return {
      sentDatagrams: this.sent.length,
      sentBytes: 0,
      receivedDatagrams: 0,
      receivedBytes: 0,
      sendErrors: 0,
    };
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function spec(text: string): FaultSpec {
  return parseFaultSpec(text);
}

/** Sends datagrams [i] for i in 0..count-1 and returns what reached the inner transport. */
async function sendNumbered(faults: FaultSpec, count: number, seed = SEED, settleMs = 0) {
  const inner = new Recorder();
  const faulty = withFaults(inner, faults, seed);
  for (let i = 0; i < count; i++) faulty.send(new Uint8Array([i]), PEER);
  if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
  const stats = faulty.faultStats();
  await faulty.close();
  return { sent: inner.sent.map((s) => s.data[0]), stats, inner };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("no faults: every datagram passes once, in order, to its destination", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, noFaults(), SEED);
  faulty.send(new Uint8Array([1]), PEER);
  faulty.sendToGroup(new Uint8Array([2]));
  assert.deepEqual(inner.sent, [{ data: [1], to: PEER }, { data: [2], to: "group" }]);
  assert.equal(faulty.kind, "memory");
  assert.deepEqual(faulty.localAddress, inner.localAddress);
  await faulty.close();
  assert.ok(inner.closed, "closing the wrapper closes the inner transport");
});

Deno.test("drop=1 drops every datagram and counts it", async () => {
  const { sent, stats } = await sendNumbered(spec("drop=1"), 100);
  assert.deepEqual(sent, []);
  assert.equal(stats.out.dropped, 100);
});

Deno.test("dup=1 sends every datagram twice", async () => {
  const { sent, stats } = await sendNumbered(spec("dup=1"), 50);
  assert.deepEqual(sent, range(50).flatMap((i) => [i, i]));
  assert.equal(stats.out.duplicated, 50);
});

Deno.test("corrupt=1 flips 1-3 bits of a copy, never the caller's data", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("corrupt=1"), SEED);
  const original = new Uint8Array(32).fill(0xaa);
  for (let i = 0; i < 200; i++) faulty.send(original, PEER);
  assert.deepEqual([...original], new Array(32).fill(0xaa));
  const flipCounts = new Set<number>();
  for (const { data } of inner.sent) {
    let flipped = 0;
    for (const byte of data) {
      for (let x = byte ^ 0xaa; x; x &= x - 1) flipped++;
    }
    assert.ok(flipped >= 1 && flipped <= 3, `${flipped} bits flipped`);
    flipCounts.add(flipped);
  }
  assert.deepEqual([...flipCounts].sort(), [1, 2, 3]);
  assert.equal(faulty.faultStats().out.corrupted, 200);
  await faulty.close();
});

Deno.test("reorder changes the order but loses nothing", async () => {
  const { sent, stats } = await sendNumbered(spec("reorder=0.3"), 100, SEED, REORDER_HOLD_MS * 3);
  assert.notDeepEqual(sent, range(100));
  assert.deepEqual([...sent].sort((a, b) => a - b), range(100));
  assert.ok(stats.out.reordered > 10, `${stats.out.reordered} reordered`);
});

Deno.test("a held datagram goes after the hold time when nothing overtakes it", async () => {
  const { sent } = await sendNumbered(spec("reorder=1"), 1, SEED, REORDER_HOLD_MS * 3);
  assert.deepEqual(sent, [0]);
});

Deno.test("delay holds every datagram for a time within the range", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("delay=20-30"), SEED);
  const start = performance.now();
  faulty.send(new Uint8Array([1]), PEER);
  assert.deepEqual(inner.sent, []);
  while (inner.sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(performance.now() - start >= 19, "not before the range starts");
  assert.equal(faulty.faultStats().out.delayed, 1);
  await faulty.close();
});

Deno.test("close clears pending delays and held datagrams", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("out.delay=50,in.reorder=1"), SEED);
  let received = 0;
  faulty.onReceive(() => received++);
  faulty.send(new Uint8Array([1]), PEER);
  inner.handler?.(new Uint8Array([2]), PEER, false);
  await faulty.close();
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(inner.sent, []);
  assert.equal(received, 0);
});

Deno.test("faults apply per direction", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("in.drop=1,out.dup=1"), SEED);
  let received = 0;
  faulty.onReceive(() => received++);
  inner.handler?.(new Uint8Array([5]), PEER, true);
  faulty.send(new Uint8Array([6]), PEER);
  assert.equal(received, 0);
  assert.deepEqual(inner.sent.map((s) => s.data[0]), [6, 6]);
  assert.equal(faulty.faultStats().in.dropped, 1);
  await faulty.close();
});

Deno.test("received datagrams pass with their sender and viaGroup", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("out.drop=1"), SEED);
  const received: [number, Address, boolean][] = [];
  faulty.onReceive((data, from, viaGroup) => received.push([data[0], from, viaGroup]));
  inner.handler?.(new Uint8Array([7]), PEER, true);
  inner.handler?.(new Uint8Array([8]), PEER, false);
  assert.deepEqual(received, [[7, PEER, true], [8, PEER, false]]);
  await faulty.close();
});

Deno.test("the same seed gives the same faults; another seed other faults", async () => {
  const mixed = spec("drop=0.2,dup=0.2,reorder=0.2,corrupt=0.2");
  const run = async (seed: number) => {
    const inner = new Recorder();
    const faulty = withFaults(inner, mixed, seed);
    for (let i = 0; i < 200; i++) faulty.send(new Uint8Array([i, i, i, i]), PEER);
    const stats = faulty.faultStats();
    await faulty.close();
    return { sent: inner.sent, stats };
  };
  const first = await run(SEED);
  assert.deepEqual(await run(SEED), first);
  assert.notDeepEqual(await run(SEED + 1), first);
  assert.ok(first.stats.out.dropped > 0 && first.stats.out.corrupted > 0);
});

Deno.test("parseFaultSpec reads every fault, per direction, and the seed", () => {
  const parsed = parseFaultSpec(
    "drop=0.2,dup=0.05,reorder=0.1,delay=5-20,corrupt=0.01,in.drop=0.1,out.dup=0.02,seed=42",
  );
  assert.deepEqual(parsed, {
    in: { drop: 0.1, duplicate: 0.05, reorder: 0.1, corrupt: 0.01, delayMs: [5, 20] },
    out: { drop: 0.2, duplicate: 0.02, reorder: 0.1, corrupt: 0.01, delayMs: [5, 20] },
    seed: 42,
  });
  assert.deepEqual(parseFaultSpec("in.drop=0.5, drop=0.1").in.drop, 0.5, "scoped wins anywhere");
  assert.deepEqual(parseFaultSpec("delay=7").out.delayMs, [7, 7]);
  assert.deepEqual(parseFaultSpec(""), noFaults());
  assert.deepEqual(parseFaultSpec("drop=1,").out.drop, 1);
});

Deno.test("parseFaultSpec names the bad item", () => {
  const bad: [string, string][] = [
    ["drop=1.5", `fault spec "drop=1.5": drop must be a probability from 0 to 1`],
    ["drop=-0.1", `fault spec "drop=-0.1": drop must be a probability from 0 to 1`],
    ["dup=lots", `fault spec "dup=lots": dup must be a probability from 0 to 1`],
    ["drop", `fault spec "drop": expected key=value`],
    [
      "jitter=3",
      `fault spec "jitter=3": unknown fault "jitter"; use drop, dup, reorder, delay or corrupt ` +
      `(optionally prefixed in. or out.), or seed`,
    ],
    [
      "up.drop=0.1",
      `fault spec "up.drop=0.1": unknown fault "up.drop"; use drop, dup, reorder, delay or ` +
      `corrupt (optionally prefixed in. or out.), or seed`,
    ],
    [
      "delay=20-5",
      `fault spec "delay=20-5": delay must be milliseconds, MIN-MAX with MIN <= MAX (e.g. 5-20)`,
    ],
    ["seed=abc", `fault spec "seed=abc": seed must be a whole number`],
    ["drop=0.1,drop=0.2", `fault spec "drop=0.2": drop is given twice`],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseFaultSpec(text), new FaultSpecError(message), text);
  }
});

Deno.test("SeededRandom: same seed same sequence, values in range", () => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const first = range(100).map(() => a.next());
  assert.deepEqual(range(100).map(() => b.next()), first);
  const other = new SeededRandom(8);
  assert.notDeepEqual(range(100).map(() => other.next()), first);
  assert.ok(first.every((x) => x >= 0 && x < 1));
  const r = new SeededRandom(1);
  const ints = range(1000).map(() => r.int(6));
  assert.deepEqual([...new Set(ints)].sort(), [0, 1, 2, 3, 4, 5]);
  assert.equal(r.chance(0), false);
  assert.equal(r.chance(1), true);
  assert.ok(["x", "y"].includes(r.pick(["x", "y"])));
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.pick([]), RangeError);
  assert.throws(() => new SeededRandom(NaN), RangeError);
  assert.notEqual(new SeededRandom(2 ** 40).next(), new SeededRandom(2 ** 40 + 1).next());
});

Deno.test("corrupting a Node Buffer leaves the caller's Buffer intact", async () => {
  const inner = new Recorder();
  const faulty = withFaults(inner, spec("corrupt=1"), SEED);
  const original = Buffer.alloc(16, 0x11);
  faulty.send(original, PEER);
  assert.deepEqual([...original], new Array(16).fill(0x11));
  assert.notDeepEqual(inner.sent[0].data, new Array(16).fill(0x11));
  await faulty.close();
});
