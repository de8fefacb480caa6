/**
 * The chat core of one server: the sequencer when this server leads (`recovery.ts`, then
 * `leader.ts`), a replica of the global log when it follows (`replica.ts`), and the home of the
 * clients attached to it (`sessions.ts`, `delivery.ts`) — one pure, deterministic state machine,
 * run beside `ServerCore` by the server node (`../server/node.ts`, the etcd/raft model). The node
 * feeds it `start`, every chat datagram it `receive`s, a `tick` with the monotonic and the
 * wall-clock time, and a `membership` event with the server core's view whenever the view, the
 * leader, the term or the split changes; it passes on the actions
 * {@linkcode ChatServerCore.step} returns. It routes between those parts and must not reach into
 * membership or election state beyond that event. How a line is ordered, replicated, merged after
 * a partition and delivered: docs/design.md, "Delivery".
 *
 * @module
 */

import type { ViewSnapshot } from "../membership/events.ts";
import {
  type ChatAppendBody,
  type ChatEntry,
  type ChatFetchBody,
  type ChatForwardItem,
  type ChatGatherBody,
  type ChatRoomSize,
  type ChatSendersFetchBody,
  type Envelope,
  MAX_CHAT_ENTRIES,
  MAX_CHAT_ITEMS,
  MAX_CHAT_RUNS,
  nextTerm,
  type Sender,
} from "../wire/messages.ts";
import type { ChatConfig } from "../config/mod.ts";
import type { Presence } from "./directory.ts";
import { type LeaderPhase, Leadership } from "./leader.ts";
import { ChatOutbox, type ChatServerAction } from "./outbox.ts";
import { ChatReplica } from "./replica.ts";
import type { JournalState, RestoredLog } from "./journal.ts";
import type { Peer } from "./replication.ts";
import { Sessions, type SessionView } from "./sessions.ts";
import { SendersPull } from "./transfer.ts";
import { BODY_OVERHEAD_BYTES } from "./size.ts";
import { roomSizes } from "./rooms.ts";

export type { ChatNotice, ChatServerAction } from "./outbox.ts";
export type { SessionView } from "./sessions.ts";

/** What a {@linkcode ChatServerCore} needs. */
export interface ChatServerOptions {
  /** This server as it appears in every datagram (role `"server"`). */
  self: Sender;
  /** Chat tunables (`defaultChatConfig()`). */
  config: ChatConfig;
  /**
   * Keep the log on the disk: every change leaves as a `persist` action, and this server
   * acknowledges entries (a follower to its leader, a leader counting itself) only once the
   * shell says they are flushed (`persisted`). False or absent: memory only.
   */
  persist?: boolean;
  /** The log read back from the disk, to start from. */
  restored?: RestoredLog;
}

/** One input to the chat core; `now` is monotonic ms, `wall` ms since the epoch. */
export type ChatServerEvent =
  | { type: "start"; now: number; wall: number }
  | {
    type: "receive";
    envelope: Envelope;
    now: number;
    /**
     * When true, nothing is sent yet: what the datagram causes waits for the next `flush` (or any
     * other event), so that a burst of datagrams leaves as a few batches (JGroups' bundler).
     */
    defer?: boolean;
  }
  | { type: "flush"; now: number }
  | { type: "tick"; now: number; wall: number }
  | { type: "membership"; view: ViewSnapshot; now: number }
  | {
    /** The `persist` batches up to `id` are flushed to the disk. */
    type: "persisted";
    id: number;
    now: number;
  };

/** A chat server's state, for status output and tests. */
export interface ChatServerStatus {
  /** This server's role in the chat: following, or one of the leader's phases. */
  role: "following" | LeaderPhase;
  /** The highest chat term this server promised to follow (or leads). */
  term: number;
  /** First sequence number kept. */
  first: number;
  /** Last sequence number held. */
  last: number;
  /** Highest committed sequence number. */
  commit: number;
  /** True when this server's log is known to match its leader's. */
  synced: boolean;
  /** Clients attached here. */
  clients: number;
  /** Lines the sequencer buffers (leader only). */
  buffered: number;
  /** Committed entries replaced by a merged log after a partition healed (their lines moved). */
  conflicts: number;
  /** Client lines refused (and retried later) because the client posted above its rate. */
  throttled: number;
  /** Fingerprint of the committed entries kept, `first..commit` (`ChatLog.digest`). */
  digest: number;
  /** Clients attached here whose acks say they take the leader's multicast stream. */
  streamedClients: number;
  /** Stream datagrams (`chat-stream`) this server multicast while it led. */
  streamDatagrams: number;
  /** The rooms in use and their number of users, as the committed log implies, largest first. */
  rooms: ChatRoomSize[];
}

