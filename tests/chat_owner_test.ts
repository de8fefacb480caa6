/**
 * The same user on the same computer takes its name back at once after a crash: its claim
 * carries the owner token the name was granted with, and it is a newer process (incarnation)
 * than the holder. Another computer (another token, or none) is still refused, the crashed
 * session's server renewing with the old key cannot take the name back, and a second live
 * process on the same computer does not send the token at all.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Directory, type Presence } from "../src/chat/directory.ts";
import { ownerToken } from "../src/client/owner_token.ts";
import { type ChatClaim, MESSAGE_KINDS } from "../src/wire/messages.ts";

const MINE = "0123456789abcdef0123456789abcdef";
const THEIRS = "fedcba9876543210fedcba9876543210";

function hold(client: string, owner?: string): ChatClaim {
  return { user: "carol", client, gen: 1, op: "hold", ...(owner ? { owner } : {}) };
}

function directory(known = new Map<string, Presence>()) {
  return new Directory({ maxUsers: 8, clientTimeoutMs: 6_000, settledAt: 0 }, known, 0);
}

Deno.test("a restarted client with the owner token takes its name over at once", () => {
  const d = directory();
  assert.equal(d.claim(hold("pc:5000~100", MINE), "s1", 0).result?.ok, true);
  const again = d.claim(hold("pc:5001~200", MINE), "s2", 10);
  assert.deepEqual(again, {
    result: { user: "carol", client: "pc:5001~200", gen: 1, ok: true, reason: "" },
    change: { kind: "join", user: "carol", client: "pc:5001~200", text: "s2" },
  });
  // The crashed session's server still renews it: it does not take the name back.
  assert.equal(d.claim(hold("pc:5000~100", MINE), "s1", 20).result?.reason, "name-taken");
});

Deno.test("another computer's token, or none, is refused as before", () => {
  const d = directory();
  d.claim(hold("pc:5000~100", MINE), "s1", 0);
  assert.equal(d.claim(hold("other:5000~200", THEIRS), "s1", 10).result?.reason, "name-taken");
  assert.equal(d.claim(hold("other:5000~300"), "s1", 10).result?.reason, "name-taken");
  const untokened = directory();
  untokened.claim(hold("pc:5000~100"), "s1", 0);
  assert.equal(untokened.claim(hold("pc:5001~200", MINE), "s1", 10).result?.reason, "name-taken");
});

Deno.test("a new leader that knows the name from its log learns the token from the renewals", () => {
  const d = directory(new Map([["carol", { client: "pc:5000~100", server: "s1" }]]));
  assert.equal(d.claim(hold("pc:5001~200", MINE), "s1", 0).result?.reason, "name-taken");
  assert.equal(d.claim(hold("pc:5000~100", MINE), "s1", 10).result?.ok, true);
  assert.equal(d.claim(hold("pc:5001~200", MINE), "s2", 20).result?.ok, true);
});

Deno.test("the wire admits an owner token of 32 hex digits in joins and claims, nothing else", () => {
  const join = (owner: unknown) => ({
    user: "carol",
    gen: 1,
    resume: 0,
    history: 0,
    runs: [],
    owner,
  });
  assert.ok(MESSAGE_KINDS["chat-join"].validate(join(MINE)));
  assert.ok(MESSAGE_KINDS["chat-join"].validate(join(undefined)));
  assert.ok(!MESSAGE_KINDS["chat-join"].validate(join("xyz")));
  assert.ok(!MESSAGE_KINDS["chat-join"].validate(join(MINE.toUpperCase())));
  const claims = (owner: unknown) => ({ claims: [{ ...hold("pc:5000~1"), owner }] });
  assert.ok(MESSAGE_KINDS["chat-claim"].validate(claims(MINE)));
  assert.ok(!MESSAGE_KINDS["chat-claim"].validate(claims(`${MINE}0`)));
});

Deno.test("the token is kept in the state directory, per cluster, and withheld while another live process uses the name", async () => {
  const here = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const first = ownerToken("lan", "carol", here);
    assert.match(first ?? "", /^[0-9a-f]{32}$/);
    assert.equal(ownerToken("lan", "carol", here), first, "the same process: the same token");
    assert.notEqual(ownerToken("other", "carol", here), first, "another cluster: another token");
    assert.notEqual(ownerToken("lan", "carol", elsewhere), first, "another computer");
    assert.equal((await Deno.stat(`${here}/owner`)).mode! & 0o077, 0, "readable by the user only");
    // A live process (the sleeper) used the name last: no token, so no takeover from it.
    for await (const file of Deno.readDir(`${here}/names`)) {
      await Deno.writeTextFile(`${here}/names/${file.name}`, `${sleeper.pid}\n`);
    }
    assert.equal(ownerToken("lan", "carol", here), undefined);
    sleeper.kill("SIGKILL");
    await sleeper.status;
    assert.equal(ownerToken("lan", "carol", here), first, "once it is gone, the token again");
  } finally {
    try {
      sleeper.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await sleeper.status;
    await Deno.remove(here, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});
