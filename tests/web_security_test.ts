import assert from "node:assert/strict";
import { originAllowed, pageOwner, tokenAllows, webToken } from "../src/web/security.ts";
import { chatPage } from "../src/web/chat_page.ts";
import { clusterPage } from "../src/web/cluster_page.ts";
import { inviteLink } from "../cmd/invite.ts";
import { peerOrigins } from "../src/web/mod.ts";
import type { ServerStatusReport } from "../src/server/server.ts";

Deno.test("the invite token is derived from the secret and the cluster, and opens only those", () => {
  const token = webToken("s3cret", "lan");
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.equal(webToken("s3cret", "lan"), token);
  assert.notEqual(webToken("other", "lan"), token);
  assert.notEqual(webToken("s3cret", "lan2"), token);
  assert.ok(!token.includes("s3cret"));
  assert.ok(tokenAllows(["s3cret"], "lan", token));
  assert.ok(tokenAllows(["new", "s3cret"], "lan", token), "a retiring secret's token still opens");
  assert.ok(!tokenAllows(["s3cret"], "lan2", token));
  for (const bad of [undefined, null, "", token.slice(1), token.toUpperCase(), `${token}0`]) {
    assert.ok(!tokenAllows(["s3cret"], "lan", bad), String(bad));
  }
  assert.ok(tokenAllows([], "lan", undefined), "an open cluster needs no token");
});

Deno.test("the invite link carries the token after # only with a secret", () => {
  assert.equal(inviteLink("10.0.0.5", 8080, "lan", []), "http://10.0.0.5:8080/");
  assert.equal(
    inviteLink("10.0.0.5", 8080, "lan", ["s3cret", "old"]),
    `http://10.0.0.5:8080/#t=${webToken("s3cret", "lan")}`,
  );
});

Deno.test("a page's owner token depends on its secret, the cluster and the user", () => {
  const owner = pageOwner("p".repeat(32), "lan", "ann");
  assert.match(owner, /^[0-9a-f]{32}$/);
  assert.notEqual(pageOwner("q".repeat(32), "lan", "ann"), owner);
  assert.notEqual(pageOwner("p".repeat(32), "lan", "bob"), owner);
  assert.notEqual(pageOwner("p".repeat(32), "lan2", "ann"), owner);
});

Deno.test("Origin: none, the server's own, or a server of the cluster; nothing else", () => {
  const peers = ["http://10.0.0.2:8080"];
  assert.ok(originAllowed(undefined, "10.0.0.1:8080", peers));
  assert.ok(originAllowed("http://10.0.0.1:8080", "10.0.0.1:8080", peers));
  assert.ok(originAllowed("http://10.0.0.2:8080", "10.0.0.1:8080", peers));
  for (
    const bad of ["http://evil.example", "https://10.0.0.1:8080", "null", "http://10.0.0.2:8081"]
  ) {
    assert.ok(!originAllowed(bad, "10.0.0.1:8080", peers), bad);
  }
});

Deno.test("the pages never turn strings into markup and fetch nothing from elsewhere", () => {
  for (const page of [chatPage(1000), clusterPage()]) {
    for (
      const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]
    ) {
      assert.ok(!page.includes(sink), sink);
    }
    assert.ok(!/(src|href)="https?:/.test(page), "no external resource");
    assert.match(page, /Content-Security-Policy/);
  }
  assert.match(chatPage(1000), /maxlength="1000"/);
});

Deno.test("the servers a page may move to: live servers of the view at this HTTP port", () => {
  const member = (id: string, host: string, role: string, state: string) => ({
    id,
    role,
    state,
    addr: { host, port: 1 },
    incarnation: 1,
    priority: 0,
    lastHeardAgeMs: 0,
    isLeader: false,
  });
  const report = {
    members: [
      member("a", "10.0.0.1", "server", "alive"),
      member("b", "10.0.0.2", "server", "suspect"),
      member("c", "10.0.0.3", "server", "dead"),
      member("x", "10.0.0.9", "client", "alive"),
    ],
  } as unknown as ServerStatusReport;
  assert.deepEqual(peerOrigins(report, 8080), ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]);
  assert.deepEqual(peerOrigins(undefined, 8080), []);
});
