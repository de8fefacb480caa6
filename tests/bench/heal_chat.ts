/**
 * Chat heal benchmark (not a test), in the multi-host lab with the real program: the
 * target "heal to one leader and converged histories within 3 s of the link coming back",
 * measured with clients that chatted on both sides of a partition. It asserts nothing.
 *
 * Each trial builds a fresh {@linkcode ChatLab}: four servers `h1`–`h4` (`h1` has priority 1,
 * so it leads) and two `dsys chat --json --follow` clients, `alice` on `h5` and `bob` on `h6`.
 * Alice posts one line while the LAN is whole; then the LAN is split 2/2 or 3/1 (the sides vary
 * between trials, `h5` always on the first side and `h6` on the second), both clients wait for
 * their `split` line, post `--lines` lines each and wait until their side printed them all
 * (sequenced and committed there). Then the LAN is healed. The clock starts just before the
 * first bridge port is moved back (so the `ip` commands of the heal, tens of ms, are included;
 * polling runs while they do), and this process polls everything it has read every 10 ms,
 * stamping each condition with the poll at which it last became true:
 *
 * - **clients complete**: both clients printed every line of both sides (at least once;
 *   duplicates are counted and reported, not asserted);
 * - **one leader**: the latest `leader-changed` event of every server names the same leader;
 * - **status converged**: every server logged a `status` event since the heal, and the latest
 *   ones all name that leader, no split, and the same chat commit point (= last seq) and digest.
 *   Status events come once a second per server (`--status-interval 1`), so this figure has
 *   about 1 s granularity: it is an upper bound, up to a second after the logs really agreed.
 *   The lower bound beside it is the latest read of a status line (since the heal) that did not
 *   yet show the final state: the logs agreed somewhere between the two;
 * - **last merge line** (the finer, lower-bound signal): the last `chat-merged` (the leader
 *   appended the other side's lines) or `chat-adopted` (a follower took the merged log) event
 *   read since the heal, up to the moment all the above hold.
 *
 * The trial ends once all of them hold at the same poll, then waits 1.5 s more for late
 * duplicates or a late leader change (reported as notes). It prints a Markdown table per shape
 * (median, p99, max, and whether every trial met the 3 s target) and a row per trial, and writes
 * them to `dist/bench/heal-chat.md` (or `--out`).
 *
 * Run (root, Linux): `deno run --unstable-net -A tests/bench/heal_chat.ts [--trials N]
 * [--lines N] [--shape 2/2|3/1|both] [--out FILE]` (`--trials`: per shape, default 5; `--lines`:
 * per client while split, default 20). It runs the single executable `dist/dsys` (build it with
 * `deno task build`). Without root it prints why and exits 0, having measured nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { type DsysProcess, REPO_ROOT } from "../helpers/process.ts";
import { ChatLab, chatMessages, waitJoined } from "../lab/chat_cluster.ts";
import { currentLeader, waitUntil } from "../lab/cluster.ts";
import { type LabHost, labUnsupportedReason } from "../lab/harness.ts";
import { summarize } from "./failover_report.ts";

/** Lab start-up, a client's join, the split and the acknowledgements each may take this long. */
const STEP_TIMEOUT_MS = 30_000;
/** Heal to all conditions; a trial fails past it. */
const HEAL_TIMEOUT_MS = 30_000;
/** After all conditions hold: how long to keep watching for duplicates and leader changes. */
const SETTLE_MS = 1_500;
/** How often the conditions are checked after the heal. */
const POLL_MS = 10;
/** The target: one leader and converged histories within 3 s of the link coming back. */
const TARGET_MS = 3_000;

/** Sides of the 2/2 trials (server indexes), in turn. */
const EVEN_SPLITS = [[[0, 1], [2, 3]], [[0, 2], [1, 3]], [[0, 3], [1, 2]]];
/** Sides of the 3/1 trials, in turn: each server alone once. */
const UNEVEN_SPLITS = [[[0, 1, 2], [3]], [[1, 2, 3], [0]], [[0, 2, 3], [1]], [[0, 1, 3], [2]]];

