/**
 * An in-process network for tests that need transports but no sockets.
 *
 * {@linkcode MemoryNetwork} hands out {@linkcode MemoryTransport}s that deliver unicast by
 * address and group datagrams to every transport that joined the group, always asynchronously
 * (in a later macrotask, as a socket would), with UDP's manners: nothing bound at an address
 * means the datagram is silently lost. Faults come from wrapping a transport with
 * `faulty_transport.ts`. Nothing here touches the operating system's network.
 *
 * @module
 */

import { TransportCounters } from "./counters.ts";
import { dispatchDatagram } from "./errors.ts";
import {
  type Address,
  type InterfaceInfo,
  type ReceiveHandler,
  type Transport,
  TransportError,
  type TransportStats,
} from "./types.ts";

/** How to open a {@linkcode MemoryTransport}; any full {@linkcode TransportOptions} also fits. */
export interface MemoryTransportOptions {
  /** Multicast group address. */
  group: string;
  /** Multicast group port. */
  port: number;
  /** Whether to join the group (servers do); default false. */
  joinGroup?: boolean;
  /** Unicast port; 0 or absent picks a free one. */
  unicastPort?: number;
  /** Whether group datagrams reach transports on the sender's own host; default true. */
  multicastLoopback?: boolean;
  /** Largest datagram sent or received (bytes); default 65507. */
  maxDatagramBytes?: number;
  /** Interfaces; the first one's address is the host, unless `host` is given. */
  interfaces?: InterfaceInfo[];
  /** The simulated host address; default the first interface's, else 127.0.0.1. */
  host?: string;
}

const FIRST_EPHEMERAL_PORT = 49152;
const UDP_MAX_PAYLOAD = 65507;

/**
 * A simulated LAN segment shared by the transports it opens.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory_transport.ts";
 * const net = new MemoryNetwork();
 * const a = net.open({ group: "239.255.0.1", port: 7400, joinGroup: true });
 * const b = net.open({ group: "239.255.0.1", port: 7400, host: "10.0.0.2" });
 * b.send(new Uint8Array([1]), a.localAddress);
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export class MemoryNetwork {
  readonly #bound = new Map<string, MemoryTransport>();
  readonly #nextPort = new Map<string, number>();

  /** Opens a transport; throws a {@linkcode TransportError} when its unicast port is taken. */
  open(options: MemoryTransportOptions): MemoryTransport {
    const host = options.host ?? options.interfaces?.[0]?.address ?? "127.0.0.1";
    const port = options.unicastPort ? options.unicastPort : this.#freePort(host);
    const key = addressKey(host, port);
    if (this.#bound.has(key)) throw new TransportError(`UDP port ${port} is already in use`);
    const transport = new MemoryTransport(this, { host, port }, options);
    this.#bound.set(key, transport);
    return transport;
  }

  #freePort(host: string): number {
    let port = this.#nextPort.get(host) ?? FIRST_EPHEMERAL_PORT;
    while (this.#bound.has(addressKey(host, port))) {
      port = port >= 65535 ? FIRST_EPHEMERAL_PORT : port + 1;
    }
    this.#nextPort.set(host, port >= 65535 ? FIRST_EPHEMERAL_PORT : port + 1);
    return port;
  }

  /** Hands a copy of `data` to whoever is bound at `to`; lost when nobody is. */
  deliverUnicast(data: Uint8Array, from: Address, to: Address): void {
    this.#bound.get(addressKey(to.host, to.port))?.enqueue(data, from, false);
  }

  /** Hands a copy of `data` to every transport that joined `group:port`. */
  deliverToGroup(
    data: Uint8Array,
    from: Address,
    group: string,
    port: number,
    loopback: boolean,
  ): void {
    for (const member of this.#bound.values()) {
      if (!member.isMemberOf(group, port)) continue;
      if (!loopback && member.localAddress.host === from.host) continue;
      member.enqueue(data, from, true);
    }
  }

  /** Frees the address of a closed transport. */
  release(transport: MemoryTransport): void {
    const key = addressKey(transport.localAddress.host, transport.localAddress.port);
    if (this.#bound.get(key) === transport) this.#bound.delete(key);
  }
}

function addressKey(host: string, port: number): string {
  return `${host}:${port}`;
}

/** A transport on a {@linkcode MemoryNetwork}; open it with {@linkcode MemoryNetwork.open}. */
export class MemoryTransport implements Transport {
  /** Always "memory". */
  readonly kind = "memory";
  /** The simulated unicast address. */
  readonly localAddress: Address;
  /** The simulated interfaces the group was joined on (empty unless `joinGroup`). */
  readonly joinedInterfaces: readonly InterfaceInfo[];
  readonly #network: MemoryNetwork;
  readonly #group: string;
  readonly #port: number;
  readonly #joined: boolean;
  readonly #loopback: boolean;
  readonly #maxBytes: number;
  readonly #counters = new TransportCounters();
  #inbox: { data: Uint8Array; from: Address; viaGroup: boolean }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #handler: ReceiveHandler | undefined;
  #closed = false;

  /** Used by {@linkcode MemoryNetwork.open}; not meant to be called directly. */
  constructor(network: MemoryNetwork, address: Address, options: MemoryTransportOptions) {
    this.#network = network;
    this.localAddress = address;
    this.#group = options.group;
    this.#port = options.port;
    this.#joined = options.joinGroup ?? false;
    this.#loopback = options.multicastLoopback ?? true;
    this.#maxBytes = options.maxDatagramBytes ?? UDP_MAX_PAYLOAD;
    const interfaces = options.interfaces ?? [
      { name: "memory", address: address.host, internal: false },
    ];
    this.joinedInterfaces = this.#joined ? interfaces.map((i) => ({ ...i })) : [];
  }

  /** True when this transport is open and joined `group:port`. */
  isMemberOf(group: string, port: number): boolean {
    return !this.#closed && this.#joined && this.#group === group && this.#port === port;
  }

  /** Queues a copy of a datagram for delivery in a later macrotask. */
  enqueue(data: Uint8Array, from: Address, viaGroup: boolean): void {
    if (this.#closed || data.byteLength > this.#maxBytes) return;
    this.#inbox.push({ data: new Uint8Array(data), from: { ...from }, viaGroup });
    this.#timer ??= setTimeout(() => this.#drain(), 0);
  }

  #drain(): void {
    this.#timer = undefined;
    // Only what was queued before this turn: replies sent by handlers go in a later one.
    const batch = this.#inbox;
    this.#inbox = [];
    for (const { data, from, viaGroup } of batch) {
      if (this.#closed) return;
      this.#counters.received(data.byteLength);
      dispatchDatagram(this.#handler, data, from, viaGroup);
    }
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(data: Uint8Array, to: Address): void {
    if (!this.#accepts(data)) return;
    this.#network.deliverUnicast(data, this.localAddress, to);
  }

  sendToGroup(data: Uint8Array): void {
    if (!this.#accepts(data)) return;
    this.#network.deliverToGroup(data, this.localAddress, this.#group, this.#port, this.#loopback);
  }

  #accepts(data: Uint8Array): boolean {
    if (this.#closed || data.byteLength > this.#maxBytes) {
      this.#counters.sendError();
      return false;
    }
    this.#counters.sent(data.byteLength);
    return true;
  }

  stats(): TransportStats {
    return this.#counters.snapshot();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#inbox = [];
      this.#network.release(this);
    }
    return Promise.resolve();
  }
}
