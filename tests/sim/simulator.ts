/**
 * A seeded discrete-event simulator of a dsys cluster: N servers, each the `ServerNode` the
 * runtime runs (membership, Bully, the chat core, the guard, defer/flush), over a simulated network
 * with loss, duplication, delay jitter (hence reordering), partitions, crashes, restarts and
 * pauses, in simulated time only.
 *
 * It owns the simulated network and processes; it checks nothing itself: an observer
 * (`invariants.ts`) sees every step. Given the same seed and the same calls it does exactly the
 * same thing, so a failing run replays from its seed.
 *
 * @module
 */

import { defaultLanConfig, type TimingConfig } from "../../src/config/mod.ts";
import type { ServerCore } from "../../src/membership/core.ts";
import {
  type NodeAction,
  type NodeEvent,
  SERVER_SKIPS,
  ServerNode,
} from "../../src/server/node.ts";
import type { Address } from "../../src/transport/types.ts";
import { SeededRandom } from "../../src/util/random.ts";
import type { Sender } from "../../src/wire/messages.ts";
import { SimClock } from "./queue.ts";
import { defaultWireMode, type Packet, SIM_SECURITY, SimWire, type WireMode } from "./wire.ts";

/** Wall-clock time of simulated time 0 (ms since the epoch). */
const EPOCH = 1_750_000_000_000;

/** How the simulated network treats every datagram. */
export interface NetworkModel {
  /** Base one-way latency (ms). */
  latencyMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per datagram; reorders datagrams (ms). */
  jitterMs: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a datagram is delivered twice. */
  duplicate: number;
  /** False: multicast does not pass, servers find each other through seeds only. */
  multicast: boolean;
}

/** How each simulated process is scheduled. */
export interface SchedulingModel {
  /** Extra delay of every tick, uniform in [0, tickJitterMs) (ms). */
  tickJitterMs: number;
  /** Probability per tick that the process hiccups (a GC or a busy core) and processes nothing. */
  hiccupChance: number;
  /** Longest hiccup (ms); a hiccup lasts uniformly up to this. */
  hiccupMaxMs: number;
}

/** One simulated server. */
export interface ServerSpec {
  /** Node id. */
  id: string;
  /** Bully priority. */
  priority: number;
}

/** What a {@linkcode Simulation} needs. */
export interface SimOptions {
  /** Seed of every random choice. */
  seed: number;
  /** Protocol timing of every server. */
  timing: TimingConfig;
  /** The network. */
  network: NetworkModel;
  /** Process scheduling; default: 2 ms tick jitter, no hiccups. */
  scheduling?: SchedulingModel;
  /** Give every server every server's address as a seed (`--peers`). */
  seedAll?: boolean;
  /** How datagrams travel (see `wire.ts`); default {@linkcode defaultWireMode}. */
  wire?: WireMode;
}

/** Sees every step of every server; may throw to stop the run. */
export interface SimObserver {
  /** Called after a server processed an event, with the actions it returned. */
  afterStep(node: SimNode, event: NodeEvent, actions: NodeAction[]): void;
}

/** One simulated process slot: a server that may be up, down or paused. */
export class SimNode {
  /** Node id. */
  readonly id: string;
  /** Bully priority. */
  readonly priority: number;
  /** Its unicast address. */
  readonly addr: Address;
  /** The running server node, or null while down. */
  node: ServerNode | null = null;
  /** Incarnation of the running (or last) process. */
  incarnation = 0;
  /** True while paused (stopped or hiccuping): it processes nothing, datagrams queue up. */
  paused = false;
  /** True while paused by {@linkcode Simulation.pause} (SIGSTOP), not by a scheduling hiccup. */
  stopped = false;
  /** Last time it started, crashed, left, paused or woke (ms); scheduling hiccups do not count. */
  disturbedAt = -Infinity;
  /** Bumped whenever the process changes (crash, restart): ends stale tick loops. */
  epoch = 0;
  /** Bumped on every pause: only the latest pause's wake-up counts. */
  pauses = 0;
  /** Datagrams that arrived while paused. */
  pending: { packet: Packet; viaGroup: boolean }[] = [];
  /** True when a tick fell due while paused. */
  tickDue = false;
  /** True when the node's `flush` fell due while paused. */
  flushDue = false;
  /** The running (or last) process's gate to the network: codec, replay window, bindings. */
  wire: SimWire | null = null;

