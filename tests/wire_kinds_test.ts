/**
 * The one table per message kind (`MESSAGE_KINDS`): who may send each kind, where a server routes
 * it and which kinds a server skips are all read from it. The expected values here are the lists
 * that were written by hand before the table held them, so a change to the table that moves a
 * kind shows up here. And a decoded body holds only the fields its kind declares.
 *
 * @module
 */

import assert from "node:assert/strict";
import { roleSends } from "../src/guard/mod.ts";
import { SERVER_SKIPS, serverRoute } from "../src/server/node.ts";
import {
  type Body,
  Keyring,
  type Kind,
  kindOfCode,
  MESSAGE_KINDS,
  ROLES,
  WireCodec,
} from "../src/wire/mod.ts";

/**
 * Who sent each kind, as the guard's hand-written `SENT_BY` had it (and the room roster's two
 * kinds, added since: a client asks, a server answers).
 */
const OLD_SENT_BY: Record<string, string> = {
  "discover": "any",
  "discover-reply": "any",
  "heartbeat": "server",
  "welcome": "server",
  "ping": "server",
  "ack": "server",
  "ping-req": "server",
  "election": "server",
  "answer": "server",
  "coordinator": "server",
  "leave": "server",
  "chat-join": "client",
  "chat-welcome": "server",
  "chat-refused": "server",
  "chat-post": "client",
  "chat-deliver": "server",
  "chat-ack": "client",
  "chat-nak": "client",
  "chat-missed": "server",
  "chat-slow": "server",
  "chat-leave": "client",
  "chat-forward": "server",
  "chat-busy": "server",
  "chat-append": "server",
  "chat-append-reply": "server",
  "chat-gather": "server",
  "chat-gather-reply": "server",
  "chat-fetch": "server",
  "chat-fetched": "server",
  "chat-claim": "server",
  "chat-claim-reply": "server",
  "chat-committed": "server",
  "chat-senders-fetch": "server",
  "chat-senders": "server",
  "chat-stream": "server",
  "chat-split": "server",
  "chat-who": "client",
  "chat-roster": "server",
  "chat-past": "client",
  "chat-past-page": "server",
};

const KINDS = Object.keys(MESSAGE_KINDS) as Kind[];

Deno.test("the table holds exactly the kinds the old lists named", () => {
  assert.deepEqual([...KINDS].sort(), Object.keys(OLD_SENT_BY).sort());
});

Deno.test("the protocols' tables give every kind its own wire code, found again by it", () => {
  const codes = KINDS.map((kind) => MESSAGE_KINDS[kind].code);
  assert.equal(new Set(codes).size, KINDS.length, `codes repeat: ${codes.join(" ")}`);
  for (const kind of KINDS) assert.equal(kindOfCode(MESSAGE_KINDS[kind].code), kind);
});

Deno.test("who may send each kind is what the hand-written list said", () => {
  for (const kind of KINDS) {
    for (const role of ROLES) {
      const old = OLD_SENT_BY[kind] === "any" || OLD_SENT_BY[kind] === role;
      assert.equal(roleSends(role, kind), old, `${role} sending ${kind}`);
    }
  }
});

Deno.test("a server skips only the chat stream, as its hand-written list did", () => {
  assert.deepEqual([...SERVER_SKIPS], ["chat-stream"]);
});

Deno.test("the chat-client layer is exactly the kinds a client took from its server by hand", () => {
  const client = (Object.keys(MESSAGE_KINDS) as Kind[]).filter((kind) =>
    MESSAGE_KINDS[kind].layer === "chat-client"
  ).sort();
  assert.deepEqual(client, [
    "chat-deliver",
    "chat-missed",
    "chat-past-page",
    "chat-refused",
    "chat-roster",
    "chat-slow",
    "chat-split",
    "chat-stream",
    "chat-welcome",
  ]);
});

Deno.test("a server routes each kind where the name-prefix routing sent it", () => {
  for (const kind of KINDS) {
    const old = kind.startsWith("chat-") ? "chat" : kind === "discover" ? "answer" : "core";
    assert.equal(serverRoute(kind), old, kind);
  }
});

