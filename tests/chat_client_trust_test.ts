/**
 * Whom a chat client believes: it takes server datagrams only from the server it is attached
 * to (id and incarnation) and for its current attachment number, and the leader's stream only
 * from the leader that server names; everything else is ignored and counted. Servers name their
 * leader in welcomes and deliveries and put the client's attachment number on every datagram to
 * it. Driven on the hand-driven `MiniCluster` with datagrams pushed onto its wire.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig } from "../src/config/mod.ts";
import { type ChatClientAction, ChatClientCore } from "../src/chat/client_core.ts";
import { entryMark } from "../src/chat/log.ts";
import type { Body, ChatEntry, Sender } from "../src/wire/messages.ts";
import {
  clientSender,
  type MiniCluster,
  serverSender,
  streamingServers,
  threeServers,
} from "./sim/chat_harness.ts";

const S1 = serverSender("s1");
const S2 = serverSender("s2");
const S3 = serverSender("s3");
const A = clientSender("a");
/** s1's id in another incarnation (a restarted s1, or one posing as it). */
const S1_AGAIN = serverSender("s1", 2);
/** s3's (the leader's) id in another incarnation. */
const S3_AGAIN = serverSender("s3", 2);
/** A server that is no member at all. */
const OUTSIDER = serverSender("zz");

/** Pushes `body` from `from` to alice and runs the cluster until it is quiet. */
function toAlice(cluster: MiniCluster, from: Sender, body: Body): void {
  cluster.wire.push({ from, to: A.addr, body });
  cluster.settle();
}

/** Alice's attachment number: the one of her last join. */
function aliceGen(cluster: MiniCluster): number {
  const joins = cluster.sent.filter((d) => d.from.id === "a" && d.body.kind === "chat-join");
  const body = joins.at(-1)!.body;
  assert.ok(body.kind === "chat-join");
  return body.gen;
}

/** A stream batch that continues exactly what alice delivered last. */
function continuation(cluster: MiniCluster, text: string): Body {
  const last = cluster.server("s1").committed().at(-1)!;
  const forged: ChatEntry = {
    ...last,
    seq: last.seq + 1,
    client: "x~1",
    cseq: 1,
    from: "mallory",
    text,
  };
  return { kind: "chat-stream", prevTerm: last.term, prevMark: entryMark(last), entries: [forged] };
}

Deno.test("a stream batch is taken only from the leader the client's server names, by id and incarnation", () => {
  const cluster = streamingServers();
  assert.ok(cluster.client("a").status().streaming, "alice takes s3's stream");
  const before = cluster.lines("a").length;
  for (const sender of [S2, S3_AGAIN, OUTSIDER]) {
    toAlice(cluster, sender, continuation(cluster, `forged by ${sender.id}`));
  }
  assert.equal(cluster.lines("a").length, before, "nothing delivered");
  assert.equal(cluster.client("a").status().ignored["not-my-leader"], 3);
  toAlice(cluster, S3, continuation(cluster, "from the leader"));
  assert.deepEqual(cluster.lines("a").slice(before), ["mallory: from the leader"]);
});

Deno.test("a client follows the leader its server names: after a change the old leader's stream is ignored", () => {
  const cluster = streamingServers();
  cluster.setView(["s1", "s2", "s3"], "s2", 2);
  cluster.advance(300);
  const named =
    cluster.sent.filter((d) => d.to.host === A.addr.host && d.body.kind === "chat-deliver").at(-1)!
      .body;
  assert.ok(named.kind === "chat-deliver");
  assert.deepEqual([named.leader, named.leaderIncarnation], ["s2", 1], "s1 names s2 at once");
  const before = cluster.lines("a").length;
  toAlice(cluster, S3, continuation(cluster, "old leader"));
  assert.equal(cluster.lines("a").length, before);
  assert.equal(cluster.client("a").status().ignored["not-my-leader"], 1);
  cluster.type("b", "after the change");
  cluster.advance(500);
  assert.deepEqual(cluster.lines("a").slice(before), ["bob: after the change"]);
});

Deno.test("without the stream (an open cluster) no stream batch is taken, even from the named leader", () => {
  const cluster = threeServers({ streamToClients: false });
  cluster.type("a", "one");
  cluster.advance(200);
  const before = cluster.lines("a").length;
  toAlice(cluster, S3, continuation(cluster, "streamed"));
  assert.equal(cluster.lines("a").length, before);
  assert.equal(cluster.client("a").status().ignored["not-my-leader"], 1);
});

Deno.test("a refusal ends a client only from its own server (id and incarnation) and for its attachment", () => {
  const cluster = threeServers();
  const gen = aliceGen(cluster);
  const refusal = (g: number): Body => ({ kind: "chat-refused", reason: "name-taken", gen: g });
  toAlice(cluster, S2, refusal(gen));
  toAlice(cluster, S1_AGAIN, refusal(gen));
  toAlice(cluster, OUTSIDER, refusal(gen));
  for (const other of [0, gen - 1, gen + 1]) toAlice(cluster, S1, refusal(other));
  const status = cluster.client("a").status();
  assert.equal(status.phase, "joined");
  assert.deepEqual(status.ignored, {
    "not-my-server": 3,
    "other-attachment": 3,
    "not-my-leader": 0,
  });
  cluster.type("a", "still here");
  cluster.advance(300);
  assert.equal(cluster.lines("a").at(-1), "alice: still here");
  toAlice(cluster, S1, refusal(gen));
  assert.equal(cluster.client("a").status().phase, "refused", "its own server's refusal ends it");
});

