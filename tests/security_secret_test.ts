/**
 * The shared secret in running servers and clients (loopback only): with a secret, no datagram
 * on the wire carries a chat line in clear, and a process holding another secret can neither
 * join the view, lead it, nor chat; everyone counts its datagrams as unknown-key, and a client
 * with a guessed secret finds no server. Without a
 * secret the same line is readable on the wire, which shows the capture sees what it should.
 *
 * Every datagram is captured where it leaves the process: the servers and clients use the
 * `node:dgram` transport, whose `send` the test wraps.
 *
 * @module
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { ChatClient, NoServerError } from "../src/client/client.ts";
import { type Config, resolveConfig } from "../src/config/mod.ts";
import { Server } from "../src/server/server.ts";
import { openNodeTransport } from "../src/transport/node_transport.ts";
import { MESSAGE_KINDS } from "../src/wire/mod.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

const LINE = "the eagle lands at noon";

/** Every datagram sent through `node:dgram` while `run` runs. */
async function captured(run: () => Promise<void>): Promise<Uint8Array[]> {
  const sent: Uint8Array[] = [];
  const proto = dgram.Socket.prototype as unknown as { send: (...args: unknown[]) => void };
  const send = proto.send;
  proto.send = function (this: unknown, ...args: unknown[]) {
    if (args[0] instanceof Uint8Array) sent.push(args[0].slice());
    return send.apply(this, args);
  };
  try {
    await run();
  } finally {
    proto.send = send;
  }
  return sent;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Starts two servers and posts {@linkcode LINE} from a client, all with `config`. */
async function chatOnce(config: Config, servers: Server[], clients: ChatClient[]): Promise<void> {
  for (const priority of [1, 2]) {
    servers.push(
      await Server.start({ config, priority, id: `p${priority}`, openSockets: openNodeTransport }),
    );
  }
  await until("both follow p2", () => servers.every((s) => s.view().leader === "p2"));
  const client = await ChatClient.connect({
    config: resolveConfig({ chat: { history: 0, clientWaitMs: 1000 } }, config),
    user: "carol",
    openSockets: openNodeTransport,
  });
  clients.push(client);
  client.send(LINE);
  assert.ok(await client.waitAcknowledged(5000), "the line was not acknowledged");
}

async function stopAll(servers: Server[], clients: ChatClient[]): Promise<void> {
  for (const client of clients) await client.close();
  for (const server of servers) await server.stop();
}

const POST = MESSAGE_KINDS["chat-post"].code;
const text = new TextEncoder().encode(LINE);

Deno.test("with a secret no chat line crosses the wire in clear; another secret gets nowhere", async () => {
  const right = resolveConfig({ security: { secrets: ["right-secret"] } }, loopbackConfig());
  const wrong = resolveConfig({ security: { secrets: ["wrong-secret"] } }, right);
  const guessed = resolveConfig({ security: { secrets: ["guessed-secret"] } }, right);
  const servers: Server[] = [];
  const clients: ChatClient[] = [];
  const sent = await captured(async () => {
    try {
      await chatOnce(right, servers, clients);
      const intruder = await Server.start({
        config: wrong,
        priority: 9,
        id: "p9",
        openSockets: openNodeTransport,
      });
      servers.push(intruder);
      await until(
        "the intruder and the cluster reject each other",
        () => servers.every((s) => s.stats().rejections["unknown-key"] > 0),
      );
      await until("the intruder leads only itself", () => intruder.view().leader === "p9");
      await assert.rejects(
        ChatClient.connect({
          config: resolveConfig({ chat: { history: 10, clientWaitMs: 500 } }, guessed),
          user: "mallory",
          openSockets: openNodeTransport,
        }),
        NoServerError,
      );
      for (const server of servers.slice(0, 2)) {
        assert.equal(server.view().leader, "p2");
        assert.deepEqual(
          server.view().members.filter((m) => m.role === "server").map((m) => m.id).sort(),
          [
            "p1",
            "p2",
          ],
        );
      }
      assert.deepEqual(
        intruder.view().members.filter((m) => m.role === "server").map((m) => m.id),
        [
          "p9",
        ],
      );
      assert.equal(intruder.stats().rejections["bad-tag"], 0);
    } finally {
      await stopAll(servers, clients);
    }
  });
  assert.ok(sent.some((d) => d[3] === POST), "no chat-post was captured");
  assert.deepEqual(sent.filter((d) => d[4] !== 1).length, 0, "a datagram was not encrypted");
  assert.deepEqual(sent.filter((d) => contains(d, text)).length, 0, "the line crossed in clear");
});

Deno.test("without a secret the same chat line is readable on the wire", async () => {
  const servers: Server[] = [];
  const clients: ChatClient[] = [];
  const sent = await captured(async () => {
    try {
      await chatOnce(loopbackConfig(), servers, clients);
    } finally {
      await stopAll(servers, clients);
    }
  });
  assert.ok(sent.some((d) => d[3] === POST && contains(d, text)));
  assert.ok(sent.every((d) => d[4] === 0));
});
