/**
 * Scenario schedules as data, and the runner that plays one in the simulator.
 *
 * A schedule names its servers and network and lists timed steps (`{ at, do }`): start, crash,
 * restart, leave, pause, partition, heal, multicast (switch the group off or on), `expect-split`
 * (what given servers say about a split, checked at once), and `expect-stable`, which runs the
 * cluster until it is
 * stable (see `stableProblem`) or fails after `withinMs`, lets the detection window after the
 * last disturbance pass, then holds it quiet for `holdMs`. Steps run in order; `at` counts from
 * the end of the previous `expect-stable` (from 0 before the first), so a check that takes longer
 * never squeezes the steps after it.
 *
 * @module
 */

import { defaultLanConfig, type TimingConfig } from "../../src/config/mod.ts";
import { detectionWindow, InvariantChecker, SimViolation, stableProblem } from "./invariants.ts";
import {
  type NetworkModel,
  type SchedulingModel,
  type ServerSpec,
  Simulation,
} from "./simulator.ts";
import type { WireMode } from "./wire.ts";

/** What a server's view must say of a loss: numbers, side, and whether it is called a split. */
export interface ExpectedSplit {
  /** Servers it reaches, itself included. */
  servers: number;
  /** Servers of its last full view. */
  of: number;
  /** True when it reaches more than half. */
  majority: boolean;
  /** True when the loss is called a partition (several servers vanished at once). */
  partition: boolean;
}

/** One thing that happens to the simulated cluster. */
export type SimAction =
  | { type: "start"; id: string }
  | { type: "crash"; id: string }
  | { type: "restart"; id: string }
  | { type: "leave"; id: string }
  | { type: "pause"; id: string; ms: number }
  | { type: "partition"; groups: string[][] }
  | { type: "heal" }
  | { type: "multicast"; on: boolean }
  | { type: "expect-split"; ids: string[]; split: ExpectedSplit | null }
  | { type: "expect-stable"; withinMs: number; holdMs?: number };

/** A timed step of a schedule. */
export interface SimStep {
  /** When the step runs (ms after the end of the previous `expect-stable`, or after 0). */
  at: number;
  /** What happens. */
  do: SimAction;
}

/** A whole scenario. */
export interface Schedule {
  /** Seed of the simulation's random choices. */
  seed: number;
  /** The server slots. */
  servers: ServerSpec[];
  /** The network. */
  network: NetworkModel;
  /** Give every server every address as a seed (`--peers`). */
  seedAll?: boolean;
  /** Process scheduling (tick jitter, hiccups); default: 2 ms tick jitter, no hiccups. */
  scheduling?: SchedulingModel;
  /** The steps, in time order. */
  steps: SimStep[];
}

/** What a finished run measured. */
export interface RunReport {
  /** Time from each `expect-stable` until the cluster was stable (ms). */
  convergeMs: number[];
  /** Deaths declared of servers that were running and reachable. */
  falseDeaths: number;
  /** Every death declared. */
  deaths: number;
  /** Every election started. */
  elections: number;
  /** Elections started up to each `expect-stable`'s end since the previous one's end. */
  phaseElections: number[];
  /**
   * Per `expect-stable` phase (as `phaseElections`): the most times one server began following
   * a new leader. More than one is ping-pong.
   */
  phaseLeaderChanges: number[];
  /** Simulated time at the end (ms). */
  endedAt: number;
  /** Datagrams sent. */
  datagrams: number;
}

/** Options of {@linkcode runSchedule}. */
export interface RunOptions {
  /** Protocol timing; default `defaultLanConfig().timing`. */
  timing?: TimingConfig;
  /** How datagrams travel (see `wire.ts`); default `defaultWireMode()`. */
  wire?: WireMode;
}

