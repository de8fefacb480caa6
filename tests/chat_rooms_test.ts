/**
 * Rooms and direct messages on a small hand-driven cluster (`MiniCluster`): lines carry their
 * room and every server agrees who is where; a direct message reaches its two users only — in
 * the leader's stream and in deliveries to anyone else its text is gone; a direct message to a
 * user who is not online, or a room beyond `maxRooms`, comes back to its sender as a bounce;
 * `--history` counts the lines of the client's room.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ChatClientAction } from "../src/chat/client_core.ts";
import type { ChatEntry } from "../src/wire/messages.ts";
import {
  clientSender,
  type MiniCluster,
  streamingServers,
  threeServers,
} from "./sim/chat_harness.ts";

/** The messages a client delivered, as `room|kind from: text` (`>to` for direct ones). */
function shown(cluster: MiniCluster, id: string): string[] {
  return cluster.clientActions.get(id)!.flatMap((a) =>
    a.type === "deliver"
      ? [
        `${a.message.kind === "direct" ? `>${a.message.to}` : a.message.room}|${a.message.kind} ` +
        `${a.message.from}: ${a.message.text}`,
      ]
      : []
  );
}

/** Actions of one type a client's core returned. */
function actions<T extends ChatClientAction["type"]>(
  cluster: MiniCluster,
  id: string,
  type: T,
): Extract<ChatClientAction, { type: T }>[] {
  return cluster.clientActions.get(id)!.filter((a): a is Extract<ChatClientAction, { type: T }> =>
    a.type === type
  );
}

/** Every entry any datagram carried to client `id` (deliveries and stream batches). */
function entriesTo(cluster: MiniCluster, host: string): ChatEntry[] {
  return cluster.sent.flatMap((d) =>
    d.to.host === host && (d.body.kind === "chat-deliver" || d.body.kind === "chat-stream")
      ? d.body.entries
      : []
  );
}

/**
 * Three users on three servers: alice@s1, bob@s2, carol@s3, taking the leader's stream unless
 * `stream` is false (then their servers send them everything).
 */
function threeUsers(stream = true): MiniCluster {
  const cluster = streamingServers({ streamToClients: stream });
  cluster.addClient(clientSender("c"), "carol");
  cluster.attach("c", "s3");
  cluster.advance(200);
  return cluster;
}

Deno.test("rooms: lines carry their room, moves are ordered with them, every server agrees who is where", () => {
  const cluster = threeUsers();
  cluster.type("a", "", { line: "enter", room: "ops" });
  cluster.type("a", "deploy at 5", { room: "ops" });
  cluster.type("a", "waves", { line: "action", room: "ops" });
  cluster.type("b", "lunch?");
  cluster.advance(300);
  for (const id of ["a", "b", "c"]) {
    assert.deepEqual(shown(cluster, id).slice(-3), [
      "ops|text alice: deploy at 5",
      "ops|action alice: waves",
      "lobby|text bob: lunch?",
    ], id);
    const moves = actions(cluster, id, "moved");
    assert.deepEqual(
      moves.map((m) => [m.user, m.from, m.room, m.own]),
      [["alice", "lobby", "ops", id === "a"]],
      `${id} saw alice move once, from the lobby (the leader's word)`,
    );
  }
  for (const id of ["s1", "s2", "s3"]) {
    const rooms = Object.fromEntries(cluster.server(id).rooms());
    assert.deepEqual(rooms, { alice: "ops", bob: "lobby", carol: "lobby" }, id);
  }
});

Deno.test("rooms: /rooms and /who are answered by the client's server from its committed log", () => {
  const cluster = threeUsers();
  cluster.type("a", "", { line: "enter", room: "ops" });
  cluster.type("c", "", { line: "enter", room: "ops" });
  cluster.advance(300);
  cluster.ask("b", "ops");
  cluster.advance(100);
  const [answer] = actions(cluster, "b", "roster");
  assert.ok(answer, "bob got an answer");
  assert.deepEqual(answer.roster.rooms, [{ room: "ops", users: 2 }, { room: "lobby", users: 1 }]);
  assert.equal(answer.roster.roomCount, 2);
  assert.deepEqual([answer.roster.room, answer.roster.users, answer.roster.total], [
    "ops",
    ["alice", "carol"],
    2,
  ]);
});

