/**
 * The server runtime: the thin shell that gives the protocol core ({@linkcode ServerCore}) its
 * sockets, its clock and its logs. It feeds the core every authenticated datagram and a tick
 * with the monotonic time, performs the actions the core returns, answers `discover` requests
 * from chat clients and probes, and logs what happens.
 *
 * Protocol decisions do not live here; this layer only does I/O and time.
 *
 * @module
 */

import { type Config, effectiveChatConfig } from "../config/mod.ts";
import { writeSync } from "node:fs";
import { type GuardStats, MemberGuard } from "../guard/tracker.ts";
import { logger } from "../log/mod.ts";
import { Endpoint, type EndpointStats, formatAddress } from "../runtime/endpoint.ts";
import type { SocketTransportKind } from "../transport/select.ts";
import type { DiscoverSplit, Envelope, Role } from "../wire/messages.ts";
import { VERSION } from "../version.ts";
import {
  type ClusterEvent,
  type CoreAction,
  type CoreEvent,
  type CoreStats,
  type MemberView,
  ServerCore,
  type ViewSnapshot,
} from "./core.ts";
import { describeLoss, formatViewTable, missingServers, summarizeView } from "./status.ts";
import { viewWithClients } from "./clients_view.ts";
import {
  type ChatNotice,
  type ChatServerAction,
  ChatServerCore,
  type ChatServerEvent,
  type ChatServerStatus,
} from "../chat/server_core.ts";

const log = logger("server");

/** How to start a server. */
export interface ServerOptions {
  /** The resolved configuration. */
  config: Config;
  /** Bully priority (higher wins). */
  priority: number;
  /** Node id; default `<address>:<unicast port>`. */
  id?: string;
  /** Force a transport implementation. */
  transportKind?: SocketTransportKind;
  /** Print the status table as text on the standard error (false: only the JSON log event). */
  statusTable?: boolean;
}

/** Counters of a server: its endpoint's and its protocol core's. */
export interface ServerStats extends EndpointStats {
  /** Protocol counters. */
  protocol: CoreStats;
  /** Chat log and sequencer state. */
  chat: ChatServerStatus;
  /** Misbehaving members: cool-offs started by reason, datagrams ignored, senders ignored now. */
  guard: GuardStats;
}

/** A JSON-able snapshot of a server: what `serve --http` shows as `/status` and `/metrics`. */
export interface ServerStatusReport {
  /** The server itself. */
  node: {
    /** Node id. */
    id: string;
    /** Unicast address, `host:port`. */
    address: string;
    /** dsys version. */
    version: string;
    /** Bully priority. */
    priority: number;
    /** Incarnation (grows on every restart). */
    incarnation: number;
    /** Milliseconds since the server started. */
    uptimeMs: number;
    /** Cluster name. */
    cluster: string;
    /** Multicast group, `group:port`. */
    group: string;
    /** Socket implementation (`deno` or `node`). */
    transport: string;
    /** Interfaces the group was joined on. */
    interfaces: string[];
  };
  /** The view number. */
  view: number;
  /** The leader this server follows (itself when it leads), or null. */
  leader: string | null;
  /** The leader's term. */
  term: number;
  /** Set while servers of the full view are missing (see `SplitView`), with how long ago. */
  split?: DiscoverSplit;
  /** Every member of the view, this server first. */
  members: MemberView[];
  /** Counters since the server started. */
  counters: ServerStats & {
    /** Times this server began following a new leader (its first one included). */
    leaderChanges: number;
  };
}

/** How many of `members` have `role` and are alive or suspect. */
export function liveMembers(members: readonly MemberView[], role: Role): number {
  const live = (m: MemberView) => m.state === "alive" || m.state === "suspect";
  return members.filter((m) => m.role === role && live(m)).length;
}

/** A running dsys server. */
export class Server {
  readonly #endpoint: Endpoint;
  readonly #core: ServerCore;
  readonly #chat: ChatServerCore;
  #membershipView = -1;
  #membershipLeader: string | null = null;
  #membershipTerm = -1;
  #membershipSplit = "";
  readonly #options: ServerOptions;
  readonly #startedAt = performance.now();
  readonly #heard = new Set<string>();
  readonly #guard: MemberGuard;
  #leaderChanges = 0;
  #timer?: ReturnType<typeof setInterval>;
  #chatFlush?: ReturnType<typeof setImmediate>;
  #statusTimer?: ReturnType<typeof setInterval>;