/** Plays a schedule; throws a {@linkcode SimViolation} (with recent events) if it breaks one. */
export function runSchedule(schedule: Schedule, options: RunOptions = {}): RunReport {
  const sim = new Simulation({
    seed: schedule.seed,
    timing: options.timing ?? defaultLanConfig().timing,
    network: schedule.network,
    scheduling: schedule.scheduling,
    seedAll: schedule.seedAll,
    wire: options.wire,
  });
  for (const server of schedule.servers) sim.add(server);
  const checker = new InvariantChecker(sim);
  const convergeMs: number[] = [];
  const phaseElections: number[] = [];
  const phaseLeaderChanges: number[] = [];
  let changesBefore = new Map<string, number>();
  let phaseStart = 0;
  try {
    for (const step of schedule.steps) {
      sim.run(Math.max(phaseStart + step.at, sim.now));
      const action = step.do;
      switch (action.type) {
        case "start":
        case "restart":
          sim.start(action.id);
          break;
        case "crash":
          sim.crash(action.id);
          break;
        case "leave":
          sim.leave(action.id);
          break;
        case "pause":
          sim.pause(action.id, action.ms);
          break;
        case "partition":
          sim.partition(action.groups);
          break;
        case "heal":
          sim.heal();
          break;
        case "multicast":
          sim.network = { ...sim.network, multicast: action.on };
          break;
        case "expect-split":
          expectSplit(sim, action.ids, action.split);
          break;
        case "expect-stable":
          convergeMs.push(expectStable(sim, checker, action.withinMs, action.holdMs ?? 0));
          phaseElections.push(checker.elections - phaseElections.reduce((a, b) => a + b, 0));
          phaseLeaderChanges.push(
            Math.max(
              0,
              ...[...checker.leaderChanges].map(([id, n]) => n - (changesBefore.get(id) ?? 0)),
            ),
          );
          changesBefore = new Map(checker.leaderChanges);
          phaseStart = sim.now;
          break;
      }
    }
  } catch (error) {
    if (error instanceof SimViolation) {
      error.message += `\nrecent events:\n${checker.trace()}`;
    }
    throw error;
  }
  return {
    convergeMs,
    falseDeaths: checker.falseDeaths,
    deaths: checker.deaths,
    elections: checker.elections,
    phaseElections,
    phaseLeaderChanges,
    endedAt: sim.now,
    datagrams: sim.traffic.sent,
  };
}

function expectSplit(sim: Simulation, ids: string[], expected: ExpectedSplit | null): void {
  for (const id of ids) {
    const found = sim.node(id).core?.view().split;
    const split = found
      ? {
        servers: found.servers,
        of: found.of,
        majority: found.majority,
        partition: found.partition,
      }
      : null;
    if (JSON.stringify(split) !== JSON.stringify(expected)) {
      throw new SimViolation(
        `t=${sim.now.toFixed(1)}: ${id} says split ${JSON.stringify(split)}, expected ${
          JSON.stringify(expected)
        }`,
      );
    }
  }
}

function expectStable(
  sim: Simulation,
  checker: InvariantChecker,
  withinMs: number,
  holdMs: number,
): number {
  const from = sim.now;
  const stable = () => stableProblem(sim) === null;
  sim.run(from + sim.network.latencyMs + sim.network.jitterMs);
  if (!sim.runUntil(stable, from + withinMs)) {
    throw new SimViolation(
      `t=${sim.now.toFixed(1)}: not stable ${withinMs} ms after t=${from}: ${stableProblem(sim)}`,
    );
  }
  const took = sim.now - from;
  if (holdMs > 0) {
    sim.run(Math.max(sim.now, sim.lastDisturbance + detectionWindow(sim.timing)));
    checker.quiet = true;
    sim.run(sim.now + holdMs);
    checker.quiet = false;
    if (!sim.runUntil(stable, sim.now + (sim.network.loss === 0 ? 0 : withinMs))) {
      throw new SimViolation(
        `t=${sim.now.toFixed(1)}: stable state did not hold: ${stableProblem(sim)}`,
      );
    }
  }
  return took;
}
