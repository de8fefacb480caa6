/**
 * The browser chat across a real LAN segment: three servers (`dsys serve --http ADDR:8080`, the
 * Node bundle) on three namespaced hosts, headless Chromium on a fourth host, a terminal user on
 * a fifth. Two browser users and the terminal user chat across the servers; the server behind
 * one page is SIGKILLed while lines are in flight, and the page moves to another server and
 * resumes with every line exactly once; a third page, in `#ops` on the server that dies, moves
 * with its room; a page without the invite token can neither read nor post. Saves a screenshot of the cluster page (a server dead) under `dist/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { withChatLab } from "./chat_cluster.ts";
import { labSkipReason } from "./harness.ts";
import {
  assertOnceEach,
  browserSkipReason,
  freshPage,
  HOSTILE,
  joinAs,
  launchChromium,
  pageLines,
  say,
  waitForText,
} from "../helpers/browser.ts";
import { REPO_ROOT } from "../helpers/process.ts";
import { webToken } from "../../src/web/security.ts";

const skip = labSkipReason() ?? browserSkipReason();

const HTTP_PORT = 8080;

Deno.test({
  name: "lab web: two pages and a terminal across three servers; a page's server is SIGKILLed " +
    "and the page resumes on another with nothing lost or doubled",
  ignore: skip !== undefined,
  async fn() {
    await withChatLab("web", { hosts: 5, servers: 3, httpPort: HTTP_PORT }, async (chat) => {
      const [h1, h2, h3, h4, h5] = chat.lab.hosts;
      const wrapper = await Deno.makeTempFile({ prefix: "dsys-chromium-", suffix: ".sh" });
      let browser: Browser | undefined;
      try {
        await Deno.writeTextFile(
          wrapper,
          `#!/bin/sh\nexec ip netns exec ${h4.ns} /usr/bin/chromium "$@"\n`,
        );
        await Deno.chmod(wrapper, 0o755);
        browser = await launchChromium(wrapper);
        const token = webToken(chat.secret!, chat.cluster);
        const url = (host: { address: string }) => `http://${host.address}:${HTTP_PORT}`;
        const ann = await freshPage(browser);
        const bob = await freshPage(browser, { width: 390, height: 720 });
        await ann.goto(`${url(h2)}/#t=${token}`);
        await bob.goto(`${url(h3)}/#t=${token}`);
        await joinAs(ann, "ann");
        await joinAs(bob, "bob");
        // dan, on the server that dies, is in #ops: his page moves with its room.
        const dan = await freshPage(browser);
        await dan.goto(`${url(h2)}/#t=${token}`);
        await joinAs(dan, "dan");
        await say(dan, "/join ops");
        await dan.waitForFunction(`document.querySelector("#room").textContent === "#ops"`);
        const carol = chat.client(h5, "carol", { flags: ["--follow"] });
        await carol.waitForStdout('"joined"', { timeoutMs: 30_000 });

        await say(ann, "ann before");
        await say(bob, "bob before");
        await carol.write("carol before\n");
        for (const text of ["ann before", "bob before", "carol before"]) {
          await waitForText(ann, text);
          await waitForText(bob, text);
          await carol.waitForStdout(text);
        }
        await say(bob, HOSTILE[0]);
        await waitForText(ann, HOSTILE[0]);
        assert.equal(await ann.evaluate("window.__pwned"), undefined);

        // The server behind ann's page dies after committing two of her lines and before her
        // page saw them come back (the page stops reading its stream, as if those bytes died
        // with the server): the page must not post them again. Lines flow meanwhile, and she
        // types one while her page has no server.
        const inFlight = ["ann during 1", "ann during 2"];
        await ann.evaluate("stream.onmessage = () => {}");
        for (const text of inFlight) await say(ann, text);
        for (const text of inFlight) await carol.waitForStdout(text, { timeoutMs: 30_000 });
        const killedAt = performance.now();
        chat.servers[1].signal("SIGKILL");
        await carol.write("carol during\n");
        await say(bob, "bob during");
        await say(ann, "ann after kill");
        await say(dan, "dan after kill");

        const expected = [
          "ann before",
          "bob before",
          "carol before",
          HOSTILE[0],
          ...inFlight,
          "carol during",
          "bob during",
          "ann after kill",
        ];
        await waitForText(ann, "carol during", 60_000);
        console.log(
          `ann's page showed a line again ${
            Math.round(performance.now() - killedAt)
          } ms after her server was SIGKILLed`,
        );
        for (const text of expected) await waitForText(ann, text, 60_000);
        for (const text of expected) await waitForText(bob, text, 60_000);
        for (const text of expected) {
          await carol.waitForStdout(JSON.stringify(text).slice(1, -1), { timeoutMs: 60_000 });
        }
        // Let a wrongly resent line arrive before counting.
        await ann.waitForTimeout(2000);
        const state = await ann.evaluate(`document.querySelector("#state").textContent`);
        assert.ok(!String(state).includes(h2.address), `ann still on ${state}`);
        // Nothing doubled anywhere, the pages agree on the order, nothing left unsent.
        const annLines = await pageLines(ann);
        const bobLines = await pageLines(bob);
        assertOnceEach(annLines, expected);
        assertOnceEach(bobLines, expected);
        const order = (lines: typeof annLines) =>
          lines.filter((l) => expected.includes(l.text)).map((l) => `${l.seq}:${l.text}`);
        assert.deepEqual(order(annLines), order(bobLines));
        await ann.waitForFunction(`document.querySelectorAll("#pending .line").length === 0`);
        const carolTexts = carol.stdoutLines.flatMap((line) => {
          try {
            const parsed = JSON.parse(line);
            return parsed.type === "message" ? [parsed.text as string] : [];
          } catch {
            return [];
          }
        });
        for (const text of expected) {
          assert.equal(carolTexts.filter((t) => t === text).length, 1, `carol: ${text}`);
        }

        // dan's page moved and is still in #ops: his line went there, not to the lobby.
        await waitForText(dan, "dan after kill", 60_000);
        const danState = await dan.evaluate(`document.querySelector("#state").textContent`);
        assert.ok(!String(danState).includes(h2.address), `dan still on ${danState}`);
        assert.equal(await dan.evaluate(`document.querySelector("#room").textContent`), "#ops");
        await say(bob, "bob after dan");
        await waitForText(ann, "bob after dan", 60_000);
        for (const page of [ann, bob]) {
          assert.ok(!(await pageLines(page)).some((l) => l.text === "dan after kill"));
        }

        // Without the token a page can neither read nor post.
        const stranger = await freshPage(browser);
        await stranger.goto(`${url(h1)}/`);
        const statuses = await stranger.evaluate(`(async () => {
          const s = "e".repeat(32);
          const read = await fetch("/chat/events?session=" + s + "&user=eve&owner=" + s);
          const post = await fetch("/chat/send", { method: "POST", body: JSON.stringify({ session: s, lid: "x", text: "hi" }) });
          return [read.status, post.status];
        })()`);
        assert.deepEqual(statuses, [401, 401]);

        const cluster = await freshPage(browser, { width: 1100, height: 760 });
        await cluster.goto(`${url(h1)}/cluster`);
        await cluster.waitForFunction(
          `[...document.querySelectorAll("#rows tr")].some((tr) => tr.textContent.includes("leader"))`,
          undefined,
          { timeout: 30_000 },
        );
        await cluster.waitForTimeout(3000);
        await cluster.screenshot({ path: `${REPO_ROOT}/dist/web-cluster-lab.png` });
        await ann.screenshot({ path: `${REPO_ROOT}/dist/web-chat-failover.png` });
      } finally {
        await browser?.close();
        await Deno.remove(wrapper).catch(() => {});
      }
    });
  },
});
