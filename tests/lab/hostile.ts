/**
 * A hostile host for the lab, run with Deno inside one lab namespace (never elsewhere: it
 * refuses to start unless its `--iface-addr` is an address of the namespace it runs in, and it
 * sends only to the lab addresses it is given).
 *
 * `attack`: joins the group, captures real datagrams for `--capture-ms`, then sends `--count`
 * datagrams in five equal parts: random bytes (some with a dsys header prefix, some oversized),
 * bit-flipped copies of captured datagrams, verbatim replays of captured datagrams (to the group
 * and unicast to every server), forged-sender datagrams (a heartbeat claiming a real server's id
 * and the top priority, signed with a wrong key, once with the real key id and once with its
 * own; some for another cluster), and a full-speed flood of all of those at `--flood`. With
 * `--secret` it then also misbehaves as an insider holding the key: a client sending an election
 * message (invalid), a client that turns into a server in one incarnation (contradiction), and
 * a full-speed authenticated flood at `--flood`. Prints one JSON line of what it sent.
 *
 * `flood`: only the insider's authenticated flood at `--flood` (needs `--secret`, `--cluster`,
 * `--iface-addr`), from a new flooder id; prints one JSON line of what it sent.
 *
 * `scrape URL...`: prints one JSON line `{url: metrics text}` (the servers' `/metrics` are on lab
 * addresses reachable only from inside the lab).
 *
 * Run: `ip netns exec NS deno run --unstable-net -A tests/lab/hostile.ts attack --group G
 * --port P --iface-addr A --cluster C --servers H:P,... --flood H:P [--count 100000]
 * [--capture-ms 1000] [--secret S]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { networkInterfaces } from "node:os";
import { Keyring } from "../../src/wire/keyring.ts";
import { WireCodec } from "../../src/wire/codec.ts";
import type { Body, Role, Sender } from "../../src/wire/messages.ts";
import { listenToGroup } from "./group_socket.ts";

/** Datagrams sent between two yields to the event loop (keeps the send queue bounded). */
const BATCH = 256;

interface Target {
  hostname: string;
  port: number;
}

function target(text: string): Target {
  const [hostname, port] = text.split(":");
  return { hostname, port: Number(port) };
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(length, at + 65536)));
  }
  return out;
}

function randomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

/** Sends every datagram `make(i)` for `i < count` to `to(i)`, `BATCH` at a time. */
async function blast(
  conn: Deno.DatagramConn,
  count: number,
  make: (i: number) => Uint8Array,
  to: (i: number) => Target,
): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count; i += BATCH) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(count, i + BATCH); k++) {
      batch.push(
        conn.send(make(k), { transport: "udp", ...to(k) }).then(() => sent++, () => {}),
      );
    }
    await Promise.all(batch);
  }
  return sent;
}

/** Refuses to go on unless `address` belongs to the namespace this runs in (a lab host). */
function assertOwnAddress(address: string): void {
  const own = Object.values(networkInterfaces()).flat().some((i) => i?.address === address);
  if (!own) throw new Error(`${address} is not an address of this namespace: refusing`);
}

async function capture(
  group: string,
  port: number,
  ifaceAddr: string,
  ms: number,
): Promise<Uint8Array[]> {
  const listener = await listenToGroup(group, port, ifaceAddr);
  const captured: Uint8Array[] = [];
  const done = new Promise((resolve) => setTimeout(resolve, ms));
  const buffer = new Uint8Array(65536);
  const loop = (async () => {
    try {
      while (true) {
        const [data] = await listener.receive(buffer);
        captured.push(data.slice());
      }
    } catch {
      // Closed.
    }
  })();
  await done;
  listener.close();
  await loop;
  return captured;
}

/** A codec of cluster `cluster` that signs with a key derived from `secret` (nobody else's). */
function forger(cluster: string, secret: string): WireCodec {
  return new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets([secret], cluster),
    maxDatagramBytes: 16 * 1024,
  });
}

/** A heartbeat claiming `leader` (the sender itself for a leadership claim) at `term`. */
function heartbeat(leader: string, priority: number, term: number): Body {
  return { kind: "heartbeat", version: "0.1.0", priority, leader, term, view: 1, joining: false };
}

