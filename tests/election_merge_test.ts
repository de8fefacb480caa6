/**
 * Two leaders meeting after a partition heals: the higher-ordered one wins in a term above both,
 * whichever of them had the higher term, and the lower-ordered one never goes back in term.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

const DISCOVERY_END = TIMING.discoveryWindowMs;

/** A core `m` that leads alone at term `term` (it saw `term - 1` mentioned during discovery). */
function leaderAt(term: number): Harness {
  const h = new Harness({ id: "m" });
  h.start(0);
  if (term > 1) {
    const gone = peer("b");
    h.receive(gone, { kind: "heartbeat", ...status({ term: term - 1 }) });
    h.receive(gone, { kind: "leave" });
  }
  h.tickUntil(DISCOVERY_END);
  assert.deepEqual(h.core.leader(), { id: "m", term });
  return h;
}

Deno.test("a leader hearing a lower-ordered leader of a higher term retakes it above that term", () => {
  const h = leaderAt(1);
  const actions = h.receive(peer("a"), {
    kind: "heartbeat",
    ...status({ leader: "a", term: 5 }),
  });
  assert.deepEqual(sent(actions, "coordinator").map((s) => s.body.term), [6]);
  assert.deepEqual(h.core.leader(), { id: "m", term: 6 });
});

Deno.test("a leader hearing a higher-ordered leader of a lower term yields through an election", () => {
  const h = leaderAt(5);
  const z = peer("z");
  const heard = h.receive(z, { kind: "heartbeat", ...status({ leader: "z", term: 2 }) });
  assert.deepEqual(h.core.leader(), { id: "m", term: 5 }, "no step back to a lower term");
  const ticked = h.tickUntil(h.now + TIMING.tickIntervalMs);
  const elections = sent([...heard, ...ticked], "election");
  assert.deepEqual(elections.map((s) => [s.to, s.body.term]), [[z.addr, 6]]);
  h.receive(z, { kind: "answer", term: 6 });
  h.receive(z, { kind: "coordinator", term: 7, priority: 0 });
  assert.deepEqual(h.core.leader(), { id: "z", term: 7 });
  const later = h.liveWith(h.now + 2_000, [{
    sender: z,
    status: status({ leader: "z", term: 7 }),
  }]);
  assert.deepEqual(events(later).filter((e) => e.type.startsWith("election")), [], "no ping-pong");
  assert.deepEqual(h.core.leader(), { id: "z", term: 7 });
});