  private constructor(endpoint: Endpoint, options: ServerOptions) {
    this.#endpoint = endpoint;
    this.#options = options;
    this.#core = new ServerCore({
      self: endpoint.self,
      priority: options.priority,
      timing: options.config.timing,
      seeds: [...endpoint.peers],
      version: VERSION,
    });
    this.#chat = new ChatServerCore({
      self: endpoint.self,
      config: effectiveChatConfig(options.config),
    });
    const { security } = options.config;
    this.#guard = new MemberGuard({
      ratePerSecond: security.senderRatePerSecond,
      burst: security.senderBurst,
      coolOffMs: security.coolOffMs,
      maxSenders: security.replaySenders,
    });
  }

  /** Opens the sockets, starts discovery and the protocol's clock. */
  static async start(options: ServerOptions): Promise<Server> {
    const endpoint = await Endpoint.open({
      config: options.config,
      role: "server",
      joinGroup: true,
      // The leader's multicast to the clients reaches every server on the group too.
      skipKinds: ["chat-stream"],
      unicastPort: options.config.network.unicastPort,
      id: options.id,
      transportKind: options.transportKind,
    });
    const server = new Server(endpoint, options);
    server.#logListening();
    endpoint.onEnvelope((envelope, viaGroup) => server.#onEnvelope(envelope, viaGroup));
    server.#step({ type: "start", now: performance.now() });
    server.#stepChat({ type: "start", now: performance.now(), wall: Date.now() });
    server.#timer = setInterval(
      () => endpoint.contain("a tick", () => server.#tick()),
      options.config.timing.tickIntervalMs,
    );
    const every = options.config.output.statusIntervalMs;
    if (every > 0) server.#statusTimer = setInterval(() => server.#logStatus(), every);
    return server;
  }

  /** This server's id. */
  get id(): string {
    return this.#endpoint.self.id;
  }

  /** This server's view of the group. */
  view(): ViewSnapshot {
    return viewWithClients(this.#core.view(), this.#chat.users(), this.#chat.clients());
  }

  /** Counters. */
  stats(): ServerStats {
    return {
      ...this.#endpoint.stats(),
      protocol: this.#core.stats(),
      chat: this.#chat.status(),
      guard: this.#guard.stats(performance.now()),
    };
  }

  /** A JSON-able snapshot: the node, its view, leader, term and counters. */
  status(): ServerStatusReport {
    const { network } = this.#options.config;
    const transport = this.#endpoint.transport;
    const view = this.view();
    return {
      node: {
        id: this.id,
        address: formatAddress(this.#endpoint.self.addr),
        version: VERSION,
        priority: this.#options.priority,
        incarnation: this.#endpoint.self.incarnation,
        uptimeMs: Math.round(performance.now() - this.#startedAt),
        cluster: network.cluster,
        group: `${network.group}:${network.port}`,
        transport: transport.kind,
        interfaces: transport.joinedInterfaces.map((i) => i.name),
      },
      view: view.view,
      leader: view.leader,
      term: view.term,
      ...(view.split
        ? {
          split: {
            servers: view.split.servers,
            of: view.split.of,
            majority: view.split.majority,
            partition: view.split.partition,
            missing: missingServers(view.split, performance.now()),
          },
        }
        : {}),
      members: view.members,
      counters: { ...this.stats(), leaderChanges: this.#leaderChanges },
    };
  }

  /** Announces that this server leaves, closes the sockets and logs the final counters. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#statusTimer);
    clearImmediate(this.#chatFlush);
    this.#step({ type: "stop", now: performance.now() });
    const stats = this.stats();
    await this.#endpoint.close();
    log.info("stopped; sent {sent}, received {received}, rejected {rejected}", {
      event: "stopped",
      sent: stats.sentDatagrams,
      received: stats.receivedDatagrams,
      rejected: Object.values(stats.rejections).reduce((a, b) => a + b, 0),
      rejections: stats.rejections,
      protocol: stats.protocol,
    });
  }

  #logStatus(): void {
    const view = this.view();
    log.info("status: {summary}", {
      event: "status",
      summary: summarizeView(view),
      view: view.view,
      leader: view.leader,
      term: view.term,
      split: view.split,
      members: view.members,
      chat: this.#chat.status(),
    });
    if (this.#options.statusTable) writeSync(2, formatViewTable(view));
  }

  #tick(): void {
    const now = performance.now();
    this.#step({ type: "tick", now });
    this.#stepChat({ type: "tick", now, wall: Date.now() });
  }

  #step(event: CoreEvent): void {
    for (const action of this.#core.step(event)) this.#perform(action);
    this.#tellChatMembership();
  }

  /** Feeds the chat core the group view whenever the view, the leader or the split changed. */
  #tellChatMembership(): void {
    const view = this.#core.view();
    if (
      view.view === this.#membershipView && view.leader === this.#membershipLeader &&
      view.term === this.#membershipTerm &&
      JSON.stringify(view.split ?? null) === this.#membershipSplit
    ) return;
    this.#membershipView = view.view;
    this.#membershipLeader = view.leader;
    this.#membershipTerm = view.term;
    this.#membershipSplit = JSON.stringify(view.split ?? null);
    this.#stepChat({ type: "membership", view, now: performance.now() });
  }

  /**
   * Flushes the chat core once the datagrams already read have been handled (`setImmediate` runs
   * after the poll phase), so a burst leaves as a few batches instead of one datagram each.
   */
  #scheduleChatFlush(): void {
    this.#chatFlush ??= setImmediate(() => {
      this.#chatFlush = undefined;
      this.#endpoint.contain("a chat flush", () => {
        this.#stepChat({ type: "flush", now: performance.now() });
      });
    });
  }

  #stepChat(event: ChatServerEvent): void {
    for (const action of this.#chat.step(event)) this.#performChat(action);
  }

  #performChat(action: ChatServerAction): void {
    if (action.type === "send") this.#endpoint.send(action.body, action.to);
    else if (action.type === "multicast") this.#endpoint.multicast(action.body);
    else logChatNotice(action.notice);
  }

  #perform(action: CoreAction): void {
    switch (action.type) {
      case "send":
        this.#endpoint.send(action.body, action.to);
        break;
      case "multicast":
        this.#endpoint.multicast(action.body);
        break;
      case "notify":
        if (action.event.type === "leader-changed" && action.event.leader !== null) {
          this.#leaderChanges++;
        }
        logClusterEvent(action.event);
        break;
    }
  }

  #onEnvelope(envelope: Envelope, viaGroup: boolean): void {
    if (!this.#admit(envelope)) return;
    const { sender, body } = envelope;
    this.#noteSender(envelope);
    if (body.kind.startsWith("chat-")) {
      this.#stepChat({ type: "receive", envelope, now: performance.now(), defer: true });
      this.#scheduleChatFlush();
      return;
    }
    if (body.kind !== "discover") {
      this.#step({ type: "receive", envelope, viaGroup, now: performance.now() });
      return;
    }
    const snapshot = this.view();
    const { leader, term, view } = snapshot;
    const rejections = Object.entries(this.#endpoint.stats().rejections).filter(([, n]) => n > 0);
    this.#endpoint.send({
      kind: "discover-reply",
      nonce: body.nonce,
      version: VERSION,
      priority: this.#options.priority,
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      viaGroup,
      leader: leader ?? "",
      term,
      view,
      viewSize: liveMembers(snapshot.members, "server"),
      clients: liveMembers(snapshot.members, "client"),
      rejections: Object.fromEntries(rejections),
      ...(snapshot.split
        ? {
          split: {
            servers: snapshot.split.servers,
            of: snapshot.split.of,
            majority: snapshot.split.majority,
            partition: snapshot.split.partition,
            missing: missingServers(snapshot.split, performance.now()),
          },
        }
        : {}),
    }, sender.addr);
  }

  /** Asks the guard whether an authenticated datagram may reach the cores; logs new offenders. */
  #admit(envelope: Envelope): boolean {
    const { admit, offence } = this.#guard.judge(envelope, performance.now());
    if (offence) {
      log.warn("ignoring {role} {id} at {address} for {seconds} s: {reason} ({detail})", {
        event: "misbehaviour",
        id: offence.id,
        role: envelope.sender.role,
        address: formatAddress(envelope.sender.addr),
        reason: offence.reason,
        detail: offence.detail,
        seconds: this.#options.config.security.coolOffMs / 1000,
      });
    }
    return admit;
  }

  #noteSender({ sender }: Envelope): void {
    if (sender.role !== "server" || this.#heard.has(sender.id)) return;
    // Bounded like the replay guard's senders: an insider inventing ids cannot grow it forever.
    if (this.#heard.size >= this.#options.config.security.replaySenders) return;
    this.#heard.add(sender.id);
    log.info("heard server {id} at {address}", {
      event: "peer-heard",
      id: sender.id,
      address: formatAddress(sender.addr),
      role: sender.role,
    });
  }

  #logListening(): void {
    const transport = this.#endpoint.transport;
    log.info(
      "server {id} listening on {address} ({transport} transport), group {group}:{port} on {interfaces}",
      {
        event: "listening",
        id: this.id,
        address: formatAddress(transport.localAddress),
        transport: transport.kind,
        group: this.#options.config.network.group,
        port: this.#options.config.network.port,
        interfaces: transport.joinedInterfaces.map((i) => i.name),
        priority: this.#options.priority,
      },
    );
    if (this.#endpoint.usesClusterKey) {
      log.warn(
        "no --secret: this cluster is open. Anyone on the LAN can read every line, join as a " +
          "server and become leader (Bully: the highest priority wins) to freeze or divert " +
          "delivery, post under any user name by posing as a server, and forge any message " +
          "between servers; total order, exactly-once and no-loss hold against crashes and lost " +
          "datagrams, not against such a host. Clients take datagrams only from their own " +
          "server and its leader. Secure it in one step: `dsys secret > dsys.key` once, then " +
          "--secret-file dsys.key on every server and client",
        { event: "insecure" },
      );
    }
  }
}

