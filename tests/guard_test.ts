/**
 * The guard: the token bucket, and the misbehaviour tracker's rules. Each offence (flood,
 * invalid, contradiction) is caught, logged once per cooling-off period and ignored for that
 * period; honest crash-and-recover behaviour (a restart, two leaders of one term after a
 * partition, reordered claims) is never an offence.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Observed, roleSends, TokenBucket } from "../src/guard/mod.ts";
import { MemberGuard, type MemberGuardOptions } from "../src/guard/tracker.ts";
import type { Kind, Role } from "../src/wire/messages.ts";

const OPTIONS: MemberGuardOptions = {
  ratePerSecond: 100,
  burst: 10,
  coolOffMs: 1_000,
  maxSenders: 8,
};

function from(
  id: string,
  kind: Kind,
  extra: { role?: Role; incarnation?: number; priority?: number } = {},
): Observed {
  return {
    sender: { id, incarnation: extra.incarnation ?? 1, role: extra.role ?? "server" },
    body: { kind, priority: extra.priority },
  };
}

Deno.test("a token bucket admits its burst at once, then its rate, and never more than the burst", () => {
  const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 5 }, 0);
  assert.equal(bucket.take(8, 0), 5);
  assert.equal(bucket.take(1, 0), 0);
  assert.equal(bucket.take(10, 3), 3, "3 ms at 1000/s");
  assert.equal(bucket.take(10, 1_000_000), 5, "a long idle refills to the burst only");
  assert.equal(bucket.take(1, 500), 0, "time going backwards refills nothing");
  assert.throws(() => new TokenBucket({ ratePerSecond: 0, burst: 5 }, 0), RangeError);
});

Deno.test("a flooding sender is ignored for the cooling-off period, logged once, then heard again", () => {
  const guard = new MemberGuard(OPTIONS);
  const offences = [];
  let admitted = 0;
  for (let i = 0; i < 50; i++) {
    const verdict = guard.judge(from("s9", "heartbeat", { priority: 0 }), 0);
    if (verdict.admit) admitted++;
    if (verdict.offence) offences.push(verdict.offence);
  }
  assert.equal(admitted, OPTIONS.burst);
  assert.equal(offences.length, 1, "one log line per offender per cooling-off period");
  assert.equal(offences[0].reason, "flood");
  assert.equal(offences[0].until, OPTIONS.coolOffMs);
  assert.equal(guard.judge(from("s1", "heartbeat"), 10).admit, true, "others are still heard");
  assert.equal(guard.judge(from("s9", "heartbeat"), 999).admit, false);
  assert.deepEqual(guard.stats(999), {
    misbehaviour: { flood: 1, invalid: 0, contradiction: 0 },
    ignored: 50 - OPTIONS.burst + 1,
    ignoring: 1,
  });
  assert.equal(guard.judge(from("s9", "heartbeat"), 1_000).admit, true, "cool-off over");
  assert.equal(guard.stats(1_000).ignoring, 0);
});

Deno.test("a sender within its rate is never a flood", () => {
  const guard = new MemberGuard(OPTIONS);
  for (let t = 0; t < 10_000; t += 10) {
    assert.equal(guard.judge(from("s1", "chat-append"), t).admit, true, `at ${t} ms`);
  }
});

Deno.test("a kind the sender's role never sends is invalid", () => {
  assert.equal(roleSends("client", "coordinator"), false);
  assert.equal(roleSends("probe", "heartbeat"), false);
  assert.equal(roleSends("server", "chat-post"), false);
  assert.equal(roleSends("client", "chat-post"), true);
  assert.equal(roleSends("probe", "discover-reply"), true);
  assert.equal(roleSends("server", "discover-reply"), true);
  const guard = new MemberGuard(OPTIONS);
  const verdict = guard.judge(from("c1", "coordinator", { role: "client", priority: 9 }), 0);
  assert.equal(verdict.admit, false);
  assert.equal(verdict.offence?.reason, "invalid");
  assert.equal(guard.judge(from("c1", "chat-post", { role: "client" }), 1).admit, false);
});

Deno.test("one incarnation stating two priorities or two roles contradicts itself", () => {
  const guard = new MemberGuard(OPTIONS);
  assert.equal(guard.judge(from("s2", "coordinator", { priority: 1 }), 0).admit, true);
  assert.equal(guard.judge(from("s2", "heartbeat", { priority: 1 }), 1).admit, true);
  const lie = guard.judge(from("s2", "coordinator", { priority: 7 }), 2);
  assert.equal(lie.offence?.reason, "contradiction");
  assert.match(lie.offence!.detail, /priority 7 after 1/);

  assert.equal(guard.judge(from("x", "chat-ack", { role: "client" }), 0).admit, true);
  const role = guard.judge(from("x", "heartbeat", { role: "server", priority: 100 }), 1);
  assert.equal(role.admit, false, "a client turning server in one incarnation is not believed");
  assert.equal(role.offence?.reason, "contradiction");
});

Deno.test("crash and recovery are not misbehaviour: restarts, one term with two leaders, reordering", () => {
  const guard = new MemberGuard(OPTIONS);
  // After a partition heals, both sides' leaders won the same term: different senders.
  assert.equal(guard.judge(from("s1", "coordinator", { priority: 0 }), 0).admit, true);
  assert.equal(guard.judge(from("s3", "coordinator", { priority: 0 }), 0).admit, true);
  // A restarted server (new incarnation) with another --priority, and an old datagram of its
  // previous incarnation arriving late.
  assert.equal(
    guard.judge(from("s1", "heartbeat", { incarnation: 2, priority: 5 }), 10).admit,
    true,
  );
  assert.equal(
    guard.judge(from("s1", "heartbeat", { incarnation: 1, priority: 0 }), 11).admit,
    true,
  );
  assert.equal(
    guard.judge(from("s1", "election", { incarnation: 2, priority: 5 }), 12).admit,
    true,
  );
  // A client host reused by a server after a restart.
  assert.equal(guard.judge(from("h:1", "chat-ack", { role: "client" }), 20).admit, true);
  assert.equal(
    guard.judge(from("h:1", "heartbeat", { incarnation: 9, priority: 0 }), 21).admit,
    true,
  );
  assert.deepEqual(guard.stats(30).misbehaviour, { flood: 0, invalid: 0, contradiction: 0 });
});

Deno.test("the guard remembers at most maxSenders senders", () => {
  const guard = new MemberGuard({ ...OPTIONS, maxSenders: 2 });
  for (let i = 0; i < 20; i++) guard.judge(from(`c${i}`, "coordinator", { role: "client" }), 0);
  assert.equal(guard.stats(0).ignoring, 2);
  assert.equal(guard.stats(0).misbehaviour.invalid, 20);
});
