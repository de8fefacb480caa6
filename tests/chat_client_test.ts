/**
 * Guarantees of the chat client core, driven by hand with made-up server datagrams: exactly-once
 * in-order delivery whatever the arrival order, NAKs for holes, retries until acknowledged with
 * the same line number, a bounded window, resumption after re-attaching, and the signals the
 * runtime needs (`need-server`, flow control, all acknowledged).
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig } from "../src/config/mod.ts";
import { type ChatClientAction, ChatClientCore } from "../src/chat/client_core.ts";
import { entryMark } from "../src/chat/log.ts";
import type { Body, ChatEntry, Envelope } from "../src/wire/messages.ts";
import { clientSender, serverSender, WALL } from "./sim/chat_harness.ts";

const ME = clientSender("me");
const S1 = serverSender("s1");
const S2 = serverSender("s2");
const KEY = "me~1";
/** Welcome and delivery fields of a server that names no leader. */
const NO_LEADER = { leader: "", leaderIncarnation: 0 };

function entry(seq: number, client = "other~1", cseq = seq): ChatEntry {
  return { seq, term: 1, kind: "text", client, cseq, from: "x", text: `t${seq}`, ts: WALL };
}

/** A client core attached to s1 and welcomed with its stream starting at `start`. */
class Client {
  readonly core: ChatClientCore;
  readonly actions: ChatClientAction[] = [];
  now = 0;
  gen = 1;

  constructor(overrides = {}, start = 1) {
    const config = { ...defaultChatConfig(), history: 10, ...overrides };
    this.core = new ChatClientCore({ self: ME, user: "me", config });
    this.step({ type: "start", now: 0 });
    this.step({
      type: "attach",
      server: { id: "s1", incarnation: S1.incarnation, addr: S1.addr },
      now: 0,
    });
    this.receive({
      kind: "chat-welcome",
      user: "me",
      gen: 1,
      start,
      commit: start - 1,
      ...NO_LEADER,
    });
  }

  step(event: Parameters<ChatClientCore["step"]>[0]): ChatClientAction[] {
    const actions = this.core.step(event);
    this.actions.push(...actions);
    return actions;
  }

  receive(body: Body, from = S1): ChatClientAction[] {
    const envelope: Envelope = { cluster: "t", sender: from, seq: 0, ts: WALL, body };
    return this.step({ type: "receive", envelope, now: this.now });
  }

  deliver(entries: ChatEntry[], commit = entries.at(-1)?.seq ?? 0, acked = 0) {
    return this.receive({
      kind: "chat-deliver",
      commit,
      acked,
      gen: this.gen,
      entries,
      ...NO_LEADER,
    });
  }

  type(text: string): ChatClientAction[] {
    return this.step({ type: "send-text", text, ts: WALL + this.now, now: this.now });
  }

  tick(ms: number): ChatClientAction[] {
    const out: ChatClientAction[] = [];
    for (let t = 0; t < ms; t += 25) {
      this.now += 25;
      out.push(...this.step({ type: "tick", now: this.now }));
    }
    return out;
  }

  delivered(): number[] {
    return this.actions.flatMap((a) => (a.type === "deliver" ? [a.message.seq] : []));
  }
}

function sentBodies<K extends Body["kind"]>(actions: ChatClientAction[], kind: K) {
  return actions.flatMap((a) =>
    a.type === "send" && a.body.kind === kind ? [a.body as Extract<Body, { kind: K }>] : []
  );
}

Deno.test("entries are delivered exactly once and in order, whatever order they arrive in", () => {
  const c = new Client();
  c.deliver([entry(3), entry(5)], 5);
  c.deliver([entry(2), entry(3)], 5);
  assert.deepEqual(c.delivered(), []);
  c.deliver([entry(1), entry(4)], 5);
  c.deliver([entry(5), entry(1), entry(2)], 5);
  assert.deepEqual(c.delivered(), [1, 2, 3, 4, 5]);
  assert.equal(c.core.status().next, 6);
});

Deno.test("a hole that persists is NAKed, at most once per retransmit interval", () => {
  const c = new Client();
  c.deliver([entry(1), entry(4)], 4);
  const naks = sentBodies(c.tick(300), "chat-nak");
  assert.ok(naks.length >= 1 && naks.length <= 3, `${naks.length} NAKs in 300 ms`);
  assert.deepEqual(naks[0], { kind: "chat-nak", from: 2, to: 3 });
});

