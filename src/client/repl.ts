/**
 * The chat's two faces: an interactive REPL on a terminal (prompt, coloured names, commands,
 * incoming lines that never garble the line being typed) and a line-per-message mode for
 * scripts (plain text or `--json`). Both drive a {@linkcode ChatSession}; neither knows about
 * sockets or the protocol.
 *
 * @module
 */

import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { clock, formatMessage, formatSystem, neutralize, type ShownMessage } from "./render.ts";
import { type ChatRosterBody, DEFAULT_ROOM, isRoomName, MAX_ROOM_NAME } from "../wire/messages.ts";
import { isUserName } from "../chat/keys.ts";

/** Something the chat shows: a message or a system line. */
export type ChatUiEvent =
  | { type: "message"; message: ShownMessage & { id: string } }
  | { type: "system"; kind: string; text: string; details?: Record<string, unknown> };

/** A user in `/who`. */
export interface WhoEntry {
  /** User name. */
  user: string;
  /** Server the user is attached to. */
  server: string;
}

/** A server in `/who`. */
export interface ServerEntry {
  /** Server id. */
  id: string;
  /** `leader` or `follower`. */
  role: string;
}

/** What the REPL needs from a connected chat client. */
export interface ChatSession {
  /** The user's name. */
  readonly user: string;
  /** The room the user is in (or moving to). */
  readonly room: string;
  /** Queues one message for the current room (retried until acknowledged). */
  send(text: string): void;
  /** Queues an action line (`/me`) for the current room. */
  act(text: string): void;
  /** Queues a direct message to one user. */
  direct(to: string, text: string): void;
  /** Moves to a room (creating it when nobody is in it). */
  enter(room: string): void;
  /** The rooms and the current room's users; undefined when the server did not answer. */
  roster(): Promise<ChatRosterBody | undefined>;
  /** Registers the handler for messages and system lines. */
  onEvent(handler: (event: ChatUiEvent) => void): void;
  /** Registers the handler told to stop (true) and resume (false) reading input. */
  onFlow(handler: (paused: boolean) => void): void;
  /**
   * Users and servers, for `/who`; `lostAt` (wall-clock ms) is set while the client has lost its
   * server and is looking for another: the lists are then only last known.
   */
  who(): { users: WhoEntry[]; servers: ServerEntry[]; lostAt?: number };
  /** Counters and state for `/status`, as label → value. */
  status(): Record<string, string | number>;
  /**
   * The last `n` messages of the room as the server keeps them, for `/history`; undefined when
   * the server did not answer.
   */
  past(n: number): Promise<(ShownMessage & { id: string })[] | undefined>;
  /** The last `n` delivered messages this client kept, for `/history` without a server. */
  history(n: number): (ShownMessage & { id: string })[];
  /** Resolves true once every message sent so far is acknowledged, false after `timeoutMs`. */
  waitAcknowledged(timeoutMs: number): Promise<boolean>;
  /** Resolves true once everything committed so far was delivered, false after `timeoutMs`. */
  waitCaughtUp(timeoutMs: number): Promise<boolean>;
  /** The texts of the messages sent but not yet acknowledged, oldest first. */
  unacknowledged(): string[];
  /** Leaves the chat (announced) and closes the sockets. */
  close(): Promise<void>;
}

const HELP = [
  "/join ROOM    go to a room (made when nobody is in it); lines go there",
  "/leave        back to the lobby",
  "/rooms        the rooms and how many users each has",
  "/msg USER txt a direct message, seen by USER and you only",
  "/me text      an action line (* you text)",
  "/who          users of this room, and the servers",
  "/leader       the current leader",
  "/status       view, counters, latency",
  "/history [N]  the last N messages of this room, as the server keeps them (default 20)",
  "/help         this list",
  "/quit         leave (Ctrl+C and Ctrl+D too)",
  "//text        send a line that starts with /",
];

