/**
 * The client's memory of delivered entries (the re-anchoring after a merge relies on it): it
 * keeps the last `capacity` entries through growth and wrap-around, computes the same term-run
 * starts as a plain list, and gives back what it forgets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DeliveredMemory } from "../src/chat/delivered.ts";
import { messageId } from "../src/chat/keys.ts";
import { entryMark } from "../src/chat/log.ts";
import type { ChatEntry, ChatRunStart } from "../src/wire/messages.ts";

function entry(seq: number, term: number, kind: ChatEntry["kind"] = "text"): ChatEntry {
  const client = `c${seq % 7}~1`;
  return { seq, term, kind, client, cseq: seq, from: "u", text: `line ${seq}`, ts: 1e12 + seq };
}

/** The run starts of `entries` as the client core computed them before the ring. */
function naiveRuns(entries: ChatEntry[], max: number): ChatRunStart[] {
  const runs: ChatRunStart[] = [];
  for (let i = entries.length - 1; i >= 0 && runs.length < max; i--) {
    const { seq, term } = entries[i];
    if (i === 0 || entries[i - 1].term !== term || entries[i - 1].seq !== seq - 1) {
      runs.push({ seq, term, mark: entryMark(entries[i]) });
    }
  }
  return runs.reverse();
}

/** A small seeded generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("delivered memory keeps the last `capacity` entries across growth and wrap-around", () => {
  const memory = new DeliveredMemory(300);
  const all: ChatEntry[] = [];
  for (let seq = 1; seq <= 1000; seq++) {
    const e = entry(seq, seq <= 800 ? 1 : 2);
    all.push(e);
    memory.remember(e);
  }
  assert.deepEqual(memory.size, 300);
  assert.deepEqual(memory.runs(32), naiveRuns(all.slice(-300), 32));
  assert.deepEqual(memory.runs(32).map((r) => r.seq), [701, 801]);
});

Deno.test("delivered memory gives back what it forgets, with ids of lines and marks", () => {
  const memory = new DeliveredMemory(100);
  const kept = [entry(1, 1), entry(2, 1, "join"), entry(3, 1)];
  for (const e of kept) memory.remember(e);
  const forgotten = memory.forgetFrom(2);
  assert.deepEqual(forgotten, [
    { seq: 2, mark: entryMark(kept[1]), id: undefined },
    { seq: 3, mark: entryMark(kept[2]), id: messageId(kept[2].client, 3) },
  ]);
  assert.deepEqual(memory.size, 1);
  memory.remember(entry(2, 4));
  assert.deepEqual(memory.runs(32).map((r) => [r.seq, r.term]), [[1, 1], [2, 4]]);
  assert.deepEqual(memory.forgetFrom(100), []);
});

Deno.test("delivered memory agrees with the plain list on random delivery histories", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const next = random(seed);
    const capacity = 1 + Math.floor(next() * 600);
    const memory = new DeliveredMemory(capacity);
    let list: ChatEntry[] = [];
    let seq = 1;
    let term = 1;
    for (let step = 0; step < 1500; step++) {
      const roll = next();
      if (roll < 0.01 && list.length > 0) {
        const start = list[Math.floor(next() * list.length)].seq;
        const expected = list.filter((e) => e.seq >= start).map((e) => e.seq);
        assert.deepEqual(memory.forgetFrom(start).map((r) => r.seq), expected, `seed ${seed}`);
        list = list.filter((e) => e.seq < start);
        seq = start;
        term++;
        continue;
      }
      if (roll < 0.03) term++;
      if (roll > 0.98) seq += 1 + Math.floor(next() * 5);
      const kind = next() < 0.1 ? "join" : "text";
      const e = entry(seq++, term, kind);
      list.push(e);
      memory.remember(e);
      list = list.slice(-capacity);
    }
    assert.deepEqual(memory.size, list.length, `seed ${seed}`);
    assert.deepEqual(memory.runs(32), naiveRuns(list, 32), `seed ${seed}`);
  }
});
