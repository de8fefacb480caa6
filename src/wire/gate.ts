/**
 * The gate between one process and the network: everything that happens to a datagram between
 * a core's action and the socket, and between the socket and a core's event, without the socket.
 *
 * Outgoing, it seals a body with the codec, binding a unicast datagram to the id last heard from
 * its destination address (so a copy replayed to another process is rejected as misdirected).
 * Incoming, it drops kinds this process never handles by their header, checks and decodes the
 * datagram (authentication, replay window, validation: `codec.ts`, `replay.ts`), drops the
 * process's own datagrams and learns which id answers at the sender's address. The endpoint puts
 * it in front of real sockets; the simulators put it between simulated processes. Pure: the
 * caller passes the wall-clock time in.
 *
 * @module
 */

import type { NetworkConfig, SecurityConfig } from "../config/mod.ts";
import type { Address } from "../transport/types.ts";
import { peekKind, WireCodec } from "./codec.ts";
import { Keyring } from "./keyring.ts";
import type { Body, Envelope, Kind, Sender } from "./messages.ts";
import type { RejectionCounters, RejectReason } from "./rejections.ts";
import { ReplayGuard } from "./replay.ts";

/** What a {@linkcode WireGate} needs. */
export interface WireGateOptions {
  /** The process, as carried in every datagram it sends. */
  self: Sender;
  /** Its codec (with its replay guard), whose receiver id is `self.id`. */
  codec: WireCodec;
  /** How many addresses' ids are remembered for binding; the least recently learned goes first. */
  maxKnownAddresses: number;
  /** Kinds this process never handles: dropped by their header, before they are authenticated. */
  skipKinds?: readonly Kind[];
}

/**
 * What {@linkcode WireGate.open} made of a datagram: an envelope for the cores, a rejection (counted
 * by the codec), or nothing (a skipped kind, or the process's own datagram back from the group).
 */
export type Opened =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: RejectReason }
  | { ok: false; reason?: undefined };

/** Seals outgoing bodies and opens incoming datagrams for one process. */
export class WireGate {
  readonly #o: WireGateOptions;
  readonly #skipKinds: ReadonlySet<Kind>;
  /** Id last heard from each `host:port`, the least recently learned first (bounded). */
  readonly #idsByAddress = new Map<string, string>();

  /** Creates a gate. */
  constructor(options: WireGateOptions) {
    this.#o = options;
    this.#skipKinds = new Set(options.skipKinds);
  }

  /**
   * The gate of process `self` as configured: keys from the secrets (else from the cluster name),
   * a replay guard and an address memory bounded by the security settings.
   */
  static forProcess(options: {
    self: Sender;
    network: Pick<NetworkConfig, "cluster" | "maxDatagramBytes">;
    security: SecurityConfig;
    skipKinds?: readonly Kind[];
  }): WireGate {
    const { self, network, security } = options;
    const codec = new WireCodec({
      cluster: network.cluster,
      keyring: Keyring.fromSecrets(security.secrets, network.cluster),
      maxDatagramBytes: network.maxDatagramBytes,
      receiverId: self.id,
      replay: new ReplayGuard({
        window: security.replayWindow,
        maxSenders: security.replaySenders,
        maxClockSkewMs: security.maxClockSkewMs,
      }),
    });
    return new WireGate({
      self,
      codec,
      maxKnownAddresses: security.replaySenders,
      skipKinds: options.skipKinds,
    });
  }

  /** Rejected datagrams by reason (the codec's counters). */
  get rejections(): RejectionCounters {
    return this.#o.codec.rejections;
  }

  /**
   * Seals a body: for `to`, bound to the id last heard from that address (to nobody in particular
   * when none was heard yet, as for a `--peers` seed); without `to` (the group), to nobody.
   * Throws the codec's `EncodeError` for a body that cannot be sent.
   */
  seal(body: Body, wall: number, to?: Address): Uint8Array {
    const receiver = to ? this.#idsByAddress.get(addressKey(to)) ?? "" : "";
    return this.#o.codec.encode(this.#o.self, body, wall, receiver);
  }

  /**
   * Checks and decodes one datagram at `wall` (ms since the epoch); never throws. With `from`
   * (where the datagram came from), the sender's reply address takes that host: everything this
   * process sends the sender — answers, heartbeats, deliveries, and what it tells others of it —
   * goes to the host its datagrams come from, never to another host it names (anyone can name one
   * in an open cluster: reflection). The port stays the named one: group datagrams leave from a
   * socket that does not listen.
   */
  open(data: Uint8Array, wall: number, from?: Address): Opened {
    if (this.#skipKinds.size > 0) {
      const kind = peekKind(data);
      if (kind !== undefined && this.#skipKinds.has(kind)) return { ok: false };
    }
    const result = this.#o.codec.decode(data, wall);
    if (!result.ok) return result;
    let envelope = result.envelope;
    if (envelope.sender.id === this.#o.self.id) return { ok: false };
    if (from && envelope.sender.addr.host !== from.host) {
      const addr = { host: from.host, port: envelope.sender.addr.port };
      envelope = { ...envelope, sender: { ...envelope.sender, addr } };
    }
    this.#learn(addressKey(envelope.sender.addr), envelope.sender.id);
    return { ok: true, envelope };
  }

  /** Remembers who answers at `address`, forgetting the least recently learned beyond the bound. */
  #learn(address: string, id: string): void {
    if (this.#idsByAddress.get(address) === id) return;
    this.#idsByAddress.delete(address);
    this.#idsByAddress.set(address, id);
    if (this.#idsByAddress.size > this.#o.maxKnownAddresses) {
      const oldest = this.#idsByAddress.keys().next();
      if (!oldest.done) this.#idsByAddress.delete(oldest.value);
    }
  }
}

function addressKey(address: Address): string {
  return `${address.host}:${address.port}`;
}
