/**
 * A server's data directory: one server at a time (a lock naming a live pid refuses, a dead
 * one's lock is taken over), only its own cluster and server id (the label refuses another's),
 * and a default path per cluster and server id that a file system can hold.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DataDirError, defaultDataDir, openDataDir } from "../src/storage/data_dir.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const OWNER = { cluster: "office", id: "10.0.0.5:7401" };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof DataDirError) return error.message;
    throw error;
  }
  throw new Error("expected a DataDirError");
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("data dir: the default is one directory per cluster and server id", () => {
  assert.equal(
    defaultDataDir("/home/u/.local/state/dsys", OWNER),
    "/home/u/.local/state/dsys/office/10.0.0.5_7401",
  );
  assert.notEqual(
    defaultDataDir("/s", OWNER),
    defaultDataDir("/s", { cluster: "office", id: "10.0.0.6:7401" }),
  );
});

Deno.test("data dir: a second server is refused while the first holds the lock", () =>
  withTempDir("dsys-datadir-", (root) => {
    const path = join(root, "s1");
    const held = openDataDir(path, OWNER);
    // Another live process (pid 1) holds it: the message names it and the way out.
    Deno.writeTextFileSync(join(path, "LOCK"), "1\n");
    const message = refusal(() => openDataDir(path, OWNER));
    assert.match(message, /is in use by another dsys serve \(pid 1\)/);
    assert.equal(message.includes("\n"), false, "one line");
    Deno.removeSync(join(path, "LOCK"));
    held.release();
  }));

Deno.test("data dir: the lock of a server that is gone is taken over", () =>
  withTempDir("dsys-datadir-", async (root) => {
    const path = join(root, "s1");
    openDataDir(path, OWNER).release();
    Deno.writeTextFileSync(join(path, "LOCK"), `${await deadPid()}\n`);
    const dir = openDataDir(path, OWNER);
    assert.equal(Deno.readTextFileSync(join(path, "LOCK")).trim(), String(Deno.pid));
    dir.release();
    assert.throws(() => Deno.statSync(join(path, "LOCK")), Deno.errors.NotFound);
  }));

Deno.test("data dir: another cluster's or server's directory is refused, not mixed", () =>
  withTempDir("dsys-datadir-", (root) => {
    const path = join(root, "s1");
    openDataDir(path, OWNER).release();
    assert.match(
      refusal(() => openDataDir(path, { ...OWNER, id: "other" })),
      /belongs to server 10\.0\.0\.5:7401 of cluster office, not to other of office/,
    );
    assert.match(
      refusal(() => openDataDir(path, { ...OWNER, cluster: "lab" })),
      /belongs to server 10\.0\.0\.5:7401 of cluster office/,
    );
    assert.throws(() => Deno.statSync(join(path, "LOCK")), Deno.errors.NotFound, "lock given up");
    openDataDir(path, OWNER).release();
  }));

Deno.test("data dir: a path that cannot be created is refused in one line", () =>
  withTempDir("dsys-datadir-", (root) => {
    const file = join(root, "a-file");
    Deno.writeTextFileSync(file, "");
    assert.match(refusal(() => openDataDir(join(file, "dir"), OWNER)), /not writable \(ENOTDIR\)/);
  }));
