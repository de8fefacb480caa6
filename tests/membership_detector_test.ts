/**
 * Guarantees of failure detection: suspect, verify directly and indirectly, refute on any sign
 * of life, declare dead only after a failed verification, and never accuse after a self-stall.
 *
 * @module
 */

import assert from "node:assert/strict";
import { events, Harness, peer, sent, status, TIMING } from "./sim/harness.ts";

const a = peer("a");
const b = peer("b");
const c = peer("c");

/** A core that heard a, b and c until t=1000, then only b and c until the tick that suspects a. */
function aSuspected(): Harness {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.liveWith(1_000, [a, b, c].map((sender) => ({ sender, status: status() })));
  while (stateOf(h, "a") !== "suspect") {
    h.liveWith(
      h.now + TIMING.tickIntervalMs,
      [b, c].map((sender) => ({ sender, status: status() })),
    );
  }
  return h;
}

function stateOf(h: Harness, id: string): string | undefined {
  return h.core.view().members.find((m) => m.id === id)?.state;
}

Deno.test("a silent member becomes suspect, verified directly and through helpers", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.liveWith(1_000, [a, b, c].map((sender) => ({ sender, status: status() })));
  const lastHeard = 900;
  const others = [b, c].map((sender) => ({ sender, status: status() }));
  h.liveWith(lastHeard + TIMING.suspectAfterMs - TIMING.tickIntervalMs, others);
  assert.equal(stateOf(h, "a"), "alive");
  const actions = h.liveWith(lastHeard + TIMING.suspectAfterMs + TIMING.tickIntervalMs, others);
  assert.equal(stateOf(h, "a"), "suspect");
  assert.ok(events(actions).some((e) => e.type === "member-suspect" && e.member.id === "a"));
  const pings = sent(actions, "ping");
  assert.deepEqual(pings.map((p) => p.to), [a.addr]);
  const requests = sent(actions, "ping-req");
  assert.equal(requests.length, TIMING.indirectProbes);
  assert.deepEqual(new Set(requests.map((r) => r.to)), new Set([b.addr, c.addr]));
  for (const r of requests) {
    assert.deepEqual(r.body, {
      kind: "ping-req",
      nonce: pings[0].body.nonce,
      target: "a",
      host: a.addr.host,
      port: a.addr.port,
    });
  }
  assert.equal(h.core.stats().suspicions, 1);
});

Deno.test("any sign of life from a suspect refutes the suspicion", () => {
  const h = aSuspected();
  assert.equal(stateOf(h, "a"), "suspect");
  const actions = h.receive(a, { kind: "ping", nonce: 5 });
  assert.equal(stateOf(h, "a"), "alive");
  assert.ok(events(actions).some((e) => e.type === "member-alive-again" && e.member.id === "a"));
  assert.deepEqual(sent(actions, "ack"), [{
    to: a.addr,
    body: { kind: "ack", nonce: 5, target: "m" },
  }]);
  h.liveWith(1_800, [a, b, c].map((sender) => ({ sender, status: status() })));
  assert.equal(h.core.stats().suspicionsRefuted, 1);
  assert.equal(h.core.stats().deathsDeclared, 0);
});

Deno.test("an ack relayed by a helper refutes the suspicion", () => {
  const h = aSuspected();
  const nonce = sent(h.actions, "ping-req")[0].body.nonce;
  h.receive(b, { kind: "ack", nonce, target: "a" });
  assert.equal(stateOf(h, "a"), "alive");
  assert.equal(h.core.stats().suspicionsRefuted, 1);
});

Deno.test("an ack with the wrong nonce does not refute a suspicion", () => {
  const h = aSuspected();
  h.receive(b, { kind: "ack", nonce: 999_999, target: "a" });
  assert.equal(stateOf(h, "a"), "suspect");
});

Deno.test("a suspect that stays silent through probeTimeoutMs is declared dead", () => {
  const h = aSuspected();
  const suspectedAt = h.now;
  h.liveWith(
    suspectedAt + TIMING.probeTimeoutMs - TIMING.tickIntervalMs,
    [b, c].map((sender) => ({
      sender,
      status: status(),
    })),
  );
  assert.equal(stateOf(h, "a"), "suspect");
  const actions = h.liveWith(suspectedAt + TIMING.probeTimeoutMs + TIMING.tickIntervalMs, [
    { sender: b, status: status() },
    { sender: c, status: status() },
  ]);
  assert.equal(stateOf(h, "a"), "dead");
  assert.ok(events(actions).some((e) => e.type === "member-dead" && e.member.id === "a"));
  assert.equal(h.core.stats().deathsDeclared, 1);
});

