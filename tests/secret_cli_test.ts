/**
 * `dsys secret`: one line, a fresh 256-bit secret each time, in an alphabet a secret file and
 * `--secret` take as it is; saved as a file, it is the whole keyring. Run from source.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readSecretFile } from "../cmd/options.ts";
import { SECRET_BYTES } from "../cmd/secret.ts";
import { LAUNCHERS, runDsys } from "./helpers/process.ts";

Deno.test("dsys secret prints a fresh random secret that a secret file holds as it is", async () => {
  const runs = await Promise.all([1, 2].map(() => runDsys(LAUNCHERS.source, ["secret"])));
  for (const run of runs) {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, /^[A-Za-z0-9_-]+\n$/, "one base64url line: no comma, no #");
    assert.equal(Buffer.from(run.stdout.trim(), "base64url").length, SECRET_BYTES);
  }
  assert.notEqual(runs[0].stdout, runs[1].stdout, "fresh each time");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/dsys.key`;
    await Deno.writeTextFile(path, runs[0].stdout, { mode: 0o600 });
    assert.deepEqual(readSecretFile(path), [runs[0].stdout.trim()]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dsys secret --help says how to use it", async () => {
  const run = await runDsys(LAUNCHERS.source, ["secret", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /--secret-file dsys\.key/);
});
