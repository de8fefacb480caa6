/**
 * The stop signals per platform, with the platform and the listener registry passed in, so the
 * Windows code path runs here: Windows delivers Ctrl+C (SIGINT) and Ctrl+Break (SIGBREAK) and
 * no SIGTERM (Deno refuses a SIGTERM listener there); Linux and macOS deliver SIGINT and SIGTERM.
 * A chat stopped by Ctrl+Break exits like one stopped by Ctrl+C.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exitCodeOnStop } from "../cmd/chat.ts";
import { onStopSignals, stopSignal, type StopSignalName } from "../cmd/signals.ts";

/** A stand-in for `process.on`: records the listeners and fires them on demand. */
function fakeProcess() {
  const listeners = new Map<string, (() => void)[]>();
  return {
    add: (signal: StopSignalName, listener: () => void) => {
      listeners.set(signal, [...(listeners.get(signal) ?? []), listener]);
    },
    signals: () => [...listeners.keys()].sort(),
    fire: (signal: string) => {
      for (const listener of listeners.get(signal) ?? []) listener();
    },
  };
}

Deno.test("stop signals: Windows listens to SIGINT and SIGBREAK only, and both stop", () => {
  const fake = fakeProcess();
  const received: StopSignalName[] = [];
  onStopSignals((signal) => received.push(signal), "win32", fake.add);
  assert.deepEqual(fake.signals(), ["SIGBREAK", "SIGINT"]);
  fake.fire("SIGBREAK");
  fake.fire("SIGINT");
  fake.fire("SIGBREAK");
  assert.deepEqual(received, ["SIGBREAK", "SIGINT", "SIGBREAK"]);
});

for (const platform of ["linux", "darwin"]) {
  Deno.test(`stop signals: ${platform} listens to SIGINT and SIGTERM`, () => {
    const fake = fakeProcess();
    const received: StopSignalName[] = [];
    onStopSignals((signal) => received.push(signal), platform, fake.add);
    assert.deepEqual(fake.signals(), ["SIGINT", "SIGTERM"]);
    fake.fire("SIGTERM");
    assert.deepEqual(received, ["SIGTERM"]);
  });
}

Deno.test("stopSignal on Windows resolves with the first Ctrl+Break; repeats are swallowed", async () => {
  const fake = fakeProcess();
  const stopped = stopSignal("win32", fake.add);
  fake.fire("SIGBREAK");
  fake.fire("SIGINT");
  assert.equal(await stopped, "SIGBREAK");
});

Deno.test("chat exit code on stop: 130 for Ctrl+C and Ctrl+Break, 0 for SIGTERM", () => {
  assert.equal(exitCodeOnStop("SIGINT"), 130);
  assert.equal(exitCodeOnStop("SIGBREAK"), 130);
  assert.equal(exitCodeOnStop("SIGTERM"), 0);
});