Deno.test("a ping is answered with an ack naming the server itself", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const actions = h.receive(a, { kind: "ping", nonce: 42 }, false);
  assert.deepEqual(sent(actions, "ack"), [{
    to: a.addr,
    body: { kind: "ack", nonce: 42, target: "m" },
  }]);
});

Deno.test("a server asked for an indirect probe pings the suspect and relays its ack", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  const asked = h.receive(b, {
    kind: "ping-req",
    nonce: 77,
    target: "a",
    host: a.addr.host,
    port: a.addr.port,
  });
  const [ping] = sent(asked, "ping");
  assert.deepEqual(ping.to, a.addr);
  const relayed = h.receive(a, { kind: "ack", nonce: ping.body.nonce, target: "a" });
  assert.deepEqual(sent(relayed, "ack"), [{
    to: b.addr,
    body: { kind: "ack", nonce: 77, target: "a" },
  }]);
});

Deno.test("an indirect probe goes only to a member it knows, at the address it knows", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  h.receive(a, { kind: "heartbeat", ...status() });
  const elsewhere = { host: "192.0.2.9", port: 9 };
  const unknown = h.receive(b, { kind: "ping-req", nonce: 1, target: "zz", ...elsewhere });
  assert.deepEqual(sent(unknown, "ping"), [], "no ping for a member it does not know");
  const known = h.receive(b, { kind: "ping-req", nonce: 2, target: "a", ...elsewhere });
  assert.deepEqual(sent(known, "ping").map((p) => p.to), [a.addr]);
});

Deno.test("a stalled server does not accuse others on waking", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const peers = [a, b, c].map((sender) => ({ sender, status: status() }));
  h.liveWith(1_000, peers);
  const woke = h.tick(6_000);
  assert.deepEqual(events(woke).filter((e) => e.type === "member-suspect"), []);
  assert.equal(h.core.stats().stallsDetected, 1);
  const after = h.tickUntil(6_000 + TIMING.suspectAfterMs - TIMING.tickIntervalMs);
  assert.deepEqual(
    events(after).filter((e) => e.type === "member-suspect"),
    [],
    "a fresh grace period",
  );
  h.liveWith(8_000, peers);
  assert.equal(h.core.stats().suspicions, 0);
  assert.equal(h.core.stats().deathsDeclared, 0);
});

Deno.test("a stall during a verification restarts it instead of declaring the suspect dead", () => {
  const h = aSuspected();
  const woke = h.tick(h.now + 2_000);
  assert.equal(stateOf(h, "a"), "suspect");
  assert.equal(events(woke).filter((e) => e.type === "member-dead").length, 0);
  assert.deepEqual(sent(woke, "ping").map((p) => p.to), [a.addr], "verified afresh");
  const stillSuspect = h.tickUntil(h.now + TIMING.probeTimeoutMs - TIMING.tickIntervalMs);
  assert.equal(events(stillSuspect).filter((e) => e.type === "member-dead").length, 0);
  h.receive(a, { kind: "ack", nonce: sent(woke, "ping")[0].body.nonce, target: "a" });
  assert.equal(stateOf(h, "a"), "alive");
});

Deno.test("a late tick gives no verdict before the datagrams queued behind it are handled", () => {
  const h = aSuspected();
  const deadline = h.now + TIMING.probeTimeoutMs;
  const late = h.tick(deadline + 3 * TIMING.tickIntervalMs);
  assert.equal(events(late).filter((e) => e.type === "member-dead").length, 0);
  h.receive(a, { kind: "heartbeat", ...status() });
  assert.equal(stateOf(h, "a"), "alive");
});

Deno.test("a late tick holds back at most once: the next late tick judges", () => {
  const h = aSuspected();
  let t = h.now;
  for (let i = 0; i < 5 && stateOf(h, "a") !== "dead"; i++) {
    t += 3 * TIMING.tickIntervalMs;
    h.tick(t);
  }
  assert.equal(stateOf(h, "a"), "dead");
});

Deno.test("a member only a welcome named is never merge-probed once dead", () => {
  const h = new Harness({ id: "m" });
  h.start(0);
  const elsewhere = { host: "192.0.2.9", port: 9 };
  h.receive(b, {
    kind: "welcome",
    ...status(),
    members: [{ id: "v", role: "server", ...elsewhere, incarnation: 1, priority: 0 }],
  });
  const peers = [b].map((sender) => ({ sender, status: status() }));
  h.liveWith(1_000, peers);
  assert.equal(stateOf(h, "v"), "dead");
  const later = h.liveWith(6_000, peers);
  const aimed = later.filter((action) =>
    action.type === "send" && action.to.host === elsewhere.host
  );
  assert.deepEqual(aimed, [], "nothing goes to the named address after it died");
});
