/**
 * Guarantees of the Bully election, each test named after the property it protects; the core
 * is driven by hand (see `tests/sim/harness.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { compareOrder, outranks } from "../src/election/order.ts";
import type { Sender } from "../src/wire/messages.ts";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

const DISCOVERY_END = TIMING.discoveryWindowMs;

Deno.test("the Bully order ranks priority first, then id, and never ties two servers", () => {
  assert.ok(compareOrder({ priority: 1, id: "a" }, { priority: 0, id: "z" }) > 0);
  assert.ok(compareOrder({ priority: 0, id: "b" }, { priority: 0, id: "a" }) > 0);
  assert.ok(compareOrder({ priority: -1, id: "z" }, { priority: 0, id: "a" }) < 0);
  assert.equal(compareOrder({ priority: 0, id: "a" }, { priority: 0, id: "a" }), 0);
  assert.ok(outranks({ priority: 0, id: "10.0.0.1:7402" }, { priority: 0, id: "10.0.0.1:7401" }));
  const servers = [{ priority: 0, id: "c" }, { priority: 2, id: "a" }, { priority: 0, id: "d" }];
  assert.deepEqual(servers.sort(compareOrder).map((s) => s.id), ["c", "d", "a"]);
});

Deno.test("a lone server elects itself right after the discovery window", () => {
  const h = new Harness();
  h.start(0);
  assert.deepEqual(sent(h.tickUntil(DISCOVERY_END - TIMING.tickIntervalMs), "election"), []);
  assert.equal(h.core.leader().id, null);
  const actions = h.tickUntil(DISCOVERY_END);
  assert.deepEqual(
    events(actions).filter((e) => e.type !== "view-changed").map((e) => e.type),
    ["election-started", "election-won", "leader-changed"],
  );
  assert.deepEqual(sent(actions, "coordinator"), [
    { to: "group", body: { kind: "coordinator", term: 1, priority: 0 } },
  ]);
  assert.deepEqual(h.core.leader(), { id: "m", term: 1 });
});

Deno.test("a newcomer adopts a higher-ordered leader it hears, without an election", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  h.receive(z, { kind: "heartbeat", ...status({ leader: "z", term: 4 }) });
  assert.deepEqual(h.core.leader(), { id: "z", term: 4 });
  const actions = h.liveWith(2_000, [{ sender: z, status: status({ leader: "z", term: 4 }) }]);
  assert.equal(events(actions).filter((e) => e.type === "election-started").length, 0);
  assert.equal(h.core.stats().electionsStarted, 0);
});

Deno.test("a higher-ordered server that joins takes over leadership", () => {
  const h = new Harness({ id: "z" });
  h.start(0);
  const a = peer("a");
  h.receive(a, { kind: "heartbeat", ...status({ leader: "a", term: 4 }) });
  assert.equal(h.core.leader().id, null, "a lower-ordered leader is never adopted");
  const actions = h.liveWith(DISCOVERY_END, [{
    sender: a,
    status: status({ leader: "a", term: 4 }),
  }]);
  assert.deepEqual(sent(actions, "coordinator").map((c) => c.body.term), [5]);
  assert.deepEqual(h.core.leader(), { id: "z", term: 5 });
});

Deno.test("a stale COORDINATOR (lower term than the known leader's) is ignored", () => {
  const h = new Harness({ id: "a" });
  h.start(0);
  h.receive(peer("y"), { kind: "coordinator", term: 5, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "y", term: 5 });
  h.receive(peer("x"), { kind: "coordinator", term: 3, priority: 0 });
  h.receive(peer("z"), { kind: "coordinator", term: 4, priority: 0 });
  h.receive(peer("z"), { kind: "heartbeat", ...status({ leader: "z", term: 4 }) });
  assert.deepEqual(h.core.leader(), { id: "y", term: 5 });
});

Deno.test("equal-term leadership claims resolve by the Bully order", () => {
  const h = new Harness({ id: "a" });
  h.start(0);
  h.receive(peer("y"), { kind: "coordinator", term: 5, priority: 0 });
  h.receive(peer("z"), { kind: "coordinator", term: 5, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "z", term: 5 });
  h.receive(peer("y"), { kind: "coordinator", term: 5, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "z", term: 5 });
});

Deno.test("a lower-ordered claimant does not displace a live higher-ordered leader", () => {
  const h = new Harness({ id: "a" });
  h.start(0);
  h.receive(peer("z"), { kind: "coordinator", term: 5, priority: 0 });
  h.receive(peer("y"), { kind: "coordinator", term: 6, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "z", term: 5 });
});

Deno.test("a claim by a lower-ordered server is answered by an election that takes over", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.tickUntil(DISCOVERY_END);
  assert.deepEqual(h.core.leader(), { id: "m", term: 1 });
  const actions = h.receive(peer("a"), { kind: "coordinator", term: 7, priority: 0 });
  assert.deepEqual(sent(actions, "coordinator").map((c) => [c.to, c.body.term]), [["group", 8]]);
  assert.deepEqual(h.core.leader(), { id: "m", term: 8 });
});

Deno.test("ELECTION from a lower-ordered server is answered; a leader re-asserts itself", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.tickUntil(DISCOVERY_END);
  const a = peer("a");
  const actions = h.receive(a, { kind: "election", term: 2, priority: 0 });
  assert.deepEqual(sent(actions, "answer"), [{ to: a.addr, body: { kind: "answer", term: 2 } }]);
  assert.deepEqual(sent(actions, "coordinator"), [
    { to: a.addr, body: { kind: "coordinator", term: 1, priority: 0 } },
  ]);
  assert.equal(h.core.stats().electionsStarted, 1, "no new election for a term it can satisfy");
});

Deno.test("ELECTION from a higher-ordered server is not answered", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.tickUntil(DISCOVERY_END);
  const actions = h.receive(peer("z"), { kind: "election", term: 2, priority: 0 });
  assert.deepEqual(sent(actions, "answer"), []);
});

Deno.test("a follower of a live higher leader answers ELECTION without starting one", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  const beat = { sender: z, status: status({ leader: "z", term: 3 }) };
  h.liveWith(1_000, [beat]);
  const actions = h.receive(peer("a"), { kind: "election", term: 4, priority: 0 });
  assert.equal(sent(actions, "answer").length, 1);
  assert.equal(h.core.stats().electionsStarted, 0);
});

Deno.test("an election nobody answers is won after electionAnswerTimeoutMs", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  const silentElector = { sender: z, status: status() };
  const started = h.liveWith(DISCOVERY_END + TIMING.tickIntervalMs, [silentElector]);
  assert.deepEqual(sent(started, "election").map((e) => e.to), [z.addr]);
  const waiting = h.liveWith(DISCOVERY_END + TIMING.electionAnswerTimeoutMs - 1, [silentElector]);
  assert.deepEqual(sent(waiting, "coordinator"), []);
  const won = h.liveWith(
    DISCOVERY_END + TIMING.electionAnswerTimeoutMs + 2 * TIMING.tickIntervalMs,
    [
      silentElector,
    ],
  );
  assert.equal(sent(won, "coordinator").length, 1);
  assert.equal(h.core.leader().id, "m");
});

Deno.test("an answered election that never sees COORDINATOR starts again", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  const quiet = { sender: z, status: status() };
  const first = h.liveWith(DISCOVERY_END + TIMING.tickIntervalMs, [quiet]);
  const term = sent(first, "election")[0].body.term;
  h.receive(z, { kind: "answer", term });
  const until = h.now + TIMING.electionCoordinatorTimeoutMs + 2 * TIMING.tickIntervalMs;
  const later = h.liveWith(until, [quiet]);
  assert.deepEqual(sent(later, "coordinator"), [], "an answered server does not claim leadership");
  assert.deepEqual(sent(later, "election").map((e) => e.body.term), [term + 1]);
});

Deno.test("COORDINATOR from the server that answered ends the election", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  const first = h.liveWith(DISCOVERY_END + TIMING.tickIntervalMs, [{
    sender: z,
    status: status(),
  }]);
  const term = sent(first, "election")[0].body.term;
  h.receive(z, { kind: "answer", term });
  h.receive(z, { kind: "coordinator", term, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "z", term });
  const later = h.liveWith(3_000, [{ sender: z, status: status({ leader: "z", term }) }]);
  assert.deepEqual(sent(later, "election"), []);
});

Deno.test("every election uses a term above every term seen", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(peer("a"), { kind: "heartbeat", ...status({ leader: "x", term: 9 }) });
  h.receive(peer("b"), { kind: "election", term: 11, priority: 0 });
  const actions = h.tickUntil(DISCOVERY_END);
  assert.deepEqual(sent(actions, "coordinator").map((c) => c.body.term), [12]);
});

Deno.test("a leader that leaves cleanly is replaced at once, without waiting for detection", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const z = peer("z");
  h.liveWith(1_000, [{ sender: z, status: status({ leader: "z", term: 2 }) }]);
  assert.equal(h.core.leader().id, "z");
  const actions = h.receive(z, { kind: "leave" });
  assert.ok(events(actions).some((e) => e.type === "member-left" && e.member.id === "z"));
  assert.deepEqual(sent(actions, "coordinator").map((c) => c.body.term), [3]);
  assert.deepEqual(h.core.leader(), { id: "m", term: 3 });
});

/** Follower `a` of leader `z` (term 2), which fell silent and is suspect; `y` ranks below `z`. */
function followingSuspect(): { h: Harness; y: Sender } {
  const h = new Harness({ id: "a" });
  h.start(0);
  const z = peer("z");
  const y = peer("y");
  h.liveWith(1_000, [
    { sender: z, status: status({ leader: "z", term: 2 }) },
    { sender: y, status: status({ leader: "z", term: 2 }) },
  ]);
  assert.deepEqual(h.core.leader(), { id: "z", term: 2 });
  h.liveWith(1_000 + TIMING.suspectAfterMs + TIMING.tickIntervalMs, [
    { sender: y, status: status({ leader: "z", term: 2 }) },
  ]);
  assert.equal(h.core.view().members.find((m) => m.id === "z")?.state, "suspect");
  return { h, y };
}

Deno.test("a suspect leader does not block a higher-term claim by a lower server", () => {
  const { h, y } = followingSuspect();
  h.receive(y, { kind: "coordinator", term: 3, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "y", term: 3 });
});

/*
 * One leader per term as a follower sees it: a claim of its leader's term by a lower-ordered
 * server never displaces that leader, not even while the leader is only suspect (it may be
 * paused, and come back still leading at that term). Only a higher term may replace it.
 */
Deno.test("an equal-term claim by a lower-ordered server does not displace a suspect leader", () => {
  const { h, y } = followingSuspect();
  h.receive(y, { kind: "coordinator", term: 2, priority: 0 });
  h.receive(y, { kind: "heartbeat", ...status({ leader: "y", term: 2 }) });
  assert.deepEqual(h.core.leader(), { id: "z", term: 2 });
});
