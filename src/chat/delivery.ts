/**
 * Delivery of committed entries to the clients of one server, and its flow control: batches of
 * at most `deliveryWindow` entries and `datagramsInFlight` datagrams beyond the client's
 * cumulative ack, gaps resent on NAK or after `retransmitMs` without progress, keepalives that
 * carry the commit point and the client's last acknowledged line. A client whose acks say it
 * takes the leader's multicast stream (`chat-stream`) is sent only what it misses: entries count
 * as sent when committed, and are sent by unicast when its acks stop moving. Every datagram
 * carries the attachment number and names the leader this server follows. It owns what one
 * client was sent and acknowledged; it must not decide who is attached, welcome anyone or touch
 * name leases (that is `sessions.ts`).
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import { type ChatAckBody, type ChatNakBody, MAX_CHAT_ENTRIES } from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import type { ChatOutbox } from "./outbox.ts";
import type { ChatReplica } from "./replica.ts";
import { BODY_OVERHEAD_BYTES } from "./size.ts";
import { redactedFor } from "./rooms.ts";

/** A server as named to clients: the leader whose stream they may take. */
export interface LeaderRef {
  /** Its node id. */
  id: string;
  /** Its incarnation. */
  incarnation: number;
}

/** What delivery keeps of one joined client. */
export interface Recipient {
  /** Session key. */
  key: string;
  /** User name: direct messages between other users reach it without their text. */
  user: string;
  /** Its address. */
  addr: Address;
  /** Attachment number. */
  gen: number;
  /** First sequence number it lacks (its cumulative ack). */
  next: number;
  /** Sent up to here. */
  pushed: number;
  /** When its ack last moved or something new was sent. */
  progressAt: number;
  /**
   * True when its ack did not move, or nothing was sent to it for `clientHeartbeatMs`: send a
   * keepalive at the next push that sends nothing (its client hears its server at least that
   * often, even while it takes everything from the leader's stream).
   */
  keepalive: boolean;
  /** When an entry or keepalive was last sent to it (`-Infinity`: never). */
  sentAt: number;
  /** The last entry of every datagram sent beyond its ack. */
  inflight: number[];
  /** Its last line the leader said is committed. */
  committed: number;
  /** True while its acks say it takes the leader's multicast stream. */
  streamed: boolean;
  /** True once it took the stream: it may hold entries this server did not send it. */
  tookStream: boolean;
  /** Sent by unicast up to here even while it takes the stream: what its acks showed missing. */
  repairTo: number;
}

/** What {@linkcode Delivery} needs. */
export interface DeliveryOptions {
  /** Tunables. */
  config: ChatConfig;
  /** The server's log and commit point. */
  replica: ChatReplica;
  /** Where datagrams go. */
  out: ChatOutbox;
}

/** Sends the committed log to the joined clients of one server, within their windows. */
export class Delivery {
  readonly #o: DeliveryOptions;
  #leader: LeaderRef | null = null;

  /** Creates delivery naming no leader yet. */
  constructor(options: DeliveryOptions) {
    this.#o = options;
  }

  /** Follows the leader named to clients; true when it changed. */
  setLeader(leader: LeaderRef | null): boolean {
    const old = this.#leader;
    if (old?.id === leader?.id && old?.incarnation === leader?.incarnation) return false;
    this.#leader = leader;
    return true;
  }

