/**
 * Partition detection and the merge probe of one server core: servers lost involuntarily mark a
 * split (one announcement with the final numbers), a clean leave does not, the split heals when
 * they are back or forgotten, and dead servers are probed by unicast until they answer.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { SplitView } from "../src/membership/events.ts";
import { summarizeView } from "../src/server/status.ts";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

/** A split without the times and addresses: what it says, and the ids it misses. */
function shape(split: SplitView | undefined) {
  if (!split) return undefined;
  const { servers, of, majority, partition } = split;
  return { servers, of, majority, partition, missing: split.missing.map((m) => m.id) };
}

const a = peer("a");
const b = peer("b");
const c = peer("c");

/** A settled core `m` that has heard `a`, `b` and `c`, at t = 1 s. */
function foursome(): Harness {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.liveWith(1_000, [a, b, c].map((sender) => ({ sender, status: status() })));
  return h;
}

/** Time by which silent servers are declared dead and the split has settled. */
const SETTLED = 1_000 + TIMING.suspectAfterMs + TIMING.probeTimeoutMs + TIMING.splitSettleMs +
  4 * TIMING.tickIntervalMs;

Deno.test("servers lost together are announced as one split with its final numbers", () => {
  const h = foursome();
  // b goes silent 300 ms after a: a is dead before b is even suspect.
  const actions = h.liveWith(1_300, [b, c].map((sender) => ({ sender, status: status() })));
  actions.push(...h.liveWith(SETTLED + 300, [{ sender: c, status: status() }]));
  const splits = events(actions).flatMap((e) => e.type === "split" ? [shape(e.split)] : []);
  const expected = { servers: 2, of: 4, majority: false, partition: true, missing: ["a", "b"] };
  assert.deepEqual(splits, [expected]);
  assert.deepEqual(shape(h.core.view().split), expected);
  assert.match(
    summarizeView(h.core.view()),
    /split: 2 of 4 servers \(minority; unreachable: a, b\)/,
  );
});

Deno.test("a server that loses every other at once is a split of one; one server lost alone is unreachable, not a split", () => {
  const alone = foursome();
  alone.tickUntil(SETTLED);
  assert.deepEqual(shape(alone.core.view().split), {
    servers: 1,
    of: 4,
    majority: false,
    partition: true,
    missing: ["a", "b", "c"],
  });
  const majority = foursome();
  majority.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  assert.deepEqual(shape(majority.core.view().split), {
    servers: 3,
    of: 4,
    majority: true,
    partition: false,
    missing: ["a"],
  });
  assert.match(
    summarizeView(majority.core.view()),
    /unreachable, crashed or cut off: a; 3 of 4 servers/,
  );
});

Deno.test("two servers lost far apart are two losses, not a split", () => {
  const h = foursome();
  h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  const later = SETTLED + TIMING.splitBurstMs + 1_000;
  h.liveWith(later, [{ sender: c, status: status() }]);
  h.liveWith(later + SETTLED, [{ sender: c, status: status() }]);
  assert.deepEqual(shape(h.core.view().split), {
    servers: 2,
    of: 4,
    majority: false,
    partition: false,
    missing: ["a", "b"],
  });
});

Deno.test("a lost server whose host is still heard crashed: it is named so, and is no evidence of a split", () => {
  const h = foursome();
  const neighbour = { ...peer("n"), addr: { ...a.addr, port: a.addr.port + 1 } };
  h.liveWith(1_000, [a, b, c, neighbour].map((sender) => ({ sender, status: status() })));
  h.liveWith(SETTLED, [c, neighbour].map((sender) => ({ sender, status: status() })));
  const split = h.core.view().split!;
  assert.deepEqual(split.missing.map((m) => [m.id, m.crashed]), [["a", true], ["b", false]]);
  assert.equal(split.partition, false, "only b may have been cut off");
});

Deno.test("a new server from the host of a dead one replaces it at once", () => {
  const h = foursome();
  h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  assert.equal(h.core.view().members.find((m) => m.id === "a")?.state, "dead");
  const restarted = { ...peer("a2"), addr: { ...a.addr, port: a.addr.port + 7 } };
  const actions = h.liveWith(
    SETTLED + 500,
    [b, c, restarted].map((sender) => ({ sender, status: status() })),
  );
  assert.equal(h.core.view().members.find((m) => m.id === "a"), undefined);
  assert.equal(h.core.view().split, undefined);
  assert.ok(events(actions).some((e) => e.type === "healed"));
});

