/**
 * A fault-injecting wrapper around any {@linkcode Transport}: drops, duplicates, reorders, delays
 * and corrupts datagrams, per direction, from a seeded generator.
 *
 * This module owns the fault model, its text form (`drop=0.2,in.delay=5-20,seed=42`, the hidden
 * `DSYS_FAULTS` setting) and the counters of what it injected. It never touches sockets: the inner
 * transport does all I/O. Every timer it starts is cleared by `close()`.
 *
 * @module
 */

import { SeededRandom } from "../util/random.ts";
import type {
  Address,
  InterfaceInfo,
  ReceiveHandler,
  Transport,
  TransportKind,
  TransportStats,
} from "./types.ts";

/** The faults applied to datagrams in one direction; probabilities are from 0 to 1. */
export interface DirectionFaults {
  /** Probability that a datagram is lost. */
  drop: number;
  /** Probability that a datagram arrives twice. */
  duplicate: number;
  /** Probability that a datagram is held back until the next one has passed. */
  reorder: number;
  /** Probability that 1–3 random bits of a datagram are flipped. */
  corrupt: number;
  /** Every datagram is delayed by a uniform random time in this range (ms), when set. */
  delayMs?: readonly [number, number];
}

/** Faults for received (`in`) and sent (`out`) datagrams. */
export interface FaultSpec {
  /** Faults applied to datagrams as they are received. */
  in: DirectionFaults;
  /** Faults applied to datagrams as they are sent. */
  out: DirectionFaults;
  /** The seed named in the spec text, if any. */
  seed?: number;
}

/** What a wrapper injected in one direction. */
export interface FaultCounts {
  /** Datagrams dropped. */
  dropped: number;
  /** Datagrams sent or delivered twice. */
  duplicated: number;
  /** Datagrams overtaken by a later one. */
  reordered: number;
  /** Datagrams delayed. */
  delayed: number;
  /** Datagrams with flipped bits. */
  corrupted: number;
}

/** What a wrapper injected, per direction. */
export interface FaultStats {
  /** Faults on received datagrams. */
  in: FaultCounts;
  /** Faults on sent datagrams. */
  out: FaultCounts;
}

/** A transport with injected faults, and counters of them. */
export interface FaultyTransport extends Transport {
  /** A snapshot of what was injected so far. */
  faultStats(): FaultStats;
}

/** A fault spec text that cannot be understood. */
export class FaultSpecError extends Error {
  /** Creates an error naming the offending part of the spec. */
  constructor(message: string) {
    super(message);
    this.name = "FaultSpecError";
  }
}

/** How long a datagram chosen for reordering waits for a later one before it goes anyway (ms). */
export const REORDER_HOLD_MS = 20;

/** Faults that change nothing. */
export function noFaults(): FaultSpec {
  return { in: noDirectionFaults(), out: noDirectionFaults() };
}

function noDirectionFaults(): DirectionFaults {
  return { drop: 0, duplicate: 0, reorder: 0, corrupt: 0 };
}

const FAULT_KEYS = {
  drop: "drop",
  dup: "duplicate",
  reorder: "reorder",
  corrupt: "corrupt",
  delay: "delayMs",
} as const;