/** `1 message` or `2 messages`. */
function messages(n: number): string {
  return `${n} ${n === 1 ? "message" : "messages"}`;
}

/**
 * Runs the interactive REPL until the user quits; resolves when the session is closed. Quitting
 * with messages not yet acknowledged says how many and waits for them up to `timeoutMs`; asking
 * to quit again leaves at once, saying which were not delivered.
 */
export function runInteractive(
  session: ChatSession,
  input: Readable,
  output: Writable,
  timeoutMs = 10_000,
) {
  const prompt = () => `${session.user} #${session.room}> `;
  const rl = createInterface({ input, output, prompt: prompt(), terminal: true });
  let inputClosed = false;
  const print = (line: string) => {
    rl.setPrompt(prompt());
    inputClosed ? output.write(`${line}\n`) : printAbove(rl, output, line);
  };
  session.onEvent((event) => print(renderEvent(event, session.user, true)));
  rl.prompt();
  return new Promise<void>((resolve) => {
    let closing = false;
    let waiting: (() => void) | undefined;
    const quit = async () => {
      if (waiting) return waiting();
      if (closing) return;
      const unsent = session.unacknowledged().length;
      if (unsent > 0) {
        print(
          `${messages(unsent)} not yet acknowledged: waiting up to ${timeoutMs / 1000} s ` +
            `(Ctrl+C or /quit again to leave now)`,
        );
        const again = new Promise<void>((resolve) => waiting = resolve);
        await Promise.race([session.waitAcknowledged(timeoutMs), again]);
      }
      closing = true;
      const lost = session.unacknowledged();
      if (lost.length > 0) {
        output.write(
          `\r\x1b[2K${
            formatSystem(
              `left without delivering ${messages(lost.length)}: ` +
                lost.map((text) => JSON.stringify(text)).join(", "),
              true,
            )
          }\n`,
        );
      }
      rl.close();
      await session.close();
      resolve();
    };
    rl.on("line", (line) => {
      if (waiting && line.trim() !== "/quit" && line.trim() !== "/exit") return void rl.prompt();
      const text = line.trim();
      if (text.startsWith("//")) {
        session.send(text.slice(1));
      } else if (text.startsWith("/")) {
        if (runCommand(session, text, print) === "quit") return void quit();
      } else if (text.length > 0) {
        session.send(text);
      }
      rl.setPrompt(prompt());
      rl.prompt();
    });
    // Ctrl+C and Ctrl+D leave the half-typed line: end it, so the shell's prompt starts afresh.
    rl.on("SIGINT", () => {
      output.write("\n");
      void quit();
    });
    rl.on("close", () => {
      inputClosed = true;
      if (!closing) output.write("\n");
      void quit();
    });
  });
}

/** Writes a line above the prompt and redraws the prompt with what the user had typed. */
function printAbove(rl: Interface, output: Writable, line: string): void {
  output.write("\r\x1b[2K");
  output.write(`${line}\n`);
  rl.prompt(true);
}

/** What {@linkcode lineCommand} needs of a session (the browser bridge's clients are one too). */
export type LineCommandSession = Pick<ChatSession, "room" | "enter" | "act" | "direct">;

/**
 * Runs one of the commands a script may give too (`/join`, `/leave`, `/me`, `/msg`): null when
 * done, a line to show when it cannot be done (its usage), undefined for any other command.
 */
export function lineCommand(session: LineCommandSession, text: string): string | null | undefined {
  const [command, arg] = text.split(/\s+/, 2);
  const rest = text.slice(command.length).trim();
  switch (command) {
    case "/join":
      if (arg === undefined || !isRoomName(arg)) {
        return `usage: /join ROOM — 1 to ${MAX_ROOM_NAME} lowercase letters, digits, - or _, ` +
          `starting with a letter or digit`;
      }
      session.enter(arg);
      return null;
    case "/leave":
      if (session.room === DEFAULT_ROOM) return "you are in the lobby; /quit leaves the chat";
      session.enter(DEFAULT_ROOM);
      return null;
    case "/me":
      if (rest.length === 0) return "usage: /me text";
      session.act(rest);
      return null;
    case "/msg": {
      const message = rest.slice(arg?.length ?? 0).trim();
      if (arg === undefined || !isUserName(arg) || message.length === 0) {
        return "usage: /msg USER text";
      }
      session.direct(arg, message);
      return null;
    }
    default:
      return undefined;
  }
}

