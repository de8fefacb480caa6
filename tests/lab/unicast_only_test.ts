/**
 * A network without multicast (VPN and tun links, some container and cloud networks), with the
 * built executable on namespaced hosts whose interfaces have multicast switched off: three servers
 * and two clients that know only the servers' addresses (`--peers`) find each other, elect a
 * leader, chat, and carry on through a SIGKILL of the leader — every line once, in one order.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { chatMessages, waitJoined, withChatLab } from "./chat_cluster.ts";
import { waitForLeader, waitUntil } from "./cluster.ts";
import { spawnDsysOn } from "./dsys.ts";
import { labSkipReason } from "./harness.ts";

const skip = labSkipReason();
const TIMEOUT_MS = 30_000;
/** Lines each client posts before and after the leader's crash. */
const LINES = 15;

async function post(client: DsysProcess, user: string, from: number): Promise<void> {
  for (let n = from; n < from + LINES; n++) await client.write(`${user} line ${n}\n`);
}

Deno.test({
  name:
    "lab unicast-only: with multicast off, --peers carry discovery, election and chat through a leader crash",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { hosts: 5, servers: 3, unicastOnly: true, startTimeoutMs: TIMEOUT_MS };
    await withChatLab("unicast-only", options, async (chat) => {
      const [h1, , , h4, h5] = chat.lab.hosts;
      for (const server of chat.servers) {
        assert.ok(
          server.logs.some((l) => l.properties?.event === "unicast-only"),
          `${server.label} did not say it runs unicast-only`,
        );
      }
      const flags = ["--follow", "--timeout", String(TIMEOUT_MS)];
      const alice = chat.client(h4, "alice", { flags });
      const bob = chat.client(h5, "bob", { flags });
      await waitJoined(alice, "alice", TIMEOUT_MS);
      await waitJoined(bob, "bob", TIMEOUT_MS);
      await Promise.all([post(alice, "alice", 1), post(bob, "bob", 1)]);
      const has = (n: number) => (client: DsysProcess) => () => chatMessages(client).length >= n;
      for (const client of [alice, bob]) {
        await waitUntil(has(2 * LINES)(client), TIMEOUT_MS, () => client.tail());
      }
      h1.sigkill();
      await waitForLeader(chat.servers.slice(1), "h3", TIMEOUT_MS);
      await Promise.all([post(alice, "alice", LINES + 1), post(bob, "bob", LINES + 1)]);
      for (const client of [alice, bob]) {
        await waitUntil(has(4 * LINES)(client), TIMEOUT_MS, () => client.tail());
      }
      const order = (client: DsysProcess) => chatMessages(client).map((m) => `${m.seq} ${m.id}`);
      const ids = chatMessages(alice).map((m) => m.id);
      assert.equal(new Set(ids).size, 4 * LINES, "a line was shown twice or is missing");
      assert.deepEqual(order(bob), order(alice), "the two clients saw different orders");
      const peers = chat.servers.map((_, i) => `${chat.lab.hosts[i].address}:7401`).join(",");
      const probe = spawnDsysOn(h4, "node", [
        "probe",
        "--cluster",
        chat.cluster,
        "--iface",
        h4.iface,
        "--secret",
        chat.secret!,
        "--peers",
        peers,
        "--timeout",
        "1500",
        "--json",
      ], { label: `probe on ${h4.name}` });
      const { code } = await probe.exited;
      const report = JSON.parse(probe.stdout) as {
        hints: { code: string }[];
        servers: { id: string }[];
      };
      assert.ok(report.hints.some((h) => h.code === "unicast-only"), probe.stdout);
      assert.deepEqual(report.servers.map((s) => s.id).sort(), ["h2", "h3"], probe.stdout);
      assert.ok(code === 0 || code === 1, `probe exit ${code}: ${probe.tail()}`);
    });
  },
});
