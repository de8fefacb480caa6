/**
 * Forged numbers against the built executable in namespaced hosts: three servers (`h1` leads)
 * and, where the chat matters, two `dsys chat` clients, while a forging host (`forge_bounds.ts`
 * on `h6`) sends what the decoder once accepted past any sane bound:
 *
 * - one heartbeat of a made-up server claiming term 2^53 − 1, then one claiming the highest term a
 *   receiver takes, in an open cluster and, holding the secret, as an insider: no server stops,
 *   the cluster keeps a leader, elects above that term even after the leader dies, and the chat
 *   works throughout;
 * - three heartbeats with a real server's id and incarnation 2^53 − 1: that server is not declared
 *   dead (nobody takes its real datagrams for stale);
 * - 1 000 discovers naming another host as their reply address: no more bytes reach that host
 *   than the forger sent (QUIC's anti-amplification rule; here: none).
 *
 * A failing run's output (every process's standard output and error) is kept in a directory under
 * `/tmp` whose path ends the error message.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DsysProcess } from "../helpers/process.ts";
import { chatMessages, saveOutput, waitJoined } from "./chat_cluster.ts";
import { currentLeader, waitForLeader, waitUntil } from "./cluster.ts";
import { spawnDsysOn } from "./dsys.ts";
import { Lab, type LabHost, labSkipReason } from "./harness.ts";
import type { LabProcess } from "./process.ts";

const skip = labSkipReason();

const FORGE = new URL("./forge_bounds.ts", import.meta.url).pathname;
const GROUP = "239.255.77.77:7400";
/** Startup, joins, failure detection after a forgery, deliveries: generous for busy machines. */
const TIMEOUT_MS = 30_000;
/** How long a forgery is given to do harm before the cluster is judged (failure detection ~1 s). */
const HARM_MS = 4_000;
const TERM_LIMIT = 2 ** 53 - 1;

/** A running lab cluster. */
interface Cluster {
  lab: Lab;
  cluster: string;
  secret?: string;
  servers: DsysProcess[];
  clients: DsysProcess[];
}

/**
 * Starts three servers on h1–h3 (h1 leads) and, with `chat`, alice on h4 and bob on h5; runs
 * `body`; keeps the output of a failing run; kills everything and deletes the namespaces.
 */
async function withCluster(
  name: string,
  options: { secret: boolean; chat: boolean },
  body: (c: Cluster) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({ hosts: 6 });
  const c: Cluster = {
    lab,
    cluster: `bounds-${lab.run}`,
    secret: options.secret ? crypto.randomUUID() : undefined,
    servers: [],
    clients: [],
  };
  const network = (host: LabHost) => [
    "--cluster",
    c.cluster,
    "--iface",
    host.iface,
    ...(c.secret ? ["--secret", c.secret] : []),
    "--log-json",
  ];
  try {
    const [h1, h2, h3, h4, h5] = lab.hosts;
    for (const host of [h1, h2, h3]) {
      c.servers.push(spawnDsysOn(host, "node", [
        "serve",
        "--id",
        host.name,
        "--priority",
        host === h1 ? "1" : "0",
        ...network(host),
      ], { label: `server ${host.name}` }));
    }
    await waitForLeader(c.servers, "h1", TIMEOUT_MS);
    await c.servers[0].waitForEvent("chat-leading", {}, { timeoutMs: TIMEOUT_MS });
    if (options.chat) {
      for (const [host, user] of [[h4, "alice"], [h5, "bob"]] as const) {
        c.clients.push(spawnDsysOn(host, "node", [
          "chat",
          "--user",
          user,
          "--json",
          "--follow",
          ...network(host),
        ], { label: `${user} on ${host.name}`, stdin: true }));
      }
      await Promise.all(
        c.clients.map((client, i) => waitJoined(client, ["alice", "bob"][i], TIMEOUT_MS)),
      );
    }
    await body(c);
  } catch (error) {
    const dir = await saveOutput(`${name}-${lab.run}`, [...c.servers, ...c.clients]);
    if (error instanceof Error) error.message += `\n(output of this run kept in ${dir})`;
    throw error;
  } finally {
    await Promise.all([...c.servers, ...c.clients].map((proc) => proc.kill()));
    await lab.destroy();
  }
}

