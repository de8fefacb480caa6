/**
 * Tests of the datagram codec: every kind round-trips, encrypted and plaintext, and every
 * rejection reason is produced by the datagram built to provoke it and by nothing else.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import {
  type Body,
  type ChatEntry,
  EncodeError,
  Keyring,
  type Kind,
  kindOfCode,
  MAGIC,
  MESSAGE_KINDS,
  peekKind,
  PROTOCOL_VERSION,
  REJECT_REASONS,
  type RejectReason,
  ReplayGuard,
  type Sender,
  WireCodec,
} from "../src/wire/mod.ts";
import { layout, seal, unseal } from "./helpers/wire_seal.ts";

/** A chat log entry, for the chat samples. */
const ENTRY: ChatEntry = {
  seq: 41,
  term: 3,
  kind: "text",
  client: "10.0.0.5:50123~1750000000000",
  cseq: 7,
  from: "carol",
  text: 'hello, ünïcode 🙂 "quoted"',
  ts: 1750000000123,
};

/** One sample body per kind. Whoever registers a kind adds its sample here. */
const SAMPLES: { [K in Kind]?: Extract<Body, { kind: K }> } = {
  "discover": { kind: "discover", nonce: 123456789 },
  "heartbeat": {
    kind: "heartbeat",
    version: "0.1.0",
    priority: 0,
    leader: "s3",
    term: 2,
    view: 5,
    joining: false,
  },
  "welcome": {
    kind: "welcome",
    version: "0.1.0",
    priority: 0,
    leader: "s3",
    term: 2,
    view: 5,
    joining: false,
    members: [{
      id: "s1",
      role: "server",
      host: "10.0.0.1",
      port: 7401,
      incarnation: 1,
      priority: 0,
    }],
  },
  "ping": { kind: "ping", nonce: 7 },
  "ack": { kind: "ack", nonce: 7, target: "s1" },
  "ping-req": { kind: "ping-req", nonce: 7, target: "s1", host: "10.0.0.1", port: 7401 },
  "election": { kind: "election", term: 3, priority: 0 },
  "answer": { kind: "answer", term: 3 },
  "coordinator": { kind: "coordinator", term: 3, priority: 0 },
  "leave": { kind: "leave" },
  "chat-join": {
    kind: "chat-join",
    user: "carol",
    gen: 2,
    resume: 41,
    history: 100,
    runs: [{ seq: 1, term: 1, mark: 4026531840 }, { seq: 30, term: 3, mark: 7 }],
  },
  "chat-welcome": {
    kind: "chat-welcome",
    user: "carol",
    gen: 2,
    start: 41,
    commit: 57,
    leader: "10.0.0.1:7401",
    leaderIncarnation: 1750000000000,
  },
  "chat-refused": { kind: "chat-refused", reason: "name-taken", gen: 2 },
  "chat-post": {
    kind: "chat-post",
    acked: 6,
    items: [{ cseq: 7, text: "hello", ts: 1750000000123 }, {
      cseq: 8,
      text: "",
      ts: 1750000000124,
    }],
  },
  "chat-deliver": {
    kind: "chat-deliver",
    commit: 57,
    acked: 7,
    gen: 2,
    entries: [ENTRY, { ...ENTRY, seq: 42, kind: "join", cseq: 0, text: "s1" }],
    leader: "",
    leaderIncarnation: 0,
  },
  "chat-ack": { kind: "chat-ack", next: 42, gen: 2, split: false, streamed: true },
  "chat-nak": { kind: "chat-nak", from: 42, to: 57 },
  "chat-missed": { kind: "chat-missed", from: 1, to: 40, gen: 2 },
  "chat-slow": { kind: "chat-slow", gen: 2 },
  "chat-leave": { kind: "chat-leave" },
  "chat-forward": {
    kind: "chat-forward",
    items: [{
      client: "10.0.0.5:50123~1750000000000",
      user: "carol",
      acked: 6,
      cseq: 7,
      text: "hello",
      ts: 1750000000123,
    }],
  },
  "chat-busy": { kind: "chat-busy", clients: ["10.0.0.5:50123~1750000000000"] },
  "chat-append": {
    kind: "chat-append",
    term: 3,
    prev: 40,
    prevTerm: 2,
    commit: 40,
    majorityCommit: 38,
    reset: false,
    entries: [ENTRY],
  },
  "chat-append-reply": {
    kind: "chat-append-reply",
    term: 3,
    ok: true,
    match: 41,
    commit: 40,
    reader: 35,
  },
  "chat-gather": { kind: "chat-gather", term: 4 },
  "chat-gather-reply": {
    kind: "chat-gather-reply",
    term: 4,
    ok: true,
    first: 1,
    last: 41,
    lastTerm: 3,
    commit: 40,
    majorityCommit: 40,
    complete: true,
    runs: [{ seq: 1, term: 3, mark: 99 }],
  },
  "chat-fetch": { kind: "chat-fetch", term: 4, from: 41, to: 41 },
  "chat-fetched": { kind: "chat-fetched", term: 4, prev: 40, prevTerm: 2, entries: [ENTRY] },
  "chat-claim": {
    kind: "chat-claim",
    claims: [{ user: "carol", client: "10.0.0.5:50123~1750000000000", gen: 2, op: "hold" }],
  },
  "chat-claim-reply": {
    kind: "chat-claim-reply",
    results: [{
      user: "carol",
      client: "10.0.0.5:50123~1750000000000",
      gen: 2,
      ok: false,
      reason: "name-taken",
    }],
  },
  "chat-committed": {
    kind: "chat-committed",
    items: [{ client: "10.0.0.5:50123~1750000000000", cseq: 7 }],
  },
  "chat-senders-fetch": { kind: "chat-senders-fetch", term: 4, after: "" },
  "chat-senders": {
    kind: "chat-senders",
    term: 4,
    after: "",
    done: true,
    senders: [{ client: "10.0.0.5:50123~1750000000000", cseq: 7 }],
  },
  "chat-split": {
    kind: "chat-split",
    split: true,
    servers: 2,
    of: 4,
    majority: false,
    gen: 2,
  },
  "chat-stream": { kind: "chat-stream", prevTerm: 3, prevMark: 4_000_000_000, entries: [ENTRY] },
  "chat-who": { kind: "chat-who", room: "ops", gen: 7, ask: 2 },
  "chat-past": { kind: "chat-past", room: "ops", before: 40, max: 20, gen: 7, ask: 3 },
  "chat-past-page": { kind: "chat-past-page", gen: 7, ask: 3, entries: [ENTRY], more: true },
  "chat-roster": {
    kind: "chat-roster",
    gen: 7,
    ask: 2,
    at: 41,
    rooms: [{ room: "lobby", users: 3 }, { room: "ops", users: 1 }],
    roomCount: 2,
    room: "ops",
    users: ["carol"],
    total: 1,
  },
  "discover-reply": {
    kind: "discover-reply",
    nonce: 42,
    version: "0.1.0",
    priority: 3,
    uptimeMs: 98765,
    viaGroup: true,
    leader: "10.0.0.9:7401",
    term: 4,
    view: 12,
    viewSize: 3,
    clients: 5,
    rejections: { "unknown-key": 7, "too-old": 1 },
  },
};

