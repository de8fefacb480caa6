/**
 * The multi-host lab: a LAN of Linux network namespaces joined by a bridge, for tests that
 * need real multicast, real crashes and real partitions.
 *
 * Layout of one lab (names carry the creating pid and a random suffix, so runs never collide):
 *
 * ```
 *  switch namespace  dsl-<pid36>-<rand>-sw    bridge <tag>b0 (+ <tag>b1… while partitioned)
 *    port <tag>p1 ──veth── <tag>h1  10.A.B.1/24  in host namespace dsl-<pid36>-<rand>-h1
 *    port <tag>p2 ──veth── <tag>h2  10.A.B.2/24  in host namespace dsl-<pid36>-<rand>-h2 …
 * ```
 *
 * Nothing is created in the caller's namespace: veth pairs are created inside the switch
 * namespace with their peer placed straight into the host namespace, and every address and
 * route lives inside the lab. A host namespace has only loopback and its veth, a route for its
 * /24 and `224.0.0.0/4` on the veth, and no default route. The bridges have multicast snooping
 * off, so multicast floods like on an unmanaged switch. {@linkcode Lab.cut} detaches a host's
 * port from its bridge (the host's link stays up and silently loses every frame);
 * {@linkcode Lab.partition} moves ports onto one bridge per side, which really splits the L2
 * segment.
 *
 * @module
 */

import { ip, IpError, ipIn, ipSync, listNamespaces, namespacePids } from "./ip.ts";
import { LabProcess, type StartOptions } from "./process.ts";
import { findProgram } from "../helpers/programs.ts";

/** Prefix of every namespace a lab creates; {@linkcode sweepStale} relies on it. */
export const NAMESPACE_PREFIX = "dsl-";

const NAME_PATTERN = /^dsl-([0-9a-z]+)-([0-9a-z]+)-[0-9a-z]+$/;
const MAX_HOSTS = 200;

/**
 * What a host needs of a process it tracks: a pid, a way to signal it, and its end. Both
 * {@linkcode LabProcess} and the dsys helpers' `DsysProcess` fit.
 */
export interface HostProcess {
  /** The program's pid. */
  readonly pid: number;
  /** Sends a signal; does nothing once the process has ended. */
  signal(signal: Deno.Signal): void;
  /** Resolves once the process has ended and its output is drained. */
  readonly exited: Promise<unknown>;
}

/** Options of {@linkcode Lab.create}. */
export interface LabOptions {
  /** Number of hosts, 1 to 200. */
  hosts: number;
}

/** One host of a lab: a network namespace with one veth on the lab's switch. */
export class LabHost {
  /** Position in {@linkcode Lab.hosts}, starting at 1 (`h1`, `h2`, …). */
  readonly index: number;
  /** Short name, `h<index>`. */
  readonly name: string;
  /** Network namespace name (for `ip netns exec`). */
  readonly ns: string;
  /** IPv4 address of the host on the lab's /24. */
  readonly address: string;
  /** Name of the host's interface (its end of the veth pair). */
  readonly iface: string;
  /** Name of the switch-side end of the veth pair (a bridge port in the switch namespace). */
  readonly port: string;
  /** Every process started with {@linkcode LabHost.spawn} or adopted, running or not. */
  readonly processes: HostProcess[] = [];

  /** Describes host `index` of the lab whose names are built from `run` and `tag`. */
  constructor(index: number, run: string, tag: string, subnet: string) {
    this.index = index;
    this.name = `h${index}`;
    this.ns = `${NAMESPACE_PREFIX}${run}-${this.name}`;
    this.address = `${subnet}.${index}`;
    this.iface = `${tag}h${index}`;
    this.port = `${tag}p${index}`;
  }

  /** Starts `cmd` inside this host's namespace (`ip netns exec <ns> cmd...`). */
  spawn(cmd: string[], options?: StartOptions): LabProcess {
    const proc = LabProcess.start(this.ns, cmd, { label: this.name, ...options });
    this.processes.push(proc);
    return proc;
  }

