/**
 * `serve --http`: the address flag, the endpoint's routes in-process, and real servers on
 * loopback (the built executable under Node and the source under Deno) answering `/status`
 * and `/metrics` on a random port.
 *
 * @module
 */

import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { ConfigError } from "../src/config/mod.ts";
import { parseHttpAddress, startHttpServer } from "../src/server/http.ts";
import type { ServerStatusReport } from "../src/server/server.ts";
import {
  type DsysProcess,
  LAUNCHERS,
  runDsys,
  startServers,
  testNetwork,
} from "./helpers/process.ts";

Deno.test("--http: a bare port listens on loopback; host:port as given; junk refused", () => {
  assert.deepEqual(parseHttpAddress("9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseHttpAddress("0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseHttpAddress("127.0.0.2:80"), { host: "127.0.0.2", port: 80 });
  assert.deepEqual(parseHttpAddress("localhost:9464"), { host: "localhost", port: 9464 });
  assert.deepEqual(parseHttpAddress("0.0.0.0:9464"), { host: "0.0.0.0", port: 9464 });
  for (const bad of ["", "x", "70000", "1.2.3:80", "300.1.1.1:80", "host:80", ":80", "80:"]) {
    assert.throws(() => parseHttpAddress(bad), ConfigError, bad);
  }
});

/** A minimal status for the in-process endpoint. */
function fakeStatus(): ServerStatusReport {
  const rejections = {
    "too-large": 0,
    "bad-magic": 0,
    "bad-version": 0,
    "malformed": 0,
    "wrong-cluster": 0,
    "unknown-key": 0,
    "bad-tag": 0,
    "misdirected": 0,
    "replayed": 0,
    "too-old": 0,
  };
  return {
    node: {
      id: "a",
      address: "127.0.0.1:7401",
      version: "0.1.0",
      priority: 0,
      incarnation: 1,
      uptimeMs: 1,
      cluster: "c",
      group: "239.255.1.1:7400",
      transport: "deno",
      interfaces: ["lo"],
    },
    view: 0,
    leader: null,
    term: 0,
    members: [],
    counters: {
      sentDatagrams: 0,
      sentBytes: 0,
      receivedDatagrams: 0,
      receivedBytes: 0,
      sendErrors: 0,
      handlerErrors: 0,
      rejections,
      protocol: {
        electionsStarted: 0,
        electionsWon: 0,
        viewChanges: 0,
        suspicions: 0,
        suspicionsRefuted: 0,
        deathsDeclared: 0,
        stallsDetected: 0,
      },
      chat: {
        role: "following",
        term: 0,
        first: 1,
        last: 0,
        commit: 0,
        synced: false,
        clients: 0,
        buffered: 0,
        conflicts: 0,
        throttled: 0,
        digest: 2166136261,
        streamedClients: 1,
        streamDatagrams: 64,
        rooms: [],
      },
      guard: {
        misbehaviour: { flood: 0, invalid: 0, contradiction: 0 },
        ignored: 0,
        ignoring: 0,
      },
      leaderChanges: 0,
    },
  };
}

Deno.test("the endpoint serves /status and /metrics, 404 elsewhere, 405 for POST, 503 early", async () => {
  let ready = false;
  const http = await startHttpServer(
    { host: "127.0.0.1", port: 0 },
    () => ready ? fakeStatus() : undefined,
  );
  const base = `http://127.0.0.1:${http.address.port}`;
  try {
    const early = await fetch(`${base}/status`);
    assert.equal(early.status, 503);
    await early.body?.cancel();
    ready = true;

    const status = await fetch(`${base}/status`);
    assert.equal(status.status, 200);
    assert.match(status.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await status.json(), fakeStatus());

    const metrics = await fetch(`${base}/metrics?x=1`);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.match(await metrics.text(), /^dsys_view_number 0$/m);

    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get("content-length")) > 0);

    for (const path of ["/", "/statusx", "/metrics/", "/favicon.ico"]) {
      const missing = await fetch(`${base}${path}`);
      assert.equal(missing.status, 404, path);
      await missing.body?.cancel();
    }
    const post = await fetch(`${base}/status`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
  } finally {
    await http.close();
  }
});

