/**
 * How the CLI reports failures: one line on the standard error and an exit code, never a stack
 * trace (unless `DSYS_DEBUG` is set). Usage problems exit 2; runtime failures exit 1.
 *
 * @module
 */

import process from "node:process";
import { CommanderError } from "@commander-js/extra-typings";
import { ConfigError } from "../src/config/mod.ts";
import { FaultSpecError } from "../src/transport/faulty_transport.ts";
import { TransportError } from "../src/transport/types.ts";

/** A usage problem found by a command's own checks (exit 2). */
export class UsageError extends Error {
  /** Creates an error with a one-line message for the user. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit code for bad usage: unknown flags, bad values, unusable network settings. */
export const EXIT_USAGE = 2;

/**
 * The flag of each setting a flag sets with the value as given (same unit): a {@linkcode
 * ConfigError} names settings by their path in the configuration, and the CLI shows the flag the
 * user typed instead. Settings absent here are shown by their path (`--status-interval`, in
 * seconds, is checked as a flag before the configuration sees its value in ms).
 */
export const CONFIG_FLAGS: Readonly<Record<string, string>> = {
  "network.cluster": "--cluster",
  "network.group": "--group",
  "network.port": "--port",
  "network.unicastPort": "--unicast-port",
  "network.peers": "--peers",
  "chat.history": "--history",
  "chat.clientWaitMs": "--timeout",
  "storage.retainLines": "--retain-lines",
  "storage.retainDays": "--retain-days",
};

/** The message of a {@linkcode ConfigError} with each setting that has a flag named by its flag. */
export function withFlags(error: ConfigError): string {
  let message = error.message;
  for (const field of error.fields) {
    const flag = CONFIG_FLAGS[field];
    if (flag !== undefined) message = message.replaceAll(field, flag);
  }
  return message;
}

/** Maps an error to its one-line message and exit code, and writes the line. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  const usage = error instanceof UsageError || error instanceof ConfigError ||
    error instanceof TransportError || error instanceof FaultSpecError;
  const message = error instanceof ConfigError
    ? withFlags(error)
    : error instanceof Error
    ? error.message
    : String(error);
  process.stderr.write(`dsys: ${usage ? "" : "internal error: "}${message}\n`);
  if (process.env.DSYS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return usage ? EXIT_USAGE : 1;
}
