/**
 * Guarantees of the group view: who is in it, in which state, how departures, restarts and
 * forgetting show, and that the view number grows on every change.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

const a = peer("a");
const b = peer("b");

function member(h: Harness, id: string) {
  return h.core.view().members.find((m) => m.id === id);
}

Deno.test("the view lists this server, then each member with address, state and age", () => {
  const h = new Harness({ id: "m", priority: 3 });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status({ priority: 2 }) });
  h.tick(TIMING.tickIntervalMs);
  const view = h.core.view();
  assert.deepEqual(view.members.map((m) => m.id), ["m", "a"]);
  assert.deepEqual(view.members[0], {
    id: "m",
    role: "server",
    addr: peer("m").addr,
    incarnation: 1,
    priority: 3,
    state: "alive",
    lastHeardAgeMs: 0,
    isLeader: false,
  });
  assert.deepEqual(view.members[1], {
    id: "a",
    role: "server",
    addr: a.addr,
    incarnation: 1,
    priority: 2,
    state: "alive",
    lastHeardAgeMs: TIMING.tickIntervalMs,
    isLeader: false,
  });
});

Deno.test("the view number grows on every change, announced once per step", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const numbers: number[] = [];
  const record = (actions: ReturnType<Harness["tick"]>) => {
    for (const e of events(actions)) if (e.type === "view-changed") numbers.push(e.view);
  };
  record(h.receive(a, { kind: "heartbeat", ...status() }));
  record(h.receive(b, { kind: "heartbeat", ...status() }));
  record(h.receive(a, { kind: "heartbeat", ...status() }));
  record(h.receive(b, { kind: "leave" }));
  assert.deepEqual(numbers, [1, 2, 3]);
  assert.equal(h.core.view().view, 3);
  assert.equal(h.core.stats().viewChanges, 3);
});

Deno.test("a server that leaves cleanly is dropped at once", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  const actions = h.receive(a, { kind: "leave" });
  assert.equal(member(h, "a")?.state, "left");
  assert.deepEqual(events(actions).map((e) => e.type), ["member-left", "view-changed"]);
  h.receive(a, { kind: "heartbeat", ...status() });
  assert.equal(
    member(h, "a")?.state,
    "left",
    "late datagrams of the departed process change nothing",
  );
});

Deno.test("a restarted server rejoins, and its old incarnation is ignored", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  h.receive(a, { kind: "leave" });
  const restarted = peer("a", 2);
  const actions = h.receive(restarted, { kind: "heartbeat", ...status({ joining: true }) });
  assert.ok(events(actions).some((e) => e.type === "member-joined" && e.member.incarnation === 2));
  assert.deepEqual([member(h, "a")?.state, member(h, "a")?.incarnation], ["alive", 2]);
  const stale = h.receive(a, { kind: "leave" });
  assert.deepEqual(events(stale), []);
  assert.equal(member(h, "a")?.state, "alive");
});

Deno.test("a server declared dead that is heard again is alive again", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  h.tickUntil(1_000);
  assert.equal(member(h, "a")?.state, "dead");
  const actions = h.receive(a, { kind: "heartbeat", ...status() });
  assert.ok(events(actions).some((e) => e.type === "member-alive-again" && e.member.id === "a"));
  assert.equal(member(h, "a")?.state, "alive");
});

Deno.test("dead and departed members are forgotten after forgetAfterMs", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  h.receive(a, { kind: "leave" });
  const before = h.core.view().view;
  h.tickUntil(TIMING.forgetAfterMs - TIMING.tickIntervalMs);
  assert.equal(member(h, "a")?.state, "left");
  h.tickUntil(TIMING.forgetAfterMs + TIMING.tickIntervalMs);
  assert.equal(member(h, "a"), undefined);
  assert.equal(h.core.view().view, before + 1);
});

Deno.test("a joining server is answered by unicast with a welcome listing the live members", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.tickUntil(TIMING.discoveryWindowMs);
  h.receive(a, { kind: "heartbeat", ...status() });
  const newcomer = peer("n");
  const actions = h.receive(newcomer, { kind: "heartbeat", ...status({ joining: true }) });
  const welcomes = sent(actions, "welcome");
  assert.equal(welcomes.length, 1);
  assert.deepEqual(welcomes[0].to, newcomer.addr);
  assert.equal(welcomes[0].body.leader, "m");
  assert.deepEqual(welcomes[0].body.members.map((e) => e.id).sort(), ["a", "n"]);
});

Deno.test("a settled server that is already known gets no welcome", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  const actions = h.receive(a, { kind: "heartbeat", ...status() });
  assert.deepEqual(sent(actions, "welcome"), []);
});

Deno.test("a newcomer learns every member from a welcome", () => {
  const h = new Harness({ id: "n" });
  h.start(0);
  h.receive(a, {
    kind: "welcome",
    ...status({ priority: 5, leader: "a", term: 2 }),
    members: [
      {
        id: "b",
        role: "server",
        host: b.addr.host,
        port: b.addr.port,
        incarnation: 1,
        priority: 0,
      },
      { id: "n", role: "server", host: "10.9.9.9", port: 7401, incarnation: 1, priority: 0 },
    ],
  }, false);
  assert.deepEqual(h.core.view().members.map((m) => [m.id, m.state]), [
    ["n", "alive"],
    ["a", "alive"],
    ["b", "alive"],
  ]);
  assert.deepEqual(h.core.leader(), { id: "a", term: 2 });
});
