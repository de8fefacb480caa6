/**
 * The probe's verdict with faked observations: a healthy cluster, nobody there, answers that
 * never arrive, a wrong secret or cluster, a split (by leaders, and as the servers report it),
 * a missing or silent leader, different versions, multicast blocked either way, loss, a far-off
 * clock and foreign traffic; and the discover-reply's optional split on the wire.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AnswerRecord, HeardRecord, Observation } from "../src/probe/cluster.ts";
import { judge, type ProbeReport, type VerdictInput } from "../src/probe/verdict.ts";
import {
  type DiscoverReplyBody,
  type DiscoverSplit,
  type HeartbeatBody,
  MESSAGE_KINDS,
} from "../src/wire/messages.ts";
import { REJECT_REASONS, type RejectReason } from "../src/wire/rejections.ts";

function noRejections(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
}

interface ServerSpec {
  id: string;
  leader: string;
  term?: number;
  version?: string;
  viaGroup?: boolean;
  asked?: number;
  answered?: number;
  port?: number;
  split?: DiscoverSplit;
}

function answer(spec: ServerSpec): AnswerRecord {
  const reply: DiscoverReplyBody = {
    kind: "discover-reply",
    nonce: 1,
    version: spec.version ?? "0.1.0",
    priority: 0,
    uptimeMs: 60_000,
    viaGroup: spec.viaGroup ?? true,
    leader: spec.leader,
    term: spec.term ?? 1,
    view: 4,
    viewSize: 3,
    clients: 0,
    rejections: {},
    ...(spec.split ? { split: spec.split } : {}),
  };
  return {
    id: spec.id,
    address: `10.0.0.${spec.id.charCodeAt(0) % 200}:${spec.port ?? 7401}`,
    reply,
    rttMs: 0.4,
    asked: spec.asked ?? 8,
    answered: spec.answered ?? 8,
    viaGroup: reply.viaGroup,
  };
}

function heartbeat(spec: ServerSpec): HeardRecord {
  const status: HeartbeatBody = {
    kind: "heartbeat",
    version: spec.version ?? "0.1.0",
    priority: 0,
    leader: spec.leader,
    term: spec.term ?? 1,
    view: 4,
    joining: false,
  };
  return { id: spec.id, address: `10.0.0.9:${spec.port ?? 7401}`, status, askedSince: 6 };
}

/** Specs for a healthy three-server cluster led by c. */
const HEALTHY: ServerSpec[] = [
  { id: "a", leader: "c" },
  { id: "b", leader: "c" },
  { id: "c", leader: "c" },
];

function observe(
  answers: ServerSpec[],
  options: {
    heard?: ServerSpec[];
    rejections?: Partial<Record<RejectReason, number>>;
    listening?: boolean;
    durationMs?: number;
  } = {},
): Observation {
  return {
    durationMs: options.durationMs ?? 2000,
    answers: answers.map(answer),
    heard: (options.heard ?? answers).map(heartbeat),
    rejections: { ...noRejections(), ...options.rejections },
    listening: options.listening ?? true,
  };
}

function verdict(observation: Observation, extra: Partial<VerdictInput> = {}): ProbeReport {
  return judge({
    cluster: "office",
    group: "239.255.77.77",
    port: 7400,
    serverPort: 7401,
    interfaces: [],
    hints: [],
    selfTests: [{ iface: "eth0", address: "10.0.0.1", ok: true, ms: 0.1 }],
    observation,
    heartbeatIntervalMs: 100,
    ...extra,
  });
}

function codes(report: ProbeReport): string[] {
  return report.problems.map((p) => p.code);
}

function problem(report: ProbeReport, code: string) {
  const found = report.problems.find((p) => p.code === code);
  assert.ok(found, `no ${code} problem in ${JSON.stringify(codes(report))}`);
  return found;
}

