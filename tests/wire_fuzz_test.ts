/**
 * Fuzz tests of the codec: for any bytes at all, decode never throws, and it accepts a datagram
 * only if it is byte for byte one that a key holder encoded.
 *
 * Seeded and deterministic. Replay a failure with `WIRE_FUZZ_SEED=<seed printed>`; run longer
 * with `WIRE_FUZZ_ROUNDS=<n>` (inputs per phase, default below).
 *
 * @module
 */

import assert from "node:assert/strict";
import { SeededRandom } from "../src/util/random.ts";
import {
  type Body,
  Keyring,
  MAGIC,
  MESSAGE_KINDS,
  PROTOCOL_VERSION,
  type Sender,
  WireCodec,
} from "../src/wire/mod.ts";
import { layout, seal, unseal } from "./helpers/wire_seal.ts";

const SEED = Number(Deno.env.get("WIRE_FUZZ_SEED") ?? 20_250_601);
const ROUNDS = Number(Deno.env.get("WIRE_FUZZ_ROUNDS") ?? 40_000);
const CLUSTER = "fuzz";
const SECRET = "fuzz-secret";
const MAX = 1400;
const NOW = 1_750_000_000_000;
const CODES = Object.values(MESSAGE_KINDS).map((spec) => spec.code);

/** Both ways a datagram travels: encrypted under a secret, only signed under the cluster key. */
const MODES: { name: string; secrets: string[] }[] = [
  { name: "encrypted", secrets: [SECRET] },
  { name: "plaintext", secrets: [] },
];

function codec(secrets = [SECRET]): WireCodec {
  return new WireCodec({
    cluster: CLUSTER,
    keyring: Keyring.fromSecrets(secrets, CLUSTER),
    maxDatagramBytes: MAX,
  });
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBytes(rng: SeededRandom, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.int(256);
  return out;
}

function randomText(rng: SeededRandom, maxChars: number): string {
  const alphabet = 'abcxyz-_.09ÄéЖ中🙂 "\\';
  const chars = Array.from(alphabet);
  const length = 1 + rng.int(maxChars);
  return Array.from({ length }, () => rng.pick(chars)).join("").slice(0, maxChars);
}

/** Random text without spaces: what node ids and reply hosts may be. */
function randomName(rng: SeededRandom, maxChars: number): string {
  return randomText(rng, maxChars).replaceAll(" ", "_");
}

function randomSender(rng: SeededRandom): Sender {
  return {
    id: randomName(rng, 20),
    incarnation: rng.int(2 ** 31) * rng.int(4096),
    role: rng.pick(["server", "client", "probe"] as const),
    addr: { host: randomName(rng, 30), port: 1 + rng.int(65535) },
  };
}

function randomBody(rng: SeededRandom): Body {
  const int = () => rng.int(2 ** 31) - 2 ** 30;
  switch (rng.int(3)) {
    case 0:
      return { kind: "coordinator", term: 1 + rng.int(2 ** 31 - 1), priority: int() };
    case 1:
      return { kind: "discover", nonce: int() };
    default:
      return {
        kind: "discover-reply",
        nonce: int(),
        version: randomText(rng, 16),
        priority: int(),
        uptimeMs: rng.int(2 ** 31),
        viaGroup: rng.chance(0.5),
        leader: randomText(rng, 24),
        term: rng.int(2 ** 31),
        view: rng.int(2 ** 31),
        viewSize: rng.int(2 ** 16),
        clients: rng.int(2 ** 16),
        rejections: rng.chance(0.5) ? {} : { [randomText(rng, 12)]: rng.int(2 ** 31) },
      };
  }
}

/** Offsets of the length fields of a well-formed datagram (layout in codec.ts). */
function lengthFields(d: Uint8Array): { at: number; bytes: 1 | 2 }[] {
  const o = layout(d);
  return [
    { at: 9, bytes: 1 },
    { at: o.idLenAt, bytes: 1 },
    { at: o.hostLenAt, bytes: 1 },
    { at: o.receiverLenAt, bytes: 1 },
    { at: o.bodyLenAt, bytes: 2 },
  ];
}

function mutate(rng: SeededRandom, original: Uint8Array): Uint8Array {
  let d: Uint8Array = original.slice();
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    if (d.length === 0) {
      d = randomBytes(rng, 1 + rng.int(8));
      continue;
    }
    switch (rng.int(7)) {
      case 0: {
        const at = rng.int(d.length);
        d[at] ^= 1 << rng.int(8);
        break;
      }
      case 1:
        d = d.slice(0, rng.int(d.length));
        break;
      case 2: {
        const longer = new Uint8Array(d.length + 1 + rng.int(40));
        longer.set(d);
        longer.set(randomBytes(rng, longer.length - d.length), d.length);
        d = longer;
        break;
      }
      case 3:
        d[rng.int(d.length)] = rng.int(256);
        break;
      case 4: {
        if (d.length < original.length) break;
        const field = rng.pick(lengthFields(original));
        const value = rng.chance(0.5) ? rng.int(1 << (8 * field.bytes)) : rng.int(5);
        if (field.bytes === 1) d[field.at] = value;
        else new DataView(d.buffer).setUint16(field.at, value);
        break;
      }
      case 5: {
        const at = rng.int(d.length + 1);
        d = Uint8Array.of(...d.subarray(0, at), rng.int(256), ...d.subarray(at));
        break;
      }
      default: {
        const at = rng.int(d.length);
        d = Uint8Array.of(...d.subarray(0, at), ...d.subarray(at + 1));
      }
    }
  }
  return d;
}

