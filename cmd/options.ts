/**
 * The flags every dsys command shares (network, security, logging) and their translation into
 * configuration overrides. Each flag also reads a `DSYS_*` environment variable; a flag given on
 * the command line wins over the environment, which wins over the defaults in `src/config`.
 *
 * @module
 */

import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { LogLevel } from "@logtape/logtape";
import { type ConfigOverrides, defaultLanConfig } from "../src/config/mod.ts";
import { LOG_LEVELS } from "../src/log/mod.ts";

const defaults = defaultLanConfig();

/** Parses a whole number for a flag, refusing anything else with a clear message. */
export function parseWholeNumber(text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new InvalidArgumentError("expected a whole number");
  return Number(text);
}

function collectSecrets(value: string, previous: string[] | undefined): string[] {
  const secrets = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0) throw new InvalidArgumentError("expected a non-empty secret");
  return [...(previous ?? []), ...secrets];
}

function parsePeers(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function parseLogLevel(value: string): LogLevel {
  const level = value.toLowerCase();
  if (!(LOG_LEVELS as string[]).includes(level)) {
    throw new InvalidArgumentError(`use one of ${LOG_LEVELS.join(", ")}`);
  }
  return level as LogLevel;
}

/**
 * Adds the network, security and logging flags shared by serve, chat and probe. (The result is
 * typed as a plain `Command`: letting TypeScript infer the whole option chain through a generic
 * helper made `deno check` of the CLI run for minutes. Actions read {@linkcode CommonOptions}.)
 */
export function withCommonOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--cluster <name>", "cluster name; clusters with other names ignore each other")
        .env("DSYS_CLUSTER").default(defaults.network.cluster),
    )
    .addOption(
      new Option("--group <ip>", "IPv4 multicast group").env("DSYS_GROUP")
        .default(defaults.network.group),
    )
    .addOption(
      new Option("--port <n>", "UDP port of the multicast group").env("DSYS_PORT")
        .argParser(parseWholeNumber).default(defaults.network.port),
    )
    .addOption(
      new Option("--iface <name|ip>", "use only this interface (default: every multicast one)")
        .env("DSYS_IFACE"),
    )
    .addOption(
      new Option("--secret <secret>", "shared secret; repeat (or comma-separate) for a keyring")
        .env("DSYS_SECRET").argParser(collectSecrets),
    )
    .addOption(
      new Option("--peers <host:port,...>", "unicast seeds for networks without multicast")
        .env("DSYS_PEERS").argParser(parsePeers),
    )
    .addOption(
      new Option("--log-level <level>", `one of ${LOG_LEVELS.join(", ")}`).env("DSYS_LOG_LEVEL")
        .argParser(parseLogLevel).default("info" as LogLevel),
    )
    .addOption(
      new Option("--log-json", "log one JSON object per line").env("DSYS_LOG_JSON"),
    );
}

/** The values of the shared flags after parsing. */
export interface CommonOptions {
  /** `--cluster`. */
  cluster: string;
  /** `--group`. */
  group: string;
  /** `--port`. */
  port: number;
  /** `--iface`. */
  iface?: string;
  /** `--secret`, as a keyring. */
  secret?: string[];
  /** `--peers`. */
  peers?: string[];
  /** `--log-level`. */
  logLevel: LogLevel;
  /** `--log-json`. */
  logJson?: boolean;
}

/** Turns the shared flags into configuration overrides. */
export function commonOverrides(options: CommonOptions): ConfigOverrides {
  return {
    network: {
      cluster: options.cluster,
      group: options.group,
      port: options.port,
      iface: options.iface,
      peers: options.peers,
    },
    security: { secrets: options.secret },
  };
}

/** Reads the shared flags of a command built with {@linkcode withCommonOptions}. */
export function commonOptionsOf(command: { opts(): unknown }): CommonOptions {
  return command.opts() as CommonOptions;
}