Deno.test("a healthy cluster: three rows, one leader, no problem", () => {
  const report = verdict(observe(HEALTHY));
  assert.deepEqual(codes(report), []);
  assert.equal(report.healthy, true);
  assert.equal(report.leader, "c");
  assert.equal(report.term, 1);
  assert.deepEqual(report.servers.map((s) => [s.id, s.role, s.leader, s.reached]), [
    ["a", "follower", "c", "multicast"],
    ["b", "follower", "c", "multicast"],
    ["c", "leader", "c", "multicast"],
  ]);
  const row = report.servers[0];
  assert.deepEqual(
    [row.viewSize, row.clients, row.uptimeMs, row.loss, row.rttMs, row.version],
    [3, 0, 60_000, 0, 0.4, "0.1.0"],
  );
});

Deno.test("nobody there: no-server, with the firewall commands for the exact ports", () => {
  const report = verdict(observe([]), { port: 7500 });
  assert.deepEqual(codes(report), ["no-server"]);
  assert.equal(report.leader, null);
  const { message, fix } = problem(report, "no-server");
  assert.match(message, /^no server of cluster "office" answered on 239\.255\.77\.77:7500/);
  assert.match(fix, /sudo ufw allow 7500\/udp && sudo ufw allow 7401\/udp/);
  assert.match(fix, /sudo ufw allow proto udp from any port 7401 to any/);
  assert.match(fix, /firewall-cmd --permanent --add-port=7500\/udp --add-port=7401\/udp/);
  assert.match(fix, /--add-source-port=7401\/udp/);
  assert.match(fix, /iptables -I INPUT -p udp -m multiport --dports 7500,7401 -j ACCEPT/);
  assert.match(fix, /iptables -I INPUT -p udp --sport 7401 -j ACCEPT/);
  assert.match(fix, /--peers/);
});

Deno.test("nobody there and the probe could not listen: no-server says so, with group-bind", () => {
  const report = verdict(observe([], { listening: false }), { groupError: "port in use" });
  assert.deepEqual(codes(report), ["group-bind", "no-server"]);
  assert.match(problem(report, "no-server").message, /could not listen to the group/);
});

Deno.test("servers heard on the group but none answering: replies-blocked, their ports", () => {
  const report = verdict(observe([], { heard: [{ id: "a", leader: "a", port: 7411 }] }));
  assert.deepEqual(codes(report), ["replies-blocked"]);
  const { message, fix } = problem(report, "replies-blocked");
  assert.match(message, /^a announces itself on the group, but did not answer this probe/);
  assert.match(message, /from UDP port 7411/);
  assert.match(fix, /sudo ufw allow proto udp from any port 7411 to any/);
  assert.deepEqual(report.servers.map((s) => [s.id, s.reached, s.viewSize, s.rttMs]), [
    ["a", "heard", null, null],
  ]);
});

Deno.test("one server heard but silent among answering ones is replies-blocked too", () => {
  const report = verdict(observe(HEALTHY.slice(0, 2), { heard: HEALTHY }));
  assert.deepEqual(codes(report), ["replies-blocked"]);
  assert.match(problem(report, "replies-blocked").message, /^c announces itself on the group/);
  assert.equal(report.leader, "c");
});

Deno.test("a server first heard near the end of the round is shown but not yet a problem", () => {
  const observation = observe(HEALTHY.slice(0, 2), { heard: HEALTHY });
  observation.heard[2].askedSince = 1;
  const report = verdict(observation);
  assert.deepEqual(codes(report), []);
  assert.deepEqual(report.servers.map((s) => s.reached), ["multicast", "multicast", "heard"]);
});

Deno.test("a wrong secret: wrong-secret replaces no-server", () => {
  const report = verdict(observe([], { rejections: { "unknown-key": 42 } }));
  assert.deepEqual(codes(report), ["wrong-secret"]);
  assert.match(problem(report, "wrong-secret").message, /^42 datagrams heard on 239\.255\.77\.77/);
  assert.match(problem(report, "wrong-secret").fix, /same --secret/);
});

Deno.test("a stranger with another secret next to a healthy cluster is still a problem", () => {
  const report = verdict(observe(HEALTHY, { rejections: { "unknown-key": 3 } }));
  assert.deepEqual(codes(report), ["wrong-secret"]);
  assert.equal(report.leader, "c");
});