/** Runs `forge_bounds.ts` with `args` on `host` (inside its namespace). */
function forgeOn(host: LabHost, args: string[]): LabProcess {
  return host.spawn([Deno.execPath(), "run", "--unstable-net", "-A", FORGE, ...args], {
    label: `forge ${args[0]} on ${host.name}`,
  });
}

/** The counts a finished `forge_bounds.ts` printed last. */
async function counts(proc: LabProcess): Promise<{ datagrams: number; bytes: number }> {
  const status = await proc.exited;
  assert.equal(status.code, 0, `${proc.label} failed:\n${proc.lines.stderr.join("\n")}`);
  return JSON.parse(proc.lines.stdout.at(-1)!);
}

/** Sends `count` forged datagrams from h6 to `to` (`host:port`, comma-separated). */
function send(
  c: Cluster,
  to: string,
  kind: string,
  sender: {
    id: string;
    role?: string;
    incarnation?: number;
    replyHost?: string;
    replyPort?: number;
  },
  body: Record<string, unknown>,
  count = 1,
): Promise<{ datagrams: number; bytes: number }> {
  const h6 = c.lab.hosts[5];
  return counts(forgeOn(h6, [
    "send",
    "--iface-addr",
    h6.address,
    "--cluster",
    c.cluster,
    ...(c.secret ? ["--secret", c.secret] : []),
    "--kind",
    kind,
    "--id",
    sender.id,
    "--role",
    sender.role ?? "server",
    ...(sender.incarnation !== undefined ? ["--incarnation", String(sender.incarnation)] : []),
    ...(sender.replyHost ? ["--reply-host", sender.replyHost] : []),
    ...(sender.replyPort ? ["--reply-port", String(sender.replyPort)] : []),
    "--body",
    JSON.stringify(body),
    "--to",
    to,
    "--count",
    String(count),
  ]));
}

/** The servers' unicast addresses. */
function serverAddresses(c: Cluster, ids = ["h1", "h2", "h3"]): string {
  return c.lab.hosts.filter((h) => ids.includes(h.name)).map((h) => `${h.address}:7401`).join(",");
}

/** A heartbeat body (the numbers are the forger's). */
function heartbeat(leader: string, priority: number, term: number): Record<string, unknown> {
  return { version: "0.1.0", priority, leader, term, view: 1, joining: false };
}

function assertAllRunning(c: Cluster): void {
  for (const proc of [...c.servers, ...c.clients]) {
    assert.ok(proc.running, `${proc.label} ended:\n${proc.tail(8)}`);
  }
}

/** Each client sends one line tagged `tag`; resolves once both clients printed both lines. */
async function chatWorks(c: Cluster, tag: string): Promise<void> {
  const texts = c.clients.map((_, i) => `${tag} from ${i}`);
  await Promise.all(c.clients.map((client, i) => client.write(`${texts[i]}\n`)));
  await waitUntil(
    () => {
      assertAllRunning(c);
      return c.clients.every((client) => {
        const got = new Set(chatMessages(client).map((m) => m.text));
        return texts.every((text) => got.has(text));
      });
    },
    TIMEOUT_MS,
    () => c.clients.map((cl) => `${cl.label} printed ${chatMessages(cl).length}`).join("; "),
  );
}

