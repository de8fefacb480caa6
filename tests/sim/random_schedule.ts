/**
 * Random schedules from a seed: 3-7 servers, loss up to 30%, duplication, reordering, seed-only
 * networks, busy machines (late ticks, short stalls), and episodes of one to three overlapping
 * crashes, restarts, joins, clean leaves, pauses and partitions, or of one partition during which
 * multicast fails too and stays broken after the heal (only the merge probe can merge the sides
 * then), each followed by a convergence check. The same seed always gives the same schedule.
 *
 * @module
 */

import { documentedLeader } from "./expected_leader.ts";
import { SeededRandom } from "../../src/util/random.ts";
import type { Schedule, SimAction, SimStep } from "./schedule.ts";
import type { NetworkModel, SchedulingModel, ServerSpec } from "./simulator.ts";

/** Convergence bound on a lossless network (ms after the last fault). */
export const STABLE_WITHIN_MS = 3_000;
/** Convergence bound with loss (ms after the last fault). */
export const STABLE_WITHIN_LOSSY_MS = 8_000;

/** A busy machine: ticks up to 10 ms late, 1% of ticks stall for up to 200 ms. */
const BUSY: SchedulingModel = { tickJitterMs: 10, hiccupChance: 0.01, hiccupMaxMs: 200 };

type SlotState = "unstarted" | "up" | "down";

/** Builds the random schedule of `seed`. */
export function randomSchedule(seed: number): Schedule {
  const rng = new SeededRandom(seed);
  const count = 3 + rng.int(5);
  const flatPriorities = rng.chance(0.5);
  const servers: ServerSpec[] = [];
  for (let i = 0; i < count; i++) {
    servers.push({ id: `n${i}`, priority: flatPriorities ? 0 : rng.int(3) });
  }
  const lossy = rng.chance(0.6);
  const network: NetworkModel = {
    latencyMs: 0.2,
    jitterMs: rng.next() * 5,
    loss: lossy ? rng.next() * 0.3 : 0,
    duplicate: rng.chance(0.5) ? rng.next() * 0.1 : 0,
    multicast: !rng.chance(0.1),
  };
  const within = lossy ? STABLE_WITHIN_LOSSY_MS : STABLE_WITHIN_MS;
  const hold = lossy ? 300 : 1_000;
  const state = new Map<string, SlotState>(servers.map((s) => [s.id, "unstarted"]));
  const steps: SimStep[] = [];
  const push = (at: number, action: SimAction): void => {
    steps.push({ at, do: action });
  };
  const ids = (wanted: SlotState): string[] =>
    servers.map((s) => s.id).filter((id) => state.get(id) === wanted);

  const late = rng.chance(0.3) ? 1 + rng.int(2) : 0;
  let end = 0;
  const starts: SimStep[] = [];
  for (const id of ids("unstarted").slice(0, count - late)) {
    const at = rng.chance(0.5) ? 0 : rng.int(400);
    starts.push({ at, do: { type: "start", id } });
    state.set(id, "up");
    end = Math.max(end, at);
  }
  steps.push(...starts.sort((a, b) => a.at - b.at));
  push(end, { type: "expect-stable", withinMs: within, holdMs: hold });

  const episodes = 1 + rng.int(4);
  for (let e = 0; e < episodes; e++) {
    if (network.multicast && rng.chance(0.15)) {
      const all = servers.map((s) => s.id);
      const side = all.filter(() => rng.chance(0.5));
      const other = all.filter((id) => !side.includes(id));
      if (side.length > 0 && other.length > 0) {
        const at = 1 + rng.int(500);
        const ms = 300 + rng.int(3_700);
        push(at, { type: "multicast", on: false });
        push(at, { type: "partition", groups: [side, other] });
        push(at + ms, { type: "heal" });
        push(at + ms, { type: "expect-stable", withinMs: within, holdMs: hold });
        push(0, { type: "multicast", on: true });
        continue;
      }
    }
    const phase: SimStep[] = [];
    const start = 1 + rng.int(500);
    end = start;
    const faults = 1 + rng.int(3);
    for (let f = 0; f < faults; f++) {
      const at = start + rng.int(400);
      end = Math.max(end, at);
      const up = ids("up");
      const choice = rng.int(7);
      if (choice === 0 && up.length > 2) {
        const leader = documentedLeader(up.map((id) => servers.find((s) => s.id === id)!));
        phase.push({ at, do: { type: "crash", id: leader.id } });
        state.set(leader.id, "down");
      } else if (choice === 1 && up.length > 2) {
        const id = rng.pick(up);
        phase.push({ at, do: { type: "crash", id } });
        state.set(id, "down");
      } else if (choice === 2 && ids("down").length > 0) {
        const id = rng.pick(ids("down"));
        phase.push({ at, do: { type: "restart", id } });
        state.set(id, "up");
      } else if (choice === 3 && ids("unstarted").length > 0) {
        const id = ids("unstarted")[0];
        phase.push({ at, do: { type: "start", id } });
        state.set(id, "up");
      } else if (choice === 4 && up.length > 2) {
        const id = rng.pick(up);
        phase.push({ at, do: { type: "leave", id } });
        state.set(id, "down");
      } else if (choice === 5) {
        const ms = 100 + rng.int(2_900);
        phase.push({ at, do: { type: "pause", id: rng.pick(up), ms } });
        end = Math.max(end, at + ms);
      } else {
        const all = servers.map((s) => s.id);
        const side = all.filter(() => rng.chance(0.5));
        const other = all.filter((id) => !side.includes(id));
        if (side.length === 0 || other.length === 0) continue;
        const ms = 300 + rng.int(3_700);
        phase.push({ at, do: { type: "partition", groups: [side, other] } });
        phase.push({ at: at + ms, do: { type: "heal" } });
        end = Math.max(end, at + ms);
      }
    }
    phase.sort((a, b) => a.at - b.at);
    steps.push(...phase);
    push(end, { type: "expect-stable", withinMs: within, holdMs: hold });
  }
  const seedAll = !network.multicast || rng.chance(0.2);
  const scheduling = rng.chance(0.3) ? BUSY : undefined;
  return { seed, servers, network, seedAll, scheduling, steps };
}
