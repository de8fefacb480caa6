/**
 * A temporary directory for one test, deleted afterwards whatever happened.
 *
 * @module
 */

/** Runs `fn` with a new directory under the system's temporary directory, then deletes it. */
export async function withTempDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T> | T,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