Deno.test("a line is retried with the same number until it is acknowledged", () => {
  const c = new Client();
  const first = sentBodies(c.type("hello"), "chat-post");
  assert.deepEqual(first.map((b) => b.items.map((i) => [i.cseq, i.text])), [[[1, "hello"]]]);
  const retries = sentBodies(c.tick(1_000), "chat-post");
  assert.ok(retries.length >= 2, "retried");
  assert.ok(retries.every((b) => b.items.length === 1 && b.items[0].cseq === 1));
  assert.equal(c.core.allAcknowledged(), false);
  c.deliver([entry(1, KEY, 1)]);
  assert.equal(c.core.allAcknowledged(), true);
  assert.deepEqual(sentBodies(c.tick(1_000), "chat-post"), [], "no retry after the ack");
  const own = c.actions.find((a) => a.type === "deliver");
  assert.equal(own?.type === "deliver" && own.message.own, true);
});

Deno.test("the server's word acknowledges lines the client never saw delivered", () => {
  const c = new Client();
  c.type("one");
  c.type("two");
  c.deliver([], 0, 2);
  assert.equal(c.core.allAcknowledged(), true);
  const acks = c.actions.flatMap((a) =>
    a.type === "notice" && a.notice.kind === "acknowledged" ? [a.notice.id] : []
  );
  assert.deepEqual(acks, ["me~1/1", "me~1/2"]);
});

Deno.test("at most a window of lines is in flight; a slow-down halves it", () => {
  const c = new Client({ sendWindow: 4 });
  const posted = (actions: ChatClientAction[]) =>
    sentBodies(actions, "chat-post").flatMap((b) => b.items.map((i) => i.cseq));
  const sent: number[] = [];
  for (let i = 1; i <= 10; i++) sent.push(...posted(c.type(`l${i}`)));
  assert.deepEqual(sent, [1, 2, 3, 4]);
  c.receive({ kind: "chat-slow", gen: 1 });
  assert.equal(c.core.status().window, 2);
  assert.deepEqual(posted(c.tick(350)), [1, 2]);
});

Deno.test("after re-attaching, the client resumes exactly where it stopped", () => {
  const c = new Client();
  c.type("mine");
  c.deliver([entry(1), entry(2)], 2);
  c.step({ type: "server-lost", now: c.now });
  assert.ok(c.actions.some((a) => a.type === "need-server" && a.avoid?.id === "s1"));
  const join = sentBodies(
    c.step({
      type: "attach",
      server: { id: "s2", incarnation: S2.incarnation, addr: S2.addr },
      now: c.now,
    }),
    "chat-join",
  );
  const runs = [{ seq: 1, term: 1, mark: entryMark(entry(1)) }];
  assert.deepEqual(join, [{ kind: "chat-join", user: "me", gen: 2, resume: 3, history: 10, runs }]);
  c.gen = 2;
  c.deliver([entry(3)], 3);
  assert.deepEqual(c.delivered(), [1, 2], "nothing from the old server or before the welcome");
  const welcomed = c.receive(
    { kind: "chat-welcome", user: "me", gen: 2, start: 3, commit: 3, ...NO_LEADER },
    S2,
  );
  assert.deepEqual(sentBodies(welcomed, "chat-post").map((b) => b.items[0].text), ["mine"]);
  c.receive(
    {
      kind: "chat-deliver",
      commit: 4,
      acked: 0,
      gen: 2,
      entries: [entry(2), entry(3), entry(4)],
      ...NO_LEADER,
    },
    S2,
  );
  assert.deepEqual(c.delivered(), [1, 2, 3, 4]);
  const attached = c.actions.flatMap((a) =>
    a.type === "notice" && a.notice.kind === "attached" ? [a.notice.resumed] : []
  );
  assert.deepEqual(attached, [false, true]);
});

Deno.test("a silent server makes the client ask for another", () => {
  const c = new Client();
  const actions = c.tick(defaultChatConfig().serverTimeoutMs + 50);
  assert.ok(actions.some((a) => a.type === "need-server" && a.avoid?.id === "s1"));
  assert.equal(c.core.status().phase, "detached");
});

