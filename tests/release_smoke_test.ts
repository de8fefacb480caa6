/**
 * The release binaries for other computers, run on this one: the Linux arm64 binary under
 * qemu-user and the Windows binary under wine print their version (the arm64 binary serves and
 * chats in `lab/arm64_test.ts`). Skipped, saying what is missing, unless `.ci/run` built them
 * and installed the emulators (`helpers/release.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../src/version.ts";
import { runDsys } from "./helpers/process.ts";
import {
  ARM64_LAUNCHER,
  ARM64_NEEDS,
  binaryNeed,
  EMULATED_MS,
  missingOf,
  releasePath,
  releaseTarget,
  releaseTest,
} from "./helpers/release.ts";
import { findProgram } from "./helpers/programs.ts";

const WINDOWS = releaseTarget("dsys-windows-x64.exe");

releaseTest(
  "linux arm64 under qemu: the binary prints its version",
  missingOf(ARM64_NEEDS),
  async () => {
    const version = await runDsys(ARM64_LAUNCHER, ["version"], { timeoutMs: EMULATED_MS });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^dsys ${VERSION.replaceAll(".", "\\.")}\\b`));
  },
);

/** Debian's wine64 puts its loader and server outside PATH, in /usr/lib/wine. */
const WINE = findProgram("wine64", "/usr/lib/wine/wine64", "wine");
const WINESERVER = findProgram(
  "wineserver",
  "/usr/lib/wine/wineserver64",
  "/usr/lib/wine/wineserver",
);

/**
 * Runs `args` under wine with the prefix `prefix`, standard output and error to files: Node
 * under wine cannot open a pipe as its standard error (EBADF), which is how Deno captures it.
 */
async function wine(prefix: string, args: string[]): Promise<{ code: number; output: string }> {
  const out = join(prefix, "..", "output.txt");
  const { code } = await new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >"$OUT" 2>&1 </dev/null', "sh", WINE!, ...args],
    env: { WINEPREFIX: prefix, WINEDEBUG: "-all", OUT: out, DISPLAY: "" },
    stdout: "null",
    stderr: "null",
  }).output();
  return { code, output: await Deno.readTextFile(out) };
}

releaseTest(
  "windows x64 under wine: the .exe prints its version",
  missingOf([binaryNeed(WINDOWS), {
    what: "wine64",
    ok: WINE !== undefined && WINESERVER !== undefined,
    hint: "Debian package wine64",
  }]),
  async () => {
    const dir = await Deno.makeTempDir();
    const prefix = join(dir, "prefix");
    try {
      // Wine reports an old Windows by default, and Node 22 refuses to start below 8.1.
      const configured = await wine(prefix, ["winecfg", "/v", "win10"]);
      assert.equal(configured.code, 0, configured.output);
      const version = await wine(prefix, [releasePath(WINDOWS), "version"]);
      assert.equal(version.code, 0, version.output);
      assert.match(version.output, new RegExp(`^dsys ${VERSION.replaceAll(".", "\\.")}\\b`));
    } finally {
      await new Deno.Command(WINESERVER!, {
        args: ["-k"],
        env: { WINEPREFIX: prefix },
        stdout: "null",
        stderr: "null",
      }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
