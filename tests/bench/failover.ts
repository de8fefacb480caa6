/**
 * Failover benchmark (not a test), in the multi-host lab with the real program: how long a
 * 3-server cluster takes to agree on a new leader after its leader is SIGKILLed, how long a
 * starting server takes to see the whole group, and how many elections, suspicions and deaths
 * a fault-free run produces. Writes a Markdown report (default `dist/bench/failover.md`) and
 * prints it; it measures and reports, it asserts nothing.
 *
 * Each trial starts a fresh cluster (three new processes, a new cluster name), so every trial
 * also measures a cold start; after the kill all processes are ended. Times come from this
 * process's monotonic clock at the moment it reads each log line from a server's standard
 * error; the report gives that read lag.
 *
 * Run (root, Linux): `deno run --unstable-net -A tests/bench/failover.ts [options]`
 *
 * - `--trials N`: leader-kill trials (default 20; 0 skips them)
 * - `--transport node|deno`: `node` runs the single executable `dist/dsys` (build it with
 *   `deno task build`), `deno` the source under Deno (default node)
 * - `--quiet-seconds S`: length of the fault-free run (default 60; the full run is 600;
 *   0 skips it)
 * - `--busy`: keep every core busy during the quiet run with one CPU burner per core (`deno
 *   eval` of an endless loop, in this process's namespace; burners send no traffic)
 * - `--out FILE`: where the report goes (default `dist/bench/failover.md`)
 *
 * Without root (or without network namespaces) it prints why and exits 0, having measured
 * nothing.
 *
 * @module
 */

import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { dirname } from "node:path";
import { compareOrder } from "../../src/election/order.ts";
import { REPO_ROOT } from "../helpers/process.ts";
import { launcherFor, type TransportName } from "../lab/dsys.ts";
import { Lab, labUnsupportedReason } from "../lab/harness.ts";
import {
  agreedLeader,
  BenchCluster,
  type BenchServer,
  type Stamped,
  viewCompleteAt,
} from "./failover_lab.ts";
import {
  type Counters,
  type Quiet,
  QUIET_EVENTS,
  renderReport,
  type Report,
  type Startup,
  type Trial,
} from "./failover_report.ts";

const SERVERS = 3;
/** Longest wait for a starting cluster to agree on a leader. */
const START_TIMEOUT_MS = 30_000;
/** Longest wait for the survivors to agree after the kill: the trial fails past it. */
const FAILOVER_TIMEOUT_MS = 15_000;
/** Settling time before the kill: this plus a random part of the same length. */
const SETTLE_MS = 1_000;
/** How long the survivors are watched after they agree, for flapping and false suspicions. */
const WATCH_MS = 1_000;
/** Longest wait for the `stopped` line after SIGTERM. */
const STOP_TIMEOUT_MS = 10_000;
/** Linux's USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Options {
  trials: number;
  transport: TransportName;
  quietSeconds: number;
  busy: boolean;
  out: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError("expected a whole number");
  return Number(text);
}

function parseOptions(args: string[]): Options {
  const command = new Command("failover")
    .description("failover benchmark of dsys in the network-namespace lab (root only)")
    .addOption(
      new Option("--trials <n>", "leader-kill trials (0: none)").argParser(wholeNumber)
        .default(20),
    )
    .addOption(
      new Option("--transport <name>", "node: dist/dsys; deno: the source under Deno")
        .choices(["node", "deno"] as const).default("node" as const),
    )
    .addOption(
      new Option("--quiet-seconds <s>", "fault-free run length (0: none)").argParser(wholeNumber)
        .default(60),
    )
    .option("--busy", "keep every core busy during the quiet run", false)
    .option("--out <file>", "report file", `${REPO_ROOT}/dist/bench/failover.md`)
    .parse(args, { from: "user" });
  return command.opts();
}

/** Most log lines one note quotes. */
const SHOWN_LINES = 12;

