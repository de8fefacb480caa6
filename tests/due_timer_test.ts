/**
 * The runtime's clock for the cores ({@linkcode DueTimer}): it never runs a core before the
 * deadline it was aimed at (an early fire would find nothing due and cost a second wake-up), and a
 * stopped timer never runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DueTimer } from "../src/util/due_timer.ts";

const GRAIN_MS = 25;

Deno.test("the timer never fires before the deadline it was aimed at", async () => {
  const early: number[] = [];
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => {
      const now = performance.now();
      const due = now + GRAIN_MS + Math.random() * 20;
      const timer = new DueTimer(
        () => {
          const at = performance.now();
          if (at < due) early.push(due - at);
          resolve();
        },
        GRAIN_MS,
        1_000,
      );
      timer.schedule(due, now);
    });
  }
  assert.deepEqual(early, [], `fired early by ${early.map((ms) => ms.toFixed(2)).join(", ")} ms`);
});

Deno.test("a stopped timer does not run", async () => {
  let ran = false;
  const timer = new DueTimer(() => ran = true, 1, 1_000);
  timer.schedule(performance.now() + 5, performance.now());
  timer.stop();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(ran, false);
});
