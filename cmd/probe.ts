/**
 * `dsys probe`: asks the cluster who is there and reports what answered.
 *
 * @module
 */

import process from "node:process";
import { Command, Option } from "@commander-js/extra-typings";
import { resolveConfig } from "../src/config/mod.ts";
import { setupLogging } from "../src/log/mod.ts";
import { type DiscoveredServer, discoverServers } from "../src/runtime/discovery.ts";
import { Endpoint, formatAddress } from "../src/runtime/endpoint.ts";
import {
  commonOptionsOf,
  commonOverrides,
  parseWholeNumber,
  withCommonOptions,
} from "./options.ts";

/** Builds the `probe` command. */
export function probeCommand() {
  return withCommonOptions(
    new Command("probe").description("find the servers of the cluster and report on them"),
  )
    .addOption(
      new Option("--timeout <ms>", "how long to wait for answers").argParser(parseWholeNumber)
        .default(2000),
    )
    .option("--json", "print one JSON object")
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const config = resolveConfig(commonOverrides(options));
      const endpoint = await Endpoint.open({
        config,
        role: "probe",
        joinGroup: false,
        unicastPort: 0,
      });
      let servers: DiscoveredServer[];
      try {
        servers = await discoverServers(endpoint, {
          timeoutMs: Math.max(1, options.timeout),
          attempts: config.timing.discoveryAttempts,
        });
      } finally {
        await endpoint.close();
      }
      const rejections = endpoint.stats().rejections;
      if (options.json) {
        process.stdout.write(`${JSON.stringify(probeReport(servers, rejections))}\n`);
      } else {
        process.stdout.write(formatTable(servers));
      }
      process.exitCode = servers.length > 0 ? 0 : 1;
    });
}

function probeReport(servers: DiscoveredServer[], rejections: Record<string, number>) {
  return {
    servers: servers.map((s) => ({
      id: s.id,
      address: formatAddress(s.address),
      version: s.reply.version,
      priority: s.reply.priority,
      uptimeMs: s.reply.uptimeMs,
      rttMs: Number(s.rttMs.toFixed(3)),
    })),
    rejections,
    problems: servers.length > 0 ? [] : [{ code: "no-server", message: "no server answered" }],
  };
}

function formatTable(servers: DiscoveredServer[]): string {
  if (servers.length === 0) {
    return "no server answered (is a server running with the same --cluster, --group and --port?)\n";
  }
  const rows = [
    ["ID", "ADDRESS", "VERSION", "PRIORITY", "UPTIME", "RTT"],
    ...servers.map((s) => [
      s.id,
      formatAddress(s.address),
      s.reply.version,
      String(s.reply.priority),
      `${(s.reply.uptimeMs / 1000).toFixed(1)}s`,
      `${s.rttMs.toFixed(2)}ms`,
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n") + "\n";
}
