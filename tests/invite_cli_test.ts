/**
 * `dsys invite`: the link a browser user opens, with the token of the first secret after `#`
 * (the same token the servers accept), and one-line errors for what cannot make a link. Run with
 * the built binary.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LAUNCHERS, runDsys } from "./helpers/process.ts";
import { tokenAllows } from "../src/web/security.ts";

Deno.test("dsys invite prints the page's link, with the token the servers accept", async () => {
  const open = await runDsys(LAUNCHERS.binary, ["invite", "--http", "10.0.0.5:8080"]);
  assert.equal(open.code, 0, open.stderr);
  assert.equal(open.stdout, "http://10.0.0.5:8080/\n");
  const secured = await runDsys(LAUNCHERS.binary, [
    "invite",
    "--http",
    "10.0.0.5:8080",
    "--cluster",
    "lan",
    "--secret",
    "first,second",
  ]);
  assert.equal(secured.code, 0, secured.stderr);
  const match = /^http:\/\/10\.0\.0\.5:8080\/#t=([0-9a-f]{32})\n$/.exec(secured.stdout);
  assert.ok(match, secured.stdout);
  assert.ok(tokenAllows(["first"], "lan", match[1]));
  assert.ok(!tokenAllows(["second"], "lan", match[1]));
});

Deno.test("dsys invite without a usable address: one line, exit 2", async () => {
  for (
    const args of [["invite"], ["invite", "--http", "0.0.0.0:8080"], ["invite", "--http", "x"]]
  ) {
    const run = await runDsys(LAUNCHERS.binary, args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /^dsys: .*--http/);
  }
});
