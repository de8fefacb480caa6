/**
 * The in-process network: unicast by address, group delivery to joined members, asynchronous
 * delivery, UDP's silent loss and port allocation. No socket is opened.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import { type Address, TransportError } from "../src/transport/types.ts";

const GROUP = { group: "239.255.0.1", port: 7400 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

interface Received {
  bytes: number[];
  from: Address;
  viaGroup: boolean;
}

Deno.test("memory: unicast reaches the addressed transport, later, as a copy", async () => {
  const net = new MemoryNetwork();
  const a = net.open({ ...GROUP, host: "10.0.0.1" });
  const b = net.open({ ...GROUP, host: "10.0.0.2", unicastPort: 7401 });
  const atB: Received[] = [];
  b.onReceive((data, from, viaGroup) => atB.push({ bytes: [...data], from, viaGroup }));
  const data = new Uint8Array([1, 2, 3]);
  a.send(data, { host: "10.0.0.2", port: 7401 });
  data[0] = 9;
  assert.deepEqual(atB, [], "delivery is asynchronous");
  await settle();
  assert.deepEqual(atB, [{ bytes: [1, 2, 3], from: a.localAddress, viaGroup: false }]);
  assert.equal(a.kind, "memory");
  assert.equal(a.stats().sentDatagrams, 1);
  assert.equal(b.stats().receivedBytes, 3);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("memory: group datagrams reach every joined member, the sender included", async () => {
  const net = new MemoryNetwork();
  const s1 = net.open({ ...GROUP, joinGroup: true, host: "10.0.0.1" });
  const s2 = net.open({ ...GROUP, joinGroup: true, host: "10.0.0.2" });
  const client = net.open({ ...GROUP, host: "10.0.0.3" });
  const other = net.open({ group: "239.255.0.2", port: 7400, joinGroup: true, host: "10.0.0.4" });
  const seen = new Map<string, number>();
  for (const t of [s1, s2, client, other]) {
    t.onReceive((_data, _from, viaGroup) => {
      assert.ok(viaGroup);
      seen.set(t.localAddress.host, (seen.get(t.localAddress.host) ?? 0) + 1);
    });
  }
  client.sendToGroup(new Uint8Array([1]));
  s1.sendToGroup(new Uint8Array([2]));
  await settle();
  assert.deepEqual(Object.fromEntries(seen), { "10.0.0.1": 2, "10.0.0.2": 2 });
  assert.equal(s1.joinedInterfaces.length, 1);
  assert.deepEqual(client.joinedInterfaces, []);
  await Promise.all([s1.close(), s2.close(), client.close(), other.close()]);
});

Deno.test("memory: without loopback, group datagrams skip the sender's host", async () => {
  const net = new MemoryNetwork();
  const quiet = { ...GROUP, joinGroup: true, multicastLoopback: false };
  const a = net.open({ ...quiet, host: "10.0.0.1" });
  const b = net.open({ ...quiet, host: "10.0.0.2" });
  let atA = 0;
  let atB = 0;
  a.onReceive(() => atA++);
  b.onReceive(() => atB++);
  a.sendToGroup(new Uint8Array([1]));
  await settle();
  assert.deepEqual([atA, atB], [0, 1]);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("memory: ports are allocated, taken ports refused, closed ones freed", async () => {
  const net = new MemoryNetwork();
  const a = net.open({ ...GROUP });
  const b = net.open({ ...GROUP });
  assert.notEqual(a.localAddress.port, b.localAddress.port);
  assert.throws(
    () => net.open({ ...GROUP, unicastPort: a.localAddress.port }),
    new TransportError(`UDP port ${a.localAddress.port} is already in use`),
  );
  await a.close();
  const again = net.open({ ...GROUP, unicastPort: a.localAddress.port });
  assert.equal(again.localAddress.port, a.localAddress.port);
  await Promise.all([b.close(), again.close()]);
});

Deno.test("memory: nothing is delivered to nobody, or after close", async () => {
  const net = new MemoryNetwork();
  const a = net.open({ ...GROUP, maxDatagramBytes: 4 });
  const b = net.open({ ...GROUP });
  let atB = 0;
  b.onReceive(() => atB++);
  a.send(new Uint8Array([1]), { host: "10.9.9.9", port: 1 });
  a.send(new Uint8Array(5), b.localAddress);
  assert.equal(a.stats().sendErrors, 1, "a datagram over the limit is refused");
  a.send(new Uint8Array([1]), b.localAddress);
  await b.close();
  await settle();
  assert.equal(atB, 0);
  await a.close();
  a.send(new Uint8Array([1]), b.localAddress);
  assert.equal(a.stats().sendErrors, 2);
});
