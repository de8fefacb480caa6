/**
 * The chat gap when the leader's host is lost, in the lab of network namespaces with the built
 * executable (`dist/dsys`, Node): three servers on `h1`–`h3` (`h1` leads), two `dsys chat --json`
 * clients on `h4` and `h5`, each posting a line every 50 ms; then `h1` is cut from the switch
 * (its process runs on, every frame is lost both ways); each client's server is the one that logged
 * its `client-joined`. The gap of one direction is the time from
 * the cut until the first line its sender posted after the cut is printed by its receiver (read
 * every 10 ms). Each trial builds a new lab.
 *
 * Run (root, Linux, after `deno task build`): `deno run --unstable-net -A
 * tests/bench/chat_gap_lab.ts [--trials 3]`; without network namespaces it says why and exits 0.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ChatLab, chatMessages, waitJoined } from "../lab/chat_cluster.ts";
import { labUnsupportedReason } from "../lab/harness.ts";
import type { DsysProcess } from "../helpers/process.ts";

/** Interval between two lines of one client (ms). */
const POST_EVERY_MS = 50;
/** Longest a direction is waited for after the cut (ms): beyond it the gap counts as this. */
const GIVE_UP_MS = 15_000;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { trials: { type: "string", default: "3" } },
});
const TRIALS = Number(flags.trials);
if (!Number.isInteger(TRIALS) || TRIALS <= 0) {
  console.error(`--trials: expected a positive whole number, got ${JSON.stringify(flags.trials)}`);
  Deno.exit(2);
}
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

/** One trial: the gap of each direction (ms), `ann → bob` first, and each client's server. */
async function oneCut(): Promise<{ gaps: number[]; servers: string[] }> {
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

const unsupported = labUnsupportedReason();
if (unsupported) {
  console.log(`chat_gap_lab: not measured: ${unsupported}`);
  Deno.exit(0);
}
/** Gaps by cause: `leader` when neither client's server was on the cut host, else `client's server`. */
const byCause = new Map<string, number[]>();
for (let trial = 0; trial < TRIALS; trial++) {
  const { gaps, servers } = await oneCut();
  console.log(
    `trial ${trial + 1}: ann (on ${servers[0]}) → bob (on ${servers[1]}) ${
      gaps[0].toFixed(0)
    } ms, ` +
      `bob → ann ${gaps[1].toFixed(0)} ms`,
  );
  const cause = servers.includes("h1") ? "client's server" : "leader";
  byCause.set(cause, [...byCause.get(cause) ?? [], ...gaps]);
}
for (const [cause, gaps] of byCause) {
  gaps.sort((a, b) => a - b);
  console.log(
    `cut of the leader's host, ${cause}: median ${
      gaps[Math.floor(gaps.length / 2)].toFixed(0)
    } ms, ` +
      `max ${gaps.at(-1)!.toFixed(0)} ms over ${gaps.length} directions (goal ≤ 1 200 ms)`,
  );
}
