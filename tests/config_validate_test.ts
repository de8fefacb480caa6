/**
 * The configuration refuses what its own reasons rule out: each relation between settings that a
 * default's reason states, broken alone, is one `ConfigError` naming both (or all) settings by
 * their path; the defaults and the test preset pass; errors name settings, never CLI flags, and
 * the CLI's table shows the flag instead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CONFIG_FLAGS, withFlags } from "../cmd/errors.ts";
import {
  ConfigError,
  type ConfigOverrides,
  defaultLanConfig,
  resolveConfig,
  testClusterConfig,
  validateConfig,
} from "../src/config/mod.ts";

/** Refuses `overrides` with an error about exactly `fields`, each named in the message. */
function assertRefused(overrides: ConfigOverrides, fields: string[]): void {
  let caught: unknown;
  try {
    resolveConfig(overrides);
  } catch (error) {
    caught = error;
  }
  const shown = JSON.stringify(overrides);
  assert.ok(caught instanceof ConfigError, `${shown} was accepted`);
  assert.deepEqual(caught.fields, fields, `${shown}: ${caught.message}`);
  for (const field of fields) assert.ok(caught.message.includes(field), caught.message);
  assert.doesNotMatch(caught.message, /--/, "a config error names settings, not flags");
  assert.doesNotMatch(caught.message, /\n/, "one line");
}

Deno.test("the defaults and the test preset keep every relation", () => {
  validateConfig(defaultLanConfig());
  validateConfig(testClusterConfig());
});

Deno.test("the tick must be finer than every timeout of timing and chat", () => {
  const { timing, chat } = defaultLanConfig();
  const tick = timing.tickIntervalMs;
  const timeouts = [
    ...Object.keys(timing).filter((k) => k.endsWith("Ms") && k !== "tickIntervalMs")
      .map((k) => ["timing", k] as const),
    ...Object.keys(chat).filter((k) => k.endsWith("Ms")).map((k) => ["chat", k] as const),
  ];
  assert.ok(timeouts.length >= 20, `only ${timeouts.length} timeouts found`);
  for (const [section, name] of timeouts) {
    assertRefused({ [section]: { [name]: tick } }, ["timing.tickIntervalMs", `${section}.${name}`]);
  }
});

/** Each relation broken alone, with the settings its error must name. */
const BROKEN: [ConfigOverrides, string[]][] = [
  [{ timing: { heartbeatIntervalMs: 300, discoveryWindowMs: 1300 } }, [
    "timing.suspectAfterMs",
    "timing.heartbeatIntervalMs",
  ]],
  [{ timing: { stallThresholdMs: 50 } }, ["timing.stallThresholdMs", "timing.tickIntervalMs"]],
  [{ timing: { stallThresholdMs: 500 } }, ["timing.stallThresholdMs", "timing.suspectAfterMs"]],
  [{ timing: { discoveryAttempts: 5 } }, [
    "timing.discoveryAttempts",
    "timing.heartbeatIntervalMs",
    "timing.discoveryWindowMs",
  ]],
  [{ timing: { electionCoordinatorTimeoutMs: 150 } }, [
    "timing.electionCoordinatorTimeoutMs",
    "timing.electionAnswerTimeoutMs",
  ]],
  [{ timing: { forgetDeadAfterMs: 400 } }, [
    "timing.mergeProbeIntervalMs",
    "timing.forgetDeadAfterMs",
  ]],
  [{ timing: { splitSettleMs: 1500 } }, ["timing.splitSettleMs", "timing.splitBurstMs"]],
  [{ security: { coolOffMs: 700 } }, [
    "security.coolOffMs",
    "timing.suspectAfterMs",
    "timing.probeTimeoutMs",
  ]],
  [{ chat: { maxReaderLag: 10_000 } }, ["chat.maxReaderLag", "chat.logLimit"]],
  [{ chat: { batchBodyBytes: 16 * 1024 } }, ["network.maxDatagramBytes", "chat.batchBodyBytes"]],
  [{ chat: { maxTextChars: 3000 } }, ["network.maxDatagramBytes", "chat.maxTextChars"]],
  [{ chat: { orderWindow: 100 } }, ["chat.orderWindow", "chat.sendWindow"]],
  [{ chat: { ackEvery: 4 } }, ["chat.ackEvery", "chat.datagramsInFlight"]],
  [{ chat: { streamSilenceMs: 100 } }, ["chat.streamSilenceMs", "chat.retransmitMs"]],
  [{ chat: { anchorWaitMs: 500 } }, ["chat.anchorWaitMs", "timing.mergeProbeIntervalMs"]],
  [{ chat: { streamAckEntries: 512 } }, ["chat.streamAckEntries", "chat.streamWindow"]],
  [{ chat: { receiveWindow: 200 } }, ["chat.receiveWindow", "chat.deliveryWindow"]],
  [{ chat: { mergeMemory: 9999 } }, ["chat.mergeMemory", "chat.logLimit"]],
  [{ chat: { maxUsers: 200 } }, ["chat.maxUsers", "chat.maxClients"]],
  [{ chat: { maxSenders: 1000 } }, ["chat.maxSenders", "chat.maxUsers"]],
  [{ chat: { serverTimeoutMs: 599 } }, ["chat.serverTimeoutMs", "chat.serverQuietMs"]],
  [{ chat: { serverQuietMs: 399 } }, ["chat.serverQuietMs", "chat.clientHeartbeatMs"]],
  [{ chat: { clientTimeoutMs: 2600 } }, [
    "chat.clientTimeoutMs",
    "chat.serverTimeoutMs",
    "timing.discoveryWindowMs",
  ]],
  [{ chat: { leaseIntervalMs: 3001 } }, ["chat.clientTimeoutMs", "chat.leaseIntervalMs"]],
  [{ chat: { settleMs: 1000 } }, ["chat.settleMs", "chat.leaseIntervalMs"]],
];

