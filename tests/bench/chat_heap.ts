/**
 * Live-memory benchmark of the chat (not a test; it measures and asserts nothing): three servers
 * and `--clients` chat clients in this one process on `lo`, `--lines` lines sent round-robin in
 * chunks of 200 (each chunk delivered to everybody before the next), and after every `--every`
 * lines the V8 heap in use after two forced collections plus the memory outside the heap that
 * array buffers hold (socket buffers, the clients' typed-array memory of delivered entries).
 * Unlike a process's resident size, which also holds whatever heap V8 chose to keep, this is the
 * live data: it must stop growing once the bounded structures (each server's log of `logLimit`
 * lines, each client's memory of delivered entries for the merge) are full. Prints a Markdown
 * table and writes it to `dist/bench/chat-heap.md` (or `--out`).
 *
 * Run: `deno run --v8-flags=--expose-gc --unstable-net -A tests/bench/chat_heap.ts [--clients
 * 100] [--lines 80000] [--every 10000] [--out FILE]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { ChatClient } from "../../src/client/client.ts";
import { resolveConfig } from "../../src/config/mod.ts";
import { Server } from "../../src/server/server.ts";
import { loopbackConfig, until } from "../helpers/loopback.ts";
import { REPO_ROOT } from "../helpers/process.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "100" },
    lines: { type: "string", default: "80000" },
    every: { type: "string", default: "10000" },
    out: { type: "string", default: `${REPO_ROOT}/dist/bench/chat-heap.md` },
  },
});
const CLIENTS = Number(flags.clients);
const LINES = Number(flags.lines);
const EVERY = Number(flags.every);
/** Lines sent before waiting for everybody to deliver them. */
const CHUNK = 200;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with --v8-flags=--expose-gc (the heap is measured after forced collections)");
  Deno.exit(2);
}

/** MiB of V8 heap in use and of memory outside it (array buffers) after two full collections. */
function liveMiB(): { heap: number; external: number } {
  gc!();
  gc!();
  const { heapUsed, external } = Deno.memoryUsage();
  return { heap: heapUsed / 1_048_576, external: external / 1_048_576 };
}

const config = loopbackConfig();
const clientConfig = resolveConfig({ chat: { history: 0, clientWaitMs: 5000 } }, config);
const servers: Server[] = [];
const clients: ChatClient[] = [];
const rows: string[] = [];
try {
  for (const priority of [1, 2, 3]) {
    servers.push(await Server.start({ config, priority, id: `heap${priority}` }));
  }
  await until("a leader", () => servers.every((s) => s.view().leader === "heap3"), 30_000);
  for (let i = 0; i < CLIENTS; i += 10) {
    clients.push(
      ...await Promise.all(
        Array.from(
          { length: Math.min(10, CLIENTS - i) },
          (_, j) => ChatClient.connect({ config: clientConfig, user: `h${i + j}` }),
        ),
      ),
    );
  }
  let delivered = 0;
  for (const client of clients) {
    client.onEvent((event) => {
      if (event.type === "message") delivered++;
    });
  }
  const row = (label: string) => {
    const logs = servers.map((s) => s.stats().chat).map((c) => `${c.first}..${c.last}`);
    const { heap, external } = liveMiB();
    const mib = [heap, external, heap + external].map((n) => n.toFixed(1)).join(" | ");
    rows.push(`| ${label} | ${mib} | ${logs.join(", ")} |`);
    console.error(rows.at(-1));
  };
  row(`${CLIENTS} clients joined`);
  let sent = 0;
  while (sent < LINES) {
    for (let k = 0; k < CHUNK && sent < LINES; k++) clients[sent % CLIENTS].send(`heap ${sent++}`);
    await until("deliveries", () => delivered >= sent * CLIENTS, 120_000);
    if (sent % EVERY === 0 || sent === LINES) row(`${sent} lines delivered to all`);
  }
} finally {
  for (const client of clients) await client.close();
  for (const server of servers) await server.stop();
}

const report = [
  "# dsys chat live heap",
  "",
  `- Date: ${new Date().toISOString()}; deno ${Deno.version.deno}`,
  `- Command: \`deno run --v8-flags=--expose-gc --unstable-net -A tests/bench/chat_heap.ts ${
    Deno.args.join(" ")
  }\``,
  `- Setup: 3 servers and ${CLIENTS} clients in one process on lo; log limit ${config.chat.logLimit}` +
  `, clients remember the last ${config.chat.mergeMemory} delivered entries each`,
  "",
  "| point | live V8 heap MiB | external MiB (array buffers) | total MiB | server logs (first..last) |",
  "|---|--:|--:|--:|---|",
  ...rows,
  "",
].join("\n");
await Deno.mkdir(dirname(flags.out), { recursive: true });
await Deno.writeTextFile(flags.out, report);
console.log(report);
console.log(`written to ${flags.out}`);
Deno.exit(0);
