/**
 * The pure core of one browser session: what the page is sent, what is replayed when its event
 * stream reconnects, and when the lines it posts go to the chat. The runtime (`bridge.ts`) feeds
 * it what its in-process `ChatClient` delivers and what the page posts, and performs what it
 * returns; this module does no I/O and reads no clock.
 *
 * Resumption, exactly once: every event that has a place in the global order carries it as its
 * server-sent-event id, so the browser's own reconnect names the last one it showed
 * (`Last-Event-ID`). On the same server the session replays what came after from memory
 * ({@linkcode WebSessionCore.replay}). On another server (its own died) a new session starts
 * with that id as `resumeFrom`: it asks the cluster for enough history and drops every event at
 * or before it, so the page shows each line once and none is skipped.
 *
 * Lines in flight when a server died: the page keeps each line it posted until it sees it
 * delivered. A new session is `ready` once its client delivered (shown or not: lines of other
 * rooms take positions too) what the cluster had committed when it joined (`target`,
 * {@linkcode WebSessionCore.progress}); before that its own user's lines are ones an earlier session sent (the page
 * matches them to what it kept), after it the page posts again what is still unseen, and those
 * lines, delivered in the order they were sent, carry the page's line ids (`lid`) back.
 *
 * After a healed split the chat client re-anchors where positions moved (`reordered`) and
 * delivers the other side's lines, at positions the page may have passed; the page shows lines
 * by message id, so the session then stops dropping by position, and a replay follows the order
 * delivered, not the positions.
 *
 * @module
 */

/** One event for the page (the `data` of a server-sent event, as JSON). */
export type WebEvent =
  | {
    type: "message";
    seq: number;
    from: string;
    text: string;
    ts: number;
    /** `action` for a `/me` line, `direct` for a direct message; absent for a chat line. */
    kind?: "action" | "direct";
    /** The recipient of a direct message. */
    to?: string;
    /** The page's id of the line, when this session sent it. */
    lid?: string;
    /** The line's message id: the same wherever it ends up in the order. */
    id?: string;
  }
  | { type: "system"; kind: string; text: string; seq?: number }
  | { type: "ready"; user: string }
  | { type: "room"; room: string }
  | { type: "users"; users: string[] };

/** What the runtime does after a step: events for the page, lines for the chat client. */
export interface WebSessionOutput {
  /** Events to send to every open stream of the session. */
  events: WebEvent[];
  /** Texts to hand to the chat client now, in this order. */
  send: string[];
}

/** How a session starts. */
export interface WebSessionOptions {
  /** The user name. */
  user: string;
  /** The last event id the page showed (a resume), or undefined for a fresh page. */
  resumeFrom?: number;
  /** How many events with an id it keeps for replay. */
  replayEvents: number;
}

/** The place of an event in the global order, if it has one. */
export function eventSeq(event: WebEvent): number | undefined {
  return event.type === "message" ? event.seq : event.type === "system" ? event.seq : undefined;
}

/**
 * One event in the server-sent-events format: an `id:` line for events with a place in the
 * order, one `data:` line (JSON has no raw line breaks), a blank line.
 *
 * @example
 * ```ts
 * import { formatSseEvent } from "./session_core.ts";
 * const text = formatSseEvent({ type: "ready", user: "ann" });
 * console.assert(text === 'data: {"type":"ready","user":"ann"}\n\n');
 * ```
 */
export function formatSseEvent(event: WebEvent): string {
  const seq = eventSeq(event);
  return `${seq === undefined ? "" : `id: ${seq}\n`}data: ${JSON.stringify(event)}\n\n`;
}

/**
 * Parses a `Last-Event-ID` (or the `after` query parameter): a whole number, else undefined
 * (a page that showed nothing yet, or a value that is not ours).
 */
