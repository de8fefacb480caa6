/**
 * The per-client post rate (`postRatePerSecond`, `postBurst`): a client posting faster than its
 * rate is told to slow down at the server it is attached to, backs off and retries, and loses
 * nothing; a client within its burst is never slowed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type MiniCluster, threeServers } from "./sim/chat_harness.ts";

function slowDowns(mini: MiniCluster): number {
  return mini.clientActions.get("a")!.filter((a) =>
    a.type === "notice" && a.notice.kind === "slow-down"
  ).length;
}

Deno.test("a client above its post rate is slowed down, never beyond it, and loses nothing", () => {
  const rate = 10;
  const burst = 5;
  const mini = threeServers({ postRatePerSecond: rate, postBurst: burst });
  const texts = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`);
  for (const text of texts) mini.type("a", text);
  mini.advance(1_000);
  const early = mini.lines("a").length;
  assert.ok(early > 0, "lines within the burst pass at once");
  assert.ok(
    early <= burst + rate * 1.1,
    `${early} lines committed in one second at ${rate}/s with a burst of ${burst}`,
  );
  assert.ok(slowDowns(mini) > 0, "the client was told to slow down");
  assert.ok(mini.server("s1").status().throttled > 0, "the server counted throttled lines");
  mini.advance(10_000);
  assert.deepEqual(mini.lines("a"), texts.map((text) => `alice: ${text}`));
});

Deno.test("a client within its burst is never slowed down", () => {
  const mini = threeServers({ postRatePerSecond: 10, postBurst: 100 });
  const texts = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`);
  for (const text of texts) mini.type("a", text);
  mini.advance(2_000);
  assert.deepEqual(mini.lines("a"), texts.map((text) => `alice: ${text}`));
  assert.equal(slowDowns(mini), 0);
  assert.equal(mini.server("s1").status().throttled, 0);
});
