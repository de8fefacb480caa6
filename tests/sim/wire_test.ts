/**
 * The simulators' two wires give the same runs: a schedule whose datagrams go through the real
 * codec (`bytes`: framing, HMAC, validation, receiver binding, replay guard) ends exactly as when
 * envelopes go through the replay guard alone (`envelopes`, the fast default). So the default
 * runs lose nothing the shipped codec would change, and the codec carries every body the cores
 * send in these runs unchanged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { randomChatSchedule, randomPartitionSchedule, runChatSchedule } from "./chat_schedule.ts";
import { randomSchedule } from "./random_schedule.ts";
import { runSchedule } from "./schedule.ts";

Deno.test("chat schedules end the same through the real codec as through the replay guard alone", () => {
  for (const seed of [1, 2, 3, 4]) {
    const schedule = randomChatSchedule(seed);
    assert.deepEqual(runChatSchedule(schedule, "bytes"), runChatSchedule(schedule, "envelopes"));
  }
  for (const seed of [1, 2]) {
    const schedule = randomPartitionSchedule(seed);
    assert.deepEqual(runChatSchedule(schedule, "bytes"), runChatSchedule(schedule, "envelopes"));
  }
});

Deno.test("server schedules end the same through the real codec as through the replay guard alone", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const schedule = randomSchedule(seed);
    assert.deepEqual(
      runSchedule(schedule, { wire: "bytes" }),
      runSchedule(schedule, { wire: "envelopes" }),
    );
  }
});
