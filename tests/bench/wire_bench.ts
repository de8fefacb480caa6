/**
 * Benchmarks of the wire codec: encode and decode of a typical ~200-byte datagram.
 *
 * Run with `deno bench -A tests/bench/wire_bench.ts`.
 *
 * @module
 */

import { type Body, Keyring, ReplayGuard, type Sender, WireCodec } from "../../src/wire/mod.ts";

const CLUSTER = "dsys";
const NOW = 1_750_000_000_000;
const SENDER: Sender = {
  id: "server-3f9a2c71-b5d4-4e0a",
  incarnation: 1_749_999_999_123,
  role: "server",
  addr: { host: "192.168.100.200", port: 7401 },
};
const BODY: Body = {
  kind: "discover-reply",
  nonce: 1_234_567_890,
  version: "0.1.0",
  priority: 1_749_999_999,
  uptimeMs: 86_400_000,
  viaGroup: true,
  leader: "server-3f9a2c71-b5d4-4e0a",
  term: 12,
  view: 40,
  viewSize: 5,
  clients: 12,
  rejections: { "unknown-key": 3 },
};

function codec(replay?: ReplayGuard): WireCodec {
  return new WireCodec({
    cluster: CLUSTER,
    keyring: Keyring.fromSecrets(["a bench secret"], CLUSTER),
    maxDatagramBytes: 16 * 1024,
    replay,
  });
}

const sender = codec();
const sample = sender.encode(SENDER, BODY, NOW);
const receiver = codec();
const guarded = codec(new ReplayGuard({ window: 1024, maxSenders: 4096, maxClockSkewMs: 120_000 }));

Deno.bench(`encode (${sample.length} B)`, { group: "wire", baseline: true }, () => {
  sender.encode(SENDER, BODY, NOW);
});

Deno.bench(`decode (${sample.length} B)`, { group: "wire" }, () => {
  if (!receiver.decode(sample, NOW).ok) throw new Error("sample rejected");
});

Deno.bench(`encode + decode with replay guard (${sample.length} B)`, { group: "wire" }, () => {
  if (!guarded.decode(sender.encode(SENDER, BODY, NOW), NOW).ok) throw new Error("rejected");
});
