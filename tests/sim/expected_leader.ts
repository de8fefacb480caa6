/**
 * The leader docs/design.md promises, written out again for the simulators' checks so that they do
 * not trust the code under test: the highest `--priority` leads, and among equal priorities the
 * greatest id, compared as strings.
 *
 * @module
 */

/** The server that must lead among `servers` (non-empty). */
export function documentedLeader<T extends { priority: number; id: string }>(
  servers: readonly T[],
): T {
  let best = servers[0];
  for (const server of servers.slice(1)) {
    const higher = server.priority > best.priority ||
      (server.priority === best.priority && server.id > best.id);
    if (higher) best = server;
  }
  return best;
}
