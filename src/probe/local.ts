/**
 * The probe's local checks, as pure functions of facts about this host: which interfaces dsys
 * would use and why, what the environment (WSL, a container, several networks) means for
 * multicast, and what a failed group bind or multicast self-test means.
 *
 * The facts are read by `os.ts` (and `selectInterfaces` in the transport layer); tests feed
 * these functions fake interface lists, `/proc/version` texts and cgroup contents.
 *
 * @module
 */

import {
  type InterfaceCandidate,
  type InterfaceChoice,
  isVirtualAdapter,
} from "../transport/interfaces.ts";
import type { Hint, Problem } from "./problems.ts";
import { listWords } from "./problems.ts";

/** One interface of this host as the probe shows it. */
export interface InterfaceRow {
  /** Interface name. */
  name: string;
  /** Its IPv4 address. */
  address: string;
  /** Link up; null when the flags could not be read. */
  up: boolean | null;
  /** Multicast-capable; null when the flags could not be read. */
  multicast: boolean | null;
  /** True for loopback. */
  loopback: boolean;
  /** True when dsys joins the group on it. */
  used: boolean;
  /** True for the interface outgoing multicast leaves through. */
  outgoing: boolean;
  /** Why it is used or not, in words. */
  why: string;
}

/** Facts about the environment this process runs in. */
export interface EnvironmentFacts {
  /** Contents of `/proc/version`, when readable. */
  procVersion?: string;
  /** Whether `/.dockerenv` exists (Docker). */
  dockerEnv: boolean;
  /** Whether `/run/.containerenv` exists (Podman). */
  containerEnv: boolean;
  /** Contents of `/proc/1/cgroup`, when readable. */
  cgroup?: string;
}

/** The outcome of the multicast loopback self-test on one interface. */
export interface SelfTestResult {
  /** Interface name. */
  iface: string;
  /** Its address. */
  address: string;
  /** True when the datagram sent to the group came back. */
  ok: boolean;
  /** Milliseconds until it came back. */
  ms?: number;
  /** What went wrong, when not ok. */
  error?: string;
}

/**
 * Describes every candidate interface: whether dsys uses it (`choices`, from
 * `selectInterfaces(candidates, iface)`) and why, or why not.
 */
export function interfaceRows(
  candidates: readonly InterfaceCandidate[],
  choices: readonly InterfaceChoice[],
  iface?: string,
): InterfaceRow[] {
  return candidates.map((c) => {
    const index = choices.findIndex((choice) => choice.iface.name === c.name);
    return {
      name: c.name,
      address: c.address,
      up: c.up ?? null,
      multicast: c.multicast ?? null,
      loopback: c.internal,
      used: index >= 0,
      outgoing: index === 0,
      why: index >= 0 ? choices[index].reason : unusedReason(c, iface),
    };
  });
}

function unusedReason(c: InterfaceCandidate, iface: string | undefined): string {
  if (iface !== undefined) return `not named by --iface ${iface}`;
  if (c.up === false) return "down";
  if (c.internal) return "loopback: used only when named with --iface or when nothing else is up";
  if (c.multicast === false) return "not multicast-capable (no MULTICAST flag)";
  return "not chosen";
}

/** Hints about this host: WSL, a container, several or virtual interfaces, loopback only. */
export function environmentHints(
  facts: EnvironmentFacts,
  rows: readonly InterfaceRow[],
  iface?: string,
): Hint[] {
  const hints: Hint[] = [];
  const version = facts.procVersion ?? "";
  if (/microsoft/i.test(version)) {
    hints.push(
      /wsl2/i.test(version)
        ? {
          code: "wsl2",
          message: "this is WSL 2, which sits behind a NAT on a virtual switch: multicast does " +
            "not reach the LAN. Run dsys on Windows itself, or set networkingMode=mirrored in " +
            "%UserProfile%\\.wslconfig (Windows 11 22H2 or later), or give --peers.",
        }
        : {
          code: "wsl1",
          message: "this is WSL 1, which uses Windows' network stack: the Windows firewall " +
            "must allow dsys's UDP ports for the Linux programs.",
        },
    );
  }
  const cgroup = facts.cgroup ?? "";
  if (
    facts.dockerEnv || facts.containerEnv ||
    /docker|kubepods|containerd|libpod|lxc/.test(cgroup)
  ) {
    hints.push({
      code: "container",
      message: "this runs inside a container: on Docker's default bridge network multicast " +
        "reaches only containers on the same bridge. Run the container with --network host, " +
        "or give --peers with the servers' addresses.",
    });
  }
  const used = rows.filter((r) => r.used);
  if (iface === undefined && used.length > 1) {
    const outgoing = used.find((r) => r.outgoing) ?? used[0];
    hints.push({
      code: "several-interfaces",
      message: `${used.length} interfaces can carry multicast (${
        listWords(used.map((r) => r.name))
      }): dsys listens on all of them but sends from ${outgoing.name}. If the servers are on ` +
        `another of these networks, give --iface with its name on every computer.`,
    });
  }
  const outgoing = rows.find((r) => r.outgoing);
  if (outgoing && !outgoing.loopback && isVirtualAdapter(outgoing.name)) {
    hints.push({
      code: "virtual-interface",
      message: `multicast leaves through ${outgoing.name}, which looks like a virtual bridge ` +
        "(containers or virtual machines), not the LAN: give --iface with the LAN interface.",
    });
  }
  if (iface === undefined && outgoing?.loopback) {
    hints.push({
      code: "loopback-only",
      message: "no network interface is up and multicast-capable, so dsys uses loopback: " +
        "only processes on this computer can be found.",
    });
  }
  return hints;
}

/** Problems found by the local checks: the group could not be joined, the self-test failed. */
export function localProblems(
  group: string,
  port: number,
  groupError: string | undefined,
  selfTests: readonly SelfTestResult[],
): Problem[] {
  const problems: Problem[] = [];
  if (groupError !== undefined) {
    problems.push({
      code: "group-bind",
      message: `this probe cannot listen to the group ${group}:${port} (${groupError}), so it ` +
        "cannot hear the servers' announcements or tell a wrong secret.",
      fix: /in use/i.test(groupError)
        ? `another program holds UDP port ${port} without sharing it: stop it, or choose ` +
          "another --port for the whole cluster."
        : "check the interface (`ip addr`) and that it has a multicast route " +
          `(\`ip route get ${group}\`).`,
    });
  }
  const failed = selfTests.filter((t) => !t.ok);
  if (failed.length > 0) {
    const what = failed.map((t) => `${t.iface} (${t.error ?? "no answer"})`);
    problems.push({
      code: "multicast-self-test",
      message: `a datagram this host sent to ${group} did not come back on ${listWords(what)}: ` +
        "multicast does not work on this host itself.",
      fix: `check that the interface is up with the MULTICAST flag (\`ip link\`), that ${group} ` +
        `routes out of it (\`ip route get ${group}\`), and that the firewall accepts UDP to ` +
        `the group (iptables: sudo iptables -I INPUT -d 224.0.0.0/4 -p udp -j ACCEPT).`,
    });
  }
  return problems;
}
