/**
 * Chat across a real LAN segment with the built executable (`dist/dsys`): three servers on
 * three namespaced hosts and `dsys chat --json` clients on other hosts. It checks the delivery
 * guarantees of the chat through a SIGKILLed leader while every process drops 10 % of its
 * datagrams, the history a late joiner receives, that clients on other hosts take committed lines
 * from the leader's multicast stream (and one whose host drops multicast gets them from its
 * server), and that a user name is unique in the cluster.
 *
 * A failing run's output (every process's standard output and error) is kept in a directory
 * under `/tmp` whose path ends the error message.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess, ExitStatus } from "../helpers/process.ts";
import {
  type ChatLab,
  type ChatLine,
  chatLines,
  type ChatMessageLine,
  chatMessages,
  sequencedLines,
  waitJoined,
  withChatLab,
} from "./chat_cluster.ts";
import { waitUntil } from "./cluster.ts";
import { type LabHost, labSkipReason, requireTools } from "./harness.ts";

const skip = labSkipReason();

/** A client's start-up: discovery, then its name granted by the leader. */
const JOIN_TIMEOUT_MS = 15_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The text of line `n` (from 1) that `user` sends: unique in the test, and says its origin. */
function lineText(user: string, n: number): string {
  return `${user} line ${String(n).padStart(3, "0")}`;
}

/** Compact description of a printed entry, to compare entries across clients. */
function entryKey(line: ChatLine): string {
  return line.type === "message"
    ? `message ${line.id} from ${line.from}: ${line.text}`
    : `${line.type} ${line.user}`;
}

// --- 1. Total order, exactly once, through a leader crash and loss ----------------------------

/** Lines each client sends. */
const LINES_PER_CLIENT = 200;
/** They are written in this many bursts… */
const BURSTS = 10;
/** …this far apart, so traffic flows before, during and after the leader's crash. */
const BURST_GAP_MS = 200;
/** The leader is SIGKILLed just before this burst. */
const CRASH_BEFORE_BURST = 5;
/** Each process drops this share of its datagrams, in each direction. */
const FAULTS = "drop=0.1";
/** `--timeout` of the clients: a discovery round, and the wait for acks at the end of input. */
const CLIENT_TIMEOUT_MS = 10_000;
/** From the end of input until every client printed every line it can expect. */
const DELIVERY_TIMEOUT_MS = 30_000;

/** The lines `user` sends, in order. */
function linesOf(user: string): string[] {
  return Array.from({ length: LINES_PER_CLIENT }, (_, k) => lineText(user, k + 1));
}

/** Writes every client's lines to its standard input in bursts; SIGKILLs `leader` midway. */
async function sendInBursts(
  clients: DsysProcess[],
  sent: string[][],
  leader: DsysProcess,
): Promise<void> {
  const perBurst = LINES_PER_CLIENT / BURSTS;
  for (let burst = 0; burst < BURSTS; burst++) {
    if (burst === CRASH_BEFORE_BURST) leader.signal("SIGKILL");
    await Promise.all(clients.map((client, i) => {
      const lines = sent[i].slice(burst * perBurst, (burst + 1) * perBurst);
      return client.write(lines.map((line) => `${line}\n`).join(""));
    }));
    await sleep(BURST_GAP_MS);
  }
}

/** The server (`h1`…) whose log says `user` joined there first. */
async function serverOf(chat: ChatLab, user: string): Promise<string> {
  const joinedHere = (server: DsysProcess) =>
    server.logs.some((line) =>
      line.properties?.event === "client-joined" && line.properties.user === user
    );
  await waitUntil(() => chat.servers.some(joinedHere), 5_000, () => `no server logged ${user}`);
  return `h${chat.servers.findIndex(joinedHere) + 1}`;
}

/** `client` printed positions one by one (in order, no gap, no repeat), each id once. */
function assertContiguousOnce(client: DsysProcess): void {
  const seqs = sequencedLines(client).map((line) => line.seq!);
  for (let k = 1; k < seqs.length; k++) {
    assert.equal(
      seqs[k],
      seqs[k - 1] + 1,
      `${client.label} printed seq ${seqs[k]} right after ${seqs[k - 1]}`,
    );
  }
  const missed = chatLines(client).filter((line) => line.type === "missed");
  assert.deepEqual(missed, [], `${client.label} skipped entries`);
  const messages = chatMessages(client);
  const ids = messages.map((message) => message.id);
  assert.equal(new Set(ids).size, ids.length, `${client.label} printed an id twice`);
  const texts = messages.map((message) => message.text);
  assert.equal(new Set(texts).size, texts.length, `${client.label} printed a line twice`);
}

