/**
 * The member table: every process this server has heard of, its identity and its state, and the
 * view number that grows on every change.
 *
 * This module owns the member records and the membership events (joined, alive again, suspect,
 * dead, left). It decides nothing by time: the failure detector (`detector.ts`) tells it whom to
 * suspect or declare dead, the server core tells it who was heard from. It holds servers: the
 * core adds members from servers' heartbeats, welcomes and election messages and ignores those
 * kinds from clients, while chat clients reach the group view through the chat log's presence
 * entries (`src/server/clients_view.ts`). Each record keeps its role all the same, and elections
 * look only at servers. A new server from the host of a dead one replaces it: that host is up, so
 * the dead one crashed.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import type { MemberEntry, Role, Sender } from "../wire/messages.ts";
import type { MemberState, MemberView } from "./events.ts";
import type { Outbox } from "./outbox.ts";

/** One member record. Mutated only through {@linkcode MemberTable}. */
export interface Member {
  /** Member id. */
  readonly id: string;
  /** Server or client. */
  role: Role;
  /** Its unicast reply address. */
  addr: Address;
  /** Its incarnation; messages from an older one are ignored. */
  incarnation: number;
  /** Its Bully priority. */
  priority: number;
  /** Its state. */
  state: MemberState;
  /** Monotonic time it was last heard from directly (ms). */
  lastHeard: number;
  /** Monotonic time from which its silence is measured: last heard, or a later grace start. */
  silentSince: number;
  /** Monotonic time its state last changed. */
  changedAt: number;
  /** Monotonic time it was last heard over multicast (`-Infinity`: never). */
  groupHeardAt: number;
  /** True while its latest heartbeat said it is still discovering the cluster. */
  joining: boolean;
  /**
   * True once a datagram came from it: until then its address is only what another server said
   * (a welcome), which anyone can forge in an open cluster, so it is not merge-probed.
   */
  heardFrom: boolean;
}

/** What hearing from a sender meant for the table. */
export type Sighting =
  | "new"
  | "restarted"
  | "returned"
  | "refuted"
  | "seen"
  | "stale"
  | "unknown";

/** The result of {@linkcode MemberTable.heard}. */
export interface Heard {
  /** What the message meant for the table. */
  sighting: Sighting;
  /** The member record, when the sender is (now) a current member. */
  member?: Member;
}

/** What a message tells about its sender beyond the envelope. */
export interface SenderInfo {
  /** Bully priority, for messages that carry it. */
  priority: number;
  /** Whether the sender is still discovering, for heartbeats. */
  joining?: boolean;
}

/** Every member this server knows of, keyed by id; this server itself is not in it. */
export class MemberTable {
  readonly #members = new Map<string, Member>();
  readonly #selfId: string;
  readonly #out: Outbox;
  readonly #leader: () => string | null;
  #view = 0;
  #refuted = 0;

  /** Creates an empty table; `leader` tells which member to mark as leader in events. */
  constructor(selfId: string, out: Outbox, leader: () => string | null) {
    this.#selfId = selfId;
    this.#out = out;
    this.#leader = leader;
  }

  /** The view number: grows by one on every join, state change and forget. */
  get view(): number {
    return this.#view;
  }

  /** How many suspicions were refuted by a sign of life. */
  get refuted(): number {
    return this.#refuted;
  }

  /** The member with this id, if known. */
  get(id: string): Member | undefined {
    return this.#members.get(id);
  }

  /** Every known member, in insertion order. */
  members(): IterableIterator<Member> {
    return this.#members.values();
  }

