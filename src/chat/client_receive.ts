/**
 * The receiving side of a chat client: it takes the delivered order (its server's deliveries and
 * the leader's stream batches) and hands each entry on exactly once, in order, without gaps — early
 * entries wait in a bounded buffer, holes are NAKed, a stream batch is taken only where it
 * continues what was delivered, and after a merge it re-anchors and skips what it already showed.
 * It owns the delivery point `next`, the early buffer, the kept stream batches, the memory of past
 * deliveries and when the next cumulative ack is due; it must not look at the attachment (which
 * server, which attachment number, whom to believe) or the sending side's pending lines: the
 * attachment in `client_core.ts` feeds it only what it believes and sends what it asks. How
 * re-anchoring works is in docs/design.md, "A client's attachment and receiving side".
 *
 * @module
 */

import type {
  ChatBounceReason,
  ChatEntry,
  ChatNakBody,
  ChatRunStart,
  ChatStreamBody,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { isClientLine, messageId } from "./keys.ts";
import { involves, roomOf } from "./rooms.ts";
import { entryMark } from "./log.ts";
import { DeliveredMemory } from "./delivered.ts";

/** A chat line in the global order. */
export interface ChatMessage {
  /** Its position. */
  seq: number;
  /** Its id (`<client key>/<client sequence number>`), unique in the cluster. */
  id: string;
  /** A line of a room (`text`), an action (`/me`), or a direct message to one user. */
  kind: "text" | "action" | "direct";
  /** The room of a `text` or `action` line; `""` for a direct message. */
  room: string;
  /** The recipient of a direct message. */
  to?: string;
  /** User name of the sender. */
  from: string;
  /** The line. */
  text: string;
  /** When it was typed (ms since the epoch). */
  ts: number;
  /** True for a line this client sent. */
  own: boolean;
}

/** A line entry (`text`, `action` or `direct`) as a client hands it on. */
export function chatMessage(entry: ChatEntry, own: boolean): ChatMessage {
  const { seq, from, text, ts } = entry;
  const id = messageId(entry.client, entry.cseq);
  if (entry.kind === "direct") {
    return { seq, id, kind: "direct", room: "", to: entry.to!, from, text, ts, own };
  }
  const kind = entry.kind as "text" | "action";
  return { seq, id, kind, room: roomOf(entry), from, text, ts, own };
}

/** What the receiving side tells the user. */
export type ReceiveNotice =
  | { kind: "missed"; from: number; to: number }
  | { kind: "rewound"; from: number; remembered: number }
  | { kind: "skipped"; seq: number; id: string };

/**
 * What the receiving side hands on: a line; a user joining or leaving the cluster, or moving from
 * one room (`detail`) to another (`room`); or one of this client's own lines the leader bounced.
 */
export type ReceiveOutput =
  | { type: "deliver"; message: ChatMessage }
  | {
    type: "presence";
    seq: number;
    user: string;
    change: "joined" | "left";
    detail: string;
    ts: number;
  }
  | {
    type: "moved";
    seq: number;
    /** The id of the move (a line of the user's client). */
    id: string;
    user: string;
    /** The room left (`""` when the leader knew none). */
    from: string;
    /** The room entered. */
    room: string;
    ts: number;
    own: boolean;
  }
  | {
    type: "bounced";
    seq: number;
    /** The id of the line bounced. */
    id: string;
    /** Why the line was not delivered. */
    reason: ChatBounceReason;
    /** The recipient of a bounced direct message. */
    to?: string;
    /** The room a bounced `enter` asked for. */
    room?: string;
  }
  | {
    /** A position this user is not shown: a direct message between others, another's bounce. */
    type: "unseen";
    seq: number;
    id: string;
  };

/** What a {@linkcode ClientReceiver} needs. */
export interface ClientReceiverOptions {
  /** Chat tunables. */
  config: ChatConfig;
  /** This client's session key (its own lines carry it). */
  key: string;
  /** This client's user name (direct messages to it come by unicast, with their text). */
  user: string;
  /** The current monotonic time (ms), as the core was last told it. */
  now: () => number;
  /** Hands on a delivered line or presence change. */
  output: (output: ReceiveOutput) => void;
  /** Tells the user something. */
  notice: (notice: ReceiveNotice) => void;
  /** Sends a NAK to the client's server. */
  nak: (body: ChatNakBody) => void;
  /** One of this client's own lines came back in the order, up to `cseq`. */
  ownDelivered: (cseq: number) => void;
}

/** The delivered order of one client, from where it joined. */
export class ClientReceiver {
  readonly #o: ClientReceiverOptions;
  #next = 0;
  readonly #early = new Map<number, ChatEntry>();
  #ackedNext = -1;
  /** Delivery datagrams that moved `next` since the last ack (acks are delayed, as TCP's). */
  #deliveriesSinceAck = 0;
  #progressAt = 0;
  #nakAt = -Infinity;
  /** Where the last NAK for a gap in the stream started: a new gap is asked for at once. */
  #nakedFrom = -1;
  #commitSeen = 0;
  readonly #delivered: DeliveredMemory;
  /** Stream batches that start beyond `next`, kept until the gap before them is filled. */
  #streamQueue: ChatStreamBody[] = [];
  /** When the last stream batch was taken, and how many were. */
  #streamedAt = -Infinity;
  #streamBatches = 0;
  readonly #skipIds = new Set<string>();
  readonly #skipMarks = new Map<number, number>();

  /** Starts before the first welcome, having delivered nothing. */
  constructor(options: ClientReceiverOptions) {
    this.#o = options;
    this.#delivered = new DeliveredMemory(options.config.mergeMemory);
  }

  /** First sequence number not yet delivered (0 before the first welcome). */
  get next(): number {
    return this.#next;
  }

  /** True when it delivered everything it knows is committed (and it was welcomed). */
  get caughtUp(): boolean {
    return this.#next > 0 && this.#next > this.#commitSeen;
  }

  /** Stream batches it took so far. */
  get streamBatches(): number {
    return this.#streamBatches;
  }

  /** True while this client takes the leader's stream (it took a batch lately). */
  streaming(): boolean {
    return this.#o.now() - this.#streamedAt < this.#o.config.streamSilenceMs;
  }

  /** The starts of the term runs it remembers delivering, at most `max`, for a join. */
  runs(max: number): ChatRunStart[] {
    return this.#delivered.runs(max);
  }

  /**
   * A welcome that starts at `start`: the first one sets `next`; a later one (a resume) that
   * starts before `next` re-anchors there, one that starts beyond it reports what was missed.
   * Returns whether this was a resume.
   */
  welcome(start: number, commit: number): boolean {
    const resumed = this.#next > 0;
    if (!resumed) this.#next = start;
    else if (start < this.#next) this.#rewind(start);
    else if (start > this.#next) {
      this.#o.notice({ kind: "missed", from: this.#next, to: start - 1 });
    }
    this.#skipTo(Math.max(this.#next, start));
    this.#commitSeen = Math.max(this.#commitSeen, commit);
    this.#progressAt = this.#o.now();
    return resumed;
  }

  /** The server no longer has `from`..`to`: when `next` lies in it, skip past it. */
  missed(from: number, to: number): void {
    if (from <= this.#next && to >= this.#next) {
      this.#o.notice({ kind: "missed", from: this.#next, to });
      this.#skipTo(to + 1);
    }
  }

  /** A delivery from the client's server: entries, and its commit point. */
  deliver(entries: readonly ChatEntry[], commit: number): void {
    this.#commitSeen = Math.max(this.#commitSeen, commit);
    this.#take(entries);
  }

  /**
   * A batch of the leader's multicast stream: taken where it continues what this client
   * delivered (the entry before `next` has the batch's term and fingerprint there), kept for
   * later when it starts beyond `next` (a batch was lost: the gap is asked for at once), ignored
   * otherwise — the client's server sends whatever the stream did not bring.
   */
  stream(body: ChatStreamBody): void {
    const last = body.entries[body.entries.length - 1].seq;
    if (last < this.#next) return;
    this.#commitSeen = Math.max(this.#commitSeen, last);
    const hidden = body.entries.findIndex((entry) =>
      entry.kind === "direct" && entry.text === "" && involves(entry, this.#o.user)
    );
    if (hidden >= 0) {
      // A direct message to or from this user: its text comes from the server, by unicast.
      if (hidden > 0) this.stream({ ...body, entries: body.entries.slice(0, hidden) });
      if (this.#next === body.entries[hidden].seq) this.#nak(last);
      return;
    }
    if (this.#connects(body)) {
      this.#tookStream();
      return this.#take(body.entries);
    }
    const first = body.entries[0].seq;
    if (first <= this.#next) return;
    this.#streamQueue.push(body);
    let queued = 0;
    for (const batch of this.#streamQueue) queued += batch.entries.length;
    if (queued > this.#o.config.receiveWindow) this.#streamQueue.shift();
    const now = this.#o.now();
    if (this.#next !== this.#nakedFrom || now - this.#nakAt >= this.#o.config.retransmitMs / 4) {
      let gapEnd = first - 1;
      for (const batch of this.#streamQueue) {
        const start = batch.entries[0].seq;
        if (start > this.#next) gapEnd = Math.min(gapEnd, start - 1);
      }
      this.#nakedFrom = this.#next;
      this.#nak(gapEnd);
    }
  }

  /** A tick while joined: NAKs what it lacks once progress stalled for half a retransmit. */
  tick(): void {
    const now = this.#o.now();
    const { retransmitMs } = this.#o.config;
    const wanted = this.#wantedUpTo();
    if (
      wanted >= this.#next && now - this.#progressAt >= retransmitMs / 2 &&
      now - this.#nakAt >= retransmitMs
    ) {
      this.#nak(wanted);
    }
  }

  /**
   * The earliest time its `tick` may ask for what it lacks (`Infinity`: it lacks nothing known):
   * half a retransmit after progress stalled, a retransmit after the last NAK.
   */
  nakDueAt(retransmitMs: number): number {
    if (this.#wantedUpTo() < this.#next) return Infinity;
    return Math.max(this.#progressAt + retransmitMs / 2, this.#nakAt + retransmitMs);
  }

  /** True when something was delivered since the last ack. */
  unacked(): boolean {
    return this.#next !== this.#ackedNext;
  }

  /**
   * True when an ack is due at a flush: something was delivered and the ack may not wait any
   * longer (every `ackEvery` delivery datagrams; `streamAckEntries` entries while streaming).
   */
  ackDue(): boolean {
    const { ackEvery, streamAckEntries } = this.#o.config;
    const delayable = this.#deliveriesSinceAck > 0 &&
      (this.streaming()
        ? this.#next - this.#ackedNext < streamAckEntries
        : this.#deliveriesSinceAck < ackEvery);
    return this.unacked() && !delayable;
  }

  /** An ack is being sent: what it says (`next`, whether it takes the stream). */
  acked(): { next: number; streamed: boolean } {
    this.#deliveriesSinceAck = 0;
    this.#ackedNext = this.#next;
    return { next: this.#next, streamed: this.streaming() };
  }

  /** Asks the server for what this client lacks from `next` up to `to` (one delivery window). */
  #nak(to: number): void {
    this.#nakAt = this.#o.now();
    const upTo = Math.min(to, this.#next + this.#o.config.deliveryWindow - 1);
    this.#o.nak({ kind: "chat-nak", from: this.#next, to: upTo });
  }

  /** The last sequence number known to exist that this client lacks (below `next`: none). */
  #wantedUpTo(): number {
    if (this.#early.size === 0) return this.#commitSeen;
    let lowest = Infinity;
    for (const seq of this.#early.keys()) lowest = Math.min(lowest, seq);
    return lowest - 1;
  }

  #tookStream(): void {
    this.#streamedAt = this.#o.now();
    this.#streamBatches++;
  }

  /** Re-anchors at `start`: what it delivered from there on is skipped when it comes again. */
  #rewind(start: number): void {
    const again = this.#delivered.forgetFrom(start);
    for (const r of again) {
      if (r.id !== undefined) this.#skipIds.add(r.id);
      else this.#skipMarks.set(r.seq, r.mark);
    }
    const limit = this.#o.config.mergeMemory;
    while (this.#skipIds.size > limit) this.#skipIds.delete(this.#skipIds.values().next().value!);
    this.#early.clear();
    this.#streamQueue = [];
    this.#o.notice({ kind: "rewound", from: start, remembered: again.length });
    this.#next = start;
  }

  #skipTo(next: number): void {
    this.#next = Math.max(this.#next, next);
    for (const seq of this.#early.keys()) if (seq < this.#next) this.#early.delete(seq);
    this.#deliverReady();
  }

  /** Delivers what `entries` (from one datagram) hold at `next` on, and keeps early ones. */
  #take(entries: readonly ChatEntry[]): void {
    const before = this.#next;
    const limit = before + this.#o.config.receiveWindow;
    for (const entry of entries) {
      if (entry.seq === this.#next && this.#early.size === 0) {
        this.#next++;
        this.#emit(entry);
      } else if (entry.seq >= this.#next && entry.seq < limit) this.#early.set(entry.seq, entry);
    }
    if (this.#next > before) this.#progressAt = this.#o.now();
    this.#deliverReady();
    if (this.#next > before) {
      this.#deliveriesSinceAck++;
      this.#connectStream();
    }
  }

  /** True when `body` continues what this client delivered last, at `next`. */
  #connects(body: ChatStreamBody): boolean {
    const { entries } = body;
    const at = this.#next - 1;
    const index = at - entries[0].seq;
    if (index < -1 || index >= entries.length - 1) return false;
    const known = this.#delivered.last();
    if (known === undefined || known.seq !== at) return false;
    const term = index === -1 ? body.prevTerm : entries[index].term;
    const mark = index === -1 ? body.prevMark : entryMark(entries[index]);
    return term === known.term && mark === known.mark;
  }

  /** Takes the kept stream batches that continue what was delivered, drops the passed ones. */
  #connectStream(): void {
    while (this.#streamQueue.length > 0) {
      this.#streamQueue = this.#streamQueue.filter((b) => b.entries.at(-1)!.seq >= this.#next);
      const batch = this.#streamQueue.find((b) => this.#connects(b));
      if (!batch) return;
      this.#streamQueue = this.#streamQueue.filter((b) => b !== batch);
      this.#tookStream();
      this.#take(batch.entries);
    }
  }

  #deliverReady(): void {
    const start = this.#next;
    for (let entry = this.#early.get(this.#next); entry; entry = this.#early.get(this.#next)) {
      this.#early.delete(this.#next);
      this.#next++;
      this.#emit(entry);
    }
    if (this.#next > start) this.#progressAt = this.#o.now();
  }

  #emit(entry: ChatEntry): void {
    this.#delivered.remember(entry);
    const mark = this.#skipMarks.get(entry.seq);
    if (mark !== undefined && this.#skipMarks.delete(entry.seq) && mark === entryMark(entry)) {
      return this.#o.notice({ kind: "skipped", seq: entry.seq, id: "" });
    }
    if (!isClientLine(entry)) {
      this.#o.output({
        type: "presence",
        seq: entry.seq,
        user: entry.from,
        change: entry.kind === "join" ? "joined" : "left",
        detail: entry.text,
        ts: entry.ts,
      });
      return;
    }
    const id = messageId(entry.client, entry.cseq);
    const own = entry.client === this.#o.key;
    if (this.#skipIds.delete(id)) return this.#o.notice({ kind: "skipped", seq: entry.seq, id });
    this.#output(entry, id, own);
    if (own) this.#o.ownDelivered(entry.cseq);
  }

  /**
   * Hands on a client's line as what it is; a direct message between others, or another user's
   * bounce, as `unseen` (its position and id only).
   */
  #output(entry: ChatEntry, id: string, own: boolean): void {
    const { seq, from, text, ts } = entry;
    const unseen = () => this.#o.output({ type: "unseen", seq, id });
    switch (entry.kind) {
      case "enter":
        return this.#o.output({
          type: "moved",
          seq,
          id,
          user: from,
          from: text,
          room: roomOf(entry),
          ts,
          own,
        });
      case "bounce":
        if (!own) return unseen();
        return this.#o.output({
          type: "bounced",
          seq,
          id,
          reason: text as ChatBounceReason,
          ...(entry.to === undefined ? {} : { to: entry.to }),
          ...(entry.room === undefined ? {} : { room: entry.room }),
        });
      case "direct":
        if (!involves(entry, this.#o.user)) return unseen();
        return this.#o.output({ type: "deliver", message: chatMessage(entry, own) });
      default:
        this.#o.output({ type: "deliver", message: chatMessage(entry, own) });
    }
  }
}