Deno.test("'unknown client' makes a joined client join again only when it names no other attachment", () => {
  const cluster = threeServers();
  const gen = aliceGen(cluster);
  toAlice(cluster, S1, { kind: "chat-refused", reason: "unknown-client", gen: gen + 5 });
  assert.equal(aliceGen(cluster), gen, "ignored: it names another attachment");
  toAlice(cluster, S2, { kind: "chat-refused", reason: "unknown-client", gen: 0 });
  assert.equal(aliceGen(cluster), gen, "ignored: not its server");
  toAlice(cluster, S1, { kind: "chat-refused", reason: "unknown-client", gen: 0 });
  assert.equal(aliceGen(cluster), gen + 1, "joined again");
  assert.equal(cluster.client("a").status().phase, "joined");
});

Deno.test("notices and deliveries from another sender or for another attachment change nothing", () => {
  const cluster = threeServers();
  cluster.type("a", "one");
  cluster.advance(200);
  const gen = aliceGen(cluster);
  const { next, window } = cluster.client("a").status();
  const last = cluster.server("s1").committed().at(-1)!;
  const entry: ChatEntry = { ...last, seq: next, client: "x~1", cseq: 1, text: "forged" };
  const bodies = (g: number): Body[] => [
    { kind: "chat-missed", from: next, to: next + 10, gen: g },
    { kind: "chat-slow", gen: g },
    { kind: "chat-split", split: true, servers: 1, of: 3, majority: false, gen: g },
    {
      kind: "chat-deliver",
      commit: next,
      acked: 0,
      gen: g,
      entries: [entry],
      leader: "zz",
      leaderIncarnation: 1,
    },
  ];
  for (const [from, g] of [[S2, gen], [S1_AGAIN, gen], [S1, gen + 1]] as const) {
    for (const body of bodies(g)) toAlice(cluster, from, body);
  }
  const status = cluster.client("a").status();
  assert.deepEqual([status.next, status.window], [next, window]);
  const shown = (cluster.clientActions.get("a") ?? []).filter((a: ChatClientAction) =>
    a.type === "notice" && ["missed", "slow-down", "split"].includes(a.notice.kind)
  );
  assert.deepEqual(shown, []);
  assert.deepEqual(cluster.lines("a"), ["alice: one"]);
  assert.equal(status.ignored["not-my-server"] + status.ignored["other-attachment"], 12);
  toAlice(cluster, S1, { kind: "chat-slow", gen });
  assert.equal(cluster.client("a").status().window, Math.floor(window / 2), "its own server's");
});

Deno.test("the first datagram ignored for a reason and kind is one notice; the rest are counted", () => {
  const cluster = threeServers();
  const gen = aliceGen(cluster);
  const from = cluster.clientActions.get("a")!.length;
  for (let i = 0; i < 3; i++) {
    toAlice(cluster, S2, { kind: "chat-refused", reason: "name-taken", gen });
  }
  const notices = cluster.clientActions.get("a")!.slice(from).flatMap((a) =>
    a.type === "notice" && a.notice.kind === "ignored" ? [a.notice] : []
  );
  assert.deepEqual(notices, [{
    kind: "ignored",
    reason: "not-my-server",
    message: "chat-refused",
    from: "s2",
    count: 1,
  }]);
  assert.equal(cluster.client("a").status().ignored["not-my-server"], 3);
});

Deno.test("the attachment number counts up from the one the runtime draws", () => {
  const core = new ChatClientCore({
    self: A,
    user: "alice",
    config: { ...defaultChatConfig(), history: 0 },
    firstGen: 987_654_321,
  });
  core.step({ type: "start", now: 0 });
  const joins = core.step({ type: "attach", server: { ...S1 }, now: 0 }).flatMap((a) =>
    a.type === "send" && a.body.kind === "chat-join" ? [a.body.gen] : []
  );
  assert.deepEqual(joins, [987_654_322]);
});

Deno.test("servers name their leader to clients and put the attachment number on every datagram", () => {
  const cluster = threeServers();
  cluster.type("a", "one");
  cluster.advance(200);
  const gen = aliceGen(cluster);
  const toA = cluster.sent.filter((d) => d.to.host === A.addr.host).map((d) => d.body);
  const welcome = toA.find((b) => b.kind === "chat-welcome");
  assert.ok(welcome?.kind === "chat-welcome");
  assert.deepEqual([welcome.leader, welcome.leaderIncarnation], ["s3", S3.incarnation]);
  const all = cluster.sent.filter((d) => d.to.host === A.addr.host).map((d) => d.body);
  assert.ok(all.some((b) => b.kind === "chat-deliver"));
  for (const body of all) {
    if (body.kind === "chat-stream") continue;
    assert.ok("gen" in body && body.gen === gen, `${body.kind} carries gen ${gen}`);
  }
});

Deno.test("any datagram of its server shows it alive: a heartbeat keeps a client that takes the stream", () => {
  const cluster = streamingServers();
  const lost = () => cluster.clientActions.get("a")!.filter((a) => a.type === "need-server").length;
  const before = lost();
  const heartbeat: Body = {
    kind: "heartbeat",
    version: "0.1.0",
    priority: 0,
    leader: "s3",
    term: 1,
    view: 1,
    joining: false,
  };
  for (let t = 0; t < 2 * defaultChatConfig().serverTimeoutMs; t += 100) {
    cluster.type("a", `line ${t}`);
    toAlice(cluster, S1, heartbeat);
    cluster.advance(100);
  }
  assert.ok(cluster.client("a").status().streaming);
  assert.equal(lost(), before, "alice kept s1");
  assert.equal(cluster.client("a").status().server, "s1");
});
