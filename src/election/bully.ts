/**
 * The Bully election with terms: who leads, and how a new leader is chosen.
 *
 * ELECTION goes to every higher-ordered live server; any of them answers (ANSWER) and takes the
 * election over; with no answer within `electionAnswerTimeoutMs` the server wins and multicasts
 * COORDINATOR; a server that was answered waits `electionCoordinatorTimeoutMs` for it, then
 * starts again. Every election uses the highest term seen plus one (at the wire's bound, that
 * bound: claims of equal term resolve by the order). A claim (COORDINATOR, or a
 * leader's heartbeat) with a lower term than the known leader's is stale and ignored; claims of
 * equal term resolve by the Bully order; a claim by a lower-ordered server is answered by an
 * election that takes leadership from it.
 *
 * This module owns leadership state only. Membership and liveness come from the member table;
 * time only from the `now` it is given; only servers take part.
 *
 * @module
 */

import type { TimingConfig } from "../config/mod.ts";
import { isLive, type Member, type MemberTable } from "../membership/table.ts";
import type { Outbox } from "../membership/outbox.ts";
import { nextTerm, type Sender } from "../wire/messages.ts";
import { outranks, type Ranked } from "./order.ts";

/** What a {@linkcode Bully} needs. */
export interface BullyOptions {
  /** This server. */
  self: Sender;
  /** This server's Bully priority. */
  priority: number;
  /** Protocol timing. */
  timing: TimingConfig;
  /** The member table (who is live, and their order). */
  table: MemberTable;
  /** Where its datagrams and events go. */
  out: Outbox;
}

/** Where an election stands: none running, waiting for ANSWERs, or waiting for COORDINATOR. */
type ElectionPhase = "idle" | "electing" | "awaiting-coordinator";

/** The Bully state machine of one server. */
export class Bully {
  readonly #o: BullyOptions;
  readonly #me: Ranked;
  #leader: string | null = null;
  #leaderTerm = 0;
  #seenTerm = 0;
  #phase: ElectionPhase = "idle";
  #electionTerm = 0;
  #deadline = 0;
  #targets: string[] = [];
  #discovering = true;
  #started = 0;
  #won = 0;

  /** Creates the state machine; it holds no election until {@linkcode Bully.endDiscovery}. */
  constructor(options: BullyOptions) {
    this.#o = options;
    this.#me = { priority: options.priority, id: options.self.id };
  }

  /** Id of the leader this server follows (itself when it leads), or null. */
  get leader(): string | null {
    return this.#leader;
  }

  /** True when no election runs or is due: a tick can only start one if a member changes. */
  get idle(): boolean {
    return this.#phase === "idle" && !this.#discovering && !this.#needsElection();
  }

  /** Term of that leader (it stays when the leader is lost, until a new one is known). */
  get term(): number {
    return this.#leaderTerm;
  }

  /** How many elections this server started. */
  get started(): number {
    return this.#started;
  }

  /** How many elections this server won. */
  get won(): number {
    return this.#won;
  }

  /** Ends the startup window: from now on this server elects (the next tick checks the leader). */
  endDiscovery(): void {
    this.#discovering = false;
  }

