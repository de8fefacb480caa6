/**
 * The byte layout of a dsys datagram, its authentication and its encryption.
 *
 * This module owns turning an {@linkcode Envelope} into bytes and back: framing, the HMAC tag or
 * the ChaCha20-Poly1305 sealing, the receiver binding, the order of the checks and the rejection
 * counters. What a body means and which bodies are valid belongs to `messages.ts`; keys to
 * `keyring.ts`; replay windows to `replay.ts`. Nothing here does I/O or reads a clock: the
 * caller passes the wall-clock time in.
 *
 * @module
 */

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { declaredBody } from "./declared.ts";
import type { Keyring } from "./keyring.ts";
import {
  type Body,
  type Envelope,
  isNum,
  isTerminalSafe,
  type Kind,
  kindOfCode,
  type KindSpec,
  MESSAGE_KINDS,
  ROLES,
  type Sender,
  STATIC_LIMITS,
} from "./messages.ts";
import { RejectionCounters, type RejectReason } from "./rejections.ts";
import type { ReplayGuard } from "./replay.ts";

/**
 * Version of the byte layout below and of the message bodies; a receiver rejects any other as
 * "bad-version" (3: the leader's multicast stream to clients and `streamed` in client acks; 4:
 * servers name their leader to their clients and every server-to-client notice carries the
 * client's attachment number, so that a client can ignore what its own server did not send; 5:
 * ChaCha20-Poly1305 instead of AES-256-GCM with a secret).
 */
export const PROTOCOL_VERSION = 5;

/** The first two bytes of every dsys datagram. */
export const MAGIC: readonly [number, number] = [0xd5, 0x59];

/*
 * Byte layout of a datagram, big-endian throughout:
 *
 * | field       | bytes       | rule on decode                                                  |
 * |-------------|-------------|-----------------------------------------------------------------|
 * | magic       | 2           | 0xD5 0x59, else "bad-magic"                                     |
 * | version     | u8          | PROTOCOL_VERSION, else "bad-version"                            |
 * | type        | u8          | the body kind's code in MESSAGE_KINDS                           |
 * | flags       | u8          | bit 0 "encrypted", set exactly when the key encrypts; no other  |
 * | key id      | u32         | id of the key that made the tag, else "unknown-key"             |
 * | cluster     | u8 + UTF-8  | the receiver's cluster name, else "wrong-cluster"               |
 * | sender id   | u8 + UTF-8  | 1-128 bytes                                                     |
 * | incarnation | f64         | a whole number from 0 to the receiver's clock plus the skew     |
 * |             |             | bound, else "too-old" (replay guard; without one, to 8.64e15)   |
 * | seq         | u32         | per codec instance, from 1                                      |
 * | ts          | f64         | sender's wall clock (ms since the epoch), finite                |
 * | role        | u8          | index in ROLES                                                  |
 * | reply host  | u8 + UTF-8  | 1-255 bytes                                                     |
 * | reply port  | u16         | 1-65535                                                         |
 * | receiver    | u8 + UTF-8  | 0-128 bytes: empty (anyone), or the receiver's id, else         |
 * |             |             | "misdirected"                                                   |
 * | nonce salt  | 8           | only when encrypted: the AEAD nonce is salt followed by seq     |
 * | body        | u16 + bytes | JSON object of the body without `kind`, valid for the kind;     |
 * |             |             | when encrypted, its ChaCha20-Poly1305 ciphertext (same length)  |
 * | tag         | 16          | plaintext: HMAC-SHA256 over every byte above, truncated;        |
 * |             |             | encrypted: the Poly1305 tag, every byte before the body being   |
 * |             |             | associated data; else "bad-tag"                                 |
 *
 * Nothing may follow the tag. Unless named otherwise, a violated rule is "malformed".
 * The HMAC tag is its leftmost 128 bits: RFC 2104 §5 allows truncating to at least half the
 * hash length, and 128 bits leave a forger one chance in 2^128 per try.
 *
 * Encryption: a key derived from a real secret encrypts every body with ChaCha20-Poly1305 (RFC
 * 8439), whose tag then replaces the HMAC (one pass over the datagram instead of two) and
 * authenticates the header as associated data. ChaCha20-Poly1305 rather than AES-256-GCM: both
 * runtimes give the same bytes, Node (OpenSSL) seals either in about the same time, and Deno's
 * `node:crypto` has no hardware AES, so there AES-256-GCM took 5 times as long (about 50 µs
 * against 10 µs to open an 8 KB datagram), the largest single cost of a Deno client taking the
 * leader's stream. The 96-bit nonce is a 64-bit salt drawn at random once per codec,
 * then the 32-bit seq: a codec never reuses a seq (encode refuses after 2^32 - 1), so a nonce
 * repeats under one key only if two codecs draw the same salt, with probability below
 * n^2 / 2^65 for n codecs ever started with that key (under 2^-25 for a million restarts).
 * Nonces drawn wholly at random would instead cap a key at about 2^32 datagrams cluster-wide
 * (the birthday bound of 96 bits, as NIST SP 800-38D §8.3 sets it for GCM), which a busy cluster
 * reaches in days. The header (who sent it, the kind,
 * the receiver) stays readable; only the body is private. The cluster-name key of a cluster
 * without a secret does not encrypt: anyone can derive it, so it only authenticates.
 *
 * Binding: a unicast datagram names its receiver's id, so a copy replayed to another process
 * (which never saw that sender's seq) is "misdirected", not accepted. An empty receiver (group
 * traffic, unicast to an address whose id is not known yet) is accepted by anyone; such copies
 * are caught by the replay window, or by the clock-skew bound where no window exists yet.
 */
