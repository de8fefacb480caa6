/**
 * The fast path of failure detection: a closed liveness connection (the peer's process ended)
 * makes the server suspect at once and verify it, instead of after `suspectAfterMs` of silence;
 * a live server refutes it, and closes forged in a row cannot keep it suspect. And the core's
 * next deadline: a calm cluster's core is due at its next heartbeat, not every tick.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

const a = peer("a");
const b = peer("b");
const c = peer("c");
const everyone = () => [a, b, c].map((sender) => ({ sender, status: status() }));

function stateOf(h: Harness, id: string): string | undefined {
  return h.core.view().members.find((m) => m.id === id)?.state;
}

/** A core that heard a, b and c all along until `until`. */
function calm(until = 2_000): Harness {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.liveWith(until, everyone());
  return h;
}

function closed(h: Harness, who = a) {
  return h.core.step({ type: "peer-closed", addr: who.addr, now: h.now });
}

Deno.test("a closed connection makes the server suspect at once and verifies it", () => {
  const h = calm();
  const actions = closed(h);
  assert.equal(stateOf(h, "a"), "suspect");
  assert.ok(events(actions).some((e) => e.type === "member-suspect" && e.member.id === "a"));
  assert.deepEqual(sent(actions, "ping").map((p) => p.to), [a.addr]);
  assert.equal(sent(actions, "ping-req").length, TIMING.indirectProbes);
});

Deno.test("a server whose connection closed and that stays silent is dead after the probe", () => {
  const h = calm();
  const closedAt = h.now;
  closed(h);
  const others = [b, c].map((sender) => ({ sender, status: status() }));
  h.liveWith(closedAt + TIMING.probeTimeoutMs + 3 * TIMING.tickIntervalMs, others);
  assert.equal(stateOf(h, "a"), "dead");
  // Silence alone would not even have made it suspect yet.
  assert.ok(h.now < closedAt + TIMING.suspectAfterMs);
});

Deno.test("a live server answers the probe: a forged close changes nothing lasting", () => {
  const h = calm();
  const actions = closed(h);
  const nonce = sent(actions, "ping")[0].body.nonce;
  h.receive(a, { kind: "ack", nonce, target: "a" });
  assert.equal(stateOf(h, "a"), "alive");
  // Another close right after is ignored: forged closes cannot keep a live server flapping.
  const again = closed(h);
  assert.equal(stateOf(h, "a"), "alive");
  assert.deepEqual(sent(again, "ping"), []);
  h.liveWith(h.now + 2_000, everyone());
  assert.equal(h.core.stats().deathsDeclared, 0);
});

Deno.test("a close from an address no member has is ignored", () => {
  const h = calm();
  const actions = closed(h, peer("stranger"));
  assert.deepEqual(sent(actions, "ping"), []);
  assert.ok(h.core.view().members.every((m) => m.state === "alive"));
});

Deno.test("a calm core is due at its next heartbeat; ticks before that do nothing", () => {
  const h = calm();
  const due = h.core.dueAt();
  assert.ok(due > h.now + TIMING.tickIntervalMs, `due ${due - h.now} ms after the last event`);
  assert.ok(due <= h.now + TIMING.heartbeatIntervalMs);
  const early = h.tick(due - 1);
  assert.deepEqual(early, []);
  assert.ok(sent(h.tick(due), "heartbeat").length > 0);
});

Deno.test("while a member is suspect the core is due at once", () => {
  const h = calm();
  closed(h);
  assert.equal(h.core.dueAt(), h.now);
});