const { values: flags } = parseArgs({
  options: {
    trials: { type: "string", default: "5" },
    lines: { type: "string", default: "20" },
    shape: { type: "string", default: "both" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/heal-chat.md` },
  },
});
const trials = Number(flags.trials);
const lines = Number(flags.lines);
for (const [flag, value] of [["--trials", trials], ["--lines", lines]] as const) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${flag} ${value}: expected a whole number from 1`);
    Deno.exit(2);
  }
}
if (!["2/2", "3/1", "both"].includes(flags.shape)) {
  console.error(`--shape ${flags.shape}: expected 2/2, 3/1 or both`);
  Deno.exit(2);
}

/** The figures of one trial, ms after the heal started; undefined when not reached. */
interface TrialResult {
  /** Server indexes of each side. */
  sides: number[][];
  /** Both clients printed every line. */
  clientsMs?: number;
  /** Every server names the same leader. */
  leaderMs?: number;
  /** The leader they agreed on. */
  leader?: string;
  /** Every server's latest status (since the heal) reports the same commit and digest. */
  statusMs?: number;
  /** The latest status line read that did not yet report the converged state. */
  statusLowMs?: number;
  /** The last `chat-merged` / `chat-adopted` line read. */
  mergeMs?: number;
  /** Lines printed more than once, both clients together, at the end of the trial. */
  duplicates: number;
  /** Why the trial has no complete figures, or what was odd about it. */
  notes: string[];
}

/** What one shape of split measured. */
interface Shape {
  name: string;
  splits: number[][][];
  results: TrialResult[];
}

function text(user: string, n: number): string {
  return `${user} split line ${String(n).padStart(3, "0")}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The leader every server names, or undefined when they differ or know none. */
function agreedLeader(servers: DsysProcess[]): string | undefined {
  const leaders = new Set(servers.map((server) => currentLeader(server)?.leader));
  const [leader] = leaders;
  return leaders.size === 1 && typeof leader === "string" ? leader : undefined;
}

/** What a `status` event says about the leader, the split and the chat log, as a string. */
function statusKey(properties: Record<string, unknown>): string {
  const chat = properties.chat as { commit: number; last: number; digest: number } | undefined;
  return JSON.stringify({
    leader: properties.leader ?? null,
    split: properties.split ?? null,
    commit: chat?.commit,
    last: chat?.last,
    digest: chat?.digest,
  });
}

/** The `status` events of one server read since the heal, each stamped when it was read. */
class StatusReader {
  readonly seen: { at: number; key: string }[] = [];
  #next: number;

  constructor(readonly server: DsysProcess) {
    this.#next = server.logs.length;
  }

  /** Takes the status lines logged since the last call, stamped `now`. */
  read(now: number): void {
    const { logs } = this.server;
    for (; this.#next < logs.length; this.#next++) {
      const properties = logs[this.#next].properties;
      if (properties?.event === "status") this.seen.push({ at: now, key: statusKey(properties) });
    }
  }
}

/**
 * True when every server logged a `status` since the heal and the latest ones name one leader,
 * no split, and one fully committed chat log (same commit point = last seq, same digest).
 */
function statusConverged(readers: StatusReader[]): boolean {
  const latest = readers.map((r) => r.seen.at(-1)?.key);
  if (latest.some((key) => key === undefined) || new Set(latest).size !== 1) return false;
  const { leader, split, commit, last, digest } = JSON.parse(latest[0]!);
  return leader !== null && split === null && commit !== undefined && commit === last &&
    digest !== undefined;
}

/**
 * The lower bound of the status convergence: the latest read of a status line that did not yet
 * report the final state, over all servers (`from` when every one did from its first).
 */
function statusLowerBound(readers: StatusReader[], from: number): number {
  const final = readers[0].seen.at(-1)!.key;
  return Math.max(from, ...readers.map((r) => r.seen.findLast((s) => s.key !== final)?.at ?? from));
}

/** `chat-merged` and `chat-adopted` lines read since the marks, all servers together. */
function mergeLines(servers: DsysProcess[], marks: number[]): number {
  return servers.reduce(
    (n, server, i) =>
      n +
      server.logs.slice(marks[i]).filter((l) =>
        l.properties?.event === "chat-merged" || l.properties?.event === "chat-adopted"
      ).length,
    0,
  );
}

function duplicates(client: DsysProcess): number {
  const texts = chatMessages(client).map((m) => m.text);
  return texts.length - new Set(texts).size;
}

/** One trial: a fresh lab split into `sides` (plus a client each), chat, heal, time the merge. */
async function trial(sides: number[][], label: string): Promise<TrialResult> {
  const result: TrialResult = { sides, duplicates: 0, notes: [] };
  const chat = await ChatLab.create({ hosts: 6, servers: 4, startTimeoutMs: STEP_TIMEOUT_MS });
  try {
    const hosts = chat.lab.hosts;
    const servers = chat.servers;
    const groups: LabHost[][] = sides.map((side) => side.map((i) => hosts[i]));
    groups[0].push(hosts[4]);
    groups[1].push(hosts[5]);
    const clientFlags = ["--follow", "--timeout", String(STEP_TIMEOUT_MS)];
    const alice = chat.client(hosts[4], "alice", { flags: clientFlags });
    const bob = chat.client(hosts[5], "bob", { flags: clientFlags });
    const clients = [alice, bob];
    await waitJoined(alice, "alice", STEP_TIMEOUT_MS);
    await waitJoined(bob, "bob", STEP_TIMEOUT_MS);
    await alice.write("alice before the split\n");
    await waitUntil(
      () => clients.every((c) => chatMessages(c).length === 1),
      STEP_TIMEOUT_MS,
      () => "the line before the split did not reach both clients",
    );
    await chat.lab.partition(groups);
    for (const client of clients) {
      await client.waitForStdout(/"type":"split"/, { timeoutMs: STEP_TIMEOUT_MS });
    }
    const sent = ["alice before the split"];
    for (let n = 1; n <= lines; n++) {
      await alice.write(`${text("alice", n)}\n`);
      await bob.write(`${text("bob", n)}\n`);
      sent.push(text("alice", n), text("bob", n));
    }
    for (const [client, user] of [[alice, "alice"], [bob, "bob"]] as const) {
      const own = lines + (user === "alice" ? 1 : 0);
      await waitUntil(
        () => chatMessages(client).filter((m) => m.from === user).length >= own,
        STEP_TIMEOUT_MS,
        () => `${user}'s side did not print its ${own} lines: ${client.tail()}`,
      );
    }

    const marks = servers.map((server) => server.logs.length);
    const readers = servers.map((server) => new StatusReader(server));
    const from = performance.now();
    // The conditions are polled while the `ip` commands of the heal still run (tens of ms).
    let healError: unknown;
    const healing = chat.lab.heal().catch((error) => healError = error ?? "heal failed");
    const complete = () =>
      clients.every((client) => {
        const texts = new Set(chatMessages(client).map((m) => m.text));
        return sent.every((line) => texts.has(line));
      });
    /** Per condition: the poll at which it last became true, undefined while false. */
    const since: Record<"clients" | "leader" | "status", number | undefined> = {
      clients: undefined,
      leader: undefined,
      status: undefined,
    };
    let merges = 0;
    let mergeAt: number | undefined;
    const deadline = from + HEAL_TIMEOUT_MS;
    let done = false;
    while (!done && healError === undefined && performance.now() < deadline) {
      const now = performance.now();
      for (const reader of readers) reader.read(now);
      const holds = {
        clients: complete(),
        leader: agreedLeader(servers) !== undefined,
        status: statusConverged(readers),
      };
      for (const key of ["clients", "leader", "status"] as const) {
        if (!holds[key]) since[key] = undefined;
        else if (since[key] === undefined) since[key] = now;
      }
      const seen = mergeLines(servers, marks);
      if (seen > merges) [merges, mergeAt] = [seen, now];
      done = holds.clients && holds.leader && holds.status;
      if (!done) await sleep(POLL_MS);
    }
    await healing;
    if (healError !== undefined) throw healError;
    const ms = (at: number | undefined) => at === undefined ? undefined : at - from;
    result.clientsMs = ms(since.clients);
    result.leaderMs = ms(since.leader);
    result.statusMs = ms(since.status);
    if (done) result.statusLowMs = statusLowerBound(readers, from) - from;
    result.mergeMs = ms(mergeAt);
    result.leader = agreedLeader(servers);
    if (!done) {
      const missing = Object.entries(since).filter(([, at]) => at === undefined).map(([k]) => k);
      result.notes.push(`not within ${HEAL_TIMEOUT_MS} ms: ${missing.join(", ")}`);
    }
    if (mergeAt === undefined) result.notes.push("no chat-merged/chat-adopted line");
    if (result.leader !== undefined && result.leader !== "h1") {
      result.notes.push(`agreed on ${result.leader}, not h1`);
    }
    const leader = result.leader;
    await sleep(SETTLE_MS);
    if (done && agreedLeader(servers) !== leader) {
      result.notes.push(`leader changed after agreement: now ${agreedLeader(servers)}`);
    }
    if (done && !complete()) result.notes.push("a client lost lines after completing (!)");
    result.duplicates = clients.reduce((n, client) => n + duplicates(client), 0);
    if (result.duplicates > 0) {
      const each = clients.map((c) => `${c.label}: ${duplicates(c)}`).join(", ");
      result.notes.push(`duplicates: ${each}`);
    }
    if (!done || result.duplicates > 0) {
      result.notes.push(`output kept in ${await chat.saveOutput(label)}`);
    }
  } catch (error) {
    const dir = await chat.saveOutput(label).catch(() => "(not saved)");
    result.notes.push(`failed before the heal measure: ${firstLine(error)}; output in ${dir}`);
  } finally {
    await chat.destroy();
  }
  return result;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

