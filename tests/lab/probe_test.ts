/**
 * `dsys probe` on a real LAN segment, with the built executable: nothing there (no-server),
 * a healthy trio (exit 0, three rows, one leader), the trio seen with another secret
 * (wrong-secret), and the trio split 2/1: from one side (the servers' own split report,
 * partition) and from both (split-cluster too).
 *
 * A probe on one side sees a consistent, smaller cluster whose servers report the split. Seeing
 * both leaders needs a vantage point on both sides: after `lab.partition([[h1, h2, h4], [h3]])` the probe host h4 gets a second
 * leg, a veth on the bridge of h3's side with a host route to h3 only (h4 does not forward, so
 * the partition holds), the way an operator's laptop sits on two network segments. The probe
 * multicasts on its first leg (h1, h2) and asks h3 directly with `--addr`; h1 and h2 follow the
 * leader they elected after losing h3, while h3 still follows itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { spawnDsysOn } from "./dsys.ts";
import { Lab, type LabHost, labSkipReason } from "./harness.ts";
import { ipIn } from "./ip.ts";

const skip = labSkipReason();
const EVENT_TIMEOUT = { timeoutMs: 15_000 };
/** How long one probe run may take, its own timeout included (ms). */
const PROBE_DEADLINE_MS = 15_000;

/** A server's loss report as the probe's `--json` prints it (the fields these tests read). */
interface Split {
  servers: number;
  of: number;
  majority: boolean;
  partition: boolean;
}

/** A probe report as `--json` prints it (the fields these tests read). */
interface Report {
  healthy: boolean;
  leader: string | null;
  servers: {
    id: string;
    role: string;
    leader: string | null;
    viewSize: number;
    split: Split | null;
    reached: string;
  }[];
  problems: { code: string; message: string }[];
  rejections: Record<string, number>;
}

/** Runs `dsys probe --json` on `host` and returns its exit code and report. */
async function probeOn(
  host: LabHost,
  args: string[],
): Promise<{ code: number; report: Report; shown: string }> {
  const probe = spawnDsysOn(host, "node", ["probe", "--iface", host.iface, ...args, "--json"], {
    label: `probe on ${host.name}`,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), PROBE_DEADLINE_MS);
  });
  try {
    const outcome = await Promise.race([probe.exited, late]);
    if (outcome === "late") throw new Error(`probe on ${host.name} hung:\n${probe.tail()}`);
    const shown = `exit ${outcome.code}\nstdout:\n${probe.stdout}\nstderr:\n${probe.tail()}`;
    return { code: outcome.code, report: JSON.parse(probe.stdout) as Report, shown };
  } finally {
    clearTimeout(timer);
    await probe.kill();
  }
}

function codes(report: Report): string[] {
  return report.problems.map((p) => p.code);
}

/** The bridge `host`'s switch port is attached to now. */
async function bridgeOf(lab: Lab, host: LabHost): Promise<string> {
  const [link] = JSON.parse(await ipIn(lab.switchNs, `-j link show dev ${host.port}`));
  assert.ok(link?.master, `${host.port} has no bridge`);
  return link.master;
}

/** Gives `host` a second leg on `target`'s bridge, with a route to `target` only. */
async function addLegTo(lab: Lab, host: LabHost, target: LabHost): Promise<void> {
  const [switchEnd, hostEnd] = [`${lab.tag}x${host.index}`, `${lab.tag}y${host.index}`];
  await ipIn(
    lab.switchNs,
    `link add name ${switchEnd} type veth peer name ${hostEnd} netns ${host.ns}`,
  );
  await ipIn(lab.switchNs, `link set dev ${switchEnd} master ${await bridgeOf(lab, target)}`);
  await ipIn(lab.switchNs, `link set dev ${switchEnd} up`);
  await ipIn(host.ns, `link set dev ${hostEnd} up`);
  await ipIn(host.ns, `route add ${target.address}/32 dev ${hostEnd}`);
}

