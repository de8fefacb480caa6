/**
 * Thousands of random schedules (3-7 servers, loss up to 30%, duplication, reordering, seed-only
 * networks, crashes, restarts, joins, leaves, pauses, partitions) must keep every invariant.
 *
 * `SIM_SCHEDULES=N` runs N schedules (default 2000) from seed `SIM_FIRST_SEED` (default 1);
 * `SIM_SEED=S` replays the one schedule S. A failure prints its seed and the replay command.
 *
 * @module
 */

import assert from "node:assert/strict";
import { randomSchedule } from "./random_schedule.ts";
import { runSchedule } from "./schedule.ts";

const replay = Deno.env.get("SIM_SEED");
const count = Number(Deno.env.get("SIM_SCHEDULES") ?? 2_000);
const first = Number(Deno.env.get("SIM_FIRST_SEED") ?? 1);
const seeds = replay !== undefined
  ? [Number(replay)]
  : Array.from({ length: count }, (_, i) => first + i);

Deno.test(`${seeds.length} random schedules keep every invariant and converge in time`, () => {
  let falseDeaths = 0;
  let lossySchedules = 0;
  for (const seed of seeds) {
    const schedule = randomSchedule(seed);
    if (schedule.network.loss > 0) lossySchedules++;
    try {
      falseDeaths += runSchedule(schedule).falseDeaths;
    } catch (error) {
      const { loss, duplicate, multicast } = schedule.network;
      throw new Error(
        `schedule ${seed} failed (${schedule.servers.length} servers, loss ${loss.toFixed(3)}, ` +
          `duplicate ${duplicate.toFixed(3)}, multicast ${multicast}): ${
            (error as Error).message
          }` +
          `\nreplay: SIM_SEED=${seed} deno test -A tests/sim/random_test.ts`,
      );
    }
  }
  const bound = 2 + lossySchedules / 100;
  assert.ok(
    falseDeaths <= bound,
    `${falseDeaths} false deaths in ${lossySchedules} lossy schedules (bound ${bound})`,
  );
});

Deno.test("a random schedule replays identically from its seed", () => {
  const seed = seeds[0];
  assert.deepEqual(runSchedule(randomSchedule(seed)), runSchedule(randomSchedule(seed)));
});
