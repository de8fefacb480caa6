/**
 * What the failover benchmark measured, and its Markdown report: order statistics of each
 * figure, the comparison with reference systems (etcd/Raft, JGroups, memberlist), the quiet run's
 * counts, one row per trial and every anomaly seen, with the log lines that show it.
 *
 * @module
 */

/** Order statistics of one figure. */
export interface Summary {
  /** Number of samples. */
  n: number;
  /** Median (mean of the two middle samples when `n` is even). */
  median: number;
  /** 99th percentile, nearest rank: with fewer than 100 samples it is the maximum. */
  p99: number;
  /** Smallest sample. */
  min: number;
  /** Largest sample. */
  max: number;
}

/** The statistics of `samples`, or undefined when there are none. */
export function summarize(samples: number[]): Summary | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    n,
    median,
    p99: sorted[Math.ceil(0.99 * n) - 1],
    min: sorted[0],
    max: sorted[n - 1],
  };
}

/** What a starting cluster did before all its servers first named the same leader. */
export interface Startup {
  /** `election-started` lines, all servers together. */
  elections: number;
  /** Leaders named in `leader-changed` lines, in read order, repeats left out. */
  leaders: string[];
  /** When more than one leader was named: the `election-won`/`leader-changed` lines. */
  lines?: string;
}

/** One SIGKILL-the-leader trial. */
export interface Trial {
  /** 1-based trial number. */
  index: number;
  /** Why the trial produced no failover figure; undefined when it did. */
  failure?: string;
  /** First spawn → all three servers name the same leader, ms. */
  startAgreedMs?: number;
  /** The cluster's start, up to that agreement. */
  startup?: Startup;
  /** Per server id: its spawn → it logged `member-joined` for both others, ms. */
  viewCompleteMs: Record<string, number>;
  /** Id of the killed leader. */
  killed?: string;
  /** Id of the leader the survivors agreed on. */
  newLeader?: string;
  /** Kill → first survivor logged `member-suspect` for the killed leader, ms. */
  suspectMs?: number;
  /** Kill → first survivor logged `member-dead` for the killed leader, ms. */
  deadMs?: number;
  /** Kill → the last survivor logged `leader-changed` naming the agreed new leader, ms. */
  failoverMs?: number;
  /** Protocol misbehaviour seen in this trial, each with the log lines that show it. */
  anomalies: string[];
}

/** Sums of the `stopped` protocol counters. */
export type Counters = Record<string, number>;

/** The fault-free run. */
export interface Quiet {
  /** Length of the observed window (from leader agreement to the stop), seconds. */
  seconds: number;
  /** Number of CPU burners that ran. */
  burners: number;
  /** CPU each burner got over the window, in % of one core. */
  burnerCpu: number[];
  /** `/proc/loadavg` at the end of the window. */
  loadavg: string;
  /** Log lines read inside the window, counted per event (all servers together). */
  events: Record<string, number>;
  /** Per server id: the `protocol` counters of its `stopped` line (whole run, startup too). */
  counters: Record<string, Counters>;
  /** The cluster's start, up to the first agreement. */
  startup?: Startup;
  /** Per server id: how it ended after SIGTERM (`code 0`, `signal …`, `still running`). */
  exits: Record<string, string>;
  /** Problems: missing `stopped` lines, unexpected events (with their log lines). */
  anomalies: string[];
}

/** Everything one benchmark run produced. */
export interface Report {
  /** ISO date of the start. */
  date: string;
  /** Machine and software facts, one line each. */
  machine: string[];
  /** The command line that reproduces the run. */
  command: string;
  /** How the run was done, one sentence each. */
  method: string[];
  /** The trials (empty when skipped). */
  trials: Trial[];
  /** Read lag of every log line of the trials: wall clock at read − its `@timestamp`, ms. */
  lagMs: number[];
  /** The quiet run, if one ran. */
  quiet?: Quiet;
}

/** The events a fault-free run should not log once the first leader is agreed. */
export const QUIET_EVENTS = [
  "election-started",
  "leader-changed",
  "member-suspect",
  "member-dead",
  "member-left",
  "member-alive-again",
];

