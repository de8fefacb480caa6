/**
 * `dsys serve`: runs a server until SIGINT or SIGTERM.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { defaultLanConfig, resolveConfig } from "../src/config/mod.ts";
import { setupLogging } from "../src/log/mod.ts";
import { Server } from "../src/server/runtime.ts";
import {
  commonOptionsOf,
  commonOverrides,
  parseWholeNumber,
  withCommonOptions,
} from "./options.ts";
import { stopSignal } from "./signals.ts";

/** Builds the `serve` command. */
export function serveCommand() {
  return withCommonOptions(
    new Command("serve").description("run a dsys server on this computer"),
  )
    .addOption(
      new Option("--unicast-port <n>", "UDP port for direct messages (0: any free port)")
        .env("DSYS_UNICAST_PORT").argParser(parseWholeNumber)
        .default(defaultLanConfig().network.unicastPort),
    )
    .addOption(
      new Option("--priority <n>", "Bully priority: the highest (priority, id) leads")
        .env("DSYS_PRIORITY").argParser(parseWholeNumber).default(0),
    )
    .addOption(
      new Option("--id <id>", "node id (default: <address>:<unicast port>)").env("DSYS_ID"),
    )
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const overrides = commonOverrides(options);
      const config = resolveConfig({
        ...overrides,
        network: { ...overrides.network, unicastPort: options.unicastPort },
      });
      const server = await Server.start({ config, priority: options.priority, id: options.id });
      await stopSignal();
      await server.stop();
    });
}
