/**
 * A chat client drops the servers' own traffic it hears on the group (elections, probes, chat
 * replication) by its header, before authenticating and decoding it: every membership and
 * chat-server kind but the heartbeat (its server's liveness while it takes the leader's stream),
 * and none that the client core or discovery handles.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CLIENT_SKIPS } from "../src/client/client.ts";
import { type Kind, MESSAGE_KINDS } from "../src/wire/messages.ts";

Deno.test("a client skips every membership and chat-server kind but heartbeats, and nothing it handles", () => {
  const kinds = Object.keys(MESSAGE_KINDS) as Kind[];
  const skipped = new Set(CLIENT_SKIPS);
  for (const kind of kinds) {
    const { layer } = MESSAGE_KINDS[kind];
    const handled = layer === "chat-client" || layer === "discovery" || kind === "heartbeat";
    assert.equal(skipped.has(kind), !handled, `${kind} (${layer})`);
  }
  assert.ok(!skipped.has("heartbeat"));
  assert.ok(skipped.has("election"));
  assert.ok(!skipped.has("discover-reply"));
  assert.ok(!skipped.has("chat-deliver"));
});