Deno.test("another cluster on the same group and port: wrong-cluster", () => {
  const report = verdict(observe([], { rejections: { "wrong-cluster": 1 } }));
  assert.deepEqual(codes(report), ["wrong-cluster"]);
  assert.match(problem(report, "wrong-cluster").message, /^1 datagram heard on .* another cluster/);
});

Deno.test("a 2/1 split: split-cluster names both sides, and there is no single leader", () => {
  const report = verdict(observe([
    { id: "a", leader: "b", term: 3 },
    { id: "b", leader: "b", term: 3 },
    { id: "c", leader: "c", term: 2 },
  ]));
  assert.deepEqual(codes(report), ["split-cluster"]);
  assert.equal(report.leader, null);
  assert.equal(report.term, null);
  assert.match(
    problem(report, "split-cluster").message,
    /^servers disagree on the leader: a and b follow b \(term 3\); c follows c \(term 2\)/,
  );
});

Deno.test("a 2/1 split the servers report: rows carry it, partition names each side", () => {
  const majority = { servers: 2, of: 3, majority: true };
  const minority = { servers: 1, of: 3, majority: false };
  const report = verdict(observe([
    { id: "a", leader: "b", term: 3, split: majority },
    { id: "b", leader: "b", term: 3, split: majority },
    { id: "c", leader: "c", term: 2, split: minority },
  ]));
  assert.deepEqual(codes(report), ["split-cluster", "partition"]);
  assert.deepEqual(report.servers.map((s) => [s.id, s.split]), [
    ["a", majority],
    ["b", majority],
    ["c", minority],
  ]);
  const partition = problem(report, "partition");
  assert.match(
    partition.message,
    /^servers report a partition: a and b see 2 of 3 servers \(majority\); c sees 1 of 3 \(minority\)\./,
  );
  assert.match(partition.fix, /cables, switch and firewalls between the sides/);
  assert.match(partition.fix, /keep chatting .* merge on their own/);
});

Deno.test("one side only: its servers agree on the leader, but the split they report is a problem", () => {
  const report = verdict(observe([
    { id: "c", leader: "c", term: 2, split: { servers: 1, of: 3, majority: false } },
  ]));
  assert.equal(report.healthy, false);
  assert.equal(report.leader, "c");
  assert.deepEqual(codes(report), ["partition"]);
  assert.match(problem(report, "partition").message, /: c sees 1 of 3 servers \(minority\)\./);
});

Deno.test("a whole cluster, servers only heard, and older replies without split: no partition", () => {
  const report = verdict(observe(HEALTHY.slice(0, 2), { heard: HEALTHY }));
  assert.ok(!codes(report).includes("partition"), JSON.stringify(codes(report)));
  assert.deepEqual(report.servers.map((s) => [s.id, s.reached, s.split]), [
    ["a", "multicast", null],
    ["b", "multicast", null],
    ["c", "heard", null],
  ]);
});

Deno.test("discover-reply on the wire: split is optional, and checked when present", () => {
  const { validate } = MESSAGE_KINDS["discover-reply"];
  const { kind: _, ...old } = answer({ id: "a", leader: "a" }).reply;
  assert.ok(validate(old), "a reply without split (an older server) is valid");
  assert.ok(validate({ ...old, split: { servers: 1, of: 3, majority: false } }));
  for (
    const split of [
      null,
      { servers: 0, of: 3, majority: false },
      { servers: 4, of: 3, majority: true },
      { servers: 1, of: 3 },
      { servers: 1.5, of: 3, majority: false },
      "1/3",
    ]
  ) {
    assert.ok(!validate({ ...old, split }), `split ${JSON.stringify(split)} is malformed`);
  }
});

