/**
 * `/status` and `/metrics` carry the process itself: CPU time, resident and heap memory, and the
 * event-loop lag as a histogram (the protocol clock's lateness), read from a running server and
 * back through the independent Prometheus parser; and the lag recorder's buckets.
 *
 * @module
 */

import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { formatMetrics } from "../src/server/metrics.ts";
import { LAG_BUCKETS_MS, LagRecorder } from "../src/server/process_stats.ts";
import { Server } from "../src/server/server.ts";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import { loopbackConfig, until } from "./helpers/loopback.ts";

interface ParsedFamily {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}

Deno.test("a running server reports its CPU, memory and event-loop lag in /status and /metrics", async () => {
  const net = new MemoryNetwork();
  const server = await Server.start({
    config: loopbackConfig(),
    priority: 1,
    id: "s",
    transport: (request) => Promise.resolve(net.open({ ...request, host: "10.0.0.1" })),
  });
  try {
    await until("its clock fired a few times", () => {
      return (server.status().process?.eventLoopLag.count ?? 0) >= 5;
    });
    const own = server.status().process!;
    assert.ok(own.residentBytes > 0 && own.heapUsedBytes > 0);
    assert.ok(own.cpuUserSeconds + own.cpuSystemSeconds > 0);
    const families = new Map(
      (parsePrometheus(formatMetrics(server.status())) as ParsedFamily[]).map((f) => [f.name, f]),
    );
    const cpu = families.get("dsys_process_cpu_seconds_total");
    assert.equal(cpu?.type, "COUNTER");
    assert.deepEqual(cpu.metrics.map((m) => m.labels?.mode), ["user", "system"]);
    assert.ok(Number(families.get("dsys_process_resident_memory_bytes")?.metrics[0].value) > 0);
    const lag = families.get("dsys_event_loop_lag_seconds");
    assert.equal(lag?.type, "HISTOGRAM");
    assert.ok(Number(lag.metrics[0].count) >= 5);
    assert.equal(Object.keys(lag.metrics[0].buckets ?? {}).length, LAG_BUCKETS_MS.length + 1);
  } finally {
    await server.stop();
  }
});

Deno.test("the lag histogram counts each fire in every bucket at or above its lateness", () => {
  const lag = new LagRecorder();
  for (const ms of [0, 0.5, 3, 40, 5_000]) lag.record(ms);
  const h = lag.snapshot();
  const atMost = (bound: number) => h.atMost[LAG_BUCKETS_MS.indexOf(bound)];
  assert.equal(atMost(1), 2);
  assert.equal(atMost(5), 3);
  assert.equal(atMost(50), 4);
  assert.equal(atMost(1000), 4);
  assert.equal(h.count, 5);
  assert.equal(h.maxMs, 5_000);
});