/** Compact `server +t ms {properties}` form of log lines, in read order, for notes. */
function show(lines: [BenchServer, Stamped][], origin: number): string {
  const sorted = [...lines].sort(([, a], [, b]) => a.at - b.at);
  const shown = sorted.slice(0, SHOWN_LINES).map(([s, e]) =>
    `\`${s.id} +${(e.at - origin).toFixed(0)} ms ${JSON.stringify(e.props)}\``
  );
  const more = sorted.length - shown.length;
  return shown.join(", ") + (more > 0 ? ` and ${more} more` : "");
}

function linesOf(
  servers: BenchServer[],
  events: string[],
  from: number,
  to = Infinity,
): [BenchServer, Stamped][] {
  return servers.flatMap((s) =>
    events.flatMap((event) => s.between(event, from, to).map((e): [BenchServer, Stamped] => [s, e]))
  );
}

/** The highest-ordered of `servers` in the Bully order (all run with priority 0). */
function highest(servers: BenchServer[]): BenchServer {
  return servers.reduce((a, b) =>
    compareOrder({ priority: 0, id: a.id }, { priority: 0, id: b.id }) >= 0 ? a : b
  );
}

/** The earliest line of `event` about `id` that any of `servers` read at or after `since`. */
function earliest(
  servers: BenchServer[],
  event: string,
  id: string,
  since: number,
): number | undefined {
  const times = servers.map((s) => s.first(event, { id }, since)?.at)
    .filter((t): t is number => t !== undefined);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** Starts a cluster of one server per lab host and waits until all name the same leader. */
async function startCluster(
  lab: Lab,
  transport: TransportName,
  name: string,
): Promise<{ cluster: BenchCluster; agreedAt?: number; leader?: string }> {
  const cluster = new BenchCluster({ transport, cluster: name, secret: crypto.randomUUID() });
  for (const host of lab.hosts) cluster.start(host);
  const { servers } = cluster;
  const agreed = await cluster.until(() => agreedLeader(servers) !== undefined, START_TIMEOUT_MS);
  if (!agreed) return { cluster };
  return {
    cluster,
    agreedAt: Math.max(...servers.map((s) => s.lastLeaderLine()!.at)),
    leader: agreedLeader(servers),
  };
}

/**
 * What a cluster did before it first agreed: how many elections its servers started, the
 * leaders they named in read order (repeats of the previous one left out), and, when more than
 * one leader was named, the log lines that show it.
 */
function startup(servers: BenchServer[], agreedAt: number): Startup {
  const until = agreedAt + 0.001;
  const named = linesOf(servers, ["leader-changed"], 0, until).sort(([, a], [, b]) => a.at - b.at)
    .map(([, e]) => e.props.leader)
    .filter((leader): leader is string => typeof leader === "string");
  const leaders = named.filter((leader, i) => leader !== named[i - 1]);
  const firstSpawn = Math.min(...servers.map((s) => s.spawnedAt));
  return {
    elections: linesOf(servers, ["election-started"], 0, until).length,
    leaders,
    lines: leaders.length > 1
      ? show(linesOf(servers, ["election-won", "leader-changed"], 0, until), firstSpawn)
      : undefined,
  };
}

/** One trial: fresh cluster, agreement, SIGKILL of the leader, agreement of the survivors. */
async function trial(
  lab: Lab,
  transport: TransportName,
  index: number,
  lag: number[],
): Promise<Trial> {
  const result: Trial = { index, viewCompleteMs: {}, anomalies: [] };
  const { cluster, agreedAt, leader } = await startCluster(
    lab,
    transport,
    `bench-${lab.run}-${index}`,
  );
  const { servers } = cluster;
  try {
    const firstSpawn = Math.min(...servers.map((s) => s.spawnedAt));
    if (agreedAt === undefined || leader === undefined) {
      result.failure = `no leader agreed within ${START_TIMEOUT_MS} ms`;
      result.anomalies.push(
        `${result.failure}; latest leaders ${servers.map((s) => `${s.id}=${s.leader()}`)}`,
      );
      return result;
    }
    result.startAgreedMs = agreedAt - firstSpawn;
    result.startup = startup(servers, agreedAt);
    const expected = highest(servers);
    if (leader !== expected.id) {
      result.anomalies.push(
        `the cluster agreed on ${leader}, not the highest-ordered ${expected.id}: ` +
          show(linesOf(servers, ["leader-changed"], 0), firstSpawn),
      );
    }
    await cluster.until(
      () => servers.every((s) => viewCompleteAt(s, servers.filter((o) => o !== s)) !== undefined),
      START_TIMEOUT_MS,
    );
    for (const s of servers) {
      const complete = viewCompleteAt(s, servers.filter((o) => o !== s));
      if (complete !== undefined) result.viewCompleteMs[s.id] = complete - s.spawnedAt;
    }

    await sleep(SETTLE_MS + Math.random() * SETTLE_MS);
    const unprovoked = linesOf(servers, QUIET_EVENTS, agreedAt + 0.001);
    if (unprovoked.length > 0) {
      result.anomalies.push(
        `events without a fault before the kill: ${show(unprovoked, agreedAt)}`,
      );
    }
    const settled = agreedLeader(servers);
    if (settled === undefined) {
      result.failure = "no agreed leader to kill";
      return result;
    }
    const victim = servers.find((s) => s.id === settled)!;
    const survivors = servers.filter((s) => s !== victim);
    const next = highest(survivors);
    result.killed = victim.id;

    const killedAt = performance.now();
    victim.signal("SIGKILL");
    const agreed = await cluster.until(() => {
      const now = agreedLeader(survivors);
      return now !== undefined && now !== victim.id;
    }, FAILOVER_TIMEOUT_MS);
    result.suspectMs = delta(earliest(survivors, "member-suspect", victim.id, killedAt), killedAt);
    result.deadMs = delta(earliest(survivors, "member-dead", victim.id, killedAt), killedAt);
    if (!agreed) {
      result.failure = `survivors did not agree within ${FAILOVER_TIMEOUT_MS} ms`;
      result.anomalies.push(
        `${result.failure}: ` +
          show(linesOf(survivors, ["leader-changed", "election-started"], killedAt), killedAt),
      );
      return result;
    }
    const agreedLines = survivors.map((s) => s.lastLeaderLine()!);
    const agreedOn = agreedLeader(survivors)!;
    const failoverAt = Math.max(...agreedLines.map((e) => e.at));
    result.failoverMs = failoverAt - killedAt;
    result.newLeader = agreedOn;

    await sleep(WATCH_MS);
    if (agreedOn !== next.id) {
      result.anomalies.push(
        `survivors agreed on ${agreedOn}, not the highest-ordered survivor ${next.id}: ` +
          show(linesOf(survivors, ["leader-changed"], killedAt), killedAt),
      );
    }
    const wrong = linesOf(survivors, ["leader-changed"], killedAt, failoverAt).filter(([, e]) =>
      e.props.leader !== null && e.props.leader !== agreedOn
    );
    if (wrong.length > 0) {
      result.anomalies.push(`a survivor named another leader first: ${show(wrong, killedAt)}`);
    }
    const flaps = survivors.flatMap((s, i) =>
      s.between("leader-changed", agreedLines[i].at + 0.001).map((e): [BenchServer, Stamped] => [
        s,
        e,
      ])
    );
    if (flaps.length > 0) {
      result.anomalies.push(
        `leader changed again within ${WATCH_MS} ms of the agreement: ${show(flaps, killedAt)}`,
      );
    }
    const accused = linesOf(survivors, ["member-suspect", "member-dead"], killedAt)
      .filter(([, e]) => e.props.id !== victim.id);
    if (accused.length > 0) {
      result.anomalies.push(`a live survivor was accused: ${show(accused, killedAt)}`);
    }
    return result;
  } finally {
    await cluster.kill();
    lag.push(...servers.flatMap((s) => s.events.map((e) => e.lagMs)));
  }
}

function delta(at: number | undefined, origin: number): number | undefined {
  return at === undefined ? undefined : at - origin;
}

/** CPU time (user + system) a process has used, in seconds; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** How `server` ended (`code 0`, `signal SIGTERM`), or `still running` after `ms`. */
async function exitWithin(server: BenchServer, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => timer = setTimeout(resolve, ms, "still running"));
  const ended = server.exited.then((status) =>
    status.signal ? `signal ${status.signal}` : `code ${status.code}`
  );
  try {
    return await Promise.race([ended, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The fault-free run: a cluster, optionally on busy cores, for `seconds` after agreement. */
async function quietRun(
  lab: Lab,
  transport: TransportName,
  seconds: number,
  burners: Deno.ChildProcess[],
): Promise<Quiet> {
  const quiet: Quiet = {
    seconds: 0,
    burners: burners.length,
    burnerCpu: [],
    loadavg: "",
    events: {},
    counters: {},
    exits: {},
    anomalies: [],
  };
  const { cluster, agreedAt, leader } = await startCluster(lab, transport, `quiet-${lab.run}`);
  const { servers } = cluster;
  try {
    if (agreedAt === undefined) {
      quiet.anomalies.push(`no leader agreed within ${START_TIMEOUT_MS} ms`);
      return quiet;
    }
    quiet.startup = startup(servers, agreedAt);
    if (leader !== highest(servers).id) {
      quiet.anomalies.push(`agreed on ${leader}, not the highest-ordered ${highest(servers).id}`);
    }
    const cpuBefore = burners.map((b) => cpuSeconds(b.pid));
    const from = performance.now();
    for (let elapsed = 0; elapsed < seconds;) {
      const step = Math.min(60, seconds - elapsed);
      await sleep(step * 1000);
      elapsed += step;
      const seen = linesOf(servers, QUIET_EVENTS, from).length;
      console.error(`quiet run: ${elapsed}/${seconds} s, ${seen} membership/election lines`);
    }
    const to = performance.now();
    quiet.seconds = (to - from) / 1000;
    quiet.burnerCpu = burners.map((b, i) =>
      (cpuSeconds(b.pid) - cpuBefore[i]) / quiet.seconds * 100
    );
    quiet.loadavg = Deno.readTextFileSync("/proc/loadavg").trim();
    const seen = linesOf(servers, QUIET_EVENTS, from, to);
    for (const [, e] of seen) quiet.events[e.event] = (quiet.events[e.event] ?? 0) + 1;
    if (seen.length > 0) quiet.anomalies.push(`events without a fault: ${show(seen, from)}`);

    // Lowest-ordered first, one at a time: no leader leaves while others run, so the leave
    // starts no election and the counters hold only the start-up and the quiet window.
    const ordered = [...servers].sort((a, b) =>
      compareOrder({ priority: 0, id: a.id }, { priority: 0, id: b.id })
    );
    for (const s of ordered) {
      s.signal("SIGTERM");
      const exit = await exitWithin(s, STOP_TIMEOUT_MS);
      quiet.exits[s.id] = exit;
      const stopped = s.first("stopped");
      if (stopped === undefined) {
        quiet.anomalies.push(`${s.id} logged no \`stopped\` line after SIGTERM (${exit})`);
      } else {
        quiet.counters[s.id] = stopped.props.protocol as Counters;
      }
    }
    return quiet;
  } finally {
    await cluster.kill();
  }
}

/** Starts one endless-loop process per core, in this process's own namespace. */
function startBurners(): Deno.ChildProcess[] {
  return Array.from(
    { length: navigator.hardwareConcurrency },
    () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "for (;;) {}"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
  );
}

async function stopBurners(burners: Deno.ChildProcess[]): Promise<void> {
  for (const burner of burners) {
    try {
      burner.kill("SIGKILL");
    } catch {
      // Already ended.
    }
  }
  await Promise.all(burners.map((burner) => burner.status));
}

/** Trimmed standard output of a command, or undefined when it cannot run or fails. */
function output(command: string, args: string[]): string | undefined {
  try {
    const out = new Deno.Command(command, { args, stdin: "null", stderr: "null" }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

function machineFacts(transport: TransportName): string[] {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1];
  const launcher = launcherFor(transport);
  const dsys = output(launcher.command, [...launcher.prefix, "version"]);
  const facts = [
    `Machine: ${navigator.hardwareConcurrency} CPUs (${cpu ?? "unknown model"}), Linux ` +
    `${Deno.osRelease()}`,
    `Runtimes: Deno ${Deno.version.deno}, Node ${output("node", ["--version"]) ?? "absent"}`,
    `dsys: \`${launcher.name}\` (${transport} transport), \`version\` says "${dsys}"`,
  ];
  if (launcher.command.endsWith("/dist/dsys")) {
    const built = Deno.statSync(launcher.command).mtime?.toISOString();
    facts.push(`Executable built ${built}`);
  }
  const head = output("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"]);
  if (head !== undefined) {
    const changed = output("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "src", "cmd"])
      ?.split("\n").filter((l) => l !== "").length ?? 0;
    facts.push(`Source: git ${head}; ${changed} file(s) under src/, cmd/ changed or new since`);
  }
  return facts;
}

function method(options: Options): string[] {
  const lines = [];
  if (options.trials > 0) {
    lines.push(
      `Each trial starts a fresh cluster: three new \`dsys serve\` processes with the default ` +
        `timing and priority, ids h1–h3, one per lab host (namespaces on one bridge), each ` +
        `bound to its veth, a new cluster name and secret per trial. It waits until all three ` +
        `name the same leader, then ${SETTLE_MS}–${2 * SETTLE_MS} ms more (random, so the ` +
        `kill falls at any phase of the heartbeat), SIGKILLs the leader and waits until both ` +
        `survivors' latest \`leader-changed\` name the same new leader (the figure is the read ` +
        `time of the later of the two lines), then watches ${WATCH_MS} ms more for changes. ` +
        `"Server start → view complete" runs from just before the spawn (so it includes ` +
        `process start-up) to the read of that server's second \`member-joined\`.`,
    );
  }
  if (options.quietSeconds > 0) {
    lines.push(
      `The quiet run starts ${
        options.busy ? "one CPU burner per core, then " : ""
      }a fresh three-server cluster, waits until all agree on a leader, counts what the ` +
        `servers log for ${options.quietSeconds} s, then stops them with SIGTERM one at a ` +
        `time, lowest-ordered first (so no leader leaves while others run), and collects the ` +
        `protocol counters of their \`stopped\` lines.`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const reason = labUnsupportedReason();
  if (reason) {
    console.log(`failover benchmark skipped, nothing measured: ${reason}`);
    return;
  }
  for (const { path, hint } of launcherFor(options.transport).requires) {
    try {
      Deno.statSync(path);
    } catch {
      throw new Error(`${path} is missing: ${hint}`);
    }
  }
  for (const name of Object.keys(Deno.env.toObject())) {
    if (name.startsWith("DSYS_")) Deno.env.delete(name);
  }
  const report: Report = {
    date: new Date().toISOString(),
    machine: machineFacts(options.transport),
    command: `deno run --unstable-net -A tests/bench/failover.ts ${Deno.args.join(" ")}`.trim(),
    method: method(options),
    trials: [],
    lagMs: [],
  };
  const lab = await Lab.create({ hosts: SERVERS });
  let burners: Deno.ChildProcess[] = [];
  const interrupt = () => {
    for (const burner of burners) burner.kill("SIGKILL");
    lab.destroySync();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);
  try {
    for (let i = 1; i <= options.trials; i++) {
      const t = await trial(lab, options.transport, i, report.lagMs);
      report.trials.push(t);
      console.error(
        `trial ${i}/${options.trials}: ` +
          (t.failure ?? `${t.killed} → ${t.newLeader} in ${t.failoverMs?.toFixed(0)} ms`) +
          (t.anomalies.length > 0 ? ` (${t.anomalies.length} anomalies)` : ""),
      );
    }
    if (options.quietSeconds > 0) {
      burners = options.busy ? startBurners() : [];
      try {
        report.quiet = await quietRun(lab, options.transport, options.quietSeconds, burners);
      } finally {
        await stopBurners(burners);
        burners = [];
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", interrupt);
    Deno.removeSignalListener("SIGTERM", interrupt);
    await lab.destroy();
  }
  const markdown = renderReport(report);
  await Deno.mkdir(dirname(options.out), { recursive: true });
  await Deno.writeTextFile(options.out, markdown);
  console.log(markdown);
  console.error(`written to ${options.out}`);
}

if (import.meta.main) await main();
