/**
 * The keyring: the keys that authenticate (and, with a real secret, encrypt) datagrams, derived
 * from the configured secrets.
 *
 * This module owns key derivation (HKDF-SHA256) and key ids. Sending uses the first key; a
 * receiver accepts any key of its ring, so secrets can be rotated without a flag day: add the
 * new secret second everywhere, move it first everywhere, then drop the old one. It must not
 * know the byte layout (`codec.ts`) and never logs or exposes the secrets.
 *
 * @module
 */

import { createHmac, hkdfSync } from "node:crypto";

/** Length of every derived key (bytes): the output size of SHA-256. */
export const KEY_BYTES = 32;

/** HKDF salt: names the system and the version of this derivation. */
const HKDF_SALT = "dsys v1 keyring";

/** What a no-secret cluster's key is derived from, before the cluster name. */
const CLUSTER_KEY_PREFIX = "dsys cluster name: ";

/** The purpose of the key that signs datagrams. */
const AUTH_PURPOSE = "auth";

/** The purpose of the key that encrypts datagram bodies. */
const ENCRYPT_PURPOSE = "encrypt";

/**
 * Derives a {@linkcode KEY_BYTES}-byte key for one purpose from a secret, with HKDF-SHA256.
 * The HKDF info is `dsys v1 <purpose>`, so keys for different purposes are independent.
 */
export function deriveKey(secret: string, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", secret, HKDF_SALT, `dsys v1 ${purpose}`, KEY_BYTES));
}

/** One key of a {@linkcode Keyring}. */
export interface Key {
  /** Key id carried in every datagram: the first 4 bytes of HMAC(auth, "dsys key id"). */
  readonly id: number;
  /** The HMAC-SHA256 key that signs plaintext datagrams (purpose `auth`). */
  readonly auth: Uint8Array;
  /**
   * The ChaCha20-Poly1305 key that encrypts and authenticates datagrams (purpose `encrypt`);
   * undefined for the cluster-name key, whose datagrams stay plaintext: a key anyone can derive
   * from the cluster name would only pretend to hide anything.
   */
  readonly encrypt: Uint8Array | undefined;
  /** Derives another key for `purpose` from the same secret (for example payload encryption). */
  derive(purpose: string): Uint8Array;
}

function makeKey(secret: string, encrypted: boolean): Key {
  const auth = deriveKey(secret, AUTH_PURPOSE);
  const id = createHmac("sha256", auth).update("dsys key id").digest().readUInt32BE(0);
  const encrypt = encrypted ? deriveKey(secret, ENCRYPT_PURPOSE) : undefined;
  return { id, auth, encrypt, derive: (purpose) => deriveKey(secret, purpose) };
}

/** The keys a process signs with (the first) and accepts (all of them). */
export class Keyring {
  /** True when no secret was configured and the key is derived from the cluster name. */
  readonly usesClusterKey: boolean;
  /** The key that signs every outgoing datagram. */
  readonly primary: Key;
  #byId: Map<number, Key>;

  private constructor(keys: Key[], usesClusterKey: boolean) {
    this.usesClusterKey = usesClusterKey;
    this.primary = keys[0];
    this.#byId = new Map(keys.map((key) => [key.id, key]));
  }

  /**
   * Builds a keyring from the configured secrets, the first being the one to send with.
   * Keys from secrets encrypt. With no secrets, the one key is derived from the cluster name and
   * does not encrypt: it keeps clusters apart and catches corruption, but it is no protection
   * against anyone who knows the name.
   * Throws on an empty secret or on two different secrets whose key ids collide.
   */
  static fromSecrets(secrets: string[], cluster: string): Keyring {
    if (secrets.length === 0) {
      return new Keyring([makeKey(CLUSTER_KEY_PREFIX + cluster, false)], true);
    }
    const keys: Key[] = [];
    for (const [index, secret] of secrets.entries()) {
      if (secret.length === 0) throw new Error(`secret ${index + 1} is empty`);
      const key = makeKey(secret, true);
      const same = keys.find((k) => k.id === key.id);
      if (!same) keys.push(key);
      else if (!equalBytes(same.auth, key.auth)) {
        throw new Error(`secret ${index + 1} has the same key id as another secret; replace it`);
      }
    }
    return new Keyring(keys, false);
  }

  /** The key with this id, if the ring holds it. */
  byId(keyId: number): Key | undefined {
    return this.#byId.get(keyId);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