for (const [overrides, fields] of BROKEN) {
  Deno.test(`refused: ${fields.join(" vs ")}`, () => assertRefused(overrides, fields));
}

Deno.test("each relation is exactly at its edge: the closest values that keep it pass", () => {
  const edges: ConfigOverrides[] = [
    { timing: { heartbeatIntervalMs: 250, discoveryWindowMs: 1300 } },
    { timing: { stallThresholdMs: 51 } },
    { timing: { stallThresholdMs: 499 } },
    { timing: { discoveryAttempts: 4, discoveryWindowMs: 401 } },
    { timing: { electionCoordinatorTimeoutMs: 151 } },
    { timing: { forgetDeadAfterMs: 501, forgetAfterMs: 501 } },
    { timing: { splitSettleMs: 1000 } },
    { security: { coolOffMs: 701 } },
    { chat: { maxReaderLag: 9999 } },
    { chat: { orderWindow: 128 } },
    { chat: { ackEvery: 3 } },
    { chat: { streamSilenceMs: 101 } },
    { chat: { anchorWaitMs: 501 } },
    { chat: { streamAckEntries: 511 } },
    { chat: { receiveWindow: 256 } },
    { chat: { mergeMemory: 10_000 } },
    { chat: { maxUsers: 256, maxSenders: 256 } },
    { chat: { serverTimeoutMs: 600 } },
    { chat: { serverQuietMs: 400 } },
    { chat: { clientTimeoutMs: 2601, leaseIntervalMs: 1000, settleMs: 1001 } },
  ];
  for (const overrides of edges) resolveConfig(overrides);
});

Deno.test("a malformed single setting is named by its path", () => {
  assertRefused({ network: { cluster: "a b" } }, ["network.cluster"]);
  assertRefused({ network: { group: "10.0.0.1" } }, ["network.group"]);
  assertRefused({ network: { peers: ["nope"] } }, ["network.peers"]);
  assertRefused({ output: { statusIntervalMs: -1 } }, ["output.statusIntervalMs"]);
  assertRefused({ chat: { clientWaitMs: 0 } }, ["chat.clientWaitMs"]);
});

Deno.test("the CLI's table shows the flag for each setting it maps, and only there", () => {
  const error = new ConfigError(
    ["timing.tickIntervalMs", "chat.clientWaitMs"],
    "timing.tickIntervalMs must be below chat.clientWaitMs (timing.tickIntervalMs 25, " +
      "chat.clientWaitMs 10): why",
  );
  assert.equal(
    withFlags(error),
    "timing.tickIntervalMs must be below --timeout (timing.tickIntervalMs 25, --timeout 10): why",
  );
  const config = defaultLanConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const field of Object.keys(CONFIG_FLAGS)) {
    const [section, name] = field.split(".");
    assert.ok(name in config[section], `${field} is not a setting`);
  }
});
