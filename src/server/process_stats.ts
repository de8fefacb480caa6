/**
 * What the server process itself costs, for `/status` and `/metrics`: CPU time, resident and
 * heap memory, the event loop's lag as a histogram, and (under Node) garbage-collection pauses.
 *
 * The lag is the lateness of the protocol clock's own timer ({@linkcode LagRecorder}, fed by the
 * shell's `DueTimer`): it costs no wakeup of its own, where `perf_hooks.monitorEventLoopDelay`
 * (which works on both runtimes) would wake the process every `resolution` ms and spoil the idle
 * cost. GC pauses come from a `PerformanceObserver` of `gc` entries, which Deno accepts but never
 * feeds (checked on Deno 2.9.6): they are reported under Node only.
 *
 * @module
 */

import process from "node:process";
import { PerformanceObserver } from "node:perf_hooks";

/** Upper bounds of the lag histogram's buckets (ms); a last bucket takes everything. */
export const LAG_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** A histogram of how late the protocol clock's timer fired (ms). */
export interface LagHistogram {
  /** Upper bounds of the buckets (ms), as {@linkcode LAG_BUCKETS_MS}. */
  bucketsMs: readonly number[];
  /** Fires at most as late as each bound (cumulative, as Prometheus counts them). */
  atMost: number[];
  /** Fires recorded. */
  count: number;
  /** Their lateness added up (ms). */
  sumMs: number;
  /** The latest fire (ms). */
  maxMs: number;
}

/** Garbage-collection pauses since the start (Node only). */
export interface GcPauses {
  /** Collections seen. */
  count: number;
  /** Their pauses added up (ms). */
  totalMs: number;
  /** The longest pause (ms). */
  maxMs: number;
}

/** The process's own figures, as `/status` shows them. */
export interface ProcessReport {
  /** CPU time in user mode since the start (s). */
  cpuUserSeconds: number;
  /** CPU time in kernel mode since the start (s). */
  cpuSystemSeconds: number;
  /** Resident memory now (bytes). */
  residentBytes: number;
  /** JavaScript heap in use now (bytes). */
  heapUsedBytes: number;
  /** How late the protocol clock's timer fired. */
  eventLoopLag: LagHistogram;
  /** Garbage-collection pauses; absent where the runtime does not report them (Deno). */
  gc?: GcPauses;
}

/** Counts how late a timer fired, into {@linkcode LAG_BUCKETS_MS}. */
export class LagRecorder {
  readonly #counts = new Array<number>(LAG_BUCKETS_MS.length + 1).fill(0);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  /** Records one fire `lateMs` after its due time. */
  record(lateMs: number): void {
    const ms = Math.max(0, lateMs);
    let i = 0;
    while (i < LAG_BUCKETS_MS.length && ms > LAG_BUCKETS_MS[i]) i++;
    this.#counts[i]++;
    this.#count++;
    this.#sumMs += ms;
    this.#maxMs = Math.max(this.#maxMs, ms);
  }

  /** The histogram so far. */
  snapshot(): LagHistogram {
    const atMost: number[] = [];
    let running = 0;
    for (let i = 0; i < LAG_BUCKETS_MS.length; i++) atMost.push(running += this.#counts[i]);
    return {
      bucketsMs: LAG_BUCKETS_MS,
      atMost,
      count: this.#count,
      sumMs: this.#sumMs,
      maxMs: this.#maxMs,
    };
  }
}

/** Watches the process: GC pauses from the start (Node), the rest read when asked. */
export class ProcessMonitor {
  /** Where the shell records its timer's lateness. */
  readonly lag: LagRecorder = new LagRecorder();
  readonly #gc: GcPauses | undefined;
  readonly #observer: PerformanceObserver | undefined;

  /** Starts watching GC pauses where the runtime reports them. */
  constructor() {
    if ("Deno" in globalThis) return;
    const gc: GcPauses = { count: 0, totalMs: 0, maxMs: 0 };
    this.#gc = gc;
    this.#observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gc.count++;
        gc.totalMs += entry.duration;
        gc.maxMs = Math.max(gc.maxMs, entry.duration);
      }
    });
    this.#observer.observe({ entryTypes: ["gc"] });
  }

  /** The figures now. */
  report(): ProcessReport {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      residentBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      eventLoopLag: this.lag.snapshot(),
      ...(this.#gc ? { gc: { ...this.#gc } } : {}),
    };
  }

  /** Stops watching. */
  stop(): void {
    this.#observer?.disconnect();
  }
}
