/**
 * One datagram cannot poison a sender or push a core past the wire's bounds: a forged incarnation
 * beyond the receiver's clock, a forged top sequence number, a welcome vouching for a member with
 * such an incarnation, and a term at the bound each leave the real sender heard and every number
 * sendable.
 *
 * @module
 */

import assert from "node:assert/strict";
import { testClusterConfig } from "../src/config/mod.ts";
import { ServerCore } from "../src/membership/core.ts";
import { VERSION } from "../src/version.ts";
import { Keyring } from "../src/wire/keyring.ts";
import {
  type Body,
  type HeartbeatBody,
  MESSAGE_KINDS,
  ReplayGuard,
  type Sender,
  WIRE_BOUNDS,
  WireCodec,
} from "../src/wire/mod.ts";
import { serverSender, threeServers } from "./sim/chat_harness.ts";

const NOW = 1_750_000_000_000;
const SKEW = 120_000;

function guard(): ReplayGuard {
  return new ReplayGuard({ window: 64, maxSenders: 16, maxClockSkewMs: SKEW });
}

Deno.test("an incarnation beyond the clock plus the skew is refused and silences nobody", () => {
  const g = guard();
  for (let seq = 1; seq <= 3; seq++) {
    assert.equal(g.check("s1", Number.MAX_SAFE_INTEGER, seq, NOW, NOW), "too-old");
  }
  assert.equal(g.check("s1", NOW + SKEW + 1, 4, NOW, NOW), "too-old");
  assert.equal(g.check("s1", NOW - 5_000, 1, NOW, NOW), "ok", "the real sender is heard");
  assert.equal(g.check("s1", NOW + SKEW, 2, NOW, NOW), "ok", "up to the skew is believed");
});

Deno.test("a forged top sequence number stops judging the sender's later datagrams", () => {
  const g = guard();
  assert.equal(g.check("s1", NOW - 5_000, 10, NOW - 10, NOW), "ok");
  assert.equal(g.check("s1", NOW - 5_000, 0xffff_ffff, NOW - 5, NOW), "ok", "the forgery");
  assert.equal(g.check("s1", NOW - 5_000, 11, NOW - 6, NOW), "too-old", "older than the forgery");
  assert.equal(g.check("s1", NOW - 5_000, 12, NOW + 1, NOW + 1), "ok", "newer: heard again");
  assert.equal(g.check("s1", NOW - 5_000, 12, NOW + 1, NOW + 1), "replayed");
  assert.equal(g.check("s1", NOW - 5_000, 13, NOW + 2, NOW + 2), "ok");
});

const CLUSTER = "bounds";
const SENDER: Sender = {
  id: "s2",
  incarnation: NOW - 1_000,
  role: "server",
  addr: { host: "10.0.0.2", port: 7401 },
};

function codec(): WireCodec {
  return new WireCodec({
    cluster: CLUSTER,
    keyring: Keyring.fromSecrets([], CLUSTER),
    maxDatagramBytes: 16 * 1024,
    receiverId: "s1",
    replay: guard(),
  });
}

/** A heartbeat of s2 naming itself leader at `term`. */
function heartbeat(term: number): HeartbeatBody {
  return {
    kind: "heartbeat",
    version: VERSION,
    priority: 9,
    leader: "s2",
    term,
    view: 1,
    joining: false,
  };
}

/** A welcome of s2 vouching for s3 at `incarnation`. */
function welcome(incarnation: number): Body {
  const member = { id: "s3", role: "server" as const, host: "10.0.0.3", port: 7401, priority: 0 };
  return { ...heartbeat(1), kind: "welcome", members: [{ ...member, incarnation }] };
}

Deno.test("a welcome vouching for an incarnation beyond the clock is malformed", () => {
  const sealer = codec();
  const receiver = codec();
  const late = sealer.encode(SENDER, welcome(NOW + SKEW + 1), NOW);
  assert.deepEqual(receiver.decode(late, NOW), { ok: false, reason: "malformed" });
  assert.ok(receiver.decode(sealer.encode(SENDER, welcome(NOW), NOW), NOW).ok);
});

