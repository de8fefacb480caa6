/**
 * `dsys chat` end to end with the built executable on loopback: what a user sees from the line
 * mode and the REPL (the REPL in a real terminal, through tmux).
 *
 * @module
 */

import assert from "node:assert/strict";
import { LAUNCHERS, spawnDsys, startServers, testNetwork } from "./helpers/process.ts";

Deno.test("line mode: the limit counts characters, a refused line says the limit and the exit is 1", async () => {
  const net = testNetwork();
  const server = startServers(LAUNCHERS.binary, net, ["s"])[0];
  const client = spawnDsys(LAUNCHERS.binary, ["chat", ...net.args, "--user", "ann"], {
    stdin: true,
  });
  try {
    await server.waitForEvent("chat-leading");
    const emoji = "😀".repeat(1000);
    await client.write(`${emoji}\n${"x".repeat(1001)}\n`);
    await client.closeStdin();
    const status = await client.exited;
    assert.ok(client.stdoutLines.some((l) => l.endsWith(emoji)), client.stdout);
    assert.ok(
      client.stdoutLines.some((l) =>
        l.includes("message too long: not sent (1001 characters, at most 1000)")
      ),
      client.stdout,
    );
    assert.match(client.stderr, /^dsys: 1 line was refused, not sent$/m);
    assert.equal(status.code, 1, client.stderr);
  } finally {
    await client.kill();
    await server.kill();
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 0]] as const) {
  Deno.test(`chat: ${signal} while looking for servers ends it at once (exit ${code})`, async () => {
    const net = testNetwork();
    // Nobody serves this network: the client would look for 10 minutes.
    const client = spawnDsys(LAUNCHERS.binary, [
      "chat",
      ...net.args,
      "--user",
      "ann",
      "--timeout",
      "600000",
    ], { stdin: true });
    try {
      // Let it start looking first (a busy machine starts slowly).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const status = await client.stop(signal, 60_000);
      assert.equal(status.signal, null, `killed instead of exiting: ${client.stderr}`);
      assert.equal(status.code, code, client.stderr);
    } finally {
      await client.kill();
    }
  });
}

Deno.test("chat: the same user on the same computer gets the name back at once after a crash; a second live one and another computer are refused", async () => {
  const net = testNetwork();
  const here = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const server = startServers(LAUNCHERS.binary, net, ["s"])[0];
  const chat = (state: string, label: string) =>
    spawnDsys(LAUNCHERS.binary, ["chat", ...net.args, "--user", "carol", "--timeout", "20000"], {
      stdin: true,
      label,
      env: { XDG_STATE_HOME: state },
    });
  const first = chat(here, "first");
  try {
    await server.waitForEvent("chat-leading");
    await first.write("hello\n");
    await first.waitForStdout("carol: hello");
    for (const [state, label] of [[here, "second terminal"], [elsewhere, "other computer"]]) {
      const other = chat(state, label);
      await other.closeStdin();
      const status = await other.exited;
      assert.equal(status.code, 2, `${label}: ${other.stderr}`);
      assert.match(other.stderr, /already taken|in use/, `${label}: ${other.stderr}`);
    }
    await first.kill();
    const restarted = chat(here, "restarted");
    await restarted.write("back\n");
    await restarted.closeStdin();
    const status = await restarted.exited;
    assert.equal(status.code, 0, restarted.stderr);
    assert.ok(restarted.stdoutLines.some((l) => l.endsWith("carol: back")), restarted.stdout);
  } finally {
    await first.kill();
    await server.kill();
    await Deno.remove(here, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("line mode: --room posts there, --commands gives /msg, /me and /join, --json names room and recipient", async () => {
  const net = testNetwork();
  const server = startServers(LAUNCHERS.binary, net, ["s"])[0];
  const chat = (user: string, flags: string[]) =>
    spawnDsys(LAUNCHERS.binary, ["chat", ...net.args, "--user", user, "--json", ...flags], {
      stdin: true,
    });
  const bob = chat("bob", ["--room", "ops", "--follow"]);
  const ann = chat("ann", ["--room", "ops", "--commands"]);
  try {
    await server.waitForEvent("chat-leading");
    await bob.waitForStdout(/"type":"entered".*"room":"ops"/, { timeoutMs: 30_000 });
    await ann.write("in ops\n/me waves\n/msg bob just you\n//slash\n/join dev\nin dev\n/bogus\n");
    await ann.closeStdin();
    const status = await ann.exited;
    assert.match(ann.stderr, /^dsys: \/bogus is not a command scripts can give$/m);
    assert.equal(status.code, 1, "a refused line: exit 1");
    await bob.waitForStdout(/"text":"\/slash"/, { timeoutMs: 30_000 });
    const lines = bob.stdoutLines.map((l) => JSON.parse(l)).filter((l) => l.from === "ann");
    assert.deepEqual(lines.map(({ type, room, to, text }) => ({ type, room, to, text })), [
      { type: "message", room: "ops", to: undefined, text: "in ops" },
      { type: "action", room: "ops", to: undefined, text: "waves" },
      { type: "direct", room: undefined, to: "bob", text: "just you" },
      { type: "message", room: "ops", to: undefined, text: "/slash" },
    ]);
    await bob.waitForStdout(/ann left #ops/, { timeoutMs: 30_000 });
    assert.ok(!bob.stdout.includes("in dev"), "bob (ops) is not shown #dev");
  } finally {
    await ann.kill();
    await bob.kill();
    await server.kill();
  }
});

Deno.test("line mode: with its input empty, --history N prints the N past lines before it exits", async () => {
  const net = testNetwork();
  const server = startServers(LAUNCHERS.binary, net, ["s"])[0];
  const chat = (user: string, flags: string[], env: Record<string, string> = {}) =>
    spawnDsys(LAUNCHERS.binary, ["chat", ...net.args, "--user", user, "--json", ...flags], {
      stdin: true,
      env,
    });
  const writer = chat("ann", []);
  let reader: ReturnType<typeof chat> | undefined;
  try {
    await server.waitForEvent("chat-leading");
    await writer.write(Array.from({ length: 40 }, (_, i) => `past ${i + 1}\n`).join(""));
    await writer.closeStdin();
    assert.equal((await writer.exited).code, 0, writer.stderr);
    // What reaches the reader is 30-80 ms late: the history takes longer than an exit right
    // after the end of input (nothing is lost, so discovery and the join still work at once).
    reader = chat("bob", ["--history", "40"], { DSYS_FAULTS: "in.delay=30-80" });
    await reader.closeStdin();
    const status = await reader.exited;
    assert.equal(status.code, 0, reader.stderr);
    const texts = reader.stdoutLines.map((l) => JSON.parse(l)).filter((l) => l.type === "message")
      .map((l) => l.text);
    assert.deepEqual(texts, Array.from({ length: 40 }, (_, i) => `past ${i + 1}`));
  } finally {
    await reader?.kill();
    await writer.kill();
    await server.kill();
  }
});
