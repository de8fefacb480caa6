/**
 * In-process tests on loopback: a server configuration pinned to `lo` on a random cluster,
 * group and port (so parallel test files never hear each other), and a polling wait.
 *
 * @module
 */

import { type Config, resolveConfig, testClusterConfig } from "../../src/config/mod.ts";
import { testNetwork } from "./process.ts";

/** A test configuration on `lo` with a random cluster, group and port, status table off. */
export function loopbackConfig(): Config {
  const net = testNetwork();
  return resolveConfig({
    network: {
      iface: "lo",
      group: net.group,
      port: net.port,
      unicastPort: 0,
      cluster: net.cluster,
    },
    output: { statusIntervalMs: 0 },
  }, testClusterConfig());
}

/**
 * Polls `check` every 20 ms until it holds; throws after `timeoutMs` naming `what`. The default
 * deadline is generous, because tests run on busy machines: it bounds only a failing wait.
 */
export async function until(
  what: string,
  check: () => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