const TAG_BYTES = 16;
const SALT_BYTES = 8;
const NONCE_BYTES = SALT_BYTES + 4;
const KEY_ID_AT = 5;
const CLUSTER_AT = 9;
const FLAG_ENCRYPTED = 1;
const MAX_SENDER_ID_BYTES = 128;
const MAX_SHORT_FIELD_BYTES = 0xff;
const MAX_BODY_BYTES = 0xffff;
const MAX_SEQ = 0xffffffff;
const CIPHER = "chacha20-poly1305";
/**
 * Every fixed-size field, plus a 1-byte sender id and reply host, an empty cluster, receiver and
 * body, and no salt.
 */
const MIN_DATAGRAM_BYTES = CLUSTER_AT + 1 + 2 + 8 + 4 + 8 + 1 + 2 + 2 + 1 + 2 + TAG_BYTES;

/** What a codec needs: who it speaks for, which keys, and how large a datagram may be. */
export interface CodecOptions {
  /** Cluster name written into and required of every datagram. */
  cluster: string;
  /** Keys to sign with (the primary) and accept (any). */
  keyring: Keyring;
  /**
   * Id of the process that decodes with this codec: a datagram bound to another receiver is
   * "misdirected". Without it, every datagram bound to some receiver is.
   */
  receiverId?: string;
  /** Largest datagram encoded or accepted (bytes). */
  maxDatagramBytes: number;
  /** Replay protection for decoded datagrams; none when absent. */
  replay?: ReplayGuard;
}

/**
 * The kind a datagram's header names, read before anything is checked (so not to be trusted):
 * lets a receiver drop kinds it never handles without authenticating and parsing them. Undefined
 * for anything that is not a datagram of this protocol version.
 */
export function peekKind(data: Uint8Array): Kind | undefined {
  if (data.byteLength < MIN_DATAGRAM_BYTES || data[0] !== MAGIC[0] || data[1] !== MAGIC[1]) {
    return undefined;
  }
  return data[2] === PROTOCOL_VERSION ? kindOfCode(data[3]) : undefined;
}

/** The outcome of {@linkcode WireCodec.decode}. */
export type DecodeResult = { ok: true; envelope: Envelope } | { ok: false; reason: RejectReason };

/** Thrown by {@linkcode WireCodec.encode} for a message that cannot be sent: a bug, not input. */
export class EncodeError extends Error {
  /** Creates an error that says which field is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encodes and authenticates outgoing datagrams; checks and decodes incoming ones. */
export class WireCodec {
  /** How many incoming datagrams were rejected, by reason. */
  readonly rejections: RejectionCounters = new RejectionCounters();
  #cluster: string;
  #clusterBytes: Uint8Array;
  #keyring: Keyring;
  #maxDatagramBytes: number;
  #replay: ReplayGuard | undefined;
  #receiverId: Uint8Array;
  #salt: Uint8Array = randomBytes(SALT_BYTES);
  #nonce = new Uint8Array(NONCE_BYTES);
  #seq = 0;