function row(cells: (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

function header(cells: string[]): string[] {
  return [row(cells), row(cells.map(() => "---"))];
}

function ms(value: number | undefined): string {
  return value === undefined ? "—" : value.toFixed(0);
}

function figureRow(name: string, samples: number[]): string {
  const s = summarize(samples);
  return row([name, samples.length, ms(s?.median), ms(s?.p99), ms(s?.min), ms(s?.max)]);
}

function describeStartup(startup: Startup | undefined): string {
  if (startup === undefined) return "—";
  return `${startup.elections}; ${startup.leaders.join(" → ") || "none"}`;
}

function trialSection(report: Report): string[] {
  const { trials } = report;
  const done = trials.filter((t) => t.failure === undefined);
  const pick = (f: (t: Trial) => number | undefined) =>
    done.map(f).filter((v): v is number => v !== undefined);
  const failover = summarize(pick((t) => t.failoverMs));
  const lag = summarize(report.lagMs);
  const lines = [
    `## SIGKILL of the leader in a 3-server cluster: ${trials.length} trials, ` +
    `${done.length} measured`,
    "",
    ...header(["figure", "samples", "median ms", "p99 ms", "min ms", "max ms"]),
    figureRow("kill → new leader agreed by all survivors", pick((t) => t.failoverMs)),
    figureRow("kill → first survivor suspects the leader", pick((t) => t.suspectMs)),
    figureRow("kill → first survivor declares the leader dead", pick((t) => t.deadMs)),
    figureRow(
      "server start → view complete (per server)",
      trials.flatMap((t) => Object.values(t.viewCompleteMs)),
    ),
    figureRow(
      "cluster start → leader agreed by all three",
      trials.map((t) => t.startAgreedMs).filter((v): v is number => v !== undefined),
    ),
    "",
    "p99 is the nearest-rank 99th percentile: with fewer than 100 samples it is the maximum.",
  ];
  if (lag) {
    lines.push(
      "Times are read on the benchmark's monotonic clock when it reads each log line; the " +
        "read lag (wall clock at read − the line's own timestamp, 1 ms resolution) was " +
        `${ms(lag.median)} ms median, ${ms(lag.p99)} ms p99, ${ms(lag.max)} ms max over ` +
        `${lag.n} lines.`,
    );
  }
  lines.push(
    "",
    "### Compared with dsys's target and other systems' defaults (not measured here)",
    "",
    ...header(["system", "killed leader → new leader"]),
    row([
      "**dsys, this run**",
      failover ? `${ms(failover.median)} ms median, ${ms(failover.p99)} ms p99` : "—",
    ]),
    row([
      "dsys target (suspect 500 + probe 200 + answer 150 ms, plus a heartbeat)",
      "≤ 1 000 ms median, ≤ 1 500 ms p99",
    ]),
    row(["etcd/Raft, defaults", "1–2 s (1.1–2 s)"]),
    row(["JGroups, killed process (FD_SOCK2 + VERIFY_SUSPECT2)", "~2 s"]),
    row(["memberlist/Serf, 3 nodes", "5–6 s"]),
    "",
    "### Per trial",
    "",
    ...header([
      "trial",
      "killed → new leader",
      "failover ms",
      "suspect ms",
      "dead ms",
      "view complete ms",
      "start → agreed ms",
      "startup elections; leaders",
    ]),
  );
  for (const t of trials) {
    const views = Object.entries(t.viewCompleteMs).map(([id, v]) => `${id} ${ms(v)}`);
    lines.push(row([
      t.index,
      t.failure === undefined ? `${t.killed} → ${t.newLeader}` : `failed: ${t.failure}`,
      ms(t.failoverMs),
      ms(t.suspectMs),
      ms(t.deadMs),
      views.join(", ") || "—",
      ms(t.startAgreedMs),
      describeStartup(t.startup),
    ]));
  }
  return lines;
}

function quietSection(quiet: Quiet): string[] {
  const count = (event: string) => quiet.events[event] ?? 0;
  const busy = quiet.burners === 0
    ? "no CPU burners"
    : `${quiet.burners} CPU burners (${
      quiet.burnerCpu.map((c) => `${c.toFixed(0)}%`).join(", ")
    } of a core each)`;
  const lines = [
    `## Quiet run: 3 servers, no faults, ${quiet.seconds.toFixed(0)} s, ${busy}`,
    "",
    `Load average at the end: ${quiet.loadavg}.`,
    "",
    `Start-up before the first agreement (elections started; leaders named): ` +
    `${describeStartup(quiet.startup)}.`,
    "",
    "Log lines read after all three agreed on the first leader, until the stop:",
    "",
    ...header(QUIET_EVENTS),
    row(QUIET_EVENTS.map(count)),
    "",
    "`stopped` protocol counters per server (whole run, including the startup election) and " +
    "how each ended after SIGTERM:",
    "",
  ];
  const names = [...new Set(Object.values(quiet.counters).flatMap((c) => Object.keys(c)))];
  lines.push(...header(["server", ...names, "exit after SIGTERM"]));
  for (const [id, exit] of Object.entries(quiet.exits)) {
    const counters = quiet.counters[id] ?? {};
    lines.push(row([id, ...names.map((name) => counters[name] ?? "—"), exit]));
  }
  return lines;
}

function startupNotes(report: Report): string[] {
  const notes = [
    ...report.trials.map((t) => [`trial ${t.index}`, t.startup?.lines] as const),
    ["quiet run", report.quiet?.startup?.lines] as const,
  ].filter(([, lines]) => lines !== undefined);
  const clusters = report.trials.length + (report.quiet ? 1 : 0);
  return [
    "## Start-up: clusters that named more than one leader before agreeing",
    "",
    `${notes.length} of ${clusters} (a lower server leads until a higher one is heard; ` +
    "times from the first spawn).",
    ...(notes.length > 0 ? [""] : []),
    ...notes.map(([where, lines]) => `- ${where}: ${lines}`),
  ];
}

function anomalySection(report: Report): string[] {
  const found = [
    ...report.trials.flatMap((t) => t.anomalies.map((a) => `- trial ${t.index}: ${a}`)),
    ...(report.quiet?.anomalies ?? []).map((a) => `- quiet run: ${a}`),
  ];
  return ["## Anomalies", "", ...(found.length > 0 ? found : ["None seen."])];
}

/** The whole report as Markdown. */
export function renderReport(report: Report): string {
  const lines = [
    "# dsys failover benchmark",
    "",
    `- Date: ${report.date}`,
    ...report.machine.map((fact) => `- ${fact}`),
    `- Command: \`${report.command}\``,
    "",
    ...report.method.flatMap((paragraph) => [paragraph, ""]),
  ];
  if (report.trials.length > 0) lines.push(...trialSection(report), "");
  if (report.quiet) lines.push(...quietSection(report.quiet), "");
  lines.push(...startupNotes(report), "", ...anomalySection(report));
  return `${lines.join("\n")}\n`;
}