for (const streaming of [true, false]) {
  const how = streaming ? "taking the stream" : "served by their servers";
  Deno.test(`direct messages (${how}): shown to their two users once, never to a third`, () => {
    const cluster = threeUsers(streaming);
    cluster.type("a", "the password is swordfish", { line: "direct", to: "bob" });
    cluster.type("a", "after");
    cluster.advance(500);
    const dm = ">bob|direct alice: the password is swordfish";
    assert.equal(shown(cluster, "a").filter((l) => l === dm).length, 1, "alice sees it once");
    assert.equal(shown(cluster, "b").filter((l) => l === dm).length, 1, "bob sees it once");
    assert.ok(!shown(cluster, "c").some((l) => l.includes("swordfish")), "carol is not shown it");
    assert.deepEqual(shown(cluster, "c").slice(-1), ["lobby|text alice: after"]);
    const secret = (e: ChatEntry) => e.text.includes("swordfish");
    assert.ok(
      !entriesTo(cluster, clientSender("c").addr.host).some(secret),
      "no datagram to carol carries it",
    );
    const batches = cluster.sent.flatMap((d) => d.body.kind === "chat-stream" ? [d.body] : []);
    assert.ok(!batches.some((b) => b.entries.some(secret)), "the stream never carries it");
    assert.equal(
      batches.some((b) => b.entries.some((e) => e.kind === "direct" && e.text === "")),
      streaming,
      "the stream carries its position without text (when there is a stream)",
    );
    assert.deepEqual(shown(cluster, "a"), shown(cluster, "b"), "alice and bob agree on the order");
  });
}

Deno.test("direct messages: one to a user who is not online bounces to its sender, with nothing kept", () => {
  const cluster = threeUsers();
  cluster.type("a", "are you there?", { line: "direct", to: "dave" });
  cluster.advance(300);
  const [bounce] = actions(cluster, "a", "bounced");
  assert.deepEqual([bounce?.reason, bounce?.to], ["offline", "dave"]);
  assert.equal(cluster.client("a").status().unacknowledged, 0, "the line counts as delivered");
  for (const id of ["b", "c"]) assert.deepEqual(actions(cluster, id, "bounced"), [], id);
  const entries = cluster.server("s1").committed();
  assert.ok(!entries.some((e) => e.text.includes("there?")), "no server keeps the text");
});

Deno.test("rooms: a room beyond maxRooms bounces; moving to a room in use does not", () => {
  const cluster = threeServers({ maxRooms: 2 });
  cluster.addClient(clientSender("b"), "bob");
  cluster.attach("b", "s2");
  cluster.advance(200);
  cluster.type("a", "", { line: "enter", room: "ops" });
  cluster.advance(200);
  cluster.type("b", "", { line: "enter", room: "dev" });
  cluster.advance(200);
  const [bounce] = actions(cluster, "b", "bounced");
  assert.deepEqual([bounce?.reason, bounce?.room], ["rooms-full", "dev"]);
  cluster.type("b", "", { line: "enter", room: "ops" });
  cluster.advance(200);
  assert.equal(actions(cluster, "b", "bounced").length, 1, "ops is in use: no new room");
  assert.equal(cluster.server("s2").rooms().get("bob"), "ops");
});

Deno.test("rooms: --history counts the lines of the client's room", () => {
  const cluster = threeServers();
  cluster.type("a", "", { line: "enter", room: "ops" });
  for (let i = 1; i <= 3; i++) cluster.type("a", `ops ${i}`, { room: "ops" });
  for (let i = 1; i <= 5; i++) cluster.type("a", `lobby ${i}`);
  cluster.advance(300);
  cluster.addClient(clientSender("d"), "dave", 2, "ops");
  cluster.attach("d", "s2");
  cluster.advance(300);
  const ops = shown(cluster, "d").filter((l) => l.startsWith("ops|"));
  assert.deepEqual(ops, ["ops|text alice: ops 2", "ops|text alice: ops 3"]);
});

Deno.test("/history from the server: a room's older lines, page by page, a direct message only to its users", () => {
  const cluster = threeUsers();
  cluster.type("a", "", { line: "enter", room: "ops" });
  for (let i = 1; i <= 6; i++) cluster.type("a", `ops ${i}`, { room: "ops" });
  cluster.type("b", "lobby line");
  cluster.type("a", "to bob only", { line: "direct", to: "bob" });
  cluster.advance(300);
  cluster.askPast("c", "ops", 0, 4);
  cluster.advance(100);
  const [first] = actions(cluster, "c", "past");
  assert.deepEqual(first.page.entries.map((e) => e.text), ["ops 3", "ops 4", "ops 5", "ops 6"]);
  assert.equal(first.page.more, true);
  cluster.askPast("c", "ops", first.page.entries[0].seq, 4);
  cluster.advance(100);
  const second = actions(cluster, "c", "past")[1];
  assert.deepEqual(second.page.entries.map((e) => e.text), ["ops 1", "ops 2"]);
  cluster.askPast("b", "lobby", 0, 10);
  cluster.askPast("c", "lobby", 0, 10);
  cluster.advance(100);
  const texts = (id: string) =>
    actions(cluster, id, "past").at(-1)!.page.entries.map((e) => e.text);
  assert.ok(texts("b").includes("to bob only"), "bob's past holds the direct message to him");
  assert.ok(!texts("c").some((t) => t.includes("bob only")), "carol's does not");
  assert.ok(texts("c").includes("lobby line") && !texts("c").includes("ops 1"), "the lobby only");
});