  /** Creates a codec; throws an {@linkcode EncodeError} for a cluster name that cannot be sent. */
  constructor(opts: CodecOptions) {
    this.#cluster = opts.cluster;
    this.#clusterBytes = encoder.encode(opts.cluster);
    if (this.#clusterBytes.length < 1 || this.#clusterBytes.length > MAX_SHORT_FIELD_BYTES) {
      throw new EncodeError(`cluster name "${opts.cluster}": must be 1-255 bytes of UTF-8`);
    }
    this.#keyring = opts.keyring;
    this.#maxDatagramBytes = opts.maxDatagramBytes;
    this.#replay = opts.replay;
    this.#receiverId = encoder.encode(opts.receiverId ?? "");
  }

  /**
   * Encodes one datagram with the next sequence number, encrypted and sealed with the keyring's
   * primary key (or only signed, for the cluster-name key). `to` binds it to the id of its one
   * receiver; empty (the default) lets any receiver accept it. Throws an {@linkcode EncodeError}
   * for an invalid sender, receiver or body, for a datagram larger than `maxDatagramBytes`, and
   * once the 2^32 - 1 sequence numbers of this codec are used up.
   */
  encode(sender: Sender, body: Body, nowWallMs: number, to = ""): Uint8Array {
    const { kind, ...fields } = body;
    const spec: KindSpec | undefined = MESSAGE_KINDS[kind];
    if (!spec) throw new EncodeError(`message kind "${kind}" is not in MESSAGE_KINDS`);
    if (!spec.validate(fields)) throw new EncodeError(`invalid "${kind}" body: ${show(fields)}`);
    const id = encoder.encode(sender.id);
    if (id.length < 1 || id.length > MAX_SENDER_ID_BYTES || !isTerminalSafe(sender.id)) {
      throw new EncodeError(
        `sender id "${sender.id}": must be 1-128 bytes of UTF-8 without spaces or controls`,
      );
    }
    const receiver = encoder.encode(to);
    if (receiver.length > MAX_SENDER_ID_BYTES) {
      throw new EncodeError(`receiver id "${to}": must be 0-128 bytes of UTF-8`);
    }
    if (!isIncarnation(sender.incarnation)) {
      throw new EncodeError(`incarnation ${sender.incarnation}: must be a safe integer >= 0`);
    }
    if (!Number.isFinite(nowWallMs)) throw new EncodeError(`timestamp ${nowWallMs}: not finite`);
    const role = ROLES.indexOf(sender.role);
    if (role < 0) throw new EncodeError(`role "${sender.role}": not one of ${ROLES.join(", ")}`);
    const host = encoder.encode(sender.addr.host);
    if (host.length < 1 || host.length > MAX_SHORT_FIELD_BYTES) {
      throw new EncodeError(`reply host "${sender.addr.host}": must be 1-255 bytes of UTF-8`);
    }
    if (!isPort(sender.addr.port)) {
      throw new EncodeError(`reply port ${sender.addr.port}: must be a whole number 1-65535`);
    }
    const key = this.#keyring.primary;
    const salt = key.encrypt ? SALT_BYTES : 0;
    const json = encoder.encode(JSON.stringify(fields));
    const size = MIN_DATAGRAM_BYTES - 2 + this.#clusterBytes.length + id.length + host.length +
      receiver.length + salt + json.length;
    if (json.length > MAX_BODY_BYTES) {
      throw new EncodeError(`"${kind}" body of ${json.length} bytes exceeds ${MAX_BODY_BYTES}`);
    }
    if (size > this.#maxDatagramBytes) {
      throw new EncodeError(
        `"${kind}" datagram of ${size} bytes exceeds maxDatagramBytes ${this.#maxDatagramBytes}`,
      );
    }
    if (this.#seq >= MAX_SEQ) {
      throw new EncodeError("sequence numbers used up: restart with a higher incarnation");
    }
    const seq = ++this.#seq;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    out[2] = PROTOCOL_VERSION;
    out[3] = spec.code;
    out[4] = key.encrypt ? FLAG_ENCRYPTED : 0;
    view.setUint32(KEY_ID_AT, key.id);
    let at = putShort(out, CLUSTER_AT, this.#clusterBytes);
    at = putShort(out, at, id);
    view.setFloat64(at, sender.incarnation);
    view.setUint32(at + 8, seq);
    view.setFloat64(at + 12, nowWallMs);
    out[at + 20] = role;
    at = putShort(out, at + 21, host);
    view.setUint16(at, sender.addr.port);
    at = putShort(out, at + 2, receiver);
    if (key.encrypt) {
      out.set(this.#salt, at);
      at += SALT_BYTES;
    }
    view.setUint16(at, json.length);
    const bodyAt = at + 2;
    const tagAt = bodyAt + json.length;
    if (key.encrypt) {
      const cipher = createCipheriv(CIPHER, key.encrypt, this.#nonceOf(this.#salt, seq), {
        authTagLength: TAG_BYTES,
      });
      cipher.setAAD(out.subarray(0, bodyAt), { plaintextLength: json.length });
      out.set(cipher.update(json), bodyAt);
      cipher.final();
      out.set(cipher.getAuthTag(), tagAt);
    } else {
      out.set(json, bodyAt);
      out.set(this.#hmac(key.auth, out.subarray(0, tagAt)), tagAt);
    }
    return out;
  }

  /**
   * Checks, decrypts and decodes one datagram; never throws. Every rejection is counted in
   * {@linkcode WireCodec.rejections}. The replay guard, if any, sees only authentic datagrams
   * meant for this receiver.
   */
  decode(data: Uint8Array, nowWallMs: number): DecodeResult {
    const n = data.byteLength;
    if (n > this.#maxDatagramBytes) return this.#reject("too-large");
    if (n < MIN_DATAGRAM_BYTES) return this.#reject("malformed");
    if (data[0] !== MAGIC[0] || data[1] !== MAGIC[1]) return this.#reject("bad-magic");
    if (data[2] !== PROTOCOL_VERSION) return this.#reject("bad-version");
    const kind = kindOfCode(data[3]);
    if (kind === undefined || (data[4] & ~FLAG_ENCRYPTED) !== 0) return this.#reject("malformed");
    const encrypted = data[4] === FLAG_ENCRYPTED;

    const r = new Reader(data, KEY_ID_AT);
    const keyId = r.u32();
    const cluster = r.short();
    const idBytes = r.short();
    const incarnation = r.f64();
    const seq = r.u32();
    const ts = r.f64();
    const role = ROLES[r.u8()];
    const hostBytes = r.short();
    const port = r.u16();
    const receiver = r.short();
    const salt = encrypted ? r.bytes(SALT_BYTES) : undefined;
    const bodyLength = r.u16();
    const bodyAt = r.at;
    const body = r.bytes(bodyLength);
    const tagAt = r.at;
    const tag = r.bytes(TAG_BYTES);
    if (
      !cluster || !idBytes || !hostBytes || !receiver || !body || !tag || role === undefined ||
      (encrypted && !salt) || idBytes.length < 1 || idBytes.length > MAX_SENDER_ID_BYTES ||
      hostBytes.length < 1 || receiver.length > MAX_SENDER_ID_BYTES ||
      !isIncarnation(incarnation) || seq < 0 || !Number.isFinite(ts) || !isPort(port) ||
      r.at !== n
    ) {
      return this.#reject("malformed");
    }
    const id = utf8(idBytes);
    const host = utf8(hostBytes);
    if (
      id === undefined || host === undefined || utf8(receiver) === undefined ||
      !isTerminalSafe(id) || !isTerminalSafe(host)
    ) {
      return this.#reject("malformed");
    }
    if (!sameBytes(cluster, this.#clusterBytes)) {
      return this.#reject(utf8(cluster) === undefined ? "malformed" : "wrong-cluster");
    }
    const key = this.#keyring.byId(keyId);
    if (!key) return this.#reject("unknown-key");
    if (encrypted !== (key.encrypt !== undefined)) return this.#reject("malformed");
    let json: Uint8Array | undefined = body;
    if (key.encrypt && salt) {
      json = this.#open(key.encrypt, this.#nonceOf(salt, seq), data.subarray(0, bodyAt), body, tag);
      if (!json) return this.#reject("bad-tag");
    } else if (!timingSafeEqual(this.#hmac(key.auth, data.subarray(0, tagAt)), tag)) {
      return this.#reject("bad-tag");
    }

    const parsed = parseFields(json);
    const limits = this.#replay?.limits(nowWallMs) ?? STATIC_LIMITS;
    const spec = MESSAGE_KINDS[kind];
    const fields = parsed && declaredBody(parsed, spec, limits);
    if (!fields) return this.#reject("malformed");
    if (receiver.length > 0 && !sameBytes(receiver, this.#receiverId)) {
      return this.#reject("misdirected");
    }
    const verdict = this.#replay?.check(id, incarnation, seq, ts, nowWallMs) ?? "ok";
    if (verdict !== "ok") return this.#reject(verdict);
    const sender: Sender = { id, incarnation, role, addr: { host, port } };
    const decoded = { kind, ...fields } as Body;
    return { ok: true, envelope: { cluster: this.#cluster, sender, seq, ts, body: decoded } };
  }

  #hmac(key: Uint8Array, signed: Uint8Array): Uint8Array {
    return createHmac("sha256", key).update(signed).digest().subarray(0, TAG_BYTES);
  }

  /** The AEAD nonce: the sender codec's salt, then the seq. Reuses one buffer (used at once). */
  #nonceOf(salt: Uint8Array, seq: number): Uint8Array {
    this.#nonce.set(salt, 0);
    new DataView(this.#nonce.buffer).setUint32(SALT_BYTES, seq);
    return this.#nonce;
  }

  /** Decrypts and verifies a body; undefined when the tag does not match. */
  #open(
    key: Uint8Array,
    nonce: Uint8Array,
    header: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array | undefined {
    try {
      const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(header, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(tag);
      const plain = decipher.update(ciphertext);
      decipher.final();
      return plain;
    } catch {
      return undefined;
    }
  }

  #reject(reason: RejectReason): DecodeResult {
    this.rejections.count(reason);
    return { ok: false, reason };
  }
}

/**
 * Reads big-endian fields from untrusted bytes. A read past the end yields a value that every
 * check rejects (-1, NaN or undefined) and leaves the cursor past the end, so later reads fail too.
 */
class Reader {
  at: number;
  #bytes: Uint8Array;
  #view: DataView;

  constructor(bytes: Uint8Array, at: number) {
    this.at = at;
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(count: number): number {
    const at = this.at;
    this.at = count < 0 ? Infinity : at + count;
    return this.at <= this.#bytes.length ? at : -1;
  }

  u8(): number {
    const at = this.#take(1);
    return at < 0 ? -1 : this.#bytes[at];
  }

  u16(): number {
    const at = this.#take(2);
    return at < 0 ? -1 : this.#view.getUint16(at);
  }

  u32(): number {
    const at = this.#take(4);
    return at < 0 ? -1 : this.#view.getUint32(at);
  }

  f64(): number {
    const at = this.#take(8);
    return at < 0 ? NaN : this.#view.getFloat64(at);
  }

  bytes(count: number): Uint8Array | undefined {
    const at = this.#take(count);
    return at < 0 ? undefined : this.#bytes.subarray(at, at + count);
  }

  /** A u8 length followed by that many bytes. */
  short(): Uint8Array | undefined {
    return this.bytes(this.u8());
  }
}

function putShort(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out[at] = bytes.length;
  out.set(bytes, at + 1);
  return at + 1 + bytes.length;
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Parses a body: valid UTF-8, valid JSON, a plain object, and no `kind` key of its own. */
function parseFields(json: Uint8Array): Record<string, unknown> | undefined {
  const text = utf8(json);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, "kind") ? undefined : value as Record<string, unknown>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isIncarnation(value: number): boolean {
  return isNum(value, 0, STATIC_LIMITS.maxIncarnation);
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 0xffff;
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
}