/** Runs one `/command`; returns "quit" when the user asked to leave. */
function runCommand(
  session: ChatSession,
  text: string,
  print: (line: string) => void,
): "quit" | undefined {
  const said = lineCommand(session, text);
  if (said !== undefined) {
    if (said !== null) print(said);
    return;
  }
  const [command, arg] = text.split(/\s+/, 2);
  switch (command) {
    case "/rooms":
      void session.roster().then((roster) => print(roomsLine(roster)));
      return;
    case "/quit":
    case "/exit":
      return "quit";
    case "/help":
      for (const line of HELP) print(line);
      return;
    case "/who": {
      const { users, servers, lostAt } = session.who();
      const stale = lastKnown(lostAt);
      const serverLine = `servers${stale} (${servers.length}): ${
        servers.map((s) => `${s.id} ${s.role}`).join(", ")
      }`;
      if (lostAt !== undefined) {
        print(
          `users${stale} (${users.length}): ${
            users.map((u) => `${u.user}@${u.server}`).join(", ")
          }`,
        );
        print(serverLine);
        return;
      }
      void session.roster().then((roster) => {
        print(roster ? whoLine(roster) : "no answer from the server about the room's users");
        print(serverLine);
      });
      return;
    }
    case "/leader": {
      const { servers, lostAt } = session.who();
      const leader = servers.find((s) => s.role === "leader");
      print(leader ? `leader${lastKnown(lostAt)}: ${leader.id}` : "no leader known");
      return;
    }
    case "/status":
      for (const [label, value] of Object.entries(session.status())) print(`${label}: ${value}`);
      return;
    case "/history": {
      const n = arg === undefined ? 20 : Number(arg);
      if (!Number.isInteger(n) || n < 1) {
        print("usage: /history [N] with N a positive whole number");
        return;
      }
      void session.past(n).then((past) => {
        if (past === undefined) {
          print("the server did not answer: the lines this client kept");
        }
        for (const message of past ?? session.history(n)) {
          print(formatMessage(message, session.user, true));
        }
      });
      return;
    }
    default:
      print(`unknown command ${neutralize(command)}; /help lists them`);
  }
}

/** `/rooms`: every room with its number of users, the largest first. */
export function roomsLine(roster: ChatRosterBody | undefined): string {
  if (!roster) return "no answer from the server about rooms";
  const more = roster.roomCount > roster.rooms.length
    ? ` and ${roster.roomCount - roster.rooms.length} more`
    : "";
  return `rooms (${roster.roomCount}): ${
    roster.rooms.map((r) => `#${r.room} ${r.users}`).join(", ")
  }${more}`;
}

/** `/who`: the users of the room asked about. */
function whoLine(roster: ChatRosterBody): string {
  const more = roster.total > roster.users.length
    ? ` and ${roster.total - roster.users.length} more`
    : "";
  return `#${roster.room} (${roster.total}): ${roster.users.join(", ")}${more}`;
}

/** ` (last known: server lost at HH:MM:SS)` while the client has no server, else nothing. */
function lastKnown(lostAt: number | undefined): string {
  return lostAt === undefined ? "" : ` (last known: server lost at ${clock(lostAt)})`;
}

/** Formats an event for a terminal or for plain text output. */
export function renderEvent(event: ChatUiEvent, user: string, colour: boolean): string {
  return event.type === "message"
    ? formatMessage(event.message, user, colour)
    : formatSystem(event.text, colour);
}

