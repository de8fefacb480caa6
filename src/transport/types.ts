/**
 * The transport contract: how the runtime sends and receives datagrams, whatever the socket API.
 *
 * Implementations: `deno_transport.ts` (Deno's native `Deno.listenDatagram`), `node_transport.ts`
 * (`node:dgram`), `memory_transport.ts` (in-process, for tests) and `faulty_transport.ts` (a
 * fault-injecting wrapper around any of them). Transports know nothing of the wire format.
 *
 * @module
 */

/** A UDP endpoint. */
export interface Address {
  /** IPv4 address or host name. */
  host: string;
  /** UDP port. */
  port: number;
}

/** An IPv4 interface as seen by dsys. */
export interface InterfaceInfo {
  /** Interface name, e.g. `eth0`. */
  name: string;
  /** Its IPv4 address. */
  address: string;
  /** True for the loopback interface. */
  internal: boolean;
}

/**
 * Called for every datagram received. `data` is only valid during the call; `viaGroup` is true
 * when it arrived on the group socket (multicast), false when it came by unicast — `dsys probe`
 * uses it to tell a network that blocks multicast.
 */
export type ReceiveHandler = (data: Uint8Array, from: Address, viaGroup: boolean) => void;

/** Counters every transport keeps. */
export interface TransportStats {
  /** Datagrams handed to the socket. */
  sentDatagrams: number;
  /** Bytes handed to the socket. */
  sentBytes: number;
  /** Datagrams received. */
  receivedDatagrams: number;
  /** Bytes received. */
  receivedBytes: number;
  /** Sends that the socket refused (unreachable, too large, closed). */
  sendErrors: number;
}

/** Which socket implementation a transport uses. */
export type TransportKind = "deno" | "node" | "memory";

/**
 * What a runtime asks of the transport it opens: the group, the ports and the limits from its
 * configuration (everything but the interfaces, which only sockets need).
 */
export interface TransportRequest {
  /** Multicast group address. */
  group: string;
  /** Multicast group port. */
  port: number;
  /** Unicast port to bind; 0 for any free port. */
  unicastPort: number;
  /** Whether to bind the group port and join the group (servers do; clients and probes do not). */
  joinGroup: boolean;
  /** Multicast TTL. */
  multicastTtl: number;
  /** Whether multicast loops back to this host. */
  multicastLoopback: boolean;
  /** Receive buffer to request (bytes); `node:dgram` under Node only. */
  receiveBufferBytes: number;
  /** Largest datagram to receive (bytes). */
  maxDatagramBytes: number;
}

/** What a transport needs to open its sockets: the request and the interfaces chosen for it. */
export interface TransportOptions extends TransportRequest {
  /** Interfaces to join the group on; the first one also carries outgoing multicast. */
  interfaces: InterfaceInfo[];
}

/**
 * Opens the transport a runtime uses instead of sockets (memberlist's `Config.Transport`): a
 * `MemoryNetwork`, say, or one wrapped in faults. A factory rather than a transport, because a
 * runtime that cannot join the group asks again without. The runtime closes what it returns.
 */
export type TransportFactory = (request: TransportRequest) => Promise<Transport>;

/**
 * Opens the sockets on the interfaces a runtime chose (`openTransport` is one); the CLI's also
 * picks the socket API and wraps the sockets in faults. The runtime closes what it returns.
 */
export type SocketOpener = (options: TransportOptions) => Promise<Transport>;

/** Sends and receives datagrams, unicast and to the multicast group. */
export interface Transport {
  /** Which implementation this is. */
  readonly kind: TransportKind;
  /** The unicast address others reply to (bound port; host is the first interface's address). */
  readonly localAddress: Address;
  /** Interfaces on which the group was joined (empty when `joinGroup` is false). */
  readonly joinedInterfaces: readonly InterfaceInfo[];
  /** Registers the receive handler (one per transport; a later call replaces it). */
  onReceive(handler: ReceiveHandler): void;
  /** Sends one datagram to a unicast address. Never throws; failures are counted. */
  send(data: Uint8Array, to: Address): void;
  /** Sends one datagram to the multicast group. Never throws; failures are counted. */
  sendToGroup(data: Uint8Array): void;
  /** A snapshot of the counters. */
  stats(): TransportStats;
  /** Closes every socket; the transport delivers nothing afterwards. */
  close(): Promise<void>;
}

/** Thrown when a transport cannot open (port in use, no such interface, no multicast). */
export class TransportError extends Error {
  /** Creates an error with a message fit to show a user. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportError";
  }
}