/** Wherever two clients printed the same seq, they printed the same entry. */
function assertOneOrder(clients: DsysProcess[]): void {
  const bySeq = new Map<number, { key: string; label: string }>();
  for (const client of clients) {
    for (const line of sequencedLines(client)) {
      const key = entryKey(line);
      const known = bySeq.get(line.seq!);
      if (!known) bySeq.set(line.seq!, { key, label: client.label });
      else {
        assert.equal(
          key,
          known.key,
          `seq ${line.seq}: ${client.label} printed "${key}", ${known.label} "${known.key}"`,
        );
      }
    }
  }
}

/** `client` shows every sender's lines in the order they were sent (`sent` by user). */
function assertSenderOrder(client: DsysProcess, sent: Map<string, string[]>): void {
  const messages = chatMessages(client);
  for (const [user, lines] of sent) {
    const positions = messages.filter((message) => message.from === user)
      .map((message) => lines.indexOf(message.text));
    assert.ok(positions.every((p) => p >= 0), `${client.label}: a line ${user} never sent`);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      `${client.label} shows ${user}'s lines out of the order they were sent`,
    );
  }
}

Deno.test({
  name: "lab chat: every client delivers the same complete sequence through a leader crash " +
    "and 10% loss",
  ignore: skip !== undefined,
  async fn() {
    const options = { hosts: 6, servers: 3, env: { DSYS_FAULTS: FAULTS } };
    await withChatLab("chat-crash", options, async (chat) => {
      const users = ["alice", "bob", "carol"];
      const sent = new Map(users.map((user) => [user, linesOf(user)]));
      const clients = users.map((user, i) =>
        chat.client(chat.lab.hosts[3 + i], user, {
          flags: ["--follow", "--timeout", String(CLIENT_TIMEOUT_MS)],
        })
      );
      await Promise.all(clients.map((client, i) => waitJoined(client, users[i], JOIN_TIMEOUT_MS)));
      // Clients pick a server at random; those on h1 must fail over when it is killed.
      const attached = await Promise.all(users.map((user) => serverOf(chat, user)));

      await sendInBursts(clients, users.map((user) => sent.get(user)!), chat.servers[0]);
      await Promise.all(clients.map((client) => client.closeStdin()));

      // A client exits 0 once everything it sent is acknowledged (and, with --follow, then
      // waits for SIGTERM), or 1 when not within its --timeout: wait until each client still
      // running printed the lines of every client still running.
      const expected = () =>
        clients.flatMap((client, i) => client.running ? sent.get(users[i])! : []);
      const complete = (client: DsysProcess) => {
        const got = new Set(chatMessages(client).map((message) => message.text));
        return !client.running || expected().every((text) => got.has(text));
      };
      await waitUntil(() => clients.every(complete), DELIVERY_TIMEOUT_MS, () => "")
        .catch(() => {}); // What is missing is reported below.
      const statuses: ExitStatus[] = [];
      for (const client of clients) statuses.push(await client.stop("SIGTERM", 15_000));

      // Safety, whatever else happened.
      for (const client of clients) assertContiguousOnce(client);
      assertOneOrder(clients);
      for (const client of clients) assertSenderOrder(client, sent);
      // Every line of a client that exited 0 (all acknowledged) reached every client that
      // stayed up to the end (also exited 0).
      const stayed = clients.filter((_, i) => statuses[i].code === 0);
      for (const [i, user] of users.entries()) {
        if (statuses[i].code !== 0) continue;
        for (const client of stayed) {
          const got = new Set(chatMessages(client).map((message) => message.text));
          const lost = sent.get(user)!.filter((text) => !got.has(text));
          assert.deepEqual(
            lost,
            [],
            `${client.label} never printed ${lost.length} acknowledged lines of ${user}`,
          );
        }
      }

      // Liveness: two of three servers survive and 90 % of datagrams pass, so every client
      // gets all it sent acknowledged within its --timeout after the end of input.
      for (const [i, client] of clients.entries()) {
        assert.equal(
          statuses[i].code,
          0,
          `${client.label}, attached to ${attached[i]} (h1 was killed), exited ` +
            `${statuses[i].code}:\n${client.tail(5)}`,
        );
      }
      for (const [i, client] of clients.entries()) {
        const reconnected = chatLines(client).filter((line) => line.type === "reconnected");
        assert.equal(
          reconnected.length,
          attached[i] === "h1" ? 1 : 0,
          `${client.label}, attached to ${attached[i]}, says it reconnected: ` +
            JSON.stringify(reconnected),
        );
      }
      for (const server of chat.servers.slice(1)) {
        assert.ok(server.running, `${server.label} ended:\n${server.tail(5)}`);
      }
    });
  },
});

