/**
 * How `dsys probe` shows its report: the text for people (interfaces, the server table, the
 * verdict with each problem and its fix, notes) and the one JSON object of `--json`.
 *
 * Pure formatting of a {@linkcode ProbeReport}; the command decides where it goes.
 *
 * @module
 */

import type { InterfaceRow } from "./local.ts";
import { type ProbeReport, type ServerRow, splitSide } from "./verdict.ts";

/** Width the text report wraps its sentences at. */
const WIDTH = 100;

/** The whole report as text, ending with a newline. */
export function formatReport(report: ProbeReport): string {
  const seconds = (report.durationMs / 1000).toFixed(1);
  const sections = [
    `dsys probe: cluster "${report.cluster}", group ${report.group}:${report.port}, ${seconds} s`,
    formatInterfaces(report),
    formatServers(report.servers),
    formatVerdict(report),
  ];
  if (report.hints.length > 0) {
    sections.push(
      ["Notes", ...report.hints.map((h) => wrap(`[${h.code}] ${h.message}`, "  - ", "    "))]
        .join("\n"),
    );
  }
  return sections.join("\n\n") + "\n";
}

/** The report as the one JSON object of `--json` (one line, no newline). */
export function formatJson(report: ProbeReport): string {
  return JSON.stringify({
    ...report,
    durationMs: round(report.durationMs),
    servers: report.servers.map((s) => ({
      ...s,
      rttMs: s.rttMs === null ? null : round(s.rttMs),
      loss: s.loss === null ? null : round(s.loss),
    })),
    selfTests: report.selfTests.map((t) => (t.ms === undefined ? t : { ...t, ms: round(t.ms) })),
  });
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function formatInterfaces(report: ProbeReport): string {
  const rows = report.interfaces.map((r) => [
    r.outgoing ? "yes*" : r.used ? "yes" : "no",
    r.name,
    r.address,
    linkState(r),
    r.why,
  ]);
  const tests = report.selfTests.map((t) =>
    t.ok ? `${t.iface} ok (${(t.ms ?? 0).toFixed(1)} ms)` : `${t.iface} FAILED (${t.error})`
  );
  const group = report.listening ? "listened to the group" : "could not listen to the group";
  return [
    "Interfaces (* sends multicast)",
    table([["USED", "NAME", "ADDRESS", "LINK", "WHY"], ...rows]),
    `  ${group}; multicast self-test: ${tests.join(", ") || "not run"}`,
  ].join("\n");
}

function linkState(r: InterfaceRow): string {
  if (r.up === null) return "flags unknown";
  const parts = [r.up ? "up" : "down"];
  if (r.multicast) parts.push("multicast");
  if (r.loopback) parts.push("loopback");
  return parts.join(",");
}

/** The server table, or a line saying none was found. */
export function formatServers(servers: readonly ServerRow[]): string {
  if (servers.length === 0) return "Servers: none found";
  const rows = servers.map((s) => [
    s.id,
    s.address,
    s.role,
    String(s.term),
    s.leader ?? "-",
    s.viewSize === null ? "-" : String(s.viewSize),
    formatSplit(s),
    s.clients === null ? "-" : String(s.clients),
    s.uptimeMs === null ? "-" : formatDuration(s.uptimeMs),
    s.version,
    s.rttMs === null ? "-" : `${s.rttMs.toFixed(2)}ms`,
    s.loss === null ? "-" : `${Math.round(s.loss * 100)}%`,
    s.reached,
    formatRejections(s.rejections),
  ]);
  const header = [
    "ID",
    "ADDRESS",
    "ROLE",
    "TERM",
    "LEADER",
    "VIEW",
    "SPLIT",
    "CLIENTS",
    "UPTIME",
    "VERSION",
    "RTT",
    "LOSS",
    "REACHED",
    "REJECTED",
  ];
  return [`Servers (${servers.length})`, table([header, ...rows]), formatRooms(servers)]
    .filter((part) => part !== "").join("\n");
}

/** `Rooms (as s3 knows them): #lobby 3, #ops 2`, from the leader's answer (else the first). */
function formatRooms(servers: readonly ServerRow[]): string {
  const answered = servers.filter((s) => s.rooms !== null);
  const source = answered.find((s) => s.role === "leader") ?? answered[0];
  if (!source?.rooms || source.rooms.length === 0) return "";
  return `Rooms (as ${source.id} knows them): ${
    source.rooms.map((r) => `#${r.room} ${r.users}`).join(", ")
  }`;
}

/**
 * `minority 1/3` or `majority 2/3` while split, `no (lost 1)` while servers are missing without
 * evidence of a split, `no` when whole, `-` when only heard.
 */
function formatSplit(s: ServerRow): string {
  if (s.split !== null && s.split.partition !== false) {
    return `${splitSide(s.split)} ${s.split.servers}/${s.split.of}`;
  }
  if (s.split !== null) return `no (lost ${s.split.of - s.split.servers})`;
  return s.reached === "heard" ? "-" : "no";
}

function formatRejections(rejections: Record<string, number> | null): string {
  if (rejections === null) return "-";
  const entries = Object.entries(rejections).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "0" : entries.map(([reason, n]) => `${reason}=${n}`).join(",");
}

/** `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

function formatVerdict(report: ProbeReport): string {
  if (report.healthy) {
    const leader = report.leader === null ? "" : `, leader ${report.leader} (term ${report.term})`;
    return `Verdict: healthy: ${report.servers.length} server${
      report.servers.length === 1 ? "" : "s"
    }${leader}.`;
  }
  const count = report.problems.length;
  return [
    `Verdict: ${count} problem${count === 1 ? "" : "s"}`,
    ...report.problems.map((p) =>
      [
        wrap(`[${p.code}] ${p.message}`, "  - ", "    "),
        ...p.fix.split("\n").map((line, i) =>
          line.startsWith("  ")
            ? `    ${line}`
            : wrap(i === 0 ? `fix: ${line}` : line, "    ", "    ")
        ),
      ].join("\n")
    ),
  ].join("\n");
}

/** Aligns rows into columns two spaces apart, each line indented by two spaces. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c])).join("  ")}`.trimEnd())
    .join("\n");
}

/** Wraps `text` at {@linkcode WIDTH}: `first` before the first line, `rest` before the others. */
function wrap(text: string, first: string, rest: string): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(" ")) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = rest + word;
    } else {
      line += line.length > prefix.length ? ` ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join("\n");
}
