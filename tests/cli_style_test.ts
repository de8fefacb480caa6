/**
 * How the CLI answers a newcomer: `dsys --version`, `dsys` alone (help on the standard output,
 * exit 0), and one style for every bad flag value: `--flag VALUE: what to use`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { flagErrorLine } from "../cmd/dsys.ts";
import { VERSION } from "../src/version.ts";
import { LAUNCHERS, runDsys } from "./helpers/process.ts";

Deno.test("commander's bad-value messages take the style of the others", () => {
  assert.equal(
    flagErrorLine("error: option '--port <n>' argument 'abc' is invalid. expected a whole number"),
    "--port abc: use a whole number",
  );
  assert.equal(
    flagErrorLine(
      "error: option '--port <n>' value 'abc' from env 'DSYS_PORT' is invalid. expected a whole number",
    ),
    "DSYS_PORT=abc: use a whole number",
  );
  assert.equal(flagErrorLine("error: unknown command 'x'"), "unknown command 'x'");
});

for (const launcher of [LAUNCHERS.binary, LAUNCHERS.bundle]) {
  Deno.test(`${launcher.name} --version prints the version, like dsys version`, async () => {
    const flag = await runDsys(launcher, ["--version"]);
    const command = await runDsys(launcher, ["version"]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stdout, new RegExp(`^dsys ${VERSION.replaceAll(".", "\\.")} \\(`));
    assert.equal(flag.stdout, command.stdout);
  });

  Deno.test(`${launcher.name} with no arguments prints the help on stdout and exits 0`, async () => {
    const result = await runDsys(launcher, []);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    for (const command of ["serve", "chat", "probe"]) {
      assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, "m"), result.stdout);
    }
  });

  Deno.test(`${launcher.name}: a bad number and a number out of range read alike`, async () => {
    const word = await runDsys(launcher, ["serve", "--iface", "lo", "--port", "abc"]);
    const range = await runDsys(launcher, ["serve", "--iface", "lo", "--port", "70000"]);
    assert.equal(word.code, 2);
    assert.equal(range.code, 2);
    assert.match(word.stderr, /^dsys: --port abc: use a whole number\b/);
    assert.match(range.stderr, /^dsys: --port 70000: use a whole number\b/);
  });
}
