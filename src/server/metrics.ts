/**
 * The Prometheus text exposition format (version 0.0.4) of a server's status, for
 * `serve --http`'s `/metrics`.
 *
 * Pure formatting: it turns a {@linkcode ServerStatusReport} into metric families and those into
 * text. It exposes only what the server really counts: rejected datagrams by reason, misbehaving
 * members by reason and throttled chat lines among them — and the process's own figures (CPU,
 * memory, event-loop lag, GC pauses under Node).
 *
 * @module
 */

import { MISBEHAVIOURS } from "../guard/tracker.ts";
import { REJECT_REASONS } from "../wire/rejections.ts";
import type { MemberState } from "../membership/core.ts";
import { liveMembers } from "./node.ts";
import type { ServerStatusReport } from "./server.ts";
import type { ProcessReport } from "./process_stats.ts";

/** The `Content-Type` of {@linkcode formatMetrics}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One sample of a metric family: its labels and value. */
export interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum` or `_count` of a histogram. */
  suffix?: string;
  /** Label names and values (values are escaped on output). */
  labels?: Record<string, string>;
  /** The value. */
  value: number;
}

/** A metric family: name, help text, type and samples. */
export interface MetricFamily {
  /** Metric name, `dsys_…`; counters end in `_total`. */
  name: string;
  /** One line saying what it measures. */
  help: string;
  /** Counter (only grows), gauge (goes up and down) or histogram (buckets, sum and count). */
  type: "counter" | "gauge" | "histogram";
  /** Its samples (at least one). */
  samples: Sample[];
}

const STATES: readonly MemberState[] = ["alive", "suspect", "dead", "left"];

type Family = (name: string, help: string, value: number) => MetricFamily;

/** The chat log on the disk, for a server that keeps one (none for a memory-only server). */
function diskFamilies(status: ServerStatusReport, gauge: Family, counter: Family): MetricFamily[] {
  const disk = status.storage;
  if (!disk) return [];
  return [
    gauge("dsys_chat_disk_bytes", "Bytes of the chat log's segment files.", disk.bytes),
    gauge("dsys_chat_disk_segments", "Segment files of the chat log.", disk.segments),
    gauge("dsys_chat_disk_oldest_seq", "Oldest chat sequence number on the disk.", disk.oldestSeq),
    gauge(
      "dsys_chat_disk_oldest_timestamp_seconds",
      "Time of the oldest chat line on the disk (0: none).",
      disk.oldestTs / 1000,
    ),
    gauge(
      "dsys_chat_disk_last_flush_timestamp_seconds",
      "When the last flush of the chat log ended (0: none yet).",
      disk.lastFlushAt / 1000,
    ),
    gauge(
      "dsys_chat_disk_flush_seconds",
      "How long the last flush (write and fdatasync) of the chat log took.",
      disk.lastFlushMs / 1000,
    ),
    counter("dsys_chat_disk_flushes_total", "Flushes of the chat log.", disk.flushes),
    gauge(
      "dsys_chat_disk_failing",
      "1 while writes of the chat log fail (a full disk): nothing more is acknowledged.",
      disk.failing === undefined ? 0 : 1,
    ),
  ];
}

/** The metric families of a server's status. */
export function metricFamilies(status: ServerStatusReport): MetricFamily[] {
  const { node, counters } = status;
  const protocol = counters.protocol;
  const split = status.split?.partition === false ? undefined : status.split;
  const one = (value: number): Sample[] => [{ value }];
  const counter = (name: string, help: string, value: number): MetricFamily => ({
    name,
    help,
    type: "counter",
    samples: one(value),
  });
  const gauge = (name: string, help: string, value: number): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: one(value),
  });
  return [
    {
      name: "dsys_info",
      help: "Always 1; the labels describe this server.",
      type: "gauge",
      samples: [{
        labels: {
          id: node.id,
          version: node.version,
          cluster: node.cluster,
          transport: node.transport,
        },
        value: 1,
      }],
    },
    gauge("dsys_uptime_seconds", "Seconds since this server started.", node.uptimeMs / 1000),
    gauge(
      "dsys_view_number",
      "This server's view number (grows on every membership change).",
      status.view,
    ),
    counter("dsys_view_changes_total", "Changes of this server's view.", protocol.viewChanges),
    {
      name: "dsys_members",
      help: "Members of this server's view (itself included), by role and state.",
      type: "gauge",
      samples: (["server", "client"] as const).flatMap((role) =>
        STATES.map((state) => ({
          labels: { role, state },
          value: status.members.filter((m) => m.role === role && m.state === state).length,
        }))
      ),
    },
    gauge(
      "dsys_clients",
      "Live chat clients in this server's view.",
      liveMembers(status.members, "client"),
    ),
    gauge(
      "dsys_is_leader",
      "1 when this server is the leader it follows, else 0.",
      status.leader === node.id ? 1 : 0,
    ),
    gauge(
      "dsys_leader_known",
      "1 when this server follows a leader, else 0.",
      status.leader === null ? 0 : 1,
    ),
    gauge(
      "dsys_term",
      "Term of the leader this server follows (0 before any election).",
      status.term,
    ),
    gauge(
      "dsys_split",
      "1 while the evidence says the network split (several servers vanished at once).",
      split ? 1 : 0,
    ),
    gauge(
      "dsys_split_servers",
      "Servers this side of a split reaches, itself included (0 when not split).",
      split?.servers ?? 0,
    ),
    gauge(
      "dsys_split_majority",
      "1 while split and this side holds a majority of the last full view.",
      split?.majority ? 1 : 0,
    ),
    gauge(
      "dsys_unreachable_servers",
      "Servers of the last full view this server no longer reaches (crashed or cut off).",
      status.split?.missing?.length ?? 0,
    ),
    counter(
      "dsys_elections_started_total",
      "Bully elections this server started.",
      protocol.electionsStarted,
    ),
    counter("dsys_elections_won_total", "Bully elections this server won.", protocol.electionsWon),
    counter(
      "dsys_leader_changes_total",
      "Times this server began following a new leader (its first one included).",
      counters.leaderChanges,
    ),
    counter("dsys_suspicions_total", "Members this server suspected.", protocol.suspicions),
    counter(
      "dsys_suspicions_refuted_total",
      "Suspicions ended by a sign of life (the member was alive).",
      protocol.suspicionsRefuted,
    ),
    counter(
      "dsys_deaths_declared_total",
      "Members this server declared dead.",
      protocol.deathsDeclared,
    ),
    counter(
      "dsys_stalls_detected_total",
      "Times this server found it had itself been stalled.",
      protocol.stallsDetected,
    ),
    counter("dsys_datagrams_sent_total", "Datagrams handed to the socket.", counters.sentDatagrams),
    counter("dsys_datagrams_received_total", "Datagrams received.", counters.receivedDatagrams),
    counter("dsys_bytes_sent_total", "Bytes handed to the socket.", counters.sentBytes),
    counter("dsys_bytes_received_total", "Bytes received.", counters.receivedBytes),
    counter("dsys_send_errors_total", "Sends the socket refused.", counters.sendErrors),
    counter(
      "dsys_handler_errors_total",
      "Datagrams, ticks and flushes whose handling threw: dropped, and the server ran on.",
      counters.handlerErrors,
    ),
    gauge("dsys_chat_term", "Chat term this server follows or leads.", counters.chat.term),
    gauge("dsys_chat_commit_seq", "Highest committed chat sequence number.", counters.chat.commit),
    gauge(
      "dsys_chat_log_entries",
      "Chat entries this server holds.",
      counters.chat.last === 0 ? 0 : counters.chat.last - counters.chat.first + 1,
    ),
    gauge("dsys_chat_clients_attached", "Chat clients attached here.", counters.chat.clients),
    gauge(
      "dsys_chat_clients_streamed",
      "Chat clients attached here that take the leader's multicast stream.",
      counters.chat.streamedClients,
    ),
    counter(
      "dsys_chat_stream_datagrams_total",
      "Datagrams of committed entries this server multicast to the clients while it led.",
      counters.chat.streamDatagrams,
    ),
    gauge(
      "dsys_chat_buffered",
      "Lines the sequencer buffers (leader only).",
      counters.chat.buffered,
    ),
    counter(
      "dsys_chat_conflicts_total",
      "Committed chat entries replaced by a leader's.",
      counters.chat.conflicts,
    ),
    counter(
      "dsys_chat_posts_throttled_total",
      "Client lines refused (the client slows down and retries) above the per-client rate.",
      counters.chat.throttled,
    ),
    ...diskFamilies(status, gauge, counter),
    gauge(
      "dsys_chat_rooms",
      "Chat rooms in use, as this server's log implies.",
      counters.chat.rooms.length,
    ),
    {
      name: "dsys_chat_room_users",
      help: "Users in each chat room, as this server's log implies.",
      type: "gauge",
      samples: counters.chat.rooms.map(({ room, users }) => ({ labels: { room }, value: users })),
    },
    {
      name: "dsys_misbehaviour_total",
      help:
        "Authenticated senders this server began to ignore for a cooling-off period, by reason.",
      type: "counter",
      samples: MISBEHAVIOURS.map((reason) => ({
        labels: { reason },
        value: counters.guard.misbehaviour[reason] ?? 0,
      })),
    },
    counter(
      "dsys_datagrams_ignored_total",
      "Authenticated datagrams dropped because their sender was cooling off.",
      counters.guard.ignored,
    ),
    gauge("dsys_ignored_senders", "Senders cooling off now.", counters.guard.ignoring),
    {
      name: "dsys_datagrams_rejected_total",
      help: "Datagrams rejected before delivery, by reason.",
      type: "counter",
      samples: REJECT_REASONS.map((reason) => ({
        labels: { reason },
        value: counters.rejections[reason] ?? 0,
      })),
    },
  ];
}

/** The families of the process itself: CPU, memory, event-loop lag and (Node) GC pauses. */
export function processFamilies(report: ProcessReport): MetricFamily[] {
  const lag = report.eventLoopLag;
  const families: MetricFamily[] = [
    {
      name: "dsys_process_cpu_seconds_total",
      help: "CPU time this process used, by mode.",
      type: "counter",
      samples: [
        { labels: { mode: "user" }, value: report.cpuUserSeconds },
        { labels: { mode: "system" }, value: report.cpuSystemSeconds },
      ],
    },
    {
      name: "dsys_process_resident_memory_bytes",
      help: "Resident memory of this process.",
      type: "gauge",
      samples: [{ value: report.residentBytes }],
    },
    {
      name: "dsys_process_heap_used_bytes",
      help: "JavaScript heap in use.",
      type: "gauge",
      samples: [{ value: report.heapUsedBytes }],
    },
    {
      name: "dsys_event_loop_lag_seconds",
      help: "How late the protocol clock's timer fired: the event loop's lag, where stalls show.",
      type: "histogram",
      samples: [
        ...lag.bucketsMs.map((ms, i) => ({
          suffix: "_bucket",
          labels: { le: String(ms / 1000) },
          value: lag.atMost[i],
        })),
        { suffix: "_bucket", labels: { le: "+Inf" }, value: lag.count },
        { suffix: "_sum", value: lag.sumMs / 1000 },
        { suffix: "_count", value: lag.count },
      ],
    },
  ];
  if (report.gc) {
    families.push(
      {
        name: "dsys_gc_pauses_total",
        help: "Garbage collections (Node only).",
        type: "counter",
        samples: [{ value: report.gc.count }],
      },
      {
        name: "dsys_gc_pause_seconds_total",
        help: "Time the garbage collector paused this process (Node only).",
        type: "counter",
        samples: [{ value: report.gc.totalMs / 1000 }],
      },
    );
  }
  return families;
}

/** Renders metric families in the Prometheus text format, ending with a newline. */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const name = family.name + (sample.suffix ?? "");
      lines.push(`${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A server's status in the Prometheus text format. */
export function formatMetrics(status: ServerStatusReport): string {
  const own = status.process ? processFamilies(status.process) : [];
  return renderMetrics([...metricFamilies(status), ...own]);
}

function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels || Object.keys(labels).length === 0) return "";
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return `{${pairs.join(",")}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Escapes help text: backslash and line feed. */
function escapeHelp(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}
