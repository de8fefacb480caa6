/**
 * The server protocol core: discovery, heartbeats, the group view, failure detection and the
 * Bully election of one server, as one pure, deterministic state machine (the etcd/raft model).
 *
 * The server node (`../server/node.ts`) feeds it events (`start`, every datagram `receive`d, a
 * `tick` with the monotonic time, `stop`) through {@linkcode ServerCore.step} and passes on the
 * actions it returns (send, multicast, notify). It owns no socket, timer or clock and never reads
 * `Date.now()` or `Math.random()`. It ignores `discover`/`discover-reply` (the node answers those)
 * and envelopes from itself. The parts it wires together live beside it in this folder (table,
 * detector, split detection) and in `../election/` (Bully, order). After a partition it finds the
 * other side again with the merge probe: its heartbeat, unicast to every server it declared dead.
 *
 * @module
 */

import type { TimingConfig } from "../config/mod.ts";
import { Bully } from "../election/bully.ts";
import type { SplitView, ViewSnapshot } from "./events.ts";
import { FailureDetector } from "./detector.ts";
import { type CoreAction, Outbox } from "./outbox.ts";
import { copySplit, SplitDetector } from "./split.ts";
import { isLive, type Member, MemberTable } from "./table.ts";
import type { Address } from "../transport/types.ts";
import { SeededRandom } from "../util/random.ts";
import {
  type Body,
  type Envelope,
  type HeartbeatBody,
  MAX_WELCOME_MEMBERS,
  type MemberEntry,
  type Sender,
  type ServerStatus,
  type WelcomeBody,
} from "../wire/messages.ts";

export type { CoreAction } from "./outbox.ts";
export type { ClusterEvent, MemberState, MemberView, SplitView, ViewSnapshot } from "./events.ts";

/** What a {@linkcode ServerCore} needs to know about its server. */
export interface CoreOptions {
  /** This server as it appears in every datagram (role `"server"`). */
  self: Sender;
  /** Bully priority (higher ranks higher; ties broken by id, see `compareOrder`). */
  priority: number;
  /** Protocol timing (`defaultLanConfig().timing` in production). */
  timing: TimingConfig;
  /** Unicast seeds (`--peers`): probed at start and sent every heartbeat. */
  seeds: Address[];
  /** dsys version, carried in heartbeats. */
  version: string;
  /** Numbers in [0, 1) for picking probe helpers; default: seeded from the id and incarnation. */
  random?: () => number;
}

/** One input to the core; `now` is monotonic milliseconds. */
export type CoreEvent =
  | { type: "start"; now: number }
  | { type: "receive"; envelope: Envelope; viaGroup: boolean; now: number }
  | { type: "tick"; now: number }
  /**
   * The liveness connection to the server at `addr` closed: its process probably ended. Evidence,
   * not proof (a close can be forged on the path): the server is probed at once, and declared
   * dead only if it does not answer.
   */
  | { type: "peer-closed"; addr: Address; now: number }
  | { type: "stop"; now: number };

/** The parts of a view that change rarely; see {@linkcode ServerCore.headline}. */
export interface ViewHeadline {
  /** The view number. */
  view: number;
  /** The leader this server follows (itself when it leads), or null. */
  leader: string | null;
  /** The leader's term. */
  term: number;
  /** The split while there is one; the same object until it changes. */
  split: Readonly<SplitView> | undefined;
}

/** Protocol counters of one server. */
export interface CoreStats {
  /** Elections this server started. */
  electionsStarted: number;
  /** Elections this server won. */
  electionsWon: number;
  /** Changes of this server's view (equals its view number). */
  viewChanges: number;
  /** Members this server suspected. */
  suspicions: number;
  /** Suspicions ended by a sign of life. */
  suspicionsRefuted: number;
  /** Members this server declared dead. */
  deathsDeclared: number;
  /** Times this server found it had itself been stalled, and re-checked instead of accusing. */
  stallsDetected: number;
}

type Phase = "new" | "discovering" | "running" | "stopped";

/** The protocol state machine of one dsys server. */
export class ServerCore {
  readonly #o: CoreOptions;
  readonly #out = new Outbox();
  readonly #table: MemberTable;
  readonly #detector: FailureDetector;
  readonly #bully: Bully;
  readonly #split: SplitDetector;
  #phase: Phase = "new";
  #probeTimes: number[] = [];
  #discoveryEndsAt = 0;
  #nextHeartbeatAt = 0;
  #nextMergeProbeAt = 0;
  #lastEventAt = 0;
  #lastTickJudged = true;
  #holdUntil = 0;
  #reportedView = 0;
  #stalls = 0;

