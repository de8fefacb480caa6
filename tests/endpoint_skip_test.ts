/**
 * An endpoint drops the kinds it was told it never handles (`skipKinds`: servers skip the
 * leader's multicast to clients) before authenticating them: no handler sees them and no
 * rejection is counted, while every other kind passes as before. On loopback.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Endpoint } from "../src/net/endpoint.ts";
import type { Body } from "../src/wire/mod.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

const STREAM: Body = {
  kind: "chat-stream",
  prevTerm: 1,
  prevMark: 7,
  entries: [{ seq: 2, term: 1, kind: "text", client: "c~1", cseq: 1, from: "u", text: "x", ts: 1 }],
};
const SPLIT: Body = {
  kind: "chat-split",
  split: false,
  servers: 0,
  of: 0,
  majority: false,
  gen: 1,
};

Deno.test("skipped kinds are dropped unread; the others pass", async () => {
  const config = loopbackConfig();
  const open = (id: string, skipKinds?: Body["kind"][]) =>
    Endpoint.open({ config, role: "server", joinGroup: false, unicastPort: 0, id, skipKinds });
  const sender = await open("sender");
  const skipping = await open("skipping", ["chat-stream"]);
  const plain = await open("plain");
  try {
    const seen = new Map<string, string[]>([["skipping", []], ["plain", []]]);
    skipping.onEnvelope((e) => seen.get("skipping")!.push(e.body.kind));
    plain.onEnvelope((e) => seen.get("plain")!.push(e.body.kind));
    for (const receiver of [skipping, plain]) {
      sender.send(STREAM, receiver.transport.localAddress);
      sender.send(SPLIT, receiver.transport.localAddress);
    }
    await until(
      "both heard the split",
      () => [...seen.values()].every((kinds) => kinds.includes("chat-split")),
    );
    await until("plain heard the stream", () => seen.get("plain")!.includes("chat-stream"));
    assert.deepEqual(seen.get("skipping"), ["chat-split"]);
    const rejections = Object.values(skipping.stats().rejections).reduce((a, b) => a + b, 0);
    assert.equal(rejections, 0);
  } finally {
    for (const endpoint of [sender, skipping, plain]) await endpoint.close();
  }
});
