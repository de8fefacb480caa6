/**
 * Rooms and direct messages as the log carries them: which room a line belongs to, which lines a
 * user reading a room counts as its history, and what of a direct message a client may see. It
 * owns these rules only; who is in which room is the replica's (`replica.ts`), sequencing the
 * lines is the leader's (`leader.ts`). See docs/design.md, "Rooms and direct messages".
 *
 * @module
 */

import { type ChatEntry, type ChatRoomSize, DEFAULT_ROOM } from "../wire/messages.ts";

/** The room of a line or an `enter` (the lobby when the entry names none). */
export function roomOf(entry: Pick<ChatEntry, "room">): string {
  return entry.room ?? DEFAULT_ROOM;
}

/** The rooms in use and how many users each has, the largest first (then by name). */
export function roomSizes(rooms: ReadonlyMap<string, string>): ChatRoomSize[] {
  const sizes = new Map<string, number>();
  for (const room of rooms.values()) sizes.set(room, (sizes.get(room) ?? 0) + 1);
  return [...sizes].map(([room, users]) => ({ room, users }))
    .sort((a, b) => b.users - a.users || (a.room < b.room ? -1 : 1));
}

/** True when `user` is the sender or the recipient of a direct (or bounced direct) entry. */
export function involves(entry: Pick<ChatEntry, "from" | "to">, user: string): boolean {
  return entry.from === user || entry.to === user;
}

/**
 * True for a line `user` reads in `room`: a chat or action line of that room, or a direct
 * message to or from the user (shown in every room). What `--history N` counts.
 */
export function isLineFor(entry: ChatEntry, room: string, user: string): boolean {
  if (entry.kind === "text" || entry.kind === "action") return roomOf(entry) === room;
  return entry.kind === "direct" && involves(entry, user);
}

/**
 * The entry as `user`'s client may receive it: a direct message between two other users has its
 * text removed (the client sees that a position is taken, not what was said).
 */
export function redactedFor(entry: ChatEntry, user: string | undefined): ChatEntry {
  if (entry.kind !== "direct" || (user !== undefined && involves(entry, user))) return entry;
  return { ...entry, text: "" };
}
