/**
 * Guarantees of the core's discovery and heartbeats: a starting server announces at once and
 * probes with backoff, heartbeats carry what others need, seeds and peers that multicast does
 * not reach get them by unicast, and the core ignores what is not its business.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

Deno.test("a starting server announces itself at once and probes with backoff", () => {
  const h = new Harness({ id: "m" });
  const times: number[] = [];
  const note = (actions: ReturnType<Harness["tick"]>, at: number) => {
    for (const beat of sent(actions, "heartbeat")) if (beat.body.joining) times.push(at);
  };
  note(h.start(0), 0);
  while (h.now < TIMING.discoveryWindowMs) {
    const at = h.now + TIMING.tickIntervalMs;
    note(h.tick(at), at);
  }
  assert.deepEqual(times, [0, 100, 200, 400]);
});

Deno.test("a settled server heartbeats every interval with its leader, term and view", () => {
  const h = new Harness({ id: "m", priority: 4 });
  h.start(0);
  h.tickUntil(TIMING.discoveryWindowMs - TIMING.tickIntervalMs);
  const actions = h.tickUntil(TIMING.discoveryWindowMs + 1_000 - TIMING.tickIntervalMs);
  const beats = sent(actions, "heartbeat");
  assert.equal(beats.length, 1_000 / TIMING.heartbeatIntervalMs);
  assert.ok(beats.every((b) => b.to === "group"));
  assert.deepEqual(beats[0].body, {
    kind: "heartbeat",
    version: "test",
    priority: 4,
    leader: "m",
    term: 1,
    view: 0,
    joining: false,
  });
});

Deno.test("seeds get every heartbeat by unicast, and so do peers not heard over multicast", () => {
  const seed = { host: "192.0.2.7", port: 7401 };
  const h = new Harness({ id: "m", seeds: [seed, peer("m").addr] });
  const first = h.start(0);
  assert.deepEqual(sent(first, "heartbeat").map((b) => b.to), ["group", seed]);
  h.tickUntil(TIMING.discoveryWindowMs - TIMING.tickIntervalMs);
  const viaUnicast = peer("u");
  h.receive(viaUnicast, { kind: "heartbeat", ...status() }, false);
  const viaGroup = peer("g");
  h.receive(viaGroup, { kind: "heartbeat", ...status() }, true);
  const actions = h.tick(TIMING.discoveryWindowMs);
  assert.deepEqual(sent(actions, "heartbeat").map((b) => b.to), ["group", seed, viaUnicast.addr]);
});

Deno.test("the core ignores its own envelopes and discover requests", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  assert.deepEqual(h.receive(peer("m"), { kind: "heartbeat", ...status() }), []);
  assert.deepEqual(h.receive(peer("p"), { kind: "discover", nonce: 1 }), []);
  assert.deepEqual(
    h.receive(peer("p"), {
      kind: "discover-reply",
      nonce: 1,
      version: "x",
      priority: 0,
      uptimeMs: 1,
      viaGroup: true,
      leader: "p",
      term: 1,
      view: 1,
      viewSize: 1,
      clients: 0,
      rejections: {},
    }),
    [],
  );
  assert.deepEqual(h.core.view().members.map((m) => m.id), ["m"]);
});

Deno.test("clients do not take part in elections", () => {
  const h = new Harness({ id: "a" });
  h.start(0);
  const client = { ...peer("zz-client"), role: "client" as const };
  h.receive(client, { kind: "coordinator", term: 9, priority: 9 });
  h.receive(client, { kind: "election", term: 9, priority: 9 });
  h.tickUntil(TIMING.discoveryWindowMs);
  assert.deepEqual(h.core.leader(), { id: "a", term: 1 });
});

Deno.test("a clean stop multicasts leave, and the stopped core does nothing more", () => {
  const h = new Harness({ id: "m", seeds: [{ host: "192.0.2.7", port: 7401 }] });
  h.start(0);
  h.tickUntil(1_000);
  const actions = h.stop();
  assert.deepEqual(sent(actions, "leave").map((l) => l.to), ["group", {
    host: "192.0.2.7",
    port: 7401,
  }]);
  assert.deepEqual(h.tickUntil(2_000), []);
  assert.deepEqual(h.receive(peer("a"), { kind: "ping", nonce: 1 }), []);
  assert.equal(h.core.view().members[0].state, "left");
});

Deno.test("events before start are ignored and a second start changes nothing", () => {
  const h = new Harness({ id: "m" });
  assert.deepEqual(h.tick(10), []);
  assert.deepEqual(h.receive(peer("a"), { kind: "heartbeat", ...status() }), []);
  h.start(20);
  assert.deepEqual(h.start(30), []);
  assert.deepEqual(events(h.actions).filter((e) => e.type === "member-joined"), []);
});