/** Runs `round` ROUNDS times, reporting the seed, phase and round of the first failure. */
function fuzz(phase: string, round: (rng: SeededRandom, i: number) => void): void {
  const rng = new SeededRandom(SEED);
  for (let i = 0; i < ROUNDS; i++) {
    try {
      round(rng, i);
    } catch (error) {
      throw new Error(`${phase} failed at round ${i}; replay with WIRE_FUZZ_SEED=${SEED}`, {
        cause: error,
      });
    }
  }
}

Deno.test("random bytes never throw and are never accepted", () => {
  const c = codec();
  fuzz("random bytes", (rng) => {
    const length = rng.chance(0.9) ? rng.int(200) : rng.int(MAX + 20);
    const input = randomBytes(rng, length);
    if (rng.chance(0.5) && length >= 5) {
      input.set([...MAGIC, PROTOCOL_VERSION, rng.pick(CODES), rng.chance(0.9) ? 0 : rng.int(256)]);
    }
    const result = c.decode(input, NOW);
    assert.equal(result.ok, false, `accepted garbage ${hex(input)}`);
  });
  assert.equal(c.rejections.total(), ROUNDS);
});

for (const mode of MODES) {
  Deno.test(`${mode.name}: mutated datagrams never throw and are accepted only when byte-identical`, () => {
    const tx = codec(mode.secrets);
    const rx = codec(mode.secrets);
    const originals = Array.from({ length: 64 }, (_, i) => {
      const rng = new SeededRandom(SEED + i);
      return tx.encode(randomSender(rng), randomBody(rng), NOW);
    });
    const valid = new Set(originals.map(hex));
    for (const d of originals) assert.ok(rx.decode(d, NOW).ok);
    let accepted = 0;
    fuzz(`${mode.name} mutation`, (rng) => {
      const input = mutate(rng, rng.pick(originals));
      const result = rx.decode(input, NOW);
      if (result.ok) {
        accepted++;
        assert.ok(valid.has(hex(input)), `accepted a mutation: ${hex(input)}`);
      }
    });
    assert.ok(accepted < ROUNDS / 100, `${accepted} of ${ROUNDS} mutations were no-ops`);
  });

  Deno.test(`${mode.name}: re-sealed mutations never throw; what is accepted is sendable`, () => {
    const tx = codec(mode.secrets);
    const rx = codec(mode.secrets);
    const echo = codec(mode.secrets);
    const forms = Array.from({ length: 64 }, (_, i) => {
      const rng = new SeededRandom(SEED - i);
      return unseal(tx.encode(randomSender(rng), randomBody(rng), NOW), mode.secrets, CLUSTER);
    });
    let accepted = 0;
    fuzz(`${mode.name} re-sealed mutation`, (rng) => {
      const input = seal(mutate(rng, rng.pick(forms)), mode.secrets, CLUSTER);
      const result = rx.decode(input, NOW);
      if (!result.ok) return;
      accepted++;
      const { sender, body, ts } = result.envelope;
      const again = rx.decode(echo.encode(sender, body, ts), NOW);
      assert.ok(
        again.ok,
        `accepted ${hex(input)} but its re-encoding was ${JSON.stringify(again)}`,
      );
      assert.deepEqual(again.envelope.sender, sender);
      assert.deepEqual(again.envelope.body, body);
    });
    assert.ok(accepted > 0, "no re-sealed mutation was accepted: the fuzzer does not reach decode");
  });
}
