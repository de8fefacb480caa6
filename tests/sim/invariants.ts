/**
 * What must hold in every simulated run: per-step invariants (checked after every step of every
 * server by {@linkcode InvariantChecker}) and the stable-state property
 * ({@linkcode stableProblem}), checked at the end of quiet periods.
 *
 * @module
 */

import type { TimingConfig } from "../../src/config/mod.ts";
import { documentedLeader } from "./expected_leader.ts";
import type { ClusterEvent, ViewSnapshot } from "../../src/membership/core.ts";
import type { NodeAction, NodeEvent } from "../../src/server/node.ts";
import type { SimNode, SimObserver, Simulation } from "./simulator.ts";

/** A broken invariant; the message says which, where and when. */
export class SimViolation extends Error {
  /** Creates a violation. */
  constructor(message: string) {
    super(message);
    this.name = "SimViolation";
  }
}

interface Progress {
  incarnation: number;
  term: number;
  view: number;
}

/** How many recent events a failure report shows. */
const TRACE_LINES = 80;

/**
 * Checks after every step: a server's term and view number never go back within one process; a
 * leader it names is itself or a live member of its view; and no server is suspected or declared
 * dead while it runs, is not stopped and is connected to its accuser, outside the detection
 * window after a disturbance of the accused (with no loss that is a violation, with loss it is
 * counted). A split it announces counts its live servers and the dead ones it still remembers,
 * with the majority flag that fits them, and it heals only when none is dead any more. During a
 * quiet hold on a lossless network (which starts once the detection window after the last
 * disturbance has passed) no election, suspicion, death, leader change, split or heal may happen
 * at all.
 */
export class InvariantChecker implements SimObserver {
  readonly #sim: Simulation;
  readonly #progress = new Map<string, Progress>();
  readonly #trace: string[] = [];
  /** True during a quiet hold (set by the schedule runner). */
  quiet = false;
  /** Deaths declared of servers that were in fact running, unpaused and connected. */
  falseDeaths = 0;
  /** Every death declared. */
  deaths = 0;
  /** Suspicions of servers that were running, unpaused and connected. */
  falseSuspicions = 0;
  /** Every election started. */
  elections = 0;
  /** Per server: how many times it began following another leader (a new leader named). */
  readonly leaderChanges = new Map<string, number>();

  /** Watches `sim`. */
  constructor(sim: Simulation) {
    this.#sim = sim;
    sim.observers.push(this);
  }

  /** The last events seen, one line each, for a failure report. */
  trace(): string {
    return this.#trace.join("\n");
  }

  /** See {@linkcode SimObserver.afterStep}. */
  afterStep(node: SimNode, _event: NodeEvent, actions: NodeAction[]): void {
    const core = node.core;
    if (!core) return;
    const { term } = core.leader();
    let progress = this.#progress.get(node.id);
    if (!progress || progress.incarnation !== node.incarnation) {
      progress = { incarnation: node.incarnation, term: 0, view: 0 };
      this.#progress.set(node.id, progress);
    }
    if (term < progress.term) {
      this.#fail(`${node.id}: term went back from ${progress.term} to ${term}`);
    }
    progress.term = term;
    for (const action of actions) {
      if (action.type === "notify") this.#onEvent(node, progress, action.event);
    }
  }

  #onEvent(node: SimNode, progress: Progress, event: ClusterEvent): void {
    const sim = this.#sim;
    this.#trace.push(`t=${sim.now.toFixed(1)} ${node.id}#${node.incarnation} ${describe(event)}`);
    if (this.#trace.length > TRACE_LINES) this.#trace.shift();
    const strict = sim.network.loss === 0;
    switch (event.type) {
      case "view-changed":
        if (event.view < progress.view) {
          this.#fail(`${node.id}: view went back from ${progress.view} to ${event.view}`);
        }
        progress.view = event.view;
        return;
      case "member-dead": {
        this.deaths++;
        if (this.#falselyAccused(node, event.member.id, event.member.incarnation)) {
          this.falseDeaths++;
          if (strict) {
            this.#fail(`${node.id} declared ${event.member.id} dead while it was reachable`);
          }
        }
        if (this.quiet && strict) this.#fail(`${node.id} declared a death during a quiet period`);
        return;
      }
      case "member-suspect":
        if (this.#falselyAccused(node, event.member.id, event.member.incarnation)) {
          this.falseSuspicions++;
          if (strict) this.#fail(`${node.id} suspected ${event.member.id} while it was reachable`);
        }
        if (this.quiet && strict) {
          this.#fail(`${node.id} suspected ${event.member.id} in a quiet period`);
        }
        return;
      case "split": {
        const problem = splitProblem(node.core!.view());
        if (problem) this.#fail(`${node.id} announced a wrong split: ${problem}`);
        if (this.quiet && strict) this.#fail(`${node.id} announced a split in a quiet period`);
        return;
      }
      case "healed": {
        const problem = splitProblem(node.core!.view());
        if (problem) this.#fail(`${node.id} healed wrongly: ${problem}`);
        if (this.quiet && strict) this.#fail(`${node.id} healed in a quiet period`);
        return;
      }
      case "election-started":
        this.elections++;
        if (this.quiet && strict) this.#fail(`${node.id} started an election in a quiet period`);
        return;
      case "leader-changed": {
        if (this.quiet && strict) this.#fail(`${node.id} changed leader in a quiet period`);
        if (event.leader === null) return;
        this.leaderChanges.set(node.id, (this.leaderChanges.get(node.id) ?? 0) + 1);
        if (event.leader === node.id) return;
        const member = node.core!.view().members.find((m) => m.id === event.leader);
        if (!member || (member.state !== "alive" && member.state !== "suspect")) {
          this.#fail(`${node.id} follows ${event.leader}, which is not a live member of its view`);
        }
        return;
      }
      default:
        return;
    }
  }