Deno.test("servers without a leader: no-leader; a leader nobody can hear: leader-silent", () => {
  const leaderless = verdict(observe([{ id: "a", leader: "" }, { id: "b", leader: "" }]));
  assert.deepEqual(codes(leaderless), ["no-leader"]);
  assert.equal(leaderless.servers[0].role, "none");
  assert.match(problem(leaderless, "no-leader").message, /^a and b follow no leader/);
  const silent = verdict(observe([{ id: "a", leader: "z" }, { id: "b", leader: "z" }]));
  assert.deepEqual(codes(silent), ["leader-silent"]);
  assert.match(problem(silent, "leader-silent").message, /^z is followed as leader/);
});

Deno.test("different versions: version-mismatch lists who runs what", () => {
  const report = verdict(observe([
    { id: "a", leader: "c" },
    { id: "b", leader: "c", version: "0.2.0" },
    { id: "c", leader: "c" },
  ]));
  assert.deepEqual(codes(report), ["version-mismatch"]);
  assert.equal(
    problem(report, "version-mismatch").message,
    "dsys versions differ: a and c run 0.1.0 and b runs 0.2.0.",
  );
  const wire = verdict(observe(HEALTHY, { rejections: { "bad-version": 2 } }));
  assert.match(problem(wire, "version-mismatch").message, /2 datagrams used another wire version/);
});

Deno.test("a server reached only by unicast: multicast-blocked, this host's direction", () => {
  const report = verdict(observe([
    { id: "a", leader: "a" },
    { id: "b", leader: "a", viaGroup: false },
  ], { heard: [{ id: "a", leader: "a" }] }));
  assert.deepEqual(codes(report), ["multicast-blocked"]);
  const { message } = problem(report, "multicast-blocked");
  assert.match(message, /b answered only requests sent by unicast/);
  assert.match(message, /b answered but was never heard on the group/);
  assert.equal(report.servers[1].reached, "unicast");
});

Deno.test("a server never heard on the group counts only when the probe listened long enough", () => {
  const silent = { heard: [{ id: "a", leader: "a" }] };
  const listened = verdict(observe([{ id: "a", leader: "a" }, { id: "b", leader: "a" }], silent));
  assert.deepEqual(codes(listened), ["multicast-blocked"]);
  assert.match(problem(listened, "multicast-blocked").message, /^b answered but was never heard/);
  const deaf = verdict(
    observe([{ id: "a", leader: "a" }, { id: "b", leader: "a" }], { ...silent, listening: false }),
  );
  assert.deepEqual(codes(deaf), []);
  const brief = verdict(
    observe([{ id: "a", leader: "a" }, { id: "b", leader: "a" }], { ...silent, durationMs: 300 }),
  );
  assert.deepEqual(codes(brief), []);
});

Deno.test("loss: 30% unanswered over at least four requests is a problem, less is not", () => {
  const lossy = verdict(observe([
    { id: "a", leader: "a", asked: 10, answered: 6 },
    { id: "b", leader: "a", asked: 10, answered: 8 },
  ]));
  assert.deepEqual(codes(lossy), ["loss"]);
  assert.match(problem(lossy, "loss").message, /a 40% lost/);
  assert.equal(lossy.servers[1].loss, 0.19999999999999996);
  const few = verdict(observe([{ id: "a", leader: "a", asked: 3, answered: 1 }]));
  assert.deepEqual(codes(few), []);
});

Deno.test("a far-off clock and foreign datagrams are named", () => {
  const report = verdict(
    observe(HEALTHY, { rejections: { "too-old": 5, "bad-magic": 2, "bad-tag": 1 } }),
  );
  assert.deepEqual(codes(report), ["clock-skew", "foreign-traffic"]);
  assert.match(problem(report, "foreign-traffic").message, /^3 datagrams on 239\.255\.77\.77:7400/);
  assert.match(problem(report, "clock-skew").fix, /NTP/);
});

Deno.test("local problems come first and make the verdict unhealthy", () => {
  const report = verdict(observe(HEALTHY), {
    selfTests: [{ iface: "eth0", address: "10.0.0.1", ok: false, error: "no route" }],
  });
  assert.deepEqual(codes(report), ["multicast-self-test"]);
  assert.equal(report.healthy, false);
});
