/**
 * Chat in the lab: a lab whose first hosts run dsys servers of one cluster (shared name and
 * secret, or none for an open cluster) and whose other hosts run `dsys chat` clients, all with the built executable; and
 * reading what a `--json` client printed (messages, presence entries, system events).
 *
 * Every process gets `--iface` set to its own host's veth, so no datagram leaves the lab.
 *
 * @module
 */

import type { DsysProcess } from "../helpers/process.ts";
import { waitForLeader } from "./cluster.ts";
import { spawnDsysOn } from "./dsys.ts";
import { Lab, type LabHost } from "./harness.ts";
import { ipIn } from "./ip.ts";

/** One line a `dsys chat --json` client printed, parsed. */
export interface ChatLine {
  /** `message`, `joined`, `left`, `reconnected`, `missed`, … */
  type: string;
  /** Position in the global order (messages and presence entries). */
  seq?: number;
  /** Message id (messages). */
  id?: string;
  /** Sender's user name (messages). */
  from?: string;
  /** The line (messages) or the system text. */
  text?: string;
  /** The user a presence entry is about. */
  user?: string;
  /** Anything else the event carries. */
  [field: string]: unknown;
}

/** A chat message as a `--json` client printed it. */
export interface ChatMessageLine extends ChatLine {
  type: "message";
  seq: number;
  id: string;
  from: string;
  text: string;
}

/** Options of {@linkcode ChatLab.create}. */
export interface ChatLabOptions {
  /** Hosts in the lab; servers run on the first `servers` of them. */
  hosts: number;
  /** Servers to start, on `h1`…; `h1` gets the highest priority and leads. */
  servers: number;
  /** Environment of every dsys process (e.g. `DSYS_FAULTS`). */
  env?: Record<string, string>;
  /** How long the servers may take to agree on `h1` and start leading the chat (ms). */
  startTimeoutMs?: number;
  /** False: an open cluster, without `--secret` (default: a fresh secret). */
  secret?: boolean;
  /** Serve `/status` and `/metrics` on this port of every server's lab address (default: none). */
  httpPort?: number;
  /**
   * True: every host's interface has multicast switched off, and every process gets the servers'
   * addresses as `--peers` (a network without multicast).
   */
  unicastOnly?: boolean;
  /** Keep each server's chat log in `<dataDir>/<host>` (default: memory only). */
  dataDir?: string;
}

/** Options of {@linkcode ChatLab.client}. */
export interface ClientOptions {
  /** Extra `dsys chat` flags (`--follow`, `--history 5`, `--timeout 20000`, …). */
  flags?: string[];
  /** Extra environment, added to the lab's. */
  env?: Record<string, string>;
}

/** A lab running one chat cluster; always {@linkcode ChatLab.destroy} it (try/finally). */
export class ChatLab {
  /** The lab. */
  readonly lab: Lab;
  /** The servers, `servers[0]` on `h1` (the first leader). */
  readonly servers: DsysProcess[] = [];
  /** Every client started, in order. */
  readonly clients: DsysProcess[] = [];
  /** The cluster name. */
  readonly cluster: string;
  /** The cluster's secret; undefined for an open cluster. */
  readonly secret: string | undefined;
  readonly #env: Record<string, string>;
  readonly #httpPort: number | undefined;
  readonly #peers: string[];
  readonly #dataDir: string | undefined;
  /** Servers replaced by {@linkcode ChatLab.restartServer}, kept for their output. */
  readonly #replaced: DsysProcess[] = [];

  private constructor(lab: Lab, options: ChatLabOptions) {
    this.lab = lab;
    this.cluster = `chat-${lab.run}`;
    this.secret = options.secret === false ? undefined : crypto.randomUUID();
    this.#env = options.env ?? {};
    this.#httpPort = options.httpPort;
    this.#dataDir = options.dataDir;
    this.#peers = options.unicastOnly
      ? lab.hosts.slice(0, options.servers).map((h) => `${h.address}:7401`)
      : [];
  }

