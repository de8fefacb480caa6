/**
 * `dsys probe --watch`: rounds back to back until stopped; plain repeated output off a
 * terminal, a redrawn screen with a spinner on one; a stop in the middle of a round ends it
 * at once and keeps the last complete result.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SPINNER, watch } from "../src/probe/watch.ts";

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** A stop promise and the function that resolves it. */
function stopper(): { stop: Promise<void>; fire: () => void } {
  let fire = () => {};
  const stop = new Promise<void>((resolve) => (fire = resolve));
  return { stop, fire };
}

Deno.test("off a terminal: each result written in turn, no control codes, last one returned", async () => {
  const { stop, fire } = stopper();
  const out: string[] = [];
  let rounds = 0;
  const last = await watch({
    round: async () => {
      rounds++;
      if (rounds === 3) fire();
      await sleep(5);
      return rounds;
    },
    render: (n) => `result ${n}\n`,
    write: (text) => out.push(text),
    tty: false,
    stop,
  });
  assert.deepEqual(out, ["result 1\n", "result 2\n"]);
  assert.equal(last, 2);
  assert.ok(out.every((text) => !text.includes("\x1b")));
});

Deno.test("on a terminal: a spinner while waiting, then the screen redrawn", async () => {
  const { stop, fire } = stopper();
  const out: string[] = [];
  let rounds = 0;
  const last = await watch({
    round: async (signal) => {
      rounds++;
      await sleep(rounds === 1 ? 100 : 1000, signal);
      return rounds;
    },
    render: (n) => `result ${n}\n`,
    write: (text) => {
      out.push(text);
      if (text.includes("result 1")) setTimeout(fire, 25);
    },
    tty: true,
    stop,
    spinnerMs: 10,
    now: () => new Date(2026, 0, 1, 15, 4, 5),
  });
  assert.equal(last, 1, "the interrupted second round is not a result");
  const frames = out.filter((text) => text.startsWith("\r\x1b[K") && text.length > 4);
  assert.ok(frames.length >= 2, `spinner frames: ${JSON.stringify(out)}`);
  assert.equal(frames[0], `\r\x1b[K${SPINNER[0]} probing (round 1)`);
  assert.equal(frames[1], `\r\x1b[K${SPINNER[1]} probing (round 1)`);
  const screen = out.find((text) => text.includes("result 1"))!;
  assert.ok(screen.startsWith("\x1b[H\x1b[2Jresult 1\n"), JSON.stringify(screen));
  assert.match(screen, /round 1 at 15:04:05; Ctrl\+C to stop\n$/, "a 24-hour clock");
  assert.ok(out.some((text) => text.includes("probing (round 2)")));
  assert.equal(out.at(-1), "\r\x1b[K", "the spinner line is cleared at the end");
});

Deno.test("a stop before the first result returns nothing", async () => {
  const { stop, fire } = stopper();
  setTimeout(fire, 10);
  const last = await watch({
    round: (signal) => sleep(5_000, signal).then(() => 1),
    render: String,
    write: () => {},
    tty: false,
    stop,
  });
  assert.equal(last, undefined);
});
