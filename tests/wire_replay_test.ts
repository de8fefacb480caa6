/**
 * Tests of the replay guard: each datagram is accepted once, stale ones never, memory bounded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ReplayGuard } from "../src/wire/mod.ts";

const NOW = 1_750_000_000_000;

function guard(window = 64, maxSenders = 16, maxClockSkewMs = 1000): ReplayGuard {
  return new ReplayGuard({ window, maxSenders, maxClockSkewMs });
}

Deno.test("the same sequence number is accepted once, then replayed", () => {
  const g = guard();
  assert.equal(g.check("a", 1, 1, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 1, NOW, NOW), "replayed");
  assert.equal(g.check("b", 1, 1, NOW, NOW), "ok");
});

Deno.test("reordered datagrams inside the window are accepted once each", () => {
  const g = guard(64);
  for (const seq of [10, 7, 9, 8, 3, 11]) assert.equal(g.check("a", 1, seq, NOW, NOW), "ok");
  for (const seq of [10, 7, 9, 8, 3, 11]) assert.equal(g.check("a", 1, seq, NOW, NOW), "replayed");
});

Deno.test("the window slides: below it is too-old, inside it is remembered", () => {
  const g = guard(32);
  assert.equal(g.check("a", 1, 100, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 69, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 68, NOW, NOW), "too-old");
  assert.equal(g.check("a", 1, 110, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 78, NOW, NOW), "too-old");
  assert.equal(g.check("a", 1, 79, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 100, NOW, NOW), "replayed");
  assert.equal(g.check("a", 1, 101, NOW, NOW), "ok");
});

Deno.test("sliding clears the slots it reuses, also after a jump past the whole window", () => {
  const g = guard(40);
  for (let seq = 1; seq <= 40; seq++) assert.equal(g.check("a", 1, seq, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 60, NOW, NOW), "ok");
  for (let seq = 41; seq < 60; seq++) assert.equal(g.check("a", 1, seq, NOW, NOW), "ok", `${seq}`);
  assert.equal(g.check("a", 1, 5000, NOW, NOW), "ok");
  for (let seq = 4961; seq < 5000; seq++) {
    assert.equal(g.check("a", 1, seq, NOW, NOW), "ok", `${seq}`);
  }
  assert.equal(g.check("a", 1, 4960, NOW, NOW), "too-old");
});

Deno.test("a window of one accepts only increasing sequence numbers", () => {
  const g = guard(1);
  assert.equal(g.check("a", 1, 5, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 5, NOW, NOW), "replayed");
  assert.equal(g.check("a", 1, 4, NOW, NOW), "too-old");
  assert.equal(g.check("a", 1, 6, NOW, NOW), "ok");
});

Deno.test("an older incarnation is too-old; a newer one starts a fresh window", () => {
  const g = guard();
  assert.equal(g.check("a", 5, 1000, NOW, NOW), "ok");
  assert.equal(g.check("a", 4, 2000, NOW, NOW), "too-old");
  assert.equal(g.check("a", 6, 1, NOW, NOW), "ok");
  assert.equal(g.check("a", 6, 1, NOW, NOW), "replayed");
  assert.equal(g.check("a", 5, 1001, NOW, NOW), "too-old");
});

Deno.test("a timestamp beyond the clock skew either way is too-old and remembered nowhere", () => {
  const g = guard(64, 16, 1000);
  assert.equal(g.check("a", 1, 1, NOW - 1001, NOW), "too-old");
  assert.equal(g.check("a", 1, 1, NOW + 1001, NOW), "too-old");
  assert.equal(g.check("a", 1, 1, NaN, NOW), "too-old");
  assert.equal(g.size, 0);
  assert.equal(g.check("a", 1, 1, NOW - 1000, NOW), "ok");
  assert.equal(g.check("a", 1, 2, NOW + 1000, NOW), "ok");
});

Deno.test("at most maxSenders are tracked, forgetting the least recently heard", () => {
  const g = guard(64, 2);
  assert.equal(g.check("a", 1, 1, NOW, NOW), "ok");
  assert.equal(g.check("b", 1, 1, NOW, NOW), "ok");
  assert.equal(g.check("a", 1, 2, NOW, NOW), "ok");
  assert.equal(g.check("c", 1, 1, NOW, NOW), "ok");
  assert.equal(g.size, 2);
  assert.equal(g.check("a", 1, 2, NOW, NOW), "replayed");
  assert.equal(g.check("c", 1, 1, NOW, NOW), "replayed");
  assert.equal(g.check("b", 1, 1, NOW, NOW), "ok", "b was forgotten, so it starts afresh");
  assert.equal(g.size, 2);
});

Deno.test("ten thousand senders stay within the bound", () => {
  const g = guard(1024, 100);
  for (let i = 0; i < 10_000; i++) g.check(`s${i}`, 1, 1, NOW, NOW);
  assert.equal(g.size, 100);
  assert.equal(g.check("s9999", 1, 1, NOW, NOW), "replayed");
});

Deno.test("nonsense options are refused", () => {
  assert.throws(() => guard(0), RangeError);
  assert.throws(() => guard(1.5), RangeError);
  assert.throws(() => guard(64, 0), RangeError);
  assert.throws(() => guard(64, 1, -1), RangeError);
  assert.throws(() => guard(64, 1, NaN), RangeError);
});
