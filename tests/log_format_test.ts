/**
 * Log lines read as English: no quotes around the values inside a JSON record's message, lists
 * as `lo, eth0`, a missing value as `none`; the values keep their types in `properties`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { jsonLine } from "../src/log/mod.ts";

function record(message: unknown[], properties: Record<string, unknown>): LogRecord {
  return {
    category: ["dsys", "server"],
    level: "info",
    message,
    rawMessage: "",
    properties,
    timestamp: Date.UTC(2026, 0, 1),
  };
}

Deno.test("a JSON log line's message has no quoted values, lists read as lists", () => {
  const election = JSON.parse(
    jsonLine(record(["", "election started", " (term ", 1, ")"], {
      what: "election started",
      term: 1,
    })),
  );
  assert.equal(election.message, "election started (term 1)");
  assert.deepEqual(election.properties, { what: "election started", term: 1 });
  const listening = JSON.parse(
    jsonLine(record(["group on ", ["lo", "eth0"], ", leader ", null, ""], {
      interfaces: ["lo", "eth0"],
    })),
  );
  assert.equal(listening.message, "group on lo, eth0, leader none");
  assert.deepEqual(Object.keys(listening), [
    "@timestamp",
    "level",
    "message",
    "logger",
    "properties",
  ]);
  assert.equal(listening.level, "INFO");
  assert.equal(listening.logger, "dsys.server");
});
