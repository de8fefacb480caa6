/**
 * Completing a state transfer. A server whose log was replaced by a window that starts after
 * entry 1 no longer knows the last line of clients whose lines all lie before that window — and
 * without it, a leader would sequence a late retry of such a line a second time. So it pulls the
 * last committed line per client from a server that knows them, a page at a time in client key
 * order (`chat-senders-fetch`, `chat-senders`), merging each page into its own table, until the
 * last page; then its replica is complete again.
 *
 * @module
 */

import type { ChatSendersBody } from "../wire/messages.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import type { Peer } from "./replication.ts";

/** One pull of the last line per client from one server. */
export class SendersPull {
  /** The server pulled from. */
  readonly source: Peer;
  readonly #term: number;
  readonly #replica: ChatReplica;
  readonly #out: ChatOutbox;
  readonly #retransmitMs: number;
  #after = "";
  #askedAt = -Infinity;
  #done = false;

  /** Starts pulling from `source` for `term`; the first request leaves with the next tick. */
  constructor(
    source: Peer,
    term: number,
    replica: ChatReplica,
    out: ChatOutbox,
    retransmitMs: number,
  ) {
    this.source = source;
    this.#term = term;
    this.#replica = replica;
    this.#out = out;
    this.#retransmitMs = retransmitMs;
  }

  /** True once the last page is merged. */
  get done(): boolean {
    return this.#done;
  }

  /** Merges a page if it answers the current request; asks for the next one. */
  onPage(from: string, body: ChatSendersBody, now: number): void {
    if (this.#done || from !== this.source.id || body.term !== this.#term) return;
    if (body.after !== this.#after) return;
    for (const { client, cseq } of body.senders) this.#replica.senders.note(client, cseq);
    if (body.done) {
      this.#done = true;
      this.#replica.markSendersComplete();
      return;
    }
    this.#after = body.senders.at(-1)?.client ?? this.#after;
    this.#ask(now);
  }

  /** Repeats an unanswered request after `retransmitMs`. */
  tick(now: number): void {
    if (!this.#done && now - this.#askedAt >= this.#retransmitMs) this.#ask(now);
  }

  #ask(now: number): void {
    this.#askedAt = now;
    this.#out.send(this.source.addr, {
      kind: "chat-senders-fetch",
      term: this.#term,
      after: this.#after,
    });
  }
}
