/**
 * Tests of the process helper (`tests/helpers/process.ts`) that the binary, lab and CLI tests
 * rely on: it must find log events, fail with a useful message instead of hanging, escalate a
 * stop to SIGKILL, refuse non-loopback network commands, and leave no process behind. Stand-in
 * processes are small Node scripts, so these tests do not need a build.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertLauncherReady,
  assertLoopbackOnly,
  type Launcher,
  runDsys,
  spawnDsys,
} from "./helpers/process.ts";

/** A launcher that runs a Node script instead of dsys. */
function script(code: string): Launcher {
  return { name: "script", command: "node", prefix: ["-e", code], requires: [] };
}

const LOGS_THEN_WAITS = script(`
  const log = (event, extra) => process.stderr.write(JSON.stringify({
    "@timestamp": new Date().toISOString(), level: "INFO", message: event, logger: "dsys.test",
    properties: { event, ...extra },
  }) + "\\n");
  process.stderr.write("plain text line\\n");
  log("listening", { id: "a" });
  setTimeout(() => log("peer-heard", { id: "b" }), 100);
  process.on("SIGTERM", () => { log("stopped"); process.exit(0); });
  setInterval(() => {}, 1000);
`);

Deno.test("waitForEvent finds past and future events by their fields", async () => {
  const child = spawnDsys(LOGS_THEN_WAITS, [], { label: "logger" });
  try {
    assert.equal((await child.waitForEvent("peer-heard", { id: "b" })).id, "b");
    assert.equal((await child.waitForEvent("listening")).id, "a");
    assert.deepEqual(await child.stop("SIGTERM"), { code: 0, signal: null });
    await child.waitForEvent("stopped");
    assert.equal(child.stderrLines[0], "plain text line");
    assert.equal(child.logs.length, 3);
  } finally {
    await child.kill();
  }
});

Deno.test("a missed event fails after its deadline and shows the last stderr lines", async () => {
  const child = spawnDsys(LOGS_THEN_WAITS, [], { label: "logger" });
  try {
    // The lines to show must be there first: a busy machine may take longer than the deadline
    // just to start the script.
    await child.waitForEvent("listening");
    await assert.rejects(
      child.waitForEvent("peer-heard", { id: "nobody" }, { timeoutMs: 300 }),
      (error: Error) => {
        assert.match(error.message, /^logger: event .*nobody.* not seen within 300 ms/);
        assert.match(error.message, /plain text line/);
        return true;
      },
    );
  } finally {
    await child.kill();
  }
});

Deno.test("waiting on a process that exits fails at once with its exit code", async () => {
  const child = spawnDsys(script(`process.stderr.write("fatal: no\\n"); process.exit(3);`), []);
  try {
    await assert.rejects(child.waitForEvent("listening", {}, { timeoutMs: 60_000 }), /exit code 3/);
    assert.deepEqual(await child.exited, { code: 3, signal: null });
  } finally {
    await child.kill();
  }
});

Deno.test("stop escalates to SIGKILL when SIGTERM is ignored", async () => {
  const child = spawnDsys(
    script(`process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000);`),
    [],
  );
  try {
    await child.waitForStdout("ready");
    assert.deepEqual(await child.stop("SIGTERM", 200), { code: 137, signal: "SIGKILL" });
  } finally {
    await child.kill();
  }
});

Deno.test("stdin reaches the process and its stdout lines are collected", async () => {
  const echo = script(`process.stdin.on("data", (d) => process.stdout.write("got " + d));`);
  const child = spawnDsys(echo, [], { stdin: true });
  try {
    await child.write("hello\n");
    assert.equal(await child.waitForStdout(/^got /), "got hello");
    await child.closeStdin();
    assert.equal((await child.exited).code, 0);
  } finally {
    await child.kill();
  }
});

Deno.test("runDsys kills a command that outlives its deadline", async () => {
  const hang = script(`console.error("hanging"); setInterval(() => {}, 1000);`);
  await assert.rejects(runDsys(hang, [], { timeoutMs: 300 }), /did not exit within 300 ms/);
});

Deno.test("runDsys returns the output and inherits no DSYS_ variables", async () => {
  Deno.env.set("DSYS_HELPER_TEST", "leaked");
  try {
    const result = await runDsys(
      script(`console.log(process.env.DSYS_HELPER_TEST ?? "clean", process.env.EXTRA);`),
      [],
      { env: { EXTRA: "given" } },
    );
    assert.deepEqual([result.code, result.stdout], [0, "clean given\n"]);
  } finally {
    Deno.env.delete("DSYS_HELPER_TEST");
  }
});

Deno.test("network commands must be pinned to loopback, seeds included", () => {
  for (const args of [["serve"], ["probe", "--iface", "eth0"], ["chat", "--iface=10.0.0.2"]]) {
    assert.throws(() => assertLoopbackOnly(args), /tests must pass --iface lo/);
  }
  assertLoopbackOnly(["serve", "--iface", "lo"]);
  assertLoopbackOnly(["probe", "--iface=127.0.0.1"]);
  assertLoopbackOnly(["chat"], { DSYS_IFACE: "lo" });
  assertLoopbackOnly(["version"]);
  assertLoopbackOnly(["serve", "--iface", "lo", "--peers", "127.0.0.1:7401,localhost:7402"]);
  assert.throws(
    () => assertLoopbackOnly(["serve", "--iface", "lo", "--peers", "127.0.0.1:1,10.1.1.1:7401"]),
    /only seed loopback peers \(got 10\.1\.1\.1:7401\)/,
  );
  assert.throws(
    () => assertLoopbackOnly(["serve", "--iface", "lo", "--iface=eth0"]),
    /got eth0/,
  );
  assert.throws(
    () => spawnDsys(script(""), ["serve", "--iface", "eth0"]),
    /refusing to start dsys serve --iface eth0/,
  );
});

Deno.test("a missing build output fails with the command that makes it", () => {
  const missing: Launcher = {
    name: "missing",
    command: "/nonexistent/dsys",
    prefix: [],
    requires: [{ path: "/nonexistent/dsys", hint: "run `deno task build` first" }],
  };
  assert.throws(() => assertLauncherReady(missing), /dsys is missing: run `deno task build`/);
  assert.throws(() => spawnDsys(missing, ["version"]), /run `deno task build` first/);
});
