/**
 * The owner token that proves a restarted client is the same user on the same computer, so that
 * it takes its name back at once from its crashed session instead of waiting for the name's lease
 * to run out. A random secret is kept in the user's state directory (`owner` in the directory
 * `stateDirectory` names, given by the caller), created on first use and
 * readable by the user only; the token sent is derived from it and the cluster name, so one
 * cluster's servers cannot use it in another. Another computer (or OS user) has another secret,
 * so its claim to a held name is still refused.
 *
 * The token is sent only when no other live process of this computer uses the same name in the
 * same cluster (a pid file next to the secret says which process did last): a second terminal
 * does not take the name from the first, it is refused as before.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/**
 * The owner token of `user` in `cluster` (32 hex digits), kept in the state `directory`, or undefined when another live process
 * holds that name here, or when the secret can be neither read nor created (the name then waits
 * for its lease, as without a token).
 */
export function ownerToken(
  cluster: string,
  user: string,
  directory: string,
): string | undefined {
  try {
    mkdirSync(join(directory, "names"), { recursive: true, mode: 0o700 });
    const secret = ownerSecret(join(directory, "owner"));
    const token = (text: string) =>
      createHash("sha256").update(`dsys owner\0${text}\0${secret}`).digest("hex").slice(0, 32);
    const pidFile = join(directory, "names", token(`${cluster}\0${user}`));
    if (livePid(pidFile)) return undefined;
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
    return token(cluster);
  } catch {
    return undefined;
  }
}

/** The secret in `path`, made (user-readable only) when missing or damaged. */
function ownerSecret(path: string): string {
  let secret = "";
  try {
    secret = readFileSync(path, "utf8").trim();
  } catch {
    // Not made yet.
  }
  if (/^[0-9a-f]{64}$/.test(secret)) return secret;
  secret = randomBytes(32).toString("hex");
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** True when `pidFile` names another process that is still running. */
function livePid(pidFile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another OS user (whose state directory this is not, but be safe).
    return (error as { code?: string }).code === "EPERM";
  }
}
