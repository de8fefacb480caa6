/**
 * `--secret-file` (and `DSYS_SECRET_FILE`): one secret a line, the first sends; a file that
 * cannot be used is one error line and exit 2; combining it with `--secret` is refused; a file
 * others can read draws one warning. Commands run from source, on loopback only.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readSecretFile } from "../cmd/options.ts";
import { LAUNCHERS, runDsys, testNetwork } from "./helpers/process.ts";

async function secretFile(dir: string, text: string, mode = 0o600): Promise<string> {
  const path = `${dir}/secrets-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
  return path;
}

/** Runs a short probe on a fresh loopback network with `args`, from source. */
function probe(args: string[], env: Record<string, string> = {}) {
  const net = testNetwork();
  return runDsys(LAUNCHERS.source, ["probe", ...net.args, "--timeout", "100", ...args], { env });
}

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "");
}

Deno.test("a secret file holds one secret a line, in order; blanks and # comments are skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await secretFile(
      dir,
      "# rotated 2025-06\n\n  new-one  \r\n#old-one\nold, with comma\n",
    );
    assert.deepEqual(readSecretFile(path), ["new-one", "old, with comma"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unusable secret file, or both --secret and --secret-file, is one line and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = await secretFile(dir, "s3cret\n");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--secret-file", `${dir}/missing`], {}, /--secret-file .*missing: no such file/],
      [["--secret-file", dir], {}, /is a directory/],
      [["--secret-file", await secretFile(dir, "# none yet\n\n")], {}, /no secret in it/],
      [["--secret-file", good, "--secret", "x"], {}, /both given: use one/],
      [["--secret-file", good], { DSYS_SECRET: "x" }, /both given: use one/],
      [[], { DSYS_SECRET_FILE: `${dir}/missing`, DSYS_SECRET: "x" }, /both given: use one/],
      [[], { DSYS_SECRET_FILE: `${dir}/missing` }, /no such file/],
    ];
    if (Deno.uid() !== 0) {
      cases.push([["--secret-file", await secretFile(dir, "s\n", 0o000)], {}, /permission denied/]);
    }
    for (const [args, env, message] of cases) {
      const result = await probe(args, env);
      const shown = `${args.join(" ")} ${JSON.stringify(env)}\n${result.stderr}`;
      assert.equal(result.code, 2, shown);
      const lines = errorLines(result.stderr);
      assert.equal(lines.length, 1, shown);
      assert.match(lines[0], message, shown);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret file others can read draws one warning; a private one none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const open = await secretFile(dir, "s3cret\n", 0o644);
    const result = await probe(["--secret-file", open]);
    const warnings = result.stderr.split("\n").filter((line) => line.includes("chmod 600"));
    assert.equal(warnings.length, 1, result.stderr);
    assert.match(warnings[0], /can be read by every user \(mode 644\)/);
    const closed = await secretFile(dir, "s3cret\n");
    assert.doesNotMatch((await probe(["--secret-file", closed])).stderr, /chmod/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