  /** Records a term mentioned by any server, so that this server's next election outbids it. */
  noteTerm(term: number): void {
    if (term > this.#seenTerm) this.#seenTerm = term;
  }

  /** Handles ELECTION from a lower-ordered server: answer, then take the election over. */
  onElection(from: Member, term: number, now: number): void {
    this.noteTerm(term);
    if (from.role !== "server" || !outranks(this.#me, from)) return;
    const { out, self } = this.#o;
    out.send(from.addr, { kind: "answer", term });
    if (this.#discovering) return;
    if (this.#leader === self.id) {
      if (term > this.#leaderTerm + 1) {
        this.#start(now);
      } else {
        out.send(from.addr, {
          kind: "coordinator",
          term: this.#leaderTerm,
          priority: this.#me.priority,
        });
      }
      return;
    }
    if (this.#phase === "idle" && !this.#followsLiveHigher()) this.#start(now);
  }

  /** Handles ANSWER: a higher-ordered server took the election over; wait for its COORDINATOR. */
  onAnswer(fromId: string, term: number, now: number): void {
    if (this.#phase !== "electing" || term !== this.#electionTerm) return;
    if (!this.#targets.includes(fromId)) return;
    this.#phase = "awaiting-coordinator";
    this.#deadline = now + this.#o.timing.electionCoordinatorTimeoutMs;
  }

  /** Handles a leadership claim: COORDINATOR, or the heartbeat of a server naming itself leader. */
  onClaim(from: Member, term: number, now: number): void {
    this.noteTerm(term);
    if (from.role !== "server" || term < this.#leaderTerm) return;
    if (outranks(this.#me, from)) {
      if (!this.#discovering && this.#phase === "idle" && !this.#followsLiveHigher()) {
        this.#start(now);
      }
      return;
    }
    const current = this.#leaderRank();
    if (current && current.id !== from.id && outranks(current, from)) {
      const stillLive = current.id === this.#o.self.id ||
        this.#o.table.get(current.id)?.state === "alive";
      if (term === this.#leaderTerm || stillLive) return;
    }
    this.#phase = "idle";
    this.#setLeader(from.id, term);
  }

  /** Reacts to a member declared dead or gone: a lost leader means a new election. */
  memberGone(member: Member, now: number): void {
    if (member.id !== this.#leader) return;
    this.#setLeader(null, this.#leaderTerm);
    if (!this.#discovering && this.#phase === "idle") this.#start(now);
  }

  /** Pushes the election's deadline past `now` (after this process stalled). */
  regrace(now: number): void {
    const { timing } = this.#o;
    if (this.#phase === "electing") {
      this.#deadline = Math.max(this.#deadline, now + timing.electionAnswerTimeoutMs);
    } else if (this.#phase === "awaiting-coordinator") {
      this.#deadline = Math.max(this.#deadline, now + timing.electionCoordinatorTimeoutMs);
    }
  }

  /**
   * Advances the election to `now`: wins an unanswered election, restarts one whose COORDINATOR
   * never came, and, with no election running, starts one when the leader is missing, lower-ordered
   * than this server, or (when this server leads) outranked by a settled live server. With `judge`
   * false (a late tick) no deadline expires.
   */
  tick(now: number, judge: boolean): void {
    if (this.#discovering) return;
    if (this.#phase === "electing") {
      const anyTargetLive = this.#targets.some((id) => isLive(this.#o.table.get(id)));
      if (!anyTargetLive || (judge && now >= this.#deadline)) this.#win();
      return;
    }
    if (this.#phase === "awaiting-coordinator") {
      if (judge && now >= this.#deadline) this.#start(now);
      return;
    }
    if (this.#needsElection()) this.#start(now);
  }

  #needsElection(): boolean {
    const leader = this.#leader;
    if (leader === null) return true;
    if (leader === this.#o.self.id) {
      for (const member of this.#o.table.members()) {
        if (
          member.role === "server" && member.state === "alive" && !member.joining &&
          outranks(member, this.#me)
        ) return true;
      }
      return false;
    }
    const member = this.#o.table.get(leader);
    return !isLive(member) || outranks(this.#me, member);
  }

  #followsLiveHigher(): boolean {
    const leader = this.#leader;
    if (leader === null || leader === this.#o.self.id) return false;
    const member = this.#o.table.get(leader);
    return member?.state === "alive" && outranks(member, this.#me);
  }

  #leaderRank(): Ranked | undefined {
    if (this.#leader === null) return undefined;
    if (this.#leader === this.#o.self.id) return this.#me;
    return this.#o.table.get(this.#leader);
  }

  #start(now: number): void {
    const { out, table, timing } = this.#o;
    this.#electionTerm = nextTerm(this.#seenTerm);
    this.#seenTerm = this.#electionTerm;
    this.#started++;
    out.notify({ type: "election-started", term: this.#electionTerm });
    this.#targets = [];
    for (const member of table.members()) {
      if (member.role === "server" && isLive(member) && outranks(member, this.#me)) {
        this.#targets.push(member.id);
      }
    }
    if (this.#targets.length === 0) {
      this.#win();
      return;
    }
    this.#phase = "electing";
    this.#deadline = now + timing.electionAnswerTimeoutMs;
    const body = {
      kind: "election" as const,
      term: this.#electionTerm,
      priority: this.#me.priority,
    };
    for (const id of this.#targets) out.send(table.get(id)!.addr, body);
  }

  #win(): void {
    const term = Math.max(this.#electionTerm, this.#seenTerm);
    this.#seenTerm = term;
    this.#phase = "idle";
    this.#won++;
    this.#o.out.notify({ type: "election-won", term });
    this.#setLeader(this.#o.self.id, term);
    this.#o.out.multicast({ kind: "coordinator", term, priority: this.#me.priority });
  }

  #setLeader(id: string | null, term: number): void {
    const changed = id !== this.#leader;
    this.#leader = id;
    this.#leaderTerm = term;
    if (changed) this.#o.out.notify({ type: "leader-changed", leader: id, term });
  }
}
