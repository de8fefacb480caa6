/**
 * The server shell (`Server`): the thin shell that gives the server node
 * ({@linkcode ServerNode}) its transport (sockets, or the one it is given), its clocks and its
 * logs. It feeds the node every authenticated datagram, a tick with the monotonic and the
 * wall-clock time, and a `flush` once the datagrams already read have been handled; it performs
 * the actions the node returns and logs what happens.
 *
 * Protocol decisions, the guard, the answer to `discover` and the wiring of the cores live in
 * the node (`node.ts`), which the simulators drive too; this layer only does I/O and time.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { writeSync } from "node:fs";
import type { GuardStats, Offence } from "../guard/tracker.ts";
import { logger } from "../log/mod.ts";
import {
  Endpoint,
  type EndpointOptions,
  type EndpointStats,
  formatAddress,
} from "../net/endpoint.ts";
import {
  type DiscoverDisk,
  type DiscoverSplit,
  type Envelope,
  MAX_DISK_DIR_CHARS,
  type Sender,
} from "../wire/messages.ts";
import { VERSION } from "../version.ts";
import type { ClusterEvent, CoreStats, MemberView, ViewSnapshot } from "../membership/core.ts";
import { describeLoss, formatViewTable, missingServers, summarizeView } from "./status.ts";
import type { ChatNotice, ChatServerStatus } from "../chat/chat_server_core.ts";
import { type NodeAction, type NodeEvent, SERVER_SKIPS, ServerNode } from "./node.ts";
import type { ChatDisk, ChatDiskInfo } from "./chat_disk.ts";
import type { RestoredLog } from "../chat/journal.ts";
import { LivenessListener, LivenessWatcher } from "../transport/liveness.ts";
import { DueTimer } from "../util/due_timer.ts";
import { ProcessMonitor, type ProcessReport } from "./process_stats.ts";

const log = logger("server");

/**
 * How to start a server; `transport` runs it without sockets, `openSockets` opens them (see
 * {@linkcode EndpointOptions}).
 */
export interface ServerOptions extends Pick<EndpointOptions, "transport" | "openSockets"> {
  /** The resolved configuration. */
  config: Config;
  /** Bully priority (higher wins). */
  priority: number;
  /** Node id; default `<address>:<unicast port>`. */
  id?: string;
  /** Print the status table as text on the standard error (false: only the JSON log event). */
  statusTable?: boolean;
  /**
   * Keeps the chat log on the disk: called with the server's id once it is known, returns the
   * opened disk log and what it read back (memory only without it).
   */
  disk?: (id: string) => { disk: ChatDisk; restored: RestoredLog };
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
    /** Transport implementation (`deno` or `node`; `memory` in tests). */
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
  /** The chat log on the disk (absent for a memory-only server). */
  storage?: ChatDiskInfo;
  /** The process itself: CPU, memory, event-loop lag, GC pauses (absent in hand-made reports). */
  process?: ProcessReport;
  /** Counters since the server started. */
  counters: ServerStats & {
    /** Times this server began following a new leader (its first one included). */
    leaderChanges: number;
  };
}

/** A running dsys server. */
export class Server {
  readonly #endpoint: Endpoint;
  readonly #node: ServerNode;
  readonly #options: ServerOptions;
  readonly #startedAt = performance.now();
  readonly #disk: ChatDisk | undefined;
  readonly #clock: DueTimer;
  readonly #process = new ProcessMonitor();
  /** Liveness connections to the other servers, and the listener theirs reach (sockets only). */
  #watcher?: LivenessWatcher;
  #listener?: LivenessListener;
  /** The view number whose servers the watcher watches. */
  #watchedView = -1;
  #chatFlush?: ReturnType<typeof setImmediate>;
  #statusTimer?: ReturnType<typeof setInterval>;
  /** Unicast-only: the view number whose servers the endpoint sends group datagrams to. */
  #fanoutView = -1;

