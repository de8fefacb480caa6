/**
 * Logging for dsys, on @logtape/logtape: one setup call per process and a logger per component.
 *
 * Records go to the standard error synchronously (so nothing is lost when the process exits
 * right after logging), as text for people or, with `json`, as one JSON object per line for
 * scripts and tests. This module owns the sink and the formats; components only call
 * {@linkcode logger}.
 *
 * @module
 */

import {
  configureSync,
  getAnsiColorFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";
import { writeSync } from "node:fs";
import process from "node:process";

/** The log levels a user may choose, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** How a process logs. */
export interface LogSetup {
  /** Lowest level written. */
  level: LogLevel;
  /** One JSON object per line instead of text. */
  json: boolean;
}

/** Configures logging for the whole process; call once, before the first record. */
export function setupLogging(setup: LogSetup): void {
  const formatter = setup.json
    ? jsonLine
    : process.stderr.isTTY
    ? getAnsiColorFormatter({ timestamp: "time", value: plainStrings })
    : getTextFormatter({ timestamp: "date-time", value: plainStrings });
  const sink = (record: LogRecord) => {
    writeSync(2, formatter(record));
  };
  resetSync();
  configureSync({
    sinks: { stderr: sink },
    loggers: [
      { category: ["dsys"], sinks: ["stderr"], lowestLevel: setup.level },
      { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
    ],
  });
}

/**
 * Shows a value inside a log message as a person reads it: strings as they are (ids and
 * addresses read better unquoted), lists as `lo, eth0`, a missing value as `none`, everything
 * else inspected.
 */
function plainStrings(value: unknown, inspect: (value: unknown) => string): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "none";
  if (Array.isArray(value)) return value.map((item) => plainStrings(item, inspect)).join(", ");
  return inspect(value);
}

/**
 * One JSON object per record, with the fields of logtape's JSON Lines format; the message is
 * rendered as in the text format (logtape's own quotes every string value inside it: `"\"election
 * started\" (term 1)"`). The values keep their types in `properties`.
 */
export function jsonLine(record: LogRecord): string {
  const message = record.message.map((part, i) =>
    i % 2 === 0 ? String(part) : plainStrings(part, (value) => JSON.stringify(value))
  ).join("");
  return `${
    JSON.stringify({
      "@timestamp": new Date(record.timestamp).toISOString(),
      level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
      message,
      logger: record.category.join("."),
      properties: record.properties,
    })
  }\n`;
}

/** The logger of one dsys component, e.g. `logger("server")`. */
export function logger(component: string): Logger {
  return getLogger(["dsys", component]);
}