function ms(value: number | undefined): string {
  return value === undefined ? "—" : value.toFixed(0);
}

/** The time of one trial at which every figure of the target held (one leader, converged). */
function targetMs(r: TrialResult): number | undefined {
  const parts = [r.clientsMs, r.leaderMs, r.statusMs];
  return parts.some((p) => p === undefined) ? undefined : Math.max(...(parts as number[]));
}

/** The figures of the table: title and how to read them from a trial. */
const FIGURES: [string, (r: TrialResult) => number | undefined][] = [
  ["(a) clients printed every line", (r) => r.clientsMs],
  ["(b) one leader (leader-changed)", (r) => r.leaderMs],
  ["(c) status: same commit and digest (upper bound)", (r) => r.statusMs],
  ["(c-) last status not yet converged (lower bound of c)", (r) => r.statusLowMs],
  ["(c') last chat-merged/adopted line (lower bound)", (r) => r.mergeMs],
  ["all of (a), (b), (c)", targetMs],
];

function render(shapes: Shape[]): string {
  const out = [
    "# Chat heal time after a partition (lab, 4 servers + 2 clients, real program)",
    "",
    `${trials} trials per shape, a fresh lab each; ${lines} lines per client while split. ` +
    "Clock: from just before the link restore, read by polling every 10 ms. Target: " +
    "one leader and converged histories within 3 000 ms.",
    "",
  ];
  for (const shape of shapes) {
    out.push(
      `## ${shape.name}`,
      "",
      "| figure | trials | median ms | p99 ms | max ms | 3 s target |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const [title, read] of FIGURES) {
      const samples = shape.results.map(read).filter((v): v is number => v !== undefined);
      const s = summarize(samples);
      const over = samples.filter((v) => v >= TARGET_MS).length;
      const missing = shape.results.length - samples.length;
      const met = samples.length === 0
        ? "—"
        : over === 0 && missing === 0
        ? "met"
        : `NOT met (${over} over, ${missing} not reached)`;
      out.push(
        `| ${title} | ${samples.length} | ${ms(s?.median)} | ${ms(s?.p99)} | ${
          ms(s?.max)
        } | ${met} |`,
      );
    }
    const dups = shape.results.reduce((n, r) => n + r.duplicates, 0);
    out.push("", `Duplicate lines printed (both clients, all trials): ${dups}.`, "");
  }
  out.push(
    "## Trials",
    "",
    "| shape | sides | (a) ms | (b) ms | leader | (c-) ms | (c) ms | (c') ms | duplicates | notes |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const shape of shapes) {
    for (const r of shape.results) {
      const sides = r.sides.map((side) => side.map((i) => `h${i + 1}`).join("+")).join(" / ");
      out.push(
        `| ${shape.name} | ${sides} | ${ms(r.clientsMs)} | ${ms(r.leaderMs)} | ${
          r.leader ?? "—"
        } | ${ms(r.statusLowMs)} | ${ms(r.statusMs)} | ${ms(r.mergeMs)} | ${r.duplicates} | ${
          r.notes.join("; ")
        } |`,
      );
    }
  }
  out.push(
    "",
    "p99 is the nearest-rank 99th percentile: with fewer than 100 samples it is the maximum.",
    "Servers log `status` once a second each, so the moment their chat logs agreed is only",
    "bracketed: (c) is when the status line that completed the agreement was read (upper",
    "bound), (c-) when the last status line still showing another state was read (lower",
    "bound). (c') is the last merge line (leader `chat-merged`, follower `chat-adopted`): the",
    "merge itself, before the replication and commit that (a) and (c) wait for. The 3 s",
    "target is judged on (c), the conservative end.",
  );
  return out.join("\n") + "\n";
}