Deno.test({
  name: "lab probe: nothing, a healthy trio, another secret, a 2/1 split from one side and both",
  ignore: skip !== undefined,
  async fn(t) {
    const lab = await Lab.create({ hosts: 4 });
    const [h1, h2, h3, h4] = lab.hosts;
    const cluster = ["--cluster", `lab-${lab.run}`];
    const secret = crypto.randomUUID();
    const access = [...cluster, "--secret", secret];
    const servers: DsysProcess[] = [];
    try {
      await t.step("nothing there: exit 1 and the no-server problem", async () => {
        const { code, report, shown } = await probeOn(h4, [...access, "--timeout", "1000"]);
        assert.equal(code, 1, shown);
        assert.deepEqual(codes(report), ["no-server"], shown);
        assert.deepEqual(report.servers, []);
        assert.equal(report.leader, null);
      });

      for (const [priority, host] of [h1, h2, h3].entries()) {
        servers.push(spawnDsysOn(host, "node", [
          "serve",
          ...access,
          "--iface",
          host.iface,
          "--id",
          host.name,
          "--priority",
          String(priority + 1),
          "--log-json",
        ]));
      }
      await Promise.all(
        servers.map((s) => s.waitForEvent("leader-changed", { leader: "h3" }, EVENT_TIMEOUT)),
      );

      await t.step("a healthy trio: exit 0, three rows, one leader", async () => {
        const { code, report, shown } = await probeOn(h4, [...access, "--timeout", "1500"]);
        assert.equal(code, 0, shown);
        assert.deepEqual(codes(report), [], shown);
        assert.equal(report.leader, "h3");
        assert.deepEqual(
          report.servers.map((s) => [s.id, s.role, s.leader, s.viewSize, s.split, s.reached]),
          [
            ["h1", "follower", "h3", 3, null, "multicast"],
            ["h2", "follower", "h3", 3, null, "multicast"],
            ["h3", "leader", "h3", 3, null, "multicast"],
          ],
        );
      });

      await t.step("another secret: exit 1 and the wrong-secret problem", async () => {
        const wrong = [...cluster, "--secret", crypto.randomUUID(), "--timeout", "1000"];
        const { code, report, shown } = await probeOn(h4, wrong);
        assert.equal(code, 1, shown);
        assert.deepEqual(codes(report), ["wrong-secret"], shown);
        assert.ok(report.rejections["unknown-key"] > 0, shown);
        assert.deepEqual(report.servers, []);
      });

      const majority = { servers: 2, of: 3, majority: true, partition: false };
      const minority = { servers: 1, of: 3, majority: false, partition: true };
      const shape = (split: Split | null) =>
        split && {
          servers: split.servers,
          of: split.of,
          majority: split.majority,
          partition: split.partition,
        };

      await t.step("a 2/1 split seen from the side of two: h3 is named unreachable", async () => {
        await lab.partition([[h1, h2, h4], [h3]]);
        await Promise.all([
          ...servers.slice(0, 2).map((s) =>
            s.waitForEvent("leader-changed", { leader: "h2" }, EVENT_TIMEOUT)
          ),
          ...servers.slice(0, 2).map((s) =>
            s.waitForEvent("split", { servers: 2, of: 3, majority: true }, EVENT_TIMEOUT)
          ),
          servers[2].waitForEvent("split", { servers: 1, of: 3, majority: false }, EVENT_TIMEOUT),
        ]);
        const { code, report, shown } = await probeOn(h4, [...access, "--timeout", "1500"]);
        assert.equal(code, 1, shown);
        assert.deepEqual(codes(report), ["unreachable"], shown);
        assert.equal(report.leader, "h2");
        assert.deepEqual(report.servers.map((s) => [s.id, s.leader, s.viewSize, shape(s.split)]), [
          ["h1", "h2", 2, majority],
          ["h2", "h2", 2, majority],
        ], shown);
        const unreachable = report.problems.find((p) => p.code === "unreachable")!;
        assert.match(
          unreachable.message,
          new RegExp(
            `^a server is unreachable: h3 \\(${h3.address}:7401\\) last heard \\d+ s ago, ` +
              "crashed or cut off \\(missed by h1 and h2\\)\\.",
          ),
        );
      });

      await t.step(
        "a 2/1 split seen from both sides: split-cluster, partition, unreachable",
        async () => {
          await addLegTo(lab, h4, h3);
          const args = [...access, "--addr", `${h3.address}:7401`, "--timeout", "1500"];
          const both = (report: Report) =>
            codes(report).includes("split-cluster") && codes(report).includes("partition");
          let seen = await probeOn(h4, args);
          for (let tries = 1; tries < 5 && !both(seen.report); tries++) {
            seen = await probeOn(h4, args);
          }
          const { code, report, shown } = seen;
          assert.equal(code, 1, shown);
          assert.ok(both(report), shown);
          assert.equal(report.leader, null);
          assert.deepEqual(report.servers.map((s) => [s.id, s.leader, shape(s.split), s.reached]), [
            ["h1", "h2", majority, "multicast"],
            ["h2", "h2", majority, "multicast"],
            ["h3", "h3", minority, "unicast"],
          ], shown);
          const split = report.problems.find((p) => p.code === "split-cluster")!;
          assert.match(
            split.message,
            /h1 and h2 follow h2 \(term \d+\); h3 follows h3 \(term \d+\)/,
          );
          const partition = report.problems.find((p) => p.code === "partition")!;
          assert.match(
            partition.message,
            /^servers report a partition: h3 sees 1 of 3 servers \(minority\)\./,
          );
          // h3 is reached over the second leg by unicast only, and that is reported too.
          assert.ok(codes(report).includes("multicast-blocked"), shown);
        },
      );
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
      await lab.destroy();
    }
  },
});
