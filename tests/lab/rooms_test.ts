/**
 * Rooms and direct messages across a real LAN segment with the built executable: three servers,
 * alice and bob in `#ops`, carol in the lobby, each on a host of its own, and a passive listener
 * on a sixth host joined to the cluster's multicast group and holding the cluster's secret (as a
 * member would). While all three post, alice sends carol a direct message and the leader is
 * SIGKILLed. Each room's lines reach its members complete, once, in one order, and no one else;
 * the direct message reaches carol and alice only; the listener hears the leader's stream — the
 * direct message's position in it — but never its text.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { type ChatLine, chatLines, waitJoined, withChatLab } from "./chat_cluster.ts";
import { waitUntil } from "./cluster.ts";
import { labSkipReason } from "./harness.ts";
import { defaultLanConfig } from "../../src/config/mod.ts";

const skip = labSkipReason();
const LISTENER = new URL("./group_listener.ts", import.meta.url).pathname;
/** The group and port the lab's servers use: the defaults. */
const { group: GROUP, port: PORT } = defaultLanConfig().network;
/** Joins, deliveries, failover: generous for a busy 2-core machine. */
const TIMEOUT_MS = 45_000;
/** Lines each user posts, in bursts around the leader's crash. */
const LINES = 40;
const BURSTS = 8;

/** What a `--json` client printed that is a line of its user's view (message, action, direct). */
function shownLines(client: DsysProcess): ChatLine[] {
  return chatLines(client).filter((l) => ["message", "action", "direct"].includes(l.type));
}

/** `user`'s lines of one run, in the order typed. */
function linesOf(user: string, room: string): string[] {
  return Array.from({ length: LINES }, (_, k) => `${user} in ${room} ${k + 1}`);
}

Deno.test({
  name: "lab rooms: each room's lines at its members only, in one order; a direct message at " +
    "its two users only, never on the group — through a leader crash",
  ignore: skip !== undefined,
  async fn() {
    await withChatLab("rooms", { hosts: 7, servers: 3 }, async (chat) => {
      const [h1, , , h4, h5, h6, h7] = chat.lab.hosts;
      const needle = `secret-${crypto.randomUUID()}`;
      const listener = h7.spawn([
        Deno.execPath(),
        "run",
        "--unstable-net",
        "-A",
        LISTENER,
        JSON.stringify({
          group: GROUP,
          port: PORT,
          ifaceAddr: h7.address,
          cluster: chat.cluster,
          secret: chat.secret,
          ms: 40_000,
          needle,
        }),
      ], { label: `listener on ${h7.name}` });
      const follow = ["--follow", "--commands", "--timeout", "20000"];
      const alice = chat.client(h4, "alice", { flags: [...follow, "--room", "ops"] });
      const bob = chat.client(h5, "bob", { flags: [...follow, "--room", "ops"] });
      const carol = chat.client(h6, "carol", { flags: follow });
      const clients = [alice, bob, carol];
      for (const [client, user] of [[alice, "alice"], [bob, "bob"], [carol, "carol"]] as const) {
        await waitJoined(client, user, TIMEOUT_MS);
      }
      for (const client of [alice, bob]) {
        await client.waitForStdout(/"type":"entered".*"room":"ops"/, { timeoutMs: TIMEOUT_MS });
      }
      const sent = [linesOf("alice", "ops"), linesOf("bob", "ops"), linesOf("carol", "lobby")];
      const perBurst = LINES / BURSTS;
      for (let burst = 0; burst < BURSTS; burst++) {
        if (burst === BURSTS / 2) {
          await alice.write(`/msg carol ${needle}\n`);
          h1.sigkill();
        }
        await Promise.all(
          clients.map((client, i) =>
            client.write(
              sent[i].slice(burst * perBurst, (burst + 1) * perBurst).map((l) => `${l}\n`).join(""),
            )
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const texts = (client: DsysProcess) => new Set(shownLines(client).map((l) => l.text));
      const ops = [...sent[0], ...sent[1]];
      await waitUntil(
        () =>
          ops.every((t) => texts(alice).has(t) && texts(bob).has(t)) &&
          sent[2].every((t) => texts(carol).has(t)) && texts(carol).has(needle),
        TIMEOUT_MS,
        () => "not every line reached its room",
      );
      const heard = await listener.exited.then(() =>
        JSON.parse(listener.lines.stdout.at(-1) ?? "{}") as Record<string, unknown>
      );

      // Each room's lines: complete, once, in one order, at its members only.
      const opsOrder = (client: DsysProcess) =>
        shownLines(client).filter((l) => l.type === "message").map((l) => `${l.seq} ${l.text}`);
      assert.deepEqual(opsOrder(alice), opsOrder(bob), "alice and bob saw #ops in one order");
      for (const client of clients) {
        const lines = shownLines(client).map((l) => l.text!);
        assert.equal(new Set(lines).size, lines.length, `${client.label} printed a line twice`);
      }
      assert.ok(!sent[2].some((t) => texts(alice).has(t) || texts(bob).has(t)), "lobby in #ops");
      assert.ok(!ops.some((t) => texts(carol).has(t)), "#ops lines in the lobby");
      for (const [i, client] of [[0, alice], [1, bob]] as const) {
        const own = shownLines(client).filter((l) =>
          l.type === "message" && l.from === ["alice", "bob"][i]
        );
        assert.deepEqual(own.map((l) => l.text), sent[i], `${client.label}: own lines in order`);
      }

      // The direct message: at carol and alice, once; nowhere else; never on the group.
      const direct = (client: DsysProcess) =>
        shownLines(client).filter((l) => l.type === "direct" && l.text === needle);
      assert.equal(direct(carol).length, 1, "carol got it once");
      assert.equal(direct(alice).length, 1, "alice sees what she sent");
      assert.ok(!bob.stdout.includes(needle), "bob never printed it");
      assert.ok(
        chat.clients.every((c) => c === alice || c === carol || !c.stdout.includes(needle)),
      );
      assert.ok(
        (heard.decoded as number) > 0,
        `the listener decoded nothing: ${JSON.stringify(heard)}`,
      );
      assert.ok(
        ((heard.kinds as Record<string, number>)["chat-stream"] ?? 0) > 0,
        "no stream heard",
      );
      assert.ok((heard.directEntries as number) >= 1, "the stream carried the position");
      assert.equal(heard.rawHits, 0, "the text crossed the group in the clear");
      assert.equal(heard.decodedHits, 0, "the text crossed the group, readable with the secret");
    });
  },
});
