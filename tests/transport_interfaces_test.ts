/**
 * Interface selection: which interfaces join the group, why, and the errors users see.
 * Pure: every case feeds `selectInterfaces` a fake interface list.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  chooseInterfaces,
  type InterfaceCandidate,
  listInterfaces,
  selectInterfaces,
} from "../src/transport/interfaces.ts";
import { TransportError } from "../src/transport/types.ts";

const lo: InterfaceCandidate = {
  name: "lo",
  address: "127.0.0.1",
  internal: true,
  up: true,
  multicast: false,
};
const eth0: InterfaceCandidate = {
  name: "eth0",
  address: "192.0.2.2",
  internal: false,
  up: true,
  multicast: true,
};
const wlan0: InterfaceCandidate = {
  name: "wlan0",
  address: "198.51.100.7",
  internal: false,
  up: true,
  multicast: true,
};
const eth1Down: InterfaceCandidate = { ...eth0, name: "eth1", address: "203.0.113.9", up: false };
const tun0: InterfaceCandidate = { ...eth0, name: "tun0", address: "10.8.0.2", multicast: false };

const names = (all: InterfaceCandidate[], iface?: string) =>
  selectInterfaces(all, iface).map((c) => c.iface.name);

Deno.test("an interface named explicitly is chosen alone, by name or by address", () => {
  assert.deepEqual(names([lo, eth0, wlan0], "wlan0"), ["wlan0"]);
  assert.deepEqual(names([lo, eth0, wlan0], "192.0.2.2"), ["eth0"]);
  const [choice] = selectInterfaces([lo, eth0], "eth0");
  assert.deepEqual(choice.iface, { name: "eth0", address: "192.0.2.2", internal: false });
  assert.match(choice.reason, /eth0 \(192\.0\.2\.2\) chosen explicitly/);
});

Deno.test("loopback named explicitly counts as multicast-capable", () => {
  const [choice] = selectInterfaces([lo, eth0], "lo");
  assert.equal(choice.iface.name, "lo");
  assert.match(choice.reason, /this host only/);
  assert.deepEqual(names([lo, eth0], "127.0.0.1"), ["lo"]);
});

Deno.test("an unknown interface name lists the available ones", () => {
  assert.throws(
    () => selectInterfaces([lo, eth0], "nosuch0"),
    new TransportError(`no interface named "nosuch0"; available: lo, eth0`),
  );
  assert.throws(
    () => selectInterfaces([lo, eth0], "10.1.2.3"),
    new TransportError(
      `no interface has the address "10.1.2.3"; available: 127.0.0.1 (lo), 192.0.2.2 (eth0)`,
    ),
  );
});

Deno.test("an interface that is down or cannot multicast is refused when named", () => {
  assert.throws(
    () => selectInterfaces([lo, eth1Down], "eth1"),
    new TransportError("interface eth1 (203.0.113.9) is down"),
  );
  assert.throws(
    () => selectInterfaces([lo, tun0], "tun0"),
    new TransportError("interface tun0 (10.8.0.2) is not multicast-capable (no MULTICAST flag)"),
  );
});

Deno.test("by default every up, multicast-capable, non-loopback interface is chosen", () => {
  const choices = selectInterfaces([lo, eth0, eth1Down, tun0, wlan0]);
  assert.deepEqual(choices.map((c) => c.iface.name), ["eth0", "wlan0"]);
  assert.match(choices[0].reason, /eth0 \(192\.0\.2\.2\) is up and multicast-capable/);
});

Deno.test("unreadable flags count as up and multicast-capable", () => {
  const unknown: InterfaceCandidate = { name: "en0", address: "192.0.2.5", internal: false };
  assert.deepEqual(names([lo, unknown]), ["en0"]);
});

Deno.test("with no usable network interface, loopback alone is chosen and says so", () => {
  const choices = selectInterfaces([lo, eth1Down, tun0]);
  assert.deepEqual(choices.map((c) => c.iface.name), ["lo"]);
  assert.match(choices[0].reason, /no up, multicast-capable network interface; using loopback lo/);
});

Deno.test("with no multicast-capable interface at all, the error says what was found", () => {
  assert.throws(
    () => selectInterfaces([eth1Down, tun0]),
    new TransportError(
      "no multicast-capable interface is up " +
        "(found: eth1 203.0.113.9 down, tun0 10.8.0.2 no multicast)",
    ),
  );
  assert.throws(
    () => selectInterfaces([]),
    new TransportError("no multicast-capable interface is up (no IPv4 interface found)"),
  );
});

Deno.test("this host lists loopback as an up IPv4 interface", () => {
  const local = listInterfaces().find((c) => c.name === "lo");
  assert.ok(local, "lo is listed");
  assert.equal(local.address, "127.0.0.1");
  assert.equal(local.internal, true);
  assert.notEqual(local.up, false);
});

Deno.test("with --peers, a network without multicast is used unicast-only instead of refused or left to loopback", () => {
  const lo = { name: "lo", address: "127.0.0.1", internal: true, up: true, multicast: true };
  const tun = { name: "tun0", address: "10.77.0.2", internal: false, up: true, multicast: false };
  const eth = { name: "eth0", address: "10.0.0.2", internal: false, up: true, multicast: true };
  const byDefault = chooseInterfaces([lo, tun], undefined, true);
  assert.equal(byDefault.unicastOnly, true);
  assert.deepEqual(byDefault.choices.map((c) => c.iface.name), ["tun0"]);
  const named = chooseInterfaces([lo, tun, eth], "tun0", true);
  assert.equal(named.unicastOnly, true);
  assert.deepEqual(named.choices.map((c) => c.iface.name), ["tun0"]);
  assert.throws(() => chooseInterfaces([lo, tun], "tun0", false), /not multicast-capable/);
  assert.equal(chooseInterfaces([lo, tun], undefined, false).choices[0].iface.name, "lo");
  const multicast = chooseInterfaces([lo, tun, eth], undefined, true);
  assert.equal(multicast.unicastOnly, false, "a multicast interface is used as before");
  assert.deepEqual(multicast.choices.map((c) => c.iface.name), ["eth0"]);
  assert.throws(() => chooseInterfaces([lo, tun], "wg9", true), /no interface named/);
});
