/**
 * The REPL's keys and commands, driven through readline in terminal mode with a fake session:
 * `//text` sends a line starting with `/`, Ctrl+C and Ctrl+D end the half-typed line before
 * leaving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { type ChatSession, type ChatUiEvent, runInteractive } from "../src/client/repl.ts";
import type { ChatRosterBody } from "../src/wire/messages.ts";
import type { ShownMessage } from "../src/client/render.ts";

/** A session that records what the REPL asks of it. */
class FakeSession implements ChatSession {
  readonly user = "ann";
  room = "lobby";
  readonly sent: string[] = [];
  /** Every call of the room and direct-message commands, as `name args`. */
  readonly calls: string[] = [];
  /** What `roster` answers (undefined: no answer). */
  answer: ChatRosterBody | undefined;
  act(text: string): void {
    this.calls.push(`act ${text}`);
  }
  direct(to: string, text: string): void {
    this.calls.push(`direct ${to} ${text}`);
  }
  enter(room: string): void {
    this.calls.push(`enter ${room}`);
    this.room = room;
  }
  roster(): Promise<ChatRosterBody | undefined> {
    return Promise.resolve(this.answer);
  }
  closed = false;
  handler: (event: ChatUiEvent) => void = () => {};
  send(text: string): void {
    this.sent.push(text);
  }
  onEvent(handler: (event: ChatUiEvent) => void): void {
    this.handler = handler;
  }
  onFlow(): void {}
  /** Set while the fake has "lost its server". */
  lostAt: number | undefined;
  who() {
    return {
      users: [{ user: "ann", server: "s1" }],
      servers: [{ id: "s1", role: "leader" }, { id: "s2", role: "follower" }],
      ...(this.lostAt === undefined ? {} : { lostAt: this.lostAt }),
    };
  }
  status() {
    return {};
  }
  history() {
    return [];
  }
  /** Lines not acknowledged; the test acknowledges them by emptying it. */
  unacked: string[] = [];
  /** Resolves the pending waitAcknowledged (true: all acknowledged). */
  acked: (all: boolean) => void = () => {};
  unacknowledged(): string[] {
    return [...this.unacked];
  }
  /** What `past` answers (undefined: no answer, the kept lines are shown). */
  pastLines: (ShownMessage & { id: string })[] | undefined;
  past(): Promise<(ShownMessage & { id: string })[] | undefined> {
    return Promise.resolve(this.pastLines);
  }
  waitCaughtUp(): Promise<boolean> {
    return Promise.resolve(true);
  }
  waitAcknowledged(): Promise<boolean> {
    if (this.unacked.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => this.acked = resolve);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A REPL on a fake session and terminal. */
function repl(session = new FakeSession()) {
  const input = new PassThrough();
  const output = new PassThrough();
  const screen = { text: "" };
  output.on("data", (chunk) => screen.text += chunk.toString());
  const done = runInteractive(session, input, output, 5_000).finally(() => {
    input.destroy();
    output.destroy();
  });
  return { session, input, screen, done };
}

/** Runs the REPL on `keys` and returns the session and everything written to the terminal. */
async function type(keys: string): Promise<{ session: FakeSession; screen: string }> {
  const { session, input, screen, done } = repl();
  input.write(keys);
  await done;
  return { session, screen: screen.text };
}

/** Waits until `condition` holds (30 s at most). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not seen: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("REPL: /quit with unacknowledged messages says how many and waits for them", async () => {
  const session = new FakeSession();
  session.unacked = ["one", "two"];
  const { input, screen, done } = repl(session);
  input.write("/quit\r");
  await until(() => screen.text.includes("2 messages not yet acknowledged"), "the wait");
  assert.equal(session.closed, false, "it waits");
  session.unacked = [];
  session.acked(true);
  await done;
  assert.ok(session.closed);
  assert.ok(!screen.text.includes("left without"), screen.text);
});

for (const again of ["/quit\r", "\x03"]) {
  Deno.test(`REPL: asking again (${JSON.stringify(again)}) leaves at once, naming what was not delivered`, async () => {
    const session = new FakeSession();
    session.unacked = ["still here"];
    const { input, screen, done } = repl(session);
    input.write("\x03");
    await until(() => screen.text.includes("1 message not yet acknowledged"), "the wait");
    input.write(again);
    await done;
    assert.ok(session.closed);
    assert.match(screen.text, /left without delivering 1 message: "still here"/);
  });
}

Deno.test("REPL: /who and /leader mark what they show as last known while the server is lost", async () => {
  const session = new FakeSession();
  const { input, screen, done } = repl(session);
  input.write("/who\r/leader\r");
  await until(() => screen.text.includes("leader: s1"), "the fresh answers");
  assert.ok(!screen.text.includes("last known"), screen.text);
  session.lostAt = new Date(2026, 0, 1, 15, 4, 5).getTime();
  input.write("/who\r/leader\r");
  await until(() => screen.text.includes("leader (last known"), "the stale answers");
  assert.match(screen.text, /servers \(last known: server lost at 15:04:05\) \(2\): s1 leader, s2/);
  assert.match(screen.text, /users \(last known: server lost at 15:04:05\) \(1\): ann@s1/);
  assert.match(screen.text, /leader \(last known: server lost at 15:04:05\): s1/);
  input.write("/quit\r");
  await done;
});

Deno.test("REPL: //text sends /text, a lone /word is still a command", async () => {
  const { session } = await type("//shrug\r/help\rhello\r/quit\r");
  assert.deepEqual(session.sent, ["/shrug", "hello"]);
  assert.ok(session.closed);
});

for (const [key, name] of [["\x03", "Ctrl+C"], ["\x04", "Ctrl+D"]]) {
  Deno.test(`REPL: ${name} ends the line before leaving, so the shell prompt starts afresh`, async () => {
    const { session, screen } = await type(name === "Ctrl+C" ? `half${key}` : key);
    assert.ok(session.closed);
    assert.ok(screen.endsWith("\n"), JSON.stringify(screen.slice(-40)));
    assert.deepEqual(session.sent, []);
  });
}

Deno.test("REPL: /join, /leave, /me and /msg reach the session; bad arguments say the usage", async () => {
  const { session, screen } = await type(
    "/join ops\r/me waves\r/msg bob see you at 5\r/leave\r/leave\r/join Bad!\r/msg\r/quit\r",
  );
  assert.deepEqual(session.calls, [
    "enter ops",
    "act waves",
    "direct bob see you at 5",
    "enter lobby",
  ]);
  assert.match(screen, /you are in the lobby; \/quit leaves the chat/);
  assert.match(screen, /usage: \/join ROOM/);
  assert.match(screen, /usage: \/msg USER text/);
});

Deno.test("REPL: the prompt names the room it is in", async () => {
  const { screen } = await type("/join ops\r/quit\r");
  assert.match(screen, /ann #lobby> /);
  assert.match(screen, /ann #ops> /);
});

Deno.test("REPL: /rooms and /who print the server's answer, or say none came", async () => {
  const session = new FakeSession();
  session.answer = {
    kind: "chat-roster",
    gen: 1,
    ask: 1,
    at: 9,
    rooms: [{ room: "lobby", users: 2 }, { room: "ops", users: 1 }],
    roomCount: 3,
    room: "lobby",
    users: ["ann", "bob"],
    total: 2,
  };
  const { input, screen, done } = repl(session);
  input.write("/rooms\r/who\r");
  await until(() => screen.text.includes("servers (2)"), "the answers");
  assert.match(screen.text, /rooms \(3\): #lobby 2, #ops 1 and 1 more/);
  assert.match(screen.text, /#lobby \(2\): ann, bob/);
  session.answer = undefined;
  input.write("/rooms\r");
  await until(() => screen.text.includes("no answer from the server about rooms"), "no answer");
  input.write("/quit\r");
  await done;
});

Deno.test("REPL: /history N shows the server's lines, or says it did not answer and shows those kept", async () => {
  const session = new FakeSession();
  session.pastLines = [{ seq: 7, id: "x/1", from: "bob", text: "from the server", ts: 0 }];
  const { input, screen, done } = repl(session);
  input.write("/history 5\r");
  await until(() => screen.text.includes("from the server"), "the server's lines");
  session.pastLines = undefined;
  input.write("/history 5\r");
  await until(() => screen.text.includes("the server did not answer"), "the fallback");
  input.write("/quit\r");
  await done;
});
