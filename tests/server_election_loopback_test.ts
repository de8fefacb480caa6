/**
 * The `Server` shell on real sockets (loopback only): servers started in one process find each
 * other by multicast, agree on the highest-ordered leader, and replace a leader that leaves.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Server } from "../src/server/server.ts";
import { openDenoTransport } from "../src/transport/deno_transport.ts";
import { openNodeTransport } from "../src/transport/node_transport.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

for (
  const [kind, openSockets] of [["node", openNodeTransport], ["deno", openDenoTransport]] as const
) {
  Deno.test(`${kind}: servers agree on the highest priority and replace it when it leaves`, async () => {
    const config = loopbackConfig();
    const servers: Server[] = [];
    try {
      for (const priority of [1, 3, 2]) {
        servers.push(await Server.start({ config, priority, id: `p${priority}`, openSockets }));
      }
      const leaders = (group: Server[]) => group.map((s) => s.view().leader);
      await until("all follow p3", () => leaders(servers).every((l) => l === "p3"));
      for (const server of servers) {
        assert.deepEqual(server.view().members.map((m) => m.id).sort(), ["p1", "p2", "p3"]);
      }
      const [first, leader, third] = servers;
      await leader.stop();
      servers.splice(1, 1);
      await until("both follow p2", () => leaders([first, third]).every((l) => l === "p2"));
      // Replaced because it left, not because it fell silent: none declared it dead.
      for (const server of [first, third]) {
        assert.equal(server.view().members.find((m) => m.id === "p3")?.state ?? "left", "left");
      }
    } finally {
      for (const server of servers) await server.stop();
    }
  });
}
