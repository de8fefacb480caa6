/**
 * Liveness connections on loopback: the watcher reports an established connection that closes
 * and nothing for one never established; and end to end, a server process SIGKILLed is noticed
 * through them — by a chat client, which moves to another server, and by another server, which
 * declares it dead — with silence timeouts set far beyond the test's deadline, so only the fast
 * path can do it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatClient } from "../src/client/client.ts";
import { type Config, resolveConfig, testClusterConfig } from "../src/config/mod.ts";
import { Server } from "../src/server/server.ts";
import { LivenessListener, LivenessWatcher } from "../src/transport/liveness.ts";
import type { Address } from "../src/transport/types.ts";
import { until } from "./helpers/loopback.ts";
import { LAUNCHERS, startServers, type TestNetwork, testNetwork } from "./helpers/process.ts";

/** Silence timeouts far beyond every wait of this file (ms). */
const NEVER_MS = 600_000;

/** The configuration of an in-process process on `net`, with silence timeouts of `NEVER_MS`. */
function slowToNotice(net: TestNetwork): Config {
  return resolveConfig({
    network: {
      iface: "lo",
      group: net.group,
      port: net.port,
      cluster: net.cluster,
      unicastPort: 0,
    },
    output: { statusIntervalMs: 0 },
    security: { coolOffMs: 2 * NEVER_MS },
    timing: {
      suspectAfterMs: NEVER_MS,
      forgetAfterMs: 2 * NEVER_MS,
      forgetDeadAfterMs: 4 * NEVER_MS,
    },
    chat: { serverTimeoutMs: NEVER_MS, serverQuietMs: NEVER_MS, clientTimeoutMs: 2 * NEVER_MS },
  }, testClusterConfig());
}

Deno.test("the watcher reports an established connection that closes, and only that", async () => {
  const port = freePort();
  const listener = await LivenessListener.open(port, 4);
  assert.ok(listener, `no liveness listener on port ${port}`);
  const closed: Address[] = [];
  const watcher = new LivenessWatcher((address) => closed.push(address), 60_000);
  try {
    const nobody = freePort();
    watcher.watch([{ host: "127.0.0.1", port }, { host: "127.0.0.1", port: nobody }]);
    await until("connected", () => watcher.connected().length === 1 && listener.held === 1);
    assert.deepEqual(closed, []);
    await listener.close();
    await until("the close is reported", () => closed.length === 1);
    assert.deepEqual(closed, [{ host: "127.0.0.1", port }]);
  } finally {
    await watcher.close();
    await listener.close();
  }
});

Deno.test("a chat client leaves a SIGKILLed server at once, though it would wait 10 minutes for silence", async () => {
  const net = testNetwork();
  const servers = startServers(LAUNCHERS.source, net, ["a", "b"], ["--status-interval", "0"]);
  let client: ChatClient | undefined;
  try {
    await Promise.all(servers.map((s) => s.waitForEvent("leader-changed", { leader: "b" })));
    client = await ChatClient.connect({
      config: resolveConfig({ chat: { history: 0, clientWaitMs: 30_000 } }, slowToNotice(net)),
      user: "ann",
    });
    const first = client.status().server;
    const victim = servers.find((s) => s.label.endsWith(` ${first}`))!;
    victim.signal("SIGKILL");
    await until("the client moved", () => {
      const now = client!.status();
      return now.state === "joined" && now.server !== first;
    }, 60_000);
    client.send("after the kill");
    assert.ok(await client.waitAcknowledged(60_000), "the line was not acknowledged");
  } finally {
    await client?.close();
    await Promise.all(servers.map((s) => s.kill()));
  }
});

Deno.test("a server declares a SIGKILLed peer dead at once, though it would wait 10 minutes for silence", async () => {
  const net = testNetwork();
  const [peer] = startServers(LAUNCHERS.source, net, ["a"], ["--status-interval", "0"]);
  let server: Server | undefined;
  try {
    server = await Server.start({ config: slowToNotice(net), priority: 9, id: "z" });
    const stateOfA = () => server!.view().members.find((m) => m.id === "a")?.state;
    await until("z hears a", () => stateOfA() === "alive", 60_000);
    // Its watcher connects within a round trip of hearing a; give it time on a busy machine.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    peer.signal("SIGKILL");
    await until("z declares a dead", () => stateOfA() === "dead", 60_000);
  } finally {
    await server?.stop();
    await peer.kill();
  }
});

/** A TCP port free on loopback now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
