/**
 * `/metrics` formatting: a server's status in the Prometheus text format, read back with an
 * independent parser from npm (`parse-prometheus-text-format`), so what a Prometheus server
 * scrapes is what the server counted.
 *
 * @module
 */

import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { formatMetrics, renderMetrics } from "../src/server/metrics.ts";
import type { ServerStatusReport } from "../src/server/server.ts";
import { MISBEHAVIOURS } from "../src/guard/tracker.ts";
import { REJECT_REASONS } from "../src/wire/rejections.ts";

/** One family as the npm parser returns it. */
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

function parse(text: string): Map<string, ParsedFamily> {
  const families = parsePrometheus(text) as ParsedFamily[];
  return new Map(families.map((f) => [f.name, f]));
}

function status(): ServerStatusReport {
  const rejections = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
    (typeof REJECT_REASONS)[number],
    number
  >;
  rejections["unknown-key"] = 17;
  rejections["too-old"] = 2;
  const addr = { host: "10.0.0.1", port: 7401 };
  const member = (id: string, role: "server" | "client", state: "alive" | "suspect" | "dead") => ({
    id,
    role,
    addr,
    incarnation: 1,
    priority: 0,
    state,
    lastHeardAgeMs: 0,
    isLeader: false,
  });
  return {
    node: {
      id: 'odd "id" \\ here',
      address: "10.0.0.1:7401",
      version: "0.1.0",
      priority: 5,
      incarnation: 1_750_000_000_000,
      uptimeMs: 12_345,
      cluster: "lab",
      group: "239.255.77.77:7400",
      transport: "node",
      interfaces: ["eth0"],
    },
    view: 7,
    leader: 'odd "id" \\ here',
    term: 3,
    members: [
      { ...member('odd "id" \\ here', "server", "alive"), isLeader: true },
      member("b", "server", "suspect"),
      member("c", "server", "dead"),
      member("carol", "client", "alive"),
    ],
    counters: {
      sentDatagrams: 100,
      sentBytes: 20_000,
      receivedDatagrams: 90,
      receivedBytes: 18_000,
      sendErrors: 1,
      handlerErrors: 2,
      rejections,
      protocol: {
        electionsStarted: 2,
        electionsWon: 1,
        viewChanges: 7,
        suspicions: 4,
        suspicionsRefuted: 3,
        deathsDeclared: 1,
        stallsDetected: 0,
      },
      chat: {
        role: "following",
        term: 3,
        first: 1,
        last: 40,
        commit: 38,
        synced: true,
        clients: 1,
        buffered: 0,
        conflicts: 0,
        throttled: 5,
        digest: 12345,
        streamedClients: 1,
        streamDatagrams: 64,
        rooms: [{ room: "lobby", users: 2 }, { room: "ops", users: 1 }],
      },
      guard: {
        misbehaviour: { flood: 1, invalid: 1, contradiction: 0 },
        ignored: 12,
        ignoring: 1,
      },
      leaderChanges: 2,
    },
  };
}

function value(families: Map<string, ParsedFamily>, name: string, labels = {}): number {
  const family = families.get(name);
  assert.ok(family, `${name} missing`);
  const sample = family.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  assert.ok(sample, `${name}${JSON.stringify(labels)} missing`);
  return Number(sample.value);
}

Deno.test("/metrics parses as Prometheus text and carries what the server counted", () => {
  const families = parse(formatMetrics(status()));
  assert.equal(value(families, "dsys_view_number"), 7);
  assert.equal(value(families, "dsys_view_changes_total"), 7);
  assert.equal(value(families, "dsys_term"), 3);
  assert.equal(value(families, "dsys_is_leader"), 1);
  assert.equal(value(families, "dsys_leader_known"), 1);
  assert.equal(value(families, "dsys_elections_started_total"), 2);
  assert.equal(value(families, "dsys_elections_won_total"), 1);
  assert.equal(value(families, "dsys_leader_changes_total"), 2);
  assert.equal(value(families, "dsys_suspicions_total"), 4);
  assert.equal(value(families, "dsys_suspicions_refuted_total"), 3);
  assert.equal(value(families, "dsys_deaths_declared_total"), 1);
  assert.equal(value(families, "dsys_datagrams_sent_total"), 100);
  assert.equal(value(families, "dsys_datagrams_received_total"), 90);
  assert.equal(value(families, "dsys_bytes_sent_total"), 20_000);
  assert.equal(value(families, "dsys_bytes_received_total"), 18_000);
  assert.equal(value(families, "dsys_send_errors_total"), 1);
  assert.equal(value(families, "dsys_handler_errors_total"), 2);
  assert.equal(value(families, "dsys_uptime_seconds"), 12.345);
  assert.equal(value(families, "dsys_clients"), 1);
  assert.equal(value(families, "dsys_members", { role: "server", state: "alive" }), 1);
  assert.equal(value(families, "dsys_members", { role: "server", state: "suspect" }), 1);
  assert.equal(value(families, "dsys_members", { role: "server", state: "dead" }), 1);
  assert.equal(value(families, "dsys_members", { role: "client", state: "alive" }), 1);
  assert.equal(value(families, "dsys_members", { role: "client", state: "left" }), 0);
});

