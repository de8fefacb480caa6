/**
 * Thin wrappers around iproute2's `ip` for the lab: run one command, fail with its stderr.
 *
 * This module only runs `ip`; it knows nothing of hosts, bridges or naming. The synchronous
 * variant exists for the places that cannot await: the `unload` cleanup and the skip check
 * that `Deno.test({ ignore })` needs at module load.
 *
 * @module
 */

/** A failed `ip` command, with the arguments and what `ip` printed. */
export class IpError extends Error {
  /** Creates the error for `ip <args>` that printed `stderr`. */
  constructor(args: string[], stderr: string) {
    super(`ip ${args.join(" ")}: ${stderr.trim() || "failed"}`);
    this.name = "IpError";
  }
}

const decoder = new TextDecoder();

/** Runs `ip <args>` and returns its stdout; throws {@linkcode IpError} when it fails. */
export async function ip(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdin: "null" }).output();
  if (!out.success) throw new IpError(args, decoder.decode(out.stderr));
  return decoder.decode(out.stdout);
}

/**
 * Runs one `ip` command inside namespace `ns`, written as a single space-separated string
 * (`ipIn(ns, "link set dev veth1 up")`); lab names never contain spaces.
 */
export function ipIn(ns: string, command: string): Promise<string> {
  return ip("-n", ns, ...command.split(" "));
}

/** Synchronous {@linkcode ip}: returns stdout, or an {@linkcode IpError} instead of throwing. */
export function ipSync(...args: string[]): string | IpError {
  try {
    const out = new Deno.Command("ip", { args, stdin: "null" }).outputSync();
    return out.success ? decoder.decode(out.stdout) : new IpError(args, decoder.decode(out.stderr));
  } catch (error) {
    return new IpError(args, error instanceof Error ? error.message : String(error));
  }
}

/** Names of every network namespace `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  return parseNamespaceList(await ip("netns", "list"));
}

/* Parses `ip netns list` output (`name` or `name (id: N)` per line) into names. */
function parseNamespaceList(text: string): string[] {
  return text.split("\n").map((line) => line.trim().split(/\s+/)[0]).filter((name) => name);
}

/** Pids of the processes living in namespace `ns` (empty when it is gone). */
export async function namespacePids(ns: string): Promise<number[]> {
  try {
    return (await ip("netns", "pids", ns)).split(/\s+/).filter((s) => s).map(Number);
  } catch {
    return [];
  }
}
