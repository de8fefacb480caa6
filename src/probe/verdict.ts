/**
 * The probe's verdict: from what the local checks found and what one round observed, the rows
 * of the server table and every problem in plain words with its fix.
 *
 * A pure function of its input, so tests feed it faked answers. The rules, in order: local
 * trouble (group not joinable, self-test failed); traffic this probe rejected (wrong secret,
 * other cluster, other version, far-off clock, foreign datagrams); reachability (nobody
 * answered, answers lost, multicast blocked one way or the other, heavy loss); leadership
 * (servers that disagree on the leader, report a partition, follow none, or follow one that is
 * silent).
 *
 * @module
 */

import type { ChatRoomSize, DiscoverMissing, DiscoverSplit } from "../wire/messages.ts";
import type { RejectReason } from "../wire/rejections.ts";
import type { AnswerRecord, HeardRecord, Observation } from "./cluster.ts";
import { type InterfaceRow, localProblems, type SelfTestResult } from "./local.ts";
import { firewallCommands, type Hint, listWords, plural, type Problem } from "./problems.ts";

/** How a server was reached. */
export type Reach = "multicast" | "unicast" | "heard";

/** One row of the server table (and of `--json`'s `servers`). */
export interface ServerRow {
  /** Server id. */
  id: string;
  /** Its unicast address, `host:port`. */
  address: string;
  /** `leader` when it follows itself, `follower` when it follows another, `none` without a leader. */
  role: "leader" | "follower" | "none";
  /** Term of the leader it follows. */
  term: number;
  /** The leader it follows, or null. */
  leader: string | null;
  /** Its view number. */
  view: number;
  /** Live servers in its view (itself included); null when it only was heard. */
  viewSize: number | null;
  /**
   * The partition it reports (servers it reaches of its last full view, and whether that is a
   * majority); null when it sees the cluster whole, runs a dsys without split reports, or only
   * was heard.
   */
  split: DiscoverSplit | null;
  /** Chat clients attached to it; null when it only was heard. */
  clients: number | null;
  /** Milliseconds since it started; null when it only was heard. */
  uptimeMs: number | null;
  /** Its dsys version. */
  version: string;
  /** Its Bully priority. */
  priority: number;
  /** Shortest round trip (ms); null when it only was heard. */
  rttMs: number | null;
  /** Share of requests it did not answer, 0 to 1; null when it only was heard. */
  loss: number | null;
  /** `multicast`: a request reached it over multicast; `unicast`: only over unicast; `heard`: it did not answer, its heartbeats were heard. */
  reached: Reach;
  /** Datagrams it rejected since it started, by reason; null when it only was heard. */
  rejections: Record<string, number> | null;
  /** The chat rooms and their sizes as the server knows them; null when it only was heard. */
  rooms: ChatRoomSize[] | null;
}

/** What the verdict is made from. */
export interface VerdictInput {
  /** Cluster name. */
  cluster: string;
  /** Multicast group. */
  group: string;
  /** Group port. */
  port: number;
  /**
   * The servers' unicast port as this probe's configuration has it (for firewall fixes); 0 when
   * they pick any free port, which no fix can name.
   */
  serverPort: number;
  /** The interface table. */
  interfaces: InterfaceRow[];
  /** Hints about this host. */
  hints: Hint[];
  /** Why the probe could not join the group, when it could not. */
  groupError?: string;
  /** Multicast self-test results. */
  selfTests: SelfTestResult[];
  /** What the round observed. */
  observation: Observation;
  /** How often servers announce themselves (ms). */
  heartbeatIntervalMs: number;
}

/** Everything `dsys probe` reports. */
export interface ProbeReport {
  /** Cluster name. */
  cluster: string;
  /** Multicast group. */
  group: string;
  /** Group port. */
  port: number;
  /** How long the round lasted (ms). */
  durationMs: number;
  /** True when no problem was found. */
  healthy: boolean;
  /** The leader every server follows, or null (none, or they disagree). */
  leader: string | null;
  /** That leader's term, or null. */
  term: number | null;
  /** One row per server, by id. */
  servers: ServerRow[];
  /** Problems found, each with its fix. */
  problems: Problem[];
  /** Notes about this host. */
  hints: Hint[];
  /** This host's interfaces. */
  interfaces: InterfaceRow[];
  /** True when the probe listened to the group. */
  listening: boolean;
  /** Multicast self-test results. */
  selfTests: SelfTestResult[];
  /** Datagrams this probe rejected during the round, by reason. */
  rejections: Record<RejectReason, number>;
}