Deno.test("a term beyond the clock plus the skew is malformed; time overtakes one within it", () => {
  const sealer = codec();
  const receiver = codec();
  for (const term of [WIRE_BOUNDS.term, NOW + SKEW + 1]) {
    const data = sealer.encode(SENDER, heartbeat(term), NOW);
    assert.deepEqual(receiver.decode(data, NOW), { ok: false, reason: "malformed" }, `${term}`);
  }
  assert.throws(() => sealer.encode(SENDER, heartbeat(Number.MAX_SAFE_INTEGER), NOW));
  assert.ok(receiver.decode(sealer.encode(SENDER, heartbeat(NOW + SKEW), NOW), NOW).ok);
  const next = sealer.encode(SENDER, heartbeat(NOW + SKEW + 1), NOW + 1);
  assert.ok(receiver.decode(next, NOW + 1).ok, "the next term, a millisecond later");
});

Deno.test("terms beyond the static bound are refused, and an election at it stays there", () => {
  const sealer = codec();
  assert.throws(() => sealer.encode(SENDER, heartbeat(WIRE_BOUNDS.term + 1), NOW));
  const timing = testClusterConfig().timing;
  const self: Sender = { ...SENDER, id: "s1", addr: { host: "10.0.0.1", port: 7401 } };
  const core = new ServerCore({ self, priority: 0, timing, seeds: [], version: VERSION });
  const bodies: Body[] = [];
  const step = (event: Parameters<ServerCore["step"]>[0]) => {
    for (const action of core.step(event)) if (action.type !== "notify") bodies.push(action.body);
  };
  step({ type: "start", now: 0 });
  const envelope = { cluster: CLUSTER, sender: SENDER, seq: 1, ts: NOW, body: heartbeat(0) };
  step({ type: "receive", envelope, viaGroup: true, now: 10 });
  for (let now = 25; now < 1_000; now += 25) step({ type: "tick", now });
  const claim = { ...envelope, body: heartbeat(WIRE_BOUNDS.term) };
  step({ type: "receive", envelope: claim, viaGroup: true, now: 1_000 });
  step({
    type: "receive",
    envelope: { ...envelope, body: { kind: "leave" } },
    viaGroup: true,
    now: 1_010,
  });
  for (let now = 1_025; now < 2_000; now += 25) step({ type: "tick", now });
  assert.equal(core.leader().id, "s1", "s1 leads after s2 left");
  assert.equal(core.leader().term, WIRE_BOUNDS.term);
  for (const body of bodies) sealer.encode(self, body, NOW);
});

Deno.test("a leader whose log reached the sequence bound sequences nothing past it", () => {
  const cluster = threeServers();
  const top = WIRE_BOUNDS.seq;
  const entry = {
    seq: top,
    term: 1,
    kind: "text" as const,
    client: "x~1",
    cseq: 1,
    from: "x",
    text: "far",
    ts: NOW,
  };
  for (const id of ["s1", "s2"]) {
    const append: Body = {
      kind: "chat-append",
      term: 1,
      prev: top - 1,
      prevTerm: 1,
      commit: top,
      majorityCommit: 0,
      reset: true,
      entries: [entry],
    };
    cluster.wire.push({ from: serverSender("s3"), to: serverSender(id).addr, body: append });
  }
  cluster.settle();
  cluster.setView(["s1", "s2", "s3"], "s1", 2);
  cluster.advance(3_000);
  cluster.type("a", "one more");
  cluster.advance(3_000);
  const invalid = cluster.sent.filter((d) => {
    const { kind, ...fields } = d.body;
    return !MESSAGE_KINDS[kind].validate(fields);
  });
  assert.deepEqual(invalid.map((d) => d.body.kind), [], "every datagram is sendable");
  assert.ok(cluster.server("s1").status().last <= top);
});
