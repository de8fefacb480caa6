/**
 * Bundles `udp_rate.ts` with esbuild into one ESM file that Node runs, so the same measurement
 * runs under Node's `node:dgram`.
 *
 * Run: `deno run -A tests/bench/udp_bundle.ts [--out FILE]`, then `node FILE --transport node`.
 * The default FILE is `dsys-udp-rate.mjs` in the system's temporary folder.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Bundles `udp_rate.ts` into `outfile` (ESM for Node 20) and returns its path. */
export async function bundleUdpRate(outfile: string): Promise<string> {
  try {
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL("./udp_rate.ts", import.meta.url))],
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
  const args = process.argv.slice(2);
  const outAt = args.indexOf("--out");
  const outfile = outAt >= 0 && args[outAt + 1]
    ? args[outAt + 1]
    : join(tmpdir(), "dsys-udp-rate.mjs");
  console.log(await bundleUdpRate(outfile));
}