  /** Creates a slot; the process is down until started. */
  constructor(spec: ServerSpec, index: number) {
    this.id = spec.id;
    this.priority = spec.priority;
    this.addr = { host: `10.0.0.${index + 1}`, port: 7401 };
  }

  /** True while a process runs in this slot. */
  get up(): boolean {
    return this.node !== null;
  }

  /** The membership core of the running process, or null while down. */
  get core(): ServerCore | null {
    return this.node?.core ?? null;
  }

  /** The envelope sender of the running process. */
  sender(): Sender {
    return { id: this.id, incarnation: this.incarnation, role: "server", addr: this.addr };
  }
}

const DEFAULT_SCHEDULING: SchedulingModel = { tickJitterMs: 2, hiccupChance: 0, hiccupMaxMs: 0 };

/** A simulated cluster and network, advanced by {@linkcode Simulation.run}. */
export class Simulation extends SimClock {
  /** Every random choice comes from here. */
  readonly rng: SeededRandom;
  /** Protocol timing. */
  readonly timing: TimingConfig;
  /** The network model (may be changed between steps). */
  network: NetworkModel;
  /** Observers of every step. */
  readonly observers: SimObserver[] = [];
  /** Last time the partition changed (ms). */
  partitionChangedAt = -Infinity;
  /** Datagrams sent (a multicast counts once per receiver). */
  readonly traffic = { sent: 0 };
  readonly #scheduling: SchedulingModel;
  readonly #nodes: SimNode[] = [];
  readonly #byId = new Map<string, SimNode>();
  readonly #byAddress = new Map<string, SimNode>();
  readonly #group = new Map<string, number>();
  readonly #seedAll: boolean;
  readonly #wire: WireMode;

  /** Creates a simulation with no servers. */
  constructor(options: SimOptions) {
    super(5);
    this.rng = new SeededRandom(options.seed);
    this.timing = options.timing;
    this.network = options.network;
    this.#scheduling = options.scheduling ?? DEFAULT_SCHEDULING;
    this.#seedAll = options.seedAll ?? false;
    this.#wire = options.wire ?? defaultWireMode();
  }