  /** Creates a server core; nothing happens until the `start` event. */
  constructor(options: CoreOptions) {
    this.#o = options;
    const random = options.random ?? seededFrom(options.self);
    this.#table = new MemberTable(options.self.id, this.#out, () => this.#bully.leader);
    this.#detector = new FailureDetector({
      self: options.self,
      timing: options.timing,
      table: this.#table,
      out: this.#out,
      random,
    });
    this.#bully = new Bully({
      self: options.self,
      priority: options.priority,
      timing: options.timing,
      table: this.#table,
      out: this.#out,
    });
    this.#split = new SplitDetector(this.#table, this.#out, options.timing);
  }

  /** Feeds one event and returns what the runtime must do, in order. */
  step(event: CoreEvent): CoreAction[] {
    if (this.#phase === "stopped") return [];
    if (event.type === "start") {
      if (this.#phase === "new") this.#start(event.now);
    } else if (this.#phase !== "new") {
      const judge = this.#clock(event.now, event.type === "tick");
      if (event.type === "receive") this.#receive(event.envelope, event.viaGroup, event.now);
      else if (event.type === "tick") this.#tick(event.now, judge);
      else if (event.type === "peer-closed") this.#detector.onClosed(event.addr, event.now);
      else this.#stop();
    } else if (event.type === "stop") {
      this.#phase = "stopped";
    }
    if (this.#table.view !== this.#reportedView) {
      this.#reportedView = this.#table.view;
      this.#out.notify({ type: "view-changed", view: this.#reportedView });
    }
    return this.#out.drain();
  }

  /**
   * The earliest monotonic time at which a `tick` can do anything, as of the last event: the
   * next heartbeat, the next merge probe while a dead server is there to probe, or the first live
   * member's suspicion. While anything is in
   * motion — discovery, an election, a verification, a change within the split detector's windows —
   * that is now, and the runtime ticks at its finest grain.
   */
  dueAt(): number {
    const now = this.#lastEventAt;
    if (this.#phase !== "running") return this.#phase === "stopped" ? Infinity : now;
    if (!this.#bully.idle || this.#detector.verifying) return now;
    const { suspectAfterMs, mergeProbeIntervalMs, splitSettleMs, splitBurstMs } = this.#o.timing;
    let due = this.#nextHeartbeatAt;
    for (const member of this.#table.members()) {
      if (member.state === "suspect") return now;
      if (now - member.changedAt < splitSettleMs + splitBurstMs) return now;
      if (member.state === "alive") due = Math.min(due, member.silentSince + suspectAfterMs);
      if (isMergeProbed(member)) due = Math.min(due, this.#nextMergeProbeAt);
    }
    return Math.min(due, now + mergeProbeIntervalMs);
  }

  /** This server's view of the group, itself first, with the split while there is one. */
  view(): ViewSnapshot {
    const { self, priority } = this.#o;
    const leader = this.#bully.leader;
    return {
      view: this.#table.view,
      members: [
        {
          id: self.id,
          role: self.role,
          addr: self.addr,
          incarnation: self.incarnation,
          priority,
          state: this.#phase === "stopped" ? "left" : "alive",
          lastHeardAgeMs: 0,
          isLeader: leader === self.id,
        },
        ...this.#table.snapshot(this.#lastEventAt),
      ],
      leader,
      term: this.#bully.term,
      ...(this.#split.split ? { split: copySplit(this.#split.split) } : {}),
    };
  }

  /** The leader this server follows (itself when it leads) and its term. */
  leader(): { id: string | null; term: number } {
    return { id: this.#bully.leader, term: this.#bully.term };
  }

  /**
   * What the chat layer follows — the view number, the leader, its term and the split (a new
   * object whenever it changes) — without building the member list as {@linkcode ServerCore.view}
   * does.
   */
  headline(): ViewHeadline {
    return {
      view: this.#table.view,
      leader: this.#bully.leader,
      term: this.#bully.term,
      split: this.#split.split,
    };
  }

  /** Protocol counters. */
  stats(): CoreStats {
    return {
      electionsStarted: this.#bully.started,
      electionsWon: this.#bully.won,
      viewChanges: this.#table.view,
      suspicions: this.#detector.suspicions,
      suspicionsRefuted: this.#table.refuted,
      deathsDeclared: this.#detector.deaths,
      stallsDetected: this.#stalls,
    };
  }

  #start(now: number): void {
    const { timing } = this.#o;
    this.#phase = "discovering";
    this.#lastEventAt = now;
    this.#discoveryEndsAt = now + timing.discoveryWindowMs;
    for (let k = 1; k < timing.discoveryAttempts; k++) {
      const at = timing.heartbeatIntervalMs * 2 ** (k - 1);
      if (at < timing.discoveryWindowMs) this.#probeTimes.push(now + at);
    }
    this.#heartbeat(now);
  }

  /**
   * Moves the clock to `now` and tells whether a tick at `now` may judge (suspect, declare dead,
   * let an election deadline expire). A gap of `stallThresholdMs` since the previous event means
   * this process was stalled: every member gets a fresh grace period. After a stall, or a gap of
   * more than two tick intervals, datagrams may still be queued behind this event, so verdicts
   * wait one tick interval; a process whose every tick is late holds back only every other one.
   */
  #clock(now: number, isTick: boolean): boolean {
    const { stallThresholdMs, tickIntervalMs } = this.#o.timing;
    const gap = now - this.#lastEventAt;
    this.#lastEventAt = Math.max(this.#lastEventAt, now);
    if (gap >= stallThresholdMs) {
      this.#stalls++;
      this.#table.regrace(now);
      this.#detector.regrace();
      this.#bully.regrace(now);
      this.#holdUntil = now + tickIntervalMs;
    } else if (gap > 2 * tickIntervalMs && this.#lastTickJudged) {
      this.#holdUntil = now + tickIntervalMs;
    }
    const judge = now >= this.#holdUntil;
    if (isTick) this.#lastTickJudged = judge;
    return judge;
  }

  #tick(now: number, judge: boolean): void {
    const { timing } = this.#o;
    if (this.#phase === "discovering") {
      if (this.#probeTimes.length > 0 && this.#probeTimes[0] <= now) {
        while (this.#probeTimes.length > 0 && this.#probeTimes[0] <= now) this.#probeTimes.shift();
        this.#heartbeat(now);
      }
      if (now >= this.#discoveryEndsAt) {
        this.#phase = "running";
        this.#bully.endDiscovery();
        this.#nextHeartbeatAt = now;
      }
    }
    for (const member of this.#detector.tick(now, judge)) this.#bully.memberGone(member, now);
    this.#bully.tick(now, judge);
    if (this.#phase === "running" && now >= this.#nextHeartbeatAt) {
      this.#heartbeat(now);
      this.#nextHeartbeatAt += timing.heartbeatIntervalMs;
      if (this.#nextHeartbeatAt <= now) this.#nextHeartbeatAt = now + timing.heartbeatIntervalMs;
    }
    if (this.#phase === "running" && now >= this.#nextMergeProbeAt) {
      this.#mergeProbe();
      this.#nextMergeProbeAt = now + timing.mergeProbeIntervalMs;
    }
    this.#table.forget(now, timing.forgetAfterMs, timing.forgetDeadAfterMs, timing.maxDeadServers);
    this.#split.tick(now);
  }

  /**
   * The merge probe (JGroups MERGE3, but fast): unicasts this server's heartbeat to the last
   * address of every server declared dead that it once heard from (not to an address only a
   * welcome named: a forged one would aim ten minutes of probes at another host). After a partition heals, the other side hears it even
   * where multicast is lost or absent; the heartbeat makes the sender alive again there, and the
   * welcome it answers with makes that side alive again here.
   */
  #mergeProbe(): void {
    let body: Body | undefined;
    for (const member of this.#table.members()) {
      if (!isMergeProbed(member)) continue;
      body ??= { kind: "heartbeat", ...this.#status() };
      this.#out.send(member.addr, body);
    }
  }

  #stop(): void {
    this.#broadcast({ kind: "leave" }, this.#lastEventAt);
    this.#phase = "stopped";
  }

  #receive(envelope: Envelope, viaGroup: boolean, now: number): void {
    const { sender, body } = envelope;
    if (sender.id === this.#o.self.id) return;
    const table = this.#table;
    switch (body.kind) {
      case "heartbeat":
      case "welcome":
        if (sender.role === "server") this.#onStatus(sender, body, viaGroup, now);
        return;
      case "election":
      case "coordinator": {
        if (sender.role !== "server") return;
        const { member } = table.heard(sender, now, viaGroup, { priority: body.priority });
        if (!member) return;
        if (body.kind === "election") this.#bully.onElection(member, body.term, now);
        else this.#bully.onClaim(member, body.term, now);
        return;
      }
      case "answer":
        if (table.heard(sender, now, viaGroup).sighting !== "stale") {
          this.#bully.onAnswer(sender.id, body.term, now);
        }
        return;
      case "ping":
        if (table.heard(sender, now, viaGroup).sighting !== "stale") {
          this.#detector.onPing(sender, body.nonce);
        }
        return;
      case "ack":
        if (table.heard(sender, now, viaGroup).sighting !== "stale") {
          this.#detector.onAck(sender, body, now);
        }
        return;
      case "ping-req":
        if (table.heard(sender, now, viaGroup).sighting !== "stale") {
          this.#detector.onPingReq(sender, body, now);
        }
        return;
      case "leave": {
        const member = table.leave(sender, now);
        if (member) this.#bully.memberGone(member, now);
        return;
      }
      default:
        return;
    }
  }

  #onStatus(
    sender: Sender,
    body: HeartbeatBody | WelcomeBody,
    viaGroup: boolean,
    now: number,
  ): void {
    const { sighting, member } = this.#table.heard(sender, now, viaGroup, {
      priority: body.priority,
      joining: body.joining,
    });
    if (!member) return;
    if (body.leader === sender.id) this.#bully.onClaim(member, body.term, now);
    else this.#bully.noteTerm(body.term);
    if (body.kind === "welcome") {
      for (const entry of body.members) this.#table.vouch(entry, now);
    } else if (
      body.joining || sighting === "new" || sighting === "restarted" || sighting === "returned"
    ) {
      this.#out.send(sender.addr, { kind: "welcome", ...this.#status(), members: this.#entries() });
    }
  }

  #status(): ServerStatus {
    return {
      version: this.#o.version,
      priority: this.#o.priority,
      leader: this.#bully.leader ?? "",
      term: this.#bully.term,
      view: this.#table.view,
      joining: this.#phase === "discovering",
    };
  }

  #entries(): MemberEntry[] {
    const entries: MemberEntry[] = [];
    for (const member of this.#table.members()) {
      if (entries.length >= MAX_WELCOME_MEMBERS) break;
      if (!isLive(member)) continue;
      entries.push({
        id: member.id,
        role: member.role,
        host: member.addr.host,
        port: member.addr.port,
        incarnation: member.incarnation,
        priority: member.priority,
      });
    }
    return entries;
  }

  #heartbeat(now: number): void {
    this.#broadcast({ kind: "heartbeat", ...this.#status() }, now);
  }

  /**
   * Multicasts `body`, and unicasts it to every seed and to every live member not heard over
   * multicast for `suspectAfterMs` (so that a cluster works where multicast does not pass).
   */
  #broadcast(body: Body, now: number): void {
    const { self, seeds, timing } = this.#o;
    this.#out.multicast(body);
    const sent = new Set<string>([addressKey(self.addr)]);
    const unicast = (to: Address): void => {
      const key = addressKey(to);
      if (sent.has(key)) return;
      sent.add(key);
      this.#out.send(to, body);
    };
    for (const seed of seeds) unicast(seed);
    for (const member of this.#table.members()) {
      if (isLive(member) && now - member.groupHeardAt > timing.suspectAfterMs) {
        unicast(member.addr);
      }
    }
  }
}

function addressKey(address: Address): string {
  return `${address.host}:${address.port}`;
}

function seededFrom(self: Sender): () => number {
  let hash = self.incarnation % 0x1_0000_0000;
  for (let i = 0; i < self.id.length; i++) {
    hash = Math.imul(hash ^ self.id.charCodeAt(i), 0x01000193);
  }
  const random = new SeededRandom(hash >>> 0);
  return () => random.next();
}

/** True for a member the merge probe goes to: a server declared dead that this server heard from. */
function isMergeProbed(member: Member): boolean {
  return member.role === "server" && member.state === "dead" && member.heardFrom;
}
