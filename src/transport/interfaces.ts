/**
 * Which IPv4 interfaces dsys joins the multicast group on, and why.
 *
 * {@linkcode listInterfaces} reads the operating system (`node:os` and, on Linux,
 * `/sys/class/net/<name>/flags`); {@linkcode selectInterfaces} is a pure function of that list
 * and the user's `--iface`, so tests feed it fake lists. This module opens no socket and never
 * reads configuration itself.
 *
 * @module
 */

import { networkInterfaces } from "node:os";
import { readFileSync } from "node:fs";
import { type InterfaceInfo, TransportError } from "./types.ts";

/** An IPv4 interface as the OS reports it, with its link flags when they could be read. */
export interface InterfaceCandidate extends InterfaceInfo {
  /** IFF_UP: the link is administratively up; undefined when the flags were unreadable. */
  up?: boolean;
  /** IFF_MULTICAST: the link supports multicast; undefined when the flags were unreadable. */
  multicast?: boolean;
}

/** One interface chosen for the group, with a sentence saying why (shown to users). */
export interface InterfaceChoice {
  /** The interface to join the group on. */
  iface: InterfaceInfo;
  /** Why it was chosen. */
  reason: string;
}

/**
 * Names of the adapters that hypervisors, container engines, VPNs and Internet sharing add:
 * Hyper-V's and WSL's `vEthernet (…)`, VirtualBox and VMware adapters on Windows; `docker0`,
 * `br-…`, `virbr0`, `veth…`, CNI and VPN links on Linux; `bridge100`, `vmnet…` on macOS.
 */
const VIRTUAL_ADAPTER =
  /^(vEthernet\b|VirtualBox|VMware|docker|br-|virbr|veth|vboxnet|vmnet|bridge\d|cni|flannel|cali|weave|podman|lxcbr|lxdbr|tailscale|zt)/;

/**
 * Whether `name` looks like a virtual adapter rather than the LAN. Outgoing multicast leaves
 * through the first chosen interface only, and Windows and macOS list adapters in no useful
 * order (and report no link flags to filter on), so {@linkcode selectInterfaces} puts these
 * after the others: still joined, never the one sending while a real one is up.
 */
export function isVirtualAdapter(name: string): boolean {
  return VIRTUAL_ADAPTER.test(name);
}

const IFF_UP = 0x1;
const IFF_MULTICAST = 0x1000;

/** Lists the IPv4 interfaces of this host (the first IPv4 address of each), with link flags. */
export function listInterfaces(): InterfaceCandidate[] {
  const result: InterfaceCandidate[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    const v4 = addresses?.find((a) => a.family === "IPv4");
    if (!v4) continue;
    const flags = readLinkFlags(name);
    result.push({
      name,
      address: v4.address,
      internal: v4.internal,
      up: flags === undefined ? undefined : (flags & IFF_UP) !== 0,
      multicast: flags === undefined ? undefined : (flags & IFF_MULTICAST) !== 0,
    });
  }
  return result;
}

/** Reads Linux link flags; undefined on other systems or when the file cannot be read. */
function readLinkFlags(name: string): number | undefined {
  if (!/^[\w.@:-]+$/.test(name)) return undefined;
  try {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, "utf8").trim(), 16);
    return Number.isNaN(flags) ? undefined : flags;
  } catch {
    return undefined;
  }
}

/**
 * Chooses the interfaces to join the group on.
 *
 * With `iface` (a name or an IPv4 address) exactly that interface is chosen; loopback counts as
 * multicast-capable when named explicitly. Without it, every up, multicast-capable, non-loopback
 * interface is chosen, virtual adapters last (the first one sends the group's traffic), and
 * loopback alone when there is none. Unreadable flags count as up and
 * multicast-capable (the OS lists only running interfaces). Throws a {@linkcode TransportError}
 * when the named interface does not exist or cannot carry multicast, or when none can.
 *
 * @example
 * ```ts
 * import { selectInterfaces } from "./interfaces.ts";
 * const lo = { name: "lo", address: "127.0.0.1", internal: true, up: true, multicast: false };
 * console.assert(selectInterfaces([lo], "lo")[0].iface.name === "lo");
 * ```
 */
