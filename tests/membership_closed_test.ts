/**
 * The fast path of failure detection: a closed liveness connection (the peer's process ended)
 * makes the server probe it at once, instead of after `suspectAfterMs` of silence, and declare it
 * dead if it does not answer; a live server's answer (a forged close) or a `leave` (a clean stop
 * closes it too) leaves no trace in the view, and closes in a row are checked once. And the core's
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

Deno.test("a closed connection makes the server probe the peer at once, quietly", () => {
  const h = calm();
  const actions = closed(h);
  assert.equal(stateOf(h, "a"), "alive");
  assert.deepEqual(events(actions), []);
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

Deno.test("a live server answers the probe: a forged close changes nothing", () => {
  const h = calm();
  const from = h.actions.length;
  const actions = closed(h);
  const nonce = sent(actions, "ping")[0].body.nonce;
  h.receive(a, { kind: "ack", nonce, target: "a" });
  // Another close right after is not checked again: forged closes cannot make a ping flood.
  const again = closed(h);
  assert.deepEqual(sent(again, "ping"), []);
  h.liveWith(h.now + 2_000, everyone());
  assert.equal(stateOf(h, "a"), "alive");
  assert.deepEqual(events(h.actions.slice(from)).filter((e) => e.type !== "view-changed"), []);
  assert.equal(h.core.stats().suspicions, 0);
});

Deno.test("a clean stop (close, then leave) makes the peer left, never suspect", () => {
  const h = calm();
  const from = h.actions.length;
  closed(h);
  h.receive(a, { kind: "leave" });
  h.liveWith(
    h.now + TIMING.probeTimeoutMs + 100,
    [b, c].map((sender) => ({
      sender,
      status: status(),
    })),
  );
  assert.equal(stateOf(h, "a"), "left");
  const kinds = events(h.actions.slice(from)).map((e) => e.type);
  assert.ok(!kinds.includes("member-suspect") && !kinds.includes("member-dead"), `${kinds}`);
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

Deno.test("while a check runs the core is due at once", () => {
  const h = calm();
  closed(h);
  assert.equal(h.core.dueAt(), h.now);
});

Deno.test("a calm core wakes only to send its heartbeats, timers late or not: no merge probe while no server is dead", () => {
  const h = calm();
  const end = h.now + 3_000;
  let nextBeat = h.now + TIMING.heartbeatIntervalMs / 2;
  let wakes = 0;
  let idle = 0;
  while (h.now < end) {
    const due = h.core.dueAt();
    if (nextBeat <= due) {
      h.now = nextBeat;
      for (const p of everyone()) h.receive(p.sender, { kind: "heartbeat", ...p.status });
      nextBeat += TIMING.heartbeatIntervalMs;
      continue;
    }
    h.now = due + (wakes % 2 === 0 ? 7 : 1); // timers fire a little late, by more or less
    wakes++;
    if (sent(h.tick(h.now), "heartbeat").length === 0) idle++;
  }
  assert.ok(wakes >= 3_000 / TIMING.heartbeatIntervalMs - 1, `${wakes} wake-ups`);
  assert.equal(idle, 0, `${idle} of ${wakes} wake-ups sent no heartbeat`);
});
