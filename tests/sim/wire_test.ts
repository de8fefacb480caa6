/**
 * The simulators' two wires give the same runs: a schedule whose datagrams go through the real
 * codec (`bytes`: framing, HMAC, validation, receiver binding, replay guard) ends exactly as when
 * envelopes go through the replay guard alone (`envelopes`, the fast default) — with the same
 * report, or the same violation. So the default runs lose nothing the shipped codec would change,
 * and the codec carries every body the cores send in these runs unchanged.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ChatSchedule,
  randomChatSchedule,
  randomPartitionSchedule,
  runChatSchedule,
} from "./chat_schedule.ts";
import { randomSchedule } from "./random_schedule.ts";
import { runSchedule, type Schedule } from "./schedule.ts";
import type { WireMode } from "./wire.ts";

/** The report of a run, or the message of the violation that ended it. */
function outcome<T>(run: () => T): T | string {
  try {
    return run();
  } catch (error) {
    return (error as Error).message;
  }
}

function sameBothWays(run: (wire: WireMode) => unknown): void {
  assert.deepEqual(outcome(() => run("bytes")), outcome(() => run("envelopes")));
}

Deno.test("chat schedules end the same through the real codec as through the replay guard alone", () => {
  const schedules: ChatSchedule[] = [
    ...[1, 2, 3, 4].map(randomChatSchedule),
    ...[1, 2].map(randomPartitionSchedule),
  ];
  for (const schedule of schedules) sameBothWays((wire) => runChatSchedule(schedule, wire));
});

Deno.test("server schedules end the same through the real codec as through the replay guard alone", () => {
  const schedules: Schedule[] = [1, 2, 3, 4, 5, 6].map(randomSchedule);
  for (const schedule of schedules) sameBothWays((wire) => runSchedule(schedule, { wire }));
});
