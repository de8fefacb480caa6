/**
 * The compact status table `dsys serve` prints every `--status-interval`: one row per member
 * of the group view. Pure formatting; the runtime decides when and where to print it.
 *
 * @module
 */

import { formatAddress } from "../runtime/endpoint.ts";
import type { ViewSnapshot } from "./core.ts";

/**
 * One line summing up a view: its number, the leader, how many members are in each state and,
 * while the cluster is split, how many servers this side reaches.
 */
export function summarizeView(view: ViewSnapshot): string {
  const counts = new Map<string, number>();
  for (const member of view.members) {
    counts.set(member.state, (counts.get(member.state) ?? 0) + 1);
  }
  const states = [...counts].map(([state, count]) => `${count} ${state}`).join(", ");
  const leader = view.leader === null ? "no leader" : `leader ${view.leader} (term ${view.term})`;
  const split = view.split
    ? `; split: ${view.split.servers} of ${view.split.of} servers (${
      view.split.majority ? "majority" : "minority"
    })`
    : "";
  return `view ${view.view}: ${leader}; ${states}${split}`;
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
