/**
 * The chat REPL in a real terminal (tmux), with the built executable on loopback: it says it is
 * looking for servers at once, Ctrl+C ends that look at once, one line tells of a lost server and
 * what the client asks next, `/who` then marks what it shows as last known, `/status` speaks a
 * user's words, and `/quit` with a message not acknowledged says so, waits `--timeout`, and names
 * what was not delivered.
 *
 * Needs `tmux` (`.ci/run` installs it); without it these tests are skipped, saying so.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertLoopbackOnly,
  LAUNCHERS,
  REPO_ROOT,
  startServers,
  testNetwork,
} from "./helpers/process.ts";

const HAVE_TMUX = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
if (!HAVE_TMUX) console.log("chat REPL terminal tests skipped: tmux is not installed");

/** One tmux server of its own, with one window running `command` in the repository. */
class Terminal implements AsyncDisposable {
  readonly #socket = `dsys-test-${crypto.randomUUID().slice(0, 8)}`;

  /** Starts `args` (dsys arguments) in a 200x50 terminal; the shell prints `EXIT=<code>` after. */
  async start(args: string[]): Promise<void> {
    assertLoopbackOnly(args);
    const line = [`${REPO_ROOT}/dist/dsys`, ...args].map((a) => `'${a}'`).join(" ");
    await this.#tmux(
      "new-session",
      "-d",
      "-x",
      "200",
      "-y",
      "50",
      `cd '${REPO_ROOT}' && ${line}; echo EXIT=$?; sleep 600`,
    );
  }

  /** Types `keys` (tmux key names, e.g. `Enter`, `C-c`, or literal text with `literal`). */
  async keys(keys: string, literal = false): Promise<void> {
    await this.#tmux("send-keys", ...(literal ? ["-l", keys] : [keys]));
  }

  /** The screen's text. */
  async screen(): Promise<string> {
    return await this.#tmux("capture-pane", "-p", "-J", "-S", "-200");
  }

  /** Waits until the screen matches `pattern` (60 s at most: a busy machine). */
  async waitFor(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`${what} not seen; screen:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
  }

  async #tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", { args: ["-L", this.#socket, ...args] }).output();
    if (!output.success) {
      throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(output.stderr).trim()}`);
    }
    return new TextDecoder().decode(output.stdout);
  }
}

Deno.test({
  name: "REPL: 'looking for servers…' at once, and Ctrl+C ends the look at once (exit 130)",
  ignore: !HAVE_TMUX,
  fn: async () => {
    const net = testNetwork();
    await using terminal = new Terminal();
    await terminal.start(["chat", ...net.args, "--user", "ann", "--timeout", "600000"]);
    await terminal.waitFor(/looking for servers… \(cluster test-/, "the looking line");
    await terminal.keys("C-c");
    const screen = await terminal.waitFor(/EXIT=\d+/, "the exit", 30_000);
    assert.match(screen, /EXIT=130/);
  },
});

Deno.test({
  name:
    "REPL: a lost server is one line, /who is last known, /quit waits and names the undelivered",
  ignore: !HAVE_TMUX,
  fn: async () => {
    const net = testNetwork();
    const server = startServers(LAUNCHERS.binary, net, ["only"])[0];
    try {
      await server.waitForEvent("chat-leading");
      await using terminal = new Terminal();
      await terminal.start(["chat", ...net.args, "--user", "ann", "--timeout", "3000"]);
      await terminal.waitFor(/^ann #lobby> /m, "the prompt (it names the room)");
      await terminal.keys("hello", true);
      await terminal.keys("Enter");
      await terminal.waitFor(/ann \(you\)\S*: hello/, "the delivered line");
      await terminal.keys("/status", true);
      await terminal.keys("Enter");
      await terminal.waitFor(/messages come: (by multicast|from your server)/, "/status");
      await server.kill();
      await terminal.waitFor(
        new RegExp(`lost server only; looking for another \\(asking the group ${net.group}`),
        "the lost-server line",
      );
      await terminal.keys("/who", true);
      await terminal.keys("Enter");
      await terminal.waitFor(
        /servers \(last known: server lost at \d\d:\d\d:\d\d\) \(1\): only/,
        "/who",
      );
      await terminal.keys("unsent", true);
      await terminal.keys("Enter");
      await terminal.keys("/quit", true);
      await terminal.keys("Enter");
      await terminal.waitFor(/1 message not yet acknowledged: waiting up to 3 s/, "the wait");
      const screen = await terminal.waitFor(/EXIT=\d+/, "the exit");
      assert.match(screen, /left without delivering 1 message: "unsent"/);
      assert.match(screen, /EXIT=0/);
    } finally {
      await server.kill();
    }
  },
});