Deno.test("no split is announced before the deaths have settled", () => {
  const h = foursome();
  const actions = h.tickUntil(SETTLED - TIMING.splitSettleMs);
  assert.ok(events(actions).some((e) => e.type === "member-dead"));
  assert.equal(events(actions).filter((e) => e.type === "split").length, 0);
  assert.equal(h.core.view().split, undefined);
});

Deno.test("the split heals when every lost server is heard again", () => {
  const h = foursome();
  h.liveWith(SETTLED, [{ sender: c, status: status() }]);
  h.receive(a, { kind: "heartbeat", ...status() });
  assert.ok(h.core.view().split, "one server is still missing");
  h.receive(b, { kind: "heartbeat", ...status() });
  const actions = h.tick(h.now + TIMING.tickIntervalMs);
  assert.deepEqual(events(actions).filter((e) => e.type === "healed"), [
    { type: "healed", servers: 4, forgotten: 0 },
  ]);
  assert.equal(h.core.view().split, undefined);
});

Deno.test("a server that leaves cleanly shrinks the full view and marks no split", () => {
  const h = foursome();
  h.receive(a, { kind: "leave" });
  const actions = h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  assert.equal(events(actions).filter((e) => e.type === "split").length, 0);
  h.liveWith(SETTLED + 5_000, [{ sender: c, status: status() }]);
  assert.deepEqual(shape(h.core.view().split), {
    servers: 2,
    of: 3,
    majority: true,
    partition: false,
    missing: ["b"],
  });
});

Deno.test("dead servers are remembered for forgetDeadAfterMs, then forgotten: the split ends", () => {
  const h = foursome();
  h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  const deadAt = h.core.view().members.find((m) => m.id === "a")!;
  assert.equal(deadAt.state, "dead");
  h.liveWith(TIMING.forgetDeadAfterMs, [b, c].map((sender) => ({ sender, status: status() })));
  assert.equal(h.core.view().members.find((m) => m.id === "a")?.state, "dead");
  const actions = h.liveWith(
    TIMING.forgetDeadAfterMs + SETTLED,
    [b, c].map((sender) => ({ sender, status: status() })),
  );
  assert.equal(h.core.view().members.find((m) => m.id === "a"), undefined);
  assert.deepEqual(events(actions).filter((e) => e.type === "healed"), [
    { type: "healed", servers: 3, forgotten: 1 },
  ]);
});

Deno.test("at most maxDeadServers dead servers are remembered, the longest-dead forgotten first", () => {
  const timing = { ...TIMING, maxDeadServers: 1 };
  const h = new Harness({ id: "m", timing });
  h.start(0);
  h.liveWith(1_000, [a, b].map((sender) => ({ sender, status: status() })));
  h.liveWith(1_200, [{ sender: b, status: status() }]);
  h.tickUntil(SETTLED + 500);
  const ids = h.core.view().members.map((m) => m.id);
  assert.deepEqual(ids, ["m", "b"], "a died first and is forgotten");
});

Deno.test("every dead server gets this server's heartbeat by unicast each merge-probe interval", () => {
  const h = foursome();
  h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  const from = h.now;
  const actions = h.liveWith(
    from + 4 * TIMING.mergeProbeIntervalMs,
    [b, c].map((sender) => ({ sender, status: status() })),
  );
  const probes = sent(actions, "heartbeat").filter((s) => s.to !== "group");
  assert.equal(probes.length, 4);
  assert.ok(probes.every((s) => s.to !== "group" && s.to.host === a.addr.host));
  assert.equal(probes[0].body.leader, "m", "the probe says whom this side follows");
  h.receive(a, { kind: "heartbeat", ...status() });
  const after = h.liveWith(
    h.now + 2 * TIMING.mergeProbeIntervalMs,
    [a, b, c].map((sender) => ({
      sender,
      status: status(),
    })),
  );
  assert.equal(sent(after, "heartbeat").filter((s) => s.to !== "group").length, 0);
});

Deno.test("a dead server's heartbeat makes it alive again and is answered with a welcome", () => {
  const h = foursome();
  h.liveWith(SETTLED, [b, c].map((sender) => ({ sender, status: status() })));
  const actions = h.receive(a, { kind: "heartbeat", ...status() }, false);
  assert.ok(events(actions).some((e) => e.type === "member-alive-again" && e.member.id === "a"));
  const welcomes = sent(actions, "welcome");
  assert.equal(welcomes.length, 1);
  assert.deepEqual(welcomes[0].to, a.addr);
});
