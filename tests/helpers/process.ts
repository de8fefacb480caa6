/**
 * Running dsys processes in tests: spawn one (from the source, the Node bundle or the built
 * executable), collect its JSON log lines from the standard error, wait for an event with a
 * deadline, send it signals, and always kill and await it, so that Deno's test sanitizers stay
 * quiet and no process outlives its test.
 *
 * Network safety: by default every `serve`, `chat` or `probe` must be given `--iface lo` (or a
 * 127.x address), so test multicast never leaves the loopback interface; {@linkcode testNetwork}
 * makes such flags with a random cluster, group and port.
 *
 * @example Two servers that must hear each other
 * ```ts ignore
 * const net = testNetwork();
 * const a = spawnDsys(LAUNCHERS.binary, ["serve", ...net.args, "--log-json"], { label: "A" });
 * try {
 *   const listening = await a.waitForEvent("listening");
 *   console.log(listening.id);
 *   const status = await a.stop("SIGTERM");
 *   console.log(status.code);
 * } finally {
 *   await a.kill();
 * }
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { groupPort } from "./ports.ts";

/** Absolute path of the repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** How to start dsys: a command and the arguments that come before dsys's own. */
export interface Launcher {
  /** Short name for messages, e.g. `dist/dsys`. */
  name: string;
  /** Executable to run. */
  command: string;
  /** Arguments placed before the dsys arguments (e.g. the bundle's path for `node`). */
  prefix: string[];
  /** Files that must exist first, each with the hint shown when it is missing. */
  requires: { path: string; hint: string }[];
}

const BUILD_HINT = "run `deno task build` first";

/** The three ways to run dsys: the built executable, the Node bundle, and the source. */
export const LAUNCHERS: {
  readonly binary: Launcher;
  readonly bundle: Launcher;
  readonly source: Launcher;
} = {
  binary: {
    name: "dist/dsys",
    command: `${REPO_ROOT}/dist/dsys`,
    prefix: [],
    requires: [{ path: `${REPO_ROOT}/dist/dsys`, hint: BUILD_HINT }],
  },
  bundle: {
    name: "node dist/dsys.mjs",
    command: "node",
    prefix: [`${REPO_ROOT}/dist/dsys.mjs`],
    requires: [{ path: `${REPO_ROOT}/dist/dsys.mjs`, hint: BUILD_HINT }],
  },
  source: {
    name: "deno run cmd/dsys.ts",
    command: Deno.execPath(),
    prefix: ["run", "--unstable-net", "-A", `${REPO_ROOT}/cmd/dsys.ts`],
    requires: [],
  },
};

/** Throws a clear error (which fails the test) when a launcher's files are missing. */
export function assertLauncherReady(launcher: Launcher): void {
  for (const { path, hint } of launcher.requires) {
    try {
      Deno.statSync(path);
    } catch {
      throw new Error(`${path} is missing: ${hint}`);
    }
  }
}

/** A random, loopback-only network for one test: its own cluster name, group and port. */
export interface TestNetwork {
  /** Random cluster name. */
  cluster: string;
  /** Random group in 239.255.0.0/16 (organisation-local scope). */
  group: string;
  /** Random group port, apart from every unicast port (`ports.ts`). */
  port: number;
  /** `--cluster … --group … --port … --iface lo`, ready to spread into dsys arguments. */
  args: string[];
}

/** Makes a {@linkcode TestNetwork}; every process of one test should share it. */
export function testNetwork(): TestNetwork {
  const random = (n: number) => Math.floor(Math.random() * n);
  const cluster = `test-${crypto.randomUUID().slice(0, 8)}`;
  const group = `239.255.${random(256)}.${1 + random(254)}`;
  const port = groupPort();
  return {
    cluster,
    group,
    port,
    args: ["--cluster", cluster, "--group", group, "--port", String(port), "--iface", "lo"],
  };
}

/** One JSON log line as written with `--log-json` (logtape's JSON Lines format). */
export interface LogLine {
  /** ISO time of the record. */
  "@timestamp": string;
  /** `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`. */
  level: string;
  /** The rendered message. */
  message: string;
  /** Logger category, e.g. `dsys.server`. */
  logger: string;
  /** Structured fields; `event` names what happened (`listening`, `peer-heard`, …). */
  properties: Record<string, unknown>;
}

/** How a process ended. */
export interface ExitStatus {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, or null. */
  signal: Deno.Signal | null;
}

/** Options of {@linkcode spawnDsys}. */
export interface SpawnOptions {
  /** Name used in error messages, e.g. `server A`. Default: the launcher's name. */
  label?: string;
  /**
   * Extra environment variables. Inherited `DSYS_*` variables are always removed, and
   * `DSYS_DATA_DIR` is `none` unless given here, or `XDG_STATE_HOME` is (or `--data-dir` is
   * passed).
   */
  env?: Record<string, string>;
  /** Give the process a writable standard input (for `chat`). Default: none. */
  stdin?: boolean;
  /** Allow network commands without a loopback `--iface` (network-namespace labs only). */
  allowNonLoopback?: boolean;
}

