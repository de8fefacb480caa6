/**
 * Every flag whose value reaches the wire or a timer is checked against the wire's or the timer's
 * own bound before anything starts: a user name longer than the wire carries (counted in UTF-16
 * units on both sides), numbers beyond the wire's bounds, a timeout no timer can wait, and a
 * secret file that is a device, a pipe or too large are each one error line and exit 2, never a
 * stack trace, an `EncodeError` or a read without end. A value the configuration refuses (a
 * malformed setting, a wait finer than the tick) is named by the flag the user typed, not by the
 * setting's path in the configuration. Commands run from source, on loopback.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LAUNCHERS, runDsys, testNetwork } from "./helpers/process.ts";

/** Each bad command line, with a text its one error line must contain. */
async function cases(dir: string): Promise<{ args: string[]; mentions: string }[]> {
  const fifo = `${dir}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const huge = `${dir}/huge`;
  await Deno.writeTextFile(huge, "s3cret\n".repeat(20_000));
  await Deno.chmod(huge, 0o600);
  return [
    { args: ["chat", "--user", "𝐀".repeat(17)], mentions: "--user" },
    { args: ["chat", "--user", "u", "--history", "99999999999999999999"], mentions: "--history" },
    { args: ["serve", "--priority", "99999999999999999999"], mentions: "--priority" },
    { args: ["serve", "--priority", "-99999999999999999999"], mentions: "--priority" },
    { args: ["chat", "--user", "u", "--timeout", "3000000000"], mentions: "--timeout" },
    { args: ["serve", "--status-interval", "3000000"], mentions: "--status-interval" },
    { args: ["serve", "--unicast-port", "99999999999999999999"], mentions: "--unicast-port" },
    { args: ["chat", "--user", "u", "--timeout", "10"], mentions: "below --timeout (" },
    { args: ["serve", "--cluster", "a b"], mentions: '--cluster "a b": use 1-64' },
    { args: ["probe", "--peers", "127.0.0.1:0"], mentions: `--peers "127.0.0.1:0": expected` },
    { args: ["probe", "--secret-file", "/dev/zero"], mentions: "not a regular file" },
    { args: ["probe", "--secret-file", fifo], mentions: "not a regular file" },
    { args: ["probe", "--secret-file", huge], mentions: "larger than" },
  ];
}

Deno.test("values beyond the wire's or a timer's bounds: one error line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const net = testNetwork();
    const isolation = ["--cluster", net.cluster, "--group", net.group, "--port", String(net.port)];
    for (const bad of await cases(dir)) {
      const args = [bad.args[0], ...isolation, "--iface", "lo", ...bad.args.slice(1)];
      const result = await runDsys(LAUNCHERS.source, args, { timeoutMs: 20_000 });
      const shown = `dsys ${args.join(" ")}\nexit ${result.code}\nstderr:\n${result.stderr}`;
      assert.equal(result.code, 2, shown);
      const lines = result.stderr.split("\n").filter((line) => line.trim() !== "");
      assert.equal(lines.length, 1, shown);
      assert.ok(lines[0].includes(bad.mentions), shown);
      assert.doesNotMatch(result.stderr, /Error|Warning/, shown);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the longest names the wire carries are taken: 32 units, 16 letters outside the BMP", async () => {
  const { isUserName } = await import("../src/chat/keys.ts");
  assert.ok(isUserName("𝐀".repeat(16)));
  assert.ok(isUserName("a".repeat(32)));
  assert.ok(!isUserName("𝐀".repeat(17)));
  assert.ok(!isUserName("a".repeat(33)));
});
