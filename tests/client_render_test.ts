/**
 * What the chat prints: nobody's message can control another user's terminal, names keep their
 * colour, and the plain (non-terminal) form carries no escape sequences at all.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  clock,
  formatMessage,
  formatSystem,
  nameColour,
  neutralize,
  orderedTime,
} from "../src/client/render.ts";

Deno.test("a message cannot recolour, move, clear or retitle another user's terminal", () => {
  const hostile = [
    "\x1b[31mred",
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "\x9b31m",
    "a\rb\bc\x7f",
    "\u202eevil\u202c",
  ];
  for (const text of hostile) {
    const shown = neutralize(text);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(shown, /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e]/, JSON.stringify(text));
  }
  assert.equal(neutralize("\x1b[31mred"), "\\u{1b}[31mred");
  assert.equal(neutralize("tab\there"), "tab here");
  assert.equal(neutralize("héllo, 世界 👋"), "héllo, 世界 👋");
});

Deno.test("8-bit controls, separators and every bidi control are shown, never obeyed", () => {
  const hostile = [
    "\x9d0;title\x9c", // 8-bit OSC … ST
    "\x90qpayload\x9c", // 8-bit DCS
    "a\x85b", // NEL
    "a\u2028b\u2029c", // line and paragraph separators
    "\u200e\u200f\u061c", // LRM, RLM, ALM
    "\u202a\u202b\u202d", // embeddings and LRO
    "\u2066\u2067\u2068\u2069", // isolates
  ];
  for (const text of hostile) {
    const shown = neutralize(text);
    assert.doesNotMatch(
      shown,
      // deno-lint-ignore no-control-regex
      /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/,
      JSON.stringify(text),
    );
  }
  assert.equal(neutralize("a\u2028b"), "a\\u{2028}b");
  assert.equal(neutralize("\u2067x\u2069"), "\\u{2067}x\\u{2069}");
});

Deno.test("the plain format has no escape sequence; the terminal one only our own", () => {
  const message = { seq: 1, from: "mallory", text: "\x1b[2Jhi", ts: Date.UTC(2026, 0, 1) };
  const plain = formatMessage(message, "carol", false);
  assert.ok(!plain.includes("\x1b"));
  assert.match(plain, /^\[\d\d:\d\d:\d\d\] mallory: \\u\{1b\}\[2Jhi$/);
  const coloured = formatMessage(message, "carol", true);
  assert.ok(!coloured.includes("\x1b[2J"));
  assert.ok(coloured.includes(`\x1b[${nameColour("mallory")}m`));
});

Deno.test("the user's own messages are marked, system lines are dimmed", () => {
  const own = formatMessage({ seq: 2, from: "carol", text: "hi", ts: 0 }, "carol", false);
  assert.match(own, /\*carol: hi$/);
  assert.match(
    formatMessage({ seq: 2, from: "carol", text: "hi", ts: 0 }, "carol", true),
    /\(you\)/,
  );
  assert.equal(formatSystem("bob joined", false), "-- bob joined");
  assert.equal(formatSystem("bob joined", true), "\x1b[2m-- bob joined\x1b[0m");
});

Deno.test("a user name keeps its colour everywhere and names spread over the palette", () => {
  assert.equal(nameColour("carol"), nameColour("carol"));
  const colours = new Set(
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace"].map(nameColour),
  );
  assert.ok(colours.size >= 4, `only ${colours.size} colours for 7 names`);
});

Deno.test("shown times agree with the order: a line typed earlier but ordered later shows the time before it", () => {
  // After a failover, a line sent at 00:48:11 was ordered after one sent at 00:48:13.
  const sent = [Date.UTC(2026, 0, 1, 0, 48, 13), Date.UTC(2026, 0, 1, 0, 48, 11)];
  let previous = -Infinity;
  const shown = sent.map((ts) => previous = orderedTime(ts, previous));
  assert.deepEqual(shown, [sent[0], sent[0]]);
  assert.equal(orderedTime(sent[0] + 1000, sent[0]), sent[0] + 1000);
});

Deno.test("clock is 24-hour whatever the locale", () => {
  assert.equal(clock(new Date(2026, 0, 1, 15, 4, 5).getTime()), "15:04:05");
});
