/**
 * Issue 15's table in one run: chat gap by cause (`chat_gap.ts`), idle CPU and memory per process
 * (`idle.ts`), p50/p99 per runtime at 200 / 500 / 1 000 lines/s and throughput to 10 clients
 * (`chat.ts`, without its memory step), each beside the figures the issue measured earlier.
 *
 * `deno run --unstable-net -A tests/bench/summary.ts [--trials 6] [--idle-seconds 20]
 * [--json now.json] [--before before.json]`: `--json` writes the figures measured, `--before`
 * adds a column with figures an earlier run wrote (e.g. the same script run in a checkout of main
 * the same hour), so before and after come from one session. The table goes to stdout and to
 * `dist/bench/summary.md`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { REPO_ROOT } from "../helpers/process.ts";
import { measureGaps, summarizeGaps } from "./chat_gap.ts";
import type { ClientsResult } from "./chat_load.ts";
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

/** One figure of the table: a name and, per runtime, a value with its unit in the text. */
type Figures = Record<string, string>;

/** What issue 15 measured before any of its work (lab of namespaced hosts; one run). */
const EARLIER: Figures = {
  "chat gap, kill of the leader (median / max ms)": "930 / 2 170 (both causes)",
  "chat gap, kill of a client's server (median / max ms)": "2 200",
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
};

const GOALS: Figures = {
  "chat gap, kill of the leader (median / max ms)": "≤ 500",
  "chat gap, kill of a client's server (median / max ms)": "≤ 500",
  "idle server CPU % of a core": "≤ 0.5",
  "idle client CPU % of a core": "≤ 0.2",
  "deno p50 / p99 ms at 1000 lines/s": "p99 ≤ 5",
  "node p50 / p99 ms at 1000 lines/s": "p99 ≤ 5",
  "deno lines/s to 10 clients": "≥ 50 000",
  "node lines/s to 10 clients": "≥ 50 000",
};

const range = (values: number[], digits: number) => {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

async function measure(): Promise<Figures> {
  const now: Figures = {};
  const trials = Number(flags.trials);
  for (const runtime of ["deno", "node"] as const) {
    const gaps = summarizeGaps(await measureGaps(runtime, trials));
    for (const [cause, label] of [["leader", "leader"], ["client's server", "a client's server"]]) {
      const s = gaps.get(cause);
      const key = `chat gap, kill of ${
        label === "leader" ? "the leader" : label
      } (median / max ms)`;
      const text = s ? `${s.median.toFixed(0)} / ${s.max.toFixed(0)} (${runtime}, n=${s.n})` : "";
      now[key] = [now[key], text].filter(Boolean).join("; ");
    }
  }
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
