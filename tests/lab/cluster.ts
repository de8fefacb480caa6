/**
 * dsys clusters in the lab, for election tests: start servers with a given id and Bully
 * priority on lab hosts (one shared cluster name and secret), read each server's current leader
 * from its JSON log, and wait until a set of servers agrees on one leader.
 *
 * A server's current leader is the `leader` of its latest `leader-changed` event: `undefined`
 * before the first one, `null` while it knows no leader.
 *
 * @module
 */

import type { DsysProcess, LogLine } from "../helpers/process.ts";
import { spawnDsysOn, type TransportName } from "./dsys.ts";
import type { Lab, LabHost } from "./harness.ts";

/** How often {@linkcode waitUntil} re-checks its condition. */
const POLL_MS = 10;

/** One server of a {@linkcode LabCluster}. */
export interface ServerSpec {
  /** The lab host it runs on. */
  host: LabHost;
  /** Its `--id`. */
  id: string;
  /** Its `--priority`. */
  priority: number;
}

/** A leader change as one server logged it. */
export interface LeaderChange {
  /** The new leader's id, or null when the server lost its leader. */
  leader: string | null;
  /** The leader's term. */
  term: number;
  /** When it was logged (wall clock, ms). */
  at: number;
}

/** Servers of one cluster in one lab, all on one transport; {@linkcode LabCluster.kill} them. */
export class LabCluster {
  /** The transport every server runs on. */
  readonly transport: TransportName;
  /** Every process started, in order, including restarted and ended ones. */
  readonly processes: DsysProcess[] = [];
  readonly #cluster: string;
  readonly #secret = crypto.randomUUID();
  readonly #current = new Map<string, DsysProcess>();

  /** A cluster named after `lab`'s run, with a fresh secret. */
  constructor(lab: Lab, transport: TransportName) {
    this.transport = transport;
    this.#cluster = `lab-${lab.run}`;
  }

  /** Starts `spec` (`serve --log-json` on its host's veth); it replaces any earlier `spec.id`. */
  start(spec: ServerSpec): DsysProcess {
    const { host, id, priority } = spec;
    const server = spawnDsysOn(host, this.transport, [
      "serve",
      "--cluster",
      this.#cluster,
      "--iface",
      host.iface,
      "--id",
      id,
      "--priority",
      String(priority),
      "--secret",
      this.#secret,
      "--log-json",
    ], { label: `${id} on ${host.name}` });
    this.processes.push(server);
    this.#current.set(id, server);
    return server;
  }

  /** The latest process started with `id`. */
  server(id: string): DsysProcess {
    const server = this.#current.get(id);
    if (!server) throw new Error(`no server ${id} was started`);
    return server;
  }

  /** SIGKILLs every process still running and awaits them all. */
  async kill(): Promise<void> {
    await Promise.all(this.processes.map((server) => server.kill()));
  }
}

/** Every leader change `server` logged, from log line `from` on. */
export function leaderChanges(server: DsysProcess, from = 0): LeaderChange[] {
  return server.logs.slice(from)
    .filter((line) => line.properties?.event === "leader-changed")
    .map((line: LogLine) => ({
      leader: line.properties.leader as string | null,
      term: line.properties.term as number,
      at: Date.parse(line["@timestamp"]),
    }));
}

/** The leader `server` follows now: null when it knows none, undefined before it ever knew. */
export function currentLeader(server: DsysProcess): LeaderChange | undefined {
  return leaderChanges(server).at(-1);
}

/** Resolves once `check()` is true; rejects after `timeoutMs` with `describe()` as message. */
export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() >= deadline) {
      throw new Error(`not within ${timeoutMs} ms: ${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Waits until every server in `servers` follows `leader` and returns the highest term they
 * logged for it. Only ids are compared: `leader-changed` is logged when the leader's id changes,
 * so a leader re-elected in a higher term leaves its followers' logged term behind. The error
 * names what each server follows and ends with their last log lines.
 */
export async function waitForLeader(
  servers: DsysProcess[],
  leader: string,
  timeoutMs: number,
): Promise<number> {
  const agreed = () => {
    const ended = servers.find((server) => !server.running);
    if (ended) throw new Error(`${ended.label} exited; last lines:\n${ended.tail()}`);
    return servers.every((server) => currentLeader(server)?.leader === leader);
  };
  await waitUntil(agreed, timeoutMs, () => {
    const follows = servers.map((server) => {
      const change = currentLeader(server);
      return `${server.label} follows ${change?.leader} (term ${change?.term})`;
    });
    const tails = servers.map((server) => `--- ${server.label}:\n${server.tail(10)}`);
    return `all should follow ${leader}; ${follows.join(", ")}\n${tails.join("\n")}`;
  });
  return Math.max(...servers.map((server) => currentLeader(server)!.term));
}
