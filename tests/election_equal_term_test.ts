/**
 * One leader per term as a follower sees it: a claim of the same term as its leader's, by a
 * lower-ordered server, never displaces that leader — not even while the leader is only suspect
 * (it may be paused, and comes back still leading at that term). Only a claim of a higher term
 * may replace a leader that is not live.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Harness, peer, status, TIMING } from "./sim/harness.ts";

Deno.test("an equal-term claim by a lower-ordered server does not displace a suspect leader", () => {
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
  h.receive(y, { kind: "coordinator", term: 2, priority: 0 });
  h.receive(y, { kind: "heartbeat", ...status({ leader: "y", term: 2 }) });
  assert.deepEqual(h.core.leader(), { id: "z", term: 2 });
});