/** Share of unanswered requests from which loss is a problem. */
export const LOSS_PROBLEM = 0.3;
/** Fewest requests that make a loss figure meaningful. */
const LOSS_MIN_REQUESTS = 4;
/** Requests a server heard on the group must have left unanswered before that is a problem. */
const UNANSWERED_REQUESTS = 2;
/** Heartbeats a server sends while the probe listens before its silence means something. */
const SILENT_HEARTBEATS = 5;

/** The server rows of an observation: answering servers, then servers only heard. */
export function serverRows(observation: Observation): ServerRow[] {
  const answered = new Set(observation.answers.map((a) => a.id));
  return [
    ...observation.answers.map(answerRow),
    ...observation.heard.filter((h) => !answered.has(h.id)).map(heardRow),
  ].sort((a, b) => a.id.localeCompare(b.id));
}

function roleOf(id: string, leader: string): ServerRow["role"] {
  return leader === "" ? "none" : leader === id ? "leader" : "follower";
}

function answerRow(a: AnswerRecord): ServerRow {
  const r = a.reply;
  return {
    id: a.id,
    address: a.address,
    role: roleOf(a.id, r.leader),
    term: r.term,
    leader: r.leader === "" ? null : r.leader,
    view: r.view,
    viewSize: r.viewSize,
    split: r.split ?? null,
    clients: r.clients,
    uptimeMs: r.uptimeMs,
    version: r.version,
    priority: r.priority,
    rttMs: a.rttMs,
    loss: a.asked > 0 ? Math.max(0, 1 - a.answered / a.asked) : 0,
    reached: a.viaGroup ? "multicast" : "unicast",
    rejections: r.rejections,
    rooms: r.rooms ?? [],
  };
}

function heardRow(h: HeardRecord): ServerRow {
  const s = h.status;
  return {
    id: h.id,
    address: h.address,
    role: roleOf(h.id, s.leader),
    term: s.term,
    leader: s.leader === "" ? null : s.leader,
    view: s.view,
    viewSize: null,
    split: null,
    clients: null,
    uptimeMs: null,
    version: s.version,
    priority: s.priority,
    rttMs: null,
    loss: null,
    reached: "heard",
    rejections: null,
    rooms: null,
  };
}

/** Judges one round: the rows, the leader, and every problem with its fix. */
export function judge(input: VerdictInput): ProbeReport {
  const { observation } = input;
  const servers = serverRows(observation);
  const leaders = leaderGroups(servers);
  const leader = leaders.size === 1 ? [...leaders.keys()][0] : null;
  const problems = [
    ...localProblems(input.group, input.port, input.groupError, input.selfTests),
    ...trafficProblems(input, servers),
    ...reachProblems(input, servers),
    ...leaderProblems(servers, leaders),
  ];
  return {
    cluster: input.cluster,
    group: input.group,
    port: input.port,
    durationMs: observation.durationMs,
    healthy: problems.length === 0,
    leader,
    term: leader === null ? null : Math.max(...leaders.get(leader)!.map((s) => s.term)),
    servers,
    problems,
    hints: input.hints,
    interfaces: input.interfaces,
    listening: observation.listening,
    selfTests: input.selfTests,
    rejections: observation.rejections,
  };
}

/** Servers grouped by the leader they follow (servers without one left out). */
function leaderGroups(servers: readonly ServerRow[]): Map<string, ServerRow[]> {
  const groups = new Map<string, ServerRow[]>();
  for (const server of servers) {
    if (server.leader !== null) {
      groups.set(server.leader, [...(groups.get(server.leader) ?? []), server]);
    }
  }
  return groups;
}

/** Rejections that explain why no server of this cluster answers. */
const EXPLAINING: readonly RejectReason[] = [
  "wrong-cluster",
  "unknown-key",
  "bad-version",
  "too-old",
];

