/**
 * An outsider's forgeries for the lab, run with Deno inside one lab namespace (it refuses to
 * start unless `ifaceAddr` is an address of the namespace it runs in, and sends only to the lab
 * addresses it is given). It does what anyone on the LAN can do without the cluster's secret: it
 * listens to the group for `captureMs` and reads every sender's id, incarnation, sequence number
 * and reply address from the datagram headers (readable even with a secret), then signs its
 * forgeries with the key anyone derives from the cluster name. Where it poses as a real server,
 * it copies that server's identity and numbers its datagrams just past the last one heard, so
 * that replay protection takes them for the next ones.
 *
 * One forgery per run, given as one JSON argument ({@linkcode Forgery}):
 * - `leader`: a server `id` announcing itself leader with a top `priority` at `term`
 *   (heartbeats and coordinator messages, to the group and every server), for `ms`;
 * - `follower`: posing as the follower `as`, forwards `items` (lines of any user, under a made-up
 *   client key) to the leader `leader`;
 * - `refusal`: a `name-taken` refusal posing as server `as`, to the client at `to`, once for each
 *   attachment number in `gens` (the old ones a client counts up from 1);
 * - `stream`: a leader's stream batch posing as server `as` and as itself, continuing the entry
 *   whose term and fingerprint are `prevTerm` and `prevMark`, to the group and to `to`.
 *
 * Prints one JSON line: the identities it heard and how many datagrams it sent.
 *
 * Run: `ip netns exec NS deno run --unstable-net -A tests/lab/forger.ts '{"kind":...}'`.
 *
 * @module
 */

import { networkInterfaces } from "node:os";
import { createHmac } from "node:crypto";
import { Keyring } from "../../src/wire/keyring.ts";
import { MAGIC, WireCodec } from "../../src/wire/codec.ts";
import { listenToGroup } from "./group_socket.ts";
import type { Body, ChatEntry, Sender } from "../../src/wire/messages.ts";

/** What every forgery needs. */
interface Common {
  /** The cluster's group address and port. */
  group: string;
  port: number;
  /** This host's lab address (the forger refuses to run elsewhere). */
  ifaceAddr: string;
  /** The cluster name (its key is all an outsider has). */
  cluster: string;
  /** How long to listen to the group first (ms). */
  captureMs: number;
}

/** One forgery (see the module documentation). */
export type Forgery =
  & Common
  & (
    | { kind: "leader"; id: string; priority: number; term: number; servers: string[]; ms: number }
    | {
      kind: "follower";
      as: string;
      leader: string;
      items: { client: string; user: string; text: string }[];
    }
    | { kind: "refusal"; as: string; to: string; gens: number[] }
    | {
      kind: "stream";
      as: string;
      to: string[];
      prevTerm: number;
      prevMark: number;
      entries: ChatEntry[];
    }
  );

/** What a datagram header says of its sender (readable with or without a secret). */
interface Heard {
  incarnation: number;
  seq: number;
  host: string;
  port: number;
}

/** Bytes of the HMAC tag that ends a plaintext datagram. */
const TAG_BYTES = 16;
/** Where the cluster name starts in a header (after magic, version, type, flags, key id). */
const CLUSTER_AT = 9;
/** Forged copies sent per posed-as datagram, each with the next sequence number. */
const COPIES = 8;
/**
 * How far past the posed-as sender's last sequence number heard the copies start: ahead of what
 * it sent since (a receiver takes each number once, and any number it has not seen yet).
 */
const SEQ_LEAD = 20;

const decoder = new TextDecoder();

/** Reads the sender's identity and sequence number from a dsys header; undefined if not one. */
function readHeader(data: Uint8Array): (Heard & { id: string; seqAt: number }) | undefined {
  if (data.length < CLUSTER_AT + 40 || data[0] !== MAGIC[0] || data[1] !== MAGIC[1]) return;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = CLUSTER_AT + 1 + data[CLUSTER_AT];
  const id = decoder.decode(data.subarray(at + 1, at + 1 + data[at]));
  at += 1 + data[at];
  const incarnation = view.getFloat64(at);
  const seq = view.getUint32(at + 8);
  const seqAt = at + 8;
  at += 21;
  const host = decoder.decode(data.subarray(at + 1, at + 1 + data[at]));
  at += 1 + data[at];
  return { id, incarnation, seq, seqAt, host, port: view.getUint16(at) };
}

