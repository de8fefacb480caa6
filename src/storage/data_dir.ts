/**
 * A server's data directory: where its chat log lives, locked so that one server at a time uses
 * it, and labelled with the cluster and server id it belongs to, so that a server never mixes in
 * another's log. The files: `LOCK` (the pid of the server using it), `meta.json` (`{ cluster,
 * id }`) and the log's segments (`wal.ts`).
 *
 * @module
 */

import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";

/** A data directory that cannot be used; the message is one line for the operator. */
export class DataDirError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DataDirError";
  }
}

/** Whose data directory it is. */
export interface DataDirOwner {
  /** The cluster name. */
  cluster: string;
  /** The server id. */
  id: string;
}

/** A data directory in use by this process. */
export interface DataDir {
  /** Its path. */
  path: string;
  /** Gives the lock up (at stop). */
  release(): void;
}

/**
 * The default data directory of server `id` of `cluster` under dsys's state directory: one per
 * server, so that several servers on one computer never share one. Characters a file name may
 * not hold (`:` of the default id `<address>:<port>`) become `_`.
 */
export function defaultDataDir(stateDir: string, { cluster, id }: DataDirOwner): string {
  return join(stateDir, cluster, id.replace(/[^\w.-]/g, "_"));
}

/**
 * Opens `path` for `owner` (creating it): refuses a directory that is not writable, one another
 * running server holds, or one labelled for another cluster or server.
 */
export function openDataDir(path: string, owner: DataDirOwner): DataDir {
  try {
    fs.mkdirSync(path, { recursive: true });
    fs.accessSync(path, fs.constants.W_OK);
  } catch (error) {
    throw new DataDirError(`data directory ${path}: not writable (${codeOf(error)})`);
  }
  const lock = join(path, "LOCK");
  takeLock(path, lock);
  try {
    checkMeta(path, owner);
  } catch (error) {
    fs.rmSync(lock, { force: true });
    throw error;
  }
  return {
    path,
    release: () => {
      if (readPid(lock) === process.pid) fs.rmSync(lock, { force: true });
    },
  };
}

function takeLock(path: string, lock: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      return;
    } catch (error) {
      if (codeOf(error) !== "EEXIST") {
        throw new DataDirError(`data directory ${path}: not writable (${codeOf(error)})`);
      }
    }
    const pid = readPid(lock);
    if (pid !== undefined && pid !== process.pid && alive(pid)) {
      throw new DataDirError(
        `data directory ${path} is in use by another dsys serve (pid ${pid}): give each ` +
          `server its own --data-dir`,
      );
    }
    // The lock of a server that is gone (killed, or the computer lost power): take it over.
    fs.rmSync(lock, { force: true });
  }
  throw new DataDirError(`data directory ${path}: its lock was taken meanwhile`);
}

function checkMeta(path: string, owner: DataDirOwner): void {
  const file = join(path, "meta.json");
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if (codeOf(error) !== "ENOENT") throw new DataDirError(`${file}: ${codeOf(error)}`);
  }
  if (text === undefined) {
    fs.writeFileSync(file, JSON.stringify({ cluster: owner.cluster, id: owner.id }) + "\n");
    return;
  }
  let meta: Partial<DataDirOwner>;
  try {
    meta = JSON.parse(text);
  } catch {
    throw new DataDirError(`${file}: not a dsys data directory label (bad JSON)`);
  }
  if (meta.cluster !== owner.cluster || meta.id !== owner.id) {
    throw new DataDirError(
      `data directory ${path} belongs to server ${meta.id} of cluster ${meta.cluster}, not ` +
        `to ${owner.id} of ${owner.cluster}: give this server its own --data-dir`,
    );
  }
}

function readPid(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lock, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === "EPERM";
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String(error);
}
