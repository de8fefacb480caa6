/**
 * The leader's multicast stream of committed entries (`chat-stream`), on a small hand-driven
 * cluster (`MiniCluster`): clients take their lines from it and their servers stop sending
 * copies; a lost stream datagram is asked for at once and repaired by the client's own server; a
 * batch that does not continue what a client delivered is ignored; a client that does not hear
 * the stream is served by its server as before.
 *
 * @module
 */

import assert from "node:assert/strict";
import { entryMark } from "../src/chat/log.ts";
import type { ChatEntry } from "../src/wire/messages.ts";
import {
  clientSender,
  type Datagram,
  type MiniCluster,
  serverSender,
  streamingServers,
} from "./sim/chat_harness.ts";

const S3 = serverSender("s3");
const A = clientSender("a");
const B = clientSender("b");

const toClient = (d: Datagram) => d.to.host === A.addr.host || d.to.host === B.addr.host;

/** Datagrams of `kind` sent after index `from` of `cluster.sent`. */
function sentSince(cluster: MiniCluster, from: number, kind: string): Datagram[] {
  return cluster.sent.slice(from).filter((d) => d.body.kind === kind);
}

Deno.test("clients take committed lines from the leader's stream; their servers send no copies", () => {
  const cluster = streamingServers();
  const mark = cluster.sent.length;
  for (let i = 1; i <= 5; i++) {
    cluster.type(i % 2 ? "a" : "b", `line ${i}`);
    cluster.advance(25);
  }
  for (const id of ["a", "b"]) {
    const status = cluster.client(id).status();
    assert.ok(status.streaming && status.streamBatches >= 5, `${id}: ${JSON.stringify(status)}`);
  }
  cluster.advance(500);
  assert.equal(cluster.client("a").status().streaming, false, "idle: not taking it now");
  const expected = [
    "alice: warm 1",
    "bob: warm 2",
    ...[1, 2, 3, 4, 5].map((i) => `${i % 2 ? "alice" : "bob"}: line ${i}`),
  ];
  assert.deepEqual(cluster.lines("a"), expected);
  assert.deepEqual(cluster.lines("b"), expected);
  const copies = sentSince(cluster, mark, "chat-deliver").filter((d) =>
    d.body.kind === "chat-deliver" && d.body.entries.length > 0
  );
  assert.deepEqual(copies.map((d) => d.from.id), [], "no server sent its clients entries");
  const streams = sentSince(cluster, mark, "chat-stream");
  assert.ok(streams.length >= 5, `the leader streamed every line (${streams.length} datagrams)`);
  assert.ok(streams.every((d) => d.from.id === "s3" && toClient(d)));
});

Deno.test("a lost stream datagram is asked for at once and sent by the client's server", () => {
  const cluster = streamingServers();
  cluster.drop = (d) =>
    d.body.kind === "chat-stream" && d.to.host === A.addr.host &&
    d.body.entries.some((e) => e.text === "lost");
  const mark = cluster.sent.length;
  cluster.type("b", "lost");
  cluster.settle();
  assert.ok(!cluster.lines("a").includes("bob: lost"), "the stream did not bring it");
  cluster.type("b", "after");
  cluster.settle();
  const naks = sentSince(cluster, mark, "chat-nak").filter((d) => d.from.id === "a");
  assert.equal(naks.length, 1, "alice asked for the gap as soon as the next batch came");
  assert.deepEqual(cluster.lines("a").slice(-2), ["bob: lost", "bob: after"]);
  cluster.advance(500);
  assert.deepEqual(cluster.lines("a"), cluster.lines("b"), "same lines, same order, once each");
});

Deno.test("a stream batch that does not continue what the client delivered is ignored", () => {
  const cluster = streamingServers();
  const delivered = cluster.lines("a").length;
  const last = cluster.server("s1").committed().at(-1)!;
  const forged: ChatEntry = {
    ...last,
    seq: last.seq + 1,
    client: "x~1",
    cseq: 1,
    from: "mallory",
    text: "forged",
  };
  for (const prevMark of [entryMark(last) ^ 1, -1]) {
    cluster.wire.push({
      from: S3,
      to: A.addr,
      body: { kind: "chat-stream", prevTerm: last.term, prevMark, entries: [forged] },
    });
    cluster.settle();
  }
  assert.equal(cluster.lines("a").length, delivered);
  cluster.type("b", "real");
  cluster.advance(500);
  assert.deepEqual(cluster.lines("a").slice(delivered), ["bob: real"]);
});

Deno.test("a client that does not hear the stream is sent every line by its server at once", () => {
  const cluster = streamingServers();
  cluster.drop = (d) => d.body.kind === "chat-stream" && d.to.host === A.addr.host;
  cluster.advance(1_000);
  const mark = cluster.sent.length;
  const started = cluster.now;
  cluster.type("b", "unicast");
  cluster.settle();
  assert.equal(cluster.now, started);
  assert.equal(cluster.lines("a").at(-1), "bob: unicast", "delivered without waiting");
  const copies = sentSince(cluster, mark, "chat-deliver").filter((d) =>
    d.to.host === A.addr.host && d.body.kind === "chat-deliver" && d.body.entries.length > 0
  );
  assert.equal(copies.length, 1);
  assert.equal(cluster.client("a").status().streaming, false);
  assert.equal(cluster.client("b").status().streaming, true);
});

Deno.test("with the stream off, the leader multicasts nothing and servers deliver as before", () => {
  const cluster = streamingServers({ streamToClients: false });
  cluster.type("a", "plain");
  cluster.advance(200);
  assert.equal(sentSince(cluster, 0, "chat-stream").length, 0);
  assert.deepEqual(cluster.lines("b").at(-1), "alice: plain");
});

Deno.test("a client taking everything from the stream still hears its own server every heartbeat or so, and keeps it", () => {
  const cluster = streamingServers();
  const mark = cluster.sent.length;
  const { clientHeartbeatMs, serverQuietMs } = cluster.config;
  for (let i = 1; i <= 60; i++) {
    cluster.type(i % 2 ? "a" : "b", `line ${i}`);
    cluster.advance(50);
  }
  const server = cluster.client("b").status().server;
  const heard = cluster.sent.slice(mark).filter((d) =>
    d.to.host === B.addr.host && d.from.id === server && d.body.kind === "chat-deliver"
  );
  assert.ok(
    heard.length >= (60 * 50) / (2 * clientHeartbeatMs),
    `its server ${server} sent it ${heard.length} datagrams in 3 s of streaming`,
  );
  const lost = cluster.clientActions.get("b")!.filter((a) =>
    a.type === "notice" && a.notice.kind === "server-lost"
  );
  assert.deepEqual(lost, [], `left a live server that was silent for ${serverQuietMs} ms`);
});
