/**
 * Issue 15's table in one run, each figure beside the one the issue measured earlier:
 *
 * - chat gap by cause after a SIGKILL on loopback, both runtimes (`chat_gap.ts`), and after the
 *   leader's host is cut in the lab of network namespaces with the built executable
 *   (`chat_gap_lab.ts`; needs root and `deno task build`, else its rows say why they are skipped);
 * - idle CPU and memory per process (`idle.ts`);
 * - p50/p99 per runtime at 200 / 500 / 1 000 lines/s and throughput to 10 clients (`chat.ts`,
 *   without its memory step);
 * - the client process's CPU per delivered line against the floor of only opening the same
 *   datagrams, and the leader's CPU and datagrams per sequenced line (`delivery_floor.ts`, Deno
 *   servers, 10 clients).
 *
 * `deno run --unstable-net -A tests/bench/summary.ts [--trials 6] [--idle-seconds 20]
 * [--json now.json] [--before before.json]`: `--trials` is the number of kills per runtime on
 * loopback and of cuts in the lab; `--json` writes the figures measured, `--before` adds a column
 * with figures an earlier run wrote (e.g. the same script run in a checkout of main the same hour),
 * so before and after come from one session. The table goes to stdout and to
 * `dist/bench/summary.md`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { launcherFor } from "../lab/dsys.ts";
import { REPO_ROOT } from "../helpers/process.ts";
import { type Gap, measureGaps, summarizeGaps } from "./chat_gap.ts";
import { labGapSkipReason, measureLabGaps } from "./chat_gap_lab.ts";
import type { ClientsResult } from "./chat_load.ts";
import { measureDeliveryCost } from "./delivery_floor.ts";
import { measureIdle } from "./idle.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    trials: { type: "string", default: "6" },
    "idle-seconds": { type: "string", default: "20" },
    json: { type: "string" },
    before: { type: "string" },
  },
});
for (const name of ["trials", "idle-seconds"] as const) {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(
      `--${name}: expected a positive whole number, got ${JSON.stringify(flags[name])}`,
    );
    Deno.exit(2);
  }
}

/** One figure of the table: a name and, per runtime, a value with its unit in the text. */
type Figures = Record<string, string>;

/** The rows of the chat gap after a SIGKILL on loopback, by cause. */
const KILLED: Record<string, string> = {
  leader: "chat gap, kill of the leader (median / max ms)",
  "client's server": "chat gap, kill of a client's server (median / max ms)",
};
/** The rows of the lab's chat gap, by cause (the cut host always runs the leader). */
const HOST_LOST: Record<string, string> = {
  leader: "chat gap, host of the leader lost (median / max ms)",
  "client's server": "chat gap, host of the leader and a client's server lost (median / max ms)",
};
const CLIENT_COST = "client µs CPU per delivery / floor µs (ratio)";
const LEADER_CPU = "leader µs CPU per sequenced line";
const LEADER_DATAGRAMS = "leader datagrams per sequenced line (received / sent)";

/** What issue 15 measured before any of its work (lab of namespaced hosts; one run). */
const EARLIER: Figures = {
  [KILLED.leader]: "930 / 2 170 (both causes)",
  [KILLED["client's server"]]: "2 200",
  [HOST_LOST.leader]: "—",
  [HOST_LOST["client's server"]]: "—",
  "idle server CPU % of a core": "2.1–3.1",
  "idle client CPU % of a core": "1.6–2.1",
  "idle RSS MiB": "66",
  "deno p50 / p99 ms at 200 lines/s": "? / 75",
  "deno p50 / p99 ms at 500 lines/s": "? / 29",
  "deno p50 / p99 ms at 1000 lines/s": "? / 20",
  "node p50 / p99 ms at 200 lines/s": "? / 4.6",
  "node p50 / p99 ms at 500 lines/s": "? / 6.9",
  "node p50 / p99 ms at 1000 lines/s": "? / 6.9",
  "deno lines/s to 10 clients": "22 700",
  "node lines/s to 10 clients": "15 800",
  [CLIENT_COST]: "—",
  [LEADER_CPU]: "—",
  [LEADER_DATAGRAMS]: "—",
};

const GOALS: Figures = {
  [KILLED.leader]: "≤ 500",
  [KILLED["client's server"]]: "≤ 500",
  [HOST_LOST.leader]: "≤ 1 200",
  [HOST_LOST["client's server"]]: "≤ 1 200",
  "idle server CPU % of a core": "≤ 0.5",
  "idle client CPU % of a core": "≤ 0.2",
  "deno p50 / p99 ms at 1000 lines/s": "p99 ≤ 5",
  "node p50 / p99 ms at 1000 lines/s": "p99 ≤ 5",
  "deno lines/s to 10 clients": "≥ 50 000",
  "node lines/s to 10 clients": "≥ 50 000",
  [CLIENT_COST]: "ratio ≤ 2",
};

