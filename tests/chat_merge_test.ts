/**
 * Guarantees of the merge after a partition: the fork point of two logs is found from
 * run starts even when both sides used the same chat term; after the heal the one leader merges
 * both sides' lines into one log that every server adopts; every client ends with the same set of
 * lines, each once (a client of the side whose log was renumbered skips what it delivered); and
 * the clients are told of the split and of the heal.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { SplitView } from "../src/membership/events.ts";
import { ChatLog } from "../src/chat/log.ts";
import type { ChatEntry } from "../src/wire/messages.ts";
import { defaultChatConfig } from "../src/config/mod.ts";
import {
  clientSender,
  fourServers,
  MiniCluster,
  serverSender,
  viewOf,
} from "./sim/chat_harness.ts";

function entry(seq: number, term: number, client: string, cseq = seq): ChatEntry {
  return { seq, term, kind: "text", client, cseq, from: "u", text: `${client}:${cseq}`, ts: 0 };
}

function logOf(entries: ChatEntry[]): ChatLog {
  const log = new ChatLog();
  for (const e of entries) log.append(e);
  return log;
}

Deno.test("the fork point is where two logs stop agreeing, even when both sides share a term", () => {
  const common = [entry(1, 1, "a~1"), entry(2, 1, "a~1")];
  const left = logOf([...common, entry(3, 2, "b~1", 1), entry(4, 2, "b~1", 2)]);
  const right = logOf([...common, entry(3, 2, "c~1", 1)]);
  assert.equal(left.forkPoint(right.runs(32), right.last), 2, "term 2 on both sides, other lines");
  assert.equal(left.forkPoint(logOf(common).runs(32), 2), 2, "a prefix agrees up to its last");
  const longer = logOf([...left.range(1, 4), entry(5, 3, "d~1")]);
  assert.equal(left.forkPoint(longer.runs(32), longer.last), 4, "a longer log extends this one");
});

Deno.test("a fork below every kept entry is unknown, not guessed", () => {
  const left = logOf([entry(1, 1, "a~1"), entry(2, 2, "b~1")]);
  const right = new ChatLog();
  right.reset(10, 5);
  right.append(entry(11, 5, "c~1"));
  assert.equal(left.forkPoint(right.runs(32), right.last), undefined);
});

/**
 * Four servers, one client on each side; the LAN splits a|b and c|d, the left client types
 * `leftLines` lines and the right one `rightLines` (the winner, d, is on the right).
 */
function partitionedCluster(prefix = "m", leftLines = 3, rightLines = 3) {
  const { cluster, servers: [a, b, c, d] } = fourServers(prefix);
  const all = [a, b, c, d].map((s) => s.id);
  const [leftClient, rightClient] = [`${prefix}-left`, `${prefix}-right`];
  cluster.addClient(clientSender(leftClient), "left");
  cluster.addClient(clientSender(rightClient), "right");
  cluster.attach(leftClient, a.id);
  cluster.attach(rightClient, d.id);
  cluster.advance(400);
  cluster.type(leftClient, "before");
  cluster.advance(400);
  const left = new Set([a.addr.host, b.addr.host, clientSender(leftClient).addr.host]);
  cluster.drop = (dg) => left.has(dg.from.addr.host) !== left.has(dg.to.host);
  cluster.setView([a.id, b.id], b.id, 2);
  cluster.setView([c.id, d.id], d.id, 2);
  cluster.advance(400);
  for (let i = 1; i <= Math.max(leftLines, rightLines); i++) {
    if (i <= leftLines) cluster.type(leftClient, `left ${i}`);
    if (i <= rightLines) cluster.type(rightClient, `right ${i}`);
    cluster.advance(200);
  }
  cluster.advance(800);
  return { cluster, all, winner: d.id };
}

Deno.test("both sides of a partition acknowledge their lines while split", () => {
  const { cluster } = partitionedCluster();
  assert.deepEqual(cluster.lines("m-left"), [
    "left: before",
    "left: left 1",
    "left: left 2",
    "left: left 3",
  ]);
  assert.deepEqual(cluster.lines("m-right"), [
    "left: before",
    "right: right 1",
    "right: right 2",
    "right: right 3",
  ]);
});

Deno.test("after the heal every server holds one merged log and every client every line once", () => {
  const { cluster, all, winner } = partitionedCluster();
  cluster.drop = () => false;
  cluster.setView(all, winner, 3);
  cluster.advance(3000);
  const expected = [
    "left: before",
    "left: left 1",
    "left: left 2",
    "left: left 3",
    "right: right 1",
    "right: right 2",
    "right: right 3",
  ];
  for (const client of ["m-left", "m-right"]) {
    const lines = cluster.lines(client);
    assert.equal(new Set(lines).size, lines.length, `${client} delivered a line twice: ${lines}`);
    assert.deepEqual([...lines].sort(), expected, client);
  }
  const logs = all.map((id) =>
    cluster.server(id).committed().map((e) => `${e.kind} ${e.from}: ${e.text}`).join("\n")
  );
  for (const log of logs) assert.equal(log, logs[0]);
  const texts = cluster.server(winner).committed().filter((e) => e.kind === "text").map((e) =>
    e.text
  );
  assert.deepEqual(texts, [
    "before",
    "right 1",
    "right 2",
    "right 3",
    "left 1",
    "left 2",
    "left 3",
  ]);
  assert.ok(cluster.notices.some((n) => n.notice.type === "merged" && n.notice.appended === 3));
  assert.ok(cluster.notices.some((n) => n.notice.type === "adopted"));
});

