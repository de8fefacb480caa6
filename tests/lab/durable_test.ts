/**
 * Chat history that survives the loss of every server, with the built executable (`dist/dsys`) in
 * the lab: three servers keep their chat log in a data directory each; every server is SIGKILLed
 * (a power cut of the whole cluster, as far as the processes can tell) and started again, and a
 * new client asking for the history gets every acknowledged line, once each, in the order the
 * live clients saw. Then the same with the kill in the middle of a burst of lines, repeated.
 *
 * A failing run's output is kept in a directory under `/tmp` whose path ends the error message.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { type ChatLab, chatMessages, waitJoined, withChatLab } from "./chat_cluster.ts";
import { waitForLeader, waitUntil } from "./cluster.ts";
import { labSkipReason } from "./harness.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const skip = labSkipReason();

/** Discovery and the name's grant, on a busy machine. */
const JOIN_TIMEOUT_MS = 20_000;
/** Servers restarted together agree on a leader and it gathers the logs. */
const RESTART_TIMEOUT_MS = 30_000;
/** Every line reaches every client. */
const DELIVERY_TIMEOUT_MS = 60_000;
/** Kill-in-a-burst rounds (`DSYS_DURABLE_ROUNDS` overrides). */
const ROUNDS = Number(Deno.env.get("DSYS_DURABLE_ROUNDS") ?? "20");

/** Kills every server with SIGKILL and starts them again; waits until `h1` leads the chat. */
async function killAndRestartServers(chat: ChatLab): Promise<void> {
  await Promise.all(chat.servers.map(async (server) => {
    server.signal("SIGKILL");
    await server.exited;
  }));
  for (let i = 0; i < chat.servers.length; i++) chat.restartServer(i);
  await waitForLeader(chat.servers, "h1", RESTART_TIMEOUT_MS);
  await chat.servers[0].waitForEvent("chat-leading", {}, { timeoutMs: RESTART_TIMEOUT_MS });
}

/** A new client on `h<host>` asking for `history` past lines; resolves with it once joined. */
async function historyReader(
  chat: ChatLab,
  host: number,
  user: string,
  history = 1000,
): Promise<DsysProcess> {
  const reader = chat.client(chat.lab.hosts[host], user, { flags: ["--history", String(history)] });
  await waitJoined(reader, user, JOIN_TIMEOUT_MS);
  return reader;
}

/** The texts `client` printed, in order. */
function texts(client: DsysProcess): string[] {
  return chatMessages(client).map((message) => message.text);
}

Deno.test({
  name: "lab durable: after a SIGKILL of every server, a new client gets all 200 lines in the " +
    "order the live clients saw",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir("dsys-durable-", async (dataDir) => {
      await withChatLab("durable", { hosts: 6, servers: 3, dataDir }, async (chat) => {
        const users = ["ann", "ben"];
        const sent = users.map((user) =>
          Array.from({ length: 100 }, (_, k) => `${user} line ${String(k + 1).padStart(3, "0")}`)
        );
        const clients = users.map((user, i) =>
          chat.client(chat.lab.hosts[3 + i], user, { flags: ["--follow"] })
        );
        await Promise.all(
          clients.map((client, i) => waitJoined(client, users[i], JOIN_TIMEOUT_MS)),
        );
        for (let burst = 0; burst < 10; burst++) {
          await Promise.all(
            clients.map((client, i) =>
              client.write(sent[i].slice(burst * 10, burst * 10 + 10).map((l) => `${l}\n`).join(""))
            ),
          );
        }
        const all = sent.flat();
        await waitUntil(
          () => clients.every((client) => texts(client).length >= all.length),
          DELIVERY_TIMEOUT_MS,
          () => `live clients printed ${clients.map((c) => texts(c).length)} of ${all.length}`,
        );
        const seen = texts(clients[0]);
        assert.deepEqual(texts(clients[1]), seen, "the live clients saw one order");
        assert.deepEqual([...seen].sort(), [...all].sort(), "every line once");
        await Promise.all(clients.map((client) => client.kill()));

        await killAndRestartServers(chat);
        const reader = await historyReader(chat, 5, "cat");
        await waitUntil(
          () => texts(reader).length >= all.length,
          DELIVERY_TIMEOUT_MS,
          () => `the new client got ${texts(reader).length} of ${all.length} lines`,
        );
        assert.deepEqual(texts(reader), seen, "the history after the restart is what was seen");
      });
    });
  },
});

