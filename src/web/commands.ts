/**
 * The commands a browser user types, run on the session's chat client as the terminal runs
 * them: `/join ROOM`, `/leave`, `/me text` and `/msg USER text` by the REPL's own
 * {@linkcode lineCommand}, `/rooms` by the REPL's answer, and `/help`. A line that starts with
 * `//` is a chat line (the page sends it without the first `/`), never a command.
 *
 * @module
 */

import type { ChatRosterBody } from "../wire/messages.ts";
import { lineCommand, type LineCommandSession, roomsLine } from "../client/repl.ts";

/** What the page's commands need of a chat client (`ChatClient` is one). */
export interface PageCommandSession extends LineCommandSession {
  /** The rooms and the current room's users; undefined when the server did not answer. */
  roster(): Promise<ChatRosterBody | undefined>;
}

/** What `/help` shows on the page: the commands it runs. */
export const PAGE_HELP: readonly string[] = [
  "/join ROOM    go to a room (made when nobody is in it); lines go there",
  "/leave        back to the lobby",
  "/rooms        the rooms and how many users each has",
  "/msg USER txt a direct message, seen by USER and you only",
  "/me text      an action line (* you text)",
  "//text        send a line that starts with /",
];

/**
 * True when the page's input `text` is a command (starts with one `/`, after blanks); a line
 * starting with `//` is a chat line.
 */
export function isPageCommand(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.startsWith("/") && !trimmed.startsWith("//");
}

/**
 * Runs one command typed on the page; resolves to the system lines to show it (usage, the room
 * list, help), none when the command was done silently (its effect comes through the chat).
 */
export async function pageCommand(session: PageCommandSession, text: string): Promise<string[]> {
  const trimmed = text.trim();
  const said = lineCommand(session, trimmed);
  if (said !== undefined) return said === null ? [] : [said];
  const command = trimmed.split(/\s+/, 1)[0];
  switch (command) {
    case "/rooms":
      return [roomsLine(await session.roster())];
    case "/help":
      return [...PAGE_HELP];
    default:
      return [`unknown command ${command}; /help lists them`];
  }
}
