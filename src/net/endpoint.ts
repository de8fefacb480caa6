/**
 * An endpoint: one process's presence on the network — its transport, its identity and its
 * codec — shared by servers, chat clients and probes.
 *
 * It opens the sockets on the chosen interfaces — or takes the transport it is given, and then
 * opens no socket and picks no interface — passes every datagram through its gate
 * (`../wire/gate.ts`: sealing, receiver binding, verification, replay window), reports rejected
 * ones, and hands valid envelopes to its handlers. It knows nothing of what the messages mean.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { parseHostPort } from "../config/mod.ts";
import { logger } from "../log/mod.ts";
import { chooseInterfaces, listInterfaces } from "../transport/interfaces.ts";
import { openTransport } from "../transport/select.ts";
import {
  type Address,
  type SocketOpener,
  type Transport,
  TransportError,
  type TransportFactory,
  type TransportRequest,
  type TransportStats,
} from "../transport/types.ts";
import { WireGate } from "../wire/gate.ts";
import type { Body, Envelope, Kind, Role, Sender } from "../wire/messages.ts";
import type { RejectReason } from "../wire/rejections.ts";

const log = logger("net");

/** How to open an {@linkcode Endpoint}. */
export interface EndpointOptions {
  /** The resolved configuration. */
  config: Config;
  /** What this process is. */
  role: Role;
  /** Servers join the multicast group; clients and probes only send to it. */
  joinGroup: boolean;
  /** Unicast port to bind (0: any). */
  unicastPort: number;
  /** Node id; default `<address>:<port>` of the unicast socket. */
  id?: string;
  /**
   * The transport to use instead of sockets (a `MemoryNetwork`, say): the endpoint then opens no
   * socket, picks no interface and never runs unicast-only. Default: sockets.
   */
  transport?: TransportFactory;
  /** Opens the sockets on the chosen interfaces (default: `openTransport`, the runtime's best). */
  openSockets?: SocketOpener;
  /** Kinds this process never handles: dropped by their header, before they are authenticated. */
  skipKinds?: readonly Kind[];
}

/**
 * Called for every authenticated datagram; `viaGroup` tells whether it came by multicast. The
 * envelope's reply address is the host the datagram came from, at the port it names.
 */
export type EnvelopeHandler = (envelope: Envelope, viaGroup: boolean) => void;

/** Counters of an endpoint: the transport's plus rejections by reason. */
export interface EndpointStats extends TransportStats {
  /** Rejected datagrams by reason. */
  rejections: Record<RejectReason, number>;
  /** Datagrams, ticks and flushes whose handling threw (dropped; the process ran on). */
  handlerErrors: number;
}

/** Least time between two log lines about handlers that threw (ms): one per datagram would flood. */
const HANDLER_ERROR_LOG_MS = 60_000;

/** A process's signed, verified presence on the network. */
export class Endpoint {
  readonly #transport: Transport;
  readonly #gate: WireGate;
  readonly #peers: Address[];
  /** Unicast-only: where group datagrams go instead, by `host:port`. */
  readonly #fanout = new Map<string, Address>();
  /** True when no interface carries multicast and `--peers` were given (see `chooseInterfaces`). */
  readonly unicastOnly: boolean;
  readonly #warned = new Set<string>();
  readonly #handlers = new Set<EnvelopeHandler>();
  #handlerErrors = 0;
  #handlerErrorsLogged = 0;
  #handlerErrorLoggedAt = -Infinity;

  /** Who this endpoint is, as carried in every datagram it sends. */
  readonly self: Sender;
  /** True when no secret was given: the key comes from the cluster name and nothing is encrypted. */
  readonly usesClusterKey: boolean;

