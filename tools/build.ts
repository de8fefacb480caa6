/**
 * `deno task build`: makes the Node bundle `dist/dsys.mjs` and the one-file executable
 * `dist/dsys`, offline.
 *
 * 1. esbuild bundles `cmd/dsys.ts` into `dist/dsys.mjs` (ESM, Node ≥ 20, executable).
 * 2. `dist/dsys` comes from `deno compile` when it works; otherwise (it needs to download
 *    `denort`) from a Node single-executable application built from a CommonJS bundle.
 *    `DSYS_BUILD=deno` insists on `deno compile` and fails loudly without it;
 *    `DSYS_BUILD=sea` skips it.
 * 3. Both outputs are run once (`version`), and `dist/BUILD.json` records how `dist/dsys` was
 *    made and why. Everything is staged first and moved into `dist/` only when all of it works.
 *
 * @module
 */

import { join } from "node:path";
import { VERSION } from "../src/version.ts";
import { bundle } from "./build_bundle.ts";
import {
  type BuildMode,
  ENTRY,
  inStaging,
  mebibytes,
  runBuild,
  smokeTest,
  timed,
} from "./build_common.ts";
import { preferDenoCompile } from "./build_compile.ts";
import { buildSea, findNode, type NodeInfo } from "./build_sea.ts";

/** What `dist/BUILD.json` records. */
export interface BuildRecord {
  /** dsys version built. */
  version: string;
  /** Which path produced `dist/dsys`. */
  executable: "deno-compile" | "node-sea";
  /** Why that path was taken. */
  reason: string;
  /** The runtime inside `dist/dsys`, e.g. `node 20.20.2`. */
  runtime: string;
  /** Sizes in bytes of the outputs, by file name. */
  bytes: Record<string, number>;
  /** Wall time of each stage in milliseconds. */
  durationsMs: Record<string, number>;
}

/** How `dist/dsys` was made, without the sizes and timings. */
type Made = Pick<BuildRecord, "executable" | "reason" | "runtime">;

/** Makes the executable `output`: `deno compile` unless told otherwise, else a Node SEA. */
async function makeExecutable(
  root: string,
  mode: BuildMode,
  node: NodeInfo,
  output: string,
  workDir: string,
  durationsMs: Record<string, number>,
): Promise<Made> {
  const choice = await timed(
    durationsMs,
    "deno-compile",
    () => preferDenoCompile(root, mode, output),
  );
  if (choice.compiled) {
    return {
      executable: "deno-compile",
      reason: choice.reason,
      runtime: `deno ${Deno.version.deno}`,
    };
  }
  const cjs = await timed(
    durationsMs,
    "bundle-cjs",
    () => bundle({ root, entry: ENTRY, outfile: join(workDir, "dsys.cjs"), format: "cjs" }),
  );
  await timed(durationsMs, "sea", () => buildSea(node, cjs.path, output, workDir));
  return { executable: "node-sea", reason: choice.reason, runtime: `node ${node.version}` };
}

/** Builds `dist/dsys.mjs`, `dist/dsys` and `dist/BUILD.json` (see the module comment). */
function build(root: string, mode: BuildMode): Promise<BuildRecord> {
  return inStaging(root, ".build-", async ({ workDir, durationsMs, staged, publish }) => {
    const esm = await timed(
      durationsMs,
      "bundle-esm",
      () => bundle({ root, entry: ENTRY, outfile: staged("dsys.mjs"), format: "esm" }),
    );
    const node = await findNode();
    await timed(durationsMs, "smoke-esm", () => smokeTest(node.execPath, [esm.path]));
    const made = await makeExecutable(root, mode, node, staged("dsys"), workDir, durationsMs);
    await timed(durationsMs, "smoke-executable", () => smokeTest(staged("dsys"), []));
    const bytes = { "dsys.mjs": esm.bytes, "dsys": (await Deno.stat(staged("dsys"))).size };
    const record: BuildRecord = { version: VERSION, ...made, bytes, durationsMs };
    await Deno.writeTextFile(staged("BUILD.json"), JSON.stringify(record, null, 2) + "\n");
    await publish(["dsys.mjs", "dsys", "BUILD.json"]);
    const how = made.executable === "deno-compile" ? "deno compile" : "Node SEA";
    console.log(`build: dist/dsys.mjs (ESM bundle for node >= 20), ${esm.bytes} bytes`);
    console.log(
      `build: dist/dsys made by ${how} (${made.runtime}, ${mebibytes(bytes.dsys)}): ${made.reason}`,
    );
    return record;
  });
}

if (import.meta.main) await runBuild(build);
