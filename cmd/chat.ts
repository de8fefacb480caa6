/**
 * `dsys chat --user NAME`: joins the chat. On a terminal it is an interactive REPL; otherwise
 * (scripts, tests) each input line is one message and each received message one output line.
 *
 * @module
 */

import process from "node:process";
import { Command, Option } from "@commander-js/extra-typings";
import { defaultChatConfig, MAX_TIMER_MS, resolveConfig } from "../src/config/mod.ts";
import {
  DEFAULT_ROOM,
  isRoomName,
  MAX_ROOM_NAME,
  MAX_USER_NAME,
  WIRE_BOUNDS,
} from "../src/wire/messages.ts";
import { isUserName } from "../src/chat/keys.ts";
import { ChatClient, ChatRefusedError, HISTORY_KEPT, NoServerError } from "../src/client/client.ts";
import { ownerToken } from "../src/client/owner_token.ts";
import { runInteractive, runLines } from "../src/client/repl.ts";
import { setupLogging } from "../src/log/mod.ts";
import { UsageError } from "./errors.ts";
import { commonOptionsOf, commonOverrides, wholeNumberIn, withCommonOptions } from "./options.ts";
import { stopSignal, type StopSignalName } from "./signals.ts";
import { socketOpener } from "./transport.ts";
import { userStateDirectory } from "./state.ts";

const defaults = defaultChatConfig();

/** Checks a user name, with a message that says what is allowed. */
export function validateUserName(name: string): string {
  if (name.length === 0) throw new UsageError("--user: a user name is required");
  if (!isUserName(name)) {
    throw new UsageError(
      `--user ${
        JSON.stringify(name)
      }: use 1-${MAX_USER_NAME} letters, digits, '.', '_' or '-' (a letter outside the BMP, ` +
        "such as 𝐀, counts as 2)",
    );
  }
  return name;
}

/** Checks a room name, with a message that says what is allowed. */
export function validateRoomName(name: string): string {
  if (!isRoomName(name)) {
    throw new UsageError(
      `--room ${JSON.stringify(name)}: use 1-${MAX_ROOM_NAME} lowercase letters, digits, '-' or ` +
        "'_', starting with a letter or digit",
    );
  }
  return name;
}

/**
 * The exit code of a chat stopped before it joined: 130 after Ctrl+C or Ctrl+Break (the
 * shell's convention for an interrupted command), 0 after SIGTERM (asked to stop, it did).
 */
export function exitCodeOnStop(signal: StopSignalName): number {
  return signal === "SIGTERM" ? 0 : 130;
}

/** Builds the `chat` command. */
export function chatCommand() {
  return withCommonOptions(
    new Command("chat").description("join the chat as USER"),
  )
    .addOption(new Option("--user <name>", "your user name").env("DSYS_USER").makeOptionMandatory())
    .addOption(
      new Option("--room <name>", "the room to be in (scripts post there)").env("DSYS_ROOM")
        .default(DEFAULT_ROOM),
    )
    .addOption(
      new Option("--history <n>", "past messages to receive first")
        .argParser(wholeNumberIn(0, WIRE_BOUNDS.seq)).default(defaults.history),
    )
    .addOption(
      new Option(
        "--timeout <ms>",
        "how long to look for servers, and at the end of input to wait for acknowledgements",
      ).argParser(wholeNumberIn(1, MAX_TIMER_MS)).default(defaults.clientWaitMs),
    )
    .option("--json", "print one JSON object per received message or event")
    .option("--follow", "keep receiving after the end of input, until SIGINT/SIGTERM")
    .option(
      "--commands",
      "in line mode, an input line starting with / is a command (/join /leave /me /msg; // for /)",
    )
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      const user = validateUserName(options.user);
      const room = validateRoomName(options.room);
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const config = resolveConfig({
        ...commonOverrides(options),
        chat: { history: options.history, clientWaitMs: options.timeout },
      });
      const { clientWaitMs } = config.chat;
      const stop = stopSignal();
      const interactive = process.stdin.isTTY && process.stdout.isTTY && !options.json;
      if (interactive) {
        const { cluster, group, port } = config.network;
        process.stdout.write(
          `looking for servers… (cluster ${cluster}, group ${group}:${port}; Ctrl+C to stop)\n`,
        );
      }
      let client: ChatClient;
      try {
        const connecting = ChatClient.connect({
          config,
          user,
          room,
          // Only the REPL has `/history`; a script's lines never ask for it.
          keepHistory: interactive ? HISTORY_KEPT : 0,
          owner: ownerToken(config.network.cluster, user, userStateDirectory()),
          openSockets: socketOpener(),
        });
        // A stop signal while looking for servers ends the command at once.
        const stopped = await Promise.race([connecting, stop]);
        if (typeof stopped === "string") {
          connecting.then((late) => late.close(), () => {});
          process.exitCode = exitCodeOnStop(stopped);
          return;
        }
        client = stopped;
      } catch (error) {
        if (error instanceof ChatRefusedError) throw new UsageError(error.message);
        if (error instanceof NoServerError) {
          process.stderr.write(`dsys: ${error.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw error;
      }
      // The name can be lost after joining (a healed split kept the other holder): exit 2.
      const lost = client.refused.then(async (error) => {
        await client.close();
        return error;
      });
      if (interactive) {
        const ended = await Promise.race([
          runInteractive(client, process.stdin, process.stdout, clientWaitMs),
          stop.then(() => client.close()),
          lost,
        ]);
        if (ended instanceof ChatRefusedError) throw new UsageError(ended.message);
        process.exitCode = 0;
        return;
      }
      const ended = await Promise.race([
        runLines(client, process.stdin, process.stdout, process.stderr, {
          json: options.json === true,
          follow: options.follow === true,
          commands: options.commands === true,
          timeoutMs: clientWaitMs,
          stop,
        }),
        lost,
      ]);
      if (ended instanceof ChatRefusedError) throw new UsageError(ended.message);
      process.exitCode = ended;
    });
}
