/**
 * What one step of a {@linkcode ChatServerCore} asks the runtime to do, collected in order, and
 * the batching of small items (forwarded lines, claims, answers) into as few datagrams as fit.
 *
 * It sends nothing itself. Items queued for the same destination and kind during one step leave
 * together when the step drains the outbox.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import {
  type Body,
  type ChatClaim,
  type ChatClaimResult,
  type ChatForwardItem,
  type ChatSenderRecord,
  MAX_CHAT_ITEMS,
} from "../wire/messages.ts";
import type { LogOp } from "./journal.ts";
import { packByBytes } from "./size.ts";

/**
 * Something a chat server did that the runtime may log or show: it started gathering as the new
 * leader; it leads (`source`: the server whose log it fetched, `""` when its own was the best);
 * its log was replaced by state transfer; a client joined or left; it merged another server's
 * diverged log after a partition (`fork` -1: below both windows); its own log adopted a merged
 * one from `fork` on, replacing `entries` committed entries.
 */
export type ChatNotice =
  | { type: "gathering"; term: number }
  | { type: "leading"; term: number; source: string; first: number; last: number; commit: number }
  | { type: "log-reset"; first: number }
  | { type: "client-joined"; user: string; client: string; resumed: boolean }
  | { type: "client-left"; user: string; client: string; reason: "quit" | "timeout" }
  | { type: "merged"; source: string; fork: number; appended: number; unknownFork: boolean }
  | { type: "adopted"; fork: number; entries: number };

/** One thing the runtime must do for a chat server. */
export type ChatServerAction =
  | { type: "send"; to: Address; body: Body }
  | { type: "multicast"; body: Body }
  | { type: "notify"; notice: ChatNotice }
  | {
    /**
     * Write these changes of the log to the disk and flush them, then step a `persisted` event
     * with `id` (a persistent server only; batches are numbered 1, 2, … in the order to write).
     */
    type: "persist";
    id: number;
    ops: LogOp[];
  };

/** The item lists that are batched, by body kind. */
interface Batchable {
  "chat-forward": ChatForwardItem;
  "chat-busy": string;
  "chat-claim": ChatClaim;
  "chat-claim-reply": ChatClaimResult;
  "chat-committed": ChatSenderRecord;
}

type BatchKind = keyof Batchable;

interface Queue {
  to: Address;
  kind: BatchKind;
  items: unknown[];
}

/** Collects the actions of one step. */
export class ChatOutbox {
  readonly #budget: number;
  #actions: ChatServerAction[] = [];
  readonly #queues = new Map<string, Queue>();

  /** Creates an outbox whose batches stay under `budgetBytes` of JSON body. */
  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  /** Queues one datagram. */
  send(to: Address, body: Body): void {
    this.#actions.push({ type: "send", to, body });
  }

  #multicasts = 0;

  /** Datagrams queued to the multicast group so far. */
  get multicasts(): number {
    return this.#multicasts;
  }

  /** Queues one datagram to the multicast group (every server and client). */
  multicast(body: Body): void {
    this.#multicasts++;
    this.#actions.push({ type: "multicast", body });
  }

  /** Queues a batch of log changes to be written to the disk. */
  persist(batch: { id: number; ops: LogOp[] }): void {
    this.#actions.push({ type: "persist", ...batch });
  }

  /** Queues an event for the runtime. */
  notify(notice: ChatNotice): void {
    this.#actions.push({ type: "notify", notice });
  }

  /** Queues an item that leaves with the others of its kind and destination. */
  queue<K extends BatchKind>(to: Address, kind: K, item: Batchable[K]): void {
    const key = `${kind}|${to.host}|${to.port}`;
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { to, kind, items: [] };
      this.#queues.set(key, queue);
    }
    queue.items.push(item);
  }

  /** Returns the queued actions, batched items last, and starts empty. */
  drain(): ChatServerAction[] {
    for (const { to, kind, items } of this.#queues.values()) {
      for (const batch of packByBytes(items, this.#budget, MAX_CHAT_ITEMS)) {
        this.send(to, bodyOf(kind, batch));
      }
    }
    this.#queues.clear();
    const actions = this.#actions;
    this.#actions = [];
    return actions;
  }
}

function bodyOf(kind: BatchKind, items: unknown[]): Body {
  switch (kind) {
    case "chat-forward":
      return { kind, items: items as ChatForwardItem[] };
    case "chat-busy":
      return { kind, clients: items as string[] };
    case "chat-claim":
      return { kind, claims: items as ChatClaim[] };
    case "chat-claim-reply":
      return { kind, results: items as ChatClaimResult[] };
    case "chat-committed":
      return { kind, items: items as ChatSenderRecord[] };
  }
}