/** Logs one chat event. */
function logChatNotice(notice: ChatNotice): void {
  switch (notice.type) {
    case "client-joined":
      log.info("user {user} joined ({client}{resumed})", {
        event: notice.type,
        user: notice.user,
        client: notice.client,
        resumed: notice.resumed ? ", resumed" : "",
      });
      break;
    case "client-left":
      log.info("user {user} left ({reason})", {
        event: notice.type,
        user: notice.user,
        client: notice.client,
        reason: notice.reason,
      });
      break;
    case "gathering":
      log.info("gathering the chat log before leading (term {term})", {
        event: "chat-gathering",
        term: notice.term,
      });
      break;
    case "leading":
      log.info("leading the chat after seq {last} (committed {commit}, longest log: {source})", {
        event: "chat-leading",
        term: notice.term,
        first: notice.first,
        last: notice.last,
        commit: notice.commit,
        source: notice.source === "" ? "its own" : notice.source,
      });
      break;
    case "log-reset":
      log.warn("chat log restarted at seq {first} (state transfer)", {
        event: "chat-log-reset",
        first: notice.first,
      });
      break;
    case "merged":
      log.warn("merged {appended} chat lines of {source} after the fork at seq {fork}", {
        event: "chat-merged",
        source: notice.source,
        fork: notice.fork,
        appended: notice.appended,
        unknownFork: notice.unknownFork,
      });
      break;
    case "adopted":
      log.warn("chat log adopted the merged log after seq {fork} ({entries} committed moved)", {
        event: "chat-adopted",
        fork: notice.fork,
        entries: notice.entries,
      });
      break;
  }
}

