/**
 * One dsys server as one pure, deterministic state machine: the protocol core
 * ({@linkcode ServerCore}: membership, failure detection, Bully), the chat core
 * ({@linkcode ChatServerCore}) and everything that joins them — the member guard in front of
 * both, routing by kind, the answer to `discover`, telling the chat core the group view whenever
 * the view, the leader, the term or the split changed, and deferring chat actions until a
 * `flush` so that a burst of datagrams leaves as a few batches.
 *
 * The server shell (`server.ts`) and both simulators drive this same node with events carrying the
 * monotonic time `now` and, where the chat needs it, the wall-clock time `wall`, and perform the
 * actions {@linkcode ServerNode.step} returns; so the simulators test the wiring that ships.
 * Nothing here touches a socket, a timer or a clock.
 *
 * @module
 */

import { type Config, effectiveChatConfig } from "../config/mod.ts";
import { type GuardStats, MemberGuard, type Offence } from "../guard/tracker.ts";
import type { Address } from "../transport/types.ts";
import {
  type DiscoverBody,
  type DiscoverDisk,
  type Envelope,
  type Kind,
  MAX_ROSTER_ROOMS,
  MESSAGE_KINDS,
  type Role,
  type Sender,
} from "../wire/messages.ts";
import type { RejectReason } from "../wire/rejections.ts";
import {
  type ChatNotice,
  type ChatServerAction,
  ChatServerCore,
  type ChatServerEvent,
  type ChatServerStatus,
} from "../chat/chat_server_core.ts";
import type { RestoredLog } from "../chat/journal.ts";
import { viewWithClients } from "./clients_view.ts";
import { missingServers } from "./status.ts";
import {
  type CoreAction,
  type CoreEvent,
  type CoreStats,
  type MemberView,
  ServerCore,
  type ViewHeadline,
  type ViewSnapshot,
} from "../membership/core.ts";

/**
 * Kinds a server never handles, dropped by their header before they are authenticated: what the
 * chat clients take from the multicast group (the leader's stream) reaches every server there too.
 */
export const SERVER_SKIPS: readonly Kind[] = (Object.keys(MESSAGE_KINDS) as Kind[]).filter((kind) =>
  MESSAGE_KINDS[kind].layer === "chat-client" && MESSAGE_KINDS[kind].multicast
);

/** Where a server node hands a kind it received: see {@linkcode serverRoute}. */
export type ServerRoute = "chat" | "answer" | "core";

/**
 * Where a server node hands a received `kind`, by its layer in {@linkcode MESSAGE_KINDS}: the
 * chat layers to the chat core, a `discover` answered by the node itself, the rest (membership,
 * and discover replies the core ignores) to the membership core.
 */
export function serverRoute(kind: Kind): ServerRoute {
  const { layer } = MESSAGE_KINDS[kind];
  if (layer === "chat-server" || layer === "chat-client") return "chat";
  return kind === "discover" ? "answer" : "core";
}

/** What a {@linkcode ServerNode} needs to know about its server. */
export interface ServerNodeOptions {
  /** This server as it appears in every datagram (role `"server"`). */
  self: Sender;
  /** Bully priority (higher wins). */
  priority: number;
  /** Protocol timing, chat tunables and the guard's bounds. */
  config: Pick<Config, "timing" | "chat" | "security">;
  /** Unicast seeds (`--peers`). */
  seeds: Address[];
  /** dsys version, carried in heartbeats and discover replies. */
  version: string;
  /** Numbers in [0, 1) for the protocol core (see `CoreOptions.random`). */
  random?: () => number;
  /** Datagrams rejected so far by reason, as a discover reply reports them (default: none). */
  rejections?: () => Readonly<Record<RejectReason, number>>;
  /** The chat log on the disk, as a discover reply tells it (default: none, memory only). */
  disk?: () => DiscoverDisk | undefined;
  /** Keep the chat log on the disk (see `ChatServerOptions.persist`); default memory only. */
  persist?: boolean;
  /** The chat log read back from the disk, to start from. */
  restored?: RestoredLog;
}

/** One input to the node; `now` is monotonic ms, `wall` ms since the epoch. */
export type NodeEvent =
  | { type: "start"; now: number; wall: number }
  | { type: "receive"; envelope: Envelope; viaGroup: boolean; now: number }
  | { type: "flush"; now: number }
  | { type: "tick"; now: number; wall: number }
  /** The liveness connection to the server at `addr` closed (see `CoreEvent`). */
  | { type: "peer-closed"; addr: Address; now: number }
  | { type: "stop"; now: number }
  | {
    /** The chat log's `persist` batches up to `id` are flushed to the disk. */
    type: "persisted";
    id: number;
    now: number;
  };