  private constructor(
    endpoint: Endpoint,
    options: ServerOptions,
    stored?: { disk: ChatDisk; restored: RestoredLog },
  ) {
    this.#endpoint = endpoint;
    this.#options = options;
    this.#disk = stored?.disk;
    const { config } = options;
    this.#node = new ServerNode({
      self: endpoint.self,
      priority: options.priority,
      // Unicast-only, the leader's multicast to clients would be one unicast per client anyway:
      // each server sends its own clients their lines instead.
      config: endpoint.unicastOnly
        ? { ...config, chat: { ...config.chat, streamToClients: false } }
        : config,
      seeds: [...endpoint.peers],
      version: VERSION,
      rejections: () => endpoint.stats().rejections,
      disk: stored ? () => discoverDisk(stored.disk.info()) : undefined,
      persist: stored !== undefined,
      restored: stored?.restored,
    });
    stored?.disk.onFlushed((id) =>
      endpoint.contain("a flushed chat log", () => {
        this.#step({ type: "persisted", id, now: performance.now() });
      })
    );
    this.#clock = new DueTimer(
      () => this.#tick(),
      config.timing.tickIntervalMs,
      config.timing.heartbeatIntervalMs,
      (ms) => this.#process.lag.record(ms),
    );
  }

  /** Opens the transport, starts discovery and the protocol's clock. */
  static async start(options: ServerOptions): Promise<Server> {
    const endpoint = await Endpoint.open({
      config: options.config,
      role: "server",
      joinGroup: true,
      skipKinds: SERVER_SKIPS,
      unicastPort: options.config.network.unicastPort,
      id: options.id,
      transport: options.transport,
      openSockets: options.openSockets,
    });
    let stored: { disk: ChatDisk; restored: RestoredLog } | undefined;
    try {
      stored = options.disk?.(endpoint.self.id);
    } catch (error) {
      await endpoint.close();
      throw error;
    }
    const server = new Server(endpoint, options, stored);
    if (!options.transport) {
      const { network, timing } = options.config;
      try {
        server.#listener = await LivenessListener.open(
          endpoint.self.addr.port,
          network.livenessConnections,
        );
      } catch (error) {
        await stored?.disk.close();
        await endpoint.close();
        throw error;
      }
      server.#watcher = new LivenessWatcher(
        (addr) =>
          endpoint.contain(
            "a closed liveness connection",
            () => server.#step({ type: "peer-closed", addr, now: performance.now() }),
          ),
        timing.livenessRetryMs,
      );
    }
    server.#logListening();
    endpoint.onEnvelope((envelope, viaGroup) => server.#onEnvelope(envelope, viaGroup));
    server.#step({ type: "start", now: performance.now(), wall: Date.now() });
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
    return this.#node.view();
  }

  /** Counters. */
  stats(): ServerStats {
    const { leaderChanges: _, ...node } = this.#node.stats(performance.now());
    return { ...this.#endpoint.stats(), ...node };
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
      ...(this.#disk ? { storage: this.#disk.info() } : {}),
      process: this.#process.report(),
      counters: { ...this.#endpoint.stats(), ...this.#node.stats(performance.now()) },
    };
  }

  /** Announces that this server leaves, closes the sockets and logs the final counters. */
  async stop(): Promise<void> {
    this.#clock.stop();
    this.#process.stop();
    clearInterval(this.#statusTimer);
    clearImmediate(this.#chatFlush);
    this.#step({ type: "stop", now: performance.now() });
    const stats = this.stats();
    await Promise.all([this.#watcher?.close(), this.#listener?.close()]);
    await this.#endpoint.close();
    await this.#disk?.close();
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
      chat: this.#node.chat.status(),
    });
    if (this.#options.statusTable) writeSync(2, formatViewTable(view));
  }

  #onEnvelope(envelope: Envelope, viaGroup: boolean): void {
    this.#step({ type: "receive", envelope, viaGroup, now: performance.now() });
  }

  #tick(): void {
    try {
      this.#endpoint.contain(
        "a tick",
        () => this.#step({ type: "tick", now: performance.now(), wall: Date.now() }),
      );
    } finally {
      this.#clock.schedule(this.#node.dueAt(), performance.now());
    }
  }

  #step(event: NodeEvent): void {
    for (const action of this.#node.step(event)) this.#perform(action);
    const view = this.#node.viewNumber;
    if (this.#endpoint.unicastOnly && view !== this.#fanoutView) {
      this.#fanoutView = view;
      this.#endpoint.setFanout(this.#node.serverAddresses());
    }
    if (this.#watcher && view !== this.#watchedView) {
      this.#watchedView = view;
      this.#watcher.watch(this.#node.serverAddresses());
    }
    this.#clock.schedule(this.#node.dueAt(), performance.now());
  }

  #perform(action: NodeAction): void {
    switch (action.type) {
      case "send":
        this.#endpoint.send(action.body, action.to);
        break;
      case "multicast":
        this.#endpoint.multicast(action.body);
        break;
      case "notify":
        logClusterEvent(action.event);
        break;
      case "chat-notice":
        logChatNotice(action.notice);
        break;
      case "persist":
        this.#disk?.write(action.id, action.ops);
        break;
      case "offence":
        this.#logOffence(action.offence, action.sender);
        break;
      case "peer-heard":
        log.info("heard server {id} at {address}", {
          event: "peer-heard",
          id: action.sender.id,
          address: formatAddress(action.sender.addr),
          role: action.sender.role,
        });
        break;
      case "flush-soon":
        // `setImmediate` runs after the poll phase: the datagrams already read are handled first.
        this.#chatFlush ??= setImmediate(() => {
          this.#chatFlush = undefined;
          this.#endpoint.contain("a chat flush", () => {
            this.#step({ type: "flush", now: performance.now() });
          });
        });
        break;
    }
  }

  #logOffence(offence: Offence, sender: Sender): void {
    log.warn("ignoring {role} {id} at {address} for {seconds} s: {reason} ({detail})", {
      event: "misbehaviour",
      id: offence.id,
      role: sender.role,
      address: formatAddress(sender.addr),
      reason: offence.reason,
      detail: offence.detail,
      seconds: this.#options.config.security.coolOffMs / 1000,
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

/** The chat log on the disk as a discover reply carries it (whole numbers, a bounded path). */
function discoverDisk(info: ChatDiskInfo): DiscoverDisk {
  return {
    dir: info.dir.slice(-MAX_DISK_DIR_CHARS),
    bytes: info.bytes,
    oldestSeq: info.oldestSeq,
    oldestTs: Math.round(info.oldestTs),
    lastFlushAt: Math.round(info.lastFlushAt),
    flushUs: Math.round(info.lastFlushMs * 1000),
    ...(info.failing ? { failing: info.failing.slice(0, 32) } : {}),
  };
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
      log.info(
        event.leader === null ? "no leader (term {term})" : "leader is {leader} (term {term})",
        {
          event: event.type,
          leader: event.leader,
          term: event.term,
        },
      );
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
