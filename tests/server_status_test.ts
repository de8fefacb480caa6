/**
 * The status table and summary that `dsys serve` prints every `--status-interval`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ViewSnapshot } from "../src/membership/core.ts";
import { formatViewTable, summarizeView } from "../src/server/status.ts";

const VIEW: ViewSnapshot = {
  view: 7,
  leader: "b",
  term: 3,
  members: [
    {
      id: "a",
      role: "server",
      addr: { host: "10.0.0.1", port: 7401 },
      incarnation: 1,
      priority: 0,
      state: "alive",
      lastHeardAgeMs: 0,
      isLeader: false,
    },
    {
      id: "b",
      role: "server",
      addr: { host: "10.0.0.2", port: 7401 },
      incarnation: 1,
      priority: 5,
      state: "alive",
      lastHeardAgeMs: 120,
      isLeader: true,
    },
    {
      id: "c",
      role: "server",
      addr: { host: "10.0.0.3", port: 7401 },
      incarnation: 2,
      priority: 0,
      state: "suspect",
      lastHeardAgeMs: 640,
      isLeader: false,
    },
  ],
};

Deno.test("the summary names the view, the leader and the members per state", () => {
  assert.equal(summarizeView(VIEW), "view 7: leader b (term 3); 2 alive, 1 suspect");
  assert.equal(
    summarizeView({ ...VIEW, leader: null, members: [] }),
    "view 7: no leader; ",
  );
});

Deno.test("the status table has one aligned row per member and marks the leader", () => {
  const lines = formatViewTable(VIEW).trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\s+ID\s+ROLE\s+STATE\s+ADDRESS\s+PRIORITY\s+HEARD$/);
  assert.match(lines[2], /^\*\s+b\s+server\s+alive\s+10\.0\.0\.2:7401\s+5\s+0\.1s ago$/);
  assert.match(lines[3], /^\s+c\s+server\s+suspect\s+10\.0\.0\.3:7401\s+0\s+0\.6s ago$/);
  const stateColumn = lines[0].indexOf("STATE");
  for (const line of lines.slice(1)) assert.match(line.slice(stateColumn), /^(alive|suspect)/);
});