function trafficProblems(input: VerdictInput, servers: readonly ServerRow[]): Problem[] {
  const rejected = input.observation.rejections;
  const where = `${input.group}:${input.port}`;
  const problems: Problem[] = [];
  if (rejected["wrong-cluster"] > 0) {
    problems.push({
      code: "wrong-cluster",
      message: `${plural(rejected["wrong-cluster"], "datagram")} heard on ${where} belong to ` +
        `another cluster than "${input.cluster}": dsys processes with another --cluster share ` +
        "this group and port.",
      fix: "give every server and this probe the same --cluster (see the servers' `listening` " +
        "log line), or move the other cluster to its own --group or --port.",
    });
  }
  if (rejected["unknown-key"] > 0) {
    problems.push({
      code: "wrong-secret",
      message: `${plural(rejected["unknown-key"], "datagram")} heard on ${where} were signed ` +
        "with a key this probe does not have: a dsys process of this cluster uses another " +
        "--secret (the `rejected a datagram` warnings name the hosts).",
      fix: "give every server and this probe the same --secret; while rotating, list both " +
        "(--secret new,old) so every process accepts either.",
    });
  }
  const versions = new Map<string, string[]>();
  for (const s of servers) versions.set(s.version, [...(versions.get(s.version) ?? []), s.id]);
  if (rejected["bad-version"] > 0 || versions.size > 1) {
    const parts = versions.size > 1
      ? [...versions].map(([v, ids]) => `${listWords(ids)} run${ids.length === 1 ? "s" : ""} ${v}`)
      : [];
    if (rejected["bad-version"] > 0) {
      parts.push(`${plural(rejected["bad-version"], "datagram")} used another wire version`);
    }
    problems.push({
      code: "version-mismatch",
      message: `dsys versions differ: ${listWords(parts)}.`,
      fix: "run the same dsys version on every computer (`dsys version` prints it).",
    });
  }
  if (rejected["too-old"] > 0) {
    problems.push({
      code: "clock-skew",
      message: `${plural(rejected["too-old"], "datagram")} carried a time far from this ` +
        "computer's clock (or were replayed): a sender's clock, or this one, is off by minutes.",
      fix: "synchronise the clocks of every computer (NTP: `timedatectl set-ntp true`).",
    });
  }
  const foreign = rejected["bad-magic"] + rejected["malformed"] + rejected["too-large"] +
    rejected["bad-tag"];
  if (foreign > 0) {
    problems.push({
      code: "foreign-traffic",
      message: `${plural(foreign, "datagram")} on ${where} were not valid dsys datagrams ` +
        "(another program uses this group and port, or datagrams were corrupted or forged).",
      fix: "give the dsys cluster its own --group and --port, and find the other sender " +
        `(\`sudo tcpdump -ni any udp port ${input.port}\`).`,
    });
  }
  return problems;
}

