/**
 * A client resuming on a server whose log differs from what it delivered, past that server's
 * commit point: it is held until the leader decides which entries stand, then re-anchored at the
 * fork only if the server's stand; and a client whose split state differs from its server's (a
 * lost `chat-split`) is told again at its next ack, also when only the side differs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatLog } from "../src/chat/log.ts";
import { ChatOutbox } from "../src/chat/outbox.ts";
import { ChatReplica } from "../src/chat/replica.ts";
import { Sessions } from "../src/chat/sessions.ts";
import { clientKey } from "../src/chat/keys.ts";
import { defaultChatConfig } from "../src/config/mod.ts";
import type { Body, ChatEntry, ChatSplitBody, ChatWelcomeBody } from "../src/wire/messages.ts";
import { clientSender } from "./sim/chat_harness.ts";

function entry(seq: number, term: number, client: string): ChatEntry {
  return { seq, term, kind: "text", client, cseq: seq, from: "u", text: `${client}:${seq}`, ts: 0 };
}

/** A server whose log holds 1..5 of term 1 and has committed `commit`; a client "x". */
function serverWith(commit: number) {
  const config = defaultChatConfig();
  const replica = new ChatReplica(config.logLimit, config.maxSenders);
  const ours = [1, 2, 3, 4, 5].map((seq) => entry(seq, 1, "a~1"));
  assert.ok(replica.store(0, 0, ours).ok);
  replica.advanceCommit(commit);
  const out = new ChatOutbox(config.batchBodyBytes);
  const sessions = new Sessions({ config, replica, out });
  const sender = clientSender("x");
  return { config, replica, out, sessions, sender, key: clientKey(sender) };
}

/** Run starts of a history that agrees with the server's log up to 3, then differs (term 2). */
function forkedHistory(): ChatLog {
  const log = new ChatLog();
  for (const seq of [1, 2, 3]) log.append(entry(seq, 1, "a~1"));
  for (const seq of [4, 5, 6]) log.append(entry(seq, 2, "b~1"));
  return log;
}

/** Joins `x` resuming after 6 with the forked history and grants its name. */
function resume(s: ReturnType<typeof serverWith>, now: number): void {
  const runs = forkedHistory().runs(32);
  s.sessions.onJoin(
    s.sender,
    { kind: "chat-join", user: "x", gen: 1, resume: 7, history: 0, runs },
    now,
  );
  s.sessions.onClaimResults([{ user: "x", client: s.key, gen: 1, ok: true, reason: "name-taken" }]);
}

/** The bodies of the datagrams queued since the last drain. */
function sentBodies(out: ChatOutbox): Body[] {
  return out.drain().flatMap((a) => a.type === "send" ? [a.body] : []);
}

function welcomes(out: ChatOutbox): ChatWelcomeBody[] {
  return sentBodies(out).filter((b): b is ChatWelcomeBody => b.kind === "chat-welcome");
}

Deno.test("a client whose history differs in entries its server has not committed waits, then re-anchors at the fork once they are committed", () => {
  const s = serverWith(3);
  resume(s, 0);
  s.sessions.flush(true, 0);
  assert.deepEqual(welcomes(s.out), [], "welcomed while the leader may still keep its entries");
  s.replica.advanceCommit(5);
  s.sessions.flush(true, 10);
  assert.deepEqual(welcomes(s.out).map((w) => w.start), [4], "not re-anchored at the fork");
});

Deno.test("a held client resumes where it stopped when the leader's entries match its history", () => {
  const s = serverWith(3);
  resume(s, 0);
  s.sessions.flush(true, 0);
  assert.deepEqual(welcomes(s.out), []);
  const theirs = [...forkedHistory().range(4, 6)];
  assert.ok(s.replica.store(3, 1, theirs).ok);
  s.replica.advanceCommit(6);
  s.sessions.flush(true, 10);
  assert.deepEqual(welcomes(s.out).map((w) => w.start), [7], "re-anchored though nothing differs");
});

Deno.test("a client whose history differs in committed entries is re-anchored at the fork at once", () => {
  const s = serverWith(5);
  resume(s, 0);
  s.sessions.flush(true, 0);
  assert.deepEqual(welcomes(s.out).map((w) => w.start), [4]);
});

Deno.test("a client held past anchorWaitMs re-anchors at the fork rather than where it stopped", () => {
  const s = serverWith(3);
  resume(s, 0);
  s.sessions.flush(true, 0);
  assert.deepEqual(welcomes(s.out), []);
  s.sessions.flush(true, s.config.anchorWaitMs);
  assert.deepEqual(welcomes(s.out).map((w) => w.start), [4], "resumed past entries that differ");
});

Deno.test("a client shown the majority side is told again that this server's side is a minority", () => {
  const s = serverWith(5);
  s.sessions.onJoin(s.sender, {
    kind: "chat-join",
    user: "x",
    gen: 1,
    resume: 0,
    history: 0,
    runs: [],
  }, 0);
  s.sessions.onClaimResults([{ user: "x", client: s.key, gen: 1, ok: true, reason: "name-taken" }]);
  s.sessions.flush(true, 0);
  const lost = (id: string) => ({ id, addr: { host: id, port: 1 }, lostAt: 0, crashed: false });
  s.sessions.setSplit({
    servers: 2,
    of: 4,
    majority: false,
    partition: false,
    missing: [lost("s3"), lost("s4")],
  });
  s.out.drain();
  const splits = () => sentBodies(s.out).filter((b): b is ChatSplitBody => b.kind === "chat-split");
  const ack = (minority: boolean | undefined) =>
    s.sessions.onAck(s.sender, {
      kind: "chat-ack",
      next: 6,
      gen: 1,
      split: true,
      ...(minority === undefined ? {} : { minority }),
      streamed: false,
    }, 10);
  ack(true);
  assert.deepEqual(splits(), [], "repeated to a client that shows it");
  ack(false);
  assert.deepEqual(
    splits().map((b) => b.majority),
    [false],
    "not repeated to a client showing the majority",
  );
  ack(undefined);
  assert.deepEqual(splits(), [], "an older client without the field is not sent it on every ack");
});