  /** Adds a server slot (down until {@linkcode Simulation.start}). */
  add(spec: ServerSpec): SimNode {
    const node = new SimNode(spec, this.#nodes.length);
    this.#nodes.push(node);
    this.#byId.set(node.id, node);
    this.#byAddress.set(key(node.addr), node);
    return node;
  }

  /** Every slot, in the order added. */
  get nodes(): readonly SimNode[] {
    return this.#nodes;
  }

  /** The slot with this id. */
  node(id: string): SimNode {
    const node = this.#byId.get(id);
    if (!node) throw new Error(`no simulated server ${id}`);
    return node;
  }

  /** Starts (or restarts, with a higher incarnation) the process in a slot. */
  start(id: string): void {
    const node = this.node(id);
    if (node.up) return;
    node.incarnation++;
    node.epoch++;
    node.paused = false;
    node.stopped = false;
    node.pending = [];
    node.tickDue = false;
    node.flushDue = false;
    node.wire = new SimWire(node.sender(), this.#wire, SERVER_SKIPS);
    node.disturbedAt = this.now;
    const { chat } = defaultLanConfig();
    node.node = new ServerNode({
      self: node.sender(),
      priority: node.priority,
      config: { timing: this.timing, chat, security: SIM_SECURITY },
      seeds: this.#seedAll ? this.#nodes.map((n) => n.addr) : [],
      version: "sim",
      random: () => this.rng.next(),
      rejections: () => node.wire!.rejections(),
    });
    this.#step(node, { type: "start", now: this.now, wall: this.#wall() });
    this.#scheduleTick(node, node.epoch, this.rng.next() * this.timing.tickIntervalMs);
  }

  /**
   * Kills the process in a slot (SIGKILL): its state is lost, nothing more is sent. Its host
   * stays up, so the servers that can reach it see their liveness connection to it close one
   * latency later (a paused one when it wakes is not modelled: it hears the silence instead).
   */
  crash(id: string): void {
    const node = this.node(id);
    if (!node.up) return;
    for (const other of this.#nodes) {
      if (other === node || !other.up || !this.connected(node, other)) continue;
      const epoch = other.epoch;
      this.queue.push(this.now + this.network.latencyMs, () => {
        if (other.up && other.epoch === epoch && !other.paused) {
          this.#step(other, { type: "peer-closed", addr: node.addr, now: this.now });
        }
      });
    }
    this.#end(node);
  }

  /** Ends the process in a slot: its state is lost, nothing more is sent. */
  #end(node: SimNode): void {
    node.node = null;
    node.epoch++;
    node.paused = false;
    node.stopped = false;
    node.pending = [];
    node.disturbedAt = this.now;
  }

  /** Stops the process in a slot cleanly (SIGTERM): it wakes if paused, says goodbye, exits. */
  leave(id: string): void {
    const node = this.node(id);
    if (!node.up) return;
    if (node.paused) this.#wake(node, node.pauses, node.stopped);
    this.#step(node, { type: "stop", now: this.now });
    this.#end(node);
  }

  /**
   * Pauses a process (SIGSTOP) for `ms`. On waking, its queued datagrams and the overdue tick
   * arrive late, in a random one of the orders a runtime may produce: the tick after the
   * datagrams, before them, or twice (a timer catching up) before them.
   */
  pause(id: string, ms: number): void {
    const node = this.node(id);
    if (!node.up || node.stopped) return;
    node.disturbedAt = this.now;
    this.#suspend(node, ms, true);
  }

  /** Splits the network: groups cannot hear each other; unlisted servers form one more group. */
  partition(groups: string[][]): void {
    this.#group.clear();
    groups.forEach((ids, index) => {
      for (const id of ids) this.#group.set(id, index + 1);
    });
    this.partitionChangedAt = this.now;
  }

  /** Removes every partition. */
  heal(): void {
    this.#group.clear();
    this.partitionChangedAt = this.now;
  }

  /** The latest start, crash, pause, wake or partition change (ms). */
  get lastDisturbance(): number {
    let latest = this.partitionChangedAt;
    for (const node of this.#nodes) latest = Math.max(latest, node.disturbedAt);
    return latest;
  }

  /** True when `a` and `b` can hear each other. */
  connected(a: SimNode, b: SimNode): boolean {
    return (this.#group.get(a.id) ?? 0) === (this.#group.get(b.id) ?? 0);
  }

  /** The running servers, except stopped ones, grouped by what can hear what. */
  components(): SimNode[][] {
    const byGroup = new Map<number, SimNode[]>();
    for (const node of this.#nodes) {
      if (!node.up || node.stopped) continue;
      const group = this.#group.get(node.id) ?? 0;
      const members = byGroup.get(group);
      if (members) members.push(node);
      else byGroup.set(group, [node]);
    }
    return [...byGroup.values()];
  }

  #scheduleTick(node: SimNode, epoch: number, delay: number): void {
    this.queue.push(this.now + delay, () => this.#tick(node, epoch));
  }

  #nextTickDelay(): number {
    return this.timing.tickIntervalMs + this.rng.next() * this.#scheduling.tickJitterMs;
  }

  #tick(node: SimNode, epoch: number): void {
    if (node.epoch !== epoch || !node.up) return;
    if (node.paused) {
      node.tickDue = true;
      return;
    }
    const { hiccupChance, hiccupMaxMs } = this.#scheduling;
    if (hiccupChance > 0 && this.rng.chance(hiccupChance)) {
      this.#suspend(node, this.rng.next() * hiccupMaxMs, false);
      node.tickDue = true;
      return;
    }
    this.#step(node, { type: "tick", now: this.now, wall: this.#wall() });
    this.#scheduleTick(node, epoch, this.#nextTickDelay());
  }

  #wall(): number {
    return EPOCH + Math.floor(this.now);
  }