  /**
   * Builds the lab, starts the servers (`h1` with priority 1, the others 0, so `h1` leads and
   * `h<servers>` takes over after it), and waits until all follow `h1` and `h1` leads the chat.
   */
  static async create(options: ChatLabOptions): Promise<ChatLab> {
    const lab = await Lab.create({ hosts: options.hosts });
    const chat = new ChatLab(lab, options);
    try {
      if (options.unicastOnly) {
        for (const host of lab.hosts) {
          await ipIn(host.ns, `link set dev ${host.iface} multicast off`);
        }
      }
      const timeoutMs = options.startTimeoutMs ?? 15_000;
      for (const host of lab.hosts.slice(0, options.servers)) {
        chat.servers.push(chat.#server(host, host.index === 1 ? 1 : 0));
      }
      await waitForLeader(chat.servers, "h1", timeoutMs);
      await chat.servers[0].waitForEvent("chat-leading", {}, { timeoutMs });
    } catch (error) {
      await chat.destroy();
      throw error;
    }
    return chat;
  }

  /** Starts `dsys chat --user <user> --json` on `host` with a writable standard input. */
  client(host: LabHost, user: string, options: ClientOptions = {}): DsysProcess {
    const client = spawnDsysOn(host, "node", [
      "chat",
      "--user",
      user,
      "--json",
      ...this.#network(host),
      ...(options.flags ?? []),
    ], { label: `${user} on ${host.name}`, stdin: true, env: { ...this.#env, ...options.env } });
    this.clients.push(client);
    return client;
  }

  /**
   * Writes what every process printed so far into a new directory under `/tmp` (one `.stdout`
   * and one `.stderr` file per process) and returns its path, to keep a failing run.
   */
  saveOutput(name: string): Promise<string> {
    return saveOutput(`${name}-${this.lab.run}`, [
      ...this.#replaced,
      ...this.servers,
      ...this.clients,
    ]);
  }

  /**
   * Starts server `index` (`servers[index]`, on `h<index + 1>`) again with its arguments, after
   * it stopped or was killed; returns the new process, which replaces the old in `servers`.
   */
  restartServer(index: number): DsysProcess {
    const host = this.lab.hosts[index];
    this.#replaced.push(this.servers[index]);
    this.servers[index] = this.#server(host, host.index === 1 ? 1 : 0);
    return this.servers[index];
  }

  /** Kills every process of the lab and deletes its namespaces. */
  async destroy(): Promise<void> {
    const processes = [...this.#replaced, ...this.servers, ...this.clients];
    await Promise.all(processes.map((proc) => proc.kill()));
    await this.lab.destroy();
  }

  #server(host: LabHost, priority: number): DsysProcess {
    return spawnDsysOn(host, "node", [
      "serve",
      "--id",
      host.name,
      "--priority",
      String(priority),
      "--status-interval",
      "1",
      ...(this.#httpPort === undefined ? [] : ["--http", `${host.address}:${this.#httpPort}`]),
      ...(this.#dataDir === undefined ? [] : ["--data-dir", `${this.#dataDir}/${host.name}`]),
      ...this.#network(host),
    ], { label: `server ${host.name}`, env: this.#env });
  }

  #network(host: LabHost): string[] {
    return [
      "--cluster",
      this.cluster,
      "--iface",
      host.iface,
      ...(this.secret === undefined ? [] : ["--secret", this.secret]),
      ...(this.#peers.length > 0 ? ["--peers", this.#peers.join(",")] : []),
      "--log-json",
    ];
  }
}

/**
 * Writes what `processes` printed so far into a new directory `/tmp/dsys-<name>-…` (one `.stdout`
 * and one `.stderr` file per process) and returns its path, to keep a failing run.
 */
export async function saveOutput(name: string, processes: DsysProcess[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `dsys-${name}-` });
  for (const proc of processes) {
    const file = `${dir}/${proc.label.replaceAll(" ", "_")}`;
    await Deno.writeTextFile(`${file}.stdout`, proc.stdout);
    await Deno.writeTextFile(`${file}.stderr`, proc.stderr);
  }
  return dir;
}

/** The properties of the latest `status` event `server` logged (every second), if any. */
export function latestStatus(server: DsysProcess): Record<string, unknown> | undefined {
  return server.logs.findLast((l) => l.properties?.event === "status")?.properties;
}

/** Every line `client` printed so far, parsed; a line that is not JSON is a test failure. */
export function chatLines(client: DsysProcess): ChatLine[] {
  return client.stdoutLines.filter((line) => line.trim() !== "").map((line) => {
    try {
      return JSON.parse(line) as ChatLine;
    } catch {
      throw new Error(`${client.label} printed a line that is not JSON: ${line}`);
    }
  });
}

/** The messages `client` printed so far, in the order it printed them. */
export function chatMessages(client: DsysProcess): ChatMessageLine[] {
  return chatLines(client).filter((line): line is ChatMessageLine => line.type === "message");
}

/** The lines `client` printed that hold a position in the global order, in printed order. */
export function sequencedLines(client: DsysProcess): ChatLine[] {
  return chatLines(client).filter((line) => typeof line.seq === "number");
}

/** Resolves once `client` printed its own `joined` entry: the cluster accepted it. */
export async function waitJoined(client: DsysProcess, user: string, timeoutMs: number) {
  await client.waitForStdout(
    new RegExp(`"type":"joined".*"user":"${user}"`),
    { timeoutMs },
  );
}

/** Builds a chat lab, runs `body`, keeps the output of a failing run in `/tmp`, cleans up. */
export async function withChatLab(
  name: string,
  options: ChatLabOptions,
  body: (chat: ChatLab) => Promise<void>,
): Promise<void> {
  const chat = await ChatLab.create(options);
  try {
    await body(chat);
  } catch (error) {
    const dir = await chat.saveOutput(name);
    if (error instanceof Error) error.message += `\n(output of this run kept in ${dir})`;
    throw error;
  } finally {
    await chat.destroy();
  }
}
