/**
 * dsys servers in lab hosts, as the failover benchmark sees them: every JSON log line a server
 * writes is stamped with the benchmark's monotonic clock (`performance.now()`) the moment the
 * benchmark reads it, and a cluster can wait until a condition over everything read so far
 * holds.
 *
 * The servers run through `ip netns exec` (which execs the program, so signals reach dsys
 * itself), each bound to its host's veth with `--iface`, so no datagram leaves the lab.
 *
 * @module
 */

import type { LogLine } from "../helpers/process.ts";
import { launcherFor, type TransportName } from "../lab/dsys.ts";
import type { LabHost } from "../lab/harness.ts";
import type { LabProcess, Stream } from "../lab/process.ts";

/** One JSON log line of a server, with the moments it was read. */
export interface Stamped {
  /** The benchmark's `performance.now()` when the line was read. */
  at: number;
  /** Wall-clock read time minus the record's own `@timestamp`, in ms (1 ms resolution). */
  lagMs: number;
  /** `properties.event` of the record. */
  event: string;
  /** The record's properties. */
  props: Record<string, unknown>;
  /** The line as written. */
  raw: string;
}

/** One dsys server process on one lab host. */
export class BenchServer {
  /** The server's `--id` (its host's name). */
  readonly id: string;
  /** The host it runs on. */
  readonly host: LabHost;
  /** The benchmark's `performance.now()` just before the process was spawned. */
  readonly spawnedAt: number;
  /** Its JSON log lines, in the order read. */
  readonly events: Stamped[] = [];
  /** Standard-output and non-JSON standard-error lines, for failure messages. */
  readonly otherLines: string[] = [];
  readonly #process: LabProcess;

  /** Starts dsys with `args` on `host`; `onLine` runs after every line is recorded. */
  constructor(
    host: LabHost,
    transport: TransportName,
    args: string[],
    onLine: () => void,
  ) {
    const launcher = launcherFor(transport);
    this.id = host.name;
    this.host = host;
    this.spawnedAt = performance.now();
    this.#process = host.spawn([launcher.command, ...launcher.prefix, ...args], {
      env: { DSYS_TRANSPORT: transport },
      label: host.name,
      onLine: (line, stream) => {
        this.#record(line, stream);
        onLine();
      },
    });
  }

  /** The latest leader this server logged: an id, null for none, undefined before any. */
  leader(): string | null | undefined {
    const last = this.events.findLast((e) => e.event === "leader-changed");
    return last === undefined ? undefined : (last.props.leader as string | null);
  }

  /** The latest `leader-changed` line, if any. */
  lastLeaderLine(): Stamped | undefined {
    return this.events.findLast((e) => e.event === "leader-changed");
  }

  /** The first line of `event` read at or after `since` whose properties match `fields`. */
  first(event: string, fields: Record<string, unknown> = {}, since = 0): Stamped | undefined {
    return this.events.find((e) =>
      e.event === event && e.at >= since &&
      Object.entries(fields).every(([key, value]) => e.props[key] === value)
    );
  }

  /** Every line of `event` read in `[from, to)`. */
  between(event: string, from: number, to = Infinity): Stamped[] {
    return this.events.filter((e) => e.event === event && e.at >= from && e.at < to);
  }

  /** Sends a signal to the process (nothing once it has ended). */
  signal(signal: Deno.Signal): void {
    this.#process.signal(signal);
  }

  /** Resolves once the process has ended and its output is drained. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#process.exited;
  }

  /** The last `count` lines of output, for failure messages. */
  tail(count = 12): string {
    return [...this.events.map((e) => e.raw), ...this.otherLines].slice(-count).join("\n");
  }

  #record(line: string, stream: Stream): void {
    const at = performance.now();
    const wall = Date.now();
    if (stream === "stderr" && line.startsWith("{")) {
      try {
        const record = JSON.parse(line) as LogLine;
        const props = record.properties ?? {};
        this.events.push({
          at,
          lagMs: wall - Date.parse(record["@timestamp"]),
          event: String(props.event ?? ""),
          props,
          raw: line,
        });
        return;
      } catch {
        // Not JSON after all: kept with the other lines.
      }
    }
    this.otherLines.push(line);
  }
}

/** Options of {@linkcode BenchCluster}. */
export interface ClusterOptions {
  /** Transport (and so launcher) of every server. */
  transport: TransportName;
  /** Cluster name, unique per cluster so no two clusters ever talk. */
  cluster: string;
  /** Shared secret of the cluster. */
  secret: string;
}

/** A set of servers, one per host, and waiting on what they log. */
export class BenchCluster {
  /** The servers, in the order started. */
  readonly servers: BenchServer[] = [];
  readonly #options: ClusterOptions;
  readonly #checks = new Set<() => void>();

  /** A cluster with no server yet. */
  constructor(options: ClusterOptions) {
    this.#options = options;
  }

  /** Starts `dsys serve` on `host` with the defaults, bound to the host's veth only. */
  start(host: LabHost): BenchServer {
    const { transport, cluster, secret } = this.#options;
    const args = [
      "serve",
      ...["--cluster", cluster, "--secret", secret],
      ...["--iface", host.iface, "--id", host.name],
      "--log-json",
    ];
    const server = new BenchServer(host, transport, args, () => this.#notify());
    this.servers.push(server);
    return server;
  }

  /**
   * Resolves true as soon as `condition` holds (it is checked now and after every line any
   * server writes), false after `timeoutMs` without it.
   */
  until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        done();
        resolve(true);
      };
      const timer = setTimeout(() => {
        done();
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#checks.delete(check);
      };
      this.#checks.add(check);
    });
  }

  /** SIGKILLs every server and waits until all have ended. */
  async kill(): Promise<void> {
    for (const server of this.servers) server.signal("SIGKILL");
    await Promise.all(this.servers.map((server) => server.exited));
  }

  #notify(): void {
    for (const check of [...this.#checks]) check();
  }
}

/**
 * The leader every server in `servers` names in its latest `leader-changed` line, or undefined
 * while they do not all name the same one (or name none).
 */
export function agreedLeader(servers: BenchServer[]): string | undefined {
  const leaders = new Set(servers.map((server) => server.leader()));
  if (leaders.size !== 1) return undefined;
  const [leader] = leaders;
  return typeof leader === "string" ? leader : undefined;
}

/**
 * The moment `server`'s view became complete: when it had logged `member-joined` for every
 * server in `others`; undefined while one is missing.
 */
export function viewCompleteAt(server: BenchServer, others: BenchServer[]): number | undefined {
  let latest = -Infinity;
  for (const other of others) {
    const joined = server.first("member-joined", { id: other.id });
    if (joined === undefined) return undefined;
    latest = Math.max(latest, joined.at);
  }
  return latest;
}
