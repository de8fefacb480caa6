/**
 * The data of the cluster page (`/cluster`): this server's row (`/cluster/now`, which the page
 * fetches from every server of the cluster), and its recent history (`/cluster/feed`): lines per
 * second, the latency of browser lines, and a timeline of joins, suspicions, deaths, elections,
 * splits and heals found by comparing successive snapshots ({@linkcode timelineBetween}, pure).
 *
 * @module
 */

import type http from "node:http";
import type { WebConfig } from "../config/mod.ts";
import type { ServerStatusReport } from "../server/server.ts";
import { sendText } from "./bridge.ts";
import { originAllowed } from "./security.ts";

/** One server as the cluster page shows it. */
export interface ServerRow {
  /** Node id. */
  id: string;
  /** `leader` or `follower`. */
  role: string;
  /** The leader's term. */
  term: number;
  /** The view number. */
  view: number;
  /** The leader this server follows, or null. */
  leader: string | null;
  /** `split: …` (a cut network) or `lost: …` (crashed or cut off), `""` while whole. */
  split: string;
  /** Chat clients attached to this server. */
  clients: number;
  /** Highest committed sequence number. */
  commit: number;
  /** Every server of its view with its state. */
  members: { id: string; state: string; leader: boolean }[];
}

/** One point of the charts. */
export interface FeedPoint {
  /** Wall-clock time (ms since the epoch). */
  t: number;
  /** Lines committed per second since the previous point. */
  linesPerSecond: number;
  /** Median time from a browser post to its delivery back (ms), null when none was posted. */
  latencyMs: number | null;
}

/** One timeline entry. */
export interface TimelineEntry {
  /** Wall-clock time (ms since the epoch). */
  t: number;
  /** `join`, `suspect`, `death`, `left`, `election`, `split` or `heal`. */
  kind: string;
  /** What happened, in words. */
  text: string;
}

/** The row of a server from its status report. */
export function serverRow(report: ServerStatusReport): ServerRow {
  const split = report.split;
  const missing = split?.missing ?? [];
  return {
    id: report.node.id,
    role: report.leader === report.node.id ? "leader" : "follower",
    term: report.term,
    view: report.view,
    leader: report.leader,
    split: split
      ? `${split.partition === false ? "lost" : "split"}: ${split.servers} of ${split.of} servers${
        split.majority ? " (majority)" : " (minority)"
      }${missing.length > 0 ? `; missing ${missing.map((m) => m.id).join(", ")}` : ""}`
      : "",
    clients: report.counters.chat.clients,
    commit: report.counters.chat.commit,
    members: report.members.filter((m) => m.role === "server").map((m) => ({
      id: m.id,
      state: m.state,
      leader: m.isLeader,
    })),
  };
}

/** What changed between two rows of the same server, as timeline entries at time `t`. */
export function timelineBetween(before: ServerRow, after: ServerRow, t: number): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const was = new Map(before.members.map((m) => [m.id, m.state]));
  const now = new Set(after.members.map((m) => m.id));
  for (const member of after.members) {
    const old = was.get(member.id);
    if (old === member.state) continue;
    if (old === undefined || (old !== "alive" && member.state === "alive")) {
      entries.push({ t, kind: "join", text: `${member.id} joined` });
    } else if (member.state === "suspect") {
      entries.push({ t, kind: "suspect", text: `${member.id} is suspected` });
    } else if (member.state === "dead") {
      entries.push({ t, kind: "death", text: `${member.id} is dead` });
    } else if (member.state === "left") {
      entries.push({ t, kind: "left", text: `${member.id} left` });
    }
  }
  for (const id of was.keys()) {
    if (!now.has(id)) entries.push({ t, kind: "left", text: `${id} was forgotten` });
  }
  if (after.term !== before.term || after.leader !== before.leader) {
    entries.push({
      t,
      kind: "election",
      text: after.leader === null ? "no leader" : `${after.leader} leads (term ${after.term})`,
    });
  }
  if (after.split !== "" && after.split !== before.split) {
    entries.push({ t, kind: "split", text: after.split });
  } else if (after.split === "" && before.split !== "") {
    entries.push({ t, kind: "heal", text: "the cluster is whole again" });
  }
  return entries;
}

/** The median of `values`, or null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Timeline entries kept. */
const TIMELINE_KEPT = 200;

/** The cluster page's data of one server: samples its status and answers `/cluster/*`. */
export class ClusterFeed {
  readonly #status: () => ServerStatusReport | undefined;
  readonly #peers: () => string[];
  readonly #allowed: () => string[];
  readonly #web: WebConfig;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #points: FeedPoint[] = [];
  readonly #timeline: TimelineEntry[] = [];
  #latencies: number[] = [];
  #last: { row: ServerRow; t: number } | undefined;

  /**
   * Starts sampling `status` every `web.feedIntervalMs` ({@linkcode ClusterFeed.close} stops);
   * `peers` are the live servers' pages, `allowed` the origins that may read the feed.
   */
  constructor(
    web: WebConfig,
    status: () => ServerStatusReport | undefined,
    peers: () => string[],
    allowed: () => string[],
  ) {
    this.#web = web;
    this.#status = status;
    this.#peers = peers;
    this.#allowed = allowed;
    this.#timer = setInterval(() => this.#sample(), web.feedIntervalMs);
  }

  /** Records the latency of one browser line (post to delivery, ms). */
  latency(ms: number): void {
    this.#latencies.push(ms);
  }

  /** Answers `/cluster/now` and `/cluster/feed`; false for other paths. */
  handle(request: http.IncomingMessage, response: http.ServerResponse, url: URL): boolean {
    if (url.pathname !== "/cluster/now" && url.pathname !== "/cluster/feed") return false;
    const origin = request.headers.origin;
    if (!originAllowed(origin, request.headers.host, this.#allowed())) {
      sendText(response, 403, "forbidden: not a server of the cluster\n");
      return true;
    }
    const report = this.#status();
    if (!report) {
      sendText(response, 503, "the server is starting\n");
      return true;
    }
    const body = url.pathname === "/cluster/now" ? serverRow(report) : {
      row: serverRow(report),
      peers: this.#peers(),
      points: this.#points,
      timeline: this.#timeline,
    };
    response.statusCode = 200;
    if (origin !== undefined) {
      response.setHeader("Access-Control-Allow-Origin", origin);
      response.setHeader("Vary", "Origin");
    }
    response.setHeader("Content-Type", "application/json; charset=utf-8");
    response.setHeader("Cache-Control", "no-store");
    response.end(JSON.stringify(body));
    return true;
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const report = this.#status();
    if (!report) return;
    const row = serverRow(report);
    const t = Date.now();
    if (this.#last) {
      const seconds = Math.max(0.001, (t - this.#last.t) / 1000);
      this.#points.push({
        t,
        linesPerSecond: Math.max(0, row.commit - this.#last.row.commit) / seconds,
        latencyMs: median(this.#latencies),
      });
      if (this.#points.length > this.#web.feedPoints) this.#points.shift();
      this.#timeline.push(...timelineBetween(this.#last.row, row, t));
      this.#timeline.splice(0, Math.max(0, this.#timeline.length - TIMELINE_KEPT));
    } else {
      this.#timeline.push({ t, kind: "join", text: `${row.id} started watching` });
    }
    this.#latencies = [];
    this.#last = { row, t };
  }
}
