/**
 * The runtime's clock for a pure core: one timer that fires when the core's next deadline is due
 * instead of a fixed tick, so an idle process sleeps between its heartbeats. A deadline already
 * due fires after `grainMs` (the old fixed tick), so a busy core is ticked as before; an idle one
 * at most every `maxMs`. It never fires before the deadline: a core woken early finds nothing due
 * and would be woken again a grain later.
 *
 * @module
 */

/**
 * How much later than asked the timer is set (ms): `setTimeout` fires up to ~1.7 ms before its
 * delay by `performance.now()` (measured here: 65 of 100 fires early under Node, 46 under Deno),
 * which made an idle server tick once for nothing and once more a grain later for most heartbeats.
 */
export const EARLY_FIRE_MARGIN_MS = 2;

/** One timer aimed at a core's next deadline; see the module comment. */
export class DueTimer {
  readonly #run: () => void;
  readonly #grainMs: number;
  readonly #maxMs: number;
  readonly #late: ((ms: number) => void) | undefined;
  #timer?: ReturnType<typeof setTimeout>;
  #at = Infinity;
  #stopped = false;

  /**
   * Creates a timer that calls `run`, and tells `late` how late each fire was (ms: the event
   * loop's lag); nothing is scheduled until {@linkcode DueTimer.schedule}.
   */
  constructor(run: () => void, grainMs: number, maxMs: number, late?: (ms: number) => void) {
    this.#run = run;
    this.#grainMs = grainMs;
    this.#maxMs = maxMs;
    this.#late = late;
  }

  /**
   * Aims the timer at `due` (monotonic ms; `Infinity` for none), no sooner than `grainMs` and no
   * later than `maxMs` after `now`. A timer already set to fire sooner is kept: the core then
   * finds nothing due and is asked again.
   */
  schedule(due: number, now: number): void {
    if (this.#stopped) return;
    const at = Math.min(Math.max(due, now + this.#grainMs), now + this.#maxMs);
    if (this.#timer !== undefined && this.#at <= at) return;
    clearTimeout(this.#timer);
    this.#at = at;
    const delay = Math.ceil(at - now) + EARLY_FIRE_MARGIN_MS;
    this.#timer = setTimeout(() => {
      this.#late?.(performance.now() - (now + delay));
      this.#timer = undefined;
      this.#at = Infinity;
      this.#run();
    }, delay);
  }

  /** Cancels the timer for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
