/**
 * Puts the chat's clients into a server's group view. Servers learn about each other through
 * `ServerCore`; users join and leave through presence entries of the replicated chat log, which
 * every server holds, so every server's view can list every client of the cluster. Pure: it
 * only merges two snapshots.
 *
 * @module
 */

import type { Presence } from "../chat/directory.ts";
import type { SessionView } from "../chat/sessions.ts";
import type { MemberView, ViewSnapshot } from "../membership/core.ts";

/**
 * The view with one `client` member per present user (its id is the user name), after the
 * servers. Clients attached to this server carry their address; others the address in their
 * session key (`<host>:<port>~<incarnation>`) when it has that form.
 */
export function viewWithClients(
  view: ViewSnapshot,
  users: ReadonlyMap<string, Presence>,
  attached: readonly SessionView[],
): ViewSnapshot {
  const local = new Map(attached.map((session) => [session.client, session]));
  const clients: MemberView[] = [...users].sort(([a], [b]) => a.localeCompare(b)).map(
    ([user, presence]) => {
      const [id, incarnation] = presence.client.split("~");
      const match = /^(.+):(\d{1,5})$/.exec(id ?? "");
      const addr = local.get(presence.client)?.addr ??
        (match ? { host: match[1], port: Number(match[2]) } : { host: "?", port: 0 });
      return {
        id: user,
        role: "client",
        addr,
        incarnation: Number(incarnation) || 0,
        priority: 0,
        state: "alive",
        lastHeardAgeMs: 0,
        isLeader: false,
      };
    },
  );
  return { ...view, members: [...view.members.filter((m) => m.role !== "client"), ...clients] };
}
