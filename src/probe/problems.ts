/**
 * What `dsys probe` can find wrong, and the words it uses: the problem and hint codes, their
 * shapes, and the firewall commands it prints as fixes.
 *
 * Problems make the probe exit 1; hints are notes about this host that explain likely causes
 * and never change the exit code. Nothing here does I/O.
 *
 * @module
 */

/** A stable code for every problem the probe reports (the `code` of `--json`). */
export type ProblemCode =
  | "group-bind"
  | "multicast-self-test"
  | "no-server"
  | "replies-blocked"
  | "wrong-secret"
  | "wrong-cluster"
  | "version-mismatch"
  | "clock-skew"
  | "foreign-traffic"
  | "split-cluster"
  | "partition"
  | "unreachable"
  | "no-leader"
  | "leader-silent"
  | "multicast-blocked"
  | "loss";

/** One problem found: what is wrong in plain words, and what to do about it. */
export interface Problem {
  /** Stable code. */
  code: ProblemCode;
  /** What is wrong, naming the servers, ports and counts involved. */
  message: string;
  /** What to do about it. */
  fix: string;
}

/** A stable code for every hint about this host. */
export type HintCode =
  | "wsl2"
  | "wsl1"
  | "container"
  | "several-interfaces"
  | "virtual-interface"
  | "loopback-only"
  | "unicast-only";

/** A note about this host that explains a likely cause of trouble. */
export interface Hint {
  /** Stable code. */
  code: HintCode;
  /** The note, with what to do. */
  message: string;
}

/** Ports a fix must open. */
export interface FirewallPorts {
  /** UDP ports servers must accept datagrams on (the group port and their unicast ports). */
  serverPorts: number[];
  /** Source ports of the servers' answers, which this host must accept (their unicast ports). */
  answerPorts: number[];
}

/**
 * The commands that open `ports` on ufw, firewalld and iptables, one line per firewall,
 * each line indented by two spaces.
 */
export function firewallCommands(ports: FirewallPorts): string {
  const server = unique(ports.serverPorts);
  const answers = unique(ports.answerPorts);
  const ufw = [
    ...server.map((p) => `sudo ufw allow ${p}/udp`),
    ...answers.map((p) => `sudo ufw allow proto udp from any port ${p} to any`),
  ];
  const firewalld = [
    ...server.map((p) => `--add-port=${p}/udp`),
    ...answers.map((p) => `--add-source-port=${p}/udp`),
  ];
  const dports = server.length === 1
    ? `--dport ${server[0]}`
    : `-m multiport --dports ${server.join(",")}`;
  const iptables = [
    `sudo iptables -I INPUT -p udp ${dports} -j ACCEPT`,
    ...answers.map((p) => `sudo iptables -I INPUT -p udp --sport ${p} -j ACCEPT`),
  ];
  return [
    `  ufw:       ${ufw.join(" && ")}`,
    `  firewalld: sudo firewall-cmd --permanent ${firewalld.join(" ")} && ` +
    "sudo firewall-cmd --reload",
    `  iptables:  ${iptables.join(" && ")}`,
  ].join("\n");
}

/** The ports once each, without 0 (any free port: no rule can name it). */
function unique(ports: number[]): number[] {
  return [...new Set(ports.filter((port) => port > 0))];
}

/** `a`, `a and b`, `a, b and c`. */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** `1 datagram`, `2 datagrams`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
