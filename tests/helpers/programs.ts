/**
 * Finding the programs a test runs (tools from Debian packages that `.ci/run` installs), so that
 * a test can say which one is missing instead of failing to start it.
 *
 * @module
 */

import { join } from "node:path";

/**
 * The first of `names` that is an executable file: a bare name is looked up on `PATH`, an
 * absolute path taken as it is. Undefined when none is.
 */
export function findProgram(...names: string[]): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of names) {
    const candidates = name.startsWith("/") ? [name] : dirs.map((d) => join(d, name));
    const found = candidates.find(isExecutable);
    if (found) return found;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