Deno.test("a client is told of a split, of a server lost alone (unreachable), and of the heal", () => {
  const cluster = new MiniCluster();
  const s = serverSender("m-split");
  const core = cluster.addServer(s);
  cluster.setView([s.id], s.id, 1);
  cluster.addClient(clientSender("m-split-c"), "watcher");
  cluster.attach("m-split-c", s.id);
  cluster.advance(300);
  const missing = (...ids: string[]) =>
    ids.map((id, i) => ({
      id,
      addr: { host: `10.9.0.${i + 1}`, port: 7401 },
      lostAt: 350,
      crashed: false,
    }));
  const view = (split?: SplitView) => ({
    view: 2,
    members: [],
    leader: s.id,
    term: 1,
    ...(split ? { split } : {}),
  });
  const cut = { servers: 2, of: 4, majority: false, partition: true, missing: missing("c", "d") };
  core.step({ type: "membership", view: view(cut), now: 400 });
  cluster.advance(300);
  core.step({ type: "membership", view: view(), now: 800 });
  cluster.advance(300);
  const lost = { servers: 3, of: 4, majority: true, partition: false, missing: missing("d") };
  core.step({ type: "membership", view: view(lost), now: 1_200 });
  cluster.advance(300);
  const notices = cluster.clientActions.get("m-split-c")!.flatMap((a) =>
    a.type === "notice" && (a.notice.kind === "split" || a.notice.kind === "healed")
      ? [a.notice]
      : []
  );
  assert.deepEqual(notices, [
    { kind: "split", servers: 2, of: 4, majority: false, partition: true, missing: ["c", "d"] },
    { kind: "healed" },
    { kind: "split", servers: 3, of: 4, majority: true, partition: false, missing: ["d"] },
  ]);
});

Deno.test("while split, a client from the other side whose history differs waits up to anchorWaitMs for the merge before it is re-anchored", () => {
  const { cluster } = partitionedCluster();
  const [c, d] = ["m-c", "m-d"].map((id) => serverSender(id));
  const missing = ["m-a", "m-b"].map((id, i) => ({
    id,
    addr: { host: `10.9.1.${i + 1}`, port: 7401 },
    lostAt: 0,
    crashed: false,
  }));
  const split = { servers: 2, of: 4, majority: false, partition: true, missing };
  for (const s of [c, d]) {
    const view = { ...viewOf(s, [s === c ? d : c], d.id, 2), split };
    cluster.server(s.id).step({ type: "membership", view, now: cluster.now });
  }
  const servers = new Set(["m-a", "m-b", "m-c", "m-d"].map((id) => serverSender(id).addr.host));
  const left = new Set([serverSender("m-a").addr.host, serverSender("m-b").addr.host]);
  cluster.drop = (dg) =>
    servers.has(dg.from.addr.host) && servers.has(dg.to.host) &&
    left.has(dg.from.addr.host) !== left.has(dg.to.host);
  const rewound = () =>
    cluster.clientActions.get("m-left")!.some((a) =>
      a.type === "notice" && a.notice.kind === "rewound"
    );
  cluster.attach("m-left", d.id);
  cluster.advance(defaultChatConfig().anchorWaitMs / 2);
  assert.ok(!rewound(), "re-anchored on the other side's log while the merge may still come");
  cluster.advance(defaultChatConfig().anchorWaitMs);
  assert.ok(rewound(), "still waiting after anchorWaitMs: a client that crossed would never chat");
});

Deno.test("after an even split, the side that committed more keeps its positions, even without the healed leader", () => {
  const { cluster, all, winner } = partitionedCluster("e", 4, 2);
  cluster.drop = () => false;
  cluster.setView(all, winner, 3);
  cluster.advance(3000);
  const texts = cluster.server(winner).committed().filter((e) => e.kind === "text").map((e) =>
    e.text
  );
  assert.deepEqual(texts, ["before", "left 1", "left 2", "left 3", "left 4", "right 1", "right 2"]);
  const rewound = (id: string) =>
    cluster.clientActions.get(id)!.some((x) => x.type === "notice" && x.notice.kind === "rewound");
  assert.ok(!rewound("e-left"), "the side that committed more was re-anchored");
  assert.ok(rewound("e-right"), "the other side was not told its lines moved");
});
