/**
 * Several servers on one computer, as the README's quick start runs them: a second server on a
 * unicast port already taken is refused in one line that names the way out (`--unicast-port`,
 * 0 for any free port), and three servers, each with its own port, form one cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fixedUnicastPort } from "./helpers/ports.ts";
import { LAUNCHERS, runDsys, spawnDsys, testNetwork } from "./helpers/process.ts";

Deno.test("a second server on a taken unicast port is told to pick another or 0; three on their own ports form one cluster", async () => {
  const net = testNetwork();
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(fixedUnicastPort());
  const [first, ...others] = [...ports];
  const serve = (port: number, label: string) =>
    spawnDsys(LAUNCHERS.binary, [
      "serve",
      ...net.args,
      "--unicast-port",
      String(port),
      "--log-json",
    ], { label });
  const servers = [serve(first, "server 1")];
  try {
    await servers[0].waitForEvent("listening");
    const taken = await runDsys(LAUNCHERS.binary, [
      "serve",
      ...net.args,
      "--unicast-port",
      String(first),
    ]);
    assert.equal(taken.code, 2);
    const lines = taken.stderr.trim().split("\n");
    assert.equal(lines.length, 1, taken.stderr);
    assert.match(lines[0], new RegExp(`^dsys: UDP port ${first} is already in use`));
    assert.match(lines[0], /--unicast-port 0 for any free port/);

    servers.push(...others.map((port, i) => serve(port, `server ${i + 2}`)));
    const ids = await Promise.all(servers.map(async (s) => (await s.waitForEvent("listening")).id));
    for (const [i, server] of servers.entries()) {
      for (const id of ids.filter((_, j) => j !== i)) {
        await server.waitForEvent("member-joined", { id });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});