  /** The leader as named in welcomes and deliveries. */
  leaderFields(): { leader: string; leaderIncarnation: number } {
    return { leader: this.#leader?.id ?? "", leaderIncarnation: this.#leader?.incarnation ?? 0 };
  }

  /** Takes a client's cumulative ack: its progress, and whether it takes the stream. */
  onAck(r: Recipient, body: ChatAckBody, now: number): void {
    r.streamed = body.streamed;
    r.tookStream ||= body.streamed;
    const next = Math.min(body.next, this.#o.replica.commit + 1);
    if (next > r.next) {
      r.next = next;
      r.pushed = Math.max(r.pushed, next - 1);
      r.inflight = r.inflight.filter((end) => end >= next);
      r.progressAt = now;
    } else {
      r.keepalive = true;
    }
    if (now - r.sentAt >= this.#o.config.clientHeartbeatMs) r.keepalive = true;
  }

  /** Resends the entries a client says it lacks, or tells it they are gone. */
  onNak(r: Recipient, body: ChatNakBody): void {
    const { replica, config } = this.#o;
    const { log } = replica;
    let from = body.from;
    const to = Math.min(body.to, replica.commit, from + config.deliveryWindow - 1);
    if (from < log.first) {
      this.#o.out.send(r.addr, {
        kind: "chat-missed",
        from,
        to: Math.min(body.to, log.first - 1),
        gen: r.gen,
      });
      from = log.first;
    }
    this.#deliver(r, from, to);
  }

  /**
   * Rewinds delivery to a client that neither acknowledged nor was sent anything new for
   * `retransmitMs` while it lacks entries.
   */
  tick(r: Recipient, now: number): void {
    if (r.next <= r.pushed && now - r.progressAt >= this.#o.config.retransmitMs) {
      r.repairTo = Math.max(r.repairTo, r.pushed);
      r.pushed = r.next - 1;
      r.inflight = [];
      r.progressAt = now;
    }
  }

  /**
   * Sends a joined client the committed entries it lacks, within its windows. To a client that
   * takes the stream only what its acks showed missing (`repairTo`, set when it fell silent);
   * the rest counts as sent, and is sent again when its acks stop moving for `retransmitMs`.
   */
  push(session: Recipient, now: number): void {
    const { replica, config, out } = this.#o;
    const { log, commit } = replica;
    const window = Math.min(commit, session.next - 1 + config.deliveryWindow);
    const limit = session.streamed ? Math.min(window, session.repairTo) : window;
    let sent = false;
    while (session.pushed < limit && session.inflight.length < config.datagramsInFlight) {
      if (session.pushed + 1 < log.first) {
        out.send(session.addr, {
          kind: "chat-missed",
          from: session.pushed + 1,
          to: log.first - 1,
          gen: session.gen,
        });
        session.pushed = log.first - 1;
        continue;
      }
      const reached = this.#deliver(session, session.pushed + 1, limit, 1);
      if (reached <= session.pushed) break;
      session.pushed = reached;
      session.inflight.push(reached);
      session.progressAt = now;
      session.sentAt = now;
      sent = true;
    }
    if (session.streamed && session.pushed >= session.repairTo && window > session.pushed) {
      if (session.pushed < session.next) session.progressAt = now;
      session.pushed = window;
    }
    if (session.keepalive && !sent) this.keepalive(session, now);
    session.keepalive = false;
  }

  /** The client's last line known committed: from the log, or from the leader's word. */
  #acked(session: Recipient): number {
    return Math.max(this.#o.replica.senders.get(session.key) ?? 0, session.committed);
  }

  /** Sends an empty delivery: the commit point and the client's last acknowledged line. */
  keepalive(session: Recipient, now: number): void {
    const { replica } = this.#o;
    session.sentAt = now;
    this.#o.out.send(session.addr, {
      kind: "chat-deliver",
      commit: replica.commit,
      acked: this.#acked(session),
      gen: session.gen,
      entries: [],
      ...this.leaderFields(),
    });
  }

  /** Sends committed entries `from..to` in at most `batches` batches; returns the last one sent. */
  #deliver(session: Recipient, from: number, to: number, batches = Infinity): number {
    const { replica, config, out } = this.#o;
    const budget = config.batchBodyBytes - BODY_OVERHEAD_BYTES;
    let seq = from;
    for (let sent = 0; seq <= to && sent < batches; sent++) {
      const entries = replica.log.batch(seq, to, budget, MAX_CHAT_ENTRIES);
      if (entries.length === 0) break;
      out.send(session.addr, {
        kind: "chat-deliver",
        commit: replica.commit,
        acked: this.#acked(session),
        gen: session.gen,
        entries: entries.map((entry) => redactedFor(entry, session.user)),
        ...this.leaderFields(),
      });
      seq += entries.length;
    }
    return seq - 1;
  }
}
