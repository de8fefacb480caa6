/**
 * `deno task release`: one dsys binary for each kind of computer on the LAN, all from one pinned
 * Node.js, whatever `node` this machine has (or none), so that the same commit gives the same
 * bytes:
 *
 * | file in `dist/`          | runs on                                                   |
 * | ------------------------ | --------------------------------------------------------- |
 * | `dsys-linux-x64`         | Linux on x86-64 (PCs, servers)                             |
 * | `dsys-linux-arm64`       | Linux on 64-bit ARM (Raspberry Pi 3/4/5 with a 64-bit OS)  |
 * | `dsys-windows-x64.exe`   | Windows 10/11 on x86-64                                    |
 * | `dsys-macos-x64`         | macOS on Intel, and on Apple Silicon under Rosetta 2       |
 *
 * 1. The pinned Node packages are installed once (`release_runtimes.ts`).
 * 2. For each target, `deno compile --target` is tried first, as in `deno task build` (it needs
 *    Deno's downloads; `DSYS_BUILD=sea` skips it, `DSYS_BUILD=deno` insists on it). Otherwise
 *    the target's pinned Node binary gets the SEA blob, which the pinned Node of this machine
 *    made once from the CommonJS bundle: the blob and every binary share one Node version.
 * 3. Each binary's header must name its platform and machine (`exe_header.ts`); the one for
 *    this machine must run `version`. Beside each, `<file>.sha256` holds its SHA-256 in
 *    `sha256sum` format, and `dist/RELEASE.json` records how each was made, sizes and timings.
 *    Everything is staged and moved into `dist/` only when all of it worked.
 *
 * @module
 */

import { VERSION } from "../src/version.ts";
import { bundle } from "./build_bundle.ts";
import {
  BuildFailure,
  type BuildMode,
  ENTRY,
  inStaging,
  mebibytes,
  runBuild,
  smokeTest,
  timed,
} from "./build_common.ts";
import { preferDenoCompile } from "./build_compile.ts";
import { injectSeaBlob, writeSeaBlob } from "./build_sea.ts";
import { readExeHeader, readMachoLayout } from "./exe_header.ts";
import {
  installRuntimes,
  RELEASE_TARGETS,
  type ReleaseTarget,
  type Runtimes,
  sha256Hex,
} from "./release_runtimes.ts";

/** How one release binary was made. */
export interface ReleaseBinary {
  /** `deno-compile` or `node-sea`. */
  executable: "deno-compile" | "node-sea";
  /** Why that path was taken. */
  reason: string;
  /** The runtime inside, e.g. `node 22.23.3`. */
  runtime: string;
  /** Size in bytes. */
  bytes: number;
  /** SHA-256 in lower-case hex. */
  sha256: string;
}

/** What `dist/RELEASE.json` records. */
export interface ReleaseRecord {
  /** dsys version built. */
  version: string;
  /** The pinned Node version of every SEA binary. */
  node: string;
  /** Each binary by file name. */
  binaries: Record<string, ReleaseBinary>;
  /** Wall time of each stage in milliseconds. */
  durationsMs: Record<string, number>;
}

/** The target whose binary this machine runs: it makes the blob and is smoke-tested. */
function hostTarget(): ReleaseTarget {
  const host = RELEASE_TARGETS.find((t) => t.os === Deno.build.os && t.arch === Deno.build.arch);
  if (!host) {
    const names = RELEASE_TARGETS.map((t) => t.file).join(", ");
    throw new BuildFailure(
      `no pinned Node runs on this machine (${Deno.build.os} ${Deno.build.arch}) to make the ` +
        `SEA blob; build on a computer that runs one of ${names}`,
    );
  }
  return host;
}

/** Makes one target's binary at `output`: `deno compile --target` if it can, else a SEA. */
async function makeBinary(
  root: string,
  mode: BuildMode,
  target: ReleaseTarget,
  output: string,
  seaBlob: () => Promise<string>,
  runtimes: Runtimes,
  host: ReleaseTarget,
): Promise<Omit<ReleaseBinary, "bytes" | "sha256">> {
  const choice = await preferDenoCompile(root, mode, output, target.denoTarget);
  if (choice.compiled) {
    return {
      executable: "deno-compile",
      reason: choice.reason,
      runtime: `deno ${Deno.version.deno}`,
    };
  }
  await injectSeaBlob(
    runtimes.nodePath(host),
    runtimes.nodePath(target),
    await seaBlob(),
    output,
    target.header.format,
  );
  return { executable: "node-sea", reason: choice.reason, runtime: `node ${runtimes.version}` };
}

/**
 * Fails unless `bytes`' header names the target's format and machine, and a Mach-O carries the
 * blob's `NODE_SEA` segment and no signature (which would no longer match).
 */
function checkHeader(bytes: Uint8Array, target: ReleaseTarget): void {
  const found = readExeHeader(bytes);
  const want = target.header;
  if (found.format !== want.format || found.machine !== want.machine) {
    throw new BuildFailure(
      `${target.file} is ${found.format} ${found.machine}, not ${want.format} ${want.machine}`,
    );
  }
  if (found.format !== "macho") return;
  const layout = readMachoLayout(bytes);
  if (layout.signed || !layout.segments.includes("NODE_SEA")) {
    throw new BuildFailure(
      `${target.file}: expected a NODE_SEA segment and no signature, found segments ` +
        `${layout.segments.join(", ")}${layout.signed ? " and a signature" : ""}`,
    );
  }
}

/** Builds the four release binaries into `dist/` (see the module comment). */
function release(root: string, mode: BuildMode): Promise<ReleaseRecord> {
  const host = hostTarget();
  return inStaging(root, ".release-", async ({ workDir, durationsMs, staged, publish }) => {
    const runtimes = await timed(durationsMs, "runtimes", () => installRuntimes(root));
    let blob: Promise<string> | undefined;
    const seaBlob = () =>
      blob ??= timed(durationsMs, "sea-blob", async () => {
        const cjs = await bundle({
          root,
          entry: ENTRY,
          outfile: staged("dsys.cjs"),
          format: "cjs",
        });
        return await writeSeaBlob(runtimes.nodePath(host), cjs.path, workDir);
      });
    const binaries: Record<string, ReleaseBinary> = {};
    for (const target of RELEASE_TARGETS) {
      const output = staged(target.file);
      const made = await timed(
        durationsMs,
        target.file,
        () => makeBinary(root, mode, target, output, seaBlob, runtimes, host),
      );
      const bytes = await Deno.readFile(output);
      checkHeader(bytes, target);
      const sha256 = await sha256Hex(bytes);
      await Deno.writeTextFile(staged(`${target.file}.sha256`), `${sha256}  ${target.file}\n`);
      binaries[target.file] = { ...made, bytes: bytes.length, sha256 };
    }
    await timed(durationsMs, "smoke", () => smokeTest(staged(host.file), []));
    const record: ReleaseRecord = {
      version: VERSION,
      node: runtimes.version,
      binaries,
      durationsMs,
    };
    await Deno.writeTextFile(staged("RELEASE.json"), JSON.stringify(record, null, 2) + "\n");
    await publish([
      ...RELEASE_TARGETS.flatMap((t) => [t.file, `${t.file}.sha256`]),
      "RELEASE.json",
    ]);
    for (const [file, binary] of Object.entries(binaries)) {
      console.log(
        `release: dist/${file} (${binary.runtime}, ${mebibytes(binary.bytes)}, sha256 ` +
          `${binary.sha256.slice(0, 16)}…): ${binary.reason}`,
      );
    }
    return record;
  });
}

if (import.meta.main) await runBuild(release);
