/**
 * A process started inside a lab host: its output as lines, signals, and waiting for a line.
 *
 * `ip netns exec NS cmd...` enters the namespace and then execs `cmd`, so the pid of the
 * spawned child is the program's own pid and signals reach the program, not a wrapper.
 * Every handle drains both output pipes, so awaiting {@linkcode LabProcess.exited} leaves no
 * open resource behind for Deno's test sanitizers.
 *
 * @module
 */

/** Which output pipe a line came from. */
export type Stream = "stdout" | "stderr";

/** Called for every complete line a process prints, as soon as it is read. */
export type LineListener = (line: string, stream: Stream) => void;

/** Options of {@linkcode LabProcess.start}. */
export interface StartOptions {
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string>;
  /** Listener for each output line, in addition to the kept {@linkcode LabProcess.lines}. */
  onLine?: LineListener;
  /** Name used in error messages (default: the namespace). */
  label?: string;
}

interface Waiter {
  stream: Stream;
  predicate: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A running (or finished) program inside a network namespace. */
export class LabProcess {
  /** The program's pid (not a wrapper's: `ip netns exec` execs the program). */
  readonly pid: number;
  /** Name used in error messages: the host's name, or the namespace. */
  readonly label: string;
  /** Every complete line printed so far, per stream. */
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  /** Resolves with the exit status once the program has ended and both pipes are drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #ended = false;
  #finished = false;
  #waiters = new Set<Waiter>();
  #onLine?: LineListener;

  private constructor(child: Deno.ChildProcess, label: string, onLine?: LineListener) {
    this.#child = child;
    this.#onLine = onLine;
    this.label = label;
    this.pid = child.pid;
    this.#status = child.status.then((status) => {
      this.#ended = true;
      return status;
    });
    const drained = Promise.all([
      this.#read(child.stdout, "stdout"),
      this.#read(child.stderr, "stderr"),
    ]);
    this.exited = Promise.all([this.#status, drained]).then(([status]) => {
      this.#finished = true;
      for (const waiter of this.#waiters) {
        this.#settle(waiter);
        waiter.reject(new Error(`${this.#name} exited (code ${status.code}) first`));
      }
      return status;
    });
  }

  /** Runs `ip netns exec <ns> <cmd...>` with piped output and no stdin. */
  static start(ns: string, cmd: string[], options: StartOptions = {}): LabProcess {
    if (cmd.length === 0) throw new Error("empty command");
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...cmd],
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new LabProcess(child, options.label ?? ns, options.onLine);
  }

  /** True until the program has ended and its output is drained. */
  get running(): boolean {
    return !this.#finished;
  }

  /** Sends `signal`; does nothing once the program has ended. */
  signal(signal: Deno.Signal): void {
    if (this.#ended) return;
    try {
      this.#child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /**
   * Asks the program to stop with SIGTERM, escalating to SIGKILL after `graceMs`;
   * resolves with its status once it has ended and its output is drained.
   */
  async stop(graceMs = 3000): Promise<Deno.CommandStatus> {
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal("SIGKILL");
        resolve();
      }, graceMs);
    });
    try {
      await Promise.race([this.#status, escalate]);
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves with the first line on `stream` (already printed or still to come) that
   * satisfies `predicate`; rejects after `timeoutMs` or when the program ends without one.
   */
  waitForLine(
    stream: Stream,
    predicate: (line: string) => boolean,
    timeoutMs: number,
  ): Promise<string> {
    const seen = this.lines[stream].find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#finished) return Promise.reject(new Error(`${this.#name} already ended`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        stream,
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#settle(waiter);
          reject(new Error(`no matching ${stream} line from ${this.#name} in ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  get #name(): string {
    return `${this.label} (pid ${this.pid})`;
  }

  #settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#waiters.delete(waiter);
  }

  async #read(readable: ReadableStream<Uint8Array>, stream: Stream): Promise<void> {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of readable) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) this.#line(line, stream);
    }
    rest += decoder.decode();
    if (rest) this.#line(rest, stream);
  }

  #line(line: string, stream: Stream): void {
    this.lines[stream].push(line);
    this.#onLine?.(line, stream);
    for (const waiter of this.#waiters) {
      if (waiter.stream === stream && waiter.predicate(line)) {
        this.#settle(waiter);
        waiter.resolve(line);
      }
    }
  }
}
