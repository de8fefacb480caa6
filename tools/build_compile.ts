/**
 * The preferred way to make `dist/dsys`: `deno compile`, which embeds the program in Deno's
 * runtime. It needs that runtime (`denort`) for the target, which Deno downloads the first time;
 * without network access the download fails within seconds, and the caller falls back to a
 * Node single-executable application.
 *
 * @module
 */

import { BuildFailure, type BuildMode, ENTRY } from "./build_common.ts";
import { innermostCause, runTool } from "./build_exec.ts";

/** How long `deno compile` may take, download of `denort` included. */
const COMPILE_TIMEOUT_MS = 120_000;

/** The outcome of one `deno compile` attempt. */
export type CompileResult =
  | { ok: true }
  | { ok: false; reason: string; output: string };

/**
 * Compiles `entry` (relative to `root`) into the executable `output`, for this computer or for
 * the `deno compile --target` given.
 */
export async function denoCompile(
  root: string,
  entry: string,
  output: string,
  target?: string,
): Promise<CompileResult> {
  const result = await runTool(Deno.execPath(), [
    "compile",
    "--unstable-net",
    "-A",
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    entry,
  ], { timeoutMs: COMPILE_TIMEOUT_MS, cwd: root });
  if (!result.ok) {
    return {
      ok: false,
      reason: failureReason(result.output, result.reason),
      output: result.output,
    };
  }
  return { ok: true };
}

/** Says "could not download denort" plainly when that is the cause, else the tool's reason. */
function failureReason(output: string, reason: string): string {
  const url = /https?:\/\/\S+denort\S+\.zip/.exec(output)?.[0];
  if (!url || !/error sending request/.test(output)) return `deno compile failed: ${reason}`;
  const cause = innermostCause(output);
  return `deno compile could not download ${url}` + (cause ? ` (${cause})` : "");
}

/** Whether `deno compile` made the executable, and why it did or why it did not. */
export interface CompileChoice {
  /** True when `deno compile` made it; false when a Node SEA must. */
  compiled: boolean;
  /** `deno compile succeeded`, `forced by DSYS_BUILD=…`, or `fallback because …`. */
  reason: string;
}

/**
 * Makes `output` with `deno compile` (for `target`, or this computer) as `mode` says: `sea`
 * never tries, `auto` tries and reports why it fell back, `deno` throws a
 * {@linkcode BuildFailure} when it fails.
 */
export async function preferDenoCompile(
  root: string,
  mode: BuildMode,
  output: string,
  target?: string,
): Promise<CompileChoice> {
  if (mode === "sea") return { compiled: false, reason: "forced by DSYS_BUILD=sea" };
  const result = await denoCompile(root, ENTRY, output, target);
  if (result.ok) {
    const reason = mode === "deno" ? "forced by DSYS_BUILD=deno" : "deno compile succeeded";
    return { compiled: true, reason };
  }
  if (mode === "deno") throw new BuildFailure(`DSYS_BUILD=deno: ${result.reason}`, result.output);
  return { compiled: false, reason: `fallback because ${result.reason}` };
}