const range = (values: number[], digits: number) => {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

/** Adds each cause's median / max of `gaps` to its row of `rows`, tagged with `tag`. */
function addGaps(now: Figures, rows: Record<string, string>, gaps: Gap[], tag: string): void {
  for (const [cause, s] of summarizeGaps(gaps)) {
    const key = rows[cause];
    const text = `${s.median.toFixed(0)} / ${s.max.toFixed(0)} (${tag}, n=${s.n})`;
    now[key] = [now[key], text].filter(Boolean).join("; ");
  }
}

async function measure(): Promise<Figures> {
  const now: Figures = {};
  const trials = Number(flags.trials);
  const none = `no direction of this cause in ${trials} trials`;
  for (const runtime of ["deno", "node"] as const) {
    addGaps(now, KILLED, await measureGaps(runtime, trials), runtime);
  }
  for (const key of Object.values(KILLED)) now[key] ??= `${none} per runtime`;
  const skip = labGapSkipReason();
  if (!skip) addGaps(now, HOST_LOST, await measureLabGaps(trials), launcherFor("node").name);
  for (const key of Object.values(HOST_LOST)) now[key] ??= skip ? `skipped: ${skip}` : none;
  const rss: string[] = [];
  for (const runtime of ["deno", "node"] as const) {
    for (const row of await measureIdle(runtime, Number(flags["idle-seconds"]))) {
      const key = `idle ${row.role} CPU % of a core`;
      now[key] = [now[key], `${range(row.cpuPercent, 2)} (${runtime})`].filter(Boolean).join("; ");
      rss.push(`${range(row.rssMiB, 0)} (${runtime} ${row.role})`);
    }
  }
  now["idle RSS MiB"] = rss.join("; ");
  const json = await Deno.makeTempFile({ suffix: ".json" });
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      `${REPO_ROOT}/tests/bench/chat.ts`,
      ...["--memory-clients", "0", "--sweep", "200,500", "--rate", "1000", "--json", json],
      ...["--out", `${REPO_ROOT}/dist/bench/chat-summary.md`],
    ],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`chat.ts exited with ${code}`);
  const results = JSON.parse(await Deno.readTextFile(json)) as (ClientsResult & { kind: string })[];
  await Deno.remove(json);
  for (const r of results) {
    for (const l of [r.latency, ...r.sweep]) {
      now[`${r.kind} p50 / p99 ms at ${l.rate} lines/s`] = `${l.p50.toFixed(2)} / ${
        l.p99.toFixed(2)
      }${l.complete ? "" : " (incomplete)"}`;
    }
    now[`${r.kind} lines/s to 10 clients`] = `${Math.round(r.throughput.rate)}${
      r.throughput.complete ? "" : " (incomplete)"
    }`;
  }
  const cost = await measureDeliveryCost({ clients: 10, count: 2000, rounds: 5 });
  const tag = `(deno${cost.complete ? "" : ", incomplete"})`;
  now[CLIENT_COST] = `${cost.clientMicros.toFixed(2)} / ${cost.floorMicros.toFixed(2)} (${
    (cost.clientMicros / cost.floorMicros).toFixed(2)
  }×) ${tag}`;
  now[LEADER_CPU] = `${cost.leaderMicros.toFixed(1)} ${tag}`;
  now[LEADER_DATAGRAMS] = `${cost.receivedPerLine.toFixed(2)} / ${
    cost.sentPerLine.toFixed(2)
  } ${tag}`;
  return now;
}

const now = await measure();
if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(now));
const before: Figures | undefined = flags.before
  ? JSON.parse(await Deno.readTextFile(flags.before))
  : undefined;
const lines = [
  `| figure | issue 15 (earlier) | ${before ? "before (same session) | " : ""}now | goal |`,
  `|---|---|${before ? "---|" : ""}---|---|`,
  ...Object.keys(EARLIER).map((key) =>
    `| ${key} | ${EARLIER[key]} | ${before ? `${before[key] ?? ""} | ` : ""}${now[key] ?? ""} | ${
      GOALS[key] ?? ""
    } |`
  ),
];
const table = lines.join("\n") + "\n";
await Deno.mkdir(`${REPO_ROOT}/dist/bench`, { recursive: true });
await Deno.writeTextFile(`${REPO_ROOT}/dist/bench/summary.md`, table);
console.log(table);
