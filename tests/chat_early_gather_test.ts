/**
 * A new leader's gather can overtake the election's COORDINATOR (they leave by different
 * sockets): a follower that gets the gather before its view names that leader answers it as soon
 * as the view does, instead of when the leader repeats it `retransmitMs` later.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig } from "../src/config/mod.ts";
import { type ChatServerAction, ChatServerCore } from "../src/chat/chat_server_core.ts";
import type { Envelope } from "../src/wire/messages.ts";
import { serverSender, viewOf, WALL } from "./sim/chat_harness.ts";

const S1 = serverSender("s1");
const S2 = serverSender("s2");
const S3 = serverSender("s3");

/** s2's gather for term 2, which it sends as soon as it won the election. */
const GATHER: Envelope = {
  cluster: "t",
  sender: S2,
  seq: 1,
  ts: WALL,
  body: { kind: "chat-gather", term: 2 },
};

/** s1's chat core, following s3 at term 1 with s2 and s3 alive. */
function followingS3(): ChatServerCore {
  const core = new ChatServerCore({ self: S1, config: defaultChatConfig() });
  core.step({ type: "start", now: 0, wall: WALL });
  core.step({ type: "membership", view: viewOf(S1, [S2, S3], "s3", 1), now: 0 });
  return core;
}

function gatherReplies(actions: ChatServerAction[]) {
  return actions.flatMap((a) =>
    a.type === "send" && a.body.kind === "chat-gather-reply" ? [{ to: a.to, body: a.body }] : []
  );
}

Deno.test("a gather that came before the view named its leader is answered once the view does", () => {
  const core = followingS3();
  const early = core.step({ type: "receive", envelope: GATHER, now: 10 });
  assert.deepEqual(gatherReplies(early), [], "s2 is not its leader yet");
  const named = core.step({ type: "membership", view: viewOf(S1, [S2], "s2", 2), now: 12 });
  const replies = gatherReplies(named);
  assert.equal(replies.length, 1, "answered when the view named s2");
  assert.deepEqual(replies[0].to, S2.addr);
  assert.equal(replies[0].body.ok, true);
  assert.equal(replies[0].body.term, 2);
});

Deno.test("an early gather from a server the view does not name stays unanswered", () => {
  const core = followingS3();
  core.step({ type: "receive", envelope: GATHER, now: 10 });
  const other = core.step({ type: "membership", view: viewOf(S1, [S3], "s3", 1), now: 12 });
  assert.deepEqual(gatherReplies(other), []);
});
