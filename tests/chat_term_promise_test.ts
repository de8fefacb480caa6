/**
 * A follower promises each chat term to one leader. A second server that comes to lead at a term
 * already promised to another (its view moved on while the first leader was only paused) is
 * refused and must take a higher term: two leaders never replicate under one term, so a
 * (sequence number, term) pair always names one entry.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serverSender, threeServers } from "./sim/chat_harness.ts";

Deno.test("a chat term promised to one leader is refused to another, which must take a higher term", () => {
  const cluster = threeServers();
  const s2 = serverSender("s2").addr.host;
  cluster.drop = (d) => d.to.host === s2;
  cluster.setView(["s1", "s2", "s3"], "s3", 2);
  cluster.advance(200);
  assert.deepEqual(
    [cluster.server("s1").status().term, cluster.server("s2").status().term],
    [2, 1],
    "s1 promised term 2 to s3; s2 never heard of it",
  );
  cluster.crash("s3");
  cluster.drop = () => false;
  cluster.setView(["s1", "s2"], "s2", 2);
  cluster.advance(500);
  assert.equal(cluster.server("s2").status().term, 3, "s2 leads above the promised term");
  assert.equal(cluster.server("s1").status().term, 3);
  const refusals = cluster.bodies("chat-gather-reply").filter((r) => !r.ok);
  assert.ok(refusals.some((r) => r.term === 2), "s1 refused s2 at the term s3 holds");
  cluster.type("a", "after the takeover");
  cluster.advance(500);
  assert.deepEqual(cluster.lines("a"), ["alice: after the takeover"]);
});
