/**
 * Benchmarks of the wire codec: encode and decode of a typical ~200-byte datagram, plaintext
 * (HMAC-SHA256, no secret) against encrypted (ChaCha20-Poly1305, with a secret).
 *
 * Run with `deno bench -A tests/bench/wire_bench.ts`.
 *
 * @module
 */

import { type Body, ReplayGuard } from "../../src/wire/mod.ts";
import { benchCodec as codec, MODES, NOW, SENDER } from "./wire_sample.ts";

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

for (const { name, secrets } of MODES) {
  const sender = codec(secrets);
  const sample = sender.encode(SENDER, BODY, NOW, "receiver");
  const receiver = codec(secrets);
  const guarded = codec(
    secrets,
    new ReplayGuard({ window: 1024, maxSenders: 4096, maxClockSkewMs: 120_000 }),
  );
  const baseline = name === "plaintext";

  Deno.bench(`${name} encode (${sample.length} B)`, { group: "encode", baseline }, () => {
    sender.encode(SENDER, BODY, NOW, "receiver");
  });

  Deno.bench(`${name} decode (${sample.length} B)`, { group: "decode", baseline }, () => {
    if (!receiver.decode(sample, NOW).ok) throw new Error("sample rejected");
  });

  Deno.bench(`${name} encode + decode with replay guard`, { group: "both", baseline }, () => {
    const datagram = sender.encode(SENDER, BODY, NOW, "receiver");
    if (!guarded.decode(datagram, NOW).ok) throw new Error("rejected");
  });
}
