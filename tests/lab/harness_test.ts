/**
 * Self-test of the lab harness: real multicast crosses the lab's switch, `cut`, `partition`
 * and their undoing change who hears it, signals reach the spawned program itself, and
 * `destroy` leaves no namespace or link behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Lab, type LabHost, labSkipReason, requireTools, sweepStale } from "./harness.ts";
import { ip, listNamespaces } from "./ip.ts";
import type { LabProcess } from "./process.ts";

const skip = labSkipReason();
const probe = new URL("./mcast_probe.ts", import.meta.url).pathname;
const GROUP = "239.255.42.99";

function deno(...args: string[]): string[] {
  return [Deno.execPath(), "run", "--unstable-net", "-A", probe, ...args];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function procState(pid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
}

/** Waits until `pid` is stopped (`T`) or, with `stopped` false, no longer stopped. */
async function waitStopped(pid: number, stopped: boolean): Promise<void> {
  const deadline = performance.now() + 30_000;
  while ((procState(pid) === "T") !== stopped) {
    if (performance.now() > deadline) {
      throw new Error(`${pid} is ${stopped ? "not stopped" : "still stopped"} after 30 s`);
    }
    await sleep(20);
  }
}

/** Sends `marker` from `sender`, then checks exactly `expected` of `listeners` received it. */
async function expectDelivery(
  sender: LabHost,
  port: number,
  marker: string,
  listeners: Map<LabHost, LabProcess>,
  expected: LabHost[],
): Promise<void> {
  const send = sender.spawn(deno("send", GROUP, String(port), marker, "5"));
  assert.equal((await send.exited).code, 0, send.lines.stderr.join("\n"));
  const heard = (line: string) => line === marker;
  await Promise.all(
    expected.map((host) => listeners.get(host)!.waitForLine("stdout", heard, 30_000)),
  );
  await sleep(300);
  for (const [host, listener] of listeners) {
    assert.equal(
      listener.lines.stdout.includes(marker),
      expected.includes(host),
      `${host.name} ${expected.includes(host) ? "missed" : "heard"} ${marker}`,
    );
  }
}

Deno.test({
  name: "lab: multicast crosses the switch; cut, partition and destroy do what they say",
  ignore: skip !== undefined,
  async fn(t) {
    const lab = await Lab.create({ hosts: 3 });
    const [h1, h2, h3] = lab.hosts;
    const port = 20000 + Math.floor(Math.random() * 20000);
    try {
      await t.step(
        "hosts have their address, loopback and multicast route, no default",
        async () => {
          for (const host of lab.hosts) {
            const addr = await ip("-n", host.ns, "-4", "-o", "addr", "show");
            assert.match(
              addr,
              new RegExp(`${host.iface}\\s+inet ${host.address.replaceAll(".", "\\.")}/24`),
            );
            assert.match(addr, /\blo\s+inet 127\.0\.0\.1\/8/);
            const routes = await ip("-n", host.ns, "route", "show");
            assert.match(routes, new RegExp(`224\\.0\\.0\\.0/4 dev ${host.iface}`));
            assert.doesNotMatch(routes, /default/);
          }
        },
      );

      const listeners = new Map<LabHost, LabProcess>();
      for (const host of [h2, h3]) {
        listeners.set(host, host.spawn(deno("listen", GROUP, String(port), host.address)));
      }
      await Promise.all(
        [...listeners.values()].map((p) => p.waitForLine("stdout", (l) => l === "ready", 10000)),
      );

      await t.step("spawned pid is the program itself, inside the host namespace", () => {
        const listener = listeners.get(h2)!;
        assert.equal(
          Deno.realPathSync(`/proc/${listener.pid}/exe`),
          Deno.realPathSync(Deno.execPath()),
        );
        assert.notEqual(
          Deno.readLinkSync(`/proc/${listener.pid}/ns/net`),
          Deno.readLinkSync("/proc/self/ns/net"),
        );
      });

      await t.step("multicast from h1 reaches h2 and h3", async () => {
        await expectDelivery(h1, port, "m-all", listeners, [h2, h3]);
      });
      await t.step("cut h1: nobody hears it; restore: everybody does", async () => {
        await lab.cut(h1);
        await expectDelivery(h1, port, "m-cut", listeners, []);
        await lab.restore(h1);
        await expectDelivery(h1, port, "m-restored", listeners, [h2, h3]);
      });
      await t.step(
        "partition [h1,h2] | [h3]: only h2 hears h1, h2 never hears h3; heal: both hear h1",
        async () => {
          await lab.partition([[h1, h2], [h3]]);
          await expectDelivery(h1, port, "m-split", listeners, [h2]);
          await expectDelivery(h3, port, "m-split-3", listeners, []);
          await lab.heal();
          await expectDelivery(h1, port, "m-healed", listeners, [h2, h3]);
        },
      );

      await t.step("pause stops, resume continues, sigkill kills the program", async () => {
        const listener = listeners.get(h3)!;
        h3.pause();
        await waitStopped(listener.pid, true);
        h3.resume();
        await waitStopped(listener.pid, false);
        h3.sigkill();
        assert.equal((await listener.exited).signal, "SIGKILL");
      });
    } finally {
      await lab.destroy();
    }

    await t.step("destroy leaves no namespace and no link behind", async () => {
      const left = (await listNamespaces()).filter((ns) => ns.includes(lab.run));
      assert.deepEqual(left, []);
      assert.doesNotMatch(await ip("-o", "link", "show"), new RegExp(lab.tag));
    });
  },
});

Deno.test({
  name: "lab: sweepStale removes namespaces of dead runs only",
  ignore: skip !== undefined,
  async fn() {
    requireTools();
    const deadPid = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max").trim());
    const stale = `dsl-${deadPid.toString(36)}-zzz-h1`;
    const mine = `dsl-${Deno.pid.toString(36)}-zzz-h1`;
    await ip("netns", "add", stale);
    await ip("netns", "add", mine);
    try {
      const removed = await sweepStale();
      assert.ok(removed.includes(stale), `removed ${removed.join(", ")}`);
      const left = await listNamespaces();
      assert.ok(!left.includes(stale));
      assert.ok(left.includes(mine));
    } finally {
      for (const ns of [stale, mine]) await ip("netns", "del", ns).catch(() => {});
    }
  },
});

Deno.test({
  name: "lab: a lab its process forgot to destroy is removed when that process exits",
  ignore: skip !== undefined,
  async fn() {
    const harness = new URL("./harness.ts", import.meta.url).href;
    const code = `import { Lab } from "${harness}";
      const lab = await Lab.create({ hosts: 2 });
      lab.hosts[0].spawn(["sleep", "60"]);
      console.log(lab.run);
      Deno.exit(0);`;
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], stdin: "null" })
      .output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const run = new TextDecoder().decode(out.stdout).trim();
    assert.match(run, /^[0-9a-z]+-[0-9a-z]+$/);
    assert.deepEqual((await listNamespaces()).filter((ns) => ns.includes(run)), []);
  },
});