/**
 * Parses a spec such as `drop=0.2,dup=0.05,reorder=0.1,delay=5-20,corrupt=0.01,in.drop=0.1`
 * (with an optional `seed=42`).
 *
 * A bare key sets both directions; an `in.` or `out.` key sets one and wins over the bare key
 * wherever it stands. `delay` takes `MIN-MAX` or a single number of milliseconds. Throws a
 * {@linkcode FaultSpecError} naming the first bad item.
 *
 * @example
 * ```ts
 * import { parseFaultSpec } from "./faulty_transport.ts";
 * const spec = parseFaultSpec("drop=0.2,out.drop=0.5,seed=7");
 * console.assert(spec.in.drop === 0.2 && spec.out.drop === 0.5 && spec.seed === 7);
 * ```
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec = noFaults();
  const seen = new Set<string>();
  const scoped: [DirectionFaults, string, string, string][] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const match = /^([\w.]+)=(.*)$/.exec(item);
    if (!match) throw new FaultSpecError(`fault spec "${item}": expected key=value`);
    const [, key, value] = match;
    if (seen.has(key)) throw new FaultSpecError(`fault spec "${item}": ${key} is given twice`);
    seen.add(key);
    if (key === "seed") {
      if (!/^-?\d{1,15}$/.test(value.trim())) {
        throw new FaultSpecError(`fault spec "${item}": seed must be a whole number`);
      }
      spec.seed = Number(value);
      continue;
    }
    const [scope, name] = key.includes(".") ? key.split(".", 2) : ["", key];
    if (!(name in FAULT_KEYS) || (scope !== "" && scope !== "in" && scope !== "out")) {
      throw new FaultSpecError(
        `fault spec "${item}": unknown fault "${key}"; use drop, dup, reorder, delay or corrupt ` +
          `(optionally prefixed in. or out.), or seed`,
      );
    }
    if (scope === "") {
      applyFault(spec.in, name, value, item);
      applyFault(spec.out, name, value, item);
    } else {
      scoped.push([scope === "in" ? spec.in : spec.out, name, value, item]);
    }
  }
  for (const [faults, name, value, item] of scoped) applyFault(faults, name, value, item);
  return spec;
}

function applyFault(faults: DirectionFaults, name: string, value: string, item: string): void {
  const field = FAULT_KEYS[name as keyof typeof FAULT_KEYS];
  if (field === "delayMs") {
    const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(value.trim());
    const min = match ? Number(match[1]) : NaN;
    const max = match?.[2] !== undefined ? Number(match[2]) : min;
    if (!match || max < min) {
      throw new FaultSpecError(
        `fault spec "${item}": delay must be milliseconds, MIN-MAX with MIN <= MAX (e.g. 5-20)`,
      );
    }
    faults.delayMs = [min, max];
    return;
  }
  const p = /^\s*\d*\.?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(p >= 0 && p <= 1)) {
    throw new FaultSpecError(`fault spec "${item}": ${name} must be a probability from 0 to 1`);
  }
  faults[field] = p;
}

/**
 * Wraps `inner` so that datagrams in each direction suffer the faults of `spec`, decided by a
 * generator seeded with `seed`. The same seed and the same sequence of datagrams give the same
 * decisions. Closing the wrapper clears its timers, discards held datagrams and closes `inner`.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory_transport.ts";
 * import { parseFaultSpec, withFaults } from "./faulty_transport.ts";
 * const net = new MemoryNetwork();
 * const inner = net.open({ group: "239.255.0.1", port: 7400 });
 * const lossy = withFaults(inner, parseFaultSpec("drop=0.5"), 42);
 * await lossy.close();
 * ```
 */
export function withFaults(inner: Transport, spec: FaultSpec, seed: number): FaultyTransport {
  // One generator per direction, so that how sends and receives interleave in time never
  // changes the decisions of either direction.
  const master = new SeededRandom(seed);
  const inRandom = new SeededRandom(master.int(0x1_0000_0000));
  const outRandom = new SeededRandom(master.int(0x1_0000_0000));
  return new FaultyWrapper(inner, spec, inRandom, outRandom);
}

/** Where a sent datagram goes: a unicast address, or undefined for the group. */
type Destination = Address | undefined;

/** Where a received datagram came from, and whether by multicast. */
interface Arrival {
  from: Address;
  viaGroup: boolean;
}

/** One direction's fault pipeline: drop, corrupt, duplicate, reorder, then delay. */
class FaultLane<Meta> {
  readonly counts: FaultCounts = {
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    corrupted: 0,
  };
  readonly #faults: DirectionFaults;
  readonly #random: SeededRandom;
  readonly #deliver: (data: Uint8Array, meta: Meta) => void;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #held: { data: Uint8Array; meta: Meta; timer: ReturnType<typeof setTimeout> } | undefined;
  #closed = false;

  constructor(
    faults: DirectionFaults,
    random: SeededRandom,
    deliver: (data: Uint8Array, meta: Meta) => void,
  ) {
    this.#faults = faults;
    this.#random = random;
    this.#deliver = deliver;
  }

