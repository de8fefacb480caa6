/**
 * The CLI's sockets (`cmd/transport.ts`): `DSYS_TRANSPORT` picks the socket API and `DSYS_FAULTS`
 * wraps the sockets in faults — read by the CLI only, and handed to the runtimes as an opener.
 * In-process on loopback, then `dsys serve` and `dsys chat` from source: a server run with both
 * settings says so in its log, and a bad value is one error line and exit 2.
 *
 * @module
 */

import assert from "node:assert/strict";
import { socketOpener, transportKindFrom } from "../cmd/transport.ts";
import { FaultSpecError, type FaultyTransport } from "../src/transport/faulty_transport.ts";
import { TransportError, type TransportOptions } from "../src/transport/types.ts";
import { groupPort } from "./helpers/ports.ts";
import { LAUNCHERS, runDsys, spawnDsys, testNetwork } from "./helpers/process.ts";

function loopbackOptions(): TransportOptions {
  return {
    group: "239.255.77.1",
    port: groupPort(),
    unicastPort: 0,
    joinGroup: false,
    interfaces: [{ name: "lo", address: "127.0.0.1", internal: true }],
    multicastTtl: 1,
    multicastLoopback: true,
    receiveBufferBytes: 1 << 20,
    maxDatagramBytes: 65507,
  };
}

Deno.test("DSYS_TRANSPORT names the socket API: deno, node, or unset for the best", () => {
  assert.equal(transportKindFrom(undefined), undefined);
  assert.equal(transportKindFrom(""), undefined);
  assert.equal(transportKindFrom("node"), "node");
  assert.equal(transportKindFrom("deno"), "deno");
  assert.throws(
    () => transportKindFrom("udp"),
    new TransportError(`DSYS_TRANSPORT="udp": use "deno" or "node"`),
  );
});

Deno.test("the CLI's opener: the socket API asked for, wrapped in DSYS_FAULTS when set", async () => {
  const plain = await socketOpener({})(loopbackOptions());
  await plain.close();
  assert.equal(plain.kind, "deno");
  assert.ok(!("faultStats" in plain), "no faults asked, none injected");

  const lossy = await socketOpener({ DSYS_TRANSPORT: "node", DSYS_FAULTS: "drop=1,seed=3" })(
    loopbackOptions(),
  ) as FaultyTransport;
  try {
    assert.equal(lossy.kind, "node");
    lossy.send(new Uint8Array([1, 2, 3]), lossy.localAddress);
    assert.equal(lossy.faultStats().out.dropped, 1);
    assert.equal(lossy.stats().sentDatagrams, 0, "the dropped datagram never reached the socket");
  } finally {
    await lossy.close();
  }

  assert.throws(() => socketOpener({ DSYS_FAULTS: "drop=2" }), FaultSpecError);
  assert.throws(() => socketOpener({ DSYS_TRANSPORT: "udp" }), TransportError);
});

Deno.test("dsys serve honours DSYS_TRANSPORT and DSYS_FAULTS and says so", async () => {
  const net = testNetwork();
  const server = spawnDsys(LAUNCHERS.source, [
    "serve",
    ...net.args,
    "--unicast-port",
    "0",
    "--log-json",
  ], {
    env: { DSYS_TRANSPORT: "node", DSYS_FAULTS: "dup=0.5,seed=9" },
  });
  try {
    const faults = await server.waitForEvent("faults");
    assert.equal(faults.faults, "dup=0.5,seed=9");
    const listening = await server.waitForEvent("listening");
    assert.equal(listening.transport, "node");
  } finally {
    await server.kill();
  }
});

Deno.test("a bad DSYS_TRANSPORT or DSYS_FAULTS: one error line, exit 2", async () => {
  const net = testNetwork();
  const runs: { args: string[]; env: Record<string, string>; says: string }[] = [
    { args: ["serve", ...net.args], env: { DSYS_TRANSPORT: "udp" }, says: 'DSYS_TRANSPORT="udp"' },
    {
      args: ["chat", "--user", "u", ...net.args],
      env: { DSYS_FAULTS: "drop=lots" },
      says: 'fault spec "drop=lots"',
    },
  ];
  for (const { args, env, says } of runs) {
    const run = await runDsys(LAUNCHERS.source, args, { env });
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.ok(lines[0].startsWith("dsys: ") && lines[0].includes(says), lines[0]);
  }
});
