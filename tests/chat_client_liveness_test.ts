/**
 * The client core's fast path and its clock: when its liveness connection to its server closes,
 * or its server falls quiet for `serverQuietMs` while other servers are heard, it checks the
 * server with an ack and leaves it after `serverCheckMs` of silence (instead of
 * `serverTimeoutMs`), keeps it when it answers (a forged close), and an idle client is due at its
 * next heartbeat rather than at every tick.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig } from "../src/config/mod.ts";
import { type ChatClientAction, ChatClientCore } from "../src/chat/client_core.ts";
import type { Body, Envelope } from "../src/wire/messages.ts";
import { clientSender, serverSender, WALL } from "./sim/chat_harness.ts";

const S1 = serverSender("s1");
const CONFIG = defaultChatConfig();
const TICK_MS = 25;
/** What a live server answers an ack with when it has nothing new: an empty delivery. */
const KEEPALIVE: Body = {
  kind: "chat-deliver",
  commit: 0,
  acked: 0,
  gen: 1,
  entries: [],
  leader: "",
  leaderIncarnation: 0,
};

/** A core attached to s1 and welcomed; `now` is its clock. */
function joined(): { core: ChatClientCore; now: number } {
  const core = new ChatClientCore({
    self: clientSender("me"),
    user: "me",
    config: { ...CONFIG, history: 0 },
  });
  core.step({ type: "start", now: 0 });
  core.step({
    type: "attach",
    server: { id: "s1", incarnation: S1.incarnation, addr: S1.addr },
    now: 0,
  });
  receive(core, 0, {
    kind: "chat-welcome",
    user: "me",
    gen: 1,
    start: 1,
    commit: 0,
    leader: "",
    leaderIncarnation: 0,
  });
  return { core, now: 0 };
}

function receive(core: ChatClientCore, now: number, body: Body): ChatClientAction[] {
  const envelope: Envelope = { cluster: "t", sender: S1, seq: 0, ts: WALL, body };
  return core.step({ type: "receive", envelope, now });
}

/** Ticks every `TICK_MS` from `from` through `to`; returns every action. */
function ticks(core: ChatClientCore, from: number, to: number): ChatClientAction[] {
  const out: ChatClientAction[] = [];
  for (let t = from + TICK_MS; t <= to; t += TICK_MS) {
    out.push(...core.step({ type: "tick", now: t }));
  }
  return out;
}

const lost = (actions: ChatClientAction[]) => actions.some((a) => a.type === "need-server");

Deno.test("a closed connection and a silent server: the client looks for another after the check", () => {
  const { core } = joined();
  const closedAt = 1_000;
  ticks(core, 0, closedAt - TICK_MS);
  const onClose = core.step({ type: "server-closed", now: closedAt });
  assert.ok(onClose.some((a) => a.type === "send" && a.body.kind === "chat-ack"), "checks at once");
  const actions = ticks(core, closedAt - TICK_MS, closedAt + CONFIG.serverCheckMs + 2 * TICK_MS);
  assert.ok(lost(actions), "left the silent server");
  assert.ok(CONFIG.serverCheckMs + 2 * TICK_MS < CONFIG.serverTimeoutMs);
  assert.equal(core.status().phase, "detached");
});

Deno.test("a server that answers after its connection closed is kept (a forged close)", () => {
  const { core } = joined();
  core.step({ type: "server-closed", now: 1_000 });
  receive(core, 1_001, KEEPALIVE);
  // The server keeps answering its heartbeats; no check is left pending.
  let actions: ChatClientAction[] = [];
  for (let t = 1_000; t < 1_000 + 3 * CONFIG.serverCheckMs; t += TICK_MS) {
    actions = actions.concat(core.step({ type: "tick", now: t }));
  }
  assert.ok(!lost(actions));
  assert.equal(core.status().phase, "joined");
});

Deno.test("an idle joined client is due at its next heartbeat; earlier ticks do nothing", () => {
  const { core } = joined();
  ticks(core, 0, 100);
  const now = 100;
  const due = core.dueAt();
  assert.ok(due > now + TICK_MS, `due ${due - now} ms after the last tick`);
  assert.ok(due <= now + CONFIG.clientHeartbeatMs);
  assert.deepEqual(core.step({ type: "tick", now: due - 1 }), []);
  const atDue = core.step({ type: "tick", now: due });
  assert.ok(atDue.some((a) => a.type === "send" && a.body.kind === "chat-ack"));
});

