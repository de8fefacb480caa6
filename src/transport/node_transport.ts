/**
 * The `node:dgram` transport: runs under Node and under Deno's Node compatibility layer.
 *
 * Servers get a group socket (bound `0.0.0.0:port`, shared with other processes, joined to the
 * group on every chosen interface) and a unicast socket; clients and probes get the unicast socket
 * only. Multicast leaves through the unicast socket, with its outgoing interface, TTL and loopback
 * set explicitly, so that replies come back to the unicast port. This module knows nothing of the
 * wire format and never picks interfaces itself.
 *
 * @module
 */

import dgram from "node:dgram";
import { closeDgramSocket, TransportCounters } from "./counters.ts";
import {
  bindError,
  dispatchDatagram,
  joinError,
  multicastSetupError,
  requireInterface,
} from "./errors.ts";
import type {
  Address,
  InterfaceInfo,
  ReceiveHandler,
  Transport,
  TransportOptions,
  TransportStats,
} from "./types.ts";

/**
 * Opens a `node:dgram` transport; rejects with a {@linkcode TransportError} when a port is taken,
 * an interface cannot join the group or multicast cannot be sent on the first interface.
 *
 * Data handed to `send`/`sendToGroup` must not be modified afterwards: the socket sends it later.
 */
export async function openNodeTransport(options: TransportOptions): Promise<Transport> {
  const outgoing = requireInterface(options.interfaces);
  const unicast = await bindSocket(options.unicastPort, false, "unicast");
  let group: dgram.Socket | undefined;
  try {
    setUpMulticastSending(unicast, outgoing, options);
    if (options.joinGroup) {
      group = await bindSocket(options.port, true, `multicast group ${options.group}`);
      for (const iface of options.interfaces) {
        try {
          group.addMembership(options.group, iface.address);
        } catch (error) {
          throw joinError(error, options.group, iface);
        }
      }
    }
    // Under Deno's node:dgram a large buffer collapses throughput to a few thousand datagrams
    // a second (measured: it allocates the whole buffer per datagram), so only Node gets one.
    if (!("Deno" in globalThis)) {
      enlargeReceiveBuffer(unicast, options.receiveBufferBytes);
      if (group) enlargeReceiveBuffer(group, options.receiveBufferBytes);
    }
  } catch (error) {
    await Promise.all([closeDgramSocket(unicast), group && closeDgramSocket(group)]);
    throw error;
  }
  return new NodeTransport(options, outgoing, unicast, group);
}

function setUpMulticastSending(
  socket: dgram.Socket,
  outgoing: InterfaceInfo,
  options: TransportOptions,
): void {
  try {
    socket.setMulticastInterface(outgoing.address);
    socket.setMulticastTTL(options.multicastTtl);
    socket.setMulticastLoopback(options.multicastLoopback);
  } catch (error) {
    throw multicastSetupError(error, outgoing);
  }
}

/**
 * Asks for a bigger receive buffer, best effort: the kernel silently caps the request (Linux at
 * `net.core.rmem_max`), and a refusal leaves a working socket with the default buffer.
 */
function enlargeReceiveBuffer(socket: dgram.Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // The default buffer still works; only bursts beyond it are lost.
  }
}

function bindSocket(port: number, shared: boolean, what: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: shared });
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      socket.off("listening", onListening);
      closeDgramSocket(socket).then(() => reject(bindError(error, port, what)));
    };
    const onListening = () => {
      socket.off("error", onError);
      // Errors after bind are receive-side hiccups; sends report theirs through callbacks.
      socket.on("error", () => {});
      resolve(socket);
    };
    socket.once("error", onError);
    socket.once("listening", onListening);
    socket.bind({ port, address: "0.0.0.0" });
  });
}

class NodeTransport implements Transport {
  readonly kind = "node";
  readonly localAddress: Address;
  readonly joinedInterfaces: readonly InterfaceInfo[];
  readonly #options: TransportOptions;
  readonly #unicast: dgram.Socket;
  readonly #group: dgram.Socket | undefined;
  readonly #counters = new TransportCounters();
  #handler: ReceiveHandler | undefined;
  #closed = false;

  constructor(
    options: TransportOptions,
    outgoing: InterfaceInfo,
    unicast: dgram.Socket,
    group: dgram.Socket | undefined,
  ) {
    this.#options = options;
    this.#unicast = unicast;
    this.#group = group;
    this.localAddress = { host: outgoing.address, port: unicast.address().port };
    this.joinedInterfaces = group ? options.interfaces.map((i) => ({ ...i })) : [];
    unicast.on("message", (message, remote) => this.#onMessage(message, remote, false));
    group?.on("message", (message, remote) => this.#onMessage(message, remote, true));
  }

  #onMessage(message: Uint8Array, remote: dgram.RemoteInfo, viaGroup: boolean): void {
    if (this.#closed) return;
    // An oversized datagram is passed on as its first limit + 1 bytes (as the Deno transport's
    // buffer truncates it), so that the codec rejects and counts it as too large.
    const length = Math.min(message.byteLength, this.#options.maxDatagramBytes + 1);
    this.#counters.received(length);
    const data = new Uint8Array(message.buffer, message.byteOffset, length);
    dispatchDatagram(this.#handler, data, { host: remote.address, port: remote.port }, viaGroup);
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(data: Uint8Array, to: Address): void {
    this.#sendTo(data, to.port, to.host);
  }

  sendToGroup(data: Uint8Array): void {
    this.#sendTo(data, this.#options.port, this.#options.group);
  }

  #sendTo(data: Uint8Array, port: number, host: string): void {
    if (this.#closed || data.byteLength > this.#options.maxDatagramBytes) {
      this.#counters.sendError();
      return;
    }
    const bytes = data.byteLength;
    this.#counters.begin();
    try {
      this.#unicast.send(data, port, host, (error) => this.#counters.settle(error ? -1 : bytes));
    } catch {
      this.#counters.settle(-1);
    }
  }

  stats(): TransportStats {
    return this.#counters.snapshot();
  }

  /** Closes the sockets once every datagram already handed to `send` has left (a final `leave`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#counters.drained();
    await Promise.all([
      closeDgramSocket(this.#unicast),
      this.#group && closeDgramSocket(this.#group),
    ]);
  }
}