// --- 2. History for a late joiner ------------------------------------------------------------

/** Lines sent before the late joiner arrives. */
const EARLY_LINES = 12;
/** The late joiner's `--history`. */
const HISTORY = 5;
/** Lines sent once it has joined. */
const LIVE_LINES = 3;
/** Until a client printed what it waits for. */
const PRINT_TIMEOUT_MS = 10_000;

/** Resolves once `client` printed a message with text `text`, and returns it. */
async function waitForMessage(client: DsysProcess, text: string): Promise<ChatMessageLine> {
  await client.waitForStdout(`"text":${JSON.stringify(text)}`, { timeoutMs: PRINT_TIMEOUT_MS });
  return chatMessages(client).find((message) => message.text === text)!;
}

Deno.test({
  name: "lab chat: a late joiner receives the history first, then the live messages",
  ignore: skip !== undefined,
  async fn() {
    await withChatLab("chat-history", { hosts: 5, servers: 3 }, async (chat) => {
      const early = chat.client(chat.lab.hosts[3], "dave", { flags: ["--follow"] });
      await waitJoined(early, "dave", JOIN_TIMEOUT_MS);
      const earlyTexts = Array.from({ length: EARLY_LINES }, (_, k) => lineText("dave", k + 1));
      await early.write(earlyTexts.map((text) => `${text}\n`).join(""));
      await waitForMessage(early, earlyTexts.at(-1)!);
      const seen = chatMessages(early);
      assert.deepEqual(seen.map((message) => message.text), earlyTexts);

      const late = chat.client(chat.lab.hosts[4], "erin", {
        flags: ["--follow", "--history", String(HISTORY)],
      });
      await waitJoined(late, "erin", JOIN_TIMEOUT_MS);
      const liveTexts = Array.from(
        { length: LIVE_LINES },
        (_, k) => lineText("dave", EARLY_LINES + k + 1),
      );
      await early.write(liveTexts.map((text) => `${text}\n`).join(""));
      await waitForMessage(late, liveTexts.at(-1)!);
      await waitForMessage(early, liveTexts.at(-1)!);

      const shown = (message: ChatMessageLine) => ({
        seq: message.seq,
        id: message.id,
        from: message.from,
        text: message.text,
      });
      const history = seen.slice(-HISTORY).map(shown);
      const live = chatMessages(early).slice(EARLY_LINES).map(shown);
      assert.deepEqual(
        chatMessages(late).map(shown),
        [...history, ...live],
        `erin prints the last ${HISTORY} of dave's ${EARLY_LINES} lines, then the live ones`,
      );
      const seqs = sequencedLines(late).map((line) => line.seq!);
      assert.deepEqual(
        seqs,
        seqs.map((_, k) => seqs[0] + k),
        "erin prints contiguous seqs",
      );
      assert.equal(seqs[0], history[0].seq, "erin's stream starts with the history");

      for (const client of [early, late]) {
        await client.closeStdin();
        const status = await client.stop("SIGTERM");
        assert.equal(status.code, 0, `${client.label} exit: ${client.tail(5)}`);
      }
    });
  },
});

// --- 3. The leader's multicast stream ---------------------------------------------------------

/** Lines of the stream test, one every `STREAM_GAP_MS`: a few of the servers' status seconds. */
const STREAM_LINES = 60;
const STREAM_GAP_MS = 50;

/** The most clients taking the stream and stream datagrams that `server`'s status ever showed. */
function streamSeen(server: DsysProcess): { streamed: number; sent: number } {
  let streamed = 0;
  let sent = 0;
  for (const line of server.logs) {
    if (line.properties?.event !== "status") continue;
    const chat = line.properties.chat as { streamedClients: number; streamDatagrams: number };
    streamed = Math.max(streamed, chat.streamedClients);
    sent = Math.max(sent, chat.streamDatagrams);
  }
  return { streamed, sent };
}

/**
 * Carol (host 3) sends {@linkcode STREAM_LINES} lines that she and Dave (host 4) both print in
 * order, then both quit cleanly; returns what each server's status showed of the stream.
 */
