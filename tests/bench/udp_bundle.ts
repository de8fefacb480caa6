/**
 * Bundles a benchmark script of this folder with esbuild into one ESM file that Node runs, so
 * the same measurement runs under Node's `node:dgram`: `udp_rate.ts` (the raw UDP rate) or
 * `chat_clients.ts` (the chat benchmark's clients).
 *
 * Run: `deno run -A tests/bench/udp_bundle.ts [--entry udp_rate.ts] [--out FILE]`, then
 * `node FILE --transport node` (for `udp_rate.ts`). The default FILE is `dsys-udp-rate.mjs` or
 * `dsys-chat-clients.mjs` in the system's temporary folder.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The scripts of this folder that run bundled under Node. */
export type NodeEntry = "udp_rate.ts" | "chat_clients.ts";

/** Bundles `entry` into `outfile` (ESM for Node 20) and returns its path. */
export async function bundleForNode(entry: NodeEntry, outfile: string): Promise<string> {
  try {
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL(`./${entry}`, import.meta.url))],
      outfile,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop();
  }
  return outfile;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { entry: { type: "string", default: "udp_rate.ts" }, out: { type: "string" } },
  });
  const entry = values.entry as NodeEntry;
  const name = entry.replace(/\.ts$/, "").replaceAll("_", "-");
  console.log(await bundleForNode(entry, values.out ?? join(tmpdir(), `dsys-${name}.mjs`)));
}
