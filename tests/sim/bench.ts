/**
 * Simulator benchmark (not a test): failover time after a leader crash, time for a starting
 * cluster to agree, merge time after a partition heals, and spurious elections in a long
 * fault-free run on a busy machine, all with the default LAN timing and ~0.2 ms simulated
 * latency. Prints Markdown tables.
 *
 * Run: `deno run tests/sim/bench.ts [--trials 500] [--quiet-minutes 10]`.
 *
 * @module
 */

import { defaultLanConfig } from "../../src/config/mod.ts";
import { documentedLeader } from "./expected_leader.ts";
import { stableProblem } from "./invariants.ts";
import { type SchedulingModel, Simulation } from "./simulator.ts";

const LAN = { latencyMs: 0.2, jitterMs: 0.1, loss: 0, duplicate: 0, multicast: true };
/** A busy two-core machine: ticks late by up to 10 ms, 1% of ticks stall for up to 200 ms. */
const BUSY: SchedulingModel = { tickJitterMs: 10, hiccupChance: 0.01, hiccupMaxMs: 200 };

interface Failover {
  startupMs: number;
  failoverMs: number;
}

/** One trial: start `servers` servers, wait until stable, crash the leader, time the agreement. */
function failoverTrial(seed: number, servers: number, loss: number): Failover {
  const network = { ...LAN, loss };
  const sim = new Simulation({ seed, timing: defaultLanConfig().timing, network });
  for (let i = 0; i < servers; i++) sim.add({ id: `s${i}`, priority: 0 });
  for (const node of sim.nodes) sim.start(node.id);
  if (!sim.runUntil(() => stableProblem(sim) === null, 10_000, 1)) {
    throw new Error(`seed ${seed}: cluster never stable: ${stableProblem(sim)}`);
  }
  const startupMs = sim.now;
  sim.run(sim.now + 1_000 + sim.rng.next() * 1_000);
  const leader = documentedLeader(sim.nodes);
  const killedAt = sim.now;
  sim.crash(leader.id);
  const survivors = sim.nodes.filter((n) => n.up);
  const next = documentedLeader(survivors);
  const agreed = () => survivors.every((n) => n.core!.leader().id === next.id);
  if (!sim.runUntil(agreed, killedAt + 10_000, 0.5)) {
    throw new Error(`seed ${seed}: survivors never agreed on ${next.id}`);
  }
  return { startupMs, failoverMs: sim.now - killedAt };
}

/** One trial: split the servers in two, let each side settle, heal, time the merge. */
function healTrial(seed: number, servers: number): number {
  const sim = new Simulation({ seed, timing: defaultLanConfig().timing, network: LAN });
  for (let i = 0; i < servers; i++) sim.add({ id: `s${i}`, priority: 0 });
  for (const node of sim.nodes) sim.start(node.id);
  sim.run(2_000);
  const ids = sim.nodes.map((n) => n.id);
  sim.partition([ids.slice(0, Math.ceil(servers / 2)), ids.slice(Math.ceil(servers / 2))]);
  sim.run(sim.now + 2_000 + sim.rng.next() * 1_000);
  if (stableProblem(sim) !== null) throw new Error(`seed ${seed}: sides never stable`);
  const healedAt = sim.now;
  sim.heal();
  if (!sim.runUntil(() => stableProblem(sim) === null, healedAt + 10_000, 0.5)) {
    throw new Error(`seed ${seed}: never merged: ${stableProblem(sim)}`);
  }
  return sim.now - healedAt;
}

interface Quiet {
  elections: number;
  suspicions: number;
  deaths: number;
  stalls: number;
}

/** A fault-free run of `minutes` simulated minutes on a busy machine. */
function quietRun(seed: number, servers: number, minutes: number): Quiet {
  const sim = new Simulation({
    seed,
    timing: defaultLanConfig().timing,
    network: LAN,
    scheduling: BUSY,
  });
  for (let i = 0; i < servers; i++) sim.add({ id: `s${i}`, priority: 0 });
  for (const node of sim.nodes) sim.start(node.id);
  sim.run(5_000);
  const before = sim.nodes.map((n) => n.core!.stats());
  sim.run(5_000 + minutes * 60_000);
  const after = sim.nodes.map((n) => n.core!.stats());
  const sum = (pick: (s: typeof after[number]) => number) =>
    after.reduce((total, s, i) => total + pick(s) - pick(before[i]), 0);
  return {
    elections: sum((s) => s.electionsStarted),
    suspicions: sum((s) => s.suspicions),
    deaths: sum((s) => s.deathsDeclared),
    stalls: sum((s) => s.stallsDetected),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function flag(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 ? Number(Deno.args[index + 1]) : fallback;
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

const trials = flag("trials", 500);
const quietMinutes = flag("quiet-minutes", 10);
const ms = (v: number) => v.toFixed(0);

console.log("Leader crash → all survivors agree on the new leader (simulated, LAN timing)");
console.log("");
console.log(
  row(["servers", "loss", "trials", "failover p50 ms", "p99 ms", "max ms", "start p50 ms"]),
);
console.log(row(Array(7).fill("---")));
for (const [servers, loss] of [[3, 0], [5, 0], [7, 0], [3, 0.05], [5, 0.2]]) {
  const results = Array.from({ length: trials }, (_, i) => failoverTrial(i + 1, servers, loss));
  const failover = results.map((r) => r.failoverMs).sort((a, b) => a - b);
  const startup = results.map((r) => r.startupMs).sort((a, b) => a - b);
  console.log(row([
    servers,
    `${loss * 100}%`,
    trials,
    ms(percentile(failover, 0.5)),
    ms(percentile(failover, 0.99)),
    ms(failover.at(-1)!),
    ms(percentile(startup, 0.5)),
  ]));
}

console.log("");
console.log("Partition healed → one leader and one view again (simulated, default LAN timing)");
console.log("");
console.log(row(["servers", "trials", "merge p50 ms", "p99 ms", "max ms"]));
console.log(row(Array(5).fill("---")));
for (const servers of [3, 5, 7]) {
  const merges = Array.from({ length: trials }, (_, i) => healTrial(i + 1, servers));
  merges.sort((a, b) => a - b);
  const cells = [percentile(merges, 0.5), percentile(merges, 0.99), merges.at(-1)!].map(ms);
  console.log(row([servers, trials, ...cells]));
}

const busy = `tick jitter ${BUSY.tickJitterMs} ms, ${BUSY.hiccupChance * 100}% of ticks stall ` +
  `up to ${BUSY.hiccupMaxMs} ms`;
console.log("");
console.log(`Fault-free ${quietMinutes}-minute runs on a busy machine (${busy})`);
console.log("");
console.log(row(["servers", "elections", "suspicions", "deaths", "stalls detected"]));
console.log(row(Array(5).fill("---")));
for (const servers of [3, 7]) {
  const q = quietRun(servers, servers, quietMinutes);
  console.log(row([servers, q.elections, q.suspicions, q.deaths, q.stalls]));
}