/** Options of the waiting methods. */
export interface WaitOptions {
  /** Deadline in milliseconds; default 30 000 (generous: the machine may be busy). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const NETWORK_COMMANDS = new Set(["serve", "chat", "probe"]);
const LOOPBACK_IPV4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** A running dsys process with its output collected; see {@linkcode spawnDsys}. */
export class DsysProcess implements AsyncDisposable {
  /** Name used in error messages. */
  readonly label: string;
  /** Every line written to the standard error so far. */
  readonly stderrLines: string[] = [];
  /** The standard-error lines that parsed as JSON log records. */
  readonly logs: LogLine[] = [];
  /** Every line written to the standard output so far. */
  readonly stdoutLines: string[] = [];
  /** Resolves when the process has exited and both output streams are drained. */
  readonly exited: Promise<ExitStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #waiters = new Set<() => void>();
  #status?: ExitStatus;
  #stdinOpen: boolean;

  /** Starts the process; prefer {@linkcode spawnDsys}. */
  constructor(launcher: Launcher, args: string[], options: SpawnOptions = {}) {
    assertLauncherReady(launcher);
    if (!options.allowNonLoopback) assertLoopbackOnly(args, options.env);
    this.label = options.label ?? launcher.name;
    this.#stdinOpen = options.stdin === true;
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("DSYS_")),
    );
    this.#child = new Deno.Command(launcher.command, {
      args: [...launcher.prefix, ...args],
      clearEnv: true,
      // Servers keep their chat log in memory unless a test gives them a data directory (or a
      // state directory of its own): the default is under this user's, which tests must not fill.
      env: {
        ...(options.env?.XDG_STATE_HOME === undefined ? { DSYS_DATA_DIR: "none" } : {}),
        ...env,
        ...options.env,
      },
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const drained = Promise.all([
      this.#collect(this.#child.stdout, (line) => this.stdoutLines.push(line)),
      this.#collect(this.#child.stderr, (line) => this.#onStderr(line)),
    ]);
    this.exited = Promise.all([this.#child.status, drained]).then(([status]) => {
      this.#status = { code: status.code, signal: status.signal };
      this.#notify();
      return this.#status;
    });
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** True until the process has exited and its output is drained. */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** The whole standard output so far. */
  get stdout(): string {
    return this.stdoutLines.map((l) => `${l}\n`).join("");
  }

  /** The whole standard error so far. */
  get stderr(): string {
    return this.stderrLines.map((l) => `${l}\n`).join("");
  }

  /** The first log line (past or future) that satisfies `predicate`. */
  waitForLog(
    predicate: (line: LogLine) => boolean,
    what: string,
    options: WaitOptions = {},
  ): Promise<LogLine> {
    return this.#waitFor(() => this.logs.find(predicate), what, options);
  }

  /**
   * The properties of the first log line whose `event` is `event` and whose properties equal
   * every field of `fields` (compared with `===`).
   */
  async waitForEvent(
    event: string,
    fields: Record<string, unknown> = {},
    options: WaitOptions = {},
  ): Promise<Record<string, unknown>> {
    const wanted = { ...fields, event };
    const line = await this.waitForLog(
      (l) => Object.entries(wanted).every(([k, v]) => l.properties?.[k] === v),
      `event ${JSON.stringify(wanted)}`,
      options,
    );
    return line.properties;
  }

  /** The first standard-output line (past or future) that contains `text` or matches it. */
  waitForStdout(text: string | RegExp, options: WaitOptions = {}): Promise<string> {
    const matches = (l: string) => typeof text === "string" ? l.includes(text) : text.test(l);
    return this.#waitFor(() => this.stdoutLines.find(matches), `stdout ${text}`, options);
  }

