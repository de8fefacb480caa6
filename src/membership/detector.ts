/**
 * Failure detection: silence makes a member suspect, a failed verification makes it dead.
 *
 * A member silent for `suspectAfterMs` becomes suspect and is verified at once with a direct
 * ping and `indirectProbes` ping-reqs through other live servers (SWIM's indirect probe,
 * JGroups' VERIFY_SUSPECT). Any sign of life before `probeTimeoutMs` refutes the suspicion;
 * otherwise the member is declared dead. This module also answers pings and relays the probes
 * other servers ask of it. It reads time only from the `now` it is given, and it owns no member
 * state: that is the table's (`table.ts`).
 *
 * @module
 */

import type { TimingConfig } from "../config/mod.ts";
import type { Address } from "../transport/types.ts";
import type { AckBody, PingReqBody, Sender } from "../wire/messages.ts";
import type { Outbox } from "./outbox.ts";
import { isLive, type Member, type MemberTable } from "./table.ts";

/** What a {@linkcode FailureDetector} needs. */
export interface DetectorOptions {
  /** This server. */
  self: Sender;
  /** Protocol timing. */
  timing: TimingConfig;
  /** The member table it judges. */
  table: MemberTable;
  /** Where its datagrams and events go. */
  out: Outbox;
  /** A source of numbers in [0, 1), used to pick indirect-probe helpers. */
  random: () => number;
}

interface Probe {
  nonce: number;
  deadline: number;
}

interface Relay {
  requester: Address;
  nonce: number;
  target: string;
  expires: number;
}

/** Suspects silent members, verifies them, and declares dead those that stay silent. */
export class FailureDetector {
  readonly #o: DetectorOptions;
  readonly #probes = new Map<string, Probe>();
  readonly #relays = new Map<number, Relay>();
  /** When a closed liveness connection last had each server checked (see `onClosed`). */
  readonly #closedAt = new Map<string, number>();
  /** Quiet checks after a closed liveness connection, by member id (see `onClosed`). */
  readonly #checks = new Map<string, Probe>();
  #nextNonce = 1;
  #suspicions = 0;
  #deaths = 0;

  /** Creates a detector over `options.table`. */
  constructor(options: DetectorOptions) {
    this.#o = options;
  }

  /** How many members were suspected. */
  get suspicions(): number {
    return this.#suspicions;
  }

  /** How many members were declared dead. */
  get deaths(): number {
    return this.#deaths;
  }

  /**
   * Advances the detector to `now` and returns the members it declared dead. With `judge`
   * false (a late tick: datagrams may still be queued) it starts no suspicion and gives no verdict.
   */
  tick(now: number, judge: boolean): Member[] {
    const { table, timing } = this.#o;
    const dead: Member[] = [];
    for (const member of table.members()) {
      if (member.state === "alive") {
        if (judge && now - member.silentSince >= timing.suspectAfterMs) {
          table.suspect(member, now);
          this.#suspicions++;
          this.#verify(member, now);
        }
      } else if (member.state === "suspect") {
        const probe = this.#probes.get(member.id);
        if (!probe) {
          this.#verify(member, now);
        } else if (judge && now >= probe.deadline) {
          this.#probes.delete(member.id);
          table.kill(member, now);
          this.#deaths++;
          dead.push(member);
        }
      }
    }
    for (const [id, check] of this.#checks) {
      const member = table.get(id);
      if (member?.state !== "alive") {
        this.#checks.delete(id);
      } else if (judge && now >= check.deadline) {
        this.#checks.delete(id);
        table.suspect(member, now);
        this.#suspicions++;
        table.kill(member, now);
        this.#deaths++;
        dead.push(member);
      }
    }
    for (const id of this.#probes.keys()) {
      if (table.get(id)?.state !== "suspect") this.#probes.delete(id);
    }
    for (const [id, at] of this.#closedAt) {
      if (now - at >= timing.suspectAfterMs) this.#closedAt.delete(id);
    }
    for (const [nonce, relay] of this.#relays) {
      if (now >= relay.expires) this.#relays.delete(nonce);
    }
    return dead;
  }

