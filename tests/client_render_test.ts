/**
 * What the chat prints: nobody's message can control another user's terminal, names keep their
 * colour, and the plain (non-terminal) form carries no escape sequences at all.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatMessage, formatSystem, nameColour, neutralize } from "../src/client/render.ts";

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
