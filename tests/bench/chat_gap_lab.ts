/**
 * The chat gap when the leader's host is lost, in the lab of network namespaces with the built
 * executable (`dist/dsys`, Node): three servers on `h1`–`h3` (`h1` leads), two `dsys chat --json`
 * clients on `h4` and `h5`, each posting a line every 50 ms; then `h1` is cut from the switch
 * (its process runs on, every frame is lost both ways); each client's server is the one that logged
 * its `client-joined`. The gap of one direction is the time from
 * the cut until the first line its sender posted after the cut is printed by its receiver (read
 * every 10 ms). Each trial builds a new lab. Each direction is filed by cause as in
 * `chat_gap.ts`: `leader` when neither client's server was on the cut host, else `client's server`.
 *
 * Run (root, Linux, after `deno task build`): `deno run --unstable-net -A
 * tests/bench/chat_gap_lab.ts [--trials 3]`; without network namespaces or the build it says why
 * and exits 0. `summary.ts` uses {@linkcode labGapSkipReason} and {@linkcode measureLabGaps}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ChatLab, chatMessages, waitJoined } from "../lab/chat_cluster.ts";
import { launcherFor } from "../lab/dsys.ts";
import { labUnsupportedReason } from "../lab/harness.ts";
import { assertLauncherReady, type DsysProcess } from "../helpers/process.ts";
import { type Gap, summarizeGaps } from "./chat_gap.ts";

/** Interval between two lines of one client (ms). */
const POST_EVERY_MS = 50;
/** Longest a direction is waited for after the cut (ms): beyond it the gap counts as this. */
const GIVE_UP_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The index of the first line from `sender` numbered `from` or later that `receiver` printed. */
function arrivedFrom(receiver: DsysProcess, sender: string, from: number): boolean {
  return chatMessages(receiver).some((m) => {
    const [user, n] = (m.text ?? "").split(" ");
    return user === sender && Number(n) >= from;
  });
}

/** The host of the server `user` first joined through (its `client-joined` log line). */
function serverOf(chat: ChatLab, user: string): string {
  const index = chat.servers.findIndex((server) =>
    server.logs.some((l) => l.properties?.event === "client-joined" && l.properties.user === user)
  );
  return index < 0 ? "?" : chat.lab.hosts[index].name;
}

/** One trial of the lab: the gap of each direction and where each client was attached. */
export interface LabTrial {
  /** Gap of each direction (ms), `ann → bob` first. */
  gaps: number[];
  /** The host of each client's server, `ann`'s first. */
  servers: string[];
}

/** One trial: the gap of each direction (ms), `ann → bob` first, and each client's server. */
async function oneCut(): Promise<LabTrial> {
  const chat = await ChatLab.create({ hosts: 5, servers: 3 });
  const posting: ReturnType<typeof setInterval>[] = [];
  try {
    const [, , , h4, h5] = chat.lab.hosts;
    const clients = [chat.client(h4, "ann"), chat.client(h5, "bob")];
    await Promise.all(clients.map((c, i) => waitJoined(c, ["ann", "bob"][i], 30_000)));
    const counters = [0, 0];
    clients.forEach((client, i) => {
      posting.push(setInterval(() => {
        client.write(`${["ann", "bob"][i]} ${counters[i]++}\n`).catch(() => {});
      }, POST_EVERY_MS));
    });
    await sleep(2_000);
    await chat.lab.cut(chat.lab.hosts[0]);
    const cutAt = performance.now();
    const from = [...counters];
    const gaps: (number | undefined)[] = [undefined, undefined];
    while (gaps.includes(undefined) && performance.now() - cutAt < GIVE_UP_MS) {
      await sleep(10);
      for (const [i, sender] of ["ann", "bob"].entries()) {
        if (gaps[i] === undefined && arrivedFrom(clients[1 - i], sender, from[i])) {
          gaps[i] = performance.now() - cutAt;
        }
      }
    }
    const servers = ["ann", "bob"].map((user) => serverOf(chat, user));
    return { gaps: gaps.map((g) => g ?? GIVE_UP_MS), servers };
  } finally {
    posting.forEach((timer) => clearInterval(timer));
    await chat.destroy();
  }
}

/**
 * Why the lab benchmark cannot run here (no network namespaces, not root, `ip` or the build
 * missing), or undefined when it can.
 */
export function labGapSkipReason(): string | undefined {
  const unsupported = labUnsupportedReason();
  if (unsupported) return unsupported;
  try {
    assertLauncherReady(launcherFor("node"));
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/**
 * Runs `trials` cuts of the leader's host, each in a new lab, and returns the gap of every
 * direction filed by cause; `onTrial` sees each trial as it ends. Check
 * {@linkcode labGapSkipReason} first.
 */
export async function measureLabGaps(
  trials: number,
  onTrial: (trial: LabTrial, index: number) => void = () => {},
): Promise<Gap[]> {
  const gaps: Gap[] = [];
  for (let index = 0; index < trials; index++) {
    const trial = await oneCut();
    onTrial(trial, index);
    const cause = trial.servers.includes("h1") ? "client's server" : "leader";
    gaps.push(...trial.gaps.map((ms) => ({ cause, ms })));
  }
  return gaps;
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: { trials: { type: "string", default: "3" } },
  });
  const trials = Number(flags.trials);
  if (!Number.isInteger(trials) || trials <= 0) {
    console.error(
      `--trials: expected a positive whole number, got ${JSON.stringify(flags.trials)}`,
    );
    Deno.exit(2);
  }
  const skip = labGapSkipReason();
  if (skip) {
    console.log(`chat_gap_lab: not measured: ${skip}`);
    Deno.exit(0);
  }
  const gaps = await measureLabGaps(trials, ({ gaps, servers }, index) => {
    console.log(
      `trial ${index + 1}: ann (on ${servers[0]}) → bob (on ${servers[1]}) ${
        gaps[0].toFixed(0)
      } ms, bob → ann ${gaps[1].toFixed(0)} ms`,
    );
  });
  for (const [cause, s] of summarizeGaps(gaps)) {
    console.log(
      `cut of the leader's host, ${cause}: median ${s.median.toFixed(0)} ms, ` +
        `max ${s.max.toFixed(0)} ms over ${s.n} directions (goal ≤ 1 200 ms)`,
    );
  }
}
