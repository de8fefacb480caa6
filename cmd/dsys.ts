/**
 * The dsys command line: `dsys serve`, `dsys chat --user NAME`, `dsys probe`, `dsys secret`,
 * `dsys invite`, `dsys version`.
 *
 * This is the entry point of the single binary and of the Node bundle. It only parses the
 * command line and maps failures to exit codes; every command lives in its own module.
 *
 * @module
 */

import process from "node:process";
import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../src/version.ts";
import { chatCommand } from "./chat.ts";
import { reportError } from "./errors.ts";
import { inviteCommand } from "./invite.ts";
import { probeCommand } from "./probe.ts";
import { secretCommand } from "./secret.ts";
import { serveCommand } from "./serve.ts";

/** The runtime this process runs on, for `dsys version`. */
export function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  return deno?.version?.deno ? `deno ${deno.version.deno}` : `node ${process.versions.node}`;
}

/**
 * Puts commander's message for a bad flag value in the style of every other flag error,
 * `--port abc: use a whole number` (or `DSYS_PORT=abc: …` for a value from the environment);
 * other messages are returned as they are.
 */
export function flagErrorLine(text: string): string {
  const message = text.replace(/^error: /, "").trimEnd();
  const bad = message.match(
    /^option '(-[^ ']+)[^']*' (?:argument '(.*)'|value '(.*)' from env '([A-Z_]+)') is invalid\. (.*)$/s,
  );
  if (!bad) return message;
  const [, flag, argument, envValue, env, reason] = bad;
  const what = env === undefined ? `${flag} ${argument}` : `${env}=${envValue}`;
  return `${what}: ${reason.replace(/^expected /, "use ")}`;
}

/** Writes commander's usage errors as one `dsys:` line. */
function writeUsageError(text: string, write: (text: string) => void): void {
  write(`dsys: ${flagErrorLine(text)} (see --help)\n`);
}

/** Builds the whole command tree. */
export function buildProgram(): Command {
  const program = new Command("dsys")
    .description("LAN group chat: servers find each other by multicast and elect a leader");
  program.version(`dsys ${VERSION} (${runtimeName()})`, "--version", "print the version");
  program.command("version").description("print the version").action(() => {
    process.stdout.write(`dsys ${VERSION} (${runtimeName()})\n`);
  });
  for (
    const command of [
      serveCommand(),
      chatCommand(),
      probeCommand(),
      secretCommand(),
      inviteCommand(),
    ]
  ) {
    program.addCommand(command as unknown as Command);
  }
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({ outputError: writeUsageError });
  }
  return program;
}

/**
 * Runs the CLI with the given arguments (without the runtime and script). With none it prints
 * the help on the standard output and exits 0, as `docker` and `kubectl` do: nothing was asked
 * that could fail.
 */
export async function main(args: string[]): Promise<number> {
  try {
    const program = buildProgram();
    if (args.length === 0) {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(args, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}

if (import.meta.main) {
  process.exit(await main(process.argv.slice(2)));
}