/** Formats an event as one JSON object (`--json`). */
export function eventToJson(event: ChatUiEvent): string {
  if (event.type === "message") {
    const { seq, id, from, text, ts, room, kind, to } = event.message;
    return JSON.stringify({
      type: kind ?? "message",
      seq,
      id,
      from,
      ...(kind === "direct" ? { to } : { room }),
      text,
      ts,
    });
  }
  return JSON.stringify({ type: event.kind, text: event.text, ...event.details });
}

/** How the line mode ends. */
export interface LineModeOptions {
  /** One JSON object per line instead of text. */
  json: boolean;
  /** Keep receiving after the end of input until `stop` resolves. */
  follow: boolean;
  /** How long to wait for acknowledgements at the end of input (ms). */
  timeoutMs: number;
  /** Resolves when the process is asked to stop (a stop signal, `cmd/signals.ts`). */
  stop: Promise<unknown>;
  /**
   * True: an input line starting with `/` is a command (`/join`, `/leave`, `/me`, `/msg`), and
   * `//` sends a line starting with `/`; false: every line is sent as it is.
   */
  commands?: boolean;
}

/**
 * Line mode for scripts: each input line is one message; each received message is one output
 * line. At the end of input it waits until everything sent is acknowledged. Resolves with the
 * exit code: 0 when all was acknowledged, 1 when not within the timeout or when a line was
 * refused (too long, say): not everything was delivered.
 */
export async function runLines(
  session: ChatSession,
  input: Readable,
  output: Writable,
  errors: Writable,
  options: LineModeOptions,
): Promise<number> {
  let refused = 0;
  session.onEvent((event) => {
    if (event.type === "system" && event.kind === "input-refused") refused++;
    output.write(
      `${options.json ? eventToJson(event) : renderEvent(event, session.user, false)}\n`,
    );
  });
  const rl = createInterface({ input, terminal: false });
  const ended = new Promise<void>((resolve) => rl.once("close", () => resolve()));
  const waiting: string[] = [];
  let paused = false;
  let emptied: (() => void) | undefined;
  const post = (line: string) => {
    if (!options.commands || !line.startsWith("/")) return session.send(line);
    if (line.startsWith("//")) return session.send(line.slice(1));
    const said = lineCommand(session, line);
    if (said === null) return;
    refused++;
    errors.write(
      `dsys: ${said ?? `${line.split(/\s/, 1)[0]} is not a command scripts can give`}\n`,
    );
  };
  const drain = () => {
    while (!paused && waiting.length > 0) post(waiting.shift()!);
    if (waiting.length === 0) emptied?.();
    if (!paused) input.resume();
  };
  session.onFlow((stop) => {
    paused = stop;
    if (stop) input.pause();
    else drain();
  });
  rl.on("line", (line) => {
    if (line.length === 0) return;
    if (paused || waiting.length > 0) waiting.push(line);
    else post(line);
  });
  const stopped = await Promise.race([ended.then(() => false), options.stop.then(() => true)]);
  rl.close();
  if (!stopped && waiting.length > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      emptied = resolve;
      timer = setTimeout(resolve, options.timeoutMs);
    });
    clearTimeout(timer);
  }
  let code = 0;
  if (!stopped) {
    // What was committed before the end of input (the history asked for included) is printed
    // before the exit; a busy room that never pauses does not hold the exit beyond the timeout.
    const acknowledged = await session.waitAcknowledged(options.timeoutMs);
    if (acknowledged) await session.waitCaughtUp(options.timeoutMs);
    if (!acknowledged) {
      errors.write(
        `dsys: not every message was acknowledged within ${options.timeoutMs} ms\n`,
      );
      code = 1;
    } else if (options.follow) {
      await options.stop;
    }
  }
  if (refused > 0) {
    errors.write(
      `dsys: ${refused} ${refused === 1 ? "line was" : "lines were"} refused, not sent\n`,
    );
    code = 1;
  }
  await session.close();
  return code;
}