/** Logs one protocol event at a level that fits it. */
function logClusterEvent(event: ClusterEvent): void {
  switch (event.type) {
    case "member-joined":
    case "member-alive-again":
    case "member-left":
      log.info("{role} {id} {change}", {
        event: event.type,
        id: event.member.id,
        role: event.member.role,
        change: event.type.slice("member-".length).replaceAll("-", " "),
      });
      break;
    case "member-suspect":
    case "member-dead":
      log.warn("{role} {id} is {state}", {
        event: event.type,
        id: event.member.id,
        role: event.member.role,
        state: event.member.state,
      });
      break;
    case "leader-changed":
      log.info("leader is {leader} (term {term})", {
        event: event.type,
        leader: event.leader,
        term: event.term,
      });
      break;
    case "view-changed":
      log.debug("view {view}", { event: event.type, view: event.view });
      break;
    case "election-started":
    case "election-won":
      log.info("{what} (term {term})", {
        event: event.type,
        term: event.term,
        what: event.type.replace("-", " "),
      });
      break;
    case "split":
      log.warn("{loss}", {
        event: event.type,
        loss: describeLoss(event.split),
        servers: event.split.servers,
        of: event.split.of,
        majority: event.split.majority,
        partition: event.split.partition,
        missing: missingServers(event.split, performance.now()),
      });
      break;
    case "healed":
      log.info("cluster whole again: {servers} servers{gaveUp}", {
        event: event.type,
        servers: event.servers,
        forgotten: event.forgotten,
        gaveUp: event.forgotten > 0 ? ` (${event.forgotten} lost ones forgotten)` : "",
      });
      break;
  }
}
