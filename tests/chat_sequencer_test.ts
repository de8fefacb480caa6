/**
 * Guarantees of the sequencer's admission and of the name directory: a client's lines are
 * sequenced in its order and once, a client's next line is never starved by others' early lines,
 * a full leader refuses rather than buffers without bound; names are unique, leases expire, and
 * an old attachment cannot take a name back.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Directory } from "../src/chat/directory.ts";
import { SenderTable, Sequencer } from "../src/chat/sequencer.ts";
import type { ChatClaim, ChatForwardItem } from "../src/wire/messages.ts";

function item(client: string, cseq: number, acked = 0): ChatForwardItem {
  return { client, user: client, acked, cseq, text: `${client}${cseq}`, ts: 0 };
}

function sequencer(options: { room?: () => boolean; maxBuffered?: number; orderWindow?: number }) {
  const sequenced: string[] = [];
  const senders = new SenderTable(100);
  const s = new Sequencer({
    senders,
    orderWindow: options.orderWindow ?? 8,
    maxBuffered: options.maxBuffered ?? 100,
    room: options.room ?? (() => true),
    sequence: (i) => sequenced.push(i.text),
  });
  return { s, sequenced, senders };
}

Deno.test("a client's lines are sequenced in its order, each once", () => {
  const { s, sequenced } = sequencer({});
  assert.equal(s.offer(item("a", 3)), "ok");
  assert.equal(s.offer(item("a", 2)), "ok");
  assert.deepEqual(sequenced, []);
  assert.equal(s.offer(item("a", 1)), "ok");
  assert.equal(s.offer(item("a", 2)), "duplicate");
  assert.deepEqual(sequenced, ["a1", "a2", "a3"]);
  assert.equal(s.buffered, 0);
});

Deno.test("lines beyond the order window are refused", () => {
  const { s } = sequencer({ orderWindow: 4 });
  assert.equal(s.offer(item("a", 5)), "busy");
  assert.equal(s.offer(item("a", 4)), "ok");
});

Deno.test("an unknown client starts after the lines it says were acknowledged", () => {
  const { s, sequenced } = sequencer({});
  assert.equal(s.offer(item("a", 7, 6)), "ok");
  assert.equal(s.offer(item("a", 6, 5)), "duplicate");
  assert.deepEqual(sequenced, ["a7"]);
});

Deno.test("a known client's acknowledged lines the leader lacks are waited for, not skipped", () => {
  const { s, sequenced, senders } = sequencer({ orderWindow: 32 });
  senders.note("a", 5);
  assert.equal(s.offer(item("a", 21, 20)), "ok");
  assert.deepEqual(sequenced, [], "lines 6-20 were committed elsewhere: they come first");
  for (let cseq = 6; cseq <= 20; cseq++) s.offer(item("a", cseq));
  assert.deepEqual(sequenced, Array.from({ length: 16 }, (_, k) => `a${k + 6}`));
});

Deno.test("others' early lines never starve a client's next line", () => {
  const { s, sequenced } = sequencer({ maxBuffered: 2 });
  assert.equal(s.offer(item("b", 2)), "ok");
  assert.equal(s.offer(item("c", 2)), "ok");
  assert.equal(s.offer(item("d", 2)), "busy", "the buffer is full");
  assert.equal(s.offer(item("a", 1)), "ok", "a next line needs no buffer");
  assert.deepEqual(sequenced, ["a1"]);
});

Deno.test("without room the leader refuses a next line, and drains buffered ones later", () => {
  let room = false;
  const { s, sequenced } = sequencer({ room: () => room });
  assert.equal(s.offer(item("a", 1)), "busy");
  assert.equal(s.offer(item("a", 2)), "ok");
  room = true;
  assert.equal(s.offer(item("a", 1)), "ok");
  assert.deepEqual(sequenced, ["a1", "a2"]);
  room = false;
  s.offer(item("b", 2));
  room = true;
  s.offer(item("b", 1));
  s.drainAll();
  assert.deepEqual(sequenced, ["a1", "a2", "b1", "b2"]);
});

Deno.test("the sender table is bounded and pages in key order", () => {
  const table = new SenderTable(3);
  for (const client of ["d", "a", "c", "b"]) table.note(client, 1);
  assert.equal(table.get("d"), undefined, "the least recently used is forgotten");
  table.note("a", 5);
  table.note("a", 2);
  assert.equal(table.get("a"), 5, "never goes back");
  const first = table.page("", 1000, 2);
  assert.deepEqual(first, {
    senders: [{ client: "a", cseq: 5 }, { client: "b", cseq: 1 }],
    done: false,
  });
  assert.deepEqual(table.page("b", 1000, 2), { senders: [{ client: "c", cseq: 1 }], done: true });
});

function claim(user: string, client: string, gen = 1, op: ChatClaim["op"] = "hold"): ChatClaim {
  return { user, client, gen, op };
}

function directory(settledAt = 0) {
  return new Directory({ maxUsers: 2, clientTimeoutMs: 1000, settledAt }, new Map(), 0);
}

Deno.test("a name is granted once; another client gets name-taken", () => {
  const d = directory();
  assert.deepEqual(d.claim(claim("carol", "c1"), "s1", 0), {
    result: { user: "carol", client: "c1", gen: 1, ok: true, reason: "" },
    change: { kind: "join", user: "carol", client: "c1", text: "s1" },
  });
  assert.equal(d.claim(claim("carol", "c2"), "s2", 0).result?.reason, "name-taken");
  assert.deepEqual(d.claim(claim("carol", "c1"), "s1", 10).change, undefined, "a renewal");
});

Deno.test("the directory is bounded", () => {
  const d = directory();
  d.claim(claim("a", "c1"), "s1", 0);
  d.claim(claim("b", "c2"), "s1", 0);
  assert.equal(d.claim(claim("c", "c3"), "s1", 0).result?.reason, "full");
});

Deno.test("an unrenewed lease expires; a renewed one does not", () => {
  const d = directory();
  d.claim(claim("a", "c1"), "s1", 0);
  d.claim(claim("b", "c2"), "s1", 0);
  d.claim(claim("b", "c2"), "s1", 600);
  assert.deepEqual(d.expire(1_000), [{ kind: "leave", user: "a", client: "c1", text: "timeout" }]);
  assert.equal(d.size, 1);
});

Deno.test("an older attachment can neither hold nor release a name that moved", () => {
  const d = directory();
  d.claim(claim("a", "c1", 1), "s1", 0);
  d.claim(claim("a", "c1", 2), "s2", 0);
  assert.equal(d.claim(claim("a", "c1", 1), "s1", 0).result?.reason, "moved");
  const release = d.claim(claim("a", "c1", 1, "timeout"), "s1", 0);
  assert.deepEqual([release.result?.ok, release.change], [true, undefined]);
  assert.equal(d.size, 1);
});

Deno.test("a leader that lacks history grants no unknown name before it settles", () => {
  const d = directory(500);
  assert.deepEqual(d.claim(claim("a", "c1"), "s1", 100), {});
  assert.equal(d.claim(claim("a", "c1"), "s1", 500).result?.ok, true);
});