/** Listens to the group for `ms` and returns the newest header of every sender heard. */
async function capture(common: Common): Promise<Map<string, Heard>> {
  const listener = await listenToGroup(common.group, common.port, common.ifaceAddr);
  const heard = new Map<string, Heard>();
  const buffer = new Uint8Array(65536);
  const loop = (async () => {
    try {
      while (true) {
        const [data] = await listener.receive(buffer);
        const header = readHeader(data);
        if (header && header.seq >= (heard.get(header.id)?.seq ?? 0)) {
          heard.set(header.id, header);
        }
      }
    } catch {
      // Closed.
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, common.captureMs));
  listener.close();
  await loop;
  return heard;
}

function target(text: string): Deno.NetAddr {
  const at = text.lastIndexOf(":");
  return { transport: "udp", hostname: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function forge(forgery: Forgery): Promise<void> {
  const own = Object.values(networkInterfaces()).flat().some((i) =>
    i?.address === forgery.ifaceAddr
  );
  if (!own) throw new Error(`${forgery.ifaceAddr} is not an address of this namespace: refusing`);
  const heard = await capture(forgery);
  const keyring = Keyring.fromSecrets([], forgery.cluster);
  const codec = new WireCodec({ cluster: forgery.cluster, keyring, maxDatagramBytes: 16 * 1024 });
  const conn = Deno.listenDatagram({ transport: "udp", hostname: forgery.ifaceAddr, port: 0 });
  const group: Deno.NetAddr = { transport: "udp", hostname: forgery.group, port: forgery.port };
  const self = (id: string): Sender => ({
    id,
    incarnation: Date.now(),
    role: "server",
    addr: { host: forgery.ifaceAddr, port: (conn.addr as Deno.NetAddr).port },
  });
  let sent = 0;
  const send = async (data: Uint8Array, to: Deno.NetAddr) => {
    await conn.send(data, to);
    sent++;
  };
  /** `body` as the real server `id` (copied identity), numbered past its last datagram heard. */
  const posing = (id: string, body: Body): Uint8Array[] => {
    const real = heard.get(id);
    if (!real) throw new Error(`never heard ${id} on the group`);
    const sender: Sender = {
      id,
      incarnation: real.incarnation,
      role: "server",
      addr: { host: real.host, port: real.port },
    };
    const data = codec.encode(sender, body, Date.now());
    const seqAt = readHeader(data)!.seqAt;
    return Array.from({ length: COPIES }, (_, k) => {
      const copy = data.slice();
      new DataView(copy.buffer).setUint32(seqAt, real.seq + SEQ_LEAD + k);
      const tagAt = copy.length - TAG_BYTES;
      const tag = createHmac("sha256", keyring.primary.auth).update(copy.subarray(0, tagAt))
        .digest();
      copy.set(tag.subarray(0, TAG_BYTES), tagAt);
      return copy;
    });
  };

  switch (forgery.kind) {
    case "leader": {
      const me = self(forgery.id);
      const { priority, term } = forgery;
      const status = { version: "0.1.0", priority, leader: me.id, term, view: 1, joining: false };
      for (const end = Date.now() + forgery.ms; Date.now() < end; await sleep(100)) {
        for (
          const body of [{ kind: "heartbeat", ...status }, { kind: "coordinator", term, priority }]
        ) {
          const data = codec.encode(me, body as Body, Date.now());
          for (const to of [group, ...forgery.servers.map(target)]) await send(data, to);
        }
      }
      break;
    }
    case "follower": {
      const leader = heard.get(forgery.leader);
      if (!leader) throw new Error(`never heard ${forgery.leader} on the group`);
      const items = forgery.items.map((item) => ({ ...item, acked: 0, cseq: 1, ts: Date.now() }));
      for (const data of posing(forgery.as, { kind: "chat-forward", items })) {
        await send(data, target(`${leader.host}:${leader.port}`));
      }
      break;
    }
    case "refusal":
      for (const gen of forgery.gens) {
        const body: Body = { kind: "chat-refused", reason: "name-taken", gen };
        for (const data of posing(forgery.as, body)) await send(data, target(forgery.to));
      }
      break;
    case "stream": {
      const { prevTerm, prevMark, entries } = forgery;
      const body: Body = { kind: "chat-stream", prevTerm, prevMark, entries };
      const targets = [group, ...forgery.to.map(target)];
      for (
        const data of [
          ...posing(forgery.as, body),
          codec.encode(self("zz-stream"), body, Date.now()),
        ]
      ) {
        for (const to of targets) await send(data, to);
      }
      break;
    }
  }
  conn.close();
  const identities = Object.fromEntries([...heard].map(([id, h]) => [id, h.incarnation]));
  console.log(JSON.stringify({ heard: identities, sent }));
}

if (import.meta.main) await forge(JSON.parse(Deno.args[0]) as Forgery);
