/**
 * `deno task bench`: every benchmark of dsys, one after another, each printing its own
 * results:
 *
 * 1. the `Deno.bench` files of `tests/bench/` (`deno bench` runs only `*_bench.ts` and
 *    `*.bench.ts` there, never the scripts beside them);
 * 2. the failover benchmark in the lab (`failover.ts`; without root it says why and measures
 *    nothing); the arguments of this script are passed on to it, e.g.
 *    `deno task bench --busy --quiet-seconds 600`;
 * 3. the simulator benchmark (`tests/sim/bench.ts`) with 100 trials per row, a few seconds;
 * 4. the chat benchmark (`chat.ts`): throughput, latency at 1 000 lines/s and the raw UDP rate
 *    for both transports, and server memory with 100 clients; table in `dist/bench/chat.md`.
 * 5. the chat live-heap benchmark (`chat_heap.ts`): three servers and 100 clients in one process,
 *    the V8 heap in use after forced collections every 10 000 lines; `dist/bench/chat-heap.md`;
 * 6. the heal benchmark in the lab (`heal.ts`): 2/2 and 3/1 partitions of four servers, time
 *    from the heal to one leader and full views; table in `dist/bench/heal.md`.
 * 7. the chat heal benchmark in the lab (`heal_chat.ts`): the same splits with a client chatting
 *    on each side, time from the heal to complete clients, one leader and converged chat logs;
 *    table in `dist/bench/heal-chat.md`.
 * 8. the summary (`summary.ts`): one table of chat gap by cause (SIGKILL on loopback, and the
 *    leader's host cut in the lab when root and the build allow, else the rows say why not),
 *    idle CPU and memory per process, p50/p99 per runtime and load, throughput, and the client's
 *    CPU per delivered line against the floor with the leader's CPU and datagrams per sequenced
 *    line, beside issue 15's earlier figures; `dist/bench/summary.md`.
 *
 * Every step runs even when an earlier one failed; the exit code is 1 if any failed.
 *
 * @module
 */

import { REPO_ROOT } from "../helpers/process.ts";

/** One benchmark: a title and the `deno` arguments that run it. */
interface Step {
  title: string;
  args: string[];
}

const STEPS: Step[] = [
  {
    title: "Deno.bench files of tests/bench/",
    args: ["bench", "--unstable-net", "-A", "tests/bench/"],
  },
  {
    title: "Failover benchmark (lab, real program)",
    args: ["run", "--unstable-net", "-A", "tests/bench/failover.ts", ...Deno.args],
  },
  {
    title: "Simulator benchmark",
    args: ["run", "tests/sim/bench.ts", "--trials", "100", "--quiet-minutes", "10"],
  },
  {
    title: "Chat benchmark (3 servers on lo, Deno and Node transports)",
    args: ["run", "--unstable-net", "-A", "tests/bench/chat.ts"],
  },
  {
    title: "Chat live heap (3 servers + 100 clients in one process, 80 000 lines)",
    args: ["run", "--v8-flags=--expose-gc", "--unstable-net", "-A", "tests/bench/chat_heap.ts"],
  },
  {
    title: "Heal benchmark (lab, 4 servers split 2/2 and 3/1, real program)",
    args: ["run", "--unstable-net", "-A", "tests/bench/heal.ts"],
  },
  {
    title: "Chat heal benchmark (lab, 4 servers + 2 chatting clients split 2/2 and 3/1)",
    args: ["run", "--unstable-net", "-A", "tests/bench/heal_chat.ts"],
  },
  {
    title: "Summary: chat gap, idle cost, latency, throughput and cost per delivery beside " +
      "issue 15's figures",
    args: ["run", "--unstable-net", "-A", "tests/bench/summary.ts"],
  },
];

let failed = 0;
for (const { title, args } of STEPS) {
  console.log(`\n=== ${title}\n$ deno ${args.join(" ")}\n`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\n=== ${title}: ${code === 0 ? "done" : `FAILED (exit code ${code})`} in ${seconds} s`,
  );
  if (code !== 0) failed++;
}
if (failed > 0) Deno.exit(1);