/** One thing the shell must do for the node. */
export type NodeAction =
  | CoreAction
  | {
    /** A chat event worth logging. */
    type: "chat-notice";
    notice: ChatNotice;
  }
  | Extract<ChatServerAction, { type: "persist" }>
  | {
    /** A sender just began a cool-off (log it once). */
    type: "offence";
    offence: Offence;
    sender: Sender;
  }
  | {
    /** A server was heard for the first time (log it once). */
    type: "peer-heard";
    sender: Sender;
  }
  | {
    /**
     * Chat datagrams were taken without acting on them yet: step a `flush` once the datagrams
     * already read have been handled (asked once until that flush).
     */
    type: "flush-soon";
  };

/** Counters of a node: its protocol core's, its chat core's and its guard's. */
export interface NodeStats {
  /** Protocol counters. */
  protocol: CoreStats;
  /** Chat log and sequencer state. */
  chat: ChatServerStatus;
  /** Misbehaving members: cool-offs started by reason, datagrams ignored, senders ignored now. */
  guard: GuardStats;
  /** Times this server began following a new leader (its first one included). */
  leaderChanges: number;
}

/** How many of `members` have `role` and are alive or suspect. */
export function liveMembers(members: readonly MemberView[], role: Role): number {
  const live = (m: MemberView) => m.state === "alive" || m.state === "suspect";
  return members.filter((m) => m.role === role && live(m)).length;
}

/** The whole protocol of one dsys server: feed it events, perform what it returns. */
export class ServerNode {
  readonly #o: ServerNodeOptions;
  readonly #core: ServerCore;
  readonly #chat: ChatServerCore;
  readonly #guard: MemberGuard;
  readonly #heard = new Set<string>();
  #actions: NodeAction[] = [];
  #startedAt = 0;
  #flushAsked = false;
  #leaderChanges = 0;
  #told: ViewHeadline = { view: -1, leader: null, term: -1, split: undefined };

