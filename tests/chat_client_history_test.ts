/**
 * What a connected client keeps for `/history` (on loopback, one server): by default the last
 * messages, `keepHistory` of them when given, none for a script (`keepHistory: 0`); and how many
 * past messages it receives first (the config's `chat.history`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatClient } from "../src/client/client.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { Server } from "../src/server/server.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

Deno.test("a client keeps the last messages for /history, as many as asked, or none; a late one receives chat.history past ones", async () => {
  const config = loopbackConfig();
  const server = await Server.start({ config, priority: 1, id: "h1" });
  const clients: ChatClient[] = [];
  try {
    await until("h1 leads", () => server.view().leader === "h1");
    for (const [user, keepHistory] of [["kept", undefined], ["two", 2], ["none", 0]] as const) {
      clients.push(
        await ChatClient.connect({
          config: resolveConfig({ chat: { history: 0, clientWaitMs: 1000 } }, config),
          user,
          keepHistory,
        }),
      );
    }
    const delivered = clients.map(() => 0);
    clients.forEach((client, i) =>
      client.onEvent((event) => {
        if (event.type === "message") delivered[i]++;
      })
    );
    const lines = ["one", "two", "three"];
    for (const line of lines) clients[0].send(line);
    await until("every client delivered the lines", () => delivered.every((n) => n === 3));
    const texts = (client: ChatClient) => client.history(10).map((m) => m.text);
    assert.deepEqual(texts(clients[0]), lines);
    assert.deepEqual(texts(clients[1]), ["two", "three"]);
    assert.deepEqual(texts(clients[2]), []);
    const late = await ChatClient.connect({
      config: resolveConfig({ chat: { history: 2, clientWaitMs: 1000 } }, config),
      user: "late",
    });
    clients.push(late);
    await until("the late client received the last line", () => texts(late).includes("three"));
    assert.deepEqual(texts(late), ["two", "three"], "chat.history past messages, no more");
  } finally {
    for (const client of clients) await client.close();
    await server.stop();
  }
});
