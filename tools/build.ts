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
import { fileURLToPath } from "node:url";
import denoConfig from "../deno.json" with { type: "json" };
import { VERSION } from "../src/version.ts";
import { bundle, stopBundler } from "./build_bundle.ts";
import { denoCompile } from "./build_compile.ts";
import { runTool } from "./build_exec.ts";
import { buildSea, findNode, type NodeInfo } from "./build_sea.ts";

/** The CLI module that every output runs. */
const ENTRY = "cmd/dsys.ts";

/** How `dist/dsys` may be made: `auto` tries `deno compile` and falls back to a SEA. */
type BuildMode = "auto" | "deno" | "sea";

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

/** Reads `DSYS_BUILD`; an unknown value is an error rather than a silent default. */
function buildMode(value = Deno.env.get("DSYS_BUILD") ?? ""): BuildMode {
  if (value === "") return "auto";
  if (value === "auto" || value === "deno" || value === "sea") return value;
  throw new Error(`DSYS_BUILD=${value}: use deno, sea or auto (the default)`);
}

/** Thrown with the output of the tool that failed, shown after the one-line message. */
class BuildFailure extends Error {
  /** Creates a failure; `output` is what the failing tool printed. */
  constructor(message: string, readonly output = "") {
    super(message);
  }
}

async function timed<T>(durations: Record<string, number>, stage: string, f: () => Promise<T>) {
  const start = performance.now();
  try {
    return await f();
  } finally {
    durations[stage] = Math.round(performance.now() - start);
  }
}

async function smokeTest(command: string, args: string[]): Promise<void> {
  const result = await runTool(command, [...args, "version"], { timeoutMs: 30_000 });
  if (!result.ok || !result.output.includes(`dsys ${VERSION}`)) {
    const shown = [command, ...args].join(" ");
    throw new BuildFailure(
      `${shown} version did not print "dsys ${VERSION}" (${result.reason || "wrong output"})`,
      result.output,
    );
  }
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
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
  let reason = "forced by DSYS_BUILD=sea";
  if (mode !== "sea") {
    const compiled = await timed(
      durationsMs,
      "deno-compile",
      () => denoCompile(root, ENTRY, output),
    );
    if (compiled.ok) {
      return {
        executable: "deno-compile",
        reason: mode === "deno" ? "forced by DSYS_BUILD=deno" : "deno compile succeeded",
        runtime: `deno ${Deno.version.deno}`,
      };
    }
    if (mode === "deno") {
      throw new BuildFailure(`DSYS_BUILD=deno: ${compiled.reason}`, compiled.output);
    }
    reason = `fallback because ${compiled.reason}`;
  }
  const cjs = await timed(
    durationsMs,
    "bundle-cjs",
    () => bundle({ root, entry: ENTRY, outfile: join(workDir, "dsys.cjs"), format: "cjs" }),
  );
  await timed(durationsMs, "sea", () => buildSea(node, cjs.path, output, workDir));
  return { executable: "node-sea", reason, runtime: `node ${node.version}` };
}

/**
 * Builds every output in a private directory under `dist/` and moves them into place only when
 * all of them run: a failed build leaves the previous outputs untouched, and a concurrent reader
 * never sees a missing or half-written file.
 */
async function build(root: string, mode: BuildMode): Promise<BuildRecord> {
  if (denoConfig.version !== VERSION) {
    throw new BuildFailure(
      `version mismatch: deno.json says ${denoConfig.version}, src/version.ts says ${VERSION}`,
    );
  }
  const dist = join(root, "dist");
  const durationsMs: Record<string, number> = {};
  await Deno.mkdir(dist, { recursive: true });
  const workDir = await Deno.makeTempDir({ dir: dist, prefix: ".build-" });
  const staged = (name: string) => join(workDir, name);
  try {
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
    for (const name of ["dsys.mjs", "dsys", "BUILD.json"]) {
      await Deno.rename(staged(name), join(dist, name));
    }
    const how = made.executable === "deno-compile" ? "deno compile" : "Node SEA";
    console.log(`build: dist/dsys.mjs (ESM bundle for node >= 20), ${esm.bytes} bytes`);
    console.log(
      `build: dist/dsys made by ${how} (${made.runtime}, ${mebibytes(bytes.dsys)}): ${made.reason}`,
    );
    return record;
  } finally {
    await removeIfPresent(workDir);
    await stopBundler();
  }
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  try {
    await build(root, buildMode());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`build failed: ${message}`);
    const output = (error as { output?: unknown }).output;
    if (typeof output === "string" && output) console.error(output.trimEnd());
    Deno.exit(1);
  }
}