  /**
   * Tracks a process started in this host's namespace by other means (for example with
   * `ip netns exec` through the dsys test helpers), so that host signals and
   * {@linkcode Lab.destroy} reach it too. Returns it.
   */
  adopt<P extends HostProcess>(proc: P): P {
    this.processes.push(proc);
    return proc;
  }

  /** Sends SIGKILL to every running process this host started: a crash. */
  sigkill(): void {
    for (const proc of this.processes) proc.signal("SIGKILL");
  }

  /** Sends SIGSTOP to every running process this host started: a hang. */
  pause(): void {
    for (const proc of this.processes) proc.signal("SIGSTOP");
  }

  /** Sends SIGCONT to every running process this host started. */
  resume(): void {
    for (const proc of this.processes) proc.signal("SIGCONT");
  }
}

const live = new Set<Lab>();
let unloadHooked = false;

/** A running lab; always {@linkcode Lab.destroy} it (try/finally). */
export class Lab {
  /** Run id inside every namespace name: `<pid36>-<rand>`. */
  readonly run: string;
  /** Short tag prefixed to every interface name (at most 10 characters). */
  readonly tag: string;
  /** The lab's subnet as its first three octets, e.g. `10.37.201`. */
  readonly subnet: string;
  /** Namespace holding the bridges. */
  readonly switchNs: string;
  /** The hosts, `hosts[0]` being `h1`. */
  readonly hosts: LabHost[];
  #sides = new Map<LabHost, number>();
  #cut = new Set<LabHost>();
  #bridges = new Set<number>();
  #destroyed = false;

  private constructor(hosts: number) {
    const pid36 = Deno.pid.toString(36);
    const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(4, "0")
      .slice(-4);
    const octets = crypto.getRandomValues(new Uint8Array(2));
    this.run = `${pid36}-${rand}`;
    this.tag = `d${pid36}${rand}`;
    this.subnet = `10.${1 + (octets[0] % 254)}.${1 + (octets[1] % 254)}`;
    this.switchNs = `${NAMESPACE_PREFIX}${this.run}-sw`;
    this.hosts = Array.from(
      { length: hosts },
      (_, i) => new LabHost(i + 1, this.run, this.tag, this.subnet),
    );
  }

