/**
 * The guard in a running server (loopback only): authenticated senders that misbehave are
 * ignored before their datagrams reach the protocol cores, counted by reason, and logged once.
 * A client that turns into a self-proclaimed top-priority leader within one incarnation does not
 * take leadership; a client sending an election message is ignored; a flood is cut off.
 *
 * @module
 */

import assert from "node:assert/strict";
import { resolveConfig } from "../src/config/mod.ts";
import { Endpoint } from "../src/net/endpoint.ts";
import { Server } from "../src/server/server.ts";
import type { Address } from "../src/transport/types.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

Deno.test("a running server ignores misbehaving members and counts them by reason", async () => {
  const base = loopbackConfig();
  const config = resolveConfig({
    security: { senderRatePerSecond: 200, senderBurst: 100, coolOffMs: 60_000 },
  }, base);
  const servers: Server[] = [];
  const endpoints: Endpoint[] = [];
  const open = async (id: string) => {
    const endpoint = await Endpoint.open({
      config,
      role: "client",
      joinGroup: false,
      unicastPort: 0,
      id,
    });
    endpoints.push(endpoint);
    return endpoint;
  };
  try {
    for (const priority of [1, 2]) {
      servers.push(await Server.start({ config, priority, id: `p${priority}` }));
    }
    await until("both follow p2", () => servers.every((s) => s.view().leader === "p2"));
    const [host, port] = servers[1].status().node.address.split(":");
    const leader: Address = { host, port: Number(port) };
    const guard = () => servers[1].stats().guard;

    const liar = await open("liar");
    liar.multicast({ kind: "chat-leave" });
    // Let both servers hear it as a client before it speaks as a server.
    await new Promise((resolve) => setTimeout(resolve, 200));
    liar.self.role = "server";
    const claim = { version: "0.1.0", priority: 1_000, leader: "liar", term: 99, view: 1 };
    liar.multicast({ kind: "heartbeat", ...claim, joining: false });
    liar.multicast({ kind: "coordinator", term: 99, priority: 1_000 });
    await until("the contradiction is counted", () => guard().misbehaviour.contradiction === 1);

    const rogue = await open("rogue");
    rogue.send({ kind: "election", term: 100, priority: 0 }, leader);
    await until("the invalid message is counted", () => guard().misbehaviour.invalid === 1);

    const flooder = await open("flooder");
    for (let i = 0; i < 300; i++) flooder.send({ kind: "chat-leave" }, leader);
    await until("the flood is counted", () => guard().misbehaviour.flood === 1);
    await until("the flood is ignored", () => guard().ignored >= 150);

    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const server of servers) {
      assert.equal(server.view().leader, "p2", "the liar never leads");
      assert.ok(!server.view().members.some((m) => m.id === "liar"), "nor is it a member");
      assert.equal(server.stats().protocol.electionsStarted <= 1, true);
    }
    assert.equal(guard().ignoring, 3);
  } finally {
    for (const endpoint of endpoints) await endpoint.close();
    for (const server of servers) await server.stop();
  }
});