async function carolTalksToDave(chat: ChatLab): Promise<{ streamed: number; sent: number }[]> {
  const carol = chat.client(chat.lab.hosts[3], "carol", { flags: ["--follow"] });
  const dave = chat.client(chat.lab.hosts[4], "dave", { flags: ["--follow"] });
  await waitJoined(carol, "carol", JOIN_TIMEOUT_MS);
  await waitJoined(dave, "dave", JOIN_TIMEOUT_MS);
  const texts = Array.from({ length: STREAM_LINES }, (_, k) => lineText("carol", k + 1));
  for (const text of texts) {
    await carol.write(`${text}\n`);
    await sleep(STREAM_GAP_MS);
  }
  for (const client of [dave, carol]) {
    await waitForMessage(client, texts.at(-1)!);
    assert.deepEqual(chatMessages(client).map((m) => m.text), texts, client.label);
  }
  const seen = chat.servers.map(streamSeen);
  for (const client of [carol, dave]) {
    await client.closeStdin();
    const status = await client.stop("SIGTERM");
    assert.equal(status.code, 0, `${client.label} exit: ${client.tail(5)}`);
  }
  return seen;
}

/** Drops every multicast datagram arriving at `host` (its namespace goes with the lab). */
async function blockMulticastInto(host: LabHost): Promise<void> {
  const args = ["netns", "exec", host.ns, "iptables", "-A", "INPUT", "-d", "224.0.0.0/4", "-j"];
  const { success, stderr } = await new Deno.Command("ip", {
    args: [...args, "DROP"],
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`iptables in ${host.ns}: ${new TextDecoder().decode(stderr)}`);
}

Deno.test({
  name: "lab chat: clients on other hosts take committed lines from the leader's multicast",
  ignore: skip !== undefined,
  async fn() {
    await withChatLab("chat-stream", { hosts: 5, servers: 3 }, async (chat) => {
      const seen = await carolTalksToDave(chat);
      assert.ok(
        seen.some((s) => s.sent >= STREAM_LINES / 2),
        `the leader multicast the lines: ${JSON.stringify(seen)}`,
      );
      assert.equal(
        seen.reduce((n, s) => n + s.streamed, 0),
        2,
        `both clients took the stream: ${JSON.stringify(seen)}`,
      );
    });
  },
});

Deno.test({
  name: "lab chat: a client whose host drops multicast gets every line from its server instead",
  ignore: labSkipReason("iptables") !== undefined,
  async fn() {
    requireTools("iptables");
    await withChatLab("chat-nostream", { hosts: 5, servers: 3 }, async (chat) => {
      await blockMulticastInto(chat.lab.hosts[4]);
      const seen = await carolTalksToDave(chat);
      assert.equal(
        seen.reduce((n, s) => n + s.streamed, 0),
        1,
        `only carol took the stream: ${JSON.stringify(seen)}`,
      );
    });
  },
});

// --- 4. Unique user names --------------------------------------------------------------------

Deno.test({
  name: "lab chat: a duplicate user name is refused with exit 2",
  ignore: skip !== undefined,
  async fn() {
    await withChatLab("chat-names", { hosts: 5, servers: 3 }, async (chat) => {
      const first = chat.client(chat.lab.hosts[3], "carol", { flags: ["--follow"] });
      await waitJoined(first, "carol", JOIN_TIMEOUT_MS);
      const second = chat.client(chat.lab.hosts[4], "carol", { flags: ["--follow"] });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        second.exited,
        new Promise<undefined>((resolve) =>
          timer = setTimeout(() => resolve(undefined), JOIN_TIMEOUT_MS)
        ),
      ]).finally(() => clearTimeout(timer));
      assert.ok(status, `the second carol is still running: ${second.tail(5)}`);
      assert.equal(status.code, 2, `the second carol's exit code; stderr:\n${second.stderr}`);
      assert.match(second.stderr, /^dsys: the user name carol is already taken$/m);
      assert.deepEqual(
        chatMessages(second),
        [],
        "the refused client printed no message",
      );

      await first.write("still here\n");
      await waitForMessage(first, "still here");
      assert.ok(first.running, "the first carol keeps chatting");
      await first.closeStdin();
      const firstStatus = await first.stop("SIGTERM");
      assert.equal(firstStatus.code, 0, `the first carol's exit: ${first.tail(5)}`);
    });
  },
});
