/**
 * The flags every dsys command shares (network, security, logging) and their translation into
 * configuration overrides. Each flag also reads a `DSYS_*` environment variable; a flag given on
 * the command line wins over the environment, which wins over the defaults in `src/config`.
 *
 * @module
 */

import { closeSync, openSync, readSync, statSync } from "node:fs";
import process from "node:process";
import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { type ConfigOverrides, defaultLanConfig } from "../src/config/mod.ts";
import { LOG_LEVELS, logger, type LogLevel } from "../src/log/mod.ts";
import { WIRE_BOUNDS } from "../src/wire/messages.ts";
import { UsageError } from "./errors.ts";

const defaults = defaultLanConfig();

/** Parses a whole number for a flag, refusing anything else with a clear message. */
export function parseWholeNumber(text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new InvalidArgumentError("expected a whole number");
  return Number(text);
}

/**
 * An argument parser for a whole number from `min` to `max`: a flag whose value reaches the wire
 * or a timer takes the bound from where the wire's or the timer's is set, never its own.
 */
export function wholeNumberIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = parseWholeNumber(text);
    if (!(value >= min && value <= max)) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/** Largest secret file read (bytes): a keyring of a hundred long secrets fits many times over. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

function collectSecrets(value: string, previous: string[] | undefined): string[] {
  const secrets = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0) throw new InvalidArgumentError("expected a non-empty secret");
  return [...(previous ?? []), ...secrets];
}

/**
 * Reads a secret file: one secret a line, the first the one to send with; surrounding blanks,
 * blank lines and lines starting with `#` are ignored. Throws a one-line {@linkcode UsageError}
 * for a file that is missing, unreadable, not a regular file (a device or pipe could be read
 * without end), larger than {@linkcode MAX_SECRET_FILE_BYTES} or holds no secret, and warns once
 * when the file can be read by its group or by others (as ssh does for private keys).
 */
export function readSecretFile(path: string): string[] {
  let text: string;
  try {
    text = readBounded(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--secret-file ${path}: ${fileProblem(error)}`);
  }
  const secrets = text.split(/\r?\n/).map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"));
  if (secrets.length === 0) {
    throw new UsageError(
      `--secret-file ${path}: no secret in it (one a line; blank lines and # comments are ignored)`,
    );
  }
  const mode = process.platform === "win32" ? 0 : statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger("cli").warn("secret file {path} can be read by {who} (mode {mode}): chmod 600 {path}", {
      event: "secret-file-mode",
      path,
      who: (mode & 0o007) !== 0 ? "every user" : "its group",
      mode: mode.toString(8).padStart(3, "0"),
    });
  }
  return secrets;
}

/** Reads a regular file of at most `MAX_SECRET_FILE_BYTES` as UTF-8 (one byte more is refused). */
function readBounded(path: string): string {
  const stat = statSync(path);
  if (!stat.isFile()) {
    const what = stat.isDirectory() ? "is a directory" : "not a regular file";
    throw new UsageError(`--secret-file ${path}: ${what}`);
  }
  const fd = openSync(path, "r");
  try {
    const buffer = new Uint8Array(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > MAX_SECRET_FILE_BYTES) {
      throw new UsageError(
        `--secret-file ${path}: larger than ${MAX_SECRET_FILE_BYTES} bytes, not a keyring`,
      );
    }
    return new TextDecoder().decode(buffer.subarray(0, length));
  } finally {
    closeSync(fd);
  }
}

function fileProblem(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return error instanceof Error ? error.message : String(error);
}

/**
 * The keyring from `--secret` or `--secret-file` (or their environment variables). Giving both
 * is refused: which secret sends would depend on a rule nobody remembers, and a forgotten
 * `DSYS_SECRET` would silently override the file.
 */
function secretsOf(options: CommonOptions): string[] | undefined {
  if (options.secret && options.secretFile) {
    throw new UsageError(
      "--secret and --secret-file (or DSYS_SECRET and DSYS_SECRET_FILE) both given: use one; " +
        "the file holds the whole keyring, the secret to send with first",
    );
  }
  return options.secretFile ? readSecretFile(options.secretFile) : options.secret;
}

function parsePeers(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function parseLogLevel(value: string): LogLevel {
  const level = value.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
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
        .argParser(wholeNumberIn(1, WIRE_BOUNDS.port)).default(defaults.network.port),
    )
    .addOption(
      new Option("--iface <name|ip>", "use only this interface (default: every multicast one)")
        .env("DSYS_IFACE"),
    )
    .addOption(
      new Option(
        "--secret <secret>",
        "shared secret: authenticates and encrypts every datagram; repeat (or comma-separate) " +
          "for a keyring: the first sends, all are accepted (without one the cluster is open: " +
          "anyone on the LAN can read it, lead it and post in it; `dsys secret` makes one)",
      ).env("DSYS_SECRET").argParser(collectSecrets),
    )
    .addOption(
      new Option(
        "--secret-file <path>",
        "read the keyring from a file instead: one secret a line, the first sends; blank " +
          "lines and # comments ignored; keep it chmod 600",
      ).env("DSYS_SECRET_FILE"),
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
  /** `--secret-file`: path of a file holding the keyring. */
  secretFile?: string;
  /** `--peers`. */
  peers?: string[];
  /** `--log-level`. */
  logLevel: LogLevel;
  /** `--log-json`. */
  logJson?: boolean;
}

/**
 * Turns the shared flags into configuration overrides; reads `--secret-file`. Throws a
 * {@linkcode UsageError} for a secret file that cannot be used, or for both secret flags.
 */
export function commonOverrides(options: CommonOptions): ConfigOverrides {
  return {
    network: {
      cluster: options.cluster,
      group: options.group,
      port: options.port,
      iface: options.iface,
      peers: options.peers,
    },
    security: { secrets: secretsOf(options) },
  };
}

/** Reads the shared flags of a command built with {@linkcode withCommonOptions}. */
export function commonOptionsOf(command: { opts(): unknown }): CommonOptions {
  return command.opts() as CommonOptions;
}
