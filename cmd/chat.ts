/**
 * `dsys chat --user NAME`: finds a server of the cluster and reports which one it would attach
 * to. (Message delivery is not part of this release.)
 *
 * @module
 */

import process from "node:process";
import { Command, Option } from "@commander-js/extra-typings";
import { resolveConfig } from "../src/config/mod.ts";
import { setupLogging } from "../src/log/mod.ts";
import { discoverServers } from "../src/runtime/discovery.ts";
import { Endpoint, formatAddress } from "../src/runtime/endpoint.ts";
import { UsageError } from "./errors.ts";
import {
  commonOptionsOf,
  commonOverrides,
  parseWholeNumber,
  withCommonOptions,
} from "./options.ts";

/** Longest user name accepted. */
const MAX_USER_LENGTH = 32;

/** Checks a user name: 1-32 printable characters without spaces. */
export function validateUserName(name: string): string {
  if (name.length === 0) throw new UsageError("--user: a user name is required");
  if (name.length > MAX_USER_LENGTH || !/^[\p{L}\p{N}._-]+$/u.test(name)) {
    throw new UsageError(
      `--user "${name}": use 1-${MAX_USER_LENGTH} letters, digits, '.', '_' or '-'`,
    );
  }
  return name;
}

/** Builds the `chat` command. */
export function chatCommand() {
  return withCommonOptions(
    new Command("chat").description("join the chat as USER"),
  )
    .addOption(new Option("--user <name>", "your user name").env("DSYS_USER").makeOptionMandatory())
    .addOption(
      new Option("--timeout <ms>", "how long to look for servers").argParser(parseWholeNumber)
        .default(2000),
    )
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      const user = validateUserName(options.user);
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const config = resolveConfig(commonOverrides(options));
      const endpoint = await Endpoint.open({
        config,
        role: "client",
        joinGroup: false,
        unicastPort: 0,
      });
      try {
        const servers = await discoverServers(endpoint, {
          timeoutMs: Math.max(1, options.timeout),
          attempts: config.timing.discoveryAttempts,
          enough: 1,
        });
        if (servers.length === 0) {
          process.stderr.write("dsys: no server answered\n");
          process.exitCode = 1;
          return;
        }
        const server = servers[0];
        process.stdout.write(
          `${user}: found server ${server.id} at ${formatAddress(server.address)} ` +
            `(${server.rttMs.toFixed(2)} ms)\n`,
        );
      } finally {
        await endpoint.close();
      }
    });
}