  /** Creates a node; nothing happens until the `start` event. */
  constructor(options: ServerNodeOptions) {
    this.#o = options;
    const { timing, security } = options.config;
    this.#core = new ServerCore({
      self: options.self,
      priority: options.priority,
      timing,
      seeds: options.seeds,
      version: options.version,
      random: options.random,
    });
    this.#chat = new ChatServerCore({
      self: options.self,
      config: effectiveChatConfig(options.config),
      persist: options.persist,
      restored: options.restored,
    });
    this.#guard = new MemberGuard({
      ratePerSecond: security.senderRatePerSecond,
      burst: security.senderBurst,
      coolOffMs: security.coolOffMs,
      maxSenders: security.replaySenders,
    });
  }

  /** The protocol core, to read its state (feeding it directly would bypass the wiring). */
  get core(): ServerCore {
    return this.#core;
  }

  /** The chat core, to read its state (feeding it directly would bypass the wiring). */
  get chat(): ChatServerCore {
    return this.#chat;
  }

  /** Feeds one event (the one entry point of every datagram and timer); returns the actions. */
  step(event: NodeEvent): NodeAction[] {
    // A fresh list each step: a step that threw leaves nothing behind for the next one.
    this.#actions = [];
    switch (event.type) {
      case "start":
        this.#startedAt = event.now;
        this.#stepChat({ type: "start", now: event.now, wall: event.wall });
        this.#stepCore(event);
        break;
      case "receive":
        this.#receive(event.envelope, event.viaGroup, event.now);
        break;
      case "flush":
      case "persisted":
        this.#stepChat(event);
        break;
      case "tick":
        this.#stepCore({ type: "tick", now: event.now });
        this.#stepChat(event);
        break;
      case "peer-closed":
      case "stop":
        this.#stepCore(event);
        break;
    }
    return this.#actions;
  }

  /**
   * The earliest monotonic time at which a `tick` can do anything: the membership core's next
   * deadline while the chat is settled, at most a heartbeat interval away (the chat's periodic
   * duties are then late by at most that); otherwise 0 — due already, tick at the finest grain.
   */
  dueAt(): number {
    return this.#chat.settled ? this.#core.dueAt() : 0;
  }

  /** The number of the group view: it grows on every change of the member table. */
  get viewNumber(): number {
    return this.#core.headline().view;
  }

  /** The unicast addresses of the other servers of the view, live or dead (not those that left). */
  serverAddresses(): Address[] {
    return this.#core.view().members.filter((m) =>
      m.role === "server" && m.id !== this.#o.self.id && m.state !== "left"
    ).map((m) => m.addr);
  }

  /** This server's view of the group, its chat clients included. */
  view(): ViewSnapshot {
    return viewWithClients(this.#core.view(), this.#chat.users(), this.#chat.clients());
  }

  /** Counters at `now` (ms, monotonic). */
  stats(now: number): NodeStats {
    return {
      protocol: this.#core.stats(),
      chat: this.#chat.status(),
      guard: this.#guard.stats(now),
      leaderChanges: this.#leaderChanges,
    };
  }

  #receive(envelope: Envelope, viaGroup: boolean, now: number): void {
    const { admit, offence } = this.#guard.judge(envelope, now);
    if (offence) this.#actions.push({ type: "offence", offence, sender: envelope.sender });
    if (!admit) return;
    this.#noteSender(envelope.sender);
    const body = envelope.body;
    const route = serverRoute(body.kind);
    if (route === "chat") {
      this.#stepChat({ type: "receive", envelope, now, defer: true });
      if (!this.#flushAsked) {
        this.#flushAsked = true;
        this.#actions.push({ type: "flush-soon" });
      }
    } else if (route === "answer" && body.kind === "discover") {
      this.#answerDiscover(envelope.sender, body, viaGroup, now);
    } else {
      this.#stepCore({ type: "receive", envelope, viaGroup, now });
    }
  }

  #stepCore(event: CoreEvent): void {
    for (const action of this.#core.step(event)) {
      if (
        action.type === "notify" && action.event.type === "leader-changed" &&
        action.event.leader !== null
      ) {
        this.#leaderChanges++;
      }
      this.#actions.push(action);
    }
    this.#tellChatMembership(event.now);
  }

  /** Feeds the chat core the group view whenever the view, the leader, the term or the split changed. */
  #tellChatMembership(now: number): void {
    const headline = this.#core.headline();
    const told = this.#told;
    if (
      headline.view === told.view && headline.leader === told.leader &&
      headline.term === told.term && headline.split === told.split
    ) return;
    this.#told = headline;
    this.#stepChat({ type: "membership", view: this.#core.view(), now });
  }

  #stepChat(event: ChatServerEvent): void {
    const actions: ChatServerAction[] = this.#chat.step(event);
    if (!(event.type === "receive" && event.defer)) this.#flushAsked = false;
    for (const action of actions) {
      this.#actions.push(
        action.type === "notify" ? { type: "chat-notice", notice: action.notice } : action,
      );
    }
  }

  #answerDiscover(sender: Sender, body: DiscoverBody, viaGroup: boolean, now: number): void {
    const snapshot = this.view();
    const { leader, term, view, split } = snapshot;
    const counted = Object.entries(this.#o.rejections?.() ?? {}).filter(([, n]) => n > 0);
    const disk = this.#o.disk?.();
    this.#actions.push({
      type: "send",
      to: sender.addr,
      body: {
        kind: "discover-reply",
        nonce: body.nonce,
        version: this.#o.version,
        priority: this.#o.priority,
        uptimeMs: Math.round(now - this.#startedAt),
        viaGroup,
        leader: leader ?? "",
        term,
        view,
        viewSize: liveMembers(snapshot.members, "server"),
        clients: this.#chat.clients().length,
        rejections: Object.fromEntries(counted),
        ...(disk ? { disk } : {}),
        rooms: this.#chat.status().rooms.slice(0, MAX_ROSTER_ROOMS),
        ...(split
          ? {
            split: {
              servers: split.servers,
              of: split.of,
              majority: split.majority,
              partition: split.partition,
              missing: missingServers(split, now),
            },
          }
          : {}),
      },
    });
  }

  #noteSender(sender: Sender): void {
    if (sender.role !== "server" || this.#heard.has(sender.id)) return;
    // Bounded like the replay guard's senders: an insider inventing ids cannot grow it forever.
    if (this.#heard.size >= this.#o.config.security.replaySenders) return;
    this.#heard.add(sender.id);
    this.#actions.push({ type: "peer-heard", sender });
  }
}