  /**
   * The liveness connection to the server at `addr` closed: its process probably ended, so it is
   * verified at once instead of after `suspectAfterMs` of silence — quietly: the view does not
   * change unless the verification fails, when it is declared dead. A close can be forged on the
   * path, and a clean leave closes it too (the `leave` datagram may come just after): a live
   * server answers the probe (a heartbeat may be one sent before the end: it does not count), a
   * leaving one is marked left, and nothing else happens. At most one such check per server
   * every `suspectAfterMs`.
   */
  onClosed(addr: Address, now: number): void {
    const { table, timing } = this.#o;
    for (const member of table.members()) {
      if (member.role !== "server" || member.state !== "alive") continue;
      if (member.addr.host !== addr.host || member.addr.port !== addr.port) continue;
      if (now - (this.#closedAt.get(member.id) ?? -Infinity) < timing.suspectAfterMs) return;
      this.#closedAt.set(member.id, now);
      const nonce = this.#nextNonce++;
      this.#checks.set(member.id, { nonce, deadline: now + timing.probeTimeoutMs });
      this.#probe(member, nonce);
      return;
    }
  }

  /** True while a suspicion or a quiet check is being verified. */
  get verifying(): boolean {
    return this.#probes.size > 0 || this.#checks.size > 0;
  }

  /** Forgets every verification in progress; the next tick starts fresh ones (after a stall). */
  regrace(): void {
    this.#probes.clear();
    this.#checks.clear();
  }

  /** Answers a ping. */
  onPing(sender: Sender, nonce: number): void {
    this.#o.out.send(sender.addr, { kind: "ack", nonce, target: this.#o.self.id });
  }

  /**
   * Pings a suspect on behalf of another server and remembers to relay the ack. Only a member
   * this server knows, at the address it knows: the request's address could name any host.
   */
  onPingReq(sender: Sender, body: PingReqBody, now: number): void {
    const target = this.#o.table.get(body.target);
    if (!isLive(target)) return;
    const nonce = this.#nextNonce++;
    this.#relays.set(nonce, {
      requester: sender.addr,
      nonce: body.nonce,
      target: body.target,
      expires: now + this.#o.timing.probeTimeoutMs,
    });
    this.#o.out.send(target.addr, { kind: "ping", nonce });
  }

  /** Handles an ack: relays it if it answers a ping-req, or ends a verification it answers. */
  onAck(sender: Sender, body: AckBody, now: number): void {
    const relay = this.#relays.get(body.nonce);
    if (relay && sender.id === relay.target && body.target === relay.target) {
      this.#relays.delete(body.nonce);
      this.#o.out.send(relay.requester, { kind: "ack", nonce: relay.nonce, target: relay.target });
      return;
    }
    if (this.#checks.get(body.target)?.nonce === body.nonce) {
      this.#checks.delete(body.target);
      return;
    }
    const probe = this.#probes.get(body.target);
    if (!probe || probe.nonce !== body.nonce) return;
    this.#probes.delete(body.target);
    this.#o.table.confirm(body.target, now);
  }

  #verify(member: Member, now: number): void {
    const nonce = this.#nextNonce++;
    this.#probes.set(member.id, { nonce, deadline: now + this.#o.timing.probeTimeoutMs });
    this.#probe(member, nonce);
  }

  /** Pings `member` directly and through `indirectProbes` helpers with `nonce`. */
  #probe(member: Member, nonce: number): void {
    const { out } = this.#o;
    out.send(member.addr, { kind: "ping", nonce });
    const request = {
      kind: "ping-req" as const,
      nonce,
      target: member.id,
      host: member.addr.host,
      port: member.addr.port,
    };
    for (const helper of this.#helpers(member)) out.send(helper.addr, request);
  }

  #helpers(suspect: Member): Member[] {
    const candidates: Member[] = [];
    for (const member of this.#o.table.members()) {
      if (member !== suspect && member.state === "alive" && member.role === "server") {
        candidates.push(member);
      }
    }
    const count = Math.min(this.#o.timing.indirectProbes, candidates.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.#o.random() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
    }
    return candidates.slice(0, count);
  }
}