  /** Builds a lab of `hosts` namespaces on one bridge; sweeps stale labs first. */
  static async create(options: LabOptions): Promise<Lab> {
    const { hosts } = options;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
      throw new RangeError(`hosts must be an integer from 1 to ${MAX_HOSTS}, got ${hosts}`);
    }
    requireTools();
    await sweepStale();
    const lab = new Lab(hosts);
    live.add(lab);
    hookUnload();
    try {
      await lab.#build();
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  /** Detaches `host` from the switch: its link stays up but every frame is lost both ways. */
  async cut(host: LabHost): Promise<void> {
    this.#own(host);
    await ipIn(this.switchNs, `link set dev ${host.port} nomaster`);
    this.#cut.add(host);
  }

  /** Attaches a {@linkcode Lab.cut} host back to the bridge of its side. */
  async restore(host: LabHost): Promise<void> {
    this.#own(host);
    await this.#attach(host, this.#sides.get(host) ?? 0);
    this.#cut.delete(host);
  }

  /**
   * Splits the LAN into sides: hosts in one group reach each other and nobody else.
   * Every host must be in exactly one group; cut hosts stay cut.
   */
  async partition(groups: LabHost[][]): Promise<void> {
    const listed = groups.flat();
    for (const host of listed) this.#own(host);
    if (new Set(listed).size !== listed.length) throw new Error("a host is in two groups");
    if (listed.length !== this.hosts.length) {
      throw new Error(`partition must place all ${this.hosts.length} hosts`);
    }
    for (const [side, group] of groups.entries()) {
      if (!this.#bridges.has(side)) await this.#addBridge(side);
      for (const host of group) {
        this.#sides.set(host, side);
        if (!this.#cut.has(host)) await this.#attach(host, side);
      }
    }
  }

  /** Ends a {@linkcode Lab.partition}: every host not cut is back on the one bridge. */
  async heal(): Promise<void> {
    for (const host of this.hosts) {
      this.#sides.set(host, 0);
      if (!this.#cut.has(host)) await this.#attach(host, 0);
    }
    for (const side of [...this.#bridges].filter((side) => side !== 0)) {
      await ipIn(this.switchNs, `link del dev ${this.#bridge(side)}`);
      this.#bridges.delete(side);
    }
  }

  /**
   * Kills every process in the lab's namespaces and deletes the namespaces, which removes
   * every link the lab made. Safe to call twice.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    const processes = this.hosts.flatMap((host) => host.processes);
    for (const proc of processes) proc.signal("SIGKILL");
    await Promise.all(processes.map((proc) => proc.exited));
    const names = [...this.hosts.map((host) => host.ns), this.switchNs];
    const existing = new Set(await listNamespaces());
    const errors: string[] = [];
    for (const ns of names.filter((ns) => existing.has(ns))) {
      for (const pid of await namespacePids(ns)) killQuietly(pid);
      await ip("netns", "del", ns).catch((error: IpError) => errors.push(error.message));
    }
    if (errors.length > 0) throw new Error(`lab ${this.run} cleanup: ${errors.join("; ")}`);
  }

  /** Synchronous last-resort cleanup for the `unload` event. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    for (const proc of this.hosts.flatMap((host) => host.processes)) proc.signal("SIGKILL");
    for (const ns of [...this.hosts.map((host) => host.ns), this.switchNs]) {
      const pids = ipSync("netns", "pids", ns);
      if (typeof pids === "string") {
        pids.split(/\s+/).filter((s) => s).map(Number).forEach(killQuietly);
      }
      ipSync("netns", "del", ns);
    }
  }

  async #build(): Promise<void> {
    const sw = this.switchNs;
    await ip("netns", "add", sw);
    await ipIn(sw, "link set dev lo up");
    await this.#addBridge(0);
    for (const host of this.hosts) {
      await ip("netns", "add", host.ns);
      await ipIn(
        sw,
        `link add name ${host.port} type veth peer name ${host.iface} netns ${host.ns}`,
      );
      this.#sides.set(host, 0);
      await this.#attach(host, 0);
      await ipIn(sw, `link set dev ${host.port} up`);
      await ipIn(host.ns, "link set dev lo up");
      await ipIn(host.ns, `addr add ${host.address}/24 dev ${host.iface}`);
      await ipIn(host.ns, `link set dev ${host.iface} up`);
      await ipIn(host.ns, `route add 224.0.0.0/4 dev ${host.iface}`);
    }
  }

  #bridge(side: number): string {
    return `${this.tag}b${side}`;
  }

  async #addBridge(side: number): Promise<void> {
    const name = this.#bridge(side);
    await ipIn(this.switchNs, `link add name ${name} type bridge mcast_snooping 0`);
    await ipIn(this.switchNs, `link set dev ${name} up`);
    this.#bridges.add(side);
  }

  async #attach(host: LabHost, side: number): Promise<void> {
    await ipIn(this.switchNs, `link set dev ${host.port} master ${this.#bridge(side)}`);
  }

  #own(host: LabHost): void {
    if (!this.hosts.includes(host)) {
      throw new Error(`${host.name} is not a host of lab ${this.run}`);
    }
    if (this.#destroyed) throw new Error(`lab ${this.run} is destroyed`);
  }
}

function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const lab of live) lab.destroySync();
  });
}

function killQuietly(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes namespaces left by a crashed earlier run of this harness: those named with
 * {@linkcode NAMESPACE_PREFIX} whose embedded pid is not a running process. Returns their names.
 */
export async function sweepStale(): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    const match = NAME_PATTERN.exec(ns);
    if (!match) continue;
    const pid = parseInt(match[1], 36);
    if (pid === Deno.pid || pidAlive(pid)) continue;
    for (const stray of await namespacePids(ns)) killQuietly(stray);
    try {
      await ip("netns", "del", ns);
      removed.push(ns);
    } catch {
      // Another process swept it first.
    }
  }
  return removed;
}

/** Whether this process runs as root (uid 0). */
export function isRoot(): boolean {
  return Deno.build.os === "linux" && Deno.uid() === 0;
}

/**
 * Environment variable that makes every lab skip a failure: set to `1` where the lab tests must
 * run (`.ci/run` sets it), so that a machine without root, namespaces or a tool fails loudly
 * instead of passing with ignored tests.
 */
export const LAB_REQUIRED_ENV = "DSYS_LAB_REQUIRED";

/** True when {@linkcode LAB_REQUIRED_ENV} is `1`: lab tests may not be skipped. */
export function labRequired(): boolean {
  return Deno.env.get(LAB_REQUIRED_ENV) === "1";
}

let support: string | undefined | null = null;
const printed = new Set<string>();

/**
 * Why a lab cannot be built here, or undefined when it can: checks for Linux, root, `ip`, and
 * that a namespace with a bridge can really be made (once per process).
 */
export function labUnsupportedReason(): string | undefined {
  if (support === null) support = probeLabSupport();
  return support;
}

/**
 * Why a lab test must be skipped here, for `Deno.test({ ignore })`, or undefined when it can
 * run: the lab is unsupported, or one of `tools` (programs the test runs inside the lab, besides
 * `ip`) is not installed. Prints the reason once. With {@linkcode LAB_REQUIRED_ENV} set nothing
 * is skipped: the test runs and fails at {@linkcode Lab.create} (or {@linkcode requireTools})
 * with this reason.
 */
export function labSkipReason(...tools: string[]): string | undefined {
  const reason = labUnsupportedReason() ?? missingTools(tools);
  if (reason === undefined || labRequired()) return undefined;
  if (!printed.has(reason)) {
    printed.add(reason);
    console.log(`lab tests skipped: ${reason}`);
  }
  return reason;
}

/** Throws, naming the reason, unless a lab can be built here and every one of `tools` is found. */
export function requireTools(...tools: string[]): void {
  const reason = labUnsupportedReason() ?? missingTools(tools);
  if (reason === undefined) return;
  const required = labRequired() ? ` (${LAB_REQUIRED_ENV}=1: lab tests may not be skipped)` : "";
  throw new Error(`lab test cannot run: ${reason}${required}`);
}

/** Debian packages of the programs lab tests run, for the message when one is missing. */
const PACKAGES: Record<string, string> = { ip: "iproute2", iptables: "iptables" };

function missingTools(tools: readonly string[]): string | undefined {
  const missing = tools.filter((tool) => findProgram(tool) === undefined);
  if (missing.length === 0) return undefined;
  const packages = missing.map((tool) => PACKAGES[tool] ?? tool);
  return `${missing.join(", ")} not installed (Debian: apt-get install ${packages.join(" ")})`;
}

function probeLabSupport(): string | undefined {
  if (Deno.build.os !== "linux") return `network namespaces need Linux, not ${Deno.build.os}`;
  if (!isRoot()) return "network namespaces need root (run as uid 0)";
  const tools = missingTools(["ip"]);
  if (tools) return tools;
  const ns = `${NAMESPACE_PREFIX}${Deno.pid.toString(36)}-${crypto.randomUUID().slice(0, 8)}-chk`;
  const added = ipSync("netns", "add", ns);
  if (added instanceof IpError) return `cannot create a network namespace (${added.message})`;
  const bridge = ipSync("-n", ns, "link", "add", "name", "chk", "type", "bridge");
  ipSync("netns", "del", ns);
  if (bridge instanceof IpError) return `cannot create a bridge (${bridge.message})`;
  return undefined;
}
