import assert from "node:assert/strict";
import {
  isPageCommand,
  PAGE_HELP,
  pageCommand,
  type PageCommandSession,
} from "../src/web/commands.ts";
import type { ChatRosterBody } from "../src/wire/messages.ts";

/** A session that records what the commands did. */
function fakeSession(roster?: ChatRosterBody): PageCommandSession & { did: string[] } {
  const did: string[] = [];
  const session = {
    did,
    room: "lobby",
    enter(room: string) {
      did.push(`enter ${room}`);
      session.room = room;
    },
    act: (text: string) => void did.push(`act ${text}`),
    direct: (to: string, text: string) => void did.push(`direct ${to} ${text}`),
    roster: () => Promise.resolve(roster),
  };
  return session;
}

Deno.test("the page's commands: one leading / is a command, // is a line", () => {
  assert.ok(isPageCommand("/join ops"));
  assert.ok(isPageCommand("  /me waves "));
  assert.ok(!isPageCommand("//not a command"));
  assert.ok(!isPageCommand("hello /join ops"));
});

Deno.test("the page's commands run on the chat client as the terminal's do", async () => {
  const session = fakeSession();
  assert.deepEqual(await pageCommand(session, "/join ops"), []);
  assert.equal(session.room, "ops");
  assert.deepEqual(await pageCommand(session, " /me waves  hello "), []);
  assert.deepEqual(await pageCommand(session, "/msg bob psst there"), []);
  assert.deepEqual(await pageCommand(session, "/leave"), []);
  assert.deepEqual(session.did, [
    "enter ops",
    "act waves  hello",
    "direct bob psst there",
    "enter lobby",
  ]);
});

Deno.test("a bad or unknown command answers with a line and does nothing", async () => {
  const session = fakeSession();
  for (const bad of ["/join", "/join Bad!", "/msg bob", "/me", "/leave"]) {
    const said = await pageCommand(session, bad);
    assert.equal(said.length, 1, bad);
    assert.match(said[0], /usage|lobby/, bad);
  }
  assert.deepEqual(await pageCommand(session, "/frobnicate now"), [
    "unknown command /frobnicate; /help lists them",
  ]);
  assert.deepEqual(await pageCommand(session, "/help"), [...PAGE_HELP]);
  assert.deepEqual(session.did, []);
});

Deno.test("/rooms on the page: the server's room list, or that it did not answer", async () => {
  const roster: ChatRosterBody = {
    kind: "chat-roster",
    gen: 1,
    ask: 1,
    at: 9,
    room: "lobby",
    rooms: [{ room: "lobby", users: 3 }, { room: "ops", users: 1 }],
    roomCount: 2,
    users: [],
    total: 0,
  };
  assert.deepEqual(await pageCommand(fakeSession(roster), "/rooms"), [
    "rooms (2): #lobby 3, #ops 1",
  ]);
  assert.match((await pageCommand(fakeSession(), "/rooms"))[0], /no answer/);
});
