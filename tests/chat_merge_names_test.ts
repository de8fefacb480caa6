/**
 * User names after a partition heals: while split, each side's leader may grant the same name to
 * a different client. After the heal the merged leader keeps the holder it knows (its own log's
 * `join`), the other client is refused `name-taken` and stops (no re-join loop), every line both
 * sent while split is in the merged log exactly once, the presence every client shows ends with
 * one holder per name, and the others keep chatting.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ChatClientAction } from "../src/chat/client_core.ts";
import { refusalMessage } from "../src/client/client.ts";
import { clientSender, fourServers } from "./sim/chat_harness.ts";

/** Who a client believes is present (user → server), from the presence lines it showed. */
function shownPresence(actions: readonly ChatClientAction[]): Map<string, string> {
  const users = new Map<string, string>();
  for (const action of actions) {
    if (action.type !== "presence") continue;
    if (action.change === "joined") users.set(action.user, action.detail);
    else users.delete(action.user);
  }
  return users;
}

/**
 * Servers a, b | c, d; alice on b and bob on c join before the split. While split, "carol" joins
 * on a (left) and on d (right) and both chat; then the LAN heals with `winner` leading.
 */
function sameNameOnBothSides(winner: "a" | "b" | "c" | "d") {
  const { cluster, servers: [a, b, c, d] } = fourServers("nm");
  const all = [a, b, c, d].map((s) => s.id);
  cluster.addClient(clientSender("nm-alice"), "alice");
  cluster.addClient(clientSender("nm-bob"), "bob");
  cluster.attach("nm-alice", b.id);
  cluster.attach("nm-bob", c.id);
  cluster.advance(400);
  cluster.type("nm-alice", "hello");
  cluster.advance(400);
  const left = new Set([
    a.addr.host,
    b.addr.host,
    clientSender("nm-alice").addr.host,
    clientSender("nm-carol-left").addr.host,
  ]);
  cluster.drop = (dg) => left.has(dg.from.addr.host) !== left.has(dg.to.host);
  cluster.setView([a.id, b.id], b.id, 2);
  cluster.setView([c.id, d.id], d.id, 2);
  cluster.advance(400);
  const carols = {
    left: cluster.addClient(clientSender("nm-carol-left"), "carol"),
    right: cluster.addClient(clientSender("nm-carol-right"), "carol"),
  };
  cluster.attach("nm-carol-left", a.id);
  cluster.attach("nm-carol-right", d.id);
  cluster.advance(400);
  assert.equal(carols.left.status().phase, "joined", "each side granted carol");
  assert.equal(carols.right.status().phase, "joined", "each side granted carol");
  for (let i = 1; i <= 3; i++) {
    cluster.type("nm-carol-left", `left ${i}`);
    cluster.type("nm-carol-right", `right ${i}`);
    cluster.advance(200);
  }
  cluster.advance(800);
  assert.equal(carols.left.status().unacknowledged, 0);
  assert.equal(carols.right.status().unacknowledged, 0);
  cluster.drop = () => false;
  const leader = `nm-${winner}`;
  cluster.setView(all, leader, 3);
  cluster.advance(3000);
  return { cluster, all, leader, carols };
}

for (const winner of ["d", "b"] as const) {
  const keeps = winner === "d" ? "right" : "left";
  const loses = winner === "d" ? "left" : "right";
  Deno.test(`after the heal, carol stays with the ${keeps} client (leader nm-${winner}); the ${loses} one is refused`, () => {
    const { cluster, all, leader, carols } = sameNameOnBothSides(winner);
    const holder = `nm-carol-${keeps}`;
    const loser = `nm-carol-${loses}`;

    // Exactly one client holds the name; the other was told "name-taken" and stopped.
    assert.equal(carols[keeps].status().phase, "joined");
    assert.equal(carols[loses].status().phase, "refused");
    const refusals = cluster.clientActions.get(loser)!.filter((a) =>
      a.type === "notice" && a.notice.kind === "refused"
    );
    assert.deepEqual(refusals.map((a) => a.type === "notice" && a.notice), [
      { kind: "refused", reason: "name-taken" },
    ]);
    assert.ok(
      !cluster.clientActions.get(holder)!.some((a) =>
        a.type === "notice" && a.notice.kind === "refused"
      ),
    );
    for (const id of all) {
      const carol = cluster.server(id).users().get("carol");
      assert.equal(carol?.client, `${holder}~1`, `${id} knows the holder`);
    }

    // Every line both carols sent is in the one merged log exactly once.
    const logs = all.map((id) =>
      cluster.server(id).committed().map((e) => `${e.kind} ${e.client} ${e.text}`).join("\n")
    );
    for (const log of logs) assert.equal(log, logs[0], "every server holds the merged log");
    const texts = cluster.server(leader).committed().filter((e) => e.kind === "text").map((e) =>
      e.text
    );
    for (const side of ["left", "right"]) {
      for (let i = 1; i <= 3; i++) {
        const n = texts.filter((t) => t === `${side} ${i}`).length;
        assert.equal(n, 1, `"${side} ${i}" is in the merged log ${n} times`);
      }
    }

    // The refused client stops: no re-join loop, nothing sent from now on.
    const sentBy = (id: string) => cluster.sent.filter((dg) => dg.from.id === id).length;
    const before = sentBy(loser);
    cluster.type(loser, "too late");
    cluster.advance(5000);
    assert.equal(sentBy(loser), before, "the refused client sends nothing more");

    // The others keep chatting, and every client shows one holder per name.
    cluster.type("nm-alice", "after alice");
    cluster.type("nm-bob", "after bob");
    cluster.type(holder, "after carol");
    cluster.advance(1000);
    const after = ["alice: after alice", "bob: after bob", "carol: after carol"];
    for (const id of ["nm-alice", "nm-bob", holder]) {
      const lines = cluster.lines(id);
      assert.equal(new Set(lines).size, lines.length, `${id} delivered a line twice`);
      for (const line of after) assert.ok(lines.includes(line), `${id} lacks "${line}"`);
      for (const side of ["left", "right"]) {
        for (let i = 1; i <= 3; i++) assert.ok(lines.includes(`carol: ${side} ${i}`), id);
      }
      assert.deepEqual(
        Object.fromEntries(shownPresence(cluster.clientActions.get(id)!)),
        { alice: "nm-b", bob: "nm-c", carol: winner === "d" ? "nm-d" : "nm-a" },
        `${id} shows who is present`,
      );
    }
    assert.ok(!cluster.lines(loser).some((line) => line.startsWith("alice: after")));
  });
}

Deno.test("a name lost after joining is explained, not reported as taken at join", () => {
  const base = { joined: false, split: false, unsent: 0 };
  assert.equal(refusalMessage("carol", "name-taken", base), "the user name carol is already taken");
  assert.equal(
    refusalMessage("carol", "name-taken", { ...base, joined: true, split: true }),
    "the user name carol is now held by a user on the other side of the healed split; " +
      "this client stops (your acknowledged messages are kept)",
  );
  assert.match(
    refusalMessage("carol", "name-taken", { joined: true, split: false, unsent: 2 }),
    /another user while this client was cut off;.*2 unacknowledged messages were not sent/,
  );
  assert.equal(refusalMessage("carol", "full", { ...base, joined: true }), "the server is full");
});