/** Waits until every server follows the same leader, one of `among` (default h1–h3). */
async function oneLeader(c: Cluster, among = ["h1", "h2", "h3"]): Promise<string> {
  let leader: string | null | undefined;
  await waitUntil(
    () => {
      assertAllRunning(c);
      const seen = new Set(c.servers.map((s) => currentLeader(s)?.leader));
      leader = [...seen][0];
      return seen.size === 1 && among.includes(leader ?? "");
    },
    TIMEOUT_MS,
    () => c.servers.map((s) => `${s.label} follows ${currentLeader(s)?.leader}`).join(", "),
  );
  return leader!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const secret of [false, true]) {
  const mode = secret ? "an insider with the secret" : "an open cluster";
  Deno.test({
    name: `lab forgery bounds: a heartbeat claiming term 2^53 - 1 stops nothing (${mode})`,
    ignore: skip !== undefined,
    async fn() {
      await withCluster(`term-${secret ? "secret" : "open"}`, { secret, chat: true }, async (c) => {
        await chatWorks(c, "before");
        const claim = heartbeat("mallory", 2 ** 31 - 1, TERM_LIMIT);
        await send(c, serverAddresses(c), "heartbeat", { id: "mallory" }, claim);
        await sleep(HARM_MS);
        assertAllRunning(c);
        await oneLeader(c);
        await chatWorks(c, "after the limit");
        // The highest term a receiver takes (its clock plus the 2-minute skew, less a margin) is
        // taken; the elections after it outbid it, and so does the failover after the leader dies.
        const highest = Date.now() + 60_000;
        const atBound = heartbeat("mallory", 2 ** 31 - 1, highest);
        await send(c, serverAddresses(c), "heartbeat", { id: "mallory" }, atBound);
        await sleep(HARM_MS);
        assertAllRunning(c);
        await oneLeader(c);
        await chatWorks(c, "after the highest term");
        for (const server of c.servers) {
          assert.ok(currentLeader(server)!.term > highest, `${server.label}: elected above it`);
        }
        const [leader] = c.servers.splice(0, 1);
        await leader.kill();
        await oneLeader(c, ["h2", "h3"]);
        await chatWorks(c, "after the failover");
        for (const server of c.servers) {
          assert.equal(server.logs.filter((l) => l.level === "ERROR").length, 0, server.tail(8));
        }
      });
    },
  });
}

Deno.test({
  name: "lab forgery bounds: three heartbeats with h2's id and incarnation 2^53 - 1 silence nobody",
  ignore: skip !== undefined,
  async fn() {
    await withCluster("incarnation", { secret: false, chat: true }, async (c) => {
      const term = currentLeader(c.servers[0])!.term;
      const deaths = () =>
        c.servers.flatMap((s) =>
          s.logs.filter((l) => l.properties?.event === "member-dead" && l.properties?.id === "h2")
            .map(() => s.label)
        );
      assert.deepEqual(deaths(), []);
      const h2 = c.lab.hosts[1];
      await send(
        c,
        serverAddresses(c, ["h1", "h3"]),
        "heartbeat",
        { id: "h2", incarnation: 2 ** 53 - 1, replyHost: h2.address },
        heartbeat("h1", 0, term),
        3,
      );
      await sleep(HARM_MS);
      assertAllRunning(c);
      assert.deepEqual(deaths(), [], "h2 was declared dead by the servers named");
      assert.equal(await oneLeader(c), "h1");
      await chatWorks(c, "after the incarnation");
    });
  },
});

Deno.test({
  name: "lab forgery bounds: 1 000 discovers naming another host reflect nothing to it",
  ignore: skip !== undefined,
  async fn() {
    await withCluster("reflection", { secret: false, chat: false }, async (c) => {
      const victim = c.lab.hosts[4];
      const port = 7777;
      const listener = forgeOn(victim, [
        "listen",
        "--iface-addr",
        victim.address,
        "--port",
        String(port),
        "--ms",
        String(HARM_MS + 6_000),
      ]);
      await listener.waitForLine("stdout", (line) => line.includes("listening"), TIMEOUT_MS);
      const sent = await send(
        c,
        GROUP,
        "discover",
        { id: "prober", role: "probe", replyHost: victim.address, replyPort: port },
        { nonce: 1 },
        1_000,
      );
      const reached = await counts(listener);
      console.log(
        `forged ${JSON.stringify(sent)}; reached the named host ${JSON.stringify(reached)}`,
      );
      assert.equal(sent.datagrams, 1_000);
      assert.ok(
        reached.bytes <= sent.bytes,
        `${reached.bytes} bytes reached the named host for ${sent.bytes} forged`,
      );
      assert.equal(reached.datagrams, 0);
      assertAllRunning(c);
    });
  },
});
