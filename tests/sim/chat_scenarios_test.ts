/**
 * Chat scenarios that read like scripts, each at 30% loss with duplication and reordering, run in
 * the full simulator (server cores elect, chat cores sequence) under every delivery invariant.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultChatConfig } from "../../src/config/mod.ts";
import { type ChatClientSpec, type ChatSchedule, runChatSchedule } from "./chat_schedule.ts";
import type { NetworkModel } from "./simulator.ts";

const LOSSY: NetworkModel = {
  latencyMs: 0.2,
  jitterMs: 3,
  loss: 0.3,
  duplicate: 0.05,
  multicast: true,
};

/** A client that starts at `startAt` and types `count` lines, one every `everyMs`. */
function client(i: number, startAt: number, count: number, everyMs = 60, history = 100) {
  const lines = Array.from({ length: count }, (_, k) => startAt + 400 + k * everyMs);
  return { id: `c${i}`, user: `user${i}`, history, startAt, lines } satisfies ChatClientSpec;
}

function scenario(fields: Partial<ChatSchedule>): ChatSchedule {
  return {
    seed: 7,
    servers: ["s0", "s1", "s2"],
    initial: ["s0", "s1", "s2"],
    clients: [client(0, 0, 40), client(1, 100, 40), client(2, 200, 40)],
    network: LOSSY,
    chat: defaultChatConfig(),
    faults: [],
    drainMs: 60_000,
    ...fields,
  };
}

Deno.test("the leader crashes during traffic: nothing acknowledged is lost, all agree", () => {
  const report = runChatSchedule(
    scenario({ faults: [{ at: 2_000, do: { type: "crash-leader" } }] }),
  );
  assert.equal(report.acked, 120);
  assert.ok((report.events["server leading"] ?? 0) >= 2, "a second leader took over");
});

Deno.test("every server but one crashes during traffic, the leader first", () => {
  const report = runChatSchedule(scenario({
    faults: [
      { at: 1_500, do: { type: "crash-leader" } },
      { at: 2_800, do: { type: "crash-leader" } },
    ],
  }));
  assert.equal(report.acked, 120);
});

Deno.test("a new server joins during traffic, leads at once, and fetches the log first", () => {
  const chat = { ...defaultChatConfig(), logLimit: 20 };
  const report = runChatSchedule(scenario({
    servers: ["s0", "s1", "s2", "s3"],
    chat,
    faults: [{ at: 2_500, do: { type: "new-server" } }],
  }));
  assert.equal(report.acked, 120);
  assert.ok((report.events["server leading after a fetch"] ?? 0) >= 1);
});

Deno.test("a crashed follower restarts and is brought up to date by state transfer", () => {
  const chat = { ...defaultChatConfig(), logLimit: 20 };
  const report = runChatSchedule(scenario({
    seed: 12,
    chat,
    faults: [
      { at: 1_500, do: { type: "crash-follower" } },
      { at: 2_500, do: { type: "restart-server" } },
      { at: 3_500, do: { type: "crash-leader" } },
    ],
  }));
  assert.equal(report.acked, 120);
  assert.ok((report.events["server log-reset"] ?? 0) >= 1);
});

Deno.test("senders that outrun a short log wait for the slowest reader: nobody misses a line", () => {
  const burst = (i: number) => client(i, 0, 60, 0, 0);
  const report = runChatSchedule(scenario({
    clients: [burst(0), burst(1), burst(2), burst(3)],
    chat: { ...defaultChatConfig(), logLimit: 20, maxReaderLag: 10 },
  }));
  assert.equal(report.acked, 240);
  assert.equal(report.missed, 0, "without back-pressure this schedule skips about 20 ranges");
});

Deno.test("a crashed client's name is released after the timeout; the others carry on", () => {
  const report = runChatSchedule(scenario({
    faults: [{ at: 1_000, do: { type: "crash-client", id: "c2" } }],
  }));
  assert.ok((report.events["server client-left"] ?? 0) >= 1);
  assert.ok(report.acked >= 80);
});

Deno.test("a leader paused for 4 s comes back and wins again: no committed position moves, a late joiner reads the same order", () => {
  const everyMs = 40;
  const report = runChatSchedule(scenario({
    network: { ...LOSSY, loss: 0, duplicate: 0, jitterMs: 0.5 },
    clients: [
      client(0, 0, 200, everyMs),
      client(1, 20, 200, everyMs),
      client(2, 9_500, 0, everyMs, 10_000),
    ],
    faults: [{ at: 2_000, do: { type: "pause", target: "leader", ms: 4_000 } }],
  }));
  assert.equal(report.acked, 400);
  assert.ok(
    (report.events["server leading"] ?? 0) >= 3,
    "another leader led, then the first again",
  );
});

Deno.test("a server whose wall clock jumps an hour is refused by the others like a partition of one, and rejoins when it is set right", () => {
  const report = runChatSchedule(scenario({
    network: { ...LOSSY, loss: 0.05, duplicate: 0 },
    faults: [
      { at: 1_500, do: { type: "clock-jump", id: "s0", ms: 3_600_000 } },
      { at: 5_000, do: { type: "clock-jump", id: "s0", ms: -3_600_000 } },
    ],
  }));
  assert.equal(report.acked, 120);
  assert.ok((report.events["client split"] ?? 0) > 0, "the others noticed s0 gone");
});