const CLUSTER = "kinds-test";
const NOW = 1_750_000_000_000;
const SENDER = {
  id: "s1",
  incarnation: NOW - 1000,
  role: "server" as const,
  addr: { host: "127.0.0.1", port: 7401 },
};
const ENTRY = {
  seq: 5,
  term: 2,
  kind: "text",
  client: "127.0.0.1:5000~1",
  cseq: 1,
  from: "ann",
  text: "hi",
  ts: NOW,
};

/** Encodes `sent` (extra fields and all: the encoder checks only the declared ones) and decodes it. */
function roundTrip(sent: Record<string, unknown>, secrets: string[]): Body {
  const codec = () =>
    new WireCodec({
      cluster: CLUSTER,
      keyring: Keyring.fromSecrets(secrets, CLUSTER),
      maxDatagramBytes: 1400,
    });
  const result = codec().decode(codec().encode(SENDER, sent as unknown as Body, NOW), NOW);
  assert.ok(result.ok, JSON.stringify(result));
  return result.envelope.body;
}

for (const secrets of [[], ["s3cret"]]) {
  const mode = secrets.length > 0 ? "encrypted" : "plaintext";

  Deno.test(`${mode}: a datagram with extra fields decodes without them, at every depth`, () => {
    const append = {
      kind: "chat-append",
      term: 2,
      prev: 4,
      prevTerm: 2,
      commit: 4,
      majorityCommit: 4,
      reset: false,
      entries: [ENTRY, { ...ENTRY, seq: 6 }],
    };
    const extra = {
      ...append,
      evil: "x",
      entries: append.entries.map((e) => ({ ...e, extra: { deep: 1 } })),
    };
    assert.deepEqual(roundTrip(extra, secrets), append);

    const item = { client: ENTRY.client, user: "ann", acked: 0, cseq: 1, text: "hi", ts: NOW };
    const forward = { kind: "chat-forward", items: [item] };
    assert.deepEqual(roundTrip({ ...forward, items: [{ ...item, owner: "x" }] }, secrets), forward);
  });

  Deno.test(`${mode}: an extra field late in a record or only in a later entry is dropped, all before it kept`, () => {
    const append = {
      kind: "chat-append",
      term: 2,
      prev: 4,
      prevTerm: 2,
      commit: 4,
      majorityCommit: 4,
      reset: false,
      entries: [ENTRY, { ...ENTRY, seq: 6 }, { ...ENTRY, seq: 7 }],
    };
    const { reset, entries, ...head } = append;
    const sent = {
      ...head,
      evil: "x",
      reset,
      entries: [entries[0], { ...entries[1], from: "ann", extra: 1, ts: NOW }, entries[2]],
    };
    assert.deepEqual(roundTrip(sent, secrets), append);
  });

  Deno.test(`${mode}: a record read as a whole keeps every name, its neighbours only their own`, () => {
    const missing = { id: "s2", host: "10.0.0.2", port: 7401, agoMs: 5, crashed: false };
    const reply = {
      kind: "discover-reply",
      nonce: 1,
      version: "0.1.0",
      priority: 0,
      uptimeMs: 9,
      viaGroup: false,
      leader: "",
      term: 0,
      view: 1,
      viewSize: 1,
      clients: 0,
      rejections: { "unknown-key": 3, "a-newer-reason": 1 },
      split: { servers: 1, of: 2, majority: false, missing: [missing] },
    };
    const sent = {
      ...reply,
      split: { ...reply.split, extra: true, missing: [{ ...missing, extra: "y" }] },
    };
    assert.deepEqual(roundTrip(sent, secrets), reply);

    const rejections = JSON.parse('{"__proto__": 2, "unknown-key": 1}');
    const decoded = roundTrip({ ...reply, rejections }, secrets) as typeof reply;
    assert.deepEqual(Object.keys(decoded.rejections), ["__proto__", "unknown-key"]);
    assert.equal(Object.getPrototypeOf(decoded.rejections), Object.prototype);
  });
}
