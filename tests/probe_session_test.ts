/**
 * A probe session in-process on loopback: it finds an in-process server and judges it healthy
 * (its status, answer and rejection counters agree), and when another program holds the group
 * port without sharing it, it says so and still asks.
 *
 * @module
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { resolveConfig } from "../src/config/mod.ts";
import { ProbeSession } from "../src/probe/mod.ts";
import { Server } from "../src/server/server.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

const HOST = { dockerEnv: false, containerEnv: false };

Deno.test("a session finds an in-process server, healthy, and leaves its counters clean", async () => {
  const config = loopbackConfig();
  const server = await Server.start({ config, priority: 1, id: "solo" });
  try {
    await until("solo leads", () => server.view().leader === "solo");
    const session = await ProbeSession.open(config, [], { environment: HOST });
    const report = await session.run(600).finally(() => session.close());
    assert.deepEqual(report.problems, []);
    assert.equal(report.leader, "solo");
    assert.deepEqual(report.hints, []);
    assert.deepEqual(report.servers.map((s) => [s.id, s.role, s.viewSize, s.reached]), [
      ["solo", "leader", 1, "multicast"],
    ]);
    assert.equal(report.servers[0].address, server.status().node.address);
    assert.equal(report.listening, true);
    assert.deepEqual(report.selfTests.map((t) => [t.iface, t.ok]), [["lo", true]]);
    const rejected = Object.values(server.status().counters.rejections).reduce((a, b) => a + b);
    assert.equal(rejected, 0, "the probe and its self-test are not rejections");
  } finally {
    await server.stop();
  }
});

Deno.test("a group port held without sharing: group-bind, and the probe still asks", async () => {
  const config = loopbackConfig();
  const holder = dgram.createSocket({ type: "udp4", reuseAddr: false });
  await new Promise<void>((resolve) => holder.bind(config.network.port, "0.0.0.0", resolve));
  try {
    const session = await ProbeSession.open(config, [], { environment: HOST });
    const report = await session.run(300).finally(() => session.close());
    assert.equal(report.listening, false);
    const codes = report.problems.map((p) => p.code);
    assert.deepEqual(codes, ["group-bind", "multicast-self-test", "no-server"]);
    assert.match(report.problems[0].message, new RegExp(`${config.network.port}`));
    assert.match(report.problems[2].message, /could not listen to the group/);
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
});

Deno.test("the firewall fix names the servers' unicast port of the configuration given", async () => {
  for (const unicastPort of [7555, 0]) {
    const config = resolveConfig({ network: { unicastPort } }, loopbackConfig());
    const session = await ProbeSession.open(config, [], { environment: HOST });
    const report = await session.run(300).finally(() => session.close());
    const noServer = report.problems.find((p) => p.code === "no-server");
    assert.ok(noServer, JSON.stringify(report.problems));
    const named = [...noServer.fix.matchAll(/allow (\d+)\/udp/g)].map((m) => Number(m[1]));
    const expected = [config.network.port, ...(unicastPort > 0 ? [unicastPort] : [])];
    assert.deepEqual(named, expected, noServer.fix);
  }
});
