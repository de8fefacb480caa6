/**
 * The chat-gap benchmark: three `dsys serve` processes on loopback (the host stays up), two
 * in-process chat clients each posting a line every 50 ms; one server is SIGKILLed. The gap of
 * one direction is the time from the kill until the first line its sender posted after the kill
 * reaches its receiver. Each direction is filed by cause: `leader` when the killed server was the
 * leader and neither client was attached to it, `client's server` when one of the two was.
 * Trials alternate between killing the leader and killing the first client's server.
 *
 * `deno run --unstable-net -A tests/bench/chat_gap.ts [--trials N] [--runtime deno|node]`
 * prints the table; `summary.ts` uses {@linkcode measureGaps} for its table.
 *
 * @module
 */

import { ChatClient } from "../../src/client/client.ts";
import { resolveConfig } from "../../src/config/mod.ts";
import { startCluster, stopCluster } from "./chat_cluster.ts";

/** Interval between two lines of one client (ms). */
const POST_EVERY_MS = 50;
/** Longest a direction is waited for after the kill (ms): beyond it the gap counts as this. */
const GIVE_UP_MS = 15_000;

/** What a kill cost one direction. */
export interface Gap {
  /** `leader` or `client's server`. */
  cause: string;
  /** Milliseconds from the kill until a line posted after it arrived. */
  ms: number;
}

/** Runs `trials` kills with `runtime`'s servers and returns the gap of every direction. */
export async function measureGaps(runtime: "deno" | "node", trials: number): Promise<Gap[]> {
  const gaps: Gap[] = [];
  for (let trial = 0; trial < trials; trial++) {
    gaps.push(...await oneKill(runtime, trial % 2 === 0 ? "leader" : "client's server"));
  }
  return gaps;
}

async function oneKill(runtime: "deno" | "node", victimKind: string): Promise<Gap[]> {
  const cluster = await startCluster(runtime);
  const clients: ChatClient[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  try {
    const sentAt = new Map<string, number>();
    /** Per receiver: when the first line posted after the kill arrived, by sender. */
    const arrived = new Map<string, number>();
    let killedAt = Infinity;
    for (const user of ["ann", "bob"]) {
      const client = await ChatClient.connect({
        config: resolveConfig({ chat: { history: 0, clientWaitMs: 10_000 } }, cluster.config),
        user,
        keepHistory: 0,
      });
      clients.push(client);
      client.onEvent((event) => {
        if (event.type !== "message" || event.message.from === user) return;
        const at = performance.now();
        const sent = sentAt.get(event.message.text) ?? -Infinity;
        if (sent > killedAt && !arrived.has(user)) arrived.set(user, at);
      });
    }
    let n = 0;
    for (const client of clients) {
      timers.push(setInterval(() => {
        const text = `${client.user} ${n++}`;
        sentAt.set(text, performance.now());
        client.send(text);
      }, POST_EVERY_MS));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const attached = clients.map((c) => String(c.status().server));
    const victim = victimKind === "leader"
      ? cluster.servers[2]
      : cluster.servers.find((s) => s.label === attached[0])!;
    const victimId = victim.label;
    killedAt = performance.now();
    const killedWall = Date.now();
    victim.signal("SIGKILL");
    const deadline = killedAt + GIVE_UP_MS;
    while (arrived.size < 2 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cause = attached.includes(victimId) ? "client's server" : "leader";
    if (Deno.env.get("GAP_TRACE")) trace(cluster.servers, killedWall, clients, arrived, killedAt);
    return clients.map((c) => ({
      cause,
      ms: (arrived.get(c.user) ?? deadline) - killedAt,
    }));
  } finally {
    for (const timer of timers) clearInterval(timer);
    await Promise.all(clients.map((c) => c.close()));
    await stopCluster(cluster.servers);
  }
}

/** Prints what each survivor logged after the kill, and when each client got a new line. */
function trace(
  servers: {
    label: string;
    logs: { "@timestamp": string; properties: Record<string, unknown> }[];
  }[],
  killedWall: number,
  clients: ChatClient[],
  arrived: Map<string, number>,
  killedAt: number,
): void {
  for (const s of servers) {
    for (const line of s.logs) {
      const at = Date.parse(line["@timestamp"]) - killedWall;
      if (at >= 0) console.error(`${s.label} +${at} ms ${line.properties.event}`);
    }
  }
  for (const c of clients) {
    console.error(`${c.user} new line +${((arrived.get(c.user) ?? NaN) - killedAt).toFixed(0)} ms`);
  }
}

/** Median and worst gap by cause. */
export function summarizeGaps(
  gaps: Gap[],
): Map<string, { median: number; max: number; n: number }> {
  const byCause = new Map<string, number[]>();
  for (const g of gaps) byCause.set(g.cause, [...(byCause.get(g.cause) ?? []), g.ms]);
  const out = new Map<string, { median: number; max: number; n: number }>();
  for (const [cause, list] of byCause) {
    const sorted = list.toSorted((a, b) => a - b);
    out.set(cause, {
      median: sorted[Math.floor((sorted.length - 1) / 2)],
      max: sorted[sorted.length - 1],
      n: sorted.length,
    });
  }
  return out;
}

if (import.meta.main) {
  const arg = (name: string) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Deno.args[at + 1] : undefined;
  };
  const trials = Number(arg("--trials") ?? 4);
  const only = arg("--runtime");
  const runtimes = only ? [only as "deno" | "node"] : ["deno", "node"] as const;
  console.log("| runtime | cause | directions | median ms | max ms |\n|---|---|---|---|---|");
  for (const runtime of runtimes) {
    for (const [cause, s] of summarizeGaps(await measureGaps(runtime, trials))) {
      console.log(
        `| ${runtime} | ${cause} | ${s.n} | ${s.median.toFixed(0)} | ${s.max.toFixed(0)} |`,
      );
    }
  }
}
