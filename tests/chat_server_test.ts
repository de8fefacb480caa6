/**
 * Guarantees of the chat server core, each on a small hand-driven cluster (`MiniCluster`): the
 * leader sequences, an acknowledgement means every server of the view stored the line, a new
 * leader gathers before it sequences, late servers get the log by state transfer, names are
 * unique, and a full leader pushes back.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatServerCore } from "../src/chat/chat_server_core.ts";
import { defaultChatConfig } from "../src/config/mod.ts";
import { clientSender, MiniCluster, serverSender, threeServers, WALL } from "./sim/chat_harness.ts";

const S1 = serverSender("s1");
const S2 = serverSender("s2");
const S3 = serverSender("s3");
const A = clientSender("a");
const B = clientSender("b");

function acknowledged(cluster: MiniCluster, clientId: string): string[] {
  return cluster.clientActions.get(clientId)!.flatMap((a) =>
    a.type === "notice" && a.notice.kind === "acknowledged" ? [a.notice.id] : []
  );
}

Deno.test("a line is acknowledged only once every server of the view stored it", () => {
  const cluster = threeServers();
  cluster.drop = (d) => d.body.kind === "chat-append" && d.to.host === S2.addr.host;
  cluster.type("a", "hello");
  cluster.advance(1_000);
  assert.deepEqual(acknowledged(cluster, "a"), []);
  assert.deepEqual(cluster.lines("a"), [], "nothing uncommitted is delivered");
  cluster.drop = () => false;
  cluster.advance(500);
  assert.deepEqual(acknowledged(cluster, "a"), [`${"a~1"}/1`]);
  for (const id of ["s1", "s2", "s3"]) {
    assert.ok(cluster.server(id).committed().some((e) => e.text === "hello"), `${id} stored it`);
  }
});

Deno.test("every client delivers the same lines in the same order, each once", () => {
  const cluster = threeServers();
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(100);
  for (let i = 1; i <= 5; i++) {
    cluster.type("a", `a${i}`);
    cluster.type("b", `b${i}`);
  }
  cluster.advance(1_000);
  const lines = cluster.lines("a");
  assert.equal(lines.length, 10);
  assert.deepEqual(cluster.lines("b"), lines);
  assert.deepEqual(
    lines.filter((l) => l.startsWith("alice")),
    [1, 2, 3, 4, 5].map((i) => `alice: a${i}`),
  );
});

Deno.test("a retried or duplicated line never gets a second position", () => {
  const cluster = threeServers();
  cluster.type("a", "once");
  const post = cluster.wire.find((d) => d.body.kind === "chat-post")!;
  cluster.wire.push(post, post);
  cluster.advance(2_000);
  assert.deepEqual(cluster.lines("a"), ["alice: once"]);
  assert.equal(cluster.server("s3").committed().filter((e) => e.text === "once").length, 1);
});

Deno.test("a late joiner receives the last `history` lines before live ones", () => {
  const cluster = threeServers();
  for (let i = 1; i <= 8; i++) cluster.type("a", `line ${i}`);
  cluster.advance(500);
  cluster.addClient(B, "bob", 3);
  cluster.attach("b", "s2");
  cluster.advance(200);
  cluster.type("a", "live");
  cluster.advance(300);
  assert.deepEqual(cluster.lines("b"), [
    "alice: line 6",
    "alice: line 7",
    "alice: line 8",
    "alice: live",
  ]);
});

Deno.test("user names are unique in the cluster; a quit frees the name", () => {
  const cluster = threeServers();
  cluster.addClient(B, "alice");
  cluster.attach("b", "s2");
  cluster.advance(300);
  const refused = cluster.clientActions.get("b")!.find((a) =>
    a.type === "notice" && a.notice.kind === "refused"
  );
  assert.deepEqual(refused, { type: "notice", notice: { kind: "refused", reason: "name-taken" } });
  cluster.quit("a");
  cluster.advance(300);
  cluster.addClient(clientSender("a2"), "alice");
  cluster.attach("a2", "s2");
  cluster.advance(300);
  assert.equal(
    cluster.clientActions.get("a2")!.some((a) =>
      a.type === "notice" && a.notice.kind === "attached"
    ),
    true,
  );
  const presence = cluster.clientActions.get("a2")!.flatMap((a) =>
    a.type === "presence" ? [`${a.user} ${a.change} ${a.detail}`] : []
  );
  assert.deepEqual(presence.slice(-2), ["alice left quit", "alice joined s2"]);
});

Deno.test("a new leader gathers the surviving logs before it sequences anything", () => {
  const cluster = threeServers();
  cluster.type("a", "first");
  cluster.advance(200);
  cluster.drop = (d) => d.body.kind === "chat-append" && d.to.host === S1.addr.host;
  cluster.type("a", "stored on s2 and s3 only");
  cluster.advance(200);
  assert.deepEqual(cluster.lines("a"), ["alice: first"]);
  cluster.crash("s3");
  cluster.drop = (d) => d.body.kind === "chat-gather-reply";
  const before = cluster.server("s1").status().last;
  cluster.setView(["s1", "s2"], "s1", 2);
  cluster.type("a", "typed while s1 gathers");
  cluster.advance(300);
  const gathering = cluster.server("s1").status();
  assert.equal(gathering.role, "gathering");
  assert.equal(gathering.last, before, "nothing new is sequenced while gathering");
  cluster.drop = () => false;
  cluster.advance(1_000);
  assert.deepEqual(cluster.lines("a"), [
    "alice: first",
    "alice: stored on s2 and s3 only",
    "alice: typed while s1 gathers",
  ]);
  const leading = cluster.notices.find((n) => n.notice.type === "leading" && n.server === "s1");
  assert.equal(leading?.notice.type === "leading" && leading.notice.source, "s2");
});

Deno.test("an acknowledged line survives the crash of all servers but one, leader included", () => {
  const cluster = threeServers();
  cluster.type("a", "keep me");
  cluster.advance(300);
  assert.deepEqual(acknowledged(cluster, "a"), ["a~1/1"]);
  cluster.crash("s3");
  cluster.crash("s1");
  cluster.setView(["s2"], "s2", 2);
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(300);
  assert.deepEqual(cluster.lines("b"), ["alice: keep me"]);
});

Deno.test("a server that joins late gets the retained log by state transfer", () => {
  const cluster = threeServers({ logLimit: 5 });
  for (let i = 1; i <= 12; i++) cluster.type("a", `line ${i}`);
  cluster.advance(500);
  const s4 = serverSender("s4");
  cluster.addServer(s4);
  cluster.setView(["s1", "s2", "s3", "s4"], "s3", 1);
  cluster.advance(300);
  const leader = cluster.server("s3").status();
  const late = cluster.server("s4").status();
  assert.ok(leader.first > 1, "the leader trimmed its log");
  assert.deepEqual([late.first, late.last, late.commit], [
    leader.first,
    leader.last,
    leader.commit,
  ]);
  assert.deepEqual(cluster.server("s4").committed(), cluster.server("s3").committed());
  assert.ok(cluster.notices.some((n) => n.server === "s4" && n.notice.type === "log-reset"));
});

Deno.test("a follower takes appends only from the leader its view names, at its term", () => {
  const cluster = threeServers();
  cluster.type("a", "real");
  cluster.advance(300);
  const s2 = cluster.server("s2");
  const before = s2.committed();
  const forged = {
    kind: "chat-append" as const,
    term: 99,
    prev: before.length,
    prevTerm: before.at(-1)!.term,
    commit: before.length + 1,
    majorityCommit: 0,
    reset: false,
    entries: [{ ...before.at(-1)!, seq: before.length + 1, text: "forged" }],
  };
  cluster.wire.push({ from: S1, to: S2.addr, body: forged });
  cluster.settle();
  assert.deepEqual(s2.committed(), before, "s1 is not the leader s2 follows");
  const stale = { ...forged, term: 0 };
  const replies = cluster.sent.length;
  cluster.wire.push({ from: S3, to: S2.addr, body: stale });
  cluster.settle();
  assert.deepEqual(s2.committed(), before, "term 0 is older than the promised one");
  const reply = cluster.sent.slice(replies).find((d) => d.body.kind === "chat-append-reply");
  assert.equal(reply?.body.kind === "chat-append-reply" && reply.body.ok, false);
});

Deno.test("a vanished client is dropped after the client timeout and its name released", () => {
  const cluster = threeServers();
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(300);
  cluster.crashClient("a");
  cluster.advance(cluster.config.clientTimeoutMs + 500);
  assert.ok(
    cluster.notices.some((n) =>
      n.server === "s1" && n.notice.type === "client-left" && n.notice.reason === "timeout"
    ),
  );
  const presence = cluster.clientActions.get("b")!.flatMap((a) =>
    a.type === "presence" ? [`${a.user} ${a.change} ${a.detail}`] : []
  );
  assert.equal(presence.at(-1), "alice left timeout");
  assert.deepEqual([...cluster.server("s2").users().keys()], ["bob"]);
});

Deno.test("a full leader tells clients to slow down, then catches up", () => {
  const cluster = threeServers({ maxUncommitted: 2 });
  cluster.drop = (d) => d.body.kind === "chat-append" && d.to.host === S2.addr.host;
  for (let i = 1; i <= 6; i++) cluster.type("a", `line ${i}`);
  cluster.advance(500);
  assert.ok(
    cluster.clientActions.get("a")!.some((a) =>
      a.type === "notice" && a.notice.kind === "slow-down"
    ),
  );
  assert.ok(cluster.server("s3").status().last - cluster.server("s3").status().commit <= 2);
  cluster.drop = () => false;
  cluster.advance(5_000);
  assert.deepEqual(cluster.lines("a"), [1, 2, 3, 4, 5, 6].map((i) => `alice: line ${i}`));
});

Deno.test("a slow reader holds senders back instead of missing lines", () => {
  const cluster = threeServers({ logLimit: 12, maxReaderLag: 6 });
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(300);
  cluster.drop = (d) =>
    d.to.host === B.addr.host && d.body.kind === "chat-deliver" && d.body.entries.length > 0;
  for (let i = 1; i <= 30; i++) cluster.type("a", `line ${i}`);
  cluster.advance(2_000);
  const reader = cluster.server("s2").clients().find((c) => c.client === "b~1")!.next;
  const leader = cluster.server("s3").status();
  assert.ok(leader.last + 1 - reader <= 6, `last ${leader.last}, bob at ${reader}`);
  assert.ok(leader.first <= reader, "the log still holds everything bob lacks");
  assert.ok(
    cluster.clientActions.get("a")!.some((a) =>
      a.type === "notice" && a.notice.kind === "slow-down"
    ),
  );
  cluster.drop = () => false;
  cluster.advance(5_000);
  const lines = Array.from({ length: 30 }, (_, i) => `alice: line ${i + 1}`);
  assert.deepEqual(cluster.lines("a"), lines);
  assert.deepEqual(cluster.lines("b"), lines, "bob lost nothing");
  assert.ok(
    !cluster.clientActions.get("b")!.some((a) => a.type === "notice" && a.notice.kind === "missed"),
  );
});

Deno.test("entries travel several to a datagram, under the byte budget", () => {
  const cluster = threeServers();
  for (let i = 1; i <= 40; i++) cluster.type("a", `a line of moderate length, number ${i}`);
  cluster.advance(1_000);
  const appends = cluster.bodies("chat-append").filter((b) => b.entries.length > 1);
  assert.ok(appends.length > 0, "some append carries several entries");
  for (const body of [...appends, ...cluster.bodies("chat-deliver")]) {
    const { kind: _, ...fields } = body;
    const bytes = new TextEncoder().encode(JSON.stringify(fields)).length;
    if (body.entries.length > 1) {
      assert.ok(bytes <= cluster.config.batchBodyBytes, `${bytes} bytes`);
    }
  }
  assert.equal(cluster.lines("a").length, 40);
});

Deno.test("a client resumes on another server exactly where it stopped", () => {
  const cluster = threeServers();
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(100);
  for (let i = 1; i <= 3; i++) cluster.type("b", `before ${i}`);
  cluster.advance(300);
  cluster.crash("s1");
  cluster.setView(["s2", "s3"], "s3", 1);
  for (let i = 1; i <= 3; i++) cluster.type("b", `during ${i}`);
  cluster.advance(cluster.config.serverTimeoutMs + 100);
  const need = cluster.clientActions.get("a")!.filter((a) => a.type === "need-server");
  assert.equal(need.length, 2, "one at start, one after s1 fell silent");
  cluster.attach("a", "s3");
  cluster.type("a", "back");
  cluster.advance(500);
  assert.deepEqual(cluster.lines("a"), cluster.lines("b"));
  assert.deepEqual(cluster.lines("a"), [
    "bob: before 1",
    "bob: before 2",
    "bob: before 3",
    "bob: during 1",
    "bob: during 2",
    "bob: during 3",
    "alice: back",
  ]);
});

Deno.test("a state-transferred leader still knows which lines it must not sequence again", () => {
  const cluster = new MiniCluster({ logLimit: 3 });
  for (const s of [S1, S2]) cluster.addServer(s);
  cluster.setView(["s1", "s2"], "s2", 1);
  cluster.addClient(A, "alice");
  cluster.attach("a", "s1");
  cluster.addClient(B, "bob");
  cluster.attach("b", "s2");
  cluster.advance(100);
  cluster.type("a", "old");
  const retry = cluster.wire.find((d) => d.body.kind === "chat-post")!;
  cluster.advance(200);
  for (let i = 1; i <= 6; i++) cluster.type("b", `push ${i}`);
  cluster.advance(300);
  assert.ok(cluster.server("s2").status().first > 3, "'old' left every log window");
  cluster.addServer(S3);
  cluster.setView(["s1", "s2", "s3"], "s3", 2);
  cluster.advance(500);
  assert.equal(cluster.server("s3").status().role, "leading");
  cluster.wire.push(retry);
  cluster.advance(500);
  assert.deepEqual(cluster.lines("b").filter((l) => l === "alice: old"), ["alice: old"]);
  assert.ok(!cluster.server("s3").committed().some((e) => e.text === "old"), "not again");
  assert.ok(cluster.bodies("chat-senders").length > 0, "s3 pulled the last line per client");
});

Deno.test("a deferred receive sends nothing until the flush, which sends it all", () => {
  const core = new ChatServerCore({ self: S1, config: defaultChatConfig() });
  core.step({ type: "start", now: 0, wall: WALL });
  const post = (seq: number) => ({
    type: "receive" as const,
    envelope: {
      cluster: "t",
      sender: A,
      seq,
      ts: WALL,
      body: { kind: "chat-post" as const, acked: 0, items: [{ cseq: seq, text: "x", ts: WALL }] },
    },
    now: seq,
    defer: true,
  });
  assert.deepEqual(core.step(post(1)), []);
  assert.deepEqual(core.step(post(2)), []);
  const refusals = core.step({ type: "flush", now: 3 }).flatMap((a) =>
    a.type === "send" && a.body.kind === "chat-refused" ? [a.body.reason] : []
  );
  assert.deepEqual(refusals, ["unknown-client", "unknown-client"]);
});