/** The chat state machine of one dsys server. */
export class ChatServerCore {
  readonly #o: ChatServerOptions;
  readonly #out: ChatOutbox;
  readonly #replica: ChatReplica;
  readonly #sessions: Sessions;
  #started = false;
  #now = 0;
  #wall = 0;
  #peers: ReadonlyMap<string, Peer> = new Map();
  #leaderId: string | null = null;
  #leaderTerm = 0;
  #promised = 0;
  #promisedTo: string | null = null;
  #synced = false;
  #leadership: Leadership | null = null;
  #pull: SendersPull | null = null;
  /**
   * The last gather from a server this one did not follow yet: the new leader's gather can
   * overtake the election's COORDINATOR, and is answered once the view names it instead of
   * waiting for its repeat `retransmitMs` later.
   */
  #earlyGather: { peer: Peer; body: ChatGatherBody } | null = null;
  #conflicts = 0;
  #asideAt = -Infinity;
  /** True while this server reaches a majority of its full view (live and dead servers). */
  #majority = true;
  /** The highest entry known to match the log of the leader this server follows. */
  #matched = 0;
  /** The highest match this server reported to that leader. */
  #replied = 0;
  /** The replica's state as last journaled (a persistent server). */
  #journaled: JournalState | undefined;

  /** Creates a chat core; nothing happens until the `start` event. */
  constructor(options: ChatServerOptions) {
    this.#o = options;
    const { config } = options;
    this.#out = new ChatOutbox(config.batchBodyBytes);
    this.#replica = new ChatReplica(config.logLimit, config.maxSenders);
    this.#sessions = new Sessions({ config, replica: this.#replica, out: this.#out });
    if (options.restored) {
      this.#replica.restore(options.restored);
      this.#promised = Math.max(options.restored.state?.promised ?? 0, this.#replica.log.lastTerm);
      this.#journaled = options.restored.state;
    }
    if (options.persist) this.#replica.log.journal();
  }

