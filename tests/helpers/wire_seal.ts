/**
 * What a key holder can do to a datagram, for the wire tests: open it (decrypt the body in place
 * without checking the tag) and seal it again (encrypt and tag, or HMAC-sign) after an edit, so
 * that a check which runs after authentication can be reached with any bytes.
 *
 * Independent of `codec.ts`: it follows the layout documented there, so a test fails when the
 * codec departs from its documentation.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { Keyring } from "../../src/wire/mod.ts";

/** The AEAD of an encrypted datagram, as `codec.ts` documents it. */
const CIPHER = "chacha20-poly1305";
const TAG_BYTES = 16;
const SALT_BYTES = 8;

/** Offsets of the fields of a datagram (NaN or out of range when its lengths do not frame). */
export function layout(d: Uint8Array) {
  const idLenAt = 9 + 1 + d[9];
  const incarnationAt = idLenAt + 1 + d[idLenAt];
  const seqAt = incarnationAt + 8;
  const roleAt = incarnationAt + 20;
  const hostLenAt = roleAt + 1;
  const portAt = hostLenAt + 1 + d[hostLenAt];
  const receiverLenAt = portAt + 2;
  const saltAt = receiverLenAt + 1 + d[receiverLenAt];
  const encrypted = (d[4] & 1) === 1;
  const bodyLenAt = saltAt + (encrypted ? SALT_BYTES : 0);
  const bodyAt = bodyLenAt + 2;
  const tagAt = bodyAt + ((d[bodyLenAt] << 8) | d[bodyLenAt + 1]);
  return {
    idLenAt,
    incarnationAt,
    seqAt,
    roleAt,
    hostLenAt,
    portAt,
    receiverLenAt,
    saltAt,
    encrypted,
    bodyLenAt,
    bodyAt,
    tagAt,
  };
}

function nonce(d: Uint8Array): Uint8Array {
  const { saltAt, seqAt } = layout(d);
  const out = new Uint8Array(12);
  out.set(d.subarray(saltAt, saltAt + SALT_BYTES));
  out.set(d.subarray(seqAt, seqAt + 4), SALT_BYTES);
  return out;
}

function encryptKey(secrets: string[], cluster: string): Uint8Array {
  return Keyring.fromSecrets(secrets, cluster).primary.derive("encrypt");
}

/** A copy of `d` with its body decrypted in place (the tag is left as it is, and not checked). */
export function unseal(d: Uint8Array, secrets: string[], cluster: string): Uint8Array {
  const out = d.slice();
  const { encrypted, bodyAt } = layout(d);
  if (!encrypted) return out;
  const decipher = createDecipheriv(CIPHER, encryptKey(secrets, cluster), nonce(d), {
    authTagLength: TAG_BYTES,
  });
  out.set(decipher.update(d.subarray(bodyAt, d.length - TAG_BYTES)), bodyAt);
  return out;
}

/**
 * A copy of `form` (a datagram with a plaintext body) sealed as the codec would: with the
 * encrypted flag, the bytes from the body to the last 16 are encrypted and the last 16 become
 * the Poly1305 tag over them with everything before the body as associated data; otherwise the last
 * 16 become the truncated HMAC of everything before them. Bytes that do not frame a body come
 * back unchanged.
 */
export function seal(form: Uint8Array, secrets: string[], cluster: string): Uint8Array {
  const out = form.slice();
  const tagAt = form.length - TAG_BYTES;
  if (tagAt < 0) return out;
  const { encrypted, bodyAt } = layout(form);
  if (!encrypted) {
    const key = Keyring.fromSecrets(secrets, cluster).primary.auth;
    out.set(
      createHmac("sha256", key).update(form.subarray(0, tagAt)).digest().subarray(0, 16),
      tagAt,
    );
    return out;
  }
  if (!(bodyAt <= tagAt)) return out;
  const cipher = createCipheriv(CIPHER, encryptKey(secrets, cluster), nonce(form), {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(form.subarray(0, bodyAt), { plaintextLength: tagAt - bodyAt });
  out.set(cipher.update(form.subarray(bodyAt, tagAt)), bodyAt);
  cipher.final();
  out.set(cipher.getAuthTag(), tagAt);
  return out;
}