Deno.test("a client with a line not yet acknowledged is due at once", () => {
  const { core } = joined();
  core.step({ type: "send-text", text: "hi", ts: WALL, now: 10 });
  assert.equal(core.dueAt(), 10);
});

/** A heartbeat of server s2 on the group, as a client joined to it hears it. */
function othersHeartbeat(core: ChatClientCore, now: number): ChatClientAction[] {
  const envelope: Envelope = {
    cluster: "t",
    sender: serverSender("s2"),
    seq: 0,
    ts: WALL,
    body: {
      kind: "heartbeat",
      version: "0",
      priority: 0,
      leader: "s2",
      term: 1,
      view: 1,
      joining: false,
    },
  };
  return core.step({ type: "receive", envelope, now });
}

/**
 * Ticks after `from` through `to` while s2's heartbeats come every 100 ms (s1 silent); returns
 * every action.
 */
function othersAlive(core: ChatClientCore, from: number, to: number): ChatClientAction[] {
  const out: ChatClientAction[] = [];
  for (let t = from + TICK_MS; t <= to; t += TICK_MS) {
    if (t % 100 === 0) out.push(...othersHeartbeat(core, t));
    out.push(...core.step({ type: "tick", now: t }));
  }
  return out;
}

Deno.test("its server silent while others are heard: checked after serverQuietMs, left after the check", () => {
  const { core } = joined();
  const { serverQuietMs, serverCheckMs, serverTimeoutMs } = CONFIG;
  const before = othersAlive(core, 0, serverQuietMs - TICK_MS);
  assert.ok(!lost(before), "not before serverQuietMs");
  const check = othersAlive(core, serverQuietMs - TICK_MS, serverQuietMs);
  assert.ok(check.some((a) => a.type === "send" && a.body.kind === "chat-ack"), "checked");
  const after = othersAlive(core, serverQuietMs, serverQuietMs + serverCheckMs + 2 * TICK_MS);
  assert.ok(lost(after), "left the quiet server");
  assert.ok(
    serverQuietMs + serverCheckMs + 2 * TICK_MS < serverTimeoutMs,
    "sooner than the timeout",
  );
});

Deno.test("its server silent and no other heard (no group): only serverTimeoutMs leaves it", () => {
  const { core } = joined();
  const { serverQuietMs, serverCheckMs, serverTimeoutMs } = CONFIG;
  assert.ok(!lost(ticks(core, 0, serverQuietMs + serverCheckMs + 4 * TICK_MS)));
  assert.ok(
    lost(ticks(core, serverQuietMs + serverCheckMs + 4 * TICK_MS, serverTimeoutMs + TICK_MS)),
  );
});

Deno.test("a quiet server that answers the check is kept", () => {
  const { core } = joined();
  const { serverQuietMs } = CONFIG;
  othersAlive(core, 0, serverQuietMs + TICK_MS);
  receive(core, serverQuietMs + 2 * TICK_MS, KEEPALIVE);
  const { serverCheckMs } = CONFIG;
  // The check is answered; the server then keeps quiet less than serverQuietMs again.
  const after = othersAlive(
    core,
    serverQuietMs + 2 * TICK_MS,
    serverQuietMs + 2 * TICK_MS + serverCheckMs + 2 * TICK_MS,
  );
  assert.ok(!lost(after), "kept");
  assert.equal(core.status().phase, "joined");
});

Deno.test("a quiet server that answers the check at the instant it began is kept", () => {
  const { core } = joined();
  const { serverQuietMs, serverCheckMs } = CONFIG;
  const check = othersAlive(core, 0, serverQuietMs);
  assert.ok(check.some((a) => a.type === "send" && a.body.kind === "chat-ack"), "checked");
  receive(core, serverQuietMs, KEEPALIVE);
  const after = othersAlive(core, serverQuietMs, serverQuietMs + serverCheckMs + 2 * TICK_MS);
  assert.ok(!lost(after), "left a server that answered the check");
});