const CLUSTER = "wire-test";
const MAX = 1400;
const NOW = 1_750_000_000_000;
const SENDER: Sender = {
  id: "server-ä-1",
  incarnation: 1_749_999_999_123,
  role: "server",
  addr: { host: "192.168.1.20", port: 7401 },
};
const COORDINATOR: Body = { kind: "coordinator", term: 5, priority: 5 };
const SECRETS = ["s3cret"];

/** Both ways a datagram travels: encrypted under a secret, only signed under the cluster key. */
const MODES: { name: string; secrets: string[] }[] = [
  { name: "encrypted", secrets: SECRETS },
  { name: "plaintext", secrets: [] },
];

function codec(
  secrets: string[] = SECRETS,
  cluster = CLUSTER,
  replay?: ReplayGuard,
  receiverId?: string,
): WireCodec {
  return new WireCodec({
    cluster,
    keyring: Keyring.fromSecrets(secrets, cluster),
    maxDatagramBytes: MAX,
    replay,
    receiverId,
  });
}

/** A copy of `d` with `edit` applied to its plaintext form, sealed again as a key holder could. */
function edited(
  d: Uint8Array,
  edit: (copy: Uint8Array, view: DataView) => void,
  secrets = SECRETS,
): Uint8Array {
  const form = unseal(d, secrets, CLUSTER);
  edit(form, new DataView(form.buffer));
  return seal(form, secrets, CLUSTER);
}

