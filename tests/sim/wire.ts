/**
 * What stands between simulated processes where the runtimes put their `WireGate`: every
 * simulated process seals what it sends and opens what it receives through one of these.
 *
 * Two ways, the same verdicts. `bytes` is the shipped gate itself: the real codec (framing, HMAC,
 * validation, receiver binding) and replay guard — faithful, but the HMAC makes a run several
 * times slower. `envelopes` (the default) hands envelopes over and applies the same shipped
 * `ReplayGuard` to them, so duplicates, datagrams of an old incarnation and timestamps beyond the
 * clock-skew bound are dropped exactly as on the wire. Sims check bodies against their validators
 * themselves. Given the same traffic both ways give the same run (`wire_test.ts` checks that).
 * `SIM_WIRE=bytes` makes `bytes` the default.
 *
 * @module
 */

import { defaultLanConfig, type SecurityConfig } from "../../src/config/mod.ts";
import { WireGate } from "../../src/wire/gate.ts";
import type { Body, Envelope, Kind, Sender } from "../../src/wire/messages.ts";
import { RejectionCounters, type RejectReason } from "../../src/wire/rejections.ts";
import { ReplayGuard } from "../../src/wire/replay.ts";
import type { Address } from "../../src/transport/types.ts";

/** How datagrams travel between simulated processes. */
export type WireMode = "bytes" | "envelopes";

/** The mode of a simulation that names none: `SIM_WIRE`, else `envelopes`. */
export function defaultWireMode(): WireMode {
  return Deno.env.get("SIM_WIRE") === "bytes" ? "bytes" : "envelopes";
}

/** A sealed datagram in flight. */
export type Packet = Uint8Array | Envelope;

const CLUSTER = "sim";

/**
 * The security settings of every simulated process: the defaults with a secret, as a secured
 * cluster runs (its leader streams to clients; `bytes` encrypts every body).
 */
export const SIM_SECURITY: SecurityConfig = {
  ...defaultLanConfig().security,
  secrets: ["simulated cluster secret"],
};

/** One simulated process's gate to the simulated network. */
export class SimWire {
  readonly #self: Sender;
  readonly #gate: WireGate | undefined;
  readonly #replay: ReplayGuard | undefined;
  readonly #rejections: RejectionCounters;
  readonly #skipKinds: ReadonlySet<Kind>;
  #seq = 0;

  /** The gate of process `self` (skipping `skipKinds` unread, as its runtime does). */
  constructor(self: Sender, mode: WireMode, skipKinds: readonly Kind[] = []) {
    this.#self = self;
    this.#skipKinds = new Set(skipKinds);
    const { network } = defaultLanConfig();
    const security = SIM_SECURITY;
    if (mode === "bytes") {
      this.#gate = WireGate.forProcess({
        self,
        network: { ...network, cluster: CLUSTER },
        security,
        skipKinds,
      });
      this.#rejections = this.#gate.rejections;
    } else {
      this.#replay = new ReplayGuard({
        window: security.replayWindow,
        maxSenders: security.replaySenders,
        maxClockSkewMs: security.maxClockSkewMs,
      });
      this.#rejections = new RejectionCounters();
    }
  }

  /** Datagrams rejected by reason. */
  rejections(): Record<RejectReason, number> {
    return this.#rejections.snapshot();
  }

  /** Seals a body sent at `wall` to `to` (or to the group). */
  seal(body: Body, wall: number, to?: Address): Packet {
    if (this.#gate) return this.#gate.seal(body, wall, to);
    return { cluster: CLUSTER, sender: this.#self, seq: ++this.#seq, ts: wall, body };
  }

  /** Opens a datagram that arrived at `wall`: its envelope, or undefined when dropped. */
  open(packet: Packet, wall: number): Envelope | undefined {
    if (packet instanceof Uint8Array) {
      const opened = this.#gate!.open(packet, wall);
      return opened.ok ? opened.envelope : undefined;
    }
    const { sender, seq, ts, body } = packet;
    if (this.#skipKinds.has(body.kind) || sender.id === this.#self.id) return undefined;
    const verdict = this.#replay!.check(sender.id, sender.incarnation, seq, ts, wall);
    if (verdict === "ok") return packet;
    this.#rejections.count(verdict);
    return undefined;
  }
}
