import assert from "node:assert/strict";
import {
  formatSseEvent,
  historyFor,
  parseLastEventId,
  type WebEvent,
  WebSessionCore,
} from "../src/web/session_core.ts";

const messages = (events: WebEvent[]) =>
  events.flatMap((e) => e.type === "message" ? [`${e.seq}:${e.from}:${e.text}`] : []);

Deno.test("a reconnecting stream gets exactly the events after its Last-Event-ID", () => {
  const core = new WebSessionCore({ user: "ann", replayEvents: 100 });
  core.joined(0);
  for (let seq = 1; seq <= 5; seq++) core.message(seq, "bob", `line ${seq}`, 0);
  core.system("joined", "carol joined", 6);
  core.system("server-lost", "lost server x");
  const { events, complete } = core.replay(3);
  assert.ok(complete);
  assert.deepEqual(messages(events), ["4:bob:line 4", "5:bob:line 5"]);
  assert.deepEqual(events.at(-1), { type: "system", kind: "joined", text: "carol joined", seq: 6 });
  assert.equal(core.replay(6).events.length, 0);
  assert.equal(core.replay(undefined).events.length, 6);
});

Deno.test("replay says so when memory no longer reaches back to the last id", () => {
  const core = new WebSessionCore({ user: "ann", replayEvents: 3 });
  core.joined(0);
  for (let seq = 1; seq <= 10; seq++) core.message(seq, "bob", `l${seq}`, 0);
  assert.equal(core.replay(2).complete, false);
  assert.deepEqual(messages(core.replay(2).events), ["8:bob:l8", "9:bob:l9", "10:bob:l10"]);
  assert.equal(core.replay(7).complete, true);
});

Deno.test("a session resuming on another server drops what the page showed, once each", () => {
  const core = new WebSessionCore({ user: "ann", resumeFrom: 4, replayEvents: 100 });
  const shown: WebEvent[] = [];
  shown.push(...core.joined(7).events);
  for (let seq = 2; seq <= 7; seq++) shown.push(...core.message(seq, "bob", `l${seq}`, 0).events);
  assert.deepEqual(messages(shown), ["5:bob:l5", "6:bob:l6", "7:bob:l7"]);
  assert.ok(shown.some((e) => e.type === "ready"));
  assert.ok(!shown.some((e) => e.type === "system" && e.kind === "missed"));
});

Deno.test("positions the page never sees (other rooms) still make the session ready", () => {
  const core = new WebSessionCore({ user: "ann", resumeFrom: 4, replayEvents: 100 });
  core.post("a", "one");
  core.joined(9);
  core.message(6, "bob", "lobby line", 0);
  assert.equal(core.ready, false);
  const out = core.progress(9);
  assert.equal(core.ready, true);
  assert.deepEqual(out.send, ["one"]);
  assert.deepEqual(out.events, [{ type: "ready", user: "ann" }]);
});

Deno.test("actions and direct messages keep their kind and never take a posted line's id", () => {
  const core = new WebSessionCore({ user: "ann", replayEvents: 100 });
  core.joined(0);
  core.progress(0);
  core.post("a", "hello");
  const direct = core.message(1, "ann", "psst", 0, { kind: "direct", to: "bob" }).events[0];
  assert.deepEqual(direct, {
    type: "message",
    seq: 1,
    from: "ann",
    text: "psst",
    ts: 0,
    kind: "direct",
    to: "bob",
  });
  const own = core.message(2, "ann", "hello", 0).events[0];
  assert.equal(own.type === "message" ? own.lid : undefined, "a");
});

Deno.test("lines posted before ready wait, then go in order and carry their ids back", () => {
  const core = new WebSessionCore({ user: "ann", resumeFrom: 2, replayEvents: 100 });
  assert.deepEqual(core.post("a", "one"), { events: [], send: [] });
  assert.deepEqual(core.post("b", "two"), { events: [], send: [] });
  assert.deepEqual(core.joined(3).send, []);
  // An own line of the session before (the server that died had sent it): no lid.
  const before = core.message(3, "ann", "zero", 0);
  assert.deepEqual(before.send, ["one", "two"]);
  const old = before.events.find((e) => e.type === "message");
  assert.equal(old?.type === "message" ? old.lid : "?", undefined);
  assert.deepEqual(core.post("c", "three").send, ["three"]);
  const lids = [4, 5, 6].map((seq, i) => {
    const event = core.message(seq, "ann", ["one", "two", "three"][i], 0).events[0];
    return event.type === "message" ? event.lid : undefined;
  });
  assert.deepEqual(lids, ["a", "b", "c"]);
});

Deno.test("a fresh session is ready once it delivered the commit it joined at", () => {
  const core = new WebSessionCore({ user: "ann", replayEvents: 100 });
  core.joined(5);
  assert.equal(core.ready, false);
  core.message(4, "bob", "x", 0);
  assert.equal(core.ready, false);
  const out = core.system("joined", "ann joined", 5);
  assert.equal(core.ready, true);
  assert.deepEqual(out.events.at(-1), { type: "ready", user: "ann" });
});

Deno.test("SSE format: id only for events with a place, JSON keeps line breaks escaped", () => {
  const text = formatSseEvent({ type: "message", seq: 7, from: "a", text: "x\n\ndata: y", ts: 1 });
  assert.equal(
    text,
    'id: 7\ndata: {"type":"message","seq":7,"from":"a","text":"x\\n\\ndata: y","ts":1}\n\n',
  );
  assert.equal(
    formatSseEvent({ type: "users", users: [] }),
    'data: {"type":"users","users":[]}\n\n',
  );
});

Deno.test("Last-Event-ID parsing and the history a resume asks for", () => {
  assert.equal(parseLastEventId("42"), 42);
  assert.equal(parseLastEventId(" 0 "), 0);
  for (const bad of [null, undefined, "", "-1", "1e3", "abc", "9".repeat(20)]) {
    assert.equal(parseLastEventId(bad), undefined, String(bad));
  }
  assert.equal(historyFor(undefined, 500, 100, 10_000), 100);
  assert.equal(historyFor(300, 500, 100, 10_000), 300);
  assert.equal(historyFor(499, 500, 100, 10_000), 101);
  assert.equal(historyFor(0, 50_000, 100, 10_000), 10_000);
});

Deno.test("after a healed split a resumed session passes on the other side's lines", () => {
  const core = new WebSessionCore({ user: "ann", resumeFrom: 10, replayEvents: 100 });
  core.joined(10);
  assert.deepEqual(messages(core.message(9, "bob", "seen", 0).events), []);
  core.system("reordered", "the split healed", undefined);
  const after = [8, 9].flatMap((seq) => core.message(seq, "eve", `other ${seq}`, 0).events);
  assert.deepEqual(messages(after), ["8:eve:other 8", "9:eve:other 9"]);
});

Deno.test("a replay after a healed split follows the order delivered, not positions", () => {
  const core = new WebSessionCore({ user: "ann", replayEvents: 100 });
  core.joined(0);
  for (let seq = 1; seq <= 5; seq++) core.message(seq, "bob", `l${seq}`, 0);
  core.system("reordered", "the split healed", undefined);
  core.message(2, "eve", "other 2", 0);
  core.message(3, "eve", "other 3", 0);
  // The stream dropped after line 5, before the other side's lines came.
  assert.deepEqual(messages(core.replay(5).events), ["2:eve:other 2", "3:eve:other 3"]);
  // It dropped after "other 2": the last event with that id is where the page stopped.
  assert.deepEqual(messages(core.replay(2).events), ["3:eve:other 3"]);
});
