/**
 * End-to-end tests of what `deno task build` ships: the one-file executable `dist/dsys` and the
 * Node bundle `dist/dsys.mjs` (run as `node dist/dsys.mjs`). Each guarantee is checked on both.
 *
 * These tests never skip: without the build outputs they fail and say to run `deno task build`.
 * Every process gets `--iface lo`, a random cluster, group and port, so traffic stays on loopback
 * and never meets another test's cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { VERSION } from "../src/version.ts";
import {
  assertLauncherReady,
  type DsysProcess,
  type Launcher,
  LAUNCHERS,
  runDsys,
  spawnDsys,
  testNetwork,
} from "./helpers/process.ts";

const SHIPPED: Launcher[] = [LAUNCHERS.binary, LAUNCHERS.bundle];

/**
 * Bad command lines, each with a text its error line must contain. They follow a random
 * network's flags (a later flag wins), so that even a wrongly accepted one disturbs nobody.
 */
const BAD_INPUTS: { args: string[]; mentions: string; allowNonLoopback?: boolean }[] = [
  { args: ["serve", "--iface", "lo", "--no-such-flag"], mentions: "--no-such-flag" },
  { args: ["serve", "--iface", "lo", "--port", "70000"], mentions: "70000" },
  { args: ["serve", "--iface", "lo", "--group", "10.0.0.1"], mentions: "10.0.0.1" },
  // An interface that does not exist: refused before any socket is opened.
  { args: ["serve", "--iface", "nosuch0"], mentions: "nosuch0", allowNonLoopback: true },
  { args: ["chat", "--iface", "lo", "--user", ""], mentions: "--user" },
  // An id with an escape sequence is refused and shown escaped, never sent to the terminal.
  { args: ["serve", "--iface", "lo", "--id", "a\x1b[31mb"], mentions: '--id "a\\u001b[31mb"' },
];

Deno.test("the build outputs exist (otherwise run `deno task build`)", () => {
  for (const launcher of SHIPPED) assertLauncherReady(launcher);
});

for (const launcher of SHIPPED) {
  Deno.test(`${launcher.name} version: exits 0 and prints dsys ${VERSION}`, async () => {
    const result = await runDsys(launcher, ["version"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^dsys ${VERSION.replaceAll(".", "\\.")}\\b`));
  });

  Deno.test(`${launcher.name} --help: lists serve, chat and probe`, async () => {
    const result = await runDsys(launcher, ["--help"]);
    assert.equal(result.code, 0, result.stderr);
    for (const command of ["serve", "chat", "probe"]) {
      assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, "m"), result.stdout);
    }
  });

  Deno.test(`${launcher.name} bad input: exit 2 and one error line, no stack trace`, async () => {
    assert.ok(
      !Deno.networkInterfaces().some((i) => i.name === "nosuch0"),
      "this host really has an interface named nosuch0",
    );
    const net = testNetwork();
    const isolation = ["--cluster", net.cluster, "--group", net.group, "--port", String(net.port)];
    for (const bad of BAD_INPUTS) {
      const args = [bad.args[0], ...isolation, ...bad.args.slice(1)];
      const result = await runDsys(launcher, args, { allowNonLoopback: bad.allowNonLoopback });
      const shown = `dsys ${args.join(" ")}\nstderr:\n${result.stderr}`;
      assert.equal(result.code, 2, shown);
      const lines = result.stderr.split("\n").filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, shown);
      assert.ok(lines[0].includes(bad.mentions), shown);
      assert.doesNotMatch(result.stderr, /^\s+at /m, shown);
      assert.ok(!result.stderr.includes("\x1b"), `an escape sequence reached stderr: ${shown}`);
    }
  });

  Deno.test(`${launcher.name}: two servers hear each other, probe finds both, SIGTERM exits 0`, async () => {
    const net = testNetwork();
    const serve = ["serve", ...net.args, "--unicast-port", "0", "--log-json"];
    const servers: DsysProcess[] = [];
    try {
      for (const name of ["A", "B"]) {
        servers.push(spawnDsys(launcher, serve, { label: `${launcher.name} server ${name}` }));
      }
      const ids = (await Promise.all(servers.map((s) => s.waitForEvent("listening"))))
        .map((listening) => String(listening.id));
      assert.notEqual(ids[0], ids[1]);
      await Promise.all([
        servers[0].waitForEvent("peer-heard", { id: ids[1] }),
        servers[1].waitForEvent("peer-heard", { id: ids[0] }),
      ]);

      const probe = await runDsys(launcher, ["probe", ...net.args, "--timeout", "1000"]);
      assert.equal(probe.code, 0, `probe failed:\n${probe.stdout}${probe.stderr}`);
      for (const id of ids) assert.ok(probe.stdout.includes(id), `${id} missing:\n${probe.stdout}`);

      for (const server of servers) {
        const status = await server.stop("SIGTERM");
        assert.deepEqual(status, { code: 0, signal: null }, `${server.label}:\n${server.tail()}`);
        await server.waitForEvent("stopped");
      }
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
    }
  });
}
