/**
 * `dsys probe` as a library: a {@linkcode ProbeSession} runs the local checks once (interfaces,
 * environment, group bind, multicast self-test) and then any number of cluster rounds, each
 * judged into a {@linkcode ProbeReport}.
 *
 * The parts: `local.ts` (pure local checks), `os.ts` (reading this host, the self-test),
 * `cluster.ts` (asking and listening), `verdict.ts` (rows and problems), `format.ts` (text and
 * JSON), `watch.ts` (the live view), `problems.ts` (codes and firewall fixes).
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { chooseInterfaces, listInterfaces } from "../transport/interfaces.ts";
import type { Address, SocketOpener } from "../transport/types.ts";
import { ClusterProbe } from "./cluster.ts";
import {
  type EnvironmentFacts,
  environmentHints,
  type InterfaceRow,
  interfaceRows,
  type SelfTestResult,
} from "./local.ts";
import { multicastSelfTest, readEnvironment, selfTestDatagram } from "./os.ts";
import type { Hint } from "./problems.ts";
import { judge, type ProbeReport } from "./verdict.ts";

export type { ProbeReport, ServerRow } from "./verdict.ts";
export type { Problem, ProblemCode } from "./problems.ts";
export { formatJson, formatReport } from "./format.ts";

/** How to open a {@linkcode ProbeSession}. */
export interface ProbeSessionOptions {
  /** Facts about this host (default: read them). */
  environment?: EnvironmentFacts;
  /** Opens the probe's sockets (default: `openTransport`, the runtime's best). */
  openSockets?: SocketOpener;
}

/** An open probe: local facts gathered, sockets open; {@linkcode ProbeSession.close} it. */
export class ProbeSession {
  readonly #config: Config;
  readonly #cluster: ClusterProbe;
  readonly #interfaces: InterfaceRow[];
  readonly #hints: Hint[];
  readonly #selfTests: Promise<SelfTestResult[]>;

  private constructor(
    config: Config,
    cluster: ClusterProbe,
    interfaces: InterfaceRow[],
    hints: Hint[],
    selfTests: Promise<SelfTestResult[]>,
  ) {
    this.#config = config;
    this.#cluster = cluster;
    this.#interfaces = interfaces;
    this.#hints = hints;
    this.#selfTests = selfTests;
  }

  /**
   * Checks this host and opens the probe's sockets; `addrs` are servers to ask by unicast.
   * Throws `TransportError` when no usable interface matches `--iface`.
   */
  static async open(
    config: Config,
    addrs: readonly Address[],
    options: ProbeSessionOptions = {},
  ): Promise<ProbeSession> {
    const environment = options.environment ?? readEnvironment();
    const { network } = config;
    const candidates = listInterfaces();
    const seeds = network.peers.length + addrs.length > 0;
    const { choices, unicastOnly } = chooseInterfaces(candidates, network.iface, seeds);
    const interfaces = interfaceRows(candidates, choices, network.iface);
    const hints = environmentHints(environment, interfaces, network.iface);
    if (unicastOnly) {
      hints.push({
        code: "unicast-only",
        message: `no interface here carries multicast (${
          choices.map((c) => c.iface.name).join(", ")
        }): this probe asks the --peers and --addr servers by unicast only, as servers and ` +
          "clients given --peers run here (unicast-only); servers not listed cannot be found.",
      });
    }
    const cluster = await ClusterProbe.open(config, addrs, options.openSockets);
    const selfTests = Promise.all(
      unicastOnly
        ? []
        : choices.map(({ iface }) =>
          multicastSelfTest(iface, network.group, network.port, selfTestDatagram(config, iface))
        ),
    );
    return new ProbeSession(config, cluster, interfaces, hints, selfTests);
  }

  /** Runs one round of `timeoutMs` (shorter when `signal` aborts) and judges it. */
  async run(timeoutMs: number, signal?: AbortSignal): Promise<ProbeReport> {
    const { network, timing } = this.#config;
    const [observation, selfTests] = await Promise.all([
      this.#cluster.round(timeoutMs, signal),
      this.#selfTests,
    ]);
    return judge({
      cluster: network.cluster,
      group: network.group,
      port: network.port,
      serverPort: network.unicastPort,
      interfaces: this.#interfaces,
      hints: this.#hints,
      groupError: this.#cluster.groupError,
      selfTests,
      observation,
      heartbeatIntervalMs: timing.heartbeatIntervalMs,
    });
  }

  /** Closes the sockets (after the self-test, which has its own, is done). */
  async close(): Promise<void> {
    await this.#selfTests;
    await this.#cluster.close();
  }
}
