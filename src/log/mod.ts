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
  jsonLinesFormatter,
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
    ? jsonLinesFormatter
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

/** Shows strings as they are (ids and addresses read better unquoted), everything else inspected. */
function plainStrings(value: unknown, inspect: (value: unknown) => string): string {
  return typeof value === "string" ? value : inspect(value);
}

/** The logger of one dsys component, e.g. `logger("server")`. */
export function logger(component: string): Logger {
  return getLogger(["dsys", component]);
}
