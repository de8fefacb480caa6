/**
 * `dsys probe`: checks this computer's network, asks the cluster who is there, and says whether
 * it is healthy or what is wrong and how to fix it. Exit 0 when healthy, 1 when a problem was
 * found, 2 for bad usage. The work is done by `src/probe/`.
 *
 * @module
 */

import process from "node:process";
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { parseHostPort, resolveConfig } from "../src/config/mod.ts";
import { setupLogging } from "../src/log/mod.ts";
import { formatJson, formatReport, type ProbeReport, ProbeSession } from "../src/probe/mod.ts";
import { watch } from "../src/probe/watch.ts";
import { commonOptionsOf, commonOverrides, withCommonOptions } from "./options.ts";
import { stopSignal } from "./signals.ts";
import { socketOpener } from "./transport.ts";

/** Longest `--timeout` accepted (ms). */
const MAX_TIMEOUT_MS = 600_000;

function parseTimeout(text: string): number {
  const ms = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(ms >= 100 && ms <= MAX_TIMEOUT_MS)) {
    throw new InvalidArgumentError(`expected milliseconds from 100 to ${MAX_TIMEOUT_MS}`);
  }
  return ms;
}

function collectAddrs(value: string, previous: string[] | undefined): string[] {
  const addrs = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  return [...(previous ?? []), ...addrs];
}

/** Builds the `probe` command. */
export function probeCommand() {
  return withCommonOptions(
    new Command("probe").description(
      "check this computer's network and the cluster; say what is wrong and how to fix it",
    ),
  )
    .addOption(
      new Option("--timeout <ms>", "how long to ask and listen").argParser(parseTimeout)
        .default(2000),
    )
    .addOption(
      new Option("--addr <host:port,...>", "also ask this server directly (unicast); repeatable")
        .argParser(collectAddrs),
    )
    .option("--json", "print one JSON object")
    .option("--watch", "refresh until Ctrl+C")
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const config = resolveConfig(commonOverrides(options));
      const addrs = (options.addr ?? []).map((a) => parseHostPort(a, "--addr"));
      const render = options.json
        ? (report: ProbeReport) => `${formatJson(report)}\n`
        : formatReport;
      const session = await ProbeSession.open(config, addrs, { openSockets: socketOpener() });
      let report: ProbeReport | undefined;
      try {
        if (options.watch) {
          const tty = process.stdout.isTTY === true && !options.json;
          report = await watch({
            round: (signal) => session.run(options.timeout, signal),
            render: tty || options.json ? render : (r) => `${render(r)}\n`,
            write: (text) => process.stdout.write(text),
            tty,
            stop: stopSignal(),
          });
        } else {
          report = await session.run(options.timeout);
          process.stdout.write(render(report));
        }
      } finally {
        await session.close();
      }
      process.exitCode = report?.healthy ? 0 : 1;
    });
}
