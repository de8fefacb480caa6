/**
 * The chat benchmark's clients in a process of their own, for the `node` row: `chat.ts` bundles
 * this script with esbuild and runs it under Node, so the clients use Node's own `node:dgram`.
 * It connects `--clients` clients with the Node transport to a running cluster, runs
 * {@linkcode runClients} and prints one {@linkcode ClientsResult} as JSON on stdout (progress
 * on stderr).
 *
 * Run: `deno run -A tests/bench/udp_bundle.ts --entry chat_clients.ts` prints the bundle's path,
 * then `node <path> --cluster NAME --group ADDR --port N --iface lo --server-pids P1,P2,P3
 * [--clients 10] [--count 2000] [--rate 1000] [--seconds 10] [--warmup 1] [--sweep R1,R2]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { clientConfig, type ClientsResult, rates, runClients } from "./chat_load.ts";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    cluster: { type: "string" },
    group: { type: "string" },
    port: { type: "string" },
    iface: { type: "string", default: "lo" },
    "server-pids": { type: "string", default: "" },
    clients: { type: "string", default: "10" },
    count: { type: "string", default: "2000" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    sweep: { type: "string", default: "" },
  },
});
if (!flags.cluster || !flags.group || !flags.port) {
  throw new Error("--cluster, --group and --port are required");
}

const result: ClientsResult = await runClients({
  config: clientConfig({
    cluster: flags.cluster,
    group: flags.group,
    port: Number(flags.port),
    iface: flags.iface,
  }),
  kind: "node",
  clients: Number(flags.clients),
  count: Number(flags.count),
  rate: Number(flags.rate),
  seconds: Number(flags.seconds),
  warmup: Number(flags.warmup),
  sweep: rates(flags.sweep),
  serverPids: flags["server-pids"].split(",").filter((p) => p !== "").map(Number),
});
console.log(JSON.stringify(result));
