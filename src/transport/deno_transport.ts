/**
 * The native Deno transport: `Deno.listenDatagram` sockets (needs `--unstable-net`).
 *
 * Servers get a group socket (bound `0.0.0.0:port` with `reuseAddress`, joined to the group on
 * every chosen interface) and a unicast socket; clients and probes get the unicast socket only.
 * Each socket is drained by a `receive(preallocatedBuffer)` loop, which keeps up at rates where
 * `for await` lost 11–26 % of the datagrams (measured). Group sends leave through a small
 * `node:dgram` socket, see {@linkcode openDenoTransport}. This module knows nothing of the wire
 * format and never picks interfaces itself.
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
import {
  type Address,
  type InterfaceInfo,
  type ReceiveHandler,
  type Transport,
  TransportError,
  type TransportOptions,
  type TransportStats,
} from "./types.ts";

/** True when this runtime offers `Deno.listenDatagram` (Deno run with `--unstable-net`). */
export function denoDatagramAvailable(): boolean {
  return typeof globalThis.Deno?.listenDatagram === "function";
}

/**
 * Opens a native Deno transport; rejects with a {@linkcode TransportError} when the API is not
 * available, a port is taken, an interface cannot join the group or multicast cannot be sent.
 *
 * Deno's native sockets cannot choose the interface outgoing multicast leaves by (there is no
 * IP_MULTICAST_IF), so the kernel would route group sends by the default route, possibly out of
 * a network interface the user did not choose. Group sends therefore go through a `node:dgram`
 * socket whose outgoing interface is set explicitly; it sends only (heartbeats and discovery are
 * low-rate), while everything is received on native sockets. Group datagrams thus come from
 * another port than {@linkcode Transport.localAddress}: receivers reply to the address carried in
 * the message. Deno also reports a wrong remote address for multicast receives; it is passed on
 * as given.
 *
 * Data handed to `send`/`sendToGroup` must not be modified afterwards: the socket sends it later.
 */
export async function openDenoTransport(options: TransportOptions): Promise<Transport> {
  if (!denoDatagramAvailable()) {
    throw new TransportError(
      "the native Deno transport needs Deno run with --unstable-net",
    );
  }
  const outgoing = requireInterface(options.interfaces);
  const unicast = listen(options.unicastPort, false, options, "unicast");
  let group: Deno.DatagramConn | undefined;
  let groupSender: dgram.Socket | undefined;
  try {
    groupSender = await openGroupSender(outgoing, options);
    if (options.joinGroup) {
      group = listen(options.port, true, options, `multicast group ${options.group}`);
      for (const iface of options.interfaces) {
        let membership: Deno.MulticastV4Membership;
        try {
          membership = await group.joinMulticastV4(options.group, iface.address);
        } catch (error) {
          throw joinError(error, options.group, iface);
        }
        // This socket never sends, and Linux applies both options to sends only; Windows applies
        // loopback on the receiving socket, so the membership gets the sender's settings.
        try {
          await membership.setTTL(options.multicastTtl);
          await membership.setLoopback(options.multicastLoopback);
        } catch (error) {
          throw multicastSetupError(error, iface);
        }
      }
    }
  } catch (error) {
    unicast.close();
    group?.close();
    if (groupSender) await closeDgramSocket(groupSender);
    throw error;
  }
  return new DenoTransport(options, outgoing, unicast, group, groupSender);
}

function listen(
  port: number,
  shared: boolean,
  options: TransportOptions,
  what: string,
): Deno.DatagramConn {
  try {
    return Deno.listenDatagram({
      transport: "udp",
      hostname: "0.0.0.0",
      port,
      reuseAddress: shared,
      loopback: options.multicastLoopback,
    });
  } catch (error) {
    throw bindError(error, port, what);
  }
}

function openGroupSender(
  outgoing: InterfaceInfo,
  options: TransportOptions,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      closeDgramSocket(socket).then(() => reject(multicastSetupError(error, outgoing)));
    };
    socket.once("error", onError);
    // Bound to the interface's own address as well, so its datagrams can only leave there.
    socket.bind({ port: 0, address: outgoing.address }, () => {
      socket.off("error", onError);
      socket.on("error", () => {});
      try {
        socket.setMulticastInterface(outgoing.address);
        socket.setMulticastTTL(options.multicastTtl);
        socket.setMulticastLoopback(options.multicastLoopback);
        resolve(socket);
      } catch (error) {
        closeDgramSocket(socket).then(() => reject(multicastSetupError(error, outgoing)));
      }
    });
  });
}

class DenoTransport implements Transport {
  readonly kind = "deno";
  readonly localAddress: Address;
  readonly joinedInterfaces: readonly InterfaceInfo[];
  readonly #options: TransportOptions;
  readonly #unicast: Deno.DatagramConn;
  readonly #group: Deno.DatagramConn | undefined;
  readonly #groupSender: dgram.Socket;
  readonly #counters = new TransportCounters();
  readonly #loops: Promise<void>[];
  #handler: ReceiveHandler | undefined;
  #closed = false;

  constructor(
    options: TransportOptions,
    outgoing: InterfaceInfo,
    unicast: Deno.DatagramConn,
    group: Deno.DatagramConn | undefined,
    groupSender: dgram.Socket,
  ) {
    this.#options = options;
    this.#unicast = unicast;
    this.#group = group;
    this.#groupSender = groupSender;
    this.localAddress = { host: outgoing.address, port: (unicast.addr as Deno.NetAddr).port };
    this.joinedInterfaces = group ? options.interfaces.map((i) => ({ ...i })) : [];
    this.#loops = [this.#receiveLoop(unicast, false)];
    if (group) this.#loops.push(this.#receiveLoop(group, true));
  }

  async #receiveLoop(conn: Deno.DatagramConn, viaGroup: boolean): Promise<void> {
    const limit = this.#options.maxDatagramBytes;
    // One byte more than the limit: an oversized datagram arrives truncated to limit + 1 bytes, and
    // the codec rejects (and counts) it as too large.
    const buffer = new Uint8Array(limit + 1);
    while (!this.#closed) {
      let data: Uint8Array;
      let remote: Deno.Addr;
      try {
        [data, remote] = await conn.receive(buffer);
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        continue;
      }
      if (this.#closed) continue;
      this.#counters.received(data.byteLength);
      const from = remote as Deno.NetAddr;
      dispatchDatagram(this.#handler, data, { host: from.hostname, port: from.port }, viaGroup);
    }
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(data: Uint8Array, to: Address): void {
    if (!this.#accepts(data)) return;
    const bytes = data.byteLength;
    this.#counters.begin();
    this.#unicast.send(data, { transport: "udp", hostname: to.host, port: to.port }).then(
      () => this.#counters.settle(bytes),
      () => this.#counters.settle(-1),
    );
  }

  sendToGroup(data: Uint8Array): void {
    if (!this.#accepts(data)) return;
    const bytes = data.byteLength;
    this.#counters.begin();
    try {
      this.#groupSender.send(
        data,
        this.#options.port,
        this.#options.group,
        (error) => this.#counters.settle(error ? -1 : bytes),
      );
    } catch {
      this.#counters.settle(-1);
    }
  }

  #accepts(data: Uint8Array): boolean {
    if (!this.#closed && data.byteLength <= this.#options.maxDatagramBytes) return true;
    this.#counters.sendError();
    return false;
  }

  stats(): TransportStats {
    return this.#counters.snapshot();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#counters.drained();
    this.#unicast.close();
    this.#group?.close();
    await Promise.all([...this.#loops, closeDgramSocket(this.#groupSender)]);
  }
}
