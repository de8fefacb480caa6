/**
 * The chat log on a temporary directory: the journal the chat log keeps replays into the same
 * log (appends, a replaced suffix, a state transfer), the disk log reads back what was flushed,
 * and retention deletes the oldest segments by line count and by age, never uncommitted lines.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatLog } from "../src/chat/log.ts";
import { type LogOp, replayJournal } from "../src/chat/journal.ts";
import { defaultStorageConfig, type StorageConfig } from "../src/config/mod.ts";
import { ChatDisk } from "../src/server/chat_disk.ts";
import type { ChatEntry } from "../src/wire/messages.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const DAY = 24 * 3600 * 1000;

function entry(seq: number, term = 1, ts = Date.now()): ChatEntry {
  return {
    seq,
    term,
    kind: "text",
    client: "c1",
    cseq: seq,
    from: "ann",
    text: `line ${seq} ${"x".repeat(40)}`,
    ts,
  };
}

function state(last: number, commit: number): LogOp {
  return { op: "state", last, lastTerm: 1, commit, majority: commit, promised: 1, complete: true };
}

/** Writes entries `1..count` in batches of 10, each batch followed by the state. */
async function writeEntries(
  dir: string,
  storage: StorageConfig,
  count: number,
  options: { commitLag?: number; ts?: (seq: number) => number } = {},
): Promise<void> {
  const { disk } = ChatDisk.open({ dir, storage });
  let flushed = 0;
  disk.onFlushed((id) => flushed = id);
  let id = 0;
  for (let from = 1; from <= count; from += 10) {
    const ops: LogOp[] = [];
    for (let seq = from; seq < from + 10 && seq <= count; seq++) {
      ops.push({ op: "entry", entry: entry(seq, 1, options.ts?.(seq) ?? Date.now()) });
    }
    const last = Math.min(count, from + 9);
    ops.push(state(last, Math.max(0, last - (options.commitLag ?? 0))));
    disk.write(++id, ops);
  }
  await disk.close();
  assert.equal(flushed, id, "every batch was reported flushed");
}

Deno.test("journal: replaying what a log journaled rebuilds it (stores, a replaced suffix, a reset)", () => {
  const log = new ChatLog();
  log.journal();
  for (let seq = 1; seq <= 10; seq++) log.append(entry(seq));
  log.store(6, 1, [entry(7, 2), entry(8, 2)], 6);
  const replayed = replayJournal(log.takeJournal()!.ops);
  assert.deepEqual(replayed.entries, [...log.range(1, log.last)]);
  assert.equal(replayed.entries.length, 8);
  log.reset(20, 3);
  log.append(entry(21, 3));
  const all = [
    ...replayJournal([
      ...replayed.entries.map((e): LogOp => ({ op: "entry", entry: e })),
      ...log.takeJournal()!.ops,
    ]).entries,
  ];
  assert.deepEqual(all, [entry(21, 3)].map((e) => ({ ...e, ts: all[0].ts })));
});

Deno.test("chat log durable point: a batch counts once flushed, never past a later truncation", () => {
  const log = new ChatLog();
  log.journal();
  for (let seq = 1; seq <= 5; seq++) log.append(entry(seq));
  const first = log.takeJournal()!;
  assert.equal(log.durable, 0, "nothing flushed yet");
  log.truncateAfter(3);
  assert.equal(log.persisted(first.id), 3, "the flushed batch ends where the log was cut");
  log.append(entry(4, 2));
  assert.equal(log.durable, 3);
  assert.equal(log.persisted(log.takeJournal()!.id), 4);
});

Deno.test("chat disk: reads back what it flushed, with the last state", async () => {
  await withTempDir("dsys-chatdisk-", async (dir) => {
    await writeEntries(dir, defaultStorageConfig(), 95);
    const { disk, restored } = ChatDisk.open({ dir, storage: defaultStorageConfig() });
    await disk.close();
    assert.equal(restored.prev, 0);
    assert.deepEqual(
      restored.entries.map((e) => e.seq),
      Array.from({ length: 95 }, (_, i) => i + 1),
    );
    assert.equal(restored.state?.commit, 95);
  });
});

Deno.test("chat disk retention: old segments go past retainLines; the rest reads back", async () => {
  await withTempDir("dsys-chatdisk-", async (dir) => {
    const storage = { ...defaultStorageConfig(), segmentBytes: 2_000, retainLines: 100 };
    await writeEntries(dir, storage, 600);
    const { disk, restored } = ChatDisk.open({ dir, storage });
    const info = disk.info();
    await disk.close();
    assert.ok(restored.prev > 0, "the oldest segments were deleted");
    assert.ok(600 - restored.prev >= 100, `at least retainLines kept: from ${restored.prev + 1}`);
    assert.ok(600 - restored.prev < 200, `not much more: from ${restored.prev + 1}`);
    assert.deepEqual(
      restored.entries.map((e) => e.seq),
      Array.from({ length: 600 - restored.prev }, (_, i) => restored.prev + 1 + i),
    );
    assert.equal(info.oldestSeq, restored.prev + 1);
  });
});

Deno.test("chat disk retention: lines older than retainDays go, uncommitted ones never", async () => {
  await withTempDir("dsys-chatdisk-", async (dir) => {
    const storage = { ...defaultStorageConfig(), segmentBytes: 2_000, retainLines: 1_000_000 };
    const old = Date.now() - 40 * DAY;
    await writeEntries(dir, storage, 300, { ts: (seq) => seq <= 200 ? old : Date.now() });
    const aged = ChatDisk.open({ dir, storage });
    await aged.disk.close();
    assert.ok(aged.restored.prev > 100, `old lines deleted up to ${aged.restored.prev}`);
    assert.ok(aged.restored.prev <= 200, "recent lines kept");
  });
  await withTempDir("dsys-chatdisk-", async (dir) => {
    const storage = { ...defaultStorageConfig(), segmentBytes: 2_000, retainLines: 10 };
    await writeEntries(dir, storage, 300, { commitLag: 300 });
    const uncommitted = ChatDisk.open({ dir, storage });
    await uncommitted.disk.close();
    assert.equal(uncommitted.restored.prev, 0, "nothing uncommitted is deleted");
    assert.equal(uncommitted.restored.entries.length, 300);
  });
});
