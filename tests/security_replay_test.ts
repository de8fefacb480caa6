/**
 * Replays across processes (loopback only): a datagram captured on its way to one process and
 * sent again, to it or to another, is never accepted twice. A unicast datagram is bound to its
 * receiver's id, so another process rejects it as misdirected even though it never saw that
 * sequence number; a group datagram replayed to a process that never heard its sender is
 * accepted only within the clock-skew bound.
 *
 * @module
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { type Config, resolveConfig } from "../src/config/mod.ts";
import { Endpoint } from "../src/net/endpoint.ts";
import type { Address } from "../src/transport/types.ts";
import type { RejectReason } from "../src/wire/mod.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";
import { layout } from "./helpers/wire_seal.ts";

/**
 * Bound on clock skew for this test: long enough that a busy machine never delays a prompt replay
 * past it; the late replays come after a jump of the wall clock instead of a wait.
 */
const SKEW_MS = 60_000;

/** Moves this process's wall clock (`Date.now`) forward by `ms`; returns the undo. */
function jumpWallClock(ms: number): () => void {
  const now = Date.now;
  Date.now = () => now() + ms;
  return () => {
    Date.now = now;
  };
}

async function open(config: Config, id: string): Promise<Endpoint> {
  return await Endpoint.open({ config, role: "server", joinGroup: true, unicastPort: 0, id });
}

/** Records every datagram `endpoint` sends, by unicast and to the group. */
function capture(endpoint: Endpoint): { unicast: Uint8Array[]; group: Uint8Array[] } {
  const sent = { unicast: [] as Uint8Array[], group: [] as Uint8Array[] };
  const transport = endpoint.transport;
  const send = transport.send.bind(transport);
  const sendToGroup = transport.sendToGroup.bind(transport);
  transport.send = (data, to) => {
    sent.unicast.push(data.slice());
    send(data, to);
  };
  transport.sendToGroup = (data) => {
    sent.group.push(data.slice());
    sendToGroup(data);
  };
  return sent;
}

/** Counts the authenticated envelopes an endpoint hands on. */
function accepted(endpoint: Endpoint): () => number {
  let count = 0;
  endpoint.onEnvelope(() => count++);
  return () => count;
}

function rejected(endpoint: Endpoint, reason: RejectReason): number {
  return endpoint.stats().rejections[reason];
}

Deno.test("a captured datagram is rejected wherever and whenever it is replayed", async () => {
  const base = loopbackConfig();
  const config = resolveConfig({
    security: { secrets: ["replay-test"], maxClockSkewMs: SKEW_MS },
  }, base);
  const wrongKey = resolveConfig({ security: { secrets: ["another"] } }, config);
  const endpoints: Endpoint[] = [];
  let undoJump = () => {};
  const raw = dgram.createSocket("udp4");
  const inject = (data: Uint8Array, to: Address) =>
    new Promise<void>((resolve, reject) =>
      raw.send(data, to.port, to.host, (error) => error ? reject(error) : resolve())
    );
  try {
    const [a, b, c, w] = await Promise.all([
      open(config, "a"),
      open(config, "b"),
      open(config, "c"),
      open(wrongKey, "w"),
    ]);
    endpoints.push(a, b, c, w);
    const sent = capture(a);
    const [heardByA, heardByB, heardByC] = [accepted(a), accepted(b), accepted(c)];

    a.send({ kind: "ping", nonce: 1 }, b.self.addr);
    await until("b got a's first ping", () => heardByB() === 1);
    const unbound = sent.unicast[0];
    assert.equal(unbound[layout(unbound).receiverLenAt], 0, "a had not heard b: no receiver");

    b.multicast({ kind: "ping", nonce: 2 });
    await until("a and c heard b", () => heardByA() === 1 && heardByC() === 1);
    a.send({ kind: "ping", nonce: 3 }, b.self.addr);
    await until("b got a's second ping", () => heardByB() === 2);
    const bound = sent.unicast[1];
    assert.ok(bound[layout(bound).receiverLenAt] > 0, "a had heard b: bound to b");

    await inject(bound, c.self.addr);
    await until("c rejected the copy as misdirected", () => rejected(c, "misdirected") === 1);
    await inject(bound, b.self.addr);
    await until("b rejected the copy as replayed", () => rejected(b, "replayed") === 1);
    await inject(bound, w.self.addr);
    await until("w, with another key, cannot read it", () => rejected(w, "unknown-key") === 1);
    const corrupt = bound.slice();
    corrupt[layout(corrupt).bodyAt] ^= 0x01;
    await inject(corrupt, c.self.addr);
    await until("c rejected the corrupt copy", () => rejected(c, "bad-tag") === 1);

    a.multicast({ kind: "ping", nonce: 4 });
    await until("b and c got the group ping", () => heardByB() === 3 && heardByC() === 2);
    const group = sent.group[0];
    await inject(group, c.self.addr);
    await until("c rejected the group copy as replayed", () => rejected(c, "replayed") === 1);

    undoJump = jumpWallClock(SKEW_MS * 2);
    const late = await open(config, "late");
    endpoints.push(late);
    const heardByLate = accepted(late);
    await inject(group, late.self.addr);
    await inject(unbound, late.self.addr);
    await until("late rejected both as too old", () => rejected(late, "too-old") === 2);
    await inject(bound, b.self.addr);
    await until("b rejected the late copy as too old", () => rejected(b, "too-old") === 1);
    assert.equal(heardByLate(), 0);
    assert.equal(heardByB(), 3);
    assert.equal(heardByC(), 2);
    assert.equal(rejected(c, "too-old") + rejected(c, "malformed"), 0);
  } finally {
    undoJump();
    raw.close();
    for (const endpoint of endpoints) await endpoint.close();
  }
});