  /** Writes text to the standard input (requires `stdin: true`). */
  async write(text: string): Promise<void> {
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(text));
    } finally {
      writer.releaseLock();
    }
  }

  /** Closes the standard input (end of file for the process). */
  async closeStdin(): Promise<void> {
    if (!this.#stdinOpen) return;
    this.#stdinOpen = false;
    await this.#child.stdin.close();
  }

  /** Sends a signal; does nothing if the process has already exited. */
  signal(signal: Deno.Signal): void {
    if (!this.running) return;
    try {
      this.#child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }

  /**
   * Sends `signal` and waits for the exit; after `graceMs` (default 5 000) it sends SIGKILL.
   * Returns the exit status, which tests assert on.
   */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5_000): Promise<ExitStatus> {
    this.signal(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    try {
      await Promise.race([this.exited, grace]);
    } finally {
      clearTimeout(timer);
    }
    return await this.kill();
  }

  /** Kills the process with SIGKILL if it still runs, then awaits it. Safe to call twice. */
  async kill(): Promise<ExitStatus> {
    this.signal("SIGKILL");
    await this.closeStdin().catch(() => {});
    return await this.exited;
  }

  /** Same as {@linkcode DsysProcess.kill}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  /** The last `count` standard-error lines, for failure messages. */
  tail(count = 20): string {
    return this.stderrLines.slice(-count).join("\n");
  }

  #waitFor<T>(find: () => T | undefined, what: string, options: WaitOptions): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    if (this.#status) return Promise.reject(new Error(this.#describe(what, "exited first")));
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.#status) {
          done();
          reject(new Error(this.#describe(what, "exited first")));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(this.#describe(what, `not seen within ${timeoutMs} ms`)));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  #describe(what: string, problem: string): string {
    const status = this.#status ? ` (exit code ${this.#status.code})` : "";
    return `${this.label}: ${what} ${problem}${status}; last stderr lines:\n${this.tail()}`;
  }

  #notify(): void {
    for (const check of [...this.#waiters]) check();
  }

  #onStderr(line: string): void {
    this.stderrLines.push(line);
    if (line.startsWith("{")) {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        // Not JSON after all: it stays in stderrLines only.
      }
    }
  }

  async #collect(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        onLine(line);
        this.#notify();
      }
    }
    if (pending) {
      onLine(pending);
      this.#notify();
    }
  }
}

/** Starts `launcher` with dsys arguments `args`; kill or stop it in a `finally` block. */
export function spawnDsys(
  launcher: Launcher,
  args: string[],
  options: SpawnOptions = {},
): DsysProcess {
  return new DsysProcess(launcher, args, options);
}

/**
 * Starts one `serve` per id on `net` (on loopback, any unicast port, JSON logs), the id's position
 * as its priority, with `extra` flags; kill or stop them in a `finally` block.
 */
export function startServers(
  launcher: Launcher,
  net: TestNetwork,
  ids: string[],
  extra: string[] = [],
): DsysProcess[] {
  return ids.map((id, priority) =>
    spawnDsys(launcher, [
      "serve",
      ...net.args,
      "--unicast-port",
      "0",
      "--id",
      id,
      "--priority",
      String(priority),
      "--log-json",
      ...extra,
    ], { label: `${launcher.name} server ${id}` })
  );
}

/** What a finished one-shot run produced. */
export interface RunResult extends ExitStatus {
  /** Whole standard output. */
  stdout: string;
  /** Whole standard error. */
  stderr: string;
  /** Standard-error lines that parsed as JSON log records. */
  logs: LogLine[];
}

/**
 * Runs a dsys command to completion (e.g. `version`, `probe`) and returns its output. It is
 * killed, and this throws, if it does not exit within `timeoutMs` (default 30 000).
 */
export async function runDsys(
  launcher: Launcher,
  args: string[],
  options: SpawnOptions & WaitOptions = {},
): Promise<RunResult> {
  const child = spawnDsys(launcher, args, options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([child.exited, deadline]);
    if (outcome === "timeout") {
      throw new Error(
        `${child.label} ${args.join(" ")}: did not exit within ${timeoutMs} ms; ` +
          `last stderr lines:\n${child.tail()}`,
      );
    }
    return { ...outcome, stdout: child.stdout, stderr: child.stderr, logs: child.logs };
  } finally {
    clearTimeout(timer);
    await child.kill();
  }
}

/** The value of `--name value` or `--name=value` in `args`, else `fallback`. */
function flagValue(args: string[], name: string, fallback?: string): string | undefined {
  const inline = args.findLast((a) => a.startsWith(`${name}=`));
  const index = args.lastIndexOf(name);
  if (inline !== undefined && args.lastIndexOf(inline) > index) {
    return inline.slice(name.length + 1);
  }
  return index >= 0 ? args[index + 1] : fallback;
}

/**
 * Throws unless every network command in `args` is pinned to the loopback interface and its
 * unicast seeds (`--peers`) are loopback addresses.
 */
export function assertLoopbackOnly(args: string[], env: Record<string, string> = {}): void {
  if (!args.some((a) => NETWORK_COMMANDS.has(a))) return;
  if (args.includes("--help") || args.includes("-h")) return;
  const refuse = (why: string) => {
    throw new Error(`refusing to start dsys ${args.join(" ")}: ${why}`);
  };
  const iface = flagValue(args, "--iface", env.DSYS_IFACE);
  if (iface !== "lo" && !LOOPBACK_IPV4.test(iface ?? "")) {
    refuse(`tests must pass --iface lo (got ${iface})`);
  }
  const peers = flagValue(args, "--peers", env.DSYS_PEERS)?.split(",") ?? [];
  for (const peer of peers.map((p) => p.trim()).filter((p) => p !== "")) {
    const host = peer.slice(0, peer.lastIndexOf(":"));
    if (host !== "localhost" && !LOOPBACK_IPV4.test(host)) {
      refuse(`tests may only seed loopback peers (got ${peer})`);
    }
  }
}
