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

import type { Config } from "../config/mod.ts";
import { writeSync } from "node:fs";
import { logger } from "../log/mod.ts";
import { Endpoint, type EndpointStats, formatAddress } from "../runtime/endpoint.ts";
import type { SocketTransportKind } from "../transport/select.ts";
import type { Envelope } from "../wire/messages.ts";
import { VERSION } from "../version.ts";
import {
  type ClusterEvent,
  type CoreAction,
  type CoreEvent,
  type CoreStats,
  ServerCore,
  type ViewSnapshot,
} from "./core.ts";
import { formatViewTable, summarizeView } from "./status.ts";

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
}

/** A running dsys server. */
export class Server {
  readonly #endpoint: Endpoint;
  readonly #core: ServerCore;
  readonly #options: ServerOptions;
  readonly #startedAt = performance.now();
  readonly #heard = new Set<string>();
  #timer?: ReturnType<typeof setInterval>;
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
  }

  /** Opens the sockets, starts discovery and the protocol's clock. */
  static async start(options: ServerOptions): Promise<Server> {
    const endpoint = await Endpoint.open({
      config: options.config,
      role: "server",
      joinGroup: true,
      unicastPort: options.config.network.unicastPort,
      id: options.id,
      transportKind: options.transportKind,
    });
    const server = new Server(endpoint, options);
    server.#logListening();
    endpoint.onEnvelope((envelope, viaGroup) => server.#onEnvelope(envelope, viaGroup));
    server.#step({ type: "start", now: performance.now() });
    server.#timer = setInterval(
      () => server.#step({ type: "tick", now: performance.now() }),
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
    return this.#core.view();
  }

  /** Counters. */
  stats(): ServerStats {
    return { ...this.#endpoint.stats(), protocol: this.#core.stats() };
  }

  /** Announces that this server leaves, closes the sockets and logs the final counters. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#statusTimer);
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
    const view = this.#core.view();
    log.info("status: {summary}", {
      event: "status",
      summary: summarizeView(view),
      view: view.view,
      leader: view.leader,
      term: view.term,
      members: view.members,
    });
    if (this.#options.statusTable) writeSync(2, formatViewTable(view));
  }

  #step(event: CoreEvent): void {
    for (const action of this.#core.step(event)) this.#perform(action);
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
        logClusterEvent(action.event);
        break;
    }
  }

  #onEnvelope(envelope: Envelope, viaGroup: boolean): void {
    const { sender, body } = envelope;
    this.#noteSender(envelope);
    if (body.kind !== "discover") {
      this.#step({ type: "receive", envelope, viaGroup, now: performance.now() });
      return;
    }
    const { leader, term, view } = this.#core.view();
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
    }, sender.addr);
  }

  #noteSender({ sender }: Envelope): void {
    if (sender.role !== "server" || this.#heard.has(sender.id)) return;
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
        "no --secret given: traffic is authenticated only with a key derived from the cluster " +
          "name; anyone on the LAN can join",
        { event: "insecure" },
      );
    }
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
  }
}