Deno.test("a refused name ends the client", () => {
  const core = new ChatClientCore({
    self: ME,
    user: "me",
    config: { ...defaultChatConfig(), history: 0 },
  });
  core.step({ type: "start", now: 0 });
  core.step({
    type: "attach",
    server: { id: "s1", incarnation: S1.incarnation, addr: S1.addr },
    now: 0,
  });
  const envelope: Envelope = {
    cluster: "t",
    sender: S1,
    seq: 0,
    ts: WALL,
    body: { kind: "chat-refused", reason: "name-taken", gen: 1 },
  };
  const actions = core.step({ type: "receive", envelope, now: 1 });
  assert.deepEqual(actions, [{
    type: "notice",
    notice: { kind: "refused", reason: "name-taken" },
  }]);
  assert.equal(core.status().phase, "refused");
  assert.deepEqual(core.step({ type: "send-text", text: "x", ts: WALL, now: 2 }), [
    { type: "notice", notice: { kind: "input-refused", reason: "not-running" } },
  ]);
});

Deno.test("input pauses when the queue is full and resumes below half", () => {
  const c = new Client({ maxQueued: 4, sendWindow: 1 });
  for (let i = 1; i <= 4; i++) c.type(`l${i}`);
  assert.ok(c.actions.some((a) => a.type === "flow" && a.paused));
  const refused = c.type("l5");
  assert.deepEqual(refused.filter((a) => a.type === "notice"), [
    { type: "notice", notice: { kind: "input-refused", reason: "queue-full" } },
  ]);
  c.deliver([entry(1, KEY, 1), entry(2, KEY, 2)]);
  assert.ok(c.actions.some((a) => a.type === "flow" && !a.paused));
});

Deno.test("a line longer than maxTextChars is refused, not sent, with its length and the limit", () => {
  const c = new Client({ maxTextChars: 5 });
  assert.deepEqual(c.type("too long"), [
    { type: "notice", notice: { kind: "input-refused", reason: "too-long", length: 8, limit: 5 } },
  ]);
  assert.equal(c.core.allAcknowledged(), true);
});

Deno.test("maxTextChars counts characters (code points): an emoji is one, not two UTF-16 units", () => {
  const c = new Client({ maxTextChars: 5 });
  assert.deepEqual(c.type("😀😀😀😀😀").filter((a) => a.type === "notice"), []);
  assert.deepEqual(c.type("😀😀😀😀😀😀"), [
    { type: "notice", notice: { kind: "input-refused", reason: "too-long", length: 6, limit: 5 } },
  ]);
});

Deno.test("deferred steps bundle: lines typed together share one post, deliveries are not held", () => {
  const client = new Client();
  const typed: ChatClientAction[] = [];
  for (let i = 1; i <= 5; i++) {
    typed.push(...client.step({ type: "send-text", text: `l${i}`, ts: WALL, now: 0, defer: true }));
  }
  assert.deepEqual(sentBodies(typed, "chat-post"), [], "nothing is sent before the flush");
  const flushed = client.step({ type: "flush", now: 0 });
  const posts = sentBodies(flushed, "chat-post");
  assert.equal(posts.length, 1);
  assert.deepEqual(posts[0].items.map((i) => i.text), ["l1", "l2", "l3", "l4", "l5"]);
  const got: ChatClientAction[] = [];
  for (const seq of [1, 2]) {
    const envelope: Envelope = {
      cluster: "t",
      sender: S1,
      seq,
      ts: WALL,
      body: {
        kind: "chat-deliver",
        commit: seq,
        acked: 0,
        gen: 1,
        entries: [entry(seq)],
        ...NO_LEADER,
      },
    };
    got.push(...client.step({ type: "receive", envelope, now: 0, defer: true }));
  }
  assert.deepEqual(got.flatMap((a) => a.type === "deliver" ? [a.message.seq] : []), [1, 2]);
  assert.deepEqual(sentBodies(got, "chat-ack"), [], "the ack waits for the flush");
  const acks = sentBodies(client.step({ type: "flush", now: 0 }), "chat-ack");
  assert.deepEqual(acks.map((a) => a.next), [3], "one ack for both datagrams");
});
