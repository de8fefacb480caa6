/**
 * One order that never changes, with the built executable on namespaced hosts: the leader's host
 * hangs (SIGSTOP) for 4 s while two clients keep posting every 40 ms, the others elect a new
 * leader and go on, the old leader wakes up and, ranking highest, wins again. Every client — the
 * two live ones and one that joins afterwards and reads the whole history — must show every line
 * once, at the same position, and nobody may be told that lines moved.
 *
 * @module
 */

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { DsysProcess } from "../helpers/process.ts";
import {
  chatLines,
  chatMessages,
  sequencedLines,
  waitJoined,
  withChatLab,
} from "./chat_cluster.ts";
import { waitUntil } from "./cluster.ts";
import { labSkipReason } from "./harness.ts";

const skip = labSkipReason();
const TIMEOUT_MS = 30_000;
/** Lines each live client posts, one every `GAP_MS`. */
const LINES = 150;
const GAP_MS = 40;

/** Posts `LINES` lines from `client`, one every `GAP_MS`. */
async function post(client: DsysProcess, user: string): Promise<void> {
  for (let n = 1; n <= LINES; n++) {
    await client.write(`${user} line ${String(n).padStart(3, "0")}\n`);
    await sleep(GAP_MS);
  }
}

/** Position → message id (or presence), as `client` printed them. */
function positions(client: DsysProcess): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of sequencedLines(client)) {
    out.set(line.seq!, line.type === "message" ? String(line.id) : `${line.type} ${line.user}`);
  }
  return out;
}

Deno.test({
  name: "lab order: a leader hung for 4 s wins again on waking and no committed line moves",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { hosts: 6, servers: 3, startTimeoutMs: TIMEOUT_MS };
    await withChatLab("order-pause", options, async (chat) => {
      const [h1, , , h4, h5, h6] = chat.lab.hosts;
      const flags = ["--follow", "--timeout", String(TIMEOUT_MS)];
      const alice = chat.client(h4, "alice", { flags });
      const bob = chat.client(h5, "bob", { flags });
      await waitJoined(alice, "alice", TIMEOUT_MS);
      await waitJoined(bob, "bob", TIMEOUT_MS);
      const posting = Promise.all([post(alice, "alice"), post(bob, "bob")]);
      await sleep(1_500);
      h1.pause();
      await sleep(4_000);
      h1.resume();
      await posting;
      const all = (client: DsysProcess) => () => chatMessages(client).length === 2 * LINES;
      for (const client of [alice, bob]) {
        await waitUntil(all(client), TIMEOUT_MS, () => `${client.label}: ${client.tail()}`);
      }
      const late = chat.client(h6, "carol", { flags: [...flags, "--history", "10000"] });
      await waitJoined(late, "carol", TIMEOUT_MS);
      await waitUntil(all(late), TIMEOUT_MS, () => `carol: ${late.tail()}`);
      const leaders = chat.servers[0].logs.filter((l) => l.properties?.event === "chat-leading");
      assert.ok(leaders.length >= 2, "h1 did not lead again after it woke up");
      const reference = positions(alice);
      for (const client of [alice, bob, late]) {
        const ids = chatMessages(client).map((m) => m.id);
        assert.equal(new Set(ids).size, ids.length, `${client.label} showed a line twice`);
        for (const [seq, what] of positions(client)) {
          const known = reference.get(seq);
          if (known !== undefined) {
            assert.equal(what, known, `${client.label} shows ${what} at ${seq}, alice ${known}`);
          }
        }
        const told = chatLines(client).filter((l) => l.type === "reordered");
        assert.deepEqual(told, [], `${client.label} was told lines moved`);
      }
      const adopted = chat.servers.flatMap((s) =>
        s.logs.filter((l) => l.properties?.event === "chat-adopted")
      );
      assert.deepEqual(adopted, [], "a server replaced committed entries");
    });
  },
});
