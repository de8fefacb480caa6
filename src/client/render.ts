/**
 * How the chat shows text to a person: received messages, the user's own, and system lines.
 *
 * Everything another user wrote passes through {@linkcode neutralize} first, so that a message
 * cannot recolour, move the cursor in, clear or retitle somebody else's terminal. Pure
 * functions only; the REPL decides where the text goes.
 *
 * @module
 */

/** A chat message as the chat shows it. */
export interface ShownMessage {
  /** Position in the global order. */
  seq: number;
  /** Author's user name. */
  from: string;
  /** The text. */
  text: string;
  /** Sequencing time, ms since the epoch. */
  ts: number;
  /** The room of the line (`""` for a direct message). */
  room?: string;
  /** `action` for a `/me` line, `direct` for a direct message; absent for a chat line. */
  kind?: "action" | "direct";
  /** The recipient of a direct message. */
  to?: string;
}

/** ANSI styles used by the chat. */
const STYLE = {
  reset: "\x1b[0m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
} as const;

/** Foreground colours user names cycle through (no black, no white: both vanish somewhere). */
const NAME_COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96] as const;

/**
 * Replaces every character that could control a terminal with a visible stand-in: C0 and C1
 * control characters (ESC included, so no 7-bit or 8-bit CSI, OSC or DCS sequence survives),
 * DEL, the Unicode line and paragraph separators, and the bidirectional marks, embeddings,
 * overrides and isolates that can make text read differently from what it is.
 */
export function neutralize(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => c === "\t" ? " " : `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}

/** A stable colour for a user name, the same on every terminal. */
export function nameColour(user: string): number {
  let hash = 2166136261;
  for (const unit of user) hash = Math.imul(hash ^ unit.codePointAt(0)!, 16777619) >>> 0;
  return NAME_COLOURS[hash % NAME_COLOURS.length];
}

/** `HH:MM:SS` of a timestamp in local time, on a 24-hour clock whatever the locale. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, "0")).join(":");
}

/**
 * The time to show for a line delivered after one shown at `previous`: its sender's time, raised
 * to `previous` when it is earlier. After a failover a line typed earlier can be ordered after a
 * later one (or two clocks disagree); shown times then still agree with the order.
 */
export function orderedTime(ts: number, previous: number): number {
  return Math.max(ts, previous);
}

/**
 * One chat line: time, coloured name (bold and marked for the user's own), neutralized text; an
 * action reads `* name text`, a direct message `name → recipient (direct): text`.
 */
export function formatMessage(message: ShownMessage, self: string, colour: boolean): string {
  const own = message.from === self;
  const name = neutralize(message.from);
  const text = neutralize(message.text);
  const to = message.kind === "direct" ? ` → ${neutralize(message.to ?? "")} (direct)` : "";
  const action = message.kind === "action";
  if (!colour) {
    const who = `${own ? "*" : ""}${name}`;
    return `[${clock(message.ts)}] ${action ? `* ${who} ${text}` : `${who}${to}: ${text}`}`;
  }
  const style = `\x1b[${nameColour(message.from)}m${own ? STYLE.bold : ""}`;
  const who = `${style}${name}${STYLE.reset}${own ? `${STYLE.dim} (you)${STYLE.reset}` : ""}`;
  return `${STYLE.dim}${clock(message.ts)}${STYLE.reset} ` +
    (action ? `* ${who} ${text}` : `${who}${to}: ${text}`);
}

/** A system line (joined, left, leader changed, reconnected), dimmed on a terminal. */
export function formatSystem(text: string, colour: boolean): string {
  const clean = neutralize(text);
  return colour ? `${STYLE.dim}-- ${clean}${STYLE.reset}` : `-- ${clean}`;
}
