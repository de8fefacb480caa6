/**
 * `dsys probe --watch`: runs rounds back to back until stopped and shows each result. On a
 * terminal it redraws the screen and turns a spinner while a round runs; otherwise (a pipe, a
 * file, `--json`) it writes every result after the previous one, with no control codes.
 *
 * It knows nothing of probing: it is given a round to run and a way to render its result.
 *
 * @module
 */

import { clock } from "../client/render.ts";

/** Spinner frames, one per {@linkcode WatchOptions.spinnerMs}. */
export const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

const CLEAR_SCREEN = "\x1b[H\x1b[2J";
const CLEAR_LINE = "\r\x1b[K";

/** What {@linkcode watch} needs. */
export interface WatchOptions<T> {
  /** Runs one round; it must end early when `signal` aborts. */
  round: (signal: AbortSignal) => Promise<T>;
  /** Renders a result (ending with a newline). */
  render: (result: T) => string;
  /** Writes output. */
  write: (text: string) => void;
  /** True on a terminal: redraw and spin. */
  tty: boolean;
  /** Resolves when watching must stop (Ctrl+C). */
  stop: Promise<unknown>;
  /** Spinner frame interval (ms). */
  spinnerMs?: number;
  /** The clock shown in headers (default: now). */
  now?: () => Date;
}

/** Runs rounds until `stop` resolves; returns the last complete result, if any. */
export async function watch<T>(options: WatchOptions<T>): Promise<T | undefined> {
  const { round, render, write, tty } = options;
  const now = options.now ?? (() => new Date());
  const abort = new AbortController();
  let stopped = false;
  options.stop.then(() => {
    stopped = true;
    abort.abort();
  });
  let last: T | undefined;
  for (let n = 1; !stopped; n++) {
    const spinner = tty ? spin(write, n, options.spinnerMs ?? 100) : undefined;
    let result: T;
    try {
      result = await round(abort.signal);
    } finally {
      spinner?.stop();
    }
    if (stopped) break;
    last = result;
    const time = clock(now().getTime());
    write(
      tty
        ? `${CLEAR_SCREEN}${render(result)}\nround ${n} at ${time}; Ctrl+C to stop\n`
        : render(result),
    );
  }
  return last;
}

/** Shows a spinner on the current line until stopped, then clears the line. */
function spin(write: (text: string) => void, round: number, everyMs: number): { stop(): void } {
  let frame = 0;
  const draw = () =>
    write(`${CLEAR_LINE}${SPINNER[frame++ % SPINNER.length]} probing (round ${round})`);
  draw();
  const timer = setInterval(draw, everyMs);
  return {
    stop() {
      clearInterval(timer);
      write(CLEAR_LINE);
    },
  };
}
