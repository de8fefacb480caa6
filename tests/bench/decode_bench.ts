/**
 * What one decode of a full chat delivery costs: a `chat-deliver` of 20 entries (the size a
 * server sends a client that is catching up), encoded once and decoded again and again, plaintext
 * (HMAC-SHA256) and encrypted (ChaCha20-Poly1305). Prints µs per decode, the median of several rounds, so
 * that a change to the decoder (tag check, JSON parse, dropping undeclared fields, validation) can
 * be compared before and after on one machine.
 *
 * Run with `deno run -A tests/bench/decode_bench.ts [--rounds 9] [--decodes 5000]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Body } from "../../src/wire/mod.ts";
import { benchCodec as codec, MODES, NOW, SENDER } from "./wire_sample.ts";

/** A delivery of 20 entries of a typical chat line each. */
function delivery(): Body {
  const entries = Array.from({ length: 20 }, (_, i) => ({
    seq: 10_000 + i,
    term: 7,
    kind: "text" as const,
    client: `client-${i % 4}-1749999990000`,
    cseq: 100 + i,
    from: `user${i % 4}`,
    text: `line ${i}: a chat line of about sixty characters, as people type`,
    ts: NOW - 1000 + i,
  }));
  return {
    kind: "chat-deliver",
    commit: 10_019,
    acked: 0,
    gen: 42,
    entries,
    leader: SENDER.id,
    leaderIncarnation: SENDER.incarnation,
  };
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "9" },
    decodes: { type: "string", default: "5000" },
  },
});
const rounds = Number(values.rounds);
const decodes = Number(values.decodes);

for (const { name, secrets } of MODES) {
  const sample = codec(secrets).encode(SENDER, delivery(), NOW, "receiver");
  const receiver = codec(secrets);
  if (!receiver.decode(sample, NOW).ok) throw new Error(`the ${name} sample does not decode`);
  const perDecode: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < decodes; i++) receiver.decode(sample, NOW);
    perDecode.push(((performance.now() - start) * 1000) / decodes);
  }
  perDecode.sort((a, b) => a - b);
  const median = perDecode[Math.floor(perDecode.length / 2)];
  console.log(
    `${name}: chat-deliver of 20 entries, ${sample.length} bytes: ${median.toFixed(1)} µs per ` +
      `decode (median of ${rounds} rounds of ${decodes}; min ${perDecode[0].toFixed(1)}, max ` +
      `${perDecode.at(-1)!.toFixed(1)})`,
  );
}