  /** Passes one datagram through the faults; `data` is only read during the call. */
  push(data: Uint8Array, meta: Meta): void {
    if (this.#closed) return;
    if (this.#random.chance(this.#faults.drop)) {
      this.counts.dropped++;
      return;
    }
    let bytes = data;
    if (this.#random.chance(this.#faults.corrupt)) {
      bytes = this.#corrupt(data);
      this.counts.corrupted++;
    }
    const twice = this.#random.chance(this.#faults.duplicate);
    if (twice) this.counts.duplicated++;
    this.#route(bytes, meta);
    if (twice) this.#route(bytes, meta);
  }

  #corrupt(data: Uint8Array): Uint8Array {
    // A copy (a Node Buffer's slice() would share memory): the caller's bytes stay intact.
    const copy = new Uint8Array(data);
    if (copy.byteLength === 0) return copy;
    // Distinct bits, so that two flips never cancel out and leave the datagram intact.
    const flips = 1 + this.#random.int(3);
    const bits = new Set<number>();
    while (bits.size < flips) bits.add(this.#random.int(copy.byteLength * 8));
    for (const bit of bits) copy[bit >> 3] ^= 1 << (bit & 7);
    return copy;
  }

  #route(data: Uint8Array, meta: Meta): void {
    // Drawn for every datagram, so that timing (a hold slot freed by its timer) never shifts the
    // sequence of later decisions.
    const hold = this.#random.chance(this.#faults.reorder);
    if (hold && !this.#held) {
      const timer = setTimeout(() => this.#releaseHeld(false), REORDER_HOLD_MS);
      this.#held = { data: new Uint8Array(data), meta, timer };
      return;
    }
    this.#later(data, meta);
    if (this.#held) this.#releaseHeld(true);
  }

  #releaseHeld(overtaken: boolean): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    clearTimeout(held.timer);
    if (overtaken) this.counts.reordered++;
    this.#later(held.data, held.meta);
  }

  #later(data: Uint8Array, meta: Meta): void {
    const range = this.#faults.delayMs;
    if (!range || range[1] <= 0) {
      this.#deliver(data, meta);
      return;
    }
    const ms = range[0] + this.#random.next() * (range[1] - range[0]);
    this.counts.delayed++;
    const copy = new Uint8Array(data);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#deliver(copy, meta);
    }, ms);
    this.#timers.add(timer);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    if (this.#held) clearTimeout(this.#held.timer);
    this.#held = undefined;
  }
}

class FaultyWrapper implements FaultyTransport {
  readonly #inner: Transport;
  readonly #in: FaultLane<Arrival>;
  readonly #out: FaultLane<Destination>;
  #handler: ReceiveHandler | undefined;

  constructor(
    inner: Transport,
    spec: FaultSpec,
    inRandom: SeededRandom,
    outRandom: SeededRandom,
  ) {
    this.#inner = inner;
    this.#out = new FaultLane<Destination>(spec.out, outRandom, (data, to) => {
      if (to) inner.send(data, to);
      else inner.sendToGroup(data);
    });
    this.#in = new FaultLane<Arrival>(
      spec.in,
      inRandom,
      (data, { from, viaGroup }) => this.#handler?.(data, from, viaGroup),
    );
    inner.onReceive((data, from, viaGroup) => {
      this.#in.push(data, { from: { host: from.host, port: from.port }, viaGroup });
    });
  }

  get kind(): TransportKind {
    return this.#inner.kind;
  }

  get localAddress(): Address {
    return this.#inner.localAddress;
  }

  get joinedInterfaces(): readonly InterfaceInfo[] {
    return this.#inner.joinedInterfaces;
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(data: Uint8Array, to: Address): void {
    this.#out.push(data, { host: to.host, port: to.port });
  }

  sendToGroup(data: Uint8Array): void {
    this.#out.push(data, undefined);
  }

  stats(): TransportStats {
    return this.#inner.stats();
  }

  faultStats(): FaultStats {
    return { in: { ...this.#in.counts }, out: { ...this.#out.counts } };
  }

  async close(): Promise<void> {
    this.#in.close();
    this.#out.close();
    await this.#inner.close();
  }
}
