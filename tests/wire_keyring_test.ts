/**
 * Tests of the keyring: key derivation, key ids, rotation and the no-secret cluster key.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { deriveKey, Keyring, type Sender, WireCodec } from "../src/wire/mod.ts";

const NOW = 1_750_000_000_000;
const SENDER: Sender = {
  id: "node-1",
  incarnation: 1,
  role: "server",
  addr: { host: "10.0.0.1", port: 7401 },
};

function codec(secrets: string[], cluster = "dsys"): WireCodec {
  return new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets(secrets, cluster),
    maxDatagramBytes: 1400,
  });
}

function send(from: WireCodec, to: WireCodec) {
  return to.decode(from.encode(SENDER, { kind: "discover", nonce: 1 }, NOW), NOW);
}

Deno.test("keys are HKDF-derived per purpose, and the key id is HMAC(key, 'dsys key id')", () => {
  const key = Keyring.fromSecrets(["alpha"], "dsys").primary;
  assert.equal(key.auth.length, 32);
  assert.deepEqual(key.auth, deriveKey("alpha", "auth"));
  assert.deepEqual(key.derive("auth"), key.auth);
  assert.notDeepEqual(key.derive("encrypt"), key.auth);
  assert.notDeepEqual(deriveKey("beta", "auth"), key.auth);
  const mac = createHmac("sha256", key.auth).update("dsys key id").digest();
  assert.equal(key.id, mac.readUInt32BE(0));
});

Deno.test("a secret's key encrypts with its own HKDF key; the cluster-name key does not", () => {
  const key = Keyring.fromSecrets(["alpha"], "dsys").primary;
  assert.deepEqual(key.encrypt, deriveKey("alpha", "encrypt"));
  assert.notDeepEqual(key.encrypt, key.auth);
  assert.equal(Keyring.fromSecrets([], "dsys").primary.encrypt, undefined);
});

Deno.test("rotation steps keep every pair of processes talking, encrypted throughout", () => {
  const steps = [["old"], ["old", "new"], ["new", "old"], ["new"]];
  for (let i = 0; i + 1 < steps.length; i++) {
    for (const [a, b] of [[steps[i], steps[i + 1]], [steps[i + 1], steps[i]]]) {
      const result = send(codec(a), codec(b));
      assert.ok(result.ok, `${a} -> ${b}: ${JSON.stringify(result)}`);
    }
  }
  assert.deepEqual(send(codec(["old"]), codec(["new"])), { ok: false, reason: "unknown-key" });
});

Deno.test("the same secrets give the same keyring on every process", () => {
  const a = Keyring.fromSecrets(["one", "two"], "x");
  const b = Keyring.fromSecrets(["one", "two"], "y");
  assert.equal(a.primary.id, b.primary.id);
  const two = Keyring.fromSecrets(["two"], "x").primary.id;
  assert.equal(a.byId(two)?.id, two);
  assert.equal(a.usesClusterKey, false);
});

Deno.test("the first secret signs and every secret is accepted; duplicates are harmless", () => {
  const ring = Keyring.fromSecrets(["new", "old", "new"], "dsys");
  assert.equal(ring.primary.id, Keyring.fromSecrets(["new"], "dsys").primary.id);
  assert.ok(ring.byId(Keyring.fromSecrets(["old"], "dsys").primary.id));
  assert.equal(ring.byId(Keyring.fromSecrets(["other"], "dsys").primary.id), undefined);
});

Deno.test("an empty secret is refused", () => {
  assert.throws(() => Keyring.fromSecrets(["ok", ""], "dsys"), /secret 2 is empty/);
});

Deno.test("rotation: [new] reaches [old, new]; [old] alone rejects it as unknown-key", () => {
  const sender = codec(["new"]);
  assert.ok(send(sender, codec(["old", "new"])).ok);
  assert.ok(send(sender, codec(["new", "old"])).ok);
  assert.deepEqual(send(sender, codec(["old"])), { ok: false, reason: "unknown-key" });
  assert.ok(send(codec(["old", "new"]), codec(["old"])).ok);
});

Deno.test("without secrets the key comes from the cluster name", () => {
  const blue = Keyring.fromSecrets([], "blue");
  assert.equal(blue.usesClusterKey, true);
  assert.equal(blue.primary.id, Keyring.fromSecrets([], "blue").primary.id);
  assert.notEqual(blue.primary.id, Keyring.fromSecrets([], "green").primary.id);
  assert.ok(send(codec([], "blue"), codec([], "blue")).ok);
});

Deno.test("no-secret clusters with different names reject each other as wrong-cluster", () => {
  assert.deepEqual(send(codec([], "blue"), codec([], "green")), {
    ok: false,
    reason: "wrong-cluster",
  });
  assert.deepEqual(send(codec([], "green"), codec([], "blue")), {
    ok: false,
    reason: "wrong-cluster",
  });
});

Deno.test("a secret holder rejects a no-secret sender as unknown-key, and the reverse", () => {
  assert.deepEqual(send(codec([]), codec(["s3cret"])), { ok: false, reason: "unknown-key" });
  assert.deepEqual(send(codec(["s3cret"]), codec([])), { ok: false, reason: "unknown-key" });
  assert.deepEqual(send(codec(["dsys"]), codec([])), { ok: false, reason: "unknown-key" });
});
