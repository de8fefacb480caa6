/**
 * Every client of the cluster appears in every server's view, from the replicated presence log.
 *
 * @module
 */

import assert from "node:assert/strict";
import { viewWithClients } from "../src/server/clients_view.ts";
import type { ViewSnapshot } from "../src/membership/core.ts";

const VIEW: ViewSnapshot = {
  view: 3,
  leader: "s1",
  term: 2,
  members: [{
    id: "s1",
    role: "server",
    addr: { host: "10.0.0.1", port: 7401 },
    incarnation: 5,
    priority: 0,
    state: "alive",
    lastHeardAgeMs: 0,
    isLeader: true,
  }],
};

Deno.test("clients of the whole cluster are listed after the servers, by user name", () => {
  const users = new Map([
    ["dave", { client: "10.0.0.9:40001~77", server: "s2" }],
    ["carol", { client: "10.0.0.8:40000~66", server: "s1" }],
  ]);
  const attached = [{
    user: "carol",
    client: "10.0.0.8:40000~66",
    addr: { host: "10.0.0.8", port: 40000 },
    phase: "joined" as const,
    next: 4,
  }];
  const merged = viewWithClients(VIEW, users, attached);
  assert.deepEqual(merged.members.map((m) => [m.id, m.role]), [
    ["s1", "server"],
    ["carol", "client"],
    ["dave", "client"],
  ]);
  const dave = merged.members[2];
  assert.deepEqual(dave.addr, { host: "10.0.0.9", port: 40001 });
  assert.equal(dave.incarnation, 77);
  assert.equal(merged.view, 3);
  assert.equal(merged.leader, "s1");
});

Deno.test("a server without chat users shows its servers only", () => {
  assert.deepEqual(viewWithClients(VIEW, new Map(), []), VIEW);
});
