import assert from "node:assert/strict";
import { median, type ServerRow, timelineBetween } from "../src/web/cluster_feed.ts";

const row = (over: Partial<ServerRow>): ServerRow => ({
  id: "a",
  role: "follower",
  term: 1,
  view: 1,
  leader: "c",
  split: "",
  clients: 0,
  commit: 0,
  members: [
    { id: "a", state: "alive", leader: false },
    { id: "b", state: "alive", leader: false },
    { id: "c", state: "alive", leader: true },
  ],
  ...over,
});

Deno.test("the timeline names joins, suspicions, deaths, elections, splits and heals", () => {
  const before = row({});
  const members = [
    { id: "a", state: "alive", leader: false },
    { id: "b", state: "suspect", leader: false },
    { id: "c", state: "dead", leader: false },
    { id: "d", state: "alive", leader: false },
  ];
  const after = row({ members, leader: "b", term: 2, split: "split: 2 of 3 servers (majority)" });
  assert.deepEqual(timelineBetween(before, after, 5).map((e) => `${e.kind}: ${e.text}`), [
    "suspect: b is suspected",
    "death: c is dead",
    "join: d joined",
    "election: b leads (term 2)",
    "split: split: 2 of 3 servers (majority)",
  ]);
  assert.deepEqual(timelineBetween(after, row({ members, leader: "b", term: 2 }), 6), [
    { t: 6, kind: "heal", text: "the cluster is whole again" },
  ]);
  assert.deepEqual(timelineBetween(before, before, 7), []);
});

Deno.test("median of latencies", () => {
  assert.equal(median([]), null);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
