/**
 * `dsys probe` end to end on loopback with the built executable: a healthy trio (exit 0, three
 * rows, one leader), nobody there (exit 1, no-server), another secret (wrong-secret), a server
 * reachable only by unicast (multicast-blocked), `--watch` off a terminal, and bad usage (2).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type DsysProcess,
  LAUNCHERS,
  runDsys,
  spawnDsys,
  startServers,
  testNetwork,
} from "./helpers/process.ts";

const BINARY = LAUNCHERS.binary;

/** Waits until every server follows `leader`. */
async function settled(servers: DsysProcess[], leader: string): Promise<void> {
  await Promise.all(servers.map((s) => s.waitForEvent("leader-changed", { leader })));
}

/** Runs `probe --json` and parses its output. */
async function probeJson(args: string[]) {
  const result = await runDsys(BINARY, ["probe", ...args, "--json"]);
  const shown = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  return { result, report: JSON.parse(result.stdout), shown };
}

function problemCodes(report: { problems: { code: string }[] }): string[] {
  return report.problems.map((p) => p.code);
}

Deno.test("probe: a healthy trio exits 0 with three rows and one leader", async () => {
  const net = testNetwork();
  const servers = startServers(BINARY, net, ["a", "b", "c"]);
  try {
    await settled(servers, "c");
    const { result, report, shown } = await probeJson([...net.args, "--timeout", "1000"]);
    assert.equal(result.code, 0, shown);
    assert.deepEqual(problemCodes(report), [], shown);
    assert.equal(report.leader, "c");
    assert.deepEqual(
      report.servers.map((s: Record<string, unknown>) => [s.id, s.role, s.leader, s.viewSize]),
      [["a", "follower", "c", 3], ["b", "follower", "c", 3], ["c", "leader", "c", 3]],
    );
    for (const server of report.servers) {
      assert.equal(server.clients, 0);
      assert.equal(server.reached, "multicast");
      assert.ok(server.loss < 0.3, shown);
      // In milliseconds and within the probe's 1 s: a busy machine may answer slowly.
      assert.ok(server.rttMs > 0 && server.rttMs < 1000, shown);
    }
    assert.equal(report.listening, true);
    assert.deepEqual(report.selfTests.map((t: { ok: boolean }) => t.ok), [true]);

    const text = await runDsys(BINARY, ["probe", ...net.args, "--timeout", "500"]);
    assert.equal(text.code, 0, text.stdout);
    assert.match(text.stdout, /^Verdict: healthy: 3 servers, leader c \(term \d+\)\.$/m);
    assert.match(text.stdout, /^ {2}c +127\.0\.0\.1:\d+ +leader /m);
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

Deno.test("probe: nobody there exits 1 with no-server and the firewall fix", async () => {
  const net = testNetwork();
  const { result, report, shown } = await probeJson([...net.args, "--timeout", "500"]);
  assert.equal(result.code, 1, shown);
  assert.deepEqual(problemCodes(report), ["no-server"], shown);
  assert.deepEqual(report.servers, []);
  assert.equal(report.leader, null);
  assert.match(report.problems[0].fix, new RegExp(`sudo ufw allow ${net.port}/udp`));
  const text = await runDsys(BINARY, ["probe", ...net.args, "--timeout", "300"]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^ {2}- \[no-server\] no server of cluster/m);
});

Deno.test("probe: servers with another secret are named as a wrong secret", async () => {
  const net = testNetwork();
  const servers = startServers(BINARY, net, ["a", "b"], ["--secret", "right-one"]);
  try {
    await settled(servers, "b");
    const args = [...net.args, "--secret", "wrong-one", "--timeout", "800"];
    const { result, report, shown } = await probeJson(args);
    assert.equal(result.code, 1, shown);
    assert.deepEqual(problemCodes(report), ["wrong-secret"], shown);
    assert.ok(report.rejections["unknown-key"] > 0, shown);
    assert.deepEqual(report.servers, []);
    const right = await probeJson([...net.args, "--secret", "right-one", "--timeout", "800"]);
    assert.equal(right.result.code, 0, right.shown);
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

Deno.test("probe: a server that only unicast reaches is multicast-blocked", async () => {
  const net = testNetwork();
  const other = testNetwork();
  const far = { ...other, args: [...other.args, "--cluster", net.cluster] };
  const [server] = startServers(BINARY, far, ["far"]);
  try {
    const listening = await server.waitForEvent("listening");
    await settled([server], "far");
    const port = String(listening.address).split(":")[1];
    const args = [...net.args, "--addr", `127.0.0.1:${port}`, "--timeout", "800"];
    const { result, report, shown } = await probeJson(args);
    assert.equal(result.code, 1, shown);
    assert.deepEqual(problemCodes(report), ["multicast-blocked"], shown);
    assert.equal(report.servers[0].id, "far");
    assert.equal(report.servers[0].reached, "unicast");
    assert.match(report.problems[0].message, /far answered only requests sent by unicast/);
  } finally {
    await server.kill();
  }
});

Deno.test("probe --watch off a terminal prints a report per round until SIGINT", async () => {
  const net = testNetwork();
  const servers = startServers(BINARY, net, ["a"]);
  const watcher = spawnDsys(BINARY, ["probe", ...net.args, "--watch", "--timeout", "300"]);
  try {
    await settled(servers, "a");
    await waitForCount(watcher, /^Verdict: healthy/, 2);
    const status = await watcher.stop("SIGINT");
    assert.deepEqual(status, { code: 0, signal: null }, watcher.tail());
    assert.ok(!watcher.stdout.includes("\x1b"), "no control codes off a terminal");
  } finally {
    await watcher.kill();
    await Promise.all(servers.map((s) => s.kill()));
  }
});

/** Waits until `count` standard-output lines of `proc` match `pattern`. */
async function waitForCount(proc: DsysProcess, pattern: RegExp, count: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (proc.stdoutLines.filter((l) => pattern.test(l)).length < count) {
    if (performance.now() > deadline || !proc.running) {
      throw new Error(`${count} lines matching ${pattern} not seen:\n${proc.stdout}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("probe: bad usage exits 2 with one line", async () => {
  const net = testNetwork();
  for (
    const [flag, value, mentions] of [
      ["--timeout", "abc", "--timeout"],
      ["--timeout", "50", "--timeout"],
      ["--addr", "nowhere", "--addr"],
      ["--addr", "127.0.0.1:0", "--addr"],
    ]
  ) {
    const result = await runDsys(BINARY, ["probe", ...net.args, flag, value]);
    const shown = `${flag} ${value}: ${result.stderr}`;
    assert.equal(result.code, 2, shown);
    assert.equal(result.stderr.trim().split("\n").length, 1, shown);
    assert.ok(result.stderr.includes(mentions), shown);
  }
});
