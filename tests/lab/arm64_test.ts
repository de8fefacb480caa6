/**
 * The Linux arm64 release binary on a LAN, emulated: in a lab of two hosts, `h1` runs the arm64
 * server and an arm64 client under qemu-user, which posts a line; `h2`, an x86-64 computer with
 * the x86-64 release binary, joins afterwards and reads that line from the history. Then the
 * arm64 server stops on SIGTERM with exit code 0.
 *
 * qemu-user 7.2 lacks the IP_MULTICAST_IF socket option, so the arm64 processes get the
 * preload `qemu_multicast_if.cjs`, which lets that one refusal pass (safe in a lab host: its
 * only route for multicast is its lab interface). Skipped, saying what is missing, unless the
 * release binaries and qemu are here (`.ci/run` builds and installs them and requires this test).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type DsysProcess, spawnDsys } from "../helpers/process.ts";
import {
  ARM64_LAUNCHER,
  ARM64_NEEDS,
  binaryNeed,
  EMULATED_MS,
  missingOf,
  releaseTarget,
  releaseTest,
  X64_LAUNCHER,
} from "../helpers/release.ts";
import { inHost } from "./dsys.ts";
import { Lab, type LabHost, labSkipReason } from "./harness.ts";

const SHIM = fileURLToPath(new URL("./qemu_multicast_if.cjs", import.meta.url));
const labMissing = labSkipReason();

releaseTest(
  "lab arm64 under qemu: an arm64 server and client chat; an x86-64 computer reads the line back",
  [
    ...missingOf([...ARM64_NEEDS, binaryNeed(releaseTarget("dsys-linux-x64"))]),
    ...(labMissing ? [labMissing] : []),
  ],
  async () => {
    const lab = await Lab.create({ hosts: 2 });
    const [h1, h2] = lab.hosts;
    const cluster = `arm64-${lab.run}`;
    const network = (host: LabHost) => ["--cluster", cluster, "--iface", host.iface];
    const state = await Deno.makeTempDir();
    const arm64 = (host: LabHost, args: string[], label: string, stdin = false) =>
      host.adopt(spawnDsys(inHost(host, ARM64_LAUNCHER), args, {
        label,
        stdin,
        env: { NODE_OPTIONS: `--require ${SHIM}`, XDG_STATE_HOME: state },
        allowNonLoopback: true,
      }));
    const processes: DsysProcess[] = [];
    try {
      const server = arm64(
        h1,
        ["serve", ...network(h1), "--unicast-port", "0", "--log-json"],
        "arm64 server on h1",
      );
      processes.push(server);
      await server.waitForEvent("listening", {}, { timeoutMs: EMULATED_MS });
      await server.waitForEvent("chat-leading", {}, { timeoutMs: EMULATED_MS });

      const chat = ["chat", "--user", "ann", "--timeout", String(EMULATED_MS), ...network(h1)];
      const ann = arm64(h1, chat, "arm64 ann on h1", true);
      processes.push(ann);
      await ann.write("hello from arm64\n");
      await ann.closeStdin();
      assert.equal((await ann.exited).code, 0, ann.stderr);
      assert.ok(ann.stdoutLines.some((l) => l.endsWith("ann: hello from arm64")), ann.stdout);

      const bob = h2.adopt(spawnDsys(inHost(h2, X64_LAUNCHER), [
        "chat",
        "--user",
        "bob",
        "--history",
        "10",
        ...network(h2),
      ], {
        label: "x86-64 bob on h2",
        stdin: true,
        env: { XDG_STATE_HOME: state },
        allowNonLoopback: true,
      }));
      processes.push(bob);
      // The history comes from the emulated server after the join: wait for it, then leave.
      await bob.waitForStdout("ann: hello from arm64", { timeoutMs: EMULATED_MS });
      await bob.closeStdin();
      assert.equal((await bob.exited).code, 0, bob.stderr);

      const stopped = await server.stop("SIGTERM", EMULATED_MS);
      assert.deepEqual(stopped, { code: 0, signal: null }, server.tail());
    } finally {
      await Promise.all(processes.map((p) => p.kill()));
      await lab.destroy();
      await Deno.remove(state, { recursive: true });
    }
  },
);
