/**
 * A split is announced only once no server is suspect: a server still suspect may die next, and
 * an announcement made before it does would tell this side it holds a majority it does not
 * have. The numbers announced are the final ones, once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, status, TIMING } from "./sim/harness.ts";

const a = peer("a");
const b = peer("b");
const c = peer("c");

Deno.test("no split is announced while a server is still suspect, even once the deaths settled", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.liveWith(1_000, [a, b, c].map((sender) => ({ sender, status: status() })));
  // a was last heard at 0.9 s; b is heard until 1.3 s, so that it turns suspect after a died and
  // dies only after a's death settled: at 1.95 s a's death is settled and b is still suspect.
  const actions = h.liveWith(1_350, [b, c].map((sender) => ({ sender, status: status() })));
  const state = (id: string) => h.core.view().members.find((m) => m.id === id)?.state;
  let aDiedAt = Infinity;
  while (h.now < 1_950) {
    actions.push(...h.liveWith(h.now + TIMING.tickIntervalMs, [{ sender: c, status: status() }]));
    if (state("a") === "dead") aDiedAt = Math.min(aDiedAt, h.now);
  }
  assert.ok(h.now >= aDiedAt + TIMING.splitSettleMs, "a's death has settled");
  assert.equal(state("b"), "suspect");
  actions.push(...h.liveWith(5_000, [{ sender: c, status: status() }]));
  assert.equal(state("b"), "dead");
  const splits = events(actions).flatMap((e) =>
    e.type === "split" ? [{ ...e.split, missing: e.split.missing.map((m) => m.id) }] : []
  );
  assert.deepEqual(splits, [
    { servers: 2, of: 4, majority: false, partition: true, missing: ["a", "b"] },
  ]);
});
