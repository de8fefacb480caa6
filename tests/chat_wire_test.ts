/**
 * The chat message kinds admit only bounded, well-typed bodies: hostile datagrams with long
 * strings, long lists, negative or fractional numbers, unknown enum values or non-contiguous
 * shapes are refused by the validators before any core sees them.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ChatEntry,
  MAX_CHAT_ENTRIES,
  MAX_CHAT_ITEMS,
  MAX_CHAT_TEXT,
  MAX_CLIENT_KEY,
  MAX_USER_NAME,
  MESSAGE_KINDS,
} from "../src/wire/messages.ts";

const ENTRY: ChatEntry = {
  seq: 1,
  term: 1,
  kind: "text",
  client: "c~1",
  cseq: 1,
  from: "carol",
  text: "hi",
  ts: 1,
};

/** The fields of a delivery or welcome whose server names no leader. */
const NO_LEADER = { leader: "", leaderIncarnation: 0 };

function valid(kind: keyof typeof MESSAGE_KINDS, fields: Record<string, unknown>): boolean {
  return MESSAGE_KINDS[kind].validate(fields);
}

Deno.test("chat kinds use unused wire codes from 30 on", () => {
  const codes = Object.entries(MESSAGE_KINDS).map(([kind, spec]) => [kind, spec.code] as const);
  const chat = Object.values(MESSAGE_KINDS).filter((spec) =>
    spec.layer === "chat-server" || spec.layer === "chat-client"
  );
  assert.ok(chat.length > 0 && chat.every((spec) => spec.code >= 30));
  assert.equal(new Set(codes.map(([, code]) => code)).size, codes.length);
});

Deno.test("texts, names and keys longer than their bounds are refused", () => {
  const post = (text: string) => ({ acked: 0, items: [{ cseq: 1, text, ts: 1 }] });
  assert.ok(valid("chat-post", post("x".repeat(MAX_CHAT_TEXT))));
  assert.ok(!valid("chat-post", post("x".repeat(MAX_CHAT_TEXT + 1))));
  const join = (user: string) => ({ user, gen: 1, resume: 0, history: 100, runs: [] });
  assert.ok(valid("chat-join", join("u".repeat(MAX_USER_NAME))));
  assert.ok(!valid("chat-join", join("u".repeat(MAX_USER_NAME + 1))));
  assert.ok(!valid("chat-join", join("")));
  const deliver = (client: string) => ({
    commit: 1,
    acked: 0,
    gen: 1,
    entries: [{ ...ENTRY, client }],
    ...NO_LEADER,
  });
  assert.ok(valid("chat-deliver", deliver("k".repeat(MAX_CLIENT_KEY))));
  assert.ok(!valid("chat-deliver", deliver("k".repeat(MAX_CLIENT_KEY + 1))));
});

Deno.test("lists longer than their bounds are refused", () => {
  const entries = (n: number) => ({
    commit: 1,
    acked: 0,
    gen: 1,
    entries: Array(n).fill(ENTRY),
    ...NO_LEADER,
  });
  assert.ok(valid("chat-deliver", entries(MAX_CHAT_ENTRIES)));
  assert.ok(!valid("chat-deliver", entries(MAX_CHAT_ENTRIES + 1)));
  const busy = (n: number) => ({ clients: Array(n).fill("c~1") });
  assert.ok(valid("chat-busy", busy(MAX_CHAT_ITEMS)));
  assert.ok(!valid("chat-busy", busy(MAX_CHAT_ITEMS + 1)));
});

Deno.test("malformed numbers, enums and shapes are refused", () => {
  assert.ok(!valid("chat-ack", { next: -1 }));
  assert.ok(!valid("chat-ack", { next: 1.5 }));
  assert.ok(!valid("chat-nak", { from: 5, to: 4 }));
  assert.ok(!valid("chat-nak", { from: 0, to: 4 }));
  assert.ok(!valid("chat-refused", { reason: "because", gen: 1 }));
  assert.ok(!valid("chat-refused", { reason: "name-taken" }), "a refusal names its attachment");
  for (const kind of ["chat-missed", "chat-slow", "chat-split"] as const) {
    const fields = { from: 1, to: 2, split: false, servers: 0, of: 0, majority: false };
    assert.ok(valid(kind, { ...fields, gen: 7 }), kind);
    assert.ok(!valid(kind, fields), `${kind} names its attachment`);
  }
  const leader = (leader: unknown, leaderIncarnation: unknown) => ({
    commit: 1,
    acked: 0,
    gen: 1,
    entries: [],
    leader,
    leaderIncarnation,
  });
  assert.ok(valid("chat-deliver", leader("10.0.0.1:7401", 1750000000000)));
  assert.ok(!valid("chat-deliver", leader("a b", 1)), "a leader id is terminal-safe");
  assert.ok(!valid("chat-deliver", leader("s1", -1)));
  assert.ok(!valid("chat-deliver", leader(undefined, 0)), "a delivery names the leader");
  assert.ok(!valid("chat-deliver", { commit: 1, acked: 0, entries: [{ ...ENTRY, kind: "x" }] }));
  assert.ok(!valid("chat-deliver", { commit: 1, acked: 0, entries: [{ ...ENTRY, seq: 0 }] }));
  assert.ok(!valid("chat-deliver", { commit: 1, acked: 0, entries: [[ENTRY]] }));
  assert.ok(!valid("chat-deliver", { commit: 1, acked: 0, entries: "x" }));
  assert.ok(!valid("chat-claim", { claims: [{ user: "a", client: "c", gen: 1, op: "steal" }] }));
  assert.ok(!valid("chat-append", { term: 1, prev: 0, prevTerm: 0, commit: 0, entries: [] }));
  assert.ok(!valid("chat-senders", { term: 1, after: "", done: true, senders: [{ client: "c" }] }));
});

Deno.test("a bounce entry says one of the known reasons, nothing else", () => {
  const deliver = (entry: Record<string, unknown>) => ({
    commit: 1,
    acked: 0,
    gen: 1,
    entries: [entry],
    ...NO_LEADER,
  });
  const bounce = { ...ENTRY, kind: "bounce", to: "bob" };
  assert.ok(valid("chat-deliver", deliver({ ...bounce, text: "offline" })));
  assert.ok(valid("chat-deliver", deliver({ ...bounce, text: "rooms-full" })));
  assert.ok(!valid("chat-deliver", deliver({ ...bounce, text: "<b>you were banned</b>" })));
});
