/**
 * The probe's local checks with faked hosts: which interfaces dsys uses and why, the hints for
 * WSL, containers, several and virtual interfaces, what a failed bind or self-test means; and
 * the real multicast self-test, on loopback only.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type EnvironmentFacts,
  environmentHints,
  type InterfaceRow,
  interfaceRows,
  localProblems,
} from "../src/probe/local.ts";
import { multicastSelfTest, readEnvironment, selfTestDatagram } from "../src/probe/os.ts";
import { resolveConfig, testClusterConfig } from "../src/config/mod.ts";
import { type InterfaceCandidate, selectInterfaces } from "../src/transport/interfaces.ts";
import { WireCodec } from "../src/wire/codec.ts";
import { Keyring } from "../src/wire/keyring.ts";
import { testNetwork } from "./helpers/process.ts";

const LO: InterfaceCandidate = {
  name: "lo",
  address: "127.0.0.1",
  internal: true,
  up: true,
  multicast: false,
};
const ETH0: InterfaceCandidate = {
  name: "eth0",
  address: "192.168.1.20",
  internal: false,
  up: true,
  multicast: true,
};
const WLAN0: InterfaceCandidate = {
  name: "wlan0",
  address: "10.0.0.7",
  internal: false,
  up: true,
  multicast: true,
};
const DOCKER0: InterfaceCandidate = {
  name: "docker0",
  address: "172.17.0.1",
  internal: false,
  up: true,
  multicast: true,
};
const DOWN: InterfaceCandidate = {
  name: "eth1",
  address: "192.168.2.3",
  internal: false,
  up: false,
  multicast: true,
};
const TUN: InterfaceCandidate = {
  name: "tun0",
  address: "10.8.0.2",
  internal: false,
  up: true,
  multicast: false,
};

const HOST: EnvironmentFacts = {
  procVersion: "Linux version 6.8.0-45-generic (buildd@lcy02) (gcc 13.2.0) #45-Ubuntu SMP",
  dockerEnv: false,
  containerEnv: false,
  cgroup: "0::/init.scope\n",
};

function rows(candidates: InterfaceCandidate[], iface?: string): InterfaceRow[] {
  return interfaceRows(candidates, selectInterfaces(candidates, iface), iface);
}

function hintCodes(facts: EnvironmentFacts, table: InterfaceRow[], iface?: string): string[] {
  return environmentHints(facts, table, iface).map((h) => h.code);
}

Deno.test("interfaces: up multicast ones are used, the first sends; the others say why not", () => {
  const table = rows([LO, ETH0, DOWN, TUN, WLAN0]);
  const by = new Map(table.map((r) => [r.name, r]));
  assert.deepEqual(table.map((r) => [r.name, r.used, r.outgoing]), [
    ["lo", false, false],
    ["eth0", true, true],
    ["eth1", false, false],
    ["tun0", false, false],
    ["wlan0", true, false],
  ]);
  assert.equal(by.get("eth0")!.why, "eth0 (192.168.1.20) is up and multicast-capable");
  assert.equal(by.get("eth1")!.why, "down");
  assert.equal(by.get("tun0")!.why, "not multicast-capable (no MULTICAST flag)");
  assert.match(by.get("lo")!.why, /^loopback: used only when named with --iface/);
  assert.deepEqual(
    [by.get("eth1")!.up, by.get("tun0")!.multicast, by.get("lo")!.loopback],
    [false, false, true],
  );
});

Deno.test("interfaces: with --iface only that one is used, the rest 'not named'", () => {
  const table = rows([LO, ETH0, WLAN0], "wlan0");
  assert.deepEqual(table.filter((r) => r.used).map((r) => r.name), ["wlan0"]);
  assert.equal(table.find((r) => r.name === "wlan0")!.why, "wlan0 (10.0.0.7) chosen explicitly");
  assert.equal(table.find((r) => r.name === "eth0")!.why, "not named by --iface wlan0");
  const lo = rows([LO, ETH0], "lo").find((r) => r.name === "lo")!;
  assert.ok(lo.used && lo.outgoing);
  assert.match(lo.why, /loopback multicast reaches this host only/);
});

Deno.test("interfaces: unreadable flags show as unknown (null) and count as usable", () => {
  const bare: InterfaceCandidate = { name: "en0", address: "192.168.5.5", internal: false };
  const [row] = rows([bare]);
  assert.deepEqual([row.up, row.multicast, row.used], [null, null, true]);
});

Deno.test("hints: a plain Linux host with one LAN interface gets none", () => {
  assert.deepEqual(hintCodes(HOST, rows([LO, ETH0])), []);
});

Deno.test("hints: WSL 2 and WSL 1 are told apart by /proc/version", () => {
  const wsl2 = {
    ...HOST,
    procVersion: "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc)",
  };
  const wsl1 = {
    ...HOST,
    procVersion: "Linux version 4.4.0-22621-Microsoft (Microsoft@Microsoft.com)",
  };
  const table = rows([LO, ETH0]);
  assert.deepEqual(hintCodes(wsl2, table), ["wsl2"]);
  assert.match(environmentHints(wsl2, table)[0].message, /networkingMode=mirrored/);
  assert.deepEqual(hintCodes(wsl1, table), ["wsl1"]);
});

Deno.test("hints: a container is seen by /.dockerenv, /run/.containerenv or the cgroup", () => {
  const table = rows([LO, ETH0]);
  assert.deepEqual(hintCodes({ ...HOST, dockerEnv: true }, table), ["container"]);
  assert.deepEqual(hintCodes({ ...HOST, containerEnv: true }, table), ["container"]);
  for (
    const cgroup of [
      "12:pids:/docker/3f1c9a\n",
      "0::/kubepods/besteffort/pod1234/abcd\n",
      "0::/system.slice/containerd.service\n",
      "0::/machine.slice/libpod-1234.scope\n",
    ]
  ) {
    assert.deepEqual(hintCodes({ ...HOST, cgroup }, table), ["container"], cgroup);
  }
  assert.match(
    environmentHints({ ...HOST, dockerEnv: true }, table)[0].message,
    /--network host/,
  );
  assert.deepEqual(hintCodes({ dockerEnv: false, containerEnv: false }, table), []);
});

Deno.test("hints: several candidate interfaces name them and the one that sends", () => {
  const table = rows([LO, ETH0, WLAN0]);
  const [hint] = environmentHints(HOST, table);
  assert.equal(hint.code, "several-interfaces");
  assert.match(hint.message, /^2 interfaces can carry multicast \(eth0 and wlan0\)/);
  assert.match(hint.message, /sends from eth0/);
  assert.deepEqual(hintCodes(HOST, rows([LO, ETH0, WLAN0], "eth0"), "eth0"), []);
});

Deno.test("hints: multicast leaving through a container bridge is called out; a LAN interface sends first", () => {
  assert.deepEqual(hintCodes(HOST, rows([LO, DOCKER0, ETH0])), ["several-interfaces"]);
  assert.deepEqual(hintCodes(HOST, rows([LO, DOCKER0])), ["virtual-interface"]);
  assert.match(environmentHints(HOST, rows([DOCKER0]))[0].message, /docker0, which looks like/);
});

Deno.test("hints: only loopback usable means only this host is found", () => {
  assert.deepEqual(hintCodes(HOST, rows([LO, DOWN])), ["loopback-only"]);
  assert.deepEqual(hintCodes(HOST, rows([LO, ETH0], "lo"), "lo"), []);
});

Deno.test("local problems: a group port held by another program, a failed self-test", () => {
  assert.deepEqual(
    localProblems("239.1.2.3", 7400, undefined, [
      { iface: "lo", address: "127.0.0.1", ok: true, ms: 0.2 },
    ]),
    [],
  );
  const [bind] = localProblems(
    "239.1.2.3",
    7400,
    "UDP port 7400 (multicast group 239.1.2.3) is already in use",
    [],
  );
  assert.equal(bind.code, "group-bind");
  assert.match(bind.message, /cannot listen to the group 239\.1\.2\.3:7400/);
  assert.match(bind.fix, /another program holds UDP port 7400/);
  const [selfTest] = localProblems("239.1.2.3", 7400, undefined, [
    { iface: "eth0", address: "10.0.0.2", ok: false, error: "nothing came back within 500 ms" },
    { iface: "wlan0", address: "10.0.1.2", ok: true, ms: 1 },
  ]);
  assert.equal(selfTest.code, "multicast-self-test");
  assert.match(selfTest.message, /did not come back on eth0 \(nothing came back within 500 ms\)/);
  assert.match(selfTest.fix, /ip route get 239\.1\.2\.3/);
});

const LOOPBACK = { name: "lo", address: "127.0.0.1", internal: true };

/** A loopback-only configuration on a random group and port. */
function loopbackConfig(secrets: string[] = []) {
  const net = testNetwork();
  return resolveConfig({
    network: { cluster: net.cluster, group: net.group, port: net.port, iface: "lo" },
    security: { secrets },
  }, testClusterConfig());
}

