/**
 * The offline way to make an executable: a Node single-executable application (SEA). A copy of
 * a `node` binary gets the CommonJS bundle injected as its `NODE_SEA_BLOB` resource (with
 * postject) and then runs that bundle instead of its own command line.
 *
 * `dist/dsys` ({@linkcode buildSea}) is made from the `node` found on PATH, on Linux only. The
 * release build (`tools/release.ts`) makes the blob once with the pinned Node for this machine
 * and injects it into the pinned Node binary of each platform: an ELF and a PE as they are, a
 * Mach-O after its code signature is removed (postject puts the blob in a `NODE_SEA` segment).
 *
 * @module
 */

import { unsign } from "macho-unsign";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { runTool } from "./build_exec.ts";
import type { ExeFormat } from "./exe_header.ts";

/** The sentinel that postject flips to tell Node that the binary carries a SEA blob. */
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

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
  const blob = await writeSeaBlob(node.execPath, script, workDir);
  await injectSeaBlob(node.execPath, node.execPath, blob, output, "elf");
}

/**
 * Makes the SEA blob of the CommonJS bundle `script` with the `node` binary `nodePath`, in
 * `workDir`, and returns its path. The blob is tied to that Node version: it must be injected
 * into a Node binary of the same version. The blob holds the script's path as written in the
 * configuration, so it is given relative to `workDir` (the random name of a build's staging
 * directory would differ in every build); with no snapshot and no code cache, the same bundle
 * always gives the same bytes.
 */
export async function writeSeaBlob(
  nodePath: string,
  script: string,
  workDir: string,
): Promise<string> {
  const config = join(workDir, "sea-config.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      main: relative(workDir, script),
      output: "sea.blob",
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
    }),
  );
  await step("blob", nodePath, ["--experimental-sea-config", config], workDir);
  return join(workDir, "sea.blob");
}

/**
 * Writes the executable `output`: a copy of the Node binary `base` (of any platform) carrying
 * `blob`. `node` runs postject. A Mach-O first loses its code signature, which the injection
 * would break (macOS kills a binary whose signature does not match); it is left unsigned.
 */
export async function injectSeaBlob(
  node: string,
  base: string,
  blob: string,
  output: string,
  format: ExeFormat,
): Promise<void> {
  if (format === "macho") {
    const unsigned = unsign(await Deno.readFile(base));
    if (!unsigned) throw new SeaError(`${base} has no code signature to remove`);
    await Deno.writeFile(output, new Uint8Array(unsigned));
  } else {
    await Deno.copyFile(base, output);
  }
  await Deno.chmod(output, 0o755);
  const macho = format === "macho" ? ["--macho-segment-name", "NODE_SEA"] : [];
  await step("inject", node, [
    postjectCli(),
    output,
    "NODE_SEA_BLOB",
    blob,
    "--sentinel-fuse",
    SEA_FUSE,
    ...macho,
  ], dirname(output));
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
