/**
 * Liveness connections: how a process learns at once that a peer's process ended while its host
 * stays up (JGroups' FD_SOCK2). Every server listens on TCP at its unicast port number and holds
 * each connection it accepts without reading from it; a watcher keeps one connection to every
 * process it watches. When the watched process ends — even by SIGKILL — its kernel closes the
 * connection, and the watcher hears of it within a round trip, with no traffic while all is well.
 *
 * UDP cannot do this here: a datagram to a closed port draws an ICMP port-unreachable, but only a
 * connected socket reports it (as ECONNREFUSED, on its next operation), `Deno.listenDatagram`
 * cannot connect, and Deno's `node:dgram` does not report it (checked on Deno 2.9.6; Node's
 * connected `node:dgram` socket does, within a round trip) — and it would need a datagram sent to
 * the dead port first. `node:net` runs on both runtimes.
 *
 * A close is evidence, not proof: anyone on the path can forge a FIN or RST. Callers hand it to
 * their core, which verifies it with a probe before it believes it. A connection that was never
 * established (no listener: an older dsys, a firewall) reports nothing; the watcher retries it.
 *
 * @module
 */

import net from "node:net";
import type { Address } from "./types.ts";

/** Called when an established connection to `address` closed. */
export type ClosedHandler = (address: Address) => void;

/**
 * A server's end: accepts liveness connections and holds them, at most `maxConnections` at a time
 * (anyone may connect; a connection costs a descriptor and nothing else). Data sent on one ends it.
 */
export class LivenessListener {
  readonly #server: net.Server;
  readonly #held = new Set<net.Socket>();

  private constructor(server: net.Server, maxConnections: number) {
    this.#server = server;
    server.on("connection", (socket) => {
      if (this.#held.size >= maxConnections) return socket.destroy();
      this.#held.add(socket);
      socket.on("error", () => {});
      socket.on("data", () => socket.destroy());
      socket.on("close", () => this.#held.delete(socket));
    });
  }

  /**
   * Listens on TCP `port` of every interface; resolves `undefined` when it cannot (the port is
   * taken by another program): peers then detect this process's end by silence only.
   */
  static open(port: number, maxConnections: number): Promise<LivenessListener | undefined> {
    const server = net.createServer();
    return new Promise((resolve) => {
      server.once("error", () => server.close(() => resolve(undefined)));
      server.listen({ port, host: "0.0.0.0" }, () => {
        server.removeAllListeners("error");
        server.on("error", () => {});
        resolve(new LivenessListener(server, maxConnections));
      });
    });
  }

  /** Connections held now. */
  get held(): number {
    return this.#held.size;
  }

  /** Stops listening and closes every connection held. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#held) socket.destroy();
    await closed;
  }
}

interface Watched {
  address: Address;
  socket?: net.Socket;
  established: boolean;
  retry?: ReturnType<typeof setTimeout>;
}

/**
 * A watcher's end: one connection to each address it is given; reports each established one that
 * closes, and connects again after `retryMs` while the address is still watched.
 */
export class LivenessWatcher {
  readonly #onClosed: ClosedHandler;
  readonly #retryMs: number;
  readonly #watched = new Map<string, Watched>();
  readonly #closing = new Set<Promise<void>>();
  #stopped = false;

  /** Creates a watcher that tells `onClosed` of every established connection that closed. */
  constructor(onClosed: ClosedHandler, retryMs: number) {
    this.#onClosed = onClosed;
    this.#retryMs = retryMs;
  }

  /** Watches exactly these addresses: connects to new ones, drops the others. */
  watch(addresses: readonly Address[]): void {
    if (this.#stopped) return;
    const wanted = new Map(addresses.map((a) => [`${a.host}:${a.port}`, a]));
    for (const [key, entry] of this.#watched) {
      if (!wanted.has(key)) {
        this.#watched.delete(key);
        this.#drop(entry);
      }
    }
    for (const [key, address] of wanted) {
      if (this.#watched.has(key)) continue;
      const entry: Watched = { address, established: false };
      this.#watched.set(key, entry);
      this.#connect(key, entry);
    }
  }

  /** Addresses whose connection is established now. */
  connected(): Address[] {
    return [...this.#watched.values()].filter((e) => e.established).map((e) => e.address);
  }

  /** Closes every connection and cancels every retry. */
  async close(): Promise<void> {
    this.#stopped = true;
    for (const entry of this.#watched.values()) this.#drop(entry);
    this.#watched.clear();
    await Promise.all(this.#closing);
  }

  #connect(key: string, entry: Watched): void {
    const socket = net.connect({ host: entry.address.host, port: entry.address.port });
    entry.socket = socket;
    entry.established = false;
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    this.#closing.add(closed);
    closed.then(() => this.#closing.delete(closed));
    socket.on("error", () => {});
    socket.on("data", () => {});
    socket.once("connect", () => {
      if (entry.socket === socket) entry.established = true;
    });
    socket.once("close", () => {
      if (this.#watched.get(key) !== entry || entry.socket !== socket) return;
      const was = entry.established;
      entry.socket = undefined;
      entry.established = false;
      entry.retry = setTimeout(() => {
        entry.retry = undefined;
        if (!this.#stopped && this.#watched.get(key) === entry) this.#connect(key, entry);
      }, this.#retryMs);
      if (was) this.#onClosed(entry.address);
    });
  }

  #drop(entry: Watched): void {
    clearTimeout(entry.retry);
    entry.retry = undefined;
    const socket = entry.socket;
    entry.socket = undefined;
    entry.established = false;
    socket?.destroy();
  }
}
