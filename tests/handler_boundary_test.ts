/**
 * What the runtime does with datagrams that could hurt it: a handler that throws loses that one
 * datagram (counted, logged), and the endpoint keeps handing over the next ones; a server answers
 * a `discover` on the host it came from, never on another host the datagram names. On loopback.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Endpoint } from "../src/net/endpoint.ts";
import { Server } from "../src/server/server.ts";
import { Keyring } from "../src/wire/keyring.ts";
import { type Body, type Sender, WireCodec } from "../src/wire/mod.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

const SPLIT: Body = {
  kind: "chat-split",
  split: false,
  servers: 0,
  of: 0,
  majority: false,
  gen: 1,
};

Deno.test("a handler that throws drops that datagram, is counted, and the next ones pass", async () => {
  const config = loopbackConfig();
  const open = (id: string) =>
    Endpoint.open({ config, role: "server", joinGroup: false, unicastPort: 0, id });
  const sender = await open("sender");
  const receiver = await open("receiver");
  try {
    let handled = 0;
    receiver.onEnvelope(() => {
      handled++;
      if (handled <= 2) throw new RangeError("a bug the datagram found");
    });
    for (let i = 0; i < 5; i++) sender.send(SPLIT, receiver.transport.localAddress);
    await until("all five handled", () => handled === 5);
    assert.equal(receiver.stats().handlerErrors, 2);
    let ticks = 0;
    receiver.contain("a tick", () => {
      ticks++;
      throw new Error("tick bug");
    });
    assert.equal(ticks, 1);
    assert.equal(receiver.stats().handlerErrors, 3);
  } finally {
    await sender.close();
    await receiver.close();
  }
});

/** Binds a UDP socket on `host`, at `port` when given; undefined when that port is taken. */
function bind(host: string, port = 0): Deno.DatagramConn | undefined {
  try {
    return Deno.listenDatagram({ transport: "udp", hostname: host, port });
  } catch {
    return undefined;
  }
}

/** Counts what arrives at `conn` until it is closed. */
function counting(conn: Deno.DatagramConn): { count: number; done: Promise<void> } {
  const state = { count: 0, done: Promise.resolve() };
  state.done = (async () => {
    try {
      for await (const _ of conn) state.count++;
    } catch {
      // Closed.
    }
  })();
  return state;
}

Deno.test("a discover naming another host is answered on the host it came from", async () => {
  const config = loopbackConfig();
  const server = await Server.start({ config, priority: 0 });
  // The named host (127.0.0.2) and the sender (127.0.0.1) listen on the same port, so an answer
  // sent to the sender's host at the named port reaches the sender.
  let victim: Deno.DatagramConn | undefined;
  let attacker: Deno.DatagramConn | undefined;
  for (let i = 0; i < 20 && !attacker; i++) {
    victim?.close();
    victim = bind("127.0.0.2");
    attacker = bind("127.0.0.1", (victim!.addr as Deno.NetAddr).port);
  }
  assert.ok(victim && attacker, "no port free on both 127.0.0.1 and 127.0.0.2");
  const atVictim = counting(victim);
  const atAttacker = counting(attacker);
  try {
    const port = (victim.addr as Deno.NetAddr).port;
    const forger = new WireCodec({
      cluster: config.network.cluster,
      keyring: Keyring.fromSecrets([], config.network.cluster),
      maxDatagramBytes: config.network.maxDatagramBytes,
    });
    const named: Sender = {
      id: "forger",
      incarnation: Date.now(),
      role: "probe",
      addr: { host: "127.0.0.2", port },
    };
    const [host, serverPort] = server.status().node.address.split(":");
    for (let nonce = 1; nonce <= 5; nonce++) {
      const data = forger.encode(named, { kind: "discover", nonce }, Date.now());
      await attacker.send(data, { transport: "udp", hostname: host, port: Number(serverPort) });
    }
    await until("the sender got five answers", () => atAttacker.count === 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(atVictim.count, 0, "nothing reached the named host");
  } finally {
    victim.close();
    attacker.close();
    await atVictim.done;
    await atAttacker.done;
    await server.stop();
  }
});
