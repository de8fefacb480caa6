/**
 * The sending side of a chat client: numbers each typed line (its client sequence number), keeps
 * it until it is acknowledged, and offers it again every `clientRetryMs`, at most `window` lines
 * at a time (halved when the server says slow down, grown back by one per acknowledgement). The
 * input pauses while `maxQueued` lines wait and resumes at half of that. It owns the lines typed
 * and not yet acknowledged; it must not look at deliveries, the stream or the attachment: the
 * core in `client_core.ts` tells it when a line is acknowledged (it came back to the receiving side
 * in `client_receive.ts`, or the server says it is committed) and sends the posts it returns.
 *
 * @module
 */

import {
  type ChatLineAddress,
  type ChatPostBody,
  type ChatPostItem,
  MAX_CHAT_ITEMS,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import { messageId, textLength } from "./keys.ts";
import { packByBytes } from "./size.ts";

/** What the sending side tells the user. */
export type SendNotice =
  | { kind: "acknowledged"; id: string }
  | { kind: "slow-down"; window: number }
  | { kind: "input-refused"; reason: "too-long"; length: number; limit: number }
  | { kind: "input-refused"; reason: "queue-full" };

/** What a {@linkcode ClientSender} needs. */
export interface ClientSenderOptions {
  /** Chat tunables. */
  config: ChatConfig;
  /** This client's session key (message ids start with it). */
  key: string;
  /** Tells the user something. */
  notice: (notice: SendNotice) => void;
  /** Pauses (true) or resumes (false) the input. */
  flow: (paused: boolean) => void;
}

interface Pending extends ChatPostItem {
  sentAt: number;
}

/** The lines one client typed, until each is acknowledged. */
export class ClientSender {
  readonly #o: ClientSenderOptions;
  #pending: Pending[] = [];
  #lastCseq = 0;
  #acked = 0;
  #window: number;
  #paused = false;

  /** Starts with nothing typed and a full window. */
  constructor(options: ClientSenderOptions) {
    this.#o = options;
    this.#window = options.config.sendWindow;
  }

  /** The last line acknowledged (its client sequence number). */
  get acked(): number {
    return this.#acked;
  }

  /** The last line typed (its client sequence number). */
  get lastCseq(): number {
    return this.#lastCseq;
  }

  /** Lines it may have in flight now. */
  get window(): number {
    return this.#window;
  }

  /** Lines typed and not yet acknowledged. */
  get unacknowledged(): number {
    return this.#pending.length;
  }

  /** The texts of the lines sent but not yet acknowledged, oldest first. */
  unacknowledgedTexts(): string[] {
    return this.#pending.map((item) => item.text);
  }

  /** Takes a typed line (with its kind, room, recipient), or refuses it (too long, too many). */
  type(text: string, ts: number, address: ChatLineAddress = {}): void {
    const { maxTextChars, maxQueued } = this.#o.config;
    const length = textLength(text);
    if (length > maxTextChars) {
      return this.#o.notice({
        kind: "input-refused",
        reason: "too-long",
        length,
        limit: maxTextChars,
      });
    }
    if (this.#pending.length >= maxQueued) {
      return this.#o.notice({ kind: "input-refused", reason: "queue-full" });
    }
    this.#pending.push({
      cseq: ++this.#lastCseq,
      text,
      ts: Math.floor(ts),
      ...address,
      sentAt: -Infinity,
    });
    if (this.#pending.length >= maxQueued && !this.#paused) {
      this.#paused = true;
      this.#o.flow(true);
    }
  }

  /** Every line up to `cseq` is acknowledged: drop them and grow the window. */
  acknowledge(cseq: number): void {
    this.#acked = cseq;
    while (this.#pending.length > 0 && this.#pending[0].cseq <= cseq) {
      const item = this.#pending.shift()!;
      this.#o.notice({ kind: "acknowledged", id: messageId(this.#o.key, item.cseq) });
      this.#window = Math.min(this.#o.config.sendWindow, this.#window + 1);
    }
    if (this.#paused && this.#pending.length <= this.#o.config.maxQueued / 2) {
      this.#paused = false;
      this.#o.flow(false);
    }
  }

  /** The server says slow down: halve the window and wait a retry period before resending. */
  slowDown(now: number): void {
    this.#window = Math.max(1, Math.floor(this.#window / 2));
    for (const item of this.#pending) item.sentAt = Math.max(item.sentAt, now);
    this.#o.notice({ kind: "slow-down", window: this.#window });
  }

  /** A new attachment: every unacknowledged line goes again at the next flush. */
  resendAll(): void {
    for (const item of this.#pending) item.sentAt = -Infinity;
  }

  /** The posts due now: lines of the window not offered within `clientRetryMs`. */
  posts(now: number): ChatPostBody[] {
    const { clientRetryMs, batchBodyBytes } = this.#o.config;
    const due: ChatPostItem[] = [];
    for (const item of this.#pending.slice(0, this.#window)) {
      if (now - item.sentAt < clientRetryMs) continue;
      item.sentAt = now;
      const { sentAt: _, ...line } = item;
      due.push(line);
    }
    return packByBytes(due, batchBodyBytes, MAX_CHAT_ITEMS).map((items) => ({
      kind: "chat-post",
      acked: this.#acked,
      items,
    }));
  }
}
