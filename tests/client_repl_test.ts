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

/** A session that records what the REPL asks of it. */
class FakeSession implements ChatSession {
  readonly user = "ann";
  readonly sent: string[] = [];
  closed = false;
  handler: (event: ChatUiEvent) => void = () => {};
  send(text: string): void {
    this.sent.push(text);
  }
  onEvent(handler: (event: ChatUiEvent) => void): void {
    this.handler = handler;
  }
  onFlow(): void {}
  who() {
    return { users: [], servers: [] };
  }
  status() {
    return {};
  }
  history() {
    return [];
  }
  waitAcknowledged(): Promise<boolean> {
    return Promise.resolve(true);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Runs the REPL on `keys` and returns the session and everything written to the terminal. */
async function type(keys: string): Promise<{ session: FakeSession; screen: string }> {
  const session = new FakeSession();
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = "";
  output.on("data", (chunk) => screen += chunk.toString());
  const done = runInteractive(session, input, output);
  input.write(keys);
  await done;
  input.destroy();
  output.destroy();
  return { session, screen };
}

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
