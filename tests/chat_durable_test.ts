/**
 * The chat core of a persistent server (`persist`): every change of its log leaves as a `persist`
 * action, a line is acknowledged only once every server of the view flushed it to its disk (the
 * leader counting itself only for what it flushed), and servers restarted from what their disks
 * hold (`replayJournal`) come back with the history.
 *
 * @module
 */

import assert from "node:assert/strict";
import { replayJournal } from "../src/chat/journal.ts";
import { clientSender, MiniCluster, serverSender } from "./sim/chat_harness.ts";

const IDS = ["s1", "s2", "s3"];

/** Three persistent servers led by s3, client `a` (alice) on s1. */
function persistentCluster(): MiniCluster {
  const cluster = new MiniCluster();
  for (const id of IDS) cluster.addServer(serverSender(id), { persist: true });
  cluster.setView(IDS, "s3", 1);
  cluster.settle();
  cluster.addClient(clientSender("a"), "alice");
  cluster.attach("a", "s1");
  cluster.advance(200);
  return cluster;
}

function acknowledged(cluster: MiniCluster, clientId: string): string[] {
  return cluster.clientActions.get(clientId)!.flatMap((a) =>
    a.type === "notice" && a.notice.kind === "acknowledged" ? [a.notice.id] : []
  );
}

for (const slow of ["s2", "s3"]) {
  Deno.test(`a line is acknowledged only once ${slow} (${slow === "s3" ? "the leader" : "a follower"}) flushed it too`, () => {
    const cluster = persistentCluster();
    cluster.disks.get(slow)!.hold = true;
    cluster.type("a", "hello");
    cluster.advance(2_000);
    assert.deepEqual(acknowledged(cluster, "a"), [], "not acknowledged before the flush");
    assert.equal(cluster.server("s1").committed().some((e) => e.text === "hello"), false);
    const stored = cluster.disks.get(slow)!.unflushed.flatMap((b) => b.ops);
    assert.ok(stored.some((op) => op.op === "entry" && op.entry.text === "hello"), "written");
    cluster.disks.get(slow)!.hold = false;
    cluster.advance(500);
    assert.deepEqual(acknowledged(cluster, "a"), ["a~1/1"]);
  });
}

Deno.test("one flush acknowledges every line that arrived while the disk was busy", () => {
  const cluster = persistentCluster();
  const disk = cluster.disks.get("s2")!;
  disk.hold = true;
  for (let i = 1; i <= 20; i++) cluster.type("a", `line ${i}`);
  cluster.advance(1_000);
  assert.deepEqual(acknowledged(cluster, "a"), []);
  cluster.flushDisk("s2");
  cluster.advance(100);
  assert.equal(acknowledged(cluster, "a").length, 20);
});

Deno.test("servers restarted from their disks come back with the whole history", () => {
  const cluster = persistentCluster();
  for (let i = 1; i <= 30; i++) cluster.type("a", `line ${i}`);
  cluster.advance(2_000);
  assert.equal(acknowledged(cluster, "a").length, 30);
  const restarted = new MiniCluster();
  for (const id of IDS) {
    const restored = replayJournal(cluster.disks.get(id)!.flushed);
    assert.equal(restored.entries.filter((e) => e.kind === "text").length, 30, `${id}'s disk`);
    restarted.addServer(serverSender(id, 2), { persist: true, restored });
  }
  restarted.setView(IDS, "s3", 1);
  restarted.advance(500);
  restarted.addClient(clientSender("b"), "bob", 1_000);
  restarted.attach("b", "s2");
  restarted.advance(1_000);
  const history = restarted.lines("b").filter((line) => line.startsWith("alice:"));
  assert.deepEqual(history, Array.from({ length: 30 }, (_, i) => `alice: line ${i + 1}`));
});

Deno.test("a follower restarted from its disk while the leader goes on catches up and acknowledges again", () => {
  const cluster = persistentCluster();
  for (let i = 1; i <= 5; i++) cluster.type("a", `before ${i}`);
  cluster.advance(1_000);
  const disk = replayJournal(cluster.disks.get("s2")!.flushed);
  cluster.crash("s2");
  cluster.disks.delete("s2");
  cluster.setView(["s1", "s3"], "s3", 1);
  for (let i = 1; i <= 5; i++) cluster.type("a", `while down ${i}`);
  cluster.advance(1_000);
  cluster.addServer(serverSender("s2", 2), { persist: true, restored: disk });
  cluster.setView(IDS, "s3", 1);
  for (let i = 1; i <= 5; i++) cluster.type("a", `after ${i}`);
  cluster.advance(3_000);
  assert.equal(acknowledged(cluster, "a").length, 15);
  const texts = (id: string) =>
    cluster.server(id).committed().filter((e) => e.kind === "text").map((e) => e.text);
  assert.deepEqual(texts("s2"), texts("s3"), "the restarted follower holds the leader's log");
  assert.equal(texts("s2").length, 15);
  const onDisk = replayJournal(cluster.disks.get("s2")!.flushed).entries;
  assert.ok(onDisk.some((e) => e.text === "while down 3"), "what it missed is on its disk too");
});