  /**
   * Records a message received directly from `sender`: proof that it is alive. An unknown sender
   * is added only when `info` (its priority) is given; a message from an older incarnation, or
   * from the incarnation that left, is `stale` and changes nothing.
   */
  heard(sender: Sender, now: number, viaGroup: boolean, info?: SenderInfo): Heard {
    const known = this.#members.get(sender.id);
    if (!known) {
      if (!info || sender.id === this.#selfId) return { sighting: "unknown" };
      if (sender.role === "server") this.#replaceDeadOn(sender.addr.host);
      const member = this.#add(sender, info.priority, now);
      member.joining = info.joining ?? false;
      member.heardFrom = true;
      if (viaGroup) member.groupHeardAt = now;
      return { sighting: "new", member };
    }
    if (sender.incarnation < known.incarnation) return { sighting: "stale" };
    if (sender.incarnation === known.incarnation && known.state === "left") {
      return { sighting: "stale" };
    }
    known.addr = sender.addr;
    known.heardFrom = true;
    known.lastHeard = now;
    known.silentSince = now;
    if (viaGroup) known.groupHeardAt = now;
    if (info) {
      known.priority = info.priority;
      known.joining = info.joining ?? known.joining;
    }
    if (sender.incarnation > known.incarnation) {
      known.incarnation = sender.incarnation;
      known.role = sender.role;
      if (!info) known.joining = false;
      this.#change(known, "alive", now);
      this.#out.notify({ type: "member-joined", member: this.#viewOf(known, now) });
      return { sighting: "restarted", member: known };
    }
    if (known.state === "alive") return { sighting: "seen", member: known };
    const was = known.state;
    this.#change(known, "alive", now);
    if (was === "suspect") this.#refuted++;
    this.#out.notify({ type: "member-alive-again", member: this.#viewOf(known, now) });
    return { sighting: was === "suspect" ? "refuted" : "returned", member: known };
  }

  /** Records second-hand proof that a suspect is alive (a relayed ack). */
  confirm(id: string, now: number): void {
    const member = this.#members.get(id);
    if (!member || (member.state !== "alive" && member.state !== "suspect")) return;
    member.silentSince = now;
    if (member.state === "alive") return;
    this.#change(member, "alive", now);
    this.#refuted++;
    this.#out.notify({ type: "member-alive-again", member: this.#viewOf(member, now) });
  }

  /** Adds a member another server vouches for, unless already known; true when added. */
  vouch(entry: MemberEntry, now: number): boolean {
    if (entry.id === this.#selfId || this.#members.has(entry.id)) return false;
    const sender: Sender = {
      id: entry.id,
      incarnation: entry.incarnation,
      role: entry.role,
      addr: { host: entry.host, port: entry.port },
    };
    this.#add(sender, entry.priority, now);
    return true;
  }

  /** Marks a live member suspect. */
  suspect(member: Member, now: number): void {
    this.#change(member, "suspect", now);
    this.#out.notify({ type: "member-suspect", member: this.#viewOf(member, now) });
  }

  /** Declares a member dead. */
  kill(member: Member, now: number): void {
    this.#change(member, "dead", now);
    this.#out.notify({ type: "member-dead", member: this.#viewOf(member, now) });
  }

  /** Marks `sender` as left; returns its record, or undefined when that was nothing new. */
  leave(sender: Sender, now: number): Member | undefined {
    const member = this.#members.get(sender.id);
    if (!member || member.incarnation !== sender.incarnation || member.state === "left") {
      return undefined;
    }
    this.#change(member, "left", now);
    this.#out.notify({ type: "member-left", member: this.#viewOf(member, now) });
    return member;
  }

  /** Gives every live member a fresh grace period from `now` (after this process stalled). */
  regrace(now: number): void {
    for (const member of this.#members.values()) {
      if (member.state === "alive" || member.state === "suspect") member.silentSince = now;
    }
  }

  /**
   * Drops members that left (and dead clients) at least `afterMs` ago, and dead servers after
   * `deadServerAfterMs`; of the dead servers it keeps at most `maxDeadServers`, forgetting the
   * longest-dead first. Dead servers are remembered longer so that a healed partition merges.
   */
  forget(now: number, afterMs: number, deadServerAfterMs: number, maxDeadServers: number): void {
    const deadServers: Member[] = [];
    for (const member of this.#members.values()) {
      const deadServer = member.state === "dead" && member.role === "server";
      const after = deadServer ? deadServerAfterMs : afterMs;
      if ((member.state === "dead" || member.state === "left") && now - member.changedAt >= after) {
        this.#drop(member);
      } else if (deadServer) {
        deadServers.push(member);
      }
    }
    if (deadServers.length <= maxDeadServers) return;
    deadServers.sort((a, b) => a.changedAt - b.changedAt);
    for (const member of deadServers.slice(0, deadServers.length - maxDeadServers)) {
      this.#drop(member);
    }
  }

  /** Every member as shown to the rest of the program, sorted by id. */
  snapshot(now: number): MemberView[] {
    return [...this.#members.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((member) => this.#viewOf(member, now));
  }

  #add(sender: Sender, priority: number, now: number): Member {
    const member: Member = {
      id: sender.id,
      role: sender.role,
      addr: sender.addr,
      incarnation: sender.incarnation,
      priority,
      state: "alive",
      lastHeard: now,
      silentSince: now,
      changedAt: now,
      groupHeardAt: -Infinity,
      joining: false,
      heardFrom: false,
    };
    this.#members.set(member.id, member);
    this.#view++;
    this.#out.notify({ type: "member-joined", member: this.#viewOf(member, now) });
    return member;
  }

  /**
   * A new server speaks from `host`: the host is up, so the servers declared dead there crashed
   * (a restart with another id, e.g. a new port with `--unicast-port 0`). They are forgotten at
   * once instead of being counted as lost for `forgetDeadAfterMs`.
   */
  #replaceDeadOn(host: string): void {
    for (const member of [...this.#members.values()]) {
      if (member.role === "server" && member.state === "dead" && member.addr.host === host) {
        this.#drop(member);
      }
    }
  }

  #drop(member: Member): void {
    this.#members.delete(member.id);
    this.#view++;
  }

  #change(member: Member, state: MemberState, now: number): void {
    member.state = state;
    member.changedAt = now;
    this.#view++;
  }

  #viewOf(member: Member, now: number): MemberView {
    return {
      id: member.id,
      role: member.role,
      addr: member.addr,
      incarnation: member.incarnation,
      priority: member.priority,
      state: member.state,
      lastHeardAgeMs: Math.max(0, now - member.lastHeard),
      isLeader: member.id === this.#leader(),
    };
  }
}

/** True for a member that counts as present: alive or suspect. */
export function isLive(member: Member | undefined): member is Member {
  return member !== undefined && (member.state === "alive" || member.state === "suspect");
}