export function parseLastEventId(value: string | null | undefined): number | undefined {
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** How many past lines a session asks for: enough to reach back to `resumeFrom`. */
export function historyFor(
  resumeFrom: number | undefined,
  commit: number,
  fresh: number,
  limit: number,
): number {
  if (resumeFrom === undefined) return fresh;
  return Math.min(limit, Math.max(fresh, commit - resumeFrom + fresh));
}

/** The state machine of one browser session. */
export class WebSessionCore {
  readonly #o: WebSessionOptions;
  /**
   * Lines at or before this position the page showed (a resume); forgotten when the client
   * re-anchors after a healed split, since positions moved (the page then goes by message id).
   */
  #resumeFrom: number | undefined;
  /** Events with an id, oldest first, for replay. */
  readonly #kept: WebEvent[] = [];
  /** Highest id delivered by the chat client (sent to the page or dropped as already shown). */
  #last = -1;
  /** Delivered everything up to here: then ready. Unknown until the client joined. */
  #target: number | undefined;
  #ready = false;
  /** Lines posted before ready, in order. */
  #queued: { lid: string; text: string }[] = [];
  /** Lines handed to the chat client, not yet delivered back, in order. */
  readonly #inFlight: { lid: string; text: string }[] = [];

  /** Creates the core of a session. */
  constructor(options: WebSessionOptions) {
    this.#o = options;
    this.#resumeFrom = options.resumeFrom;
  }

  /** True once the session delivered what was committed when it joined. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * The client joined; `commit` is the highest sequence number committed then (what must be
   * delivered before the session is ready).
   */
  joined(commit: number): WebSessionOutput {
    this.#target = commit;
    return this.#checkReady([]);
  }

  /**
   * The chat client delivered everything up to `seq`, shown or not (lines of other rooms and
   * direct messages between others take positions the page never sees).
   */
  progress(seq: number): WebSessionOutput {
    this.#last = Math.max(this.#last, seq);
    return this.#checkReady([]);
  }

  /**
   * The chat client delivered a line the page shows (`kind`/`to` for actions and direct ones,
   * `id` its message id).
   */
  message(
    seq: number,
    from: string,
    text: string,
    ts: number,
    extra: { kind?: "action" | "direct"; to?: string; id?: string } = {},
  ): WebSessionOutput {
    const events: WebEvent[] = [];
    this.#last = Math.max(this.#last, seq);
    if (this.#resumeFrom !== undefined && seq <= this.#resumeFrom) {
      return this.#checkReady(events);
    }
    const event: WebEvent = { type: "message", seq, from, text, ts, ...extra };
    if (
      this.#ready && from === this.#o.user && extra.kind === undefined && this.#inFlight.length > 0
    ) {
      event.lid = this.#inFlight.shift()!.lid;
    }
    events.push(this.#keep(event));
    return this.#checkReady(events);
  }

  /**
   * The chat client reported a system line; `seq` for those with a place in the order. After
   * `reordered` (a healed split moved positions) the lines that follow go to the page whatever
   * their position.
   */
  system(kind: string, text: string, seq?: number): WebSessionOutput {
    const events: WebEvent[] = [];
    if (kind === "reordered") this.#resumeFrom = undefined;
    if (seq !== undefined) {
      this.#last = Math.max(this.#last, seq);
      if (this.#resumeFrom !== undefined && seq <= this.#resumeFrom) {
        return this.#checkReady(events);
      }
      events.push(this.#keep({ type: "system", kind, text, seq }));
    } else {
      events.push({ type: "system", kind, text });
    }
    return this.#checkReady(events);
  }

  /** The page posted a line: sent now when ready, else queued until then. */
  post(lid: string, text: string): WebSessionOutput {
    if (!this.#ready) {
      this.#queued.push({ lid, text });
      return { events: [], send: [] };
    }
    this.#inFlight.push({ lid, text });
    return { events: [], send: [text] };
  }

  /**
   * What a stream that reconnects with `lastId` missed, from memory; `complete` is false when
   * memory no longer reaches back to it (the runtime then says so).
   */
  replay(lastId: number | undefined): { events: WebEvent[]; complete: boolean } {
    const from = lastId ?? -1;
    // In the order delivered: after a healed split positions may repeat or go back.
    const at = this.#kept.findLastIndex((event) => eventSeq(event) === from);
    const events = at >= 0
      ? this.#kept.slice(at + 1)
      : this.#kept.filter((event) => eventSeq(event)! > from);
    const oldest = this.#kept.length > 0 ? eventSeq(this.#kept[0])! : Infinity;
    const complete = lastId === undefined || this.#kept.length < this.#o.replayEvents ||
      oldest <= from + 1;
    return { events, complete };
  }

  #keep(event: WebEvent): WebEvent {
    this.#kept.push(event);
    if (this.#kept.length > this.#o.replayEvents) this.#kept.shift();
    return event;
  }

  #checkReady(events: WebEvent[]): WebSessionOutput {
    if (this.#ready || this.#target === undefined || this.#last < this.#target) {
      return { events, send: [] };
    }
    this.#ready = true;
    events.push({ type: "ready", user: this.#o.user });
    const send = this.#queued.map((line) => line.text);
    this.#inFlight.push(...this.#queued);
    this.#queued = [];
    return { events, send };
  }
}
