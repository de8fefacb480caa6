/**
 * The compact status table `dsys serve` prints every `--status-interval`: one row per member
 * of the group view. Pure formatting; the runtime decides when and where to print it.
 *
 * @module
 */

import { formatAddress } from "../net/endpoint.ts";
import type { SplitView } from "../membership/events.ts";
import type { DiscoverMissing } from "../wire/messages.ts";
import type { ViewSnapshot } from "../membership/core.ts";

/**
 * One line summing up a view: its number, the leader, how many members are in each state and,
 * while servers are missing, which and whether the cluster looks split.
 */
export function summarizeView(view: ViewSnapshot): string {
  const counts = new Map<string, number>();
  for (const member of view.members) {
    counts.set(member.state, (counts.get(member.state) ?? 0) + 1);
  }
  const states = [...counts].map(([state, count]) => `${count} ${state}`).join(", ");
  const leader = view.leader === null ? "no leader" : `leader ${view.leader} (term ${view.term})`;
  return `view ${view.view}: ${leader}; ${states}${
    view.split ? `; ${describeLoss(view.split)}` : ""
  }`;
}

/**
 * What a loss of servers is, in words: `split: 2 of 4 servers (minority; unreachable: c, d)` when
 * the evidence says the network split, else `unreachable, crashed or cut off: c; 3 of 4 servers`
 * (a server known to have crashed — its host still answers — is marked `(crashed)`).
 */
export function describeLoss(split: SplitView): string {
  const names = split.missing.map((m) => `${m.id}${m.crashed ? " (crashed)" : ""}`).join(", ");
  if (split.partition) {
    const side = split.majority ? "majority" : "minority";
    return `split: ${split.servers} of ${split.of} servers (${side}; unreachable: ${names})`;
  }
  return `unreachable, crashed or cut off: ${names}; ${split.servers} of ${split.of} servers`;
}

/** The missing servers as `/status` and discover replies show them, `now` monotonic (ms). */
export function missingServers(split: SplitView, now: number): DiscoverMissing[] {
  return split.missing.map((m) => ({
    id: m.id,
    host: m.addr.host,
    port: m.addr.port,
    agoMs: Math.max(0, Math.round(now - m.lostAt)),
    crashed: m.crashed,
  }));
}

/** The view as an aligned table, the leader marked with `*`, ending with a newline. */
export function formatViewTable(view: ViewSnapshot): string {
  const rows = [
    ["", "ID", "ROLE", "STATE", "ADDRESS", "PRIORITY", "HEARD"],
    ...view.members.map((m) => [
      m.isLeader ? "*" : "",
      m.id,
      m.role,
      m.state,
      formatAddress(m.addr),
      String(m.priority),
      `${(m.lastHeardAgeMs / 1000).toFixed(1)}s ago`,
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows
    .map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n") + "\n";
}