  private constructor(
    transport: Transport,
    self: Sender,
    options: EndpointOptions,
    unicastOnly: boolean,
  ) {
    this.#transport = transport;
    this.self = self;
    this.unicastOnly = unicastOnly;
    const { network, security } = options.config;
    this.#gate = WireGate.forProcess({ self, network, security, skipKinds: options.skipKinds });
    this.#peers = network.peers.map((p) => parseHostPort(p, "network.peers"));
    this.setFanout([]);
    this.usesClusterKey = security.secrets.length === 0;
    transport.onReceive((data, from, viaGroup) => this.#receive(data, from, viaGroup));
  }

  /**
   * Opens an endpoint joined to the multicast group, or — when the group cannot be joined here
   * (no multicast interface, its port held by a program that does not share it) — one without,
   * with the reason. Throws `ConfigError`, or `TransportError` when even unicast fails.
   */
  static async openJoiningIfPossible(
    options: Omit<EndpointOptions, "joinGroup">,
  ): Promise<{ endpoint: Endpoint; groupError?: TransportError }> {
    try {
      return { endpoint: await Endpoint.open({ ...options, joinGroup: true }) };
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      return { endpoint: await Endpoint.open({ ...options, joinGroup: false }), groupError: error };
    }
  }

  /**
   * Opens the transport — the one given, else sockets — and returns a ready endpoint. Throws
   * `TransportError` or `ConfigError`.
   */
  static async open(options: EndpointOptions): Promise<Endpoint> {
    const { network } = options.config;
    const request: TransportRequest = {
      group: network.group,
      port: network.port,
      unicastPort: options.unicastPort,
      joinGroup: options.joinGroup,
      multicastTtl: network.multicastTtl,
      multicastLoopback: network.multicastLoopback,
      receiveBufferBytes: network.receiveBufferBytes,
      maxDatagramBytes: network.maxDatagramBytes,
    };
    const { transport, unicastOnly } = options.transport
      ? { transport: await options.transport(request), unicastOnly: false }
      : await openSockets(request, options);
    const addr = transport.localAddress;
    const self: Sender = {
      id: options.id ?? `${addr.host}:${addr.port}`,
      incarnation: Date.now(),
      role: options.role,
      addr,
    };
    return new Endpoint(transport, self, options, unicastOnly);
  }

  /** The transport underneath (its kind and joined interfaces are worth logging). */
  get transport(): Transport {
    return this.#transport;
  }

  /** Unicast seeds from `--peers`. */
  get peers(): readonly Address[] {
    return this.#peers;
  }

  /** Adds a handler for authenticated envelopes; returns the function that removes it. */
  onEnvelope(handler: EnvelopeHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /**
   * Seals and sends a body to one address, bound to the id last heard from that address (to
   * nobody in particular when none was heard yet, as for a `--peers` seed).
   */
  send(body: Body, to: Address): void {
    this.#transport.send(this.#gate.seal(body, Date.now(), to), to);
  }

  /**
   * Seals and sends a body to the multicast group; unicast-only, to every seed and every server
   * address given to {@linkcode Endpoint.setFanout} instead, bound to no receiver as on the group.
   */
  multicast(body: Body): void {
    const data = this.#gate.seal(body, Date.now());
    if (!this.unicastOnly) return this.#transport.sendToGroup(data);
    for (const to of this.#fanout.values()) this.#transport.send(data, to);
  }

  /** Seals and sends a body, bound to no receiver, to the group and to every unicast seed. */
  broadcast(body: Body): void {
    const data = this.#gate.seal(body, Date.now());
    if (!this.unicastOnly) this.#transport.sendToGroup(data);
    const sent = new Set<string>();
    for (const to of [...this.#peers, ...this.#fanout.values()]) {
      const key = formatAddress(to);
      if (sent.has(key)) continue;
      sent.add(key);
      this.#transport.send(data, to);
    }
  }

  /**
   * Unicast-only: the servers to send what would go to the group (the seeds are always among
   * them); ignored otherwise.
   */
  setFanout(addresses: readonly Address[]): void {
    this.#fanout.clear();
    for (const to of [...this.#peers, ...addresses]) this.#fanout.set(formatAddress(to), to);
  }

  /** A snapshot of the counters. */
  stats(): EndpointStats {
    return {
      ...this.#transport.stats(),
      rejections: this.#gate.rejections.snapshot(),
      handlerErrors: this.#handlerErrors,
    };
  }

  /**
   * Runs `work` — the protocol's handling of a tick or a flush — and contains a throw: it is
   * counted in `handlerErrors` and logged at most once a minute, and the process runs on. Every
   * received datagram's handlers run this way too (the datagram is dropped).
   */
  contain(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#handlerFailed(what, error);
    }
  }

  /** Closes the sockets. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  #receive(data: Uint8Array, from: Address, viaGroup: boolean): void {
    const opened = this.#gate.open(data, Date.now(), from);
    if (!opened.ok) {
      if (opened.reason !== undefined) this.#reportRejection(opened.reason, from);
      return;
    }
    const { envelope } = opened;
    for (const handler of this.#handlers) {
      try {
        handler(envelope, viaGroup);
      } catch (error) {
        this.#handlerFailed(`a ${envelope.body.kind} datagram from ${envelope.sender.id}`, error);
      }
    }
  }

  #handlerFailed(what: string, error: unknown): void {
    this.#handlerErrors++;
    const now = performance.now();
    if (now - this.#handlerErrorLoggedAt < HANDLER_ERROR_LOG_MS) return;
    log.error("handling {what} failed, dropped it ({count} so far): {error}", {
      event: "handler-error",
      what,
      count: this.#handlerErrors,
      since: this.#handlerErrors - this.#handlerErrorsLogged,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    this.#handlerErrorLoggedAt = now;
    this.#handlerErrorsLogged = this.#handlerErrors;
  }

  #reportRejection(reason: RejectReason, from: Address): void {
    const key = `${from.host}/${reason}`;
    if (this.#warned.has(key) || this.#warned.size >= MAX_WARNED) {
      log.debug("rejected a datagram from {from}: {reason}", { from: formatAddress(from), reason });
      return;
    }
    this.#warned.add(key);
    log.warn("rejected a datagram from {from}: {reason}{hint}", {
      event: "rejected",
      from: formatAddress(from),
      reason,
      hint: REJECTION_HINTS[reason] ?? "",
    });
  }
}

/**
 * The socket path of {@linkcode Endpoint.open}: chooses the interfaces (unicast-only when none
 * carries multicast and `--peers` were given) and opens the sockets on them.
 */
async function openSockets(
  request: TransportRequest,
  options: EndpointOptions,
): Promise<{ transport: Transport; unicastOnly: boolean }> {
  const { network } = options.config;
  const plan = chooseInterfaces(listInterfaces(), network.iface, network.peers.length > 0);
  const interfaces = plan.choices;
  const transport = await (options.openSockets ?? openTransport)({
    ...request,
    joinGroup: request.joinGroup && !plan.unicastOnly,
    interfaces: interfaces.map((choice) => choice.iface),
  });
  for (const choice of interfaces) {
    log.debug("interface {name} ({address}): {reason}", {
      name: choice.iface.name,
      address: choice.iface.address,
      reason: choice.reason,
    });
  }
  if (plan.unicastOnly) {
    log.info("no multicast here: unicast to --peers and the servers heard from only", {
      event: "unicast-only",
      interfaces: interfaces.map((choice) => choice.iface.name),
    });
  }
  return { transport, unicastOnly: plan.unicastOnly };
}

/** Distinct (host, reason) pairs warned about before further rejections are only counted. */
const MAX_WARNED = 256;

const REJECTION_HINTS: Partial<Record<RejectReason, string>> = {
  "unknown-key": " (does it use another --secret?)",
  "wrong-cluster": " (another --cluster on this group and port)",
  "bad-version": " (another dsys version)",
  "too-old": " (replayed, or its clock is far off)",
  "bad-tag": " (corrupted or forged on the way)",
  "misdirected": " (a unicast datagram meant for another process: replayed, or a stale address)",
};

/** Formats an address as `host:port`. */
export function formatAddress(address: Address): string {
  return `${address.host}:${address.port}`;
}
