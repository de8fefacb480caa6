/**
 * The CLI's one reading of where this OS user's dsys state lives: the process's environment,
 * platform and home handed to the pure `stateDirectory`.
 *
 * @module
 */

import { homedir } from "node:os";
import process from "node:process";
import { stateDirectory } from "../src/util/state_dir.ts";

/** This process's dsys state directory (see `stateDirectory`). */
export function userStateDirectory(): string {
  return stateDirectory({ env: process.env, platform: process.platform, home: homedir() });
}
