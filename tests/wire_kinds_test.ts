/**
 * The one table per message kind (`MESSAGE_KINDS`): who may send each kind, where a server routes
 * it and which kinds a server skips are all read from it. The expected values here are the lists
 * that were written by hand before the table held them, so a change to the table that moves a
 * kind shows up here.
 *
 * @module
 */

import assert from "node:assert/strict";
import { roleSends } from "../src/guard/mod.ts";
import { SERVER_SKIPS, serverRoute } from "../src/server/node.ts";
import { type Kind, MESSAGE_KINDS, ROLES } from "../src/wire/messages.ts";

/** Who sent each kind, as the guard's hand-written `SENT_BY` had it. */
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
};

const KINDS = Object.keys(MESSAGE_KINDS) as Kind[];

Deno.test("the table holds exactly the kinds the old lists named", () => {
  assert.deepEqual([...KINDS].sort(), Object.keys(OLD_SENT_BY).sort());
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

Deno.test("a server routes each kind where the name-prefix routing sent it", () => {
  for (const kind of KINDS) {
    const old = kind.startsWith("chat-") ? "chat" : kind === "discover" ? "answer" : "core";
    assert.equal(serverRoute(kind), old, kind);
  }
});
