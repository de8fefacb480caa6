/**
 * Interface selection on the lists Windows and macOS give (`os.networkInterfaces()`, no link
 * flags there, so `up` and `multicast` are unknown): adapter names with spaces and brackets,
 * their own loopback names, and virtual adapters (Hyper-V/WSL, VirtualBox, Docker, Internet
 * sharing) put after the real ones, since the first chosen interface sends the group's traffic.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type InterfaceCandidate, selectInterfaces } from "../src/transport/interfaces.ts";

/** An up interface as Windows or macOS report it: no flags. */
const unflagged = (name: string, address: string, internal = false): InterfaceCandidate => ({
  name,
  address,
  internal,
});

const windowsLoopback = unflagged("Loopback Pseudo-Interface 1", "127.0.0.1", true);
const wsl = unflagged("vEthernet (WSL)", "172.22.0.1");
const virtualBox = unflagged("VirtualBox Host-Only Network", "192.168.56.1");
const wifi = unflagged("Wi-Fi", "192.168.1.23");
const ethernet2 = unflagged("Ethernet 2", "192.168.1.24");

const names = (all: InterfaceCandidate[], iface?: string) =>
  selectInterfaces(all, iface).map((c) => c.iface.name);

Deno.test("Windows: virtual adapters are joined but come after Wi-Fi and Ethernet, in the OS's order otherwise", () => {
  const chosen = selectInterfaces([windowsLoopback, wsl, virtualBox, wifi, ethernet2]);
  assert.deepEqual(chosen.map((c) => c.iface.name), [
    "Wi-Fi",
    "Ethernet 2",
    "vEthernet (WSL)",
    "VirtualBox Host-Only Network",
  ]);
  assert.match(chosen[2].reason, /virtual adapter/);
  assert.doesNotMatch(chosen[0].reason, /virtual adapter/);
});

Deno.test("Windows: a name with spaces and brackets can be chosen with --iface, virtual or not", () => {
  assert.deepEqual(names([windowsLoopback, wsl, wifi], "vEthernet (WSL)"), ["vEthernet (WSL)"]);
  assert.deepEqual(names([windowsLoopback, wsl, ethernet2], "Ethernet 2"), ["Ethernet 2"]);
  assert.deepEqual(names([windowsLoopback, wifi], "Loopback Pseudo-Interface 1"), [
    "Loopback Pseudo-Interface 1",
  ]);
});

Deno.test("Windows: with only virtual adapters up they are used; with none, the loopback", () => {
  assert.deepEqual(names([windowsLoopback, wsl]), ["vEthernet (WSL)"]);
  const [alone] = selectInterfaces([windowsLoopback]);
  assert.equal(alone.iface.name, "Loopback Pseudo-Interface 1");
  assert.match(alone.reason, /only processes on this host/);
});

Deno.test("macOS: en0 comes before an Internet-sharing bridge; lo0 is its loopback", () => {
  const lo0 = unflagged("lo0", "127.0.0.1", true);
  const bridge = unflagged("bridge100", "192.168.2.1");
  const en0 = unflagged("en0", "10.0.0.5");
  assert.deepEqual(names([lo0, bridge, en0]), ["en0", "bridge100"]);
  assert.deepEqual(names([lo0, en0], "lo0"), ["lo0"]);
});

Deno.test("Linux: docker0 and virbr0 come after eth0 even when listed first", () => {
  const linux = (name: string, address: string): InterfaceCandidate => ({
    name,
    address,
    internal: false,
    up: true,
    multicast: true,
  });
  const all = [linux("docker0", "172.17.0.1"), linux("virbr0", "192.168.122.1")];
  assert.deepEqual(names([...all, linux("eth0", "192.0.2.2")]), ["eth0", "docker0", "virbr0"]);
});
