/**
 * The server node's wiring: what reaches the chat core and when, the discover answer, the guard
 * in front of both cores, and deferred chat actions leaving on `flush`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Config, defaultLanConfig } from "../src/config/mod.ts";
import { type NodeAction, type NodeEvent, ServerNode } from "../src/server/node.ts";
import type { Body, Envelope, Sender } from "../src/wire/messages.ts";
import type { RejectReason } from "../src/wire/rejections.ts";
import { peer, status } from "./sim/harness.ts";

const WALL = 1_750_000_000_000;

/** One node under test, driven by hand with a simulated clock. */
class Driver {
  readonly node: ServerNode;
  readonly self: Sender;
  readonly config: Config;
  now = 0;
  #seq = 1;

  constructor(
    id: string,
    priority: number,
    options: {
      security?: Partial<Config["security"]>;
      rejections?: () => Record<RejectReason, number>;
    } = {},
  ) {
    const config = defaultLanConfig();
    config.security = { ...config.security, ...options.security };
    this.config = config;
    this.self = peer(id);
    this.node = new ServerNode({
      self: this.self,
      priority,
      config,
      seeds: [],
      version: "test",
      random: () => 0,
      rejections: options.rejections,
    });
  }

  step(event: NodeEvent): NodeAction[] {
    return this.node.step(event);
  }

  start(): NodeAction[] {
    return this.step({ type: "start", now: this.now, wall: WALL + this.now });
  }

  /** Ticks every tick interval until `until`; returns every action. */
  tickUntil(until: number): NodeAction[] {
    const actions: NodeAction[] = [];
    const every = this.config.timing.tickIntervalMs;
    while (this.now + every <= until) {
      this.now += every;
      actions.push(...this.step({ type: "tick", now: this.now, wall: WALL + this.now }));
    }
    return actions;
  }

  receive(from: Sender, body: Body, viaGroup = false): NodeAction[] {
    const envelope: Envelope = {
      cluster: "test",
      sender: from,
      seq: this.#seq++,
      ts: WALL + this.now,
      body,
    };
    return this.step({ type: "receive", envelope, viaGroup, now: this.now });
  }
}

function client(id: string, port: number): Sender {
  return { id, incarnation: 1, role: "client", addr: { host: "10.9.0.1", port } };
}

function bodies<K extends Body["kind"]>(
  actions: NodeAction[],
  kind: K,
): Extract<Body, { kind: K }>[] {
  return actions.flatMap((a) =>
    (a.type === "send" || a.type === "multicast") && a.body.kind === kind
      ? [a.body as Extract<Body, { kind: K }>]
      : []
  );
}

/** A node with priority 5 that has led alone since its discovery window ended. */
function leaderAlone(): Driver {
  const d = new Driver("hi", 5);
  d.start();
  d.tickUntil(d.config.timing.discoveryWindowMs + 500);
  assert.deepEqual(d.node.core.leader(), { id: "hi", term: 1 });
  return d;
}

Deno.test("a new term of the same leader reaches the chat core, which leads again in that term", () => {
  const d = leaderAlone();
  assert.equal(d.node.chat.status().term, 1);
  const low = peer("lo");
  d.receive(low, { kind: "heartbeat", ...status({ priority: 1 }) }, true);
  d.tickUntil(d.now + 200);
  // A lower server calls an election far above the leader's term: the leader wins it again, so
  // its term jumps while the leader (and, here, the view) stays the same.
  const actions = d.receive(low, { kind: "election", term: 5, priority: 1 });
  const term = d.node.core.leader().term;
  assert.ok(term > 5, `term ${term}`);
  assert.equal(d.node.core.leader().id, "hi");
  assert.ok(!actions.some((a) => a.type === "notify" && a.event.type === "leader-changed"));
  assert.ok(!actions.some((a) => a.type === "notify" && a.event.type === "view-changed"));
  assert.ok(
    actions.some((a) =>
      a.type === "chat-notice" && a.notice.type === "gathering" && a.notice.term === term
    ),
    `no gathering in term ${term}: ${JSON.stringify(actions)}`,
  );
  assert.equal(d.node.chat.status().term, term);
});

