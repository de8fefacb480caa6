/**
 * Rooms and direct messages through the real shells (`Server`, `ChatClient`) on an in-memory
 * network: a client shows only its room's lines and the direct messages to or from its user;
 * moves are announced in the room left and the room entered; `/rooms` and `/who` answers come
 * from the client's server; a direct message to a user who is not online is answered; the JSON
 * a script reads names the room, or the recipient.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatClient } from "../src/client/client.ts";
import { type ChatUiEvent, eventToJson } from "../src/client/repl.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { Server } from "../src/server/server.ts";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import type { TransportFactory } from "../src/transport/types.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

function host(net: MemoryNetwork, address: string): TransportFactory {
  return (request) => Promise.resolve(net.open({ ...request, host: address }));
}

Deno.test("rooms and direct messages through the real client and servers", async () => {
  const config = loopbackConfig();
  const net = new MemoryNetwork();
  const servers: Server[] = [];
  const clients = new Map<string, ChatClient>();
  const seen = new Map<string, ChatUiEvent[]>();
  try {
    for (const priority of [1, 2]) {
      servers.push(
        await Server.start({
          config,
          priority,
          id: `s${priority}`,
          transport: host(net, `10.0.0.${priority}`),
        }),
      );
    }
    await until("one leader", () => servers.every((s) => s.view().leader === "s2"));
    for (const [i, [user, room]] of [["alice"], ["bob", "ops"], ["carol"]].entries()) {
      const client = await ChatClient.connect({
        config: resolveConfig({ chat: { history: 0, clientWaitMs: 5000 } }, config),
        user,
        ...(room ? { room } : {}),
        transport: host(net, `10.0.1.${i + 1}`),
      });
      clients.set(user, client);
      const events: ChatUiEvent[] = [];
      seen.set(user, events);
      client.onEvent((event) => events.push(event));
    }
    const alice = clients.get("alice")!;
    const bob = clients.get("bob")!;
    const texts = (user: string) =>
      seen.get(user)!.map((e) =>
        e.type === "message" ? `${e.message.from}: ${e.message.text}` : `-- ${e.text}`
      );
    const shows = (user: string, line: string) => texts(user).includes(line);

    await until("bob is in #ops", () => shows("bob", "-- you are in #ops"));
    alice.send("hello lobby");
    bob.send("hello ops");
    alice.direct("bob", "psst");
    alice.direct("nobody", "anyone?");
    await until(
      "the lines arrived",
      () =>
        shows("carol", "alice: hello lobby") && shows("bob", "alice: psst") &&
        shows("alice", "-- nobody is not online: your direct message was not delivered"),
    );
    assert.ok(!shows("carol", "bob: hello ops"), "carol (lobby) is not shown #ops");
    assert.ok(!shows("bob", "alice: hello lobby"), "bob (#ops) is not shown the lobby");
    assert.ok(shows("alice", "alice: psst"), "the sender sees its direct message");
    assert.ok(!texts("carol").some((t) => t.includes("psst")), "carol is not shown it");

    const roster = await alice.roster();
    assert.deepEqual(roster?.rooms, [{ room: "lobby", users: 2 }, { room: "ops", users: 1 }]);
    assert.deepEqual([roster?.room, roster?.users], ["lobby", ["alice", "carol"]]);

    alice.enter("ops");
    alice.send("in ops now");
    await until(
      "the move is announced on both sides",
      () =>
        shows("carol", "-- alice left #lobby") && shows("bob", "-- alice came to #ops") &&
        shows("bob", "alice: in ops now") && shows("alice", "-- you are in #ops"),
    );
    assert.ok(!shows("carol", "alice: in ops now"), "the lobby is not shown #ops");
    assert.equal(alice.room, "ops");
    assert.deepEqual(alice.history(10).map((m) => m.text).sort(), [
      "hello ops",
      "in ops now",
      "psst",
    ]);
    assert.equal(alice.history(10).at(-1)?.text, "in ops now", "sent after both others arrived");

    const json = seen.get("bob")!.filter((e) => e.type === "message").map((e) =>
      JSON.parse(eventToJson(e))
    );
    assert.deepEqual(
      // bob's "hello ops" and alice's "psst" were sent at once: either may come first.
      json.map(({ type, from, room, to, text }) => ({ type, from, room, to, text }))
        .sort((a, b) => a.text.localeCompare(b.text)),
      [
        { type: "message", from: "bob", room: "ops", to: undefined, text: "hello ops" },
        { type: "message", from: "alice", room: "ops", to: undefined, text: "in ops now" },
        { type: "direct", from: "alice", room: undefined, to: "bob", text: "psst" },
      ],
    );
    // The server's past lines of each user's room: the lobby's one line for carol; #ops and
    // the direct message for bob.
    assert.deepEqual((await clients.get("carol")!.past(5))?.map((m) => m.text), ["hello lobby"]);
    assert.deepEqual(
      (await bob.past(10))?.map((m) => m.text).sort(),
      ["hello ops", "in ops now", "psst"],
    );
  } finally {
    for (const client of clients.values()) await client.close();
    for (const server of servers) await server.stop();
  }
});