Deno.test({
  name: `lab durable: SIGKILL of every server during a burst, ${ROUNDS} times: no acknowledged ` +
    "line is missing or doubled after the restart",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir("dsys-durable-", async (dataDir) => {
      await withChatLab("durable-burst", { hosts: 6, servers: 3, dataDir }, async (chat) => {
        /** Every line a writer printed back (committed: acknowledged), by round. */
        const acknowledged: string[] = [];
        for (let round = 1; round <= ROUNDS; round++) {
          const user = `w${round}`;
          const writer = chat.client(chat.lab.hosts[3], user, { flags: ["--follow"] });
          await waitJoined(writer, user, JOIN_TIMEOUT_MS);
          const lines = Array.from({ length: 200 }, (_, k) => `${user} burst line ${k + 1}`);
          await writer.write(lines.map((line) => `${line}\n`).join(""));
          // Kill while the burst is under way: some lines acknowledged, others not yet.
          await waitUntil(
            () => texts(writer).filter((t) => t.startsWith(`${user} `)).length >= 10 + round * 5,
            DELIVERY_TIMEOUT_MS,
            () => `${user} printed ${texts(writer).length} lines`,
          );
          await Promise.all(chat.servers.map(async (server) => {
            server.signal("SIGKILL");
            await server.exited;
          }));
          writer.signal("SIGKILL");
          await writer.exited;
          acknowledged.push(...texts(writer).filter((t) => t.startsWith(`${user} `)));
          for (let i = 0; i < chat.servers.length; i++) chat.restartServer(i);
          await waitForLeader(chat.servers, "h1", RESTART_TIMEOUT_MS);
          await chat.servers[0].waitForEvent("chat-leading", {}, { timeoutMs: RESTART_TIMEOUT_MS });
          // Every round's lines, joins and leaves fit the server's memory window (`logLimit`).
          const reader = await historyReader(chat, 4 + (round % 2), `r${round}`, 10_000);
          const history = () => texts(reader);
          await waitUntil(
            () => acknowledged.every((line) => history().includes(line)),
            DELIVERY_TIMEOUT_MS,
            () =>
              `round ${round}: the history lacks ${
                acknowledged.filter((l) => !history().includes(l)).slice(0, 5)
              }… (${acknowledged.length} acknowledged)`,
          );
          const doubled = history().filter((line, k) => history().indexOf(line) !== k);
          assert.deepEqual(doubled, [], `round ${round}: lines printed twice`);
          await reader.kill();
        }
      });
    });
  },
});

/** Fills the file system of `dir` with `file` until a write fails with ENOSPC. */
async function fill(file: string): Promise<void> {
  const chunk = new Uint8Array(16 * 1024);
  const handle = await Deno.open(file, { write: true, create: true });
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if (!(error instanceof Error) || !/ENOSPC|No space left/.test(String(error))) throw error;
  } finally {
    handle.close();
  }
}

async function run(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command(args[0], { args: args.slice(1) }).output();
  if (!success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

Deno.test({
  name: "lab durable: a server whose disk is full stops acknowledging, says why, and goes on " +
    "once space is back, losing nothing",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir("dsys-durable-enospc-", async (dataDir) => {
      const tmpfs = `${dataDir}/h2`;
      await Deno.mkdir(tmpfs);
      await run("mount", "-t", "tmpfs", "-o", "size=1m", "dsys-test-enospc", tmpfs);
      try {
        await withChatLab("durable-enospc", { hosts: 5, servers: 3, dataDir }, async (chat) => {
          const writer = chat.client(chat.lab.hosts[3], "ann", { flags: ["--follow"] });
          await waitJoined(writer, "ann", JOIN_TIMEOUT_MS);
          const lines = Array.from(
            { length: 60 },
            (_, k) => `ann line ${k + 1} ${"x".repeat(100)}`,
          );
          await writer.write(lines.slice(0, 20).map((l) => `${l}\n`).join(""));
          await waitUntil(() => texts(writer).length >= 20, DELIVERY_TIMEOUT_MS, () => "first 20");

          const filler = `${tmpfs}/filler`;
          await fill(filler);
          await writer.write(lines.slice(20).map((l) => `${l}\n`).join(""));
          const full = await chat.servers[1].waitForLog(
            (line) => line.properties?.event === "chat-log-failing",
            "a chat-log-failing event",
            { timeoutMs: DELIVERY_TIMEOUT_MS },
          );
          assert.match(full.message, /ENOSPC: the disk is full\): no more lines are acknowledged/);
          const before = texts(writer).length;
          assert.ok(before < lines.length, "not every line was acknowledged with h2's disk full");

          await Deno.remove(filler);
          await chat.servers[1].waitForEvent("chat-log-recovered", {}, {
            timeoutMs: DELIVERY_TIMEOUT_MS,
          });
          await waitUntil(
            () => texts(writer).length >= lines.length,
            DELIVERY_TIMEOUT_MS,
            () => `${texts(writer).length} of ${lines.length} lines after space came back`,
          );
          assert.deepEqual(texts(writer), lines, "every line once, in the order sent");
        });
      } finally {
        await run("umount", tmpfs);
      }
    });
  },
});
