/**
 * A harness that drives one `ServerCore` by hand, for unit tests: it plays the runtime (events
 * in, actions out), makes envelopes from imaginary peers, and filters what the core did.
 *
 * @module
 */

import { defaultLanConfig, type TimingConfig } from "../../src/config/mod.ts";
import {
  type ClusterEvent,
  type CoreAction,
  type CoreOptions,
  ServerCore,
} from "../../src/membership/core.ts";
import type { Address } from "../../src/transport/types.ts";
import type { Body, Envelope, Sender, ServerStatus } from "../../src/wire/messages.ts";

/** The default LAN timing every unit test uses. */
export const TIMING: TimingConfig = defaultLanConfig().timing;

const hosts = new Map<string, number>();

/** A made-up server, as an envelope sender; each id gets its own address. */
export function peer(id: string, incarnation = 1): Sender {
  let index = hosts.get(id);
  if (index === undefined) {
    index = hosts.size + 1;
    hosts.set(id, index);
  }
  return {
    id,
    incarnation,
    role: "server",
    addr: { host: `10.1.${index >> 8}.${index & 255}`, port: 7401 },
  };
}

/** A heartbeat status with the given fields. */
export function status(fields: Partial<ServerStatus> = {}): ServerStatus {
  return { version: "test", priority: 0, leader: "", term: 0, view: 1, joining: false, ...fields };
}

/** One core under test, with everything it did recorded. */
export class Harness {
  /** The core. */
  readonly core: ServerCore;
  /** Every action, oldest first. */
  readonly actions: CoreAction[] = [];
  /** Simulated monotonic time of the latest event (ms). */
  now = 0;
  #seq = 1;

  /** Creates a core with id `id` (default `"m"`), priority 0, default timing, no seeds. */
  constructor(options: Partial<CoreOptions> & { id?: string } = {}) {
    const self = options.self ?? peer(options.id ?? "m");
    this.core = new ServerCore({
      self,
      priority: options.priority ?? 0,
      timing: options.timing ?? TIMING,
      seeds: options.seeds ?? [],
      version: "test",
      random: options.random ?? (() => 0),
    });
  }

  /** Starts the core at `now` (default 0). */
  start(now = 0): CoreAction[] {
    this.now = now;
    return this.#record(this.core.step({ type: "start", now }));
  }

  /** Delivers `body` from `from` at the current time. */
  receive(from: Sender, body: Body, viaGroup = true): CoreAction[] {
    const envelope: Envelope = { cluster: "test", sender: from, seq: this.#seq++, ts: 0, body };
    return this.#record(this.core.step({ type: "receive", envelope, viaGroup, now: this.now }));
  }

  /** Ticks every tick interval up to and including `until`; returns the actions of those ticks. */
  tickUntil(until: number): CoreAction[] {
    const actions: CoreAction[] = [];
    while (this.now + TIMING.tickIntervalMs <= until) {
      this.now += TIMING.tickIntervalMs;
      actions.push(...this.tick(this.now));
    }
    return actions;
  }

  /** One tick at `now`. */
  tick(now: number): CoreAction[] {
    this.now = now;
    return this.#record(this.core.step({ type: "tick", now }));
  }

  /** Stops the core cleanly. */
  stop(): CoreAction[] {
    return this.#record(this.core.step({ type: "stop", now: this.now }));
  }

  /** Ticks until `until` while each of `peers` multicasts a heartbeat every heartbeat interval. */
  liveWith(until: number, peers: { sender: Sender; status: ServerStatus }[]): CoreAction[] {
    const actions: CoreAction[] = [];
    let nextBeat = this.now;
    while (this.now + TIMING.tickIntervalMs <= until) {
      if (this.now >= nextBeat) {
        for (const p of peers) {
          actions.push(...this.receive(p.sender, { kind: "heartbeat", ...p.status }));
        }
        nextBeat += TIMING.heartbeatIntervalMs;
      }
      this.now += TIMING.tickIntervalMs;
      actions.push(...this.tick(this.now));
    }
    return actions;
  }

  #record(actions: CoreAction[]): CoreAction[] {
    this.actions.push(...actions);
    return actions;
  }
}

/** The bodies of a kind among `actions`, with where they went (`"group"` for multicast). */
export function sent<K extends Body["kind"]>(
  actions: CoreAction[],
  kind: K,
): { to: Address | "group"; body: Extract<Body, { kind: K }> }[] {
  const out: { to: Address | "group"; body: Extract<Body, { kind: K }> }[] = [];
  for (const action of actions) {
    if (action.type === "send" && action.body.kind === kind) {
      out.push({ to: action.to, body: action.body as Extract<Body, { kind: K }> });
    } else if (action.type === "multicast" && action.body.kind === kind) {
      out.push({ to: "group", body: action.body as Extract<Body, { kind: K }> });
    }
  }
  return out;
}

/** The cluster events among `actions`. */
export function events(actions: CoreAction[]): ClusterEvent[] {
  return actions.flatMap((a) => (a.type === "notify" ? [a.event] : []));
}
