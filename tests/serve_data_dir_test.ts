/**
 * `dsys serve`'s data directory with the built executable on loopback: by default one per cluster
 * and server id under the state directory, and a server stopped and started again there finds
 * its log; refused with one line and exit 2: a directory another running server holds, a path
 * that cannot be a directory, a log corrupted in the middle (which `--repair` truncates, keeping
 * a copy, and then starts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { LAUNCHERS, runDsys, spawnDsys, testNetwork } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { segmentName } from "../src/storage/wal.ts";

const binary = LAUNCHERS.binary;

function serveArgs(id: string, ...more: string[]): string[] {
  return [
    "serve",
    ...testNetwork().args,
    "--id",
    id,
    "--unicast-port",
    "0",
    "--status-interval",
    "0",
    "--log-json",
    ...more,
  ];
}

/** Runs a server that must refuse to start; returns its one line of standard error. */
async function refusal(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runDsys(binary, args, { env, timeoutMs: 60_000 });
  assert.equal(result.code, 2, `exit 2 expected: ${result.stderr}`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  return lines[0];
}

Deno.test("serve: the default data directory is per cluster and id, and a restart finds its log there", async () => {
  await withTempDir("dsys-serve-state-", async (state) => {
    const args = serveArgs("s1");
    const cluster = args[args.indexOf("--cluster") + 1];
    const env = { XDG_STATE_HOME: state };
    const leadings: number[] = [];
    for (let start = 0; start < 2; start++) {
      const server = spawnDsys(binary, args, { env });
      try {
        const opened = await server.waitForEvent("chat-log-opened", {}, { timeoutMs: 60_000 });
        assert.equal(opened.dir, join(state, "dsys", cluster, "s1"));
        const leading = await server.waitForEvent("chat-leading", {}, { timeoutMs: 60_000 });
        leadings.push(Number(leading.term));
        // A stop flushes what the log holds (a SIGKILL may come before the flush of the term).
        assert.equal((await server.stop("SIGTERM", 30_000)).code, 0);
      } finally {
        await server.kill();
      }
    }
    // The term it promised is on the disk: started again, it leads at a higher one.
    assert.ok(leadings[1] > leadings[0], `chat terms ${leadings}`);
  });
});

Deno.test("serve: a data directory held by a running server is refused (exit 2, one line)", async () => {
  await withTempDir("dsys-serve-lock-", async (dir) => {
    await Deno.writeTextFile(join(dir, "LOCK"), "1\n");
    const line = await refusal(serveArgs("s1", "--data-dir", dir));
    assert.match(line, /data directory .* is in use by another dsys serve \(pid 1\)/);
  });
});

Deno.test("serve: a data directory that cannot be made is refused (exit 2, one line)", async () => {
  await withTempDir("dsys-serve-nodir-", async (dir) => {
    await Deno.writeTextFile(join(dir, "file"), "");
    const line = await refusal(serveArgs("s1", "--data-dir", join(dir, "file", "data")));
    assert.match(line, /not writable \(ENOTDIR\)/);
  });
});

Deno.test("serve: a corrupted log is refused naming file and offset; --repair truncates and starts", async () => {
  await withTempDir("dsys-serve-corrupt-", async (dir) => {
    const args = serveArgs("s1", "--data-dir", dir);
    const first = spawnDsys(binary, args);
    try {
      await first.waitForEvent("chat-leading", {}, { timeoutMs: 60_000 });
    } finally {
      await first.kill();
    }
    const file = join(dir, segmentName(1));
    // Two records, the first one damaged: corruption in the middle, not a torn tail.
    const record = (text: string) => {
      const data = new TextEncoder().encode(text);
      const bytes = new Uint8Array(8 + data.length);
      new DataView(bytes.buffer).setUint32(0, data.length, true);
      bytes.set(data, 8);
      return bytes;
    };
    const size = (await Deno.stat(file)).size;
    await Deno.writeFile(file, record('{"op":"truncate","after":0}'), { append: true });
    await Deno.writeFile(file, record('{"op":"truncate","after":0}'), { append: true });
    const line = await refusal(args);
    assert.match(line, new RegExp(`chat log corrupted in ${file} at byte ${size} .*--repair`));
    const repaired = spawnDsys(binary, [...args, "--repair"]);
    try {
      const event = await repaired.waitForEvent("chat-log-repaired", {}, { timeoutMs: 60_000 });
      assert.equal(event.offset, size);
      await repaired.waitForEvent("chat-leading", {}, { timeoutMs: 60_000 });
    } finally {
      await repaired.kill();
    }
    assert.equal((await Deno.stat(`${file}.damaged`)).size, size + 2 * (8 + 27));
  });
});

Deno.test("serve: retention flags take whole numbers from 1 (exit 2, one line)", async () => {
  for (const flag of ["--retain-lines", "--retain-days"]) {
    const line = await refusal(serveArgs("s1", "--data-dir", "none", flag, "0"));
    assert.match(line, new RegExp(flag));
  }
});
