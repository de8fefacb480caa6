import assert from "node:assert/strict";
import { SeededRandom } from "../src/util/random.ts";

Deno.test("shuffle returns a permutation and draws the same numbers whatever ran before", () => {
  const items = Array.from({ length: 9 }, (_, i) => i);
  const fresh = new SeededRandom(659).shuffle(items);
  assert.deepEqual([...fresh].sort((a, b) => a - b), items);
  const rng = new SeededRandom(659);
  const again = rng.shuffle(items);
  assert.deepEqual(again, fresh);
  const next = new SeededRandom(659);
  for (let i = 0; i < items.length - 1; i++) next.next();
  assert.equal(rng.next(), next.next(), "shuffle of n items draws exactly n - 1 numbers");
  assert.deepEqual(items, Array.from({ length: 9 }, (_, i) => i), "the input is not changed");
});
