/**
 * Where dsys keeps state for this OS user on this computer, by each OS's convention: the owner
 * secret of chat clients, and (by default) each server's data directory. Pure: the caller passes
 * the environment, the platform and the home directory, so every OS's answer is testable anywhere.
 *
 * @module
 */

import { join, posix, win32 } from "node:path";

/** What {@linkcode stateDirectory} reads of the process: its environment, OS and home. */
export interface StateHomeInputs {
  /** The process environment (`XDG_STATE_HOME`, `HOME`, `LOCALAPPDATA`, `USERPROFILE`). */
  env: Record<string, string | undefined>;
  /** `process.platform`: `linux`, `win32`, `darwin`, … */
  platform: string;
  /** `os.homedir()`, used when the environment names no home. */
  home: string;
}

/**
 * The directory of dsys's state: `%LOCALAPPDATA%\dsys` on Windows,
 * `~/Library/Application Support/dsys` on macOS, `$XDG_STATE_HOME/dsys` (else
 * `~/.local/state/dsys`) elsewhere.
 */
export function stateDirectory({ env, platform, home }: StateHomeInputs): string {
  if (platform === "win32") {
    const local = env.LOCALAPPDATA ||
      win32.join(env.USERPROFILE || home, "AppData", "Local");
    return win32.join(local, "dsys");
  }
  const userHome = env.HOME || home;
  if (platform === "darwin") {
    return posix.join(userHome, "Library", "Application Support", "dsys");
  }
  return join(env.XDG_STATE_HOME || posix.join(userHome, ".local", "state"), "dsys");
}
