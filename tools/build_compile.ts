/**
 * The preferred way to make `dist/dsys`: `deno compile`, which embeds the program in Deno's
 * runtime. It needs that runtime (`denort`) for the target, which Deno downloads the first time;
 * without network access the download fails within seconds, and the caller falls back to a
 * Node single-executable application.
 *
 * @module
 */

import { innermostCause, runTool } from "./build_exec.ts";

/** How long `deno compile` may take, download of `denort` included. */
const COMPILE_TIMEOUT_MS = 120_000;

/** The outcome of one `deno compile` attempt. */
export type CompileResult =
  | { ok: true }
  | { ok: false; reason: string; output: string };

/** Compiles `entry` (relative to `root`) into the executable `output`. */
export async function denoCompile(
  root: string,
  entry: string,
  output: string,
): Promise<CompileResult> {
  const result = await runTool(Deno.execPath(), [
    "compile",
    "--unstable-net",
    "-A",
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