  /** Feeds one event and returns what the runtime must do, in order. */
  step(event: ChatServerEvent): ChatServerAction[] {
    if (event.type === "start") {
      this.#started = true;
      this.#wall = Math.floor(event.wall);
    }
    if (!this.#started) return [];
    this.#now = Math.max(this.#now, event.now);
    switch (event.type) {
      case "receive":
        this.#receive(event.envelope);
        if (event.defer) return [];
        break;
      case "tick":
        this.#wall = Math.floor(event.wall);
        this.#sessions.tick(this.#now);
        this.#leadership?.tick(this.#now, this.#wall);
        this.#pull?.tick(this.#now);
        this.#forwardAside();
        break;
      case "membership":
        this.#membership(event.view);
        break;
      case "persisted":
        this.#onPersisted(event.id);
        break;
    }
    this.#flush();
    this.#journal();
    return this.#out.drain();
  }

  /**
   * True when a tick has only periodic duties left (leases, keepalives, repairs `retransmitMs`
   * after a loss): following, or leading past recovery with nothing buffered, every entry held
   * committed. The runtime may then tick at a coarser grain.
   */
  get settled(): boolean {
    const leadership = this.#leadership;
    if (leadership && (leadership.phase !== "leading" || leadership.buffered > 0)) return false;
    return this.#replica.log.last === this.#replica.commit;
  }

  /** Role, term, log window, commit point and counters. */
  status(): ChatServerStatus {
    const { log, commit } = this.#replica;
    const leadership = this.#leadership;
    return {
      role: leadership?.phase ?? "following",
      term: this.#promised,
      first: log.first,
      last: log.last,
      commit,
      synced: this.#isSynced(),
      clients: this.#sessions.size,
      buffered: leadership?.buffered ?? 0,
      conflicts: this.#replica.conflicts,
      throttled: this.#sessions.throttled,
      digest: log.digest(commit),
      streamedClients: this.#sessions.streamed,
      streamDatagrams: this.#out.multicasts,
      rooms: roomSizes(this.#replica.rooms),
    };
  }

  /** The users present in the cluster as of this server's commit point (user → holder). */
  users(): ReadonlyMap<string, Presence> {
    return this.#replica.presence;
  }

  /** The room of every present user as of this server's commit point (user → room). */
  rooms(): ReadonlyMap<string, string> {
    return this.#replica.rooms;
  }

  /** The clients attached to this server. */
  clients(): SessionView[] {
    return this.#sessions.list();
  }

  /** The committed entries this server still keeps, from `from` on, in order. */
  committed(from = 1): ChatEntry[] {
    return [...this.#replica.log.range(from, this.#replica.commit)];
  }

  #isSynced(): boolean {
    return this.#leadership ? this.#leadership.phase === "leading" : this.#synced;
  }

  #membership(view: ViewSnapshot): void {
    const self = this.#o.self.id;
    const peers = new Map<string, Peer>();
    let lost = 0;
    for (const m of view.members) {
      if (m.role !== "server" || m.id === self) continue;
      if (m.state === "dead") lost++;
      if (m.state !== "alive" && m.state !== "suspect") continue;
      peers.set(m.id, { id: m.id, addr: m.addr, incarnation: m.incarnation });
    }
    this.#peers = peers;
    this.#majority = 2 * (peers.size + 1) > peers.size + 1 + lost;
    this.#sessions.setSplit(view.split);
    const leader = view.leader === self ? this.#o.self : peers.get(view.leader ?? "");
    this.#sessions.setLeader(leader ? { id: leader.id, incarnation: leader.incarnation } : null);
    if (view.leader !== this.#leaderId || view.term !== this.#leaderTerm) {
      this.#leaderId = view.leader;
      this.#leaderTerm = view.term;
      this.#synced = false;
      this.#sessions.leaderChanged();
      this.#leadership = null;
      if (view.leader === self) this.#lead(Math.max(view.term, nextTerm(this.#promised)));
    }
    if (this.#leadership?.setPeers(peers)) this.#lead(nextTerm(this.#promised));
    const early = this.#earlyGather;
    if (early && early.peer.id === view.leader) {
      this.#earlyGather = null;
      const peer = peers.get(early.peer.id);
      if (peer?.incarnation === early.peer.incarnation) this.#onGather(peer, early.body);
    }
  }

  #lead(term: number): void {
    this.#promised = term;
    this.#promisedTo = this.#o.self.id;
    const { config } = this.#o;
    this.#leadership = new Leadership({
      term,
      config,
      replica: this.#replica,
      out: this.#out,
      reader: () => this.#sessions.readPoint(),
      majority: () => this.#majority,
    });
    this.#leadership.setPeers(this.#peers);
    this.#out.notify({ type: "gathering", term });
  }

  /**
   * Starts over with a term above `promised` elsewhere, while this server still leads; not when
   * no term above it is left (the wire's bound): that would only repeat the refused gather.
   */
  #outbid(promised: number | undefined): void {
    if (promised === undefined || this.#leaderId !== this.#o.self.id) return;
    const term = nextTerm(Math.max(promised, this.#promised));
    if (term > this.#promised) this.#lead(term);
  }

  #receive(envelope: Envelope): void {
    const { sender, body } = envelope;
    const now = this.#now;
    if (sender.id === this.#o.self.id) return;
    if (sender.role === "client") {
      switch (body.kind) {
        case "chat-join":
          return this.#sessions.onJoin(sender, body, now);
        case "chat-post":
          return this.#forward(this.#sessions.onPost(sender, body, now));
        case "chat-ack":
          return this.#sessions.onAck(sender, body, now);
        case "chat-nak":
          return this.#sessions.onNak(sender, body, now);
        case "chat-leave":
          return this.#sessions.onLeave(sender);
        case "chat-who":
          return this.#sessions.onWho(sender, body, now);
        case "chat-past":
          return this.#sessions.onPast(sender, body, now);
        default:
          return;
      }
    }
    const peer = this.#peers.get(sender.id);
    if (sender.role !== "server" || !peer || peer.incarnation !== sender.incarnation) return;
    const fromLeader = sender.id === this.#leaderId;
    const leadership = this.#leadership;
    switch (body.kind) {
      case "chat-append":
        if (fromLeader) this.#onAppend(peer, body);
        return;
      case "chat-gather":
        if (fromLeader) this.#onGather(peer, body);
        else this.#earlyGather = { peer, body };
        return;
      case "chat-fetch":
        return this.#onFetch(peer, body);
      case "chat-senders-fetch":
        return this.#onSendersFetch(peer, body);
      case "chat-senders":
        leadership?.onSendersPage(peer, body, now);
        return this.#pull?.onPage(peer.id, body, now);
      case "chat-append-reply":
        return this.#outbid(leadership?.onAppendReply(peer, body, now));
      case "chat-gather-reply":
        return this.#outbid(leadership?.onGatherReply(peer, body));
      case "chat-fetched":
        return leadership?.onFetched(peer, body, now);
      case "chat-forward": {
        if (!leadership) return;
        const answer = leadership.onForward(body.items);
        for (const client of answer.busy) this.#out.queue(peer.addr, "chat-busy", client);
        for (const record of answer.committed) {
          this.#out.queue(peer.addr, "chat-committed", record);
        }
        return;
      }
      case "chat-claim":
        for (const result of leadership?.onClaims(peer.id, body.claims, now, this.#wall) ?? []) {
          this.#out.queue(peer.addr, "chat-claim-reply", result);
        }
        return;
      case "chat-claim-reply":
        if (fromLeader) this.#sessions.onClaimResults(body.results);
        return;
      case "chat-busy":
        if (fromLeader) this.#sessions.onBusy(body.clients, now);
        return;
      case "chat-committed":
        if (fromLeader) this.#sessions.onCommitted(body.items, now);
        return;
      default:
        return;
    }
  }

  /** True when `term` from `leader` may be followed: newer than, or the same as, the promise. */
  #mayFollow(term: number, leader: string): boolean {
    return term > this.#promised || (term === this.#promised && this.#promisedTo === leader);
  }

  #promise(term: number, leader: string): void {
    if (term === this.#promised && leader === this.#promisedTo) return;
    this.#promised = term;
    this.#promisedTo = leader;
    this.#synced = false;
    this.#matched = 0;
    this.#replied = 0;
  }

  /**
   * What this follower tells its leader it stored: the entries known to match the leader's that
   * are also on the disk (all of them, memory only).
   */
  #ackable(): number {
    return Math.min(this.#matched, this.#replica.log.durable);
  }

  /** Batches are flushed: a follower acknowledges what it could not yet (a leader commits). */
  #onPersisted(id: number): void {
    this.#replica.log.persisted(id);
    if (this.#leadership || !this.#synced || this.#promisedTo !== this.#leaderId) return;
    const leader = this.#peers.get(this.#leaderId ?? "");
    const match = this.#ackable();
    if (!leader || match <= this.#replied) return;
    this.#replied = match;
    this.#out.send(leader.addr, {
      kind: "chat-append-reply",
      term: this.#promised,
      ok: true,
      match,
      commit: this.#replica.commit,
      reader: this.#sessions.readPoint(),
    });
  }

  /** Hands the log's changes since the last step to the shell, with the state they leave. */
  #journal(): void {
    const { log } = this.#replica;
    if (!log.journaled) return;
    const replica = this.#replica;
    const state: JournalState = {
      last: log.last,
      lastTerm: log.lastTerm,
      commit: replica.commit,
      majority: replica.majorityCommit,
      promised: this.#promised,
      complete: replica.sendersComplete,
    };
    const known = this.#journaled;
    const moved = !known || known.last !== state.last || known.lastTerm !== state.lastTerm ||
      known.promised !== state.promised || known.complete !== state.complete;
    // The commit points alone are a hint (a restarted server learns them again from its leader):
    // they go with the next batch of changes instead of costing a flush of their own.
    if (
      moved ||
      (log.hasChanges && (known.commit !== state.commit || known.majority !== state.majority))
    ) {
      log.note({ op: "state", ...state });
      this.#journaled = state;
    }
    const batch = log.takeJournal();
    if (batch) this.#out.persist(batch);
  }

  #onAppend(leader: Peer, body: ChatAppendBody): void {
    const replica = this.#replica;
    const { log } = replica;
    if (!this.#mayFollow(body.term, leader.id)) {
      this.#out.send(leader.addr, {
        kind: "chat-append-reply",
        term: this.#promised,
        ok: false,
        match: log.last,
        commit: replica.commit,
        reader: this.#sessions.readPoint(),
      });
      return;
    }
    this.#promise(body.term, leader.id);
    const lacking = body.prev > log.last || log.termAt(body.prev) !== body.prevTerm;
    if (body.reset && lacking && replica.reset(body.prev, body.prevTerm)) {
      this.#out.notify({ type: "log-reset", first: log.first });
    }
    const result = replica.store(body.prev, body.prevTerm, body.entries);
    if (result.ok) {
      this.#synced = true;
      this.#matched = Math.max(this.#matched, result.match);
      replica.advanceCommit(Math.min(body.commit, result.match));
      replica.advanceMajority(Math.min(body.majorityCommit, result.match));
      if (!replica.sendersComplete && this.#pull?.source.id !== leader.id) {
        const { retransmitMs } = this.#o.config;
        this.#pull = new SendersPull(leader, body.term, replica, this.#out, retransmitMs);
        this.#pull.tick(this.#now);
      }
    }
    const match = result.ok ? Math.min(result.match, this.#ackable()) : result.hint;
    if (result.ok) this.#replied = Math.max(this.#replied, match);
    this.#out.send(leader.addr, {
      kind: "chat-append-reply",
      term: body.term,
      ok: result.ok,
      match,
      commit: replica.commit,
      reader: this.#sessions.readPoint(),
    });
  }

  #onGather(leader: Peer, body: ChatGatherBody): void {
    const { log, commit } = this.#replica;
    const ok = this.#mayFollow(body.term, leader.id);
    if (ok) this.#promise(body.term, leader.id);
    this.#out.send(leader.addr, {
      kind: "chat-gather-reply",
      term: ok ? body.term : this.#promised,
      ok,
      first: log.first,
      last: log.last,
      lastTerm: log.lastTerm,
      commit,
      majorityCommit: this.#replica.majorityCommit,
      complete: this.#replica.sendersComplete,
      runs: log.runs(MAX_CHAT_RUNS),
    });
  }

  #onFetch(leader: Peer, body: ChatFetchBody): void {
    if (body.term !== this.#promised || leader.id !== this.#promisedTo) return;
    const { log } = this.#replica;
    const { config } = this.#o;
    const to = Math.min(body.to, body.from + config.fetchWindow - 1, log.last);
    const budget = config.batchBodyBytes - BODY_OVERHEAD_BYTES;
    let seq = Math.max(body.from, log.first);
    while (seq <= to) {
      const entries = log.batch(seq, to, budget, MAX_CHAT_ENTRIES);
      this.#out.send(leader.addr, {
        kind: "chat-fetched",
        term: body.term,
        prev: seq - 1,
        prevTerm: log.termAt(seq - 1)!,
        entries,
      });
      seq += entries.length;
    }
  }

  #onSendersFetch(asker: Peer, body: ChatSendersFetchBody): void {
    const budget = this.#o.config.batchBodyBytes - BODY_OVERHEAD_BYTES;
    const page = this.#replica.senders.page(body.after, budget, MAX_CHAT_ITEMS);
    this.#out.send(asker.addr, {
      kind: "chat-senders",
      term: body.term,
      after: body.after,
      ...page,
    });
  }

  /** Sends client lines to the leader (or offers them to this server's own sequencer). */
  #forward(items: ChatForwardItem[]): void {
    if (items.length === 0) return;
    if (this.#leadership) {
      const answer = this.#leadership.onForward(items);
      this.#sessions.onBusy(answer.busy, this.#now);
      this.#sessions.onCommitted(answer.committed, this.#now);
      return;
    }
    const leader = this.#leaderId === null ? undefined : this.#peers.get(this.#leaderId);
    if (leader) { for (const item of items) this.#out.queue(leader.addr, "chat-forward", item); }
  }

  /**
   * Lines this server set aside while it led (a better log replaced them) and did not merge
   * before it stopped leading: they go to the leader like a client's, every `retransmitMs`, until
   * the log holds them (its sequencer drops what it has already).
   */
  #forwardAside(): void {
    if (this.#leadership || this.#now - this.#asideAt < this.#o.config.retransmitMs) return;
    const aside = this.#replica.pruneAside();
    if (aside.length === 0) return;
    this.#asideAt = this.#now;
    this.#forward(aside.map(({ entry }) => ({
      client: entry.client,
      user: entry.from,
      acked: entry.cseq - 1,
      cseq: entry.cseq,
      text: entry.text,
      ts: entry.ts,
    })));
  }

  #flush(): void {
    const now = this.#now;
    const claims = this.#leaderId === null ? [] : this.#sessions.claims(now);
    if (claims.length > 0) {
      if (this.#leadership) {
        const results = this.#leadership.onClaims(this.#o.self.id, claims, now, this.#wall);
        this.#sessions.onClaimResults(results);
      } else {
        const leader = this.#peers.get(this.#leaderId!);
        if (leader) {
          for (const claim of claims) this.#out.queue(leader.addr, "chat-claim", claim);
        }
      }
    }
    this.#leadership?.flush(now);
    const fork = this.#replica.takeFork();
    if (fork !== undefined) {
      this.#out.notify({
        type: "adopted",
        fork,
        entries: this.#replica.conflicts - this.#conflicts,
      });
      this.#conflicts = this.#replica.conflicts;
      this.#sessions.rewound(fork);
    }
    this.#sessions.flush(this.#isSynced(), now);
    this.#replica.trim();
  }
}
