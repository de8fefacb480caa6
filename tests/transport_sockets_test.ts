/**
 * Socket transports (`node:dgram` and native Deno) on loopback: unicast, multicast, counters,
 * port release and bind errors. Every datagram stays on 127.0.0.1 (interface `lo`); groups and
 * ports are random so that parallel test files do not hear each other.
 *
 * @module
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { openDenoTransport } from "../src/transport/deno_transport.ts";
import { openNodeTransport } from "../src/transport/node_transport.ts";
import { chooseTransportKind, openTransport } from "../src/transport/select.ts";
import {
  type Address,
  type Transport,
  TransportError,
  type TransportOptions,
} from "../src/transport/types.ts";
import { fixedUnicastPort, groupPort } from "./helpers/ports.ts";

const LOOPBACK = { name: "lo", address: "127.0.0.1", internal: true };
const text = new TextEncoder();
const decode = (data: Uint8Array) => new TextDecoder().decode(data);

function randomGroup(): string {
  const octet = () => 1 + Math.floor(Math.random() * 254);
  return `239.255.${octet()}.${octet()}`;
}

function options(overrides: Partial<TransportOptions> = {}): TransportOptions {
  return {
    group: "239.255.0.1",
    port: groupPort(),
    unicastPort: 0,
    joinGroup: false,
    interfaces: [LOOPBACK],
    multicastTtl: 1,
    multicastLoopback: true,
    receiveBufferBytes: 1024 * 1024,
    maxDatagramBytes: 1024,
    ...overrides,
  };
}

interface Received {
  text: string;
  from: Address;
  viaGroup: boolean;
}

function collect(transport: Transport): Received[] {
  const received: Received[] = [];
  transport.onReceive((data, from, viaGroup) => {
    received.push({ text: decode(data), from, viaGroup });
  });
  return received;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Opener = (options: TransportOptions) => Promise<Transport>;
const kinds: [string, Opener][] = [["node", openNodeTransport], ["deno", openDenoTransport]];

for (const [kind, open] of kinds) {
  Deno.test(`${kind}: a unicast datagram and its reply travel over 127.0.0.1`, async () => {
    const a = await open(options());
    const b = await open(options());
    try {
      assert.equal(a.kind, kind);
      assert.equal(a.localAddress.host, "127.0.0.1");
      assert.ok(a.localAddress.port > 0);
      assert.deepEqual(a.joinedInterfaces, []);
      const atA = collect(a);
      b.onReceive((data, from) => b.send(text.encode(`pong:${decode(data)}`), from));
      a.send(text.encode("ping"), b.localAddress);
      await waitFor(() => atA.length === 1, "the reply");
      assert.equal(atA[0].text, "pong:ping");
      assert.deepEqual(atA[0].from, b.localAddress);
      assert.equal(atA[0].viaGroup, false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  Deno.test(`${kind}: two servers on lo both hear group sends, a client's included`, async () => {
    const shared = options({ group: randomGroup(), joinGroup: true });
    const s1 = await open(shared);
    const s2 = await open(shared);
    const client = await open({ ...shared, joinGroup: false });
    try {
      assert.deepEqual(s1.joinedInterfaces, [LOOPBACK]);
      const at1 = collect(s1);
      const at2 = collect(s2);
      const atClient = collect(client);
      s1.sendToGroup(text.encode("from-s1"));
      client.sendToGroup(text.encode("from-client"));
      const both = (list: Received[]) => list.filter((r) => r.viaGroup).length === 2;
      await waitFor(() => both(at1) && both(at2), "group datagrams at both servers");
      for (const list of [at1, at2]) {
        assert.deepEqual(list.map((r) => r.text).sort(), ["from-client", "from-s1"]);
      }
      assert.deepEqual(atClient, [], "a client does not join the group");
    } finally {
      await Promise.all([s1.close(), s2.close(), client.close()]);
    }
  });

  Deno.test(`${kind}: counters follow sends, receives and refused sends`, async () => {
    const a = await open(options());
    const b = await open(options());
    try {
      const atB = collect(b);
      for (let i = 0; i < 5; i++) a.send(text.encode("12345678"), b.localAddress);
      a.send(new Uint8Array(2000), b.localAddress);
      await waitFor(() => atB.length === 5 && a.stats().sentDatagrams === 5, "5 datagrams");
      assert.deepEqual(a.stats(), {
        sentDatagrams: 5,
        sentBytes: 40,
        receivedDatagrams: 0,
        receivedBytes: 0,
        sendErrors: 1,
      });
      assert.equal(b.stats().receivedDatagrams, 5);
      assert.equal(b.stats().receivedBytes, 40);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    a.send(text.encode("late"), b.localAddress);
    assert.equal(a.stats().sendErrors, 2, "a send after close is refused and counted");
  });

  Deno.test(`${kind}: a datagram over maxDatagramBytes arrives as its first limit + 1 bytes`, async () => {
    const transport = await open(options());
    const raw = dgram.createSocket("udp4");
    try {
      const sizes: number[] = [];
      transport.onReceive((data) => sizes.push(data.byteLength));
      const to = transport.localAddress;
      await new Promise<void>((resolve) =>
        raw.send(new Uint8Array(3000), to.port, to.host, () => resolve())
      );
      await new Promise<void>((resolve) =>
        raw.send(text.encode("small"), to.port, to.host, () => resolve())
      );
      await waitFor(() => sizes.length > 1, "both datagrams");
      assert.deepEqual(sizes, [1025, 5], "the codec sees the oversized one as too large");
      assert.equal(transport.stats().receivedDatagrams, 2);
    } finally {
      await Promise.all([
        transport.close(),
        new Promise<void>((resolve) => raw.close(() => resolve())),
      ]);
    }
  });

  Deno.test(`${kind}: close releases the unicast and group ports`, async () => {
    const fixed = options({
      group: randomGroup(),
      joinGroup: true,
      unicastPort: fixedUnicastPort(),
    });
    const before = await open(fixed);
    await before.close();
    // Exclusive binds succeed only if no socket of the closed transport is left on the ports.
    for (const port of [fixed.port, fixed.unicastPort]) {
      const raw = dgram.createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        raw.once("error", reject);
        raw.bind(port, "127.0.0.1", () => resolve());
      });
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
    const after = await open(fixed);
    assert.equal(after.localAddress.port, fixed.unicastPort);
    await after.close();
  });

  Deno.test(`${kind}: a unicast port already in use is a clear TransportError`, async () => {
    const holder = await open(options());
    const port = holder.localAddress.port;
    try {
      await assert.rejects(open(options({ unicastPort: port })), (error) => {
        assert.ok(error instanceof TransportError);
        assert.equal(error.message, `UDP port ${port} is already in use`);
        return true;
      });
    } finally {
      await holder.close();
    }
  });
}

Deno.test("node and deno transports share a group on lo", async () => {
  const shared = options({ group: randomGroup(), joinGroup: true });
  const viaNode = await openNodeTransport(shared);
  const viaDeno = await openDenoTransport(shared);
  try {
    const atNode = collect(viaNode);
    const atDeno = collect(viaDeno);
    viaNode.sendToGroup(text.encode("n"));
    viaDeno.sendToGroup(text.encode("d"));
    await waitFor(() => atNode.length === 2 && atDeno.length === 2, "both datagrams at both");
    assert.deepEqual(atNode.map((r) => r.text).sort(), ["d", "n"]);
    assert.deepEqual(atDeno.map((r) => r.text).sort(), ["d", "n"]);
  } finally {
    await Promise.all([viaNode.close(), viaDeno.close()]);
  }
});

Deno.test("transport choice: the kind asked for, else native Deno", async () => {
  assert.equal(chooseTransportKind("node"), "node");
  assert.equal(chooseTransportKind("deno"), "deno");
  assert.equal(chooseTransportKind(), "deno");
  const transport = await openTransport(options(), "node");
  assert.equal(transport.kind, "node");
  await transport.close();
});