Deno.test("the multicast self-test on lo gets its datagram back on the group port", async () => {
  const config = loopbackConfig();
  const { group, port } = config.network;
  const datagram = selfTestDatagram(config, LOOPBACK);
  const result = await multicastSelfTest(LOOPBACK, group, port, datagram);
  assert.equal(result.ok, true, result.error);
  assert.equal(result.iface, "lo");
  assert.ok(result.ms !== undefined && result.ms >= 0 && result.ms < 500);
});

Deno.test("the multicast self-test reports a group it cannot join, without sending", async () => {
  const config = loopbackConfig();
  const datagram = selfTestDatagram(config, LOOPBACK);
  const result = await multicastSelfTest(LOOPBACK, "127.0.0.9", config.network.port, datagram, 200);
  assert.equal(result.ok, false);
  assert.match(result.error ?? "", /^cannot join the group/);
});

Deno.test("the self-test datagram is a signed probe message that servers accept and ignore", () => {
  const config = loopbackConfig(["k1"]);
  const datagram = selfTestDatagram(config, LOOPBACK);
  const codec = (secrets: string[]) =>
    new WireCodec({
      cluster: config.network.cluster,
      keyring: Keyring.fromSecrets(secrets, config.network.cluster),
      maxDatagramBytes: config.network.maxDatagramBytes,
    });
  const result = codec(["k1"]).decode(datagram, Date.now());
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.envelope.sender.role, "probe");
  assert.equal(result.envelope.body.kind, "discover-reply");
  assert.deepEqual(codec(["other"]).decode(datagram, Date.now()), {
    ok: false,
    reason: "unknown-key",
  });
});

Deno.test("readEnvironment reads this host without failing", () => {
  const facts = readEnvironment();
  assert.equal(typeof facts.dockerEnv, "boolean");
  assert.equal(typeof facts.containerEnv, "boolean");
  if (Deno.build.os === "linux") assert.match(facts.procVersion ?? "", /^Linux version/);
});
