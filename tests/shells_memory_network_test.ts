/**
 * The real shells on any transport: three `Server`s and two `ChatClient`s — their timers, server
 * node, gate and codec — run in one process on a `MemoryNetwork`, every transport wrapped in
 * `FaultyTransport` with loss, duplicates and reordering, and no socket opened. The clients chat
 * through a stop of the leader; each delivers every line once, both in one order. It needs no
 * network permission: `deno test --allow-env --allow-read` runs it.
 *
 * The configuration names `lo` and a random test group, so that a runtime that ignored the
 * transport it was given would stay on loopback (and fail the `memory` check below).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatClient } from "../src/client/client.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { Server } from "../src/server/server.ts";
import {
  type FaultyTransport,
  parseFaultSpec,
  withFaults,
} from "../src/transport/faulty_transport.ts";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import type { TransportFactory } from "../src/transport/types.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

/** The faults on every transport, both ways. */
const FAULTS = parseFaultSpec("drop=0.1,dup=0.02,reorder=0.02");

/** Lines each client sends: half before the leader stops, half after. */
const LINES = 20;

/**
 * A factory that opens transports at `host` on `net`, wrapped in {@linkcode FAULTS} (seeded with
 * `seed`), and records them in `opened`.
 */
function lossyHost(
  net: MemoryNetwork,
  host: string,
  seed: number,
  opened: FaultyTransport[],
): TransportFactory {
  return (request) => {
    const transport = withFaults(net.open({ ...request, host }), FAULTS, seed);
    opened.push(transport);
    return Promise.resolve(transport);
  };
}

Deno.test("servers and clients chat over a lossy in-memory network through a leader stop", async () => {
  const config = loopbackConfig();
  const net = new MemoryNetwork();
  const opened: FaultyTransport[] = [];
  const servers: Server[] = [];
  const clients: ChatClient[] = [];
  try {
    for (const priority of [1, 2, 3]) {
      servers.push(
        await Server.start({
          config,
          priority,
          id: `s${priority}`,
          transport: lossyHost(net, `10.0.0.${priority}`, priority, opened),
        }),
      );
    }
    const leaders = () => servers.map((s) => s.view().leader);
    await until("all follow s3", () => leaders().every((l) => l === "s3"));
    for (const server of servers) assert.equal(server.status().node.transport, "memory");

    const delivered = new Map<string, { from: string; text: string }[]>();
    for (const [i, user] of ["alice", "bob"].entries()) {
      const client = await ChatClient.connect({
        config: resolveConfig({ chat: { history: 0, clientWaitMs: 5000 } }, config),
        user,
        transport: lossyHost(net, `10.0.1.${i + 1}`, 10 + i, opened),
      });
      clients.push(client);
      const lines: { from: string; text: string }[] = [];
      delivered.set(user, lines);
      client.onEvent((event) => {
        if (event.type === "message") {
          lines.push({ from: event.message.from, text: event.message.text });
        }
      });
    }
    const sendLines = (from: number, to: number) => {
      for (let n = from; n < to; n++) {
        for (const client of clients) client.send(`${client.user} ${n}`);
      }
    };
    const count = (user: string) => delivered.get(user)!.length;

    sendLines(0, LINES / 2);
    await until("some lines delivered", () => count("alice") >= 4 && count("bob") >= 4);
    const leader = servers.pop()!;
    await leader.stop();
    await until("both follow s2", () => leaders().every((l) => l === "s2"));
    sendLines(LINES / 2, LINES);

    const total = LINES * clients.length;
    await until(
      "both clients delivered every line",
      () => count("alice") >= total && count("bob") >= total,
      60_000,
    );
    for (const client of clients) assert.ok(await client.waitAcknowledged(30_000));

    const texts = (user: string) => delivered.get(user)!.map((line) => line.text);
    const expected = clients.flatMap((c) =>
      Array.from({ length: LINES }, (_, n) => `${c.user} ${n}`)
    );
    for (const client of clients) {
      const seen = texts(client.user);
      assert.equal(new Set(seen).size, seen.length, `${client.user} delivered a line twice`);
      assert.deepEqual([...seen].sort(), [...expected].sort(), `${client.user} missed a line`);
      for (const author of clients) {
        const own = delivered.get(client.user)!.filter((line) => line.from === author.user);
        assert.deepEqual(
          own.map((line) => line.text),
          Array.from({ length: LINES }, (_, n) => `${author.user} ${n}`),
          `${client.user} saw ${author.user}'s lines out of the order they were typed`,
        );
      }
    }
    assert.deepEqual(texts("alice"), texts("bob"), "the two clients delivered different orders");

    const dropped = opened.reduce(
      (sum, t) => sum + t.faultStats().in.dropped + t.faultStats().out.dropped,
      0,
    );
    assert.ok(dropped > 0, "the faults dropped nothing");
  } finally {
    for (const client of clients) await client.close();
    for (const server of servers) await server.stop();
  }
});
