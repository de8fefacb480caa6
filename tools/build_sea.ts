/**
 * The offline way to make `dist/dsys`: a Node single-executable application (SEA). A copy of
 * the `node` binary found on PATH gets the CommonJS bundle injected as its `NODE_SEA_BLOB`
 * resource (with postject) and then runs that bundle instead of its own command line.
 *
 * Linux only: macOS needs a Mach-O segment name and re-signing, Windows an `.exe` and signtool.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTool } from "./build_exec.ts";

/** The sentinel that postject flips to tell Node that the binary carries a SEA blob. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Oldest Node whose SEA supports `disableExperimentalSEAWarning`. */
const MIN_NODE = [20, 12] as const;

/** How long each SEA step (blob generation, injection) may take. */
const STEP_TIMEOUT_MS = 120_000;

/** The `node` a SEA is built from. */
export interface NodeInfo {
  /** Absolute path of the binary (`process.execPath`). */
  execPath: string;
  /** Its version, e.g. `20.20.2`. */
  version: string;
}

/** Thrown when a step of the SEA build fails; the message names the step and the cause. */
export class SeaError extends Error {
  /** Creates an error; `output` is what the failing tool printed. */
  constructor(message: string, readonly output = "") {
    super(message);
    this.name = "SeaError";
  }
}

/** Finds `node` on PATH and checks that it can build a SEA. */
export async function findNode(): Promise<NodeInfo> {
  const probe = await runTool("node", [
    "-p",
    "JSON.stringify({ execPath: process.execPath, version: process.versions.node })",
  ], { timeoutMs: 30_000 });
  if (!probe.ok) throw new SeaError(`no usable node on PATH (${probe.reason})`, probe.output);
  const info = JSON.parse(probe.output) as NodeInfo;
  const [major, minor] = info.version.split(".").map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    throw new SeaError(`node ${info.version} at ${info.execPath} is too old for a SEA`);
  }
  return info;
}

/** Builds the executable `output` from the CommonJS bundle `script`, working in `workDir`. */
export async function buildSea(
  node: NodeInfo,
  script: string,
  output: string,
  workDir: string,
): Promise<void> {
  if (Deno.build.os !== "linux") {
    throw new SeaError(`the SEA fallback supports Linux only, not ${Deno.build.os}`);
  }
  const blob = join(workDir, "sea.blob");
  const config = join(workDir, "sea-config.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true }),
  );
  await step("blob", node.execPath, ["--experimental-sea-config", config], workDir);
  await Deno.copyFile(node.execPath, output);
  await Deno.chmod(output, 0o755);
  await step("inject", node.execPath, [
    postjectCli(),
    output,
    "NODE_SEA_BLOB",
    blob,
    "--sentinel-fuse",
    SEA_FUSE,
  ], workDir);
}

async function step(name: string, command: string, args: string[], cwd: string): Promise<void> {
  const result = await runTool(command, args, { timeoutMs: STEP_TIMEOUT_MS, cwd });
  if (!result.ok) throw new SeaError(`SEA ${name} step failed: ${result.reason}`, result.output);
}

/** The postject command-line script inside the npm package of the import map. */
function postjectCli(): string {
  const api = import.meta.resolve("postject");
  if (!api.startsWith("file:")) {
    throw new SeaError(`postject resolved to ${api}; run with "nodeModulesDir": "auto"`);
  }
  return fileURLToPath(new URL("./cli.js", api));
}
