/**
 * The server shell with its chat log on a disk: a `Server` given a `ChatDisk` (temporary
 * directory, `MemoryNetwork`, no socket) writes what its core journals, acknowledges lines once
 * they are flushed, shows the disk in `/status`, `/metrics` and its discover reply (what
 * `dsys probe` shows), and a server started again on the
 * same directory gives a new client the lines the first one acknowledged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatClient } from "../src/client/client.ts";
import { Server } from "../src/server/server.ts";
import { ChatDisk } from "../src/server/chat_disk.ts";
import { formatMetrics } from "../src/server/metrics.ts";
import { Endpoint } from "../src/net/endpoint.ts";
import { discoverServers } from "../src/net/discovery.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import type { TransportFactory } from "../src/transport/types.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

function at(net: MemoryNetwork, host: string): TransportFactory {
  return (request) => Promise.resolve(net.open({ ...request, host }));
}

Deno.test("a server with a disk log acknowledges, reports its disk, and keeps the lines across a restart", async () => {
  await withTempDir("dsys-runtime-disk-", async (dir) => {
    const config = loopbackConfig();
    const net = new MemoryNetwork();
    const start = (host: string) =>
      Server.start({
        config,
        priority: 0,
        id: "s1",
        transport: at(net, host),
        disk: () => ChatDisk.open({ dir, storage: config.storage }),
      });
    const connect = (user: string, host: string, history: number) =>
      ChatClient.connect({
        config: resolveConfig({ chat: { history, clientWaitMs: 5000 } }, config),
        user,
        transport: at(net, host),
      });

    let server = await start("10.0.0.1");
    const writer = await connect("alice", "10.0.1.1", 0);
    try {
      for (let n = 1; n <= 10; n++) writer.send(`line ${n}`);
      assert.ok(await writer.waitAcknowledged(30_000), "acknowledged");
      const { storage } = server.status();
      assert.ok(storage, "the status shows the disk log");
      assert.equal(storage.dir, dir);
      assert.ok(storage.bytes > 0 && storage.flushes > 0, JSON.stringify(storage));
      assert.equal(storage.oldestSeq, 1);
      assert.ok(storage.lastFlushAt > 0);
      const probe = await Endpoint.open({
        config,
        role: "client",
        joinGroup: false,
        unicastPort: 0,
        transport: at(net, "10.0.2.1"),
      });
      const found = await discoverServers(probe, { timeoutMs: 3000, attempts: 3, enough: 1 })
        .finally(() => probe.close());
      assert.equal(
        found[0]?.reply.disk?.dir,
        dir,
        "the discover reply (dsys probe) tells the disk",
      );
      assert.ok(found[0].reply.disk!.bytes > 0 && found[0].reply.disk!.lastFlushAt > 0);
      const metrics = formatMetrics(server.status());
      assert.match(metrics, /^dsys_chat_disk_bytes \d+/m);
      assert.match(metrics, /^dsys_chat_disk_failing 0$/m);
    } finally {
      await writer.close();
      await server.stop();
    }

    server = await start("10.0.0.2");
    const reader = await connect("bob", "10.0.1.2", 100);
    try {
      const seen: string[] = [];
      reader.onEvent((event) => {
        if (event.type === "message") seen.push(event.message.text);
      });
      await until("the history reached the new client", () => seen.length >= 10, 30_000);
      assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `line ${i + 1}`));
    } finally {
      await reader.close();
      await server.stop();
    }
  });
});