/** A copy of `d` whose body is replaced by `body` (raw plaintext bytes), sealed again. */
function withBody(d: Uint8Array, body: Uint8Array, secrets = SECRETS): Uint8Array {
  const form = unseal(d, secrets, CLUSTER);
  const { bodyLenAt, bodyAt, tagAt } = layout(form);
  const out = new Uint8Array(bodyAt + body.length + 16);
  out.set(form.subarray(0, bodyAt));
  new DataView(out.buffer).setUint16(bodyLenAt, body.length);
  out.set(body, bodyAt);
  out.set(form.subarray(tagAt), bodyAt + body.length);
  return seal(out, secrets, CLUSTER);
}

function rejects(c: WireCodec, d: Uint8Array, reason: RejectReason, now = NOW): void {
  const result = c.decode(d, now);
  assert.deepEqual(result, { ok: false, reason });
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("every registered message kind has a round-trip sample", () => {
  const missing = Object.keys(MESSAGE_KINDS).filter((kind) => !(kind in SAMPLES));
  assert.deepEqual(missing, [], `add a sample body to SAMPLES for: ${missing.join(", ")}`);
});

for (const mode of MODES) {
  Deno.test(`${mode.name}: every kind round-trips: decode(encode(x)) gives x back`, () => {
    const tx = codec(mode.secrets);
    const rx = codec(mode.secrets);
    for (const [kind, body] of Object.entries(SAMPLES)) {
      const datagram = tx.encode(SENDER, body, NOW);
      const result = rx.decode(datagram, NOW + 5);
      assert.ok(result.ok, `${kind} rejected: ${JSON.stringify(result)}`);
      assert.deepEqual(result.envelope.body, body);
      assert.deepEqual(result.envelope.sender, SENDER);
      assert.equal(result.envelope.cluster, CLUSTER);
      assert.equal(result.envelope.ts, NOW);
      assert.equal(datagram[3], MESSAGE_KINDS[kind as Kind].code);
    }
    assert.equal(rx.rejections.total(), 0);
  });
}

/** Bodies with every optional field, which the samples above leave out. */
const OPTIONAL: Body[] = [
  { ...SAMPLES["chat-join"]!, owner: "0123456789abcdef0123456789abcdef" },
  {
    kind: "chat-claim",
    claims: [{ ...SAMPLES["chat-claim"]!.claims[0], owner: "0123456789abcdef0123456789abcdef" }],
  },
  { ...SAMPLES["chat-split"]!, partition: true, missing: ["s3", "s4"] },
  {
    ...SAMPLES["discover-reply"]!,
    split: {
      servers: 2,
      of: 3,
      majority: true,
      partition: false,
      missing: [{ id: "s3", host: "10.0.0.3", port: 7401, agoMs: 1200, crashed: true }],
    },
  },
];

for (const mode of MODES) {
  Deno.test(`${mode.name}: optional fields are declared in the kind table and kept`, () => {
    const tx = codec(mode.secrets);
    const rx = codec(mode.secrets);
    for (const body of OPTIONAL) {
      const result = rx.decode(tx.encode(SENDER, body, NOW), NOW + 5);
      assert.ok(result.ok, `${body.kind} rejected: ${JSON.stringify(result)}`);
      assert.deepEqual(result.envelope.body, body);
    }
  });
}

Deno.test("the header starts with magic, version, type, flags and the key id", () => {
  for (const mode of MODES) {
    const keyring = Keyring.fromSecrets(mode.secrets, CLUSTER);
    const d = codec(mode.secrets).encode(SENDER, COORDINATOR, NOW);
    const type = MESSAGE_KINDS.coordinator.code;
    const flags = mode.secrets.length > 0 ? 1 : 0;
    assert.deepEqual([...d.subarray(0, 5)], [...MAGIC, PROTOCOL_VERSION, type, flags], mode.name);
    assert.equal(new DataView(d.buffer).getUint32(5), keyring.primary.id);
    assert.equal(new TextDecoder().decode(d.subarray(10, 10 + d[9])), CLUSTER);
  }
});

Deno.test("with a secret the body is ciphertext; without one it is readable JSON", () => {
  const chat: Body = {
    kind: "chat-post",
    acked: 0,
    items: [{ cseq: 1, text: "meet at 5pm", ts: NOW }],
  };
  const text = new TextEncoder().encode("meet at 5pm");
  const sealed = codec().encode(SENDER, chat, NOW);
  assert.equal(contains(sealed, text), false);
  assert.equal(contains(sealed, new TextEncoder().encode('"cseq"')), false);
  assert.ok(contains(codec([]).encode(SENDER, chat, NOW), text));
  assert.ok(contains(unseal(sealed, SECRETS, CLUSTER), text), "the test helper must decrypt it");
});

Deno.test("with a secret the body is ChaCha20-Poly1305 under the secret's key, the header its associated data", () => {
  const chat: Body = {
    kind: "chat-post",
    acked: 0,
    items: [{ cseq: 1, text: "meet at 5pm", ts: NOW }],
  };
  const sealed = codec().encode(SENDER, chat, NOW);
  const { saltAt, seqAt, bodyAt, tagAt } = layout(sealed);
  const nonce = new Uint8Array([
    ...sealed.subarray(saltAt, saltAt + 8),
    ...sealed.subarray(seqAt, seqAt + 4),
  ]);
  const key = Keyring.fromSecrets(SECRETS, CLUSTER).primary.derive("encrypt");
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  decipher.setAAD(sealed.subarray(0, bodyAt), { plaintextLength: tagAt - bodyAt });
  decipher.setAuthTag(sealed.subarray(tagAt));
  const body = decipher.update(sealed.subarray(bodyAt, tagAt));
  decipher.final(); // throws unless the tag authenticates header and body
  const { kind: _, ...fields } = chat;
  assert.deepEqual(JSON.parse(new TextDecoder().decode(body)), fields);
});

Deno.test("the AEAD nonce never repeats: a random salt per codec, then the seq", () => {
  const a = codec();
  const b = codec();
  const nonceOf = (d: Uint8Array) => {
    const { saltAt, seqAt } = layout(d);
    return [...d.subarray(saltAt, saltAt + 8), ...d.subarray(seqAt, seqAt + 4)].join(",");
  };
  const nonces = new Set<string>();
  for (let i = 0; i < 100; i++) {
    nonces.add(nonceOf(a.encode(SENDER, COORDINATOR, NOW)));
    nonces.add(nonceOf(b.encode(SENDER, COORDINATOR, NOW)));
  }
  assert.equal(nonces.size, 200);
  const first = a.encode(SENDER, COORDINATOR, NOW);
  const second = a.encode(SENDER, COORDINATOR, NOW);
  const { saltAt } = layout(first);
  assert.deepEqual(first.subarray(saltAt, saltAt + 8), second.subarray(saltAt, saltAt + 8));
});

Deno.test("encode numbers datagrams from 1, one more each time", () => {
  const tx = codec();
  const rx = codec();
  const seqs = [0, 1, 2].map(() => {
    const result = rx.decode(tx.encode(SENDER, COORDINATOR, NOW), NOW);
    assert.ok(result.ok);
    return result.envelope.seq;
  });
  assert.deepEqual(seqs, [1, 2, 3]);
});

Deno.test("encode refuses what no receiver would accept, naming the problem", () => {
  const tx = codec();
  const bad: [Sender, Body, number, RegExp][] = [
    [{ ...SENDER, id: "" }, COORDINATOR, NOW, /sender id/],
    [{ ...SENDER, id: "x".repeat(129) }, COORDINATOR, NOW, /sender id/],
    [{ ...SENDER, id: "a\x1b[2Jb" }, COORDINATOR, NOW, /sender id/],
    [{ ...SENDER, id: "two words" }, COORDINATOR, NOW, /sender id/],
    [{ ...SENDER, incarnation: -1 }, COORDINATOR, NOW, /incarnation/],
    [{ ...SENDER, incarnation: 1.5 }, COORDINATOR, NOW, /incarnation/],
    [SENDER, COORDINATOR, NaN, /timestamp/],
    [{ ...SENDER, role: "admin" as Sender["role"] }, COORDINATOR, NOW, /role/],
    [{ ...SENDER, addr: { host: "", port: 1 } }, COORDINATOR, NOW, /reply host/],
    [{ ...SENDER, addr: { host: "h", port: 0 } }, COORDINATOR, NOW, /reply port/],
    [{ ...SENDER, addr: { host: "h", port: 65536 } }, COORDINATOR, NOW, /reply port/],
    [SENDER, { kind: "coordinator", term: 1.5, priority: 1 }, NOW, /invalid "coordinator"/],
  ];
  bad.push([SENDER, { kind: "no-such-kind" } as unknown as Body, NOW, /not in MESSAGE_KINDS/]);
  for (const [sender, body, now, message] of bad) {
    assert.throws(
      () => tx.encode(sender, body, now),
      (e) => e instanceof EncodeError && message.test(e.message),
    );
  }
  assert.throws(() => tx.encode(SENDER, COORDINATOR, NOW, "x".repeat(129)), /receiver id/);
  assert.throws(
    () =>
      new WireCodec({ cluster: "", keyring: Keyring.fromSecrets([], ""), maxDatagramBytes: MAX }),
    EncodeError,
  );
  const tiny = new WireCodec({
    cluster: CLUSTER,
    keyring: Keyring.fromSecrets([], CLUSTER),
    maxDatagramBytes: 80,
  });
  assert.throws(() => tiny.encode(SENDER, COORDINATOR, NOW), /exceeds maxDatagramBytes 80/);
});

Deno.test("the smallest possible datagram decodes and the largest allowed one is accepted", () => {
  for (const mode of MODES) {
    const c = new WireCodec({
      cluster: "c",
      keyring: Keyring.fromSecrets(mode.secrets, "c"),
      maxDatagramBytes: MAX,
    });
    const small = c.encode(
      { id: "a", incarnation: 0, role: "probe", addr: { host: "h", port: 1 } },
      {
        kind: "discover",
        nonce: 0,
      },
      0,
    );
    assert.ok(c.decode(small, 0).ok, mode.name);
    const exact = new WireCodec({
      cluster: CLUSTER,
      keyring: Keyring.fromSecrets(mode.secrets, CLUSTER),
      receiverId: "r".repeat(128),
      maxDatagramBytes:
        codec(mode.secrets).encode(SENDER, COORDINATOR, NOW, "r".repeat(128)).length,
    });
    assert.ok(exact.decode(exact.encode(SENDER, COORDINATOR, NOW, "r".repeat(128)), NOW).ok);
  }
});

Deno.test("size, magic and version are checked first", () => {
  const c = codec();
  const good = c.encode(SENDER, COORDINATOR, NOW);
  rejects(c, new Uint8Array(MAX + 1), "too-large");
  rejects(c, new Uint8Array(0), "malformed");
  rejects(c, good.subarray(0, 54), "malformed");
  rejects(c, edited(good, (d) => (d[0] = 0xd4)), "bad-magic");
  rejects(c, edited(good, (d) => (d[1] = 0x00)), "bad-magic");
  rejects(c, edited(good, (d) => (d[2] = PROTOCOL_VERSION + 1)), "bad-version");
});

for (const mode of MODES) {
  Deno.test(`${mode.name}: header fields out of range are malformed even when sealed`, () => {
    const c = codec(mode.secrets, CLUSTER, undefined, "r");
    const good = c.encode(SENDER, COORDINATOR, NOW, "r");
    assert.ok(c.decode(good, NOW).ok);
    const o = layout(good);
    let unknownCode = 0;
    while (kindOfCode(unknownCode) !== undefined) unknownCode++;
    const edit = (fn: (d: Uint8Array, v: DataView) => void) => edited(good, fn, mode.secrets);
    const cases: [string, Uint8Array][] = [
      ["unknown type code", edit((d) => (d[3] = unknownCode))],
      ["encrypted flag flipped", edit((d) => (d[4] ^= 1))],
      ["unknown flag bit 1", edit((d) => (d[4] |= 2))],
      ["unknown flag bit 7", edit((d) => (d[4] |= 0x80))],
      ["negative incarnation", edit((_, v) => v.setFloat64(o.incarnationAt, -1))],
      ["fractional incarnation", edit((_, v) => v.setFloat64(o.incarnationAt, 0.5))],
      ["NaN incarnation", edit((_, v) => v.setFloat64(o.incarnationAt, NaN))],
      ["unsafe incarnation", edit((_, v) => v.setFloat64(o.incarnationAt, 2 ** 53))],
      ["infinite ts", edit((_, v) => v.setFloat64(o.incarnationAt + 12, Infinity))],
      ["NaN ts", edit((_, v) => v.setFloat64(o.incarnationAt + 12, NaN))],
      ["role out of range", edit((d) => (d[o.roleAt] = 3))],
      ["port 0", edit((_, v) => v.setUint16(o.portAt, 0))],
      ["invalid UTF-8 in sender id", edit((d) => (d[o.idLenAt + 1] = 0xff))],
      ["invalid UTF-8 in host", edit((d) => (d[o.hostLenAt + 1] = 0xc3))],
      ["invalid UTF-8 in receiver", edit((d) => (d[o.receiverLenAt + 1] = 0xff))],
      ["invalid UTF-8 in cluster", edit((d) => (d[10] = 0x80))],
      ["body length past the end", edit((_, v) => v.setUint16(o.bodyLenAt, 0xffff))],
      ["body length short of the tag", edit((_, v) => v.setUint16(o.bodyLenAt, 1))],
      ["empty sender id", edit((d) => (d[o.idLenAt] = 0))],
      ["host length past the end", edit((d) => (d[o.hostLenAt] = 0xff))],
      ["receiver length past the end", edit((d) => (d[o.receiverLenAt] = 0xff))],
    ];
    for (const [name, datagram] of cases) {
      assert.deepEqual(c.decode(datagram, NOW), { ok: false, reason: "malformed" }, name);
    }
  });
}

Deno.test("a sender or receiver id of 129 bytes is malformed", () => {
  for (const field of ["idLenAt", "receiverLenAt"] as const) {
    const c = codec(SECRETS, CLUSTER, undefined, "r".repeat(128));
    const good = c.encode({ ...SENDER, id: "x".repeat(128) }, COORDINATOR, NOW, "r".repeat(128));
    assert.ok(c.decode(good, NOW).ok);
    const form = unseal(good, SECRETS, CLUSTER);
    const at = layout(form)[field];
    const longer = new Uint8Array(form.length + 1);
    longer.set(form.subarray(0, at + 1));
    longer[at] = 129;
    longer[at + 1] = 0x78;
    longer.set(form.subarray(at + 1), at + 2);
    rejects(c, seal(longer, SECRETS, CLUSTER), "malformed");
  }
});

Deno.test("a sender id or reply host with a control character is malformed, even when signed", () => {
  const c = codec();
  const good = c.encode(
    { ...SENDER, id: "aXb", addr: { host: "hYst", port: 1 } },
    COORDINATOR,
    NOW,
  );
  assert.ok(c.decode(good, NOW).ok);
  for (const [field, unsafe] of [["aXb", 0x1b], ["hYst", 0x07], ["aXb", 0x20]] as const) {
    const forged = edited(good, (form) => {
      const at = new TextDecoder("latin1").decode(form).indexOf(field);
      form[at + 1] = unsafe;
    });
    rejects(codec(), forged, "malformed");
  }
});

Deno.test("another cluster's datagrams are wrong-cluster, even with the same secret", () => {
  const tx = codec(["shared"], "blue");
  rejects(codec(["shared"], "green"), tx.encode(SENDER, COORDINATOR, NOW), "wrong-cluster");
});

for (const mode of MODES) {
  Deno.test(`${mode.name}: a key the receiver lacks is unknown-key; any altered byte is bad-tag`, () => {
    const good = codec(mode.secrets).encode(SENDER, COORDINATOR, NOW, "r");
    rejects(codec(["other"]), good, "unknown-key");
    const c = codec(mode.secrets, CLUSTER, undefined, "r");
    assert.ok(c.decode(good, NOW).ok);
    const o = layout(good);
    const flips: [string, number][] = [
      ["tag", good.length - 1],
      ["body", o.bodyAt + 2],
      ["seq", o.seqAt + 3],
      ["ts", o.incarnationAt + 19],
      ["role", o.roleAt],
      ["sender id", o.idLenAt + 1],
      ["receiver", o.receiverLenAt + 1],
    ];
    if (o.encrypted) flips.push(["salt", o.saltAt]);
    for (const [name, at] of flips) {
      const flipped = good.slice();
      flipped[at] ^= 1;
      assert.deepEqual(c.decode(flipped, NOW), { ok: false, reason: "bad-tag" }, name);
    }
  });

  Deno.test(`${mode.name}: a sealed body that is not a valid body of its kind is malformed`, () => {
    const c = codec(mode.secrets);
    const good = c.encode(SENDER, COORDINATOR, NOW);
    const text = (s: string) => new TextEncoder().encode(s);
    const bodies: [string, Uint8Array][] = [
      ["empty", text("")],
      ["not JSON", text("{version:1}")],
      ["an array", text("[1,2]")],
      ["null", text("null")],
      ["a string", text('"coordinator"')],
      ["a number", text("7")],
      ["a kind key", text('{"kind":"coordinator","term":1,"priority":1}')],
      ["a failing validator", text('{"term":"1","priority":1}')],
      ["a missing field", text('{"term":1}')],
      ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d])],
    ];
    const valid = withBody(good, text('{"term":1,"priority":1}'), mode.secrets);
    assert.ok(c.decode(valid, NOW).ok);
    for (const [name, body] of bodies) {
      const result = c.decode(withBody(good, body, mode.secrets), NOW);
      assert.deepEqual(result, { ok: false, reason: "malformed" }, name);
    }
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    rejects(c, trailing, "malformed");
  });
}