Deno.test("a discover is answered to its sender with the view, the leader and counted rejections", () => {
  const rejections = { "bad-tag": 3, "too-old": 0 } as Record<RejectReason, number>;
  const d = new Driver("hi", 5, { rejections: () => rejections });
  d.start();
  d.tickUntil(d.config.timing.discoveryWindowMs + 500);
  d.now += 1234;
  const asker = client("c1", 40001);
  const actions = d.receive(asker, { kind: "discover", nonce: 77 }, true);
  assert.equal(actions.length, 1, JSON.stringify(actions));
  const [action] = actions;
  assert.ok(action.type === "send");
  assert.deepEqual(action.to, asker.addr);
  assert.deepEqual(action.body, {
    kind: "discover-reply",
    nonce: 77,
    version: "test",
    priority: 5,
    uptimeMs: d.now,
    viaGroup: true,
    leader: "hi",
    term: 1,
    view: d.node.view().view,
    viewSize: 1,
    clients: 0,
    rejections: { "bad-tag": 3 },
    rooms: [],
  });
});

Deno.test("a flooding sender is cut off for the cool-off, once logged; others are still served", () => {
  const burst = 5;
  const coolOffMs = 2_000;
  const d = new Driver("hi", 5, {
    security: { senderRatePerSecond: 1, senderBurst: burst, coolOffMs },
  });
  d.start();
  const flooder = client("flood", 40001);
  const actions: NodeAction[] = [];
  for (let i = 0; i < 3 * burst; i++) {
    actions.push(...d.receive(flooder, { kind: "discover", nonce: i }));
  }
  assert.equal(bodies(actions, "discover-reply").length, burst);
  const offences = actions.flatMap((a) => (a.type === "offence" ? [a.offence] : []));
  assert.equal(offences.length, 1);
  assert.equal(offences[0].id, "flood");
  assert.equal(offences[0].reason, "flood");
  assert.equal(d.node.stats(d.now).guard.ignored, 2 * burst);
  const other = d.receive(client("calm", 40002), { kind: "discover", nonce: 1 });
  assert.equal(bodies(other, "discover-reply").length, 1);
  d.tickUntil(coolOffMs + 1_000);
  const later = d.receive(flooder, { kind: "discover", nonce: 99 });
  assert.equal(bodies(later, "discover-reply").length, 1);
});

Deno.test("chat datagrams wait for one flush: the first asks for it, the burst leaves on it", () => {
  const d = leaderAlone();
  const first = d.receive(client("c1", 40001), {
    kind: "chat-join",
    user: "ann",
    gen: 1,
    resume: 0,
    history: 0,
    runs: [],
  });
  assert.deepEqual(first, [{ type: "flush-soon" }]);
  const second = d.receive(client("c2", 40002), {
    kind: "chat-join",
    user: "bob",
    gen: 1,
    resume: 0,
    history: 0,
    runs: [],
  });
  assert.deepEqual(second, []);
  const flushed = d.step({ type: "flush", now: d.now });
  const sentTo = flushed.flatMap((a) => (a.type === "send" ? [a.to.port] : []));
  assert.ok(sentTo.includes(40001) && sentTo.includes(40002), JSON.stringify(flushed));
  const third = d.receive(client("c1", 40001), {
    kind: "chat-ack",
    next: 1,
    gen: 1,
    split: false,
    streamed: false,
  });
  assert.deepEqual(third, [{ type: "flush-soon" }], "a flush is asked again after the last one");
});

Deno.test("a server heard for the first time is reported once", () => {
  const d = new Driver("hi", 5);
  d.start();
  const low = peer("lo");
  const first = d.receive(low, { kind: "heartbeat", ...status({ priority: 1 }) }, true);
  assert.equal(first.filter((a) => a.type === "peer-heard").length, 1);
  const again = d.receive(low, { kind: "heartbeat", ...status({ priority: 1 }) }, true);
  assert.equal(again.filter((a) => a.type === "peer-heard").length, 0);
});

Deno.test("a step that throws leaves none of its actions to the next step", () => {
  let broken = true;
  const d = new Driver("hi", 5, {
    rejections: () => {
      if (broken) throw new Error("counters unavailable");
      return {} as Record<RejectReason, number>;
    },
  });
  d.start();
  // A server's discover: it is reported as heard, then answering it throws.
  assert.throws(() => d.receive(peer("lo"), { kind: "discover", nonce: 1 }), /unavailable/);
  broken = false;
  const next = d.tickUntil(d.config.timing.tickIntervalMs);
  assert.deepEqual(next.filter((a) => a.type === "peer-heard"), []);
});
