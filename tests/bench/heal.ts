/**
 * Heal-time benchmark (not a test), in the multi-host lab with the real program: four servers
 * `h1`–`h4` (equal priorities, so `h4` ranks highest) are split 2/2 or 3/1 by moving bridge
 * ports apart, each side settles on its own leader and logs its split, then the LAN is healed.
 * It measures the time from the link restore to one agreed leader (`h4`) with a full view at
 * every server: every server follows `h4` and has logged `healed`. It prints a Markdown table
 * (median, p99, max) and writes it to `dist/bench/heal.md` (or `--out`); it asserts nothing.
 *
 * The sides vary between trials (which pairs for 2/2, which host alone for 3/1). Times come from
 * this process's monotonic clock when it reads each log line; the clock starts just before the
 * first port is moved back, so the figures include the `ip` commands of the heal (a few ms).
 *
 * Run (root, Linux): `deno run --unstable-net -A tests/bench/heal.ts [--trials N] [--out FILE]`
 * (`--trials`: per split shape, default 10). It runs the single executable `dist/dsys` (build
 * it with `deno task build`). Without root it prints why and exits 0, having measured nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { REPO_ROOT } from "../helpers/process.ts";
import { Lab, labUnsupportedReason } from "../lab/harness.ts";
import { agreedLeader, BenchCluster, type BenchServer } from "./failover_lab.ts";
import { summarize } from "./failover_report.ts";

/** Start-up to agreement. */
const START_TIMEOUT_MS = 30_000;
/** Partition to a logged split and a leader per side; a trial fails past it. */
const SPLIT_TIMEOUT_MS = 10_000;
/** Heal to one leader and full views; a trial fails past it. */
const HEAL_TIMEOUT_MS = 10_000;
/** The target for the heal time. */
const TARGET_MS = 3_000;

/** Sides of the 2/2 trials (host indexes), in turn. */
const EVEN_SPLITS = [[[0, 1], [2, 3]], [[0, 2], [1, 3]], [[0, 3], [1, 2]]];
/** Sides of the 3/1 trials, in turn: each host alone once. */
const UNEVEN_SPLITS = [[[0, 1, 2], [3]], [[1, 2, 3], [0]], [[0, 2, 3], [1]], [[0, 1, 3], [2]]];