Deno.test("a __proto__ key in a body stays data and pollutes nothing", () => {
  const c = codec();
  const good = c.encode(SENDER, COORDINATOR, NOW);
  const json = '{"term":1,"priority":1,"__proto__":{"polluted":true}}';
  const result = c.decode(withBody(good, new TextEncoder().encode(json)), NOW);
  assert.ok(result.ok);
  assert.equal(Object.getPrototypeOf(result.envelope.body), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("a datagram bound to one receiver is misdirected at any other; unbound ones are for all", () => {
  for (const mode of MODES) {
    const tx = codec(mode.secrets);
    const b = codec(mode.secrets, CLUSTER, undefined, "b");
    const forB = tx.encode(SENDER, COORDINATOR, NOW, "b");
    assert.ok(b.decode(forB, NOW).ok, mode.name);
    rejects(codec(mode.secrets, CLUSTER, undefined, "a"), forB, "misdirected");
    rejects(codec(mode.secrets, CLUSTER, undefined, "bb"), forB, "misdirected");
    rejects(codec(mode.secrets), forB, "misdirected");
    const unbound = tx.encode(SENDER, COORDINATOR, NOW);
    assert.ok(codec(mode.secrets, CLUSTER, undefined, "a").decode(unbound, NOW).ok);
    assert.ok(codec(mode.secrets).decode(unbound, NOW).ok);
  }
});

Deno.test("a misdirected copy does not touch the receiver's replay window", () => {
  const guard = new ReplayGuard({ window: 64, maxSenders: 16, maxClockSkewMs: 1000 });
  const a = codec(SECRETS, CLUSTER, guard, "a");
  rejects(a, codec().encode(SENDER, COORDINATOR, NOW, "b"), "misdirected");
  assert.equal(guard.size, 0);
});

Deno.test("with a replay guard, a repeated datagram is replayed and a stale one too-old", () => {
  for (const mode of MODES) {
    const guard = new ReplayGuard({ window: 64, maxSenders: 16, maxClockSkewMs: 1000 });
    const rx = codec(mode.secrets, CLUSTER, guard);
    const tx = codec(mode.secrets);
    const first = tx.encode(SENDER, COORDINATOR, NOW);
    assert.ok(rx.decode(first, NOW).ok, mode.name);
    rejects(rx, first, "replayed");
    rejects(rx, first, "too-old", NOW + 5000);
    rejects(rx, tx.encode(SENDER, COORDINATOR, NOW - 5000), "too-old");
    assert.ok(rx.decode(tx.encode(SENDER, COORDINATOR, NOW), NOW).ok);
  }
});

Deno.test("a forged datagram does not touch the replay window", () => {
  const guard = new ReplayGuard({ window: 64, maxSenders: 16, maxClockSkewMs: 1000 });
  const rx = codec(SECRETS, CLUSTER, guard);
  const genuine = codec().encode(SENDER, COORDINATOR, NOW);
  const forged = genuine.slice();
  forged[forged.length - 1] ^= 1;
  rejects(rx, forged, "bad-tag");
  assert.equal(guard.size, 0);
  assert.ok(rx.decode(genuine, NOW).ok);
});

Deno.test("decode counts every rejection by reason", () => {
  const guard = new ReplayGuard({ window: 64, maxSenders: 16, maxClockSkewMs: 1000 });
  const rx = codec(SECRETS, CLUSTER, guard, "rx");
  const good = codec().encode(SENDER, COORDINATOR, NOW);
  const tampered = good.slice();
  tampered[good.length - 1] ^= 1;
  const inputs: Uint8Array[] = [
    new Uint8Array(MAX + 1),
    edited(good, (d) => (d[0] = 0)),
    edited(good, (d) => (d[2] = 9)),
    new Uint8Array(3),
    codec(SECRETS, "elsewhere").encode(SENDER, COORDINATOR, NOW),
    codec(["other"]).encode(SENDER, COORDINATOR, NOW),
    tampered,
    codec().encode(SENDER, COORDINATOR, NOW, "someone-else"),
    good,
    good,
    codec().encode(SENDER, COORDINATOR, 0),
  ];
  for (const input of inputs) rx.decode(input, NOW);
  const expected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 1]));
  assert.deepEqual(rx.rejections.snapshot(), expected);
  assert.equal(rx.rejections.total(), REJECT_REASONS.length);
});

Deno.test("peekKind reads the kind a datagram's header names, and nothing else", () => {
  for (const mode of MODES) {
    const d = codec(mode.secrets).encode(SENDER, COORDINATOR, NOW);
    assert.equal(peekKind(d), "coordinator", mode.name);
    assert.equal(peekKind(d.subarray(0, 10)), undefined, "too short");
    const other = d.slice();
    other[2] = PROTOCOL_VERSION + 1;
    assert.equal(peekKind(other), undefined, "another version");
    const garbage = d.slice();
    garbage[0] = 0;
    assert.equal(peekKind(garbage), undefined, "not this protocol");
  }
});