async function attack(flags: Record<string, string | undefined>): Promise<void> {
  const group = flags.group!;
  const port = Number(flags.port);
  const ifaceAddr = flags["iface-addr"]!;
  const cluster = flags.cluster!;
  const servers = flags.servers!.split(",").map(target);
  const flood = target(flags.flood!);
  const count = Number(flags.count ?? 100_000);
  assertOwnAddress(ifaceAddr);

  const captured = await capture(group, port, ifaceAddr, Number(flags["capture-ms"] ?? 1000));
  if (captured.length === 0) throw new Error("captured nothing on the group");
  const conn = Deno.listenDatagram({ transport: "udp", hostname: ifaceAddr, port: 0 });
  const groupTarget = { hostname: group, port };
  const everywhere = [groupTarget, ...servers];
  const pick = () => captured[randomInt(captured.length)];

  const self: Sender = {
    id: "h1",
    incarnation: Date.now(),
    role: "server",
    addr: { host: ifaceAddr, port: 7401 },
  };
  const wrongKey = forger(cluster, crypto.randomUUID());
  const otherCluster = forger(`${cluster}-other`, crypto.randomUUID());
  const serverIds = ["h1", "h2", "h3"];

  const makeRandom = (i: number) => {
    if (i % 100 === 0) return randomBytes(17_000 + randomInt(40_000));
    const bytes = randomBytes(1 + randomInt(1400));
    if (i % 3 === 0 && bytes.length > 4) bytes.set([0xd5, 0x59, pick()[2]], 0);
    return bytes;
  };
  const makeFlipped = () => {
    const copy = pick().slice();
    for (let flips = 1 + randomInt(3); flips > 0; flips--) {
      copy[randomInt(copy.length)] ^= 1 << randomInt(8);
    }
    return copy;
  };
  const makeForged = (i: number) => {
    const codec = i % 5 === 0 ? otherCluster : wrongKey;
    const id = serverIds[i % serverIds.length];
    const data = codec.encode({ ...self, id }, heartbeat(id, 1_000_000, 1_000_000), Date.now());
    if (i % 2 === 0) data.set(pick().subarray(5, 9), 5);
    return data;
  };
  const makers = [makeRandom, makeFlipped, pick, makeForged];

  const part = Math.floor(count / 5);
  const sent = {
    random: await blast(conn, part, makeRandom, (i) => everywhere[i % everywhere.length]),
    flipped: await blast(conn, part, makeFlipped, (i) => everywhere[i % everywhere.length]),
    replayed: await blast(conn, part, pick, (i) => everywhere[i % everywhere.length]),
    forged: await blast(conn, part, makeForged, (i) => everywhere[i % everywhere.length]),
    flood: await blast(conn, count - 4 * part, (i) => makers[i % 4](i), () => flood),
    insider: 0,
  };
  if (flags.secret) sent.insider = await insider(conn, flags, groupTarget, flood);
  conn.close();
  console.log(JSON.stringify({ captured: captured.length, sent }));
}

/** Misbehaves with the cluster's key; returns how many datagrams it sent. */
async function insider(
  conn: Deno.DatagramConn,
  flags: Record<string, string | undefined>,
  groupTarget: Target,
  flood: Target,
): Promise<number> {
  const cluster = flags.cluster!;
  const codec = new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets([flags.secret!], cluster),
    maxDatagramBytes: 16 * 1024,
  });
  const as = (id: string, role: Role): Sender => ({
    id,
    incarnation: Date.now(),
    role,
    addr: { host: flags["iface-addr"]!, port: 9 },
  });
  const send = (sender: Sender, body: Body, to: Target) =>
    conn.send(codec.encode(sender, body, Date.now()), { transport: "udp", ...to });
  let sent = 0;

  await send(
    as("rogue", "client"),
    { kind: "election", term: 1_000_000, priority: 0 },
    groupTarget,
  );
  sent++;

  const turncoat = as("turncoat", "client");
  await send(turncoat, { kind: "chat-leave" }, groupTarget);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await send({ ...turncoat, role: "server" }, heartbeat("", -1, 0), groupTarget);
  sent += 2;

  return sent + await insiderFlood(conn, codec, as("flooder", "client"), flags, flood);
}

/**
 * The insider's authenticated full-speed flood at `flood`; returns how many it sent. Every
 * datagram is sealed before the first leaves, so that sealing does not slow the flood down.
 */
function insiderFlood(
  conn: Deno.DatagramConn,
  codec: WireCodec,
  flooder: Sender,
  flags: Record<string, string | undefined>,
  flood: Target,
): Promise<number> {
  const now = Date.now();
  const sealed = Array.from(
    { length: Number(flags["insider-flood"] ?? 15_000) },
    () => codec.encode(flooder, { kind: "chat-leave" }, now),
  );
  return blast(conn, sealed.length, (i) => sealed[i], () => flood);
}

/** `flood`: one more insider flood at `--flood`, alone, from a flooder of its own. */
async function floodAgain(flags: Record<string, string | undefined>): Promise<void> {
  const cluster = flags.cluster!;
  const codec = new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets([flags.secret!], cluster),
    maxDatagramBytes: 16 * 1024,
  });
  const ifaceAddr = flags["iface-addr"]!;
  assertOwnAddress(ifaceAddr);
  const conn = Deno.listenDatagram({ transport: "udp", hostname: ifaceAddr, port: 0 });
  const flooder: Sender = {
    id: `flooder-${crypto.randomUUID().slice(0, 8)}`,
    incarnation: Date.now(),
    role: "client",
    addr: { host: ifaceAddr, port: 9 },
  };
  const sent = await insiderFlood(conn, codec, flooder, flags, target(flags.flood!));
  conn.close();
  console.log(JSON.stringify({ sent }));
}

async function scrape(urls: string[]): Promise<void> {
  const out: Record<string, string> = {};
  for (const url of urls) out[url] = await (await fetch(url)).text();
  console.log(JSON.stringify(out));
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: Object.fromEntries(
      [
        "group",
        "port",
        "iface-addr",
        "cluster",
        "servers",
        "flood",
        "count",
        "capture-ms",
        "secret",
        "insider-flood",
      ].map((name) => [name, { type: "string" as const }]),
    ),
  });
  if (mode === "attack") await attack(values);
  else if (mode === "flood") await floodAgain(values);
  else if (mode === "scrape") await scrape(positionals);
  else throw new Error(`usage: hostile.ts attack|flood|scrape ...`);
}