  /** Pauses `node` for `ms`; a `disturbing` pause (not a scheduling hiccup) marks its wake. */
  #suspend(node: SimNode, ms: number, disturbing: boolean): void {
    node.paused = true;
    node.stopped = disturbing;
    const token = ++node.pauses;
    this.queue.push(this.now + ms, () => this.#wake(node, token, disturbing));
  }

  #wake(node: SimNode, token: number, disturbing: boolean): void {
    if (node.pauses !== token || !node.paused) return;
    node.paused = false;
    node.stopped = false;
    if (disturbing) node.disturbedAt = this.now;
    const pending = node.pending;
    node.pending = [];
    const ticksFirst = node.tickDue ? this.rng.int(3) : 0;
    const tick = { type: "tick", now: this.now, wall: this.#wall() } as const;
    for (let i = 0; i < ticksFirst; i++) this.#step(node, tick);
    for (const { packet, viaGroup } of pending) this.#receive(node, packet, viaGroup);
    if (node.flushDue) {
      node.flushDue = false;
      this.#step(node, { type: "flush", now: this.now });
    }
    if (ticksFirst === 0 && node.tickDue) this.#step(node, tick);
    if (node.tickDue) {
      node.tickDue = false;
      this.#scheduleTick(node, node.epoch, this.#nextTickDelay());
    }
  }

  #step(node: SimNode, event: NodeEvent): void {
    const server = node.node;
    if (!server) return;
    const actions = server.step(event);
    for (const observer of this.observers) observer.afterStep(node, event, actions);
    for (const action of actions) {
      if (action.type === "send") {
        const to = this.#byAddress.get(key(action.to));
        const packet = node.wire!.seal(action.body, this.#wall(), action.to);
        if (to && to !== node) this.#transmit(node, to, packet, false);
      } else if (action.type === "multicast" && this.network.multicast) {
        const packet = node.wire!.seal(action.body, this.#wall());
        for (const to of this.#nodes) {
          if (to !== node) this.#transmit(node, to, packet, true);
        }
      } else if (action.type === "flush-soon") {
        this.queue.push(this.now, () => this.#flush(node, node.epoch));
      }
    }
  }

  /** The runtime's `setImmediate` flush: after the datagrams of this instant, or on waking. */
  #flush(node: SimNode, epoch: number): void {
    if (node.epoch !== epoch || !node.up) return;
    if (node.paused) node.flushDue = true;
    else this.#step(node, { type: "flush", now: this.now });
  }

  #transmit(from: SimNode, to: SimNode, packet: Packet, viaGroup: boolean): void {
    this.traffic.sent++;
    if (!this.connected(from, to)) return;
    const { latencyMs, jitterMs, loss, duplicate } = this.network;
    if (loss > 0 && this.rng.chance(loss)) return;
    const copies = duplicate > 0 && this.rng.chance(duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.now + latencyMs + this.rng.next() * jitterMs;
      this.queue.push(at, () => this.#arrive(to, packet, viaGroup));
    }
  }

  #arrive(node: SimNode, packet: Packet, viaGroup: boolean): void {
    if (!node.up) return;
    if (node.paused) {
      node.pending.push({ packet, viaGroup });
      return;
    }
    this.#receive(node, packet, viaGroup);
  }

  /** Hands a datagram to the process through its gate, as its runtime would. */
  #receive(node: SimNode, packet: Packet, viaGroup: boolean): void {
    const envelope = node.wire!.open(packet, this.#wall());
    if (envelope) this.#step(node, { type: "receive", envelope, viaGroup, now: this.now });
  }
}

function key(address: Address): string {
  return `${address.host}:${address.port}`;
}
