/**
 * What the two builds share: `deno task build` (`tools/build.ts`, this computer's `dist/dsys`)
 * and `deno task release` (`tools/release.ts`, a binary for each computer of the LAN). The
 * entry module, the `DSYS_BUILD` switch, the staging directory, stage timing, the `version`
 * smoke test, and running a build as a program that fails in one line.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import denoConfig from "../deno.json" with { type: "json" };
import { VERSION } from "../src/version.ts";
import { stopBundler } from "./build_bundle.ts";
import { runTool } from "./build_exec.ts";

/** The CLI module that every output runs. */
export const ENTRY = "cmd/dsys.ts";

/** How executables may be made: `auto` tries `deno compile` and falls back to a Node SEA. */
export type BuildMode = "auto" | "deno" | "sea";

/** Reads `DSYS_BUILD`; an unknown value is an error rather than a silent default. */
export function buildMode(value = Deno.env.get("DSYS_BUILD") ?? ""): BuildMode {
  if (value === "") return "auto";
  if (value === "auto" || value === "deno" || value === "sea") return value;
  throw new Error(`DSYS_BUILD=${value}: use deno, sea or auto (the default)`);
}

/** Thrown with the output of the tool that failed, shown after the one-line message. */
export class BuildFailure extends Error {
  /** Creates a failure; `output` is what the failing tool printed. */
  constructor(message: string, readonly output = "") {
    super(message);
  }
}

/** Runs `f`, recording its wall time in milliseconds as `durations[stage]`. */
export async function timed<T>(
  durations: Record<string, number>,
  stage: string,
  f: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  try {
    return await f();
  } finally {
    durations[stage] = Math.round(performance.now() - start);
  }
}

/** Runs `command args... version` and fails unless it prints this version of dsys. */
export async function smokeTest(command: string, args: string[]): Promise<void> {
  const result = await runTool(command, [...args, "version"], { timeoutMs: 30_000 });
  if (!result.ok || !result.output.includes(`dsys ${VERSION}`)) {
    const shown = [command, ...args].join(" ");
    throw new BuildFailure(
      `${shown} version did not print "dsys ${VERSION}" (${result.reason || "wrong output"})`,
      result.output,
    );
  }
}

/** Removes a file or directory tree, if there is one. */
async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** `bytes` in MiB with one decimal, for the build's summary lines. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A build's private directory under `dist/`, where its outputs are made before publishing. */
export interface Staging {
  /** The staging directory itself (for intermediate files). */
  workDir: string;
  /** Wall time of each stage in milliseconds, for {@linkcode timed}. */
  durationsMs: Record<string, number>;
  /** The staged path of the output `name`. */
  staged(name: string): string;
  /** Moves the staged outputs `names` into `dist/`, in order. */
  publish(names: string[]): Promise<void>;
}

/**
 * Runs a build `f` in a fresh staging directory under `root/dist` (named `prefix…`), after
 * checking the version. Outputs move into `dist/` only when `f` publishes them, once all of them
 * work: a failed build leaves the previous outputs untouched, and a concurrent reader never sees
 * a missing or half-written file. The directory is removed and esbuild stopped in any case.
 */
export async function inStaging<T>(
  root: string,
  prefix: string,
  f: (staging: Staging) => Promise<T>,
): Promise<T> {
  checkVersion();
  const dist = join(root, "dist");
  await Deno.mkdir(dist, { recursive: true });
  const workDir = await Deno.makeTempDir({ dir: dist, prefix });
  const staged = (name: string) => join(workDir, name);
  const publish = async (names: string[]) => {
    for (const name of names) await Deno.rename(staged(name), join(dist, name));
  };
  try {
    return await f({ workDir, durationsMs: {}, staged, publish });
  } finally {
    await removeIfPresent(workDir);
    await stopBundler();
  }
}

/** Fails unless deno.json and src/version.ts name the same version. */
function checkVersion(): void {
  if (denoConfig.version !== VERSION) {
    throw new BuildFailure(
      `version mismatch: deno.json says ${denoConfig.version}, src/version.ts says ${VERSION}`,
    );
  }
}

/**
 * Runs a build as the program: `build(root, mode)` with the repository root and `DSYS_BUILD`;
 * a failure prints `build failed: …` and the failing tool's output, and exits 1.
 */
export async function runBuild(
  build: (root: string, mode: BuildMode) => Promise<unknown>,
): Promise<void> {
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
