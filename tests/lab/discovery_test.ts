/**
 * Discovery across a real LAN segment: servers in separate network namespaces, joined only by
 * the lab's bridge, find each other by multicast on both transports, and a server holding
 * another secret is never accepted and its datagrams are counted as `unknown-key`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { spawnDsysOn, type TransportName } from "./dsys.ts";
import { Lab, labSkipReason } from "./harness.ts";

const skip = labSkipReason();
const EVENT_TIMEOUT = { timeoutMs: 30_000 };

function randomSecret(): string {
  return crypto.randomUUID();
}

for (const transport of ["deno", "node"] as TransportName[]) {
  Deno.test({
    name: `lab discovery (${transport} transport): servers hear each other, never a stranger`,
    ignore: skip !== undefined,
    async fn(t) {
      const lab = await Lab.create({ hosts: 4 });
      const members = lab.hosts.slice(0, 3);
      const stranger = lab.hosts[3];
      const cluster = `lab-${lab.run}`;
      const [secret, otherSecret] = [randomSecret(), randomSecret()];
      const servers = new Map<string, DsysProcess>();
      try {
        for (const host of lab.hosts) {
          const key = host === stranger ? otherSecret : secret;
          servers.set(
            host.name,
            spawnDsysOn(host, transport, [
              "serve",
              "--cluster",
              cluster,
              "--iface",
              host.iface,
              "--id",
              host.name,
              "--secret",
              key,
              "--log-json",
            ]),
          );
        }

        await t.step("each server listens on its veth with the asked transport", async () => {
          for (const host of lab.hosts) {
            const listening = await servers.get(host.name)!.waitForEvent(
              "listening",
              {},
              EVENT_TIMEOUT,
            );
            assert.equal(listening.id, host.name);
            assert.equal(listening.transport, transport);
            assert.deepEqual(listening.interfaces, [host.iface]);
          }
        });

        await t.step("each of three servers logs peer-heard for the two others", async () => {
          for (const host of members) {
            for (const other of members.filter((m) => m !== host)) {
              const heard = await servers.get(host.name)!.waitForEvent(
                "peer-heard",
                { id: other.name },
                EVENT_TIMEOUT,
              );
              assert.match(String(heard.address), new RegExp(`^${other.address}:\\d+$`));
            }
          }
        });

        // Every server announces ten times a second: wait until each has refused the other
        // side's announcements (it logs the first refusal from each address).
        for (const host of lab.hosts) {
          await servers.get(host.name)!.waitForEvent(
            "rejected",
            { reason: "unknown-key" },
            EVENT_TIMEOUT,
          );
        }
        const stopped = new Map<string, Record<string, unknown>>();
        for (const host of lab.hosts) {
          const server = servers.get(host.name)!;
          const status = await server.stop("SIGTERM");
          assert.equal(status.code, 0, `${host.name} exit: ${server.tail()}`);
          stopped.set(host.name, await server.waitForEvent("stopped", {}, { timeoutMs: 1 }));
        }

        await t.step("the server with another secret is never heard", () => {
          for (const host of members) {
            const heard = servers.get(host.name)!.logs
              .filter((l) => l.properties?.event === "peer-heard")
              .map((l) => l.properties.id);
            assert.deepEqual(heard.sort(), members.filter((m) => m !== host).map((m) => m.name));
          }
        });

        await t.step("its datagrams are counted as unknown-key rejections", () => {
          for (const host of lab.hosts) {
            const rejections = stopped.get(host.name)!.rejections as Record<string, number>;
            assert.ok(
              (rejections["unknown-key"] ?? 0) > 0,
              `${host.name} rejections: ${JSON.stringify(rejections)}`,
            );
          }
        });
      } finally {
        await Promise.all([...servers.values()].map((server) => server.kill()));
        await lab.destroy();
      }
    },
  });
}