function reachProblems(input: VerdictInput, servers: readonly ServerRow[]): Problem[] {
  const { observation } = input;
  const problems: Problem[] = [];
  const answered = servers.filter((s) => s.reached !== "heard");
  const askedSince = new Map(observation.heard.map((h) => [h.id, h.askedSince]));
  const heardOnly = servers.filter((s) =>
    s.reached === "heard" && (askedSince.get(s.id) ?? 0) >= UNANSWERED_REQUESTS
  );
  const serverPorts = (rows: readonly ServerRow[]) =>
    rows.length === 0 ? [input.serverPort] : rows.map((s) => portOf(s.address));
  if (heardOnly.length > 0) {
    const ports = serverPorts(heardOnly);
    problems.push({
      code: "replies-blocked",
      message: `${
        listWords(heardOnly.map((s) => s.id))
      } ${
        heardOnly.length === 1
          ? "announces itself"
          : "announce themselves"
      } on the group, but did not answer this probe: the answers (from UDP port ` +
        `${listWords(unique(ports).map(String))}) are dropped on the way here, or this ` +
        `computer's multicast does not reach ${heardOnly.length === 1 ? "it" : "them"}.`,
      fix: "allow the servers' answers into this computer, and the group port into the " +
        `servers:\n${firewallCommands({ serverPorts: [input.port], answerPorts: ports })}`,
    });
  }
  const explained = EXPLAINING.some((reason) => observation.rejections[reason] > 0);
  if (servers.length === 0 && !explained) {
    const listened = observation.listening
      ? "and none was heard on the group"
      : "(this probe could not listen to the group, so a wrong secret cannot be told apart)";
    problems.push({
      code: "no-server",
      message: `no server of cluster "${input.cluster}" answered on ${input.group}:` +
        `${input.port} within ${(observation.durationMs / 1000).toFixed(1)} s ${listened}.`,
      fix: "start one (`dsys serve`) with the same --cluster, --group, --port and --secret; if " +
        "servers run, a firewall drops their datagrams: open the group port and their unicast " +
        `port on every server and this computer:\n${
          firewallCommands({
            serverPorts: [input.port, input.serverPort],
            answerPorts: [input.serverPort],
          })
        }\nWhere multicast cannot pass (Wi-Fi isolation, Docker, WSL 2, cloud networks), give ` +
        "--peers HOST:PORT of a server.",
    });
  }
  const notReached = answered.filter((s) => s.reached === "unicast");
  const heardIds = new Set(observation.heard.map((h) => h.id));
  const silenceCounts = observation.listening &&
    observation.durationMs >= SILENT_HEARTBEATS * input.heartbeatIntervalMs;
  const notHeard = silenceCounts ? answered.filter((s) => !heardIds.has(s.id)) : [];
  if (notReached.length > 0 || notHeard.length > 0) {
    const parts = [];
    if (notReached.length > 0) {
      const one = notReached.length === 1;
      parts.push(
        `${listWords(notReached.map((s) => s.id))} answered only requests sent by unicast: ` +
          `multicast from this computer does not reach ${one ? "it" : "them"}`,
      );
    }
    if (notHeard.length > 0) {
      const one = notHeard.length === 1;
      parts.push(
        `${listWords(notHeard.map((s) => s.id))} answered but ${one ? "was" : "were"} never ` +
          `heard on the group: ${one ? "its" : "their"} multicast does not reach this computer`,
      );
    }
    problems.push({
      code: "multicast-blocked",
      message: `${parts.join("; ")}.`,
      fix: "multicast is blocked between here and there (a firewall, a switch with IGMP " +
        "snooping and no querier, Wi-Fi client isolation, or another network segment), or the " +
        "servers use another --group or --port than this probe. Open " +
        `the group port:\n${firewallCommands({ serverPorts: [input.port], answerPorts: [] })}\n` +
        "or, where multicast cannot pass, give every server --peers with the others' addresses.",
    });
  }
  const lossy = answered.filter((s) =>
    s.loss !== null && s.loss >= LOSS_PROBLEM &&
    lossRequests(observation, s.id) >= LOSS_MIN_REQUESTS
  );
  if (lossy.length > 0) {
    const shown = lossy.map((s) => `${s.id} ${Math.round((s.loss ?? 0) * 100)}%`);
    problems.push({
      code: "loss",
      message: `requests went unanswered: ${listWords(shown)} lost; the network between here ` +
        "and there drops datagrams.",
      fix: "check the link (Wi-Fi signal, a congested or faulty cable, `ip -s link` error " +
        "counters) and the servers' load; a busy server may also drop datagrams.",
    });
  }
  return problems;
}

function lossRequests(observation: Observation, id: string): number {
  return observation.answers.find((a) => a.id === id)?.asked ?? 0;
}

