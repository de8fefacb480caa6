/**
 * The release binaries of `deno task release` in tests: where they are, how to run the ones for
 * other machines here (Linux arm64 under qemu-user, Windows under wine), and whether a test
 * that needs one may run, must fail, or is skipped.
 *
 * `.ci/run` builds them and sets `DSYS_RELEASE_REQUIRED=1`: then a missing binary or tool fails
 * the test that needs it, saying what is missing. Elsewhere (`deno task test` alone does not
 * build them) such a test is skipped, and its name says why.
 *
 * @module
 */

import { join } from "node:path";
import { RELEASE_TARGETS, type ReleaseTarget } from "../../tools/release_runtimes.ts";
import { type Launcher, REPO_ROOT } from "./process.ts";
import { findProgram } from "./programs.ts";

/** True when CI built the release binaries and every release test must run. */
export const RELEASE_REQUIRED = Deno.env.get("DSYS_RELEASE_REQUIRED") === "1";

/** Absolute path of a target's binary in `dist/`. */
export function releasePath(target: ReleaseTarget): string {
  return join(REPO_ROOT, "dist", target.file);
}

/** The release target with this file name. */
export function releaseTarget(file: string): ReleaseTarget {
  const target = RELEASE_TARGETS.find((t) => t.file === file);
  if (!target) throw new Error(`no release target ${file}`);
  return target;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Something a release test needs: a file or a program, whether it is here, how to get it. */
export interface ReleaseNeed {
  /** What is needed, e.g. `dist/dsys-linux-arm64` or `qemu-aarch64`. */
  what: string;
  /** Whether it is here. */
  ok: boolean;
  /** How to get it: the command or the Debian package. */
  hint: string;
}

/**
 * The needs that are not met, each with how to get it: a release test runs when there is none,
 * is skipped otherwise, or fails when {@linkcode RELEASE_REQUIRED}.
 */
export function missingOf(needs: ReleaseNeed[]): string[] {
  return needs.filter((n) => !n.ok).map((n) => `${n.what} (${n.hint})`);
}

/** A hint for a missing release binary. */
export const RELEASE_HINT = "run `deno task release`";

/** Needs of a test that reads a release binary. */
export function binaryNeed(target: ReleaseTarget): ReleaseNeed {
  return { what: `dist/${target.file}`, ok: isFile(releasePath(target)), hint: RELEASE_HINT };
}

/**
 * Registers a test that needs `missing` to be empty: it runs then; otherwise it fails naming
 * what is missing when {@linkcode RELEASE_REQUIRED}, else it is skipped with the reason in its
 * name.
 */
export function releaseTest(
  name: string,
  missing: string[],
  fn: () => Promise<void> | void,
): void {
  if (missing.length === 0) {
    Deno.test(name, fn);
  } else if (RELEASE_REQUIRED) {
    Deno.test(name, () => {
      throw new Error(`DSYS_RELEASE_REQUIRED=1 but missing: ${missing.join("; ")}`);
    });
  } else {
    Deno.test({ name: `${name} (skipped: missing ${missing.join("; ")})`, ignore: true, fn });
  }
}

/** Where Debian's `libc6-arm64-cross` puts the arm64 loader and C library for qemu's `-L`. */
export const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";

/** `qemu-aarch64`, from Debian's `qemu-user` (what `.ci/run` installs). */
export const QEMU_AARCH64 = findProgram("qemu-aarch64");

/** What running the arm64 binary under qemu needs. */
export const ARM64_NEEDS: ReleaseNeed[] = [
  binaryNeed(releaseTarget("dsys-linux-arm64")),
  { what: "qemu-aarch64", ok: QEMU_AARCH64 !== undefined, hint: "Debian package qemu-user" },
  {
    what: `${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`,
    ok: isFile(`${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`),
    hint: "Debian packages libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross",
  },
];

/** qemu translates every instruction: deadlines for the arm64 binary are far longer. */
export const EMULATED_MS = 120_000;

/** Runs `dist/dsys-linux-arm64` under qemu-user with the arm64 sysroot. */
export const ARM64_LAUNCHER: Launcher = {
  name: "qemu dist/dsys-linux-arm64",
  command: QEMU_AARCH64 ?? "qemu-aarch64",
  prefix: ["-L", ARM64_SYSROOT, releasePath(releaseTarget("dsys-linux-arm64"))],
  requires: [{ path: releasePath(releaseTarget("dsys-linux-arm64")), hint: RELEASE_HINT }],
};

/** Runs `dist/dsys-linux-x64`, the release binary for this machine. */
export const X64_LAUNCHER: Launcher = {
  name: "dist/dsys-linux-x64",
  command: releasePath(releaseTarget("dsys-linux-x64")),
  prefix: [],
  requires: [{ path: releasePath(releaseTarget("dsys-linux-x64")), hint: RELEASE_HINT }],
};
