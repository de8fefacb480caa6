/**
 * Every way the README and docs/cli.md start a server stops cleanly on Ctrl+C and on SIGTERM:
 * the server logs `stopped` and another server hears its `leave` (it logs the server as left,
 * never as suspect or dead). Each start is made the leader of a fresh session (`setsid`), as a
 * shell makes a job the terminal's foreground process group; Ctrl+C is SIGINT to that whole
 * group, as the terminal sends it, and SIGINT or SIGTERM sent to the started process alone is
 * what `kill PID`, a supervisor or a script does.
 *
 * `npx -y deno@2.9.6 task serve` lost a signal sent to npx alone: npm runs the task through
 * `sh -c` and forwards SIGINT/SIGTERM to that shell only, which neither passes them on nor
 * `exec`s, so SIGTERM killed the shell and left `deno task` and the server running, and SIGINT
 * was not passed on at all. The README's npx form for a server that is stopped by `kill` is
 * therefore `npx -y -p deno@2.9.6 -c 'exec deno task serve'`, whose shell becomes `deno task`.
 *
 * Ctrl+C itself was lost too, now and then: npm and `deno task` relay the SIGINT the server has
 * already had from the terminal, and a repeat arriving after the server's first handler removed
 * its listeners ended it with Deno's default action (see `cmd/signals.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { stopSignal } from "../cmd/signals.ts";
import {
  assertLauncherReady,
  assertLoopbackOnly,
  type DsysProcess,
  type Launcher,
  LAUNCHERS,
  REPO_ROOT,
  spawnDsys,
  testNetwork,
} from "./helpers/process.ts";

/** One documented way of starting a server, as one shell command run in the repository. */
interface Start {
  /** The README's words for it. */
  name: string;
  /** The shell command, with `FLAGS` standing for the server's flags. */
  command: (flags: string) => string;
  /** Launchers whose built files it needs. */
  needs: Launcher[];
  /** Only Ctrl+C: the README gives this form for a terminal only. */
  terminalOnly?: boolean;
}

const STARTS: Start[] = [
  {
    name: "npx -y deno@2.9.6 task serve",
    command: (flags) => `npx -y deno@2.9.6 task serve ${flags}`,
    needs: [],
    terminalOnly: true,
  },
  {
    name: "npx -y -p deno@2.9.6 -c 'exec deno task serve'",
    command: (flags) => `npx -y -p deno@2.9.6 -c 'exec deno task serve ${flags}'`,
    needs: [],
  },
  { name: "deno task serve", command: (flags) => `deno task serve ${flags}`, needs: [] },
  { name: "./dist/dsys serve", command: (flags) => `./dist/dsys serve ${flags}`, needs: [] },
  {
    name: "node dist/dsys.mjs serve",
    command: (flags) => `node dist/dsys.mjs serve ${flags}`,
    needs: [LAUNCHERS.bundle],
  },
];

/** How the stop is asked for, and to whom. */
const WAYS = [
  { name: "Ctrl+C (SIGINT to the process group)", signal: "SIGINT", group: true },
  { name: "SIGINT to the started process", signal: "SIGINT", group: false },
  { name: "SIGTERM to the started process", signal: "SIGTERM", group: false },
] as const;

/** Runs `command` in the repository as the leader of a new session, with `deno` on the PATH. */
function startInSession(command: string, label: string): DsysProcess {
  const deno = Deno.execPath();
  const path = `${deno.slice(0, deno.lastIndexOf("/"))}:${Deno.env.get("PATH") ?? ""}`;
  const launcher: Launcher = {
    name: label,
    command: "setsid",
    prefix: ["sh", "-c", `cd '${REPO_ROOT}' && exec ${command}`],
    requires: [],
  };
  return spawnDsys(launcher, [], { label, env: { PATH: path } });
}

for (const start of STARTS) {
  Deno.test({
    name: `serve stops cleanly on Ctrl+C and SIGTERM: ${start.name}`,
    sanitizeResources: true,
    fn: async () => {
      assertLauncherReady(LAUNCHERS.binary);
      for (const launcher of start.needs) assertLauncherReady(launcher);
      const net = testNetwork();
      const observer = spawnDsys(LAUNCHERS.binary, [
        "serve",
        ...net.args,
        "--unicast-port",
        "0",
        "--id",
        "observer",
        "--log-json",
      ], { label: "observer" });
      try {
        await observer.waitForEvent("listening");
        for (const [index, way] of WAYS.entries()) {
          if (start.terminalOnly && !way.group) continue;
          const id = `subject-${index}`;
          const args = [...net.args, "--unicast-port", "0", "--id", id, "--log-json"];
          assertLoopbackOnly(["serve", ...args]);
          const subject = startInSession(start.command(args.join(" ")), `${start.name} ${id}`);
          try {
            // npx may have to fetch Deno first: a generous deadline.
            await subject.waitForEvent("listening", {}, { timeoutMs: 180_000 });
            await observer.waitForEvent("member-joined", { id });
            if (way.group) Deno.kill(-subject.pid, way.signal);
            else subject.signal(way.signal);
            await subject.waitForEvent("stopped", {}, { timeoutMs: 30_000 }).catch((error) => {
              throw new Error(`${start.name}, ${way.name}: ${error.message}`);
            });
            await observer.waitForEvent("member-left", { id });
            const accused = observer.logs.filter((l) =>
              l.properties.id === id &&
              (l.properties.event === "member-suspect" || l.properties.event === "member-dead")
            );
            assert.deepEqual(accused, [], `${start.name}, ${way.name}: ${id} was not left`);
          } finally {
            // Whatever the start left behind (a shell, deno task, the server) goes with it.
            try {
              Deno.kill(-subject.pid, "SIGKILL");
            } catch {
              // The whole group has exited already.
            }
            await subject.kill();
          }
        }
      } finally {
        await observer.kill();
      }
    },
  });
}

Deno.test("after the first stop signal the listeners stay, so a repeat cannot end the process", async () => {
  const before = process.listenerCount("SIGINT");
  const stopped = stopSignal();
  process.emit("SIGINT", "SIGINT");
  assert.equal(await stopped, "SIGINT");
  // With no listener left, Deno gives a repeated SIGINT its default action: the process ends.
  assert.ok(process.listenerCount("SIGINT") > before);
  assert.ok(process.listenerCount("SIGTERM") > 0);
});