  #falselyAccused(accuser: SimNode, id: string, incarnation: number): boolean {
    const sim = this.#sim;
    const victim = sim.node(id);
    const window = detectionWindow(sim.timing);
    return victim.up && !victim.stopped && victim.incarnation === incarnation &&
      sim.connected(accuser, victim) && sim.now - victim.disturbedAt > window &&
      sim.now - sim.partitionChangedAt > window;
  }

  #fail(message: string): never {
    throw new SimViolation(`t=${this.#sim.now.toFixed(1)}: ${message}`);
  }
}

/**
 * How long after a disturbance (a start, crash, pause, wake or partition change) its effects may
 * still show: the silence that makes a death, plus the first heartbeat and a few ticks.
 */
export function detectionWindow(t: TimingConfig): number {
  return t.suspectAfterMs + t.probeTimeoutMs + 2 * t.heartbeatIntervalMs + 4 * t.tickIntervalMs;
}

/**
 * Why a server's announced split does not match its view, or null: a split must be announced
 * exactly while the view holds a dead server (one lost involuntarily and not yet forgotten),
 * count the live servers (itself included) of the full view (live and dead servers), and be a
 * majority exactly when it holds more than half of it.
 */
export function splitProblem(view: ViewSnapshot): string | null {
  const servers = view.members.filter((m) => m.role === "server");
  const live = servers.filter((m) => m.state === "alive" || m.state === "suspect").length;
  const dead = servers.filter((m) => m.state === "dead").length;
  const split = view.split;
  if (!split) return dead === 0 ? null : `${dead} dead servers but no split`;
  if (dead === 0) return `split ${JSON.stringify(split)} with no dead server`;
  if (split.servers !== live || split.of !== live + dead) {
    return `split ${JSON.stringify(split)}, but ${live} live and ${dead} dead servers`;
  }
  if (split.majority !== split.servers > split.of / 2) {
    return `split ${JSON.stringify(split)} has the wrong majority flag`;
  }
  const missing = split.missing.map((m) => m.id).sort().join(" ");
  const deadIds = servers.filter((m) => m.state === "dead").map((m) => m.id).sort().join(" ");
  if (missing !== deadIds) return `split misses [${missing}], the dead servers are [${deadIds}]`;
  return null;
}

/**
 * Why the cluster is not (yet) stable, or null when it is: in every connected component of
 * running servers that are not stopped (a stopped one counts as gone; a hiccup does not), every
 * server follows the component's highest-ordered server, and its live members (alive or
 * suspect, itself included) are exactly the component, each at its current incarnation; and its
 * split matches its view ({@linkcode splitProblem}): after a heal that reaches every running
 * server, only servers that are really down may still count as lost.
 */
export function stableProblem(sim: Simulation): string | null {
  for (const component of sim.components()) {
    const expected = documentedLeader(component);
    const ids = component.map((n) => n.id).sort();
    for (const node of component) {
      const view = node.core!.view();
      if (view.leader !== expected.id) {
        return `${node.id} follows ${view.leader} (term ${view.term}), expected ${expected.id}`;
      }
      const live = view.members.filter((m) => m.state === "alive" || m.state === "suspect");
      const seen = live.map((m) => m.id).sort();
      if (seen.join() !== ids.join()) {
        return `${node.id} sees [${seen.join(" ")}], expected [${ids.join(" ")}]`;
      }
      const stale = live.find((m) => m.incarnation !== sim.node(m.id).incarnation);
      if (stale) return `${node.id} holds an old incarnation of ${stale.id}`;
      const split = splitProblem(view);
      if (split) return `${node.id}: ${split}`;
    }
  }
  return null;
}

function describe(event: ClusterEvent): string {
  switch (event.type) {
    case "leader-changed":
      return `leader ${event.leader ?? "none"} term ${event.term}`;
    case "view-changed":
      return `view ${event.view}`;
    case "election-started":
    case "election-won":
      return `${event.type} term ${event.term}`;
    case "split":
      return `split ${event.split.servers} of ${event.split.of}`;
    case "healed":
      return `healed ${event.servers} (${event.forgotten} forgotten)`;
    default:
      return `${event.type} ${event.member.id}#${event.member.incarnation}`;
  }
}