const reason = labUnsupportedReason();
if (reason) {
  console.log(`chat heal benchmark skipped: ${reason}`);
  Deno.exit(0);
}

const shapes: Shape[] = [
  { name: "2/2", splits: EVEN_SPLITS, results: [] },
  { name: "3/1", splits: UNEVEN_SPLITS, results: [] },
].filter((shape) => flags.shape === "both" || shape.name === flags.shape);
for (let i = 0; i < trials; i++) {
  for (const shape of shapes) {
    const sides = shape.splits[i % shape.splits.length];
    const label = `heal-chat-${shape.name.replace("/", "-")}-${i + 1}`;
    const r = await trial(sides, label);
    shape.results.push(r);
    console.log(
      `${shape.name} trial ${i + 1}: clients ${ms(r.clientsMs)} ms, leader ${
        ms(r.leaderMs)
      } ms, status ${ms(r.statusLowMs)}–${ms(r.statusMs)} ms, merge ${
        ms(r.mergeMs)
      } ms, duplicates ${r.duplicates}${r.notes.length ? ` (${r.notes.join("; ")})` : ""}`,
    );
  }
}
const markdown = render(shapes);
console.log(markdown);
await Deno.mkdir(dirname(flags.out), { recursive: true });
await Deno.writeTextFile(flags.out, markdown);
console.log(`written to ${flags.out}`);