const { values: flags } = parseArgs({
  options: {
    trials: { type: "string", default: "10" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/heal.md` },
  },
});
const trials = Number(flags.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error(`--trials ${flags.trials}: expected a whole number from 1`);
  Deno.exit(2);
}

/** What one shape of split measured. */
interface Shape {
  name: string;
  splitMs: number[];
  healMs: number[];
  elections: number[];
  failures: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The highest-ordered server of `sides`' side: ids break the tie, so the greatest id. */
function sideLeader(side: BenchServer[]): string {
  return side.map((server) => server.id).sort().at(-1)!;
}

/** The latest line of `event` read at or after `since`. */
function lastSince(server: BenchServer, event: string, since: number): number | undefined {
  return server.between(event, since).at(-1)?.at;
}

/** One trial: split into `sides`, wait for both sides to settle, heal, time the merge. */
async function trial(
  lab: Lab,
  cluster: BenchCluster,
  sides: number[][],
  shape: Shape,
): Promise<void> {
  const { servers } = cluster;
  const groups = sides.map((side) => side.map((i) => servers[i]));
  const splitFrom = performance.now();
  await lab.partition(sides.map((side) => side.map((i) => lab.hosts[i])));
  const settled = () =>
    groups.every((group) =>
      group.every((s) => s.first("split", {}, splitFrom) && s.leader() === sideLeader(group))
    );
  if (!await cluster.until(settled, SPLIT_TIMEOUT_MS)) {
    const states = servers.map((s) =>
      `${s.id} follows ${s.leader()}, split ${s.first("split", {}, splitFrom) ? "" : "not "}logged`
    );
    shape.failures.push(`sides ${JSON.stringify(sides)} did not settle: ${states.join(", ")}`);
    await lab.heal();
    await cluster.until(() => agreedLeader(servers) === "h4", HEAL_TIMEOUT_MS);
    return;
  }
  shape.splitMs.push(
    Math.max(...servers.map((s) => s.first("split", {}, splitFrom)!.at)) - splitFrom,
  );
  await sleep(200 + Math.random() * 800);
  const from = performance.now();
  await lab.heal();
  const merged = () =>
    agreedLeader(servers) === "h4" && servers.every((s) => s.first("healed", {}, from));
  if (!await cluster.until(merged, HEAL_TIMEOUT_MS)) {
    shape.failures.push(`sides ${JSON.stringify(sides)} did not merge within ${HEAL_TIMEOUT_MS}`);
    return;
  }
  const done = Math.max(
    ...servers.map((s) =>
      Math.max(lastSince(s, "healed", from)!, lastSince(s, "leader-changed", from) ?? from)
    ),
  );
  shape.healMs.push(done - from);
  shape.elections.push(
    servers.reduce((n, s) => n + s.between("election-started", from).length, 0),
  );
}

function ms(value: number | undefined): string {
  return value === undefined ? "—" : value.toFixed(0);
}

function render(shapes: Shape[]): string {
  const lines = [
    "# Heal time after a partition (lab, 4 servers, real program)",
    "",
    `${trials} trials per shape; heal: link restore → every server follows h4 and logged ` +
    "`healed` (full view). Target: under 3 000 ms.",
    "",
    "| split | figure | trials | median ms | p99 ms | max ms | elections after heal (mean) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const shape of shapes) {
    const heal = summarize(shape.healMs);
    const split = summarize(shape.splitMs);
    const elections = shape.elections.reduce((a, b) => a + b, 0) / (shape.elections.length || 1);
    lines.push(
      `| ${shape.name} | heal | ${shape.healMs.length} | ${ms(heal?.median)} | ${ms(heal?.p99)} | ${
        ms(heal?.max)
      } | ${elections.toFixed(1)} |`,
      `| ${shape.name} | partition → split logged | ${shape.splitMs.length} | ${
        ms(split?.median)
      } | ${ms(split?.p99)} | ${ms(split?.max)} | |`,
    );
  }
  const worst = summarize(shapes.flatMap((s) => s.healMs))?.max;
  lines.push(
    "",
    "p99 is the nearest-rank 99th percentile: with fewer than 100 samples it is the maximum.",
    worst === undefined
      ? "No heal was measured."
      : `Worst heal ${ms(worst)} ms: ${worst < TARGET_MS ? "within" : "OVER"} the 3 000 ms target.`,
  );
  for (const shape of shapes) {
    for (const failure of shape.failures) lines.push(`- failed trial (${shape.name}): ${failure}`);
  }
  return lines.join("\n") + "\n";
}

const reason = labUnsupportedReason();
if (reason) {
  console.log(`heal benchmark skipped: ${reason}`);
  Deno.exit(0);
}

const lab = await Lab.create({ hosts: 4 });
const cluster = new BenchCluster({
  transport: "node",
  cluster: `heal-${lab.run}`,
  secret: crypto.randomUUID(),
});
const shapes: Shape[] = [
  { name: "2/2", splitMs: [], healMs: [], elections: [], failures: [] },
  { name: "3/1", splitMs: [], healMs: [], elections: [], failures: [] },
];
try {
  for (const host of lab.hosts) cluster.start(host);
  if (!await cluster.until(() => agreedLeader(cluster.servers) === "h4", START_TIMEOUT_MS)) {
    throw new Error("the four servers did not agree on h4 at start");
  }
  for (let i = 0; i < trials; i++) {
    await trial(lab, cluster, EVEN_SPLITS[i % EVEN_SPLITS.length], shapes[0]);
    await trial(lab, cluster, UNEVEN_SPLITS[i % UNEVEN_SPLITS.length], shapes[1]);
  }
} finally {
  await cluster.kill();
  await lab.destroy();
}
const markdown = render(shapes);
console.log(markdown);
await Deno.mkdir(dirname(flags.out), { recursive: true });
await Deno.writeTextFile(flags.out, markdown);
console.log(`written to ${flags.out}`);
