/**
 * Forgeries past the wire's bounds, and a counting listener, for `forgery_bounds_test.ts`: run
 * with Deno inside one lab namespace (never elsewhere: it refuses to start unless its
 * `--iface-addr` is an address of the namespace it runs in, and it sends only to the lab
 * addresses it is given).
 *
 * `send`: sends `--count` datagrams of `--kind` as sender `--id` (role `--role`, reply address
 * `--reply-host`:`--reply-port`), body `--body` (JSON, any numbers: the datagram is framed and
 * signed by hand after the codec made its header, so values the codec refuses get through), with
 * `--incarnation` written into the header, signed with the cluster-name key or `--secret`, to
 * every `host:port` of `--to`. Prints `{"datagrams":N,"bytes":B}`.
 *
 * `listen`: counts the datagrams and bytes reaching UDP `--iface-addr`:`--port` for `--ms` ms, then
 * prints `{"datagrams":N,"bytes":B}`.
 *
 * @module
 */

import { networkInterfaces } from "node:os";
import { parseArgs } from "node:util";
import { layout, seal } from "../helpers/wire_seal.ts";
import { type Body, Keyring, type Role, type Sender, WireCodec } from "../../src/wire/mod.ts";

const TAG_BYTES = 16;

/** Valid bodies of each kind this script forges: the codec makes their header. */
const TEMPLATES: Record<string, Body> = {
  heartbeat: {
    kind: "heartbeat",
    version: "0.1.0",
    priority: 0,
    leader: "",
    term: 1,
    view: 1,
    joining: false,
  },
  discover: { kind: "discover", nonce: 1 },
};

/** A datagram of `kind` from `sender` with body `fields` and header incarnation `incarnation`. */
function forge(
  codec: WireCodec,
  secrets: string[],
  cluster: string,
  sender: Sender,
  kind: string,
  fields: Record<string, unknown>,
  incarnation: number,
): Uint8Array {
  const template = codec.encode(sender, TEMPLATES[kind], Date.now());
  const at = layout(template);
  const json = new TextEncoder().encode(JSON.stringify(fields));
  const form = new Uint8Array(at.bodyAt + json.length + TAG_BYTES);
  form.set(template.subarray(0, at.bodyLenAt));
  const view = new DataView(form.buffer);
  view.setUint16(at.bodyLenAt, json.length);
  view.setFloat64(at.incarnationAt, incarnation);
  form.set(json, at.bodyAt);
  return seal(form, secrets, cluster);
}

function mustOwn(address: string): void {
  const own = Object.values(networkInterfaces()).flat().some((i) => i?.address === address);
  if (!own) throw new Error(`${address} is not an address of this namespace: refusing`);
}

async function send(flags: Record<string, string | undefined>): Promise<void> {
  const ifaceAddr = flags["iface-addr"]!;
  mustOwn(ifaceAddr);
  const cluster = flags.cluster!;
  const secrets = flags.secret ? [flags.secret] : [];
  const codec = new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets(secrets, cluster),
    maxDatagramBytes: 16 * 1024,
  });
  const sender: Sender = {
    id: flags.id!,
    incarnation: Date.now(),
    role: (flags.role ?? "server") as Role,
    addr: { host: flags["reply-host"] ?? ifaceAddr, port: Number(flags["reply-port"] ?? 7401) },
  };
  const incarnation = Number(flags.incarnation ?? sender.incarnation);
  const fields = JSON.parse(flags.body ?? "{}");
  const targets = flags.to!.split(",").map((text) => {
    const [hostname, port] = text.split(":");
    return { transport: "udp" as const, hostname, port: Number(port) };
  });
  const conn = Deno.listenDatagram({ transport: "udp", hostname: ifaceAddr, port: 0 });
  let datagrams = 0;
  let bytes = 0;
  try {
    for (let i = 0; i < Number(flags.count ?? 1); i++) {
      const data = forge(codec, secrets, cluster, sender, flags.kind!, fields, incarnation);
      for (const target of targets) {
        await conn.send(data, target);
        datagrams++;
        bytes += data.byteLength;
      }
    }
  } finally {
    conn.close();
  }
  console.log(JSON.stringify({ datagrams, bytes }));
}

async function listen(flags: Record<string, string | undefined>): Promise<void> {
  const ifaceAddr = flags["iface-addr"]!;
  mustOwn(ifaceAddr);
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: ifaceAddr,
    port: Number(flags.port),
  });
  const counts = { datagrams: 0, bytes: 0 };
  const loop = (async () => {
    try {
      for await (const [data] of conn) {
        counts.datagrams++;
        counts.bytes += data.byteLength;
      }
    } catch {
      // Closed.
    }
  })();
  console.log(JSON.stringify({ listening: true }));
  await new Promise((resolve) => setTimeout(resolve, Number(flags.ms)));
  conn.close();
  await loop;
  console.log(JSON.stringify(counts));
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  const names = [
    "iface-addr",
    "cluster",
    "secret",
    "id",
    "role",
    "reply-host",
    "reply-port",
    "incarnation",
    "kind",
    "body",
    "to",
    "count",
    "port",
    "ms",
  ];
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
  });
  if (mode === "send") await send(values);
  else if (mode === "listen") await listen(values);
  else throw new Error("usage: forge_bounds.ts send|listen ...");
}