Deno.test("/metrics shows the leader's stream: datagrams multicast and clients taking it", () => {
  const families = parse(formatMetrics(status()));
  assert.equal(families.get("dsys_chat_stream_datagrams_total")!.type, "COUNTER");
  assert.equal(value(families, "dsys_chat_stream_datagrams_total"), 64);
  assert.equal(value(families, "dsys_chat_clients_streamed"), 1);
});

Deno.test("/metrics counts rejections by reason, every reason present", () => {
  const families = parse(formatMetrics(status()));
  const rejected = families.get("dsys_datagrams_rejected_total")!;
  assert.equal(rejected.type, "COUNTER");
  assert.deepEqual(rejected.metrics.map((m) => m.labels?.reason), [...REJECT_REASONS]);
  assert.equal(value(families, "dsys_datagrams_rejected_total", { reason: "unknown-key" }), 17);
  assert.equal(value(families, "dsys_datagrams_rejected_total", { reason: "too-old" }), 2);
  assert.equal(value(families, "dsys_datagrams_rejected_total", { reason: "bad-tag" }), 0);
});

Deno.test("/metrics counts misbehaving members by reason and throttled chat lines", () => {
  const families = parse(formatMetrics(status()));
  const misbehaviour = families.get("dsys_misbehaviour_total")!;
  assert.equal(misbehaviour.type, "COUNTER");
  assert.deepEqual(misbehaviour.metrics.map((m) => m.labels?.reason), [...MISBEHAVIOURS]);
  assert.equal(value(families, "dsys_misbehaviour_total", { reason: "flood" }), 1);
  assert.equal(value(families, "dsys_misbehaviour_total", { reason: "invalid" }), 1);
  assert.equal(value(families, "dsys_misbehaviour_total", { reason: "contradiction" }), 0);
  assert.equal(value(families, "dsys_datagrams_ignored_total"), 12);
  assert.equal(value(families, "dsys_ignored_senders"), 1);
  assert.equal(value(families, "dsys_chat_posts_throttled_total"), 5);
});

Deno.test("/metrics shows a split and which side this server is on", () => {
  const whole = parse(formatMetrics(status()));
  assert.equal(value(whole, "dsys_split"), 0);
  assert.equal(value(whole, "dsys_split_servers"), 0);
  const split = parse(
    formatMetrics({ ...status(), split: { servers: 1, of: 3, majority: false } }),
  );
  assert.equal(value(split, "dsys_split"), 1);
  assert.equal(value(split, "dsys_split_servers"), 1);
  assert.equal(value(split, "dsys_split_majority"), 0);
  const majority = parse(
    formatMetrics({ ...status(), split: { servers: 2, of: 3, majority: true } }),
  );
  assert.equal(value(majority, "dsys_split_majority"), 1);
});

Deno.test("label values with quotes and backslashes survive the round trip", () => {
  const families = parse(formatMetrics(status()));
  const info = families.get("dsys_info")!.metrics[0];
  assert.deepEqual(info.labels, {
    id: 'odd "id" \\ here',
    version: "0.1.0",
    cluster: "lab",
    transport: "node",
  });
  assert.equal(info.value, "1");
});

Deno.test("every family has HELP and TYPE; counters end in _total, names are valid", () => {
  const text = formatMetrics(status());
  const families = parse(text);
  for (const [name, family] of families) {
    assert.match(name, /^dsys_[a-z_]+$/);
    assert.ok(family.help.length > 0, `${name} has no help`);
    assert.equal(family.type === "COUNTER", name.endsWith("_total"), `${name} is ${family.type}`);
    const lines = text.split("\n");
    const help = lines.indexOf(`# HELP ${name} ${family.help}`);
    assert.equal(lines[help + 1], `# TYPE ${name} ${family.type.toLowerCase()}`);
  }
  assert.ok(text.endsWith("\n"));
});

Deno.test("renderMetrics escapes help text and writes special values", () => {
  const text = renderMetrics([{
    name: "x_ratio",
    help: "a \\ b\nc",
    type: "gauge",
    samples: [{ value: NaN }, { labels: { k: "v\nw" }, value: Infinity }],
  }]);
  assert.equal(
    text,
    '# HELP x_ratio a \\\\ b\\nc\n# TYPE x_ratio gauge\nx_ratio NaN\nx_ratio{k="v\\nw"} +Inf\n',
  );
});

Deno.test("/metrics shows the rooms and their sizes (names only, never what was said)", () => {
  const families = parse(formatMetrics(status()));
  assert.equal(value(families, "dsys_chat_rooms"), 2);
  assert.equal(families.get("dsys_chat_room_users")!.type, "GAUGE");
  assert.equal(value(families, "dsys_chat_room_users", { room: "lobby" }), 2);
  assert.equal(value(families, "dsys_chat_room_users", { room: "ops" }), 1);
});
