/**
 * The probe's window on this host: it reads the files that tell WSL and containers apart and
 * runs the multicast loopback self-test. The checks that interpret these facts are pure and
 * live in `local.ts`.
 *
 * The self-test sends one datagram to the group and its port, out of exactly the interface it
 * checks, with TTL 1, so that it meets the same routes and firewall rules as dsys's own traffic.
 * It is a signed `discover-reply` from a probe: servers and other probes ignore it without
 * counting a rejection.
 *
 * @module
 */

import dgram from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import type { Config } from "../config/mod.ts";
import type { InterfaceInfo } from "../transport/types.ts";
import { VERSION } from "../version.ts";
import { WireCodec } from "../wire/codec.ts";
import { Keyring } from "../wire/keyring.ts";
import type { EnvironmentFacts, SelfTestResult } from "./local.ts";

/** Reads `/proc/version`, `/.dockerenv`, `/run/.containerenv` and `/proc/1/cgroup`. */
export function readEnvironment(): EnvironmentFacts {
  return {
    procVersion: readText("/proc/version"),
    dockerEnv: existsSync("/.dockerenv"),
    containerEnv: existsSync("/run/.containerenv"),
    cgroup: readText("/proc/1/cgroup"),
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** How long the self-test waits for its datagram to come back (ms). */
export const SELF_TEST_TIMEOUT_MS = 500;

/** Resends of the self-test datagram, in case one is lost. */
const SELF_TEST_SENDS = 3;

/**
 * The self-test datagram for `iface`: a `discover-reply` with a random nonce from a one-off
 * probe identity, signed with the cluster's key, which every dsys process ignores.
 */
export function selfTestDatagram(config: Config, iface: InterfaceInfo): Uint8Array {
  const { network, security } = config;
  const codec = new WireCodec({
    cluster: network.cluster,
    keyring: Keyring.fromSecrets(security.secrets, network.cluster),
    maxDatagramBytes: network.maxDatagramBytes,
  });
  const id = `probe-self-test-${crypto.randomUUID()}`;
  const sender = {
    id,
    incarnation: Date.now(),
    role: "probe" as const,
    addr: { host: iface.address, port: network.port },
  };
  return codec.encode(sender, {
    kind: "discover-reply",
    nonce: crypto.getRandomValues(new Uint32Array(1))[0],
    version: VERSION,
    priority: 0,
    uptimeMs: 0,
    viaGroup: true,
    leader: "",
    term: 0,
    view: 0,
    viewSize: 0,
    clients: 0,
    rejections: {},
  }, Date.now());
}

/**
 * Joins `group` on `iface` with a socket sharing `port`, sends `datagram` to `group:port` out
 * of `iface` (outgoing interface set explicitly, TTL 1, loopback on) and waits for it to come
 * back. Never throws.
 */
export async function multicastSelfTest(
  iface: InterfaceInfo,
  group: string,
  port: number,
  datagram: Uint8Array,
  timeoutMs = SELF_TEST_TIMEOUT_MS,
): Promise<SelfTestResult> {
  const result = (ok: boolean, detail: { ms?: number; error?: string }): SelfTestResult => ({
    iface: iface.name,
    address: iface.address,
    ok,
    ...detail,
  });
  const receiver = dgram.createSocket({ type: "udp4", reuseAddr: true });
  const sender = dgram.createSocket("udp4");
  const timers: ReturnType<typeof setTimeout>[] = [];
  try {
    await bind(receiver, { port, address: "0.0.0.0" });
    await bind(sender, { port: 0, address: iface.address });
    try {
      receiver.addMembership(group, iface.address);
    } catch (error) {
      return result(false, { error: `cannot join the group: ${message(error)}` });
    }
    sender.setMulticastInterface(iface.address);
    sender.setMulticastTTL(1);
    sender.setMulticastLoopback(true);
    const started = performance.now();
    return await new Promise<SelfTestResult>((resolve) => {
      receiver.on("message", (data) => {
        if (data.byteLength === datagram.byteLength && data.every((b, i) => b === datagram[i])) {
          resolve(result(true, { ms: performance.now() - started }));
        }
      });
      for (let i = 0; i < SELF_TEST_SENDS; i++) {
        timers.push(setTimeout(() => {
          try {
            sender.send(datagram, port, group);
          } catch {
            // Counted as lost: the timeout below reports it.
          }
        }, (i * timeoutMs) / (SELF_TEST_SENDS + 1)));
      }
      timers.push(setTimeout(() => {
        resolve(result(false, { error: `nothing came back within ${timeoutMs} ms` }));
      }, timeoutMs));
    });
  } catch (error) {
    return result(false, { error: message(error) });
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await Promise.all([close(receiver), close(sender)]);
  }
}

function bind(socket: dgram.Socket, at: { port: number; address: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(at, () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve();
    });
  });
}

function close(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