export function selectInterfaces(
  all: readonly InterfaceCandidate[],
  iface?: string,
): InterfaceChoice[] {
  if (iface !== undefined) return [selectNamed(all, iface)];
  const usable = all.filter((c) => !c.internal && c.up !== false && c.multicast !== false);
  if (usable.length > 0) {
    const virtual = (c: InterfaceCandidate) => isVirtualAdapter(c.name) ? 1 : 0;
    return usable.toSorted((a, b) => virtual(a) - virtual(b)).map((c) => ({
      iface: strip(c),
      reason: `${c.name} (${c.address}) is up and multicast-capable` +
        (virtual(c) ? " (a virtual adapter: after the others)" : ""),
    }));
  }
  const loopback = all.find((c) => c.internal && c.up !== false);
  if (loopback) {
    return [{
      iface: strip(loopback),
      reason: `no up, multicast-capable network interface; using loopback ${loopback.name} ` +
        `(${loopback.address}): only processes on this host will be found`,
    }];
  }
  throw new TransportError(
    `no multicast-capable interface is up${describeAll(all)}`,
  );
}

function selectNamed(all: readonly InterfaceCandidate[], iface: string): InterfaceChoice {
  const byAddress = /^\d{1,3}(\.\d{1,3}){3}$/.test(iface);
  const found = all.find((c) => (byAddress ? c.address === iface : c.name === iface));
  if (!found) {
    const available = all.length === 0
      ? "none"
      : all.map((c) => (byAddress ? `${c.address} (${c.name})` : c.name)).join(", ");
    throw new TransportError(
      byAddress
        ? `no interface has the address ${JSON.stringify(iface)}; available: ${available}`
        : `no interface named ${JSON.stringify(iface)}; available: ${available}`,
    );
  }
  const label = `${found.name} (${found.address})`;
  if (found.up === false) throw new TransportError(`interface ${label} is down`);
  if (found.internal) {
    return {
      iface: strip(found),
      reason: `${label} chosen explicitly; loopback multicast reaches this host only`,
    };
  }
  if (found.multicast === false) {
    throw new TransportError(`interface ${label} is not multicast-capable (no MULTICAST flag)`);
  }
  return { iface: strip(found), reason: `${label} chosen explicitly` };
}

function describeAll(all: readonly InterfaceCandidate[]): string {
  if (all.length === 0) return " (no IPv4 interface found)";
  const parts = all.map((c) => {
    return `${c.name} ${c.address} ${c.up === false ? "down" : "no multicast"}`;
  });
  return ` (found: ${parts.join(", ")})`;
}

function strip(c: InterfaceCandidate): InterfaceInfo {
  return { name: c.name, address: c.address, internal: c.internal };
}

/** What {@linkcode chooseInterfaces} decided: the interfaces, and whether multicast is off. */
export interface InterfacePlan {
  /** The interfaces (to join the group on, or only to take the local address from). */
  choices: InterfaceChoice[];
  /**
   * True when no interface here carries multicast but `--peers` were given: the process joins no
   * group and sends what it would multicast to each known server by unicast instead.
   */
  unicastOnly: boolean;
}

/**
 * Chooses the interfaces as {@linkcode selectInterfaces} does, but with unicast seeds (`hasPeers`)
 * a network without multicast — the named interface lacks the MULTICAST flag, or only loopback
 * carries multicast while other interfaces are up (VPN and tun links, some container and cloud
 * networks) — is used unicast-only instead of being refused or left for loopback.
 *
 * @example
 * ```ts
 * import { chooseInterfaces } from "./interfaces.ts";
 * const lo = { name: "lo", address: "127.0.0.1", internal: true, up: true, multicast: true };
 * const tun = { name: "tun0", address: "10.77.0.2", internal: false, up: true, multicast: false };
 * console.assert(chooseInterfaces([lo, tun], undefined, true).unicastOnly);
 * ```
 */
export function chooseInterfaces(
  all: readonly InterfaceCandidate[],
  iface: string | undefined,
  hasPeers: boolean,
): InterfacePlan {
  let choices: InterfaceChoice[];
  try {
    choices = selectInterfaces(all, iface);
  } catch (error) {
    const named = iface === undefined
      ? undefined
      : all.find((c) => c.name === iface || c.address === iface);
    if (!hasPeers || !named || named.up === false) throw error;
    const reason = `${named.name} (${named.address}) has no multicast: unicast to --peers only`;
    return { choices: [{ iface: strip(named), reason }], unicastOnly: true };
  }
  const fellBack = iface === undefined && choices.length === 1 && choices[0].iface.internal;
  const plain = all.filter((c) => !c.internal && c.up !== false);
  if (!hasPeers || !fellBack || plain.length === 0) return { choices, unicastOnly: false };
  return {
    choices: plain.map((c) => ({
      iface: strip(c),
      reason: `${c.name} (${c.address}) is up without multicast: unicast to --peers only`,
    })),
    unicastOnly: true,
  };
}
