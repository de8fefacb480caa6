/**
 * Where a new client's stream starts: at the commit point, its history counted back from there,
 * never from the uncommitted end of the server's log. Entries above the commit point are not yet
 * decided; a client that started past them would never be sent the lines that commit there after
 * it joined, and its history would count lines that are not yet anyone's history.
 *
 * @module
 */

import assert from "node:assert/strict";
import { clientSender, serverSender, threeServers } from "./sim/chat_harness.ts";

Deno.test("a new client's stream starts at the commit point: a line pending when it joins reaches it once committed", () => {
  const cluster = threeServers();
  cluster.type("a", "committed before");
  cluster.advance(300);
  cluster.drop = (d) => d.body.kind === "chat-append" && d.to.host === serverSender("s2").addr.host;
  cluster.type("a", "pending while they join");
  cluster.advance(300);
  const s1 = cluster.server("s1").status();
  assert.ok(s1.last > s1.commit, "s1 holds the pending line above its commit point");
  cluster.addClient(clientSender("b"), "bob", 0);
  cluster.addClient(clientSender("c"), "carol", 1);
  cluster.attach("b", "s1");
  cluster.attach("c", "s1");
  cluster.advance(300);
  for (const id of ["b", "c"]) {
    assert.ok(
      cluster.clientActions.get(id)!.some((a) =>
        a.type === "notice" && a.notice.kind === "attached"
      ),
      `${id} joined while the line was pending`,
    );
  }
  cluster.drop = () => false;
  cluster.advance(1_000);
  const both = ["alice: committed before", "alice: pending while they join"];
  assert.deepEqual(cluster.lines("a"), both);
  assert.deepEqual(cluster.lines("b"), both.slice(1), "history 0: every line committed after");
  assert.deepEqual(cluster.lines("c"), both, "history 1: the last committed line, then the rest");
});
