/**
 * How the probe shows its report: the text (interfaces, server table, verdict with fixes,
 * notes), the `--json` object's required fields, durations and firewall commands.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatDuration, formatJson, formatReport } from "../src/probe/format.ts";
import { firewallCommands, listWords } from "../src/probe/problems.ts";
import type { ProbeReport, ServerRow } from "../src/probe/verdict.ts";
import { REJECT_REASONS, type RejectReason } from "../src/wire/rejections.ts";

function row(id: string, leader: string | null, extra: Partial<ServerRow> = {}): ServerRow {
  return {
    id,
    address: `10.0.0.${id.length}:7401`,
    role: leader === null ? "none" : leader === id ? "leader" : "follower",
    term: 2,
    leader,
    view: 5,
    viewSize: 2,
    split: null,
    clients: 1,
    uptimeMs: 125_000,
    version: "0.1.0",
    priority: 0,
    rttMs: 0.4321,
    loss: 0.125,
    reached: "multicast",
    rejections: {},
    rooms: [],
    ...extra,
  };
}

function report(extra: Partial<ProbeReport> = {}): ProbeReport {
  return {
    cluster: "office",
    group: "239.255.77.77",
    port: 7400,
    durationMs: 2003.4567,
    healthy: true,
    leader: "bb",
    term: 2,
    servers: [row("a", "bb", { rejections: { "unknown-key": 3, "too-old": 9 } }), row("bb", "bb")],
    problems: [],
    hints: [],
    interfaces: [
      {
        name: "lo",
        address: "127.0.0.1",
        up: true,
        multicast: false,
        loopback: true,
        used: false,
        outgoing: false,
        why: "loopback",
      },
      {
        name: "eth0",
        address: "10.0.0.5",
        up: true,
        multicast: true,
        loopback: false,
        used: true,
        outgoing: true,
        why: "eth0 (10.0.0.5) is up and multicast-capable",
      },
    ],
    listening: true,
    selfTests: [{ iface: "eth0", address: "10.0.0.5", ok: true, ms: 0.25 }],
    rejections: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
      RejectReason,
      number
    >,
    ...extra,
  };
}

Deno.test("text: header, interfaces, one row per server, a healthy verdict", () => {
  const text = formatReport(report());
  assert.match(text, /^dsys probe: cluster "office", group 239\.255\.77\.77:7400, 2\.0 s\n/);
  assert.match(text, /^ {2}yes\* +eth0 +10\.0\.0\.5 +up,multicast +eth0 \(10\.0\.0\.5\) is up/m);
  assert.match(text, /^ {2}no +lo +127\.0\.0\.1 +up,loopback +loopback$/m);
  assert.match(text, /listened to the group; multicast self-test: eth0 ok \(0\.3 ms\)/);
  assert.match(text, /^Servers \(2\)$/m);
  assert.match(
    text,
    /^ {2}a +10\.0\.0\.1:7401 +follower +2 +bb +2 +no +1 +2m05s +0\.1\.0 +0\.43ms +13% +multicast +too-old=9,unknown-key=3$/m,
  );
  assert.match(text, /^ {2}bb +10\.0\.0\.2:7401 +leader .* 0$/m);
  assert.match(text, /^Verdict: healthy: 2 servers, leader bb \(term 2\)\.$/m);
  assert.doesNotMatch(text, /Notes/);
  assert.ok(text.endsWith("\n"));
});

Deno.test("text: each problem with its fix, command lines kept whole, notes last", () => {
  const fix = `open the port:\n${firewallCommands({ serverPorts: [7400], answerPorts: [] })}`;
  const text = formatReport(report({
    healthy: false,
    servers: [],
    problems: [
      { code: "no-server", message: "no server answered.", fix },
      { code: "loss", message: "word ".repeat(40).trim(), fix: "check the link." },
    ],
    hints: [{ code: "wsl2", message: "this is WSL 2." }],
  }));
  assert.match(text, /^Servers: none found$/m);
  assert.match(
    text,
    /^Verdict: 2 problems\n {2}- \[no-server\] no server answered\.\n {4}fix: open/m,
  );
  assert.match(text, /^ {6}ufw: {7}sudo ufw allow 7400\/udp$/m);
  assert.match(text, /^ {6}iptables: {2}sudo iptables -I INPUT -p udp --dport 7400 -j ACCEPT$/m);
  for (const line of text.split("\n").filter((l) => !l.startsWith("      "))) {
    assert.ok(line.length <= 100, `too long: ${line}`);
  }
  assert.match(text, /\n\nNotes\n {2}- \[wsl2\] this is WSL 2\.\n$/);
});

Deno.test("--json: one object with servers, leader and problems, numbers rounded", () => {
  const parsed = JSON.parse(formatJson(report({
    healthy: false,
    problems: [{ code: "split-cluster", message: "m", fix: "f" }],
  })));
  assert.equal(parsed.leader, "bb");
  assert.equal(parsed.healthy, false);
  assert.deepEqual(parsed.problems, [{ code: "split-cluster", message: "m", fix: "f" }]);
  assert.equal(parsed.durationMs, 2003.457);
  const [a] = parsed.servers;
  for (const key of ["id", "address", "role", "leader", "viewSize", "clients"]) {
    assert.ok(key in a, `servers[0].${key} missing`);
  }
  assert.deepEqual([a.id, a.role, a.leader, a.viewSize, a.clients], ["a", "follower", "bb", 2, 1]);
  assert.equal(a.rttMs, 0.432);
  assert.ok(!formatJson(report()).includes("\n"));
});

Deno.test("the split column and --json show each server's split state", () => {
  const minority = { servers: 1, of: 3, majority: false };
  const majority = { servers: 2, of: 3, majority: true };
  const servers = [
    row("a", "a", { split: minority }),
    row("bb", "bb", { split: majority }),
    row("ccc", "bb"),
    row("dddd", "bb", { reached: "heard", viewSize: null }),
  ];
  const lines = formatReport(report({ servers })).split("\n");
  const header = lines.find((l) => l.trimStart().startsWith("ID "))!;
  const column = header.indexOf("SPLIT");
  assert.ok(column > header.indexOf("VIEW"), header);
  const cell = (id: string) => {
    const line = lines.find((l) => l.startsWith(`  ${id} `))!;
    return line.slice(column).split(/\s{2,}/)[0];
  };
  assert.deepEqual(["a", "bb", "ccc", "dddd"].map(cell), [
    "minority 1/3",
    "majority 2/3",
    "no",
    "-",
  ]);
  const parsed = JSON.parse(formatJson(report({ servers })));
  assert.deepEqual(parsed.servers.map((s: { split: unknown }) => s.split), [
    minority,
    majority,
    null,
    null,
  ]);
});

Deno.test("durations read as a person would say them", () => {
  assert.deepEqual(
    [850, 12_345, 245_000, 7_380_000, 273_600_000].map(formatDuration),
    ["850ms", "12.3s", "4m05s", "2h03m", "3d04h"],
  );
});

Deno.test("firewall commands: ufw, firewalld and iptables for the exact ports", () => {
  assert.equal(
    firewallCommands({ serverPorts: [7400, 7401, 7400], answerPorts: [7401] }),
    [
      "  ufw:       sudo ufw allow 7400/udp && sudo ufw allow 7401/udp && " +
      "sudo ufw allow proto udp from any port 7401 to any",
      "  firewalld: sudo firewall-cmd --permanent --add-port=7400/udp --add-port=7401/udp " +
      "--add-source-port=7401/udp && sudo firewall-cmd --reload",
      "  iptables:  sudo iptables -I INPUT -p udp -m multiport --dports 7400,7401 -j ACCEPT && " +
      "sudo iptables -I INPUT -p udp --sport 7401 -j ACCEPT",
    ].join("\n"),
  );
  assert.deepEqual(
    [[], ["a"], ["a", "b"], ["a", "b", "c"]].map(listWords),
    ["", "a", "a and b", "a, b and c"],
  );
});

Deno.test("text: the rooms and their sizes as the leader knows them, under the server table", () => {
  const rooms = [{ room: "lobby", users: 3 }, { room: "ops", users: 1 }];
  const servers = [
    row("a", "bb", { rooms: [{ room: "lobby", users: 1 }] }),
    row("bb", "bb", { rooms }),
  ];
  assert.match(
    formatReport(report({ servers })),
    /^Rooms \(as bb knows them\): #lobby 3, #ops 1$/m,
  );
  assert.doesNotMatch(formatReport(report()), /^Rooms/m, "no rooms known: no line");
});
