/**
 * Guarantees of the chat log and of datagram budgeting: an append is stored only after a
 * matching entry, a conflicting uncommitted suffix is replaced, the window stays bounded and only
 * committed entries leave it, a state transfer restarts it after a committed base, and batches
 * stay under their byte budget.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatLog } from "../src/chat/log.ts";
import { ChatReplica } from "../src/chat/replica.ts";
import { jsonBytes, packByBytes, utf8Length } from "../src/chat/size.ts";
import type { ChatEntry } from "../src/wire/messages.ts";

function entry(seq: number, term = 1, text = `t${seq}`): ChatEntry {
  return { seq, term, kind: "text", client: "c~1", cseq: seq, from: "u", text, ts: 0 };
}

function filled(count: number, term = 1): ChatLog {
  const log = new ChatLog();
  for (let seq = 1; seq <= count; seq++) log.append(entry(seq, term));
  return log;
}

Deno.test("an append is stored only after an entry with the expected term", () => {
  const log = filled(3);
  assert.deepEqual(log.store(5, 1, [entry(6)], 0), { ok: false, hint: 3 });
  assert.deepEqual(log.store(3, 2, [entry(4, 2)], 1), { ok: false, hint: 1 });
  assert.deepEqual(log.store(3, 1, [entry(4, 2)], 0), {
    ok: true,
    match: 4,
    conflicts: 0,
    replacedFrom: Infinity,
  });
  assert.equal(log.last, 4);
});

Deno.test("the digest tells equal logs from logs that differ in one entry or in order", () => {
  assert.equal(filled(5).digest(5), filled(5).digest(5));
  assert.notEqual(filled(5).digest(5), filled(5).digest(4), "the range counts");
  assert.notEqual(filled(5).digest(5), filled(5, 2).digest(5), "a term counts");
  const swapped = new ChatLog();
  for (const cseq of [1, 2, 4, 3, 5]) swapped.append({ ...entry(swapped.last + 1), cseq });
  assert.notEqual(swapped.digest(5), filled(5).digest(5), "the order counts");
});

Deno.test("entries that do not follow prev one by one are refused", () => {
  const log = filled(3);
  assert.equal(log.store(3, 1, [entry(5)], 0).ok, false);
  assert.equal(log.last, 3);
});

Deno.test("a conflicting suffix is replaced; entries already held are kept", () => {
  const log = filled(5);
  const result = log.store(2, 1, [entry(3), entry(4, 2, "new")], 2);
  assert.deepEqual(result, { ok: true, match: 4, conflicts: 0, replacedFrom: 4 });
  assert.equal(log.last, 4, "the old entry 5 followed the replaced 4");
  assert.equal(log.get(4)!.text, "new");
  assert.equal(log.get(3)!.text, "t3");
});

Deno.test("replacing a committed entry is counted as a conflict", () => {
  const log = filled(5);
  const result = log.store(2, 1, [entry(3, 7)], 4);
  assert.equal(result.ok && result.conflicts, 2);
});

Deno.test("only committed entries leave the bounded window", () => {
  const log = filled(10);
  log.trim(4, 3);
  assert.deepEqual([log.first, log.last], [5, 10], "stops at the commit point");
  log.trim(10, 3);
  assert.deepEqual([log.first, log.last, log.size], [8, 10, 3]);
  assert.equal(log.termAt(7), 1, "the base keeps its term");
  assert.deepEqual(log.store(7, 1, [entry(8), entry(9)], 10), {
    ok: true,
    match: 9,
    conflicts: 0,
    replacedFrom: Infinity,
  });
});

Deno.test("a state transfer restarts the log after a committed base, never below the commit", () => {
  const replica = new ChatReplica(100, 100);
  for (let seq = 1; seq <= 5; seq++) replica.log.append(entry(seq));
  replica.advanceCommit(5);
  assert.equal(replica.reset(3, 1), false, "entries 4 and 5 are committed here");
  assert.equal(replica.reset(40, 3), true);
  assert.deepEqual([replica.log.first, replica.log.last, replica.commit], [41, 40, 40]);
  assert.equal(replica.complete, false);
  assert.equal(replica.sendersComplete, false);
});

Deno.test("a batch stays under its budget and always takes at least one entry", () => {
  const log = new ChatLog();
  for (let seq = 1; seq <= 50; seq++) log.append(entry(seq, 1, "x".repeat(seq === 1 ? 3000 : 40)));
  assert.equal(log.batch(1, 50, 500, 256).length, 1, "an oversized entry goes alone");
  const batch = log.batch(2, 50, 500, 256);
  assert.ok(batch.length > 1);
  assert.ok(batch.reduce((sum, e) => sum + jsonBytes(e) + 1, 0) <= 500);
  assert.equal(log.batch(2, 50, 100_000, 5).length, 5, "at most maxEntries");
});

Deno.test("item packing respects the byte budget and the item limit", () => {
  const items = Array.from({ length: 100 }, (_, i) => ({ n: i, text: "é".repeat(20) }));
  const batches = packByBytes(items, 1000, 64);
  assert.deepEqual(batches.flat(), items);
  for (const batch of batches) {
    assert.ok(batch.length <= 64);
    assert.ok(jsonBytes(batch) <= 1000, `${jsonBytes(batch)} bytes`);
  }
});

Deno.test("UTF-8 lengths match the encoder's", () => {
  for (const text of ["", "abc", "é", "中文", "🙂x", JSON.stringify("\u0001\ud800")]) {
    assert.equal(utf8Length(text), new TextEncoder().encode(text).length, text);
  }
});

Deno.test("a log trimmed up to a committed base still finds the fork with a log that keeps it", () => {
  const trimmed = filled(10, 5);
  for (let seq = 11; seq <= 14; seq++) trimmed.append(entry(seq, 5, `stale tail ${seq}`));
  trimmed.trim(10, 4);
  assert.equal(trimmed.first, 11, "only the uncommitted tail is left, after base 10");
  const other = filled(10, 5);
  for (let seq = 11; seq <= 20; seq++) other.append(entry(seq, 8));
  other.trim(20, 11);
  assert.equal(other.first, 10, "the other log keeps the base entry, then its term 8 run");
  assert.equal(trimmed.forkPoint(other.runs(32), other.last), 10);
  const elsewhere = filled(10, 6);
  for (let seq = 11; seq <= 20; seq++) elsewhere.append(entry(seq, 8));
  elsewhere.trim(20, 11);
  assert.equal(trimmed.forkPoint(elsewhere.runs(32), elsewhere.last), undefined, "another term");
});