Deno.test("a taken --http address is a one-line error", async () => {
  const first = await startHttpServer({ host: "127.0.0.1", port: 0 }, fakeStatus);
  try {
    await assert.rejects(
      startHttpServer({ host: "127.0.0.1", port: first.address.port }, fakeStatus),
      new RegExp(
        `^Error: --http 127\\.0\\.0\\.1:${first.address.port}: cannot listen \\(address in use\\)$`,
      ),
    );
  } finally {
    await first.close();
  }
});

/** The member ids in a /status document. */
function memberIds(status: ServerStatusReport): string[] {
  return status.members.map((m) => m.id).sort();
}

for (const launcher of [LAUNCHERS.binary, LAUNCHERS.source]) {
  Deno.test(`${launcher.name} serve --http 127.0.0.1:0: /status and /metrics of a live pair`, async () => {
    const net = testNetwork();
    const servers: DsysProcess[] = [];
    try {
      servers.push(...startServers(launcher, net, ["a", "b"], ["--http", "127.0.0.1:0"]));
      const urls = await Promise.all(
        servers.map(async (s) => String((await s.waitForEvent("http-listening")).url)),
      );
      for (const url of urls) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      await Promise.all(servers.map((s) => s.waitForEvent("leader-changed", { leader: "b" })));

      const [statusA, statusB] = await Promise.all(urls.map(async (url) => {
        const response = await fetch(`${url}/status`);
        assert.equal(response.status, 200);
        return await response.json() as ServerStatusReport;
      }));
      assert.equal(statusA.node.id, "a");
      assert.equal(statusA.node.cluster, net.cluster);
      assert.equal(statusA.node.group, `${net.group}:${net.port}`);
      assert.deepEqual(statusA.node.interfaces, ["lo"]);
      assert.equal(statusA.leader, "b");
      assert.equal(statusB.leader, "b");
      assert.equal(statusA.term, statusB.term);
      assert.deepEqual(memberIds(statusA), ["a", "b"]);
      assert.ok(statusA.counters.receivedDatagrams > 0);
      assert.ok(statusA.counters.protocol.viewChanges >= 1);
      assert.ok(statusA.counters.leaderChanges >= 1);

      const response = await fetch(`${urls[1]}/metrics`);
      assert.equal(response.status, 200);
      const families = new Map(
        (parsePrometheus(await response.text()) as { name: string; metrics: { value: string }[] }[])
          .map((f) => [f.name, f]),
      );
      assert.equal(families.get("dsys_is_leader")?.metrics[0].value, "1");
      assert.equal(families.get("dsys_term")?.metrics[0].value, String(statusB.term));
      assert.ok(Number(families.get("dsys_datagrams_sent_total")?.metrics[0].value) > 0);
      assert.ok(Number(families.get("dsys_elections_won_total")?.metrics[0].value) >= 1);

      const missing = await fetch(`${urls[0]}/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();

      for (const server of servers) {
        assert.deepEqual(await server.stop("SIGTERM"), { code: 0, signal: null }, server.tail());
      }
      await assert.rejects(
        fetch(`${urls[0]}/status`),
        TypeError,
        "the endpoint closes with the server",
      );
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
    }
  });
}

Deno.test("serve --http with junk or a taken port exits 2 with one line", async () => {
  const net = testNetwork();
  const junk = await runDsys(LAUNCHERS.source, ["serve", ...net.args, "--http", "nope"]);
  assert.equal(junk.code, 2, junk.stderr);
  assert.equal(junk.stderr.trim().split("\n").length, 1, junk.stderr);
  assert.match(junk.stderr, /^dsys: --http "nope": expected \[host:\]port/);

  const taken = await startHttpServer({ host: "127.0.0.1", port: 0 }, fakeStatus);
  try {
    const port = String(taken.address.port);
    const result = await runDsys(LAUNCHERS.source, ["serve", ...net.args, "--http", port]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.equal(
      result.stderr.trim(),
      `dsys: --http 127.0.0.1:${port}: cannot listen (address in use)`,
    );
  } finally {
    await taken.close();
  }
});