function leaderProblems(
  servers: readonly ServerRow[],
  leaders: ReadonlyMap<string, ServerRow[]>,
): Problem[] {
  const problems: Problem[] = [];
  if (leaders.size > 1) {
    const sides = [...leaders].map(([leader, followers]) => {
      const term = Math.max(...followers.map((s) => s.term));
      const verb = followers.length === 1 ? "follows" : "follow";
      return `${listWords(followers.map((s) => s.id))} ${verb} ${leader} (term ${term})`;
    });
    problems.push({
      code: "split-cluster",
      message: `servers disagree on the leader: ${sides.join("; ")}. The cluster is split: ` +
        "these groups do not hear each other, and each elected its own leader.",
      fix: "restore the network between them (multicast and the unicast ports both ways, or " +
        "--peers); the groups merge on their own once they hear each other.",
    });
  }
  const partition = partitionProblem(servers);
  if (partition) problems.push(partition);
  const unreachable = unreachableProblem(servers);
  if (unreachable) problems.push(unreachable);
  const ids = new Set(servers.map((s) => s.id));
  const silent = [...leaders.keys()].filter((leader) => !ids.has(leader));
  if (silent.length > 0) {
    problems.push({
      code: "leader-silent",
      message: `${listWords(silent)} ${silent.length === 1 ? "is" : "are"} followed as leader ` +
        "but did not answer this probe: it may have just failed (a new leader follows within " +
        "about a second), or it cannot be reached from here.",
      fix: "run the probe again; if the leader stays silent, check that it runs and that this " +
        "computer can reach it (give its address with --addr HOST:PORT).",
    });
  }
  const leaderless = servers.filter((s) => s.leader === null);
  if (leaderless.length > 0) {
    problems.push({
      code: "no-leader",
      message: `${listWords(leaderless.map((s) => s.id))} follow${
        leaderless.length === 1 ? "s" : ""
      } no leader: still discovering the cluster, or an election is running.`,
      fix: "run the probe again in a few seconds; if it persists, the servers do not hear each " +
        "other's election messages (check the unicast ports between them).",
    });
  }
  return problems;
}

/**
 * The partition the servers themselves report (a probe on one side sees a smaller, consistent
 * cluster, so only the servers can tell), servers reporting the same numbers named together.
 */
function partitionProblem(servers: readonly ServerRow[]): Problem | undefined {
  const sides = new Map<string, { split: DiscoverSplit; ids: string[] }>();
  for (const { id, split } of servers) {
    if (split === null || split.partition === false) continue;
    const key = `${split.servers}/${split.of}/${split.majority}`;
    const side = sides.get(key) ?? { split, ids: [] };
    side.ids.push(id);
    sides.set(key, side);
  }
  if (sides.size === 0) return undefined;
  const seen = [...sides.values()].map(({ split, ids }, i) =>
    `${listWords(ids)} ${ids.length === 1 ? "sees" : "see"} ${split.servers} of ${split.of}` +
    `${i === 0 ? " servers" : ""} (${splitSide(split)})`
  );
  return {
    code: "partition",
    message: `servers report a partition: ${seen.join("; ")}. Servers of the last full view ` +
      "went silent: the network between the sides is cut, or they stopped (a crashed server " +
      "looks the same).",
    fix: "check the cables, switch and firewalls between the sides (multicast and the unicast " +
      "ports both ways), and that the missing servers still run. Both sides keep chatting " +
      "meanwhile, and merge on their own once they hear each other again.",
  };
}

/**
 * Servers that other servers miss without evidence of a split: each named with its address, how
 * long ago it was last heard and whether its host still answers (then it crashed), and who
 * misses it.
 */
function unreachableProblem(servers: readonly ServerRow[]): Problem | undefined {
  const missing = new Map<string, { m: DiscoverMissing; by: string[] }>();
  for (const { id, split } of servers) {
    if (split === null || split.partition !== false) continue;
    for (const m of split.missing ?? []) {
      const known = missing.get(m.id) ?? { m, by: [] };
      known.by.push(id);
      if (m.agoMs < known.m.agoMs) known.m = m;
      missing.set(m.id, known);
    }
  }
  if (missing.size === 0) return undefined;
  const lines = [...missing.values()].map(({ m, by }) =>
    `${m.id} (${m.host}:${m.port}) last heard ${Math.round(m.agoMs / 1000)} s ago, ` +
    `${m.crashed ? "crashed: its host still answers" : "crashed or cut off"} (missed by ${
      listWords(by)
    })`
  );
  return {
    code: "unreachable",
    message: `${missing.size === 1 ? "a server is" : "servers are"} unreachable: ` +
      `${lines.join("; ")}.`,
    fix: "start it again (with the same --id or address it takes its old place at once), or " +
      "check its host and the network to it; the others keep chatting and forget it after 10 " +
      "minutes.",
  };
}

/** `majority` or `minority`. */
export function splitSide(split: DiscoverSplit): "majority" | "minority" {
  return split.majority ? "majority" : "minority";
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

function unique(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}
