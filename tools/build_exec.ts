/**
 * Running the external tools of the build (`deno compile`, `node`, postject) with a deadline,
 * capturing their output so that it is shown only when something goes wrong.
 *
 * @module
 */

/** What a finished (or timed-out) tool run produced. */
export interface ToolResult {
  /** True when the tool exited 0 before its deadline. */
  ok: boolean;
  /** Exit code; `undefined` when the tool was killed at its deadline or could not start. */
  code?: number;
  /** Standard output and standard error, interleaved per stream (stdout first). */
  output: string;
  /** Why the run failed, in one line; empty when it succeeded. */
  reason: string;
}

/** Runs `command args...` with no standard input; kills it after `timeoutMs`. */
export async function runTool(
  command: string,
  args: string[],
  options: { timeoutMs: number; cwd?: string; env?: Record<string, string> },
): Promise<ToolResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, output: "", reason: `cannot run ${command}: ${message}` };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    const output = stripAnsi(decoder.decode(stdout) + decoder.decode(stderr));
    if (timedOut) {
      return { ok: false, output, reason: `${command} did not finish in ${options.timeoutMs} ms` };
    }
    if (code !== 0) return { ok: false, code, output, reason: lastErrorLine(output, code) };
    return { ok: true, code, output, reason: "" };
  } finally {
    clearTimeout(timer);
  }
}

/** Removes ANSI colour sequences so that captured output reads well in logs. */
function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The lines of a tool's output before any backtrace, trimmed, without blank ones. */
function meaningfulLines(output: string): string[] {
  return output.split("Stack backtrace:")[0].split("\n").map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** The innermost numbered cause of a Deno error chain (`Caused by: … 4: reason`), if any. */
export function innermostCause(output: string): string | undefined {
  return meaningfulLines(output).findLast((l) => /^\d+: /.test(l))?.replace(/^\d+: /, "");
}

/** The most telling part of a failed tool's output: its last `error:` line and deepest cause. */
function lastErrorLine(output: string, code: number): string {
  const lines = meaningfulLines(output);
  const error = lines.findLast((l) => /^error\b/i.test(l)) ?? lines.at(-1) ?? "";
  const cause = innermostCause(output);
  const detail = cause ? `${error} (${cause})` : error;
  return `exit code ${code}${detail ? `: ${detail}` : ""}`;
}
