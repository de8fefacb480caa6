/**
 * The write-ahead log's file layer on a temporary directory: records read back in order, group
 * commit, a torn tail cut at every byte offset of the last record, a corrupted byte in the middle
 * (refused, then repaired with copies kept), segment roll and deletion of the oldest segment.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { crc32c } from "../src/storage/crc32c.ts";
import {
  RECORD_HEADER_BYTES,
  segmentName,
  Wal,
  WalCorruption,
  WalVanished,
} from "../src/storage/wal.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const text = new TextEncoder();
const read = new TextDecoder();

function words(records: { data: Uint8Array }[]): string[] {
  return records.map((r) => read.decode(r.data));
}

function catchCorruption(fn: () => unknown): WalCorruption {
  try {
    fn();
  } catch (error) {
    if (error instanceof WalCorruption) return error;
    throw error;
  }
  throw new Error("expected a WalCorruption");
}

async function writeLines(dir: string, lines: string[], segmentBytes = 1 << 20): Promise<void> {
  const { wal } = Wal.open({ dir, segmentBytes });
  for (const line of lines) wal.append(text.encode(line));
  assert.deepEqual(await wal.flush(), lines.length);
  wal.close();
}

Deno.test("crc32c: the check value of RFC 3720's CRC-32C", () => {
  assert.deepEqual(crc32c(text.encode("123456789")), 0xe3069283);
  assert.deepEqual(crc32c(new Uint8Array(32)), 0x8a9136aa);
});

Deno.test("wal: records appended and flushed are read back in order after a reopen", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ${"x".repeat(i)}`);
    await writeLines(dir, lines.slice(0, 20));
    const again = Wal.open({ dir, segmentBytes: 1 << 20 });
    assert.deepEqual(words(again.records), lines.slice(0, 20));
    for (const line of lines.slice(20)) again.wal.append(text.encode(line));
    await again.wal.flush();
    again.wal.close();
    const third = Wal.open({ dir, segmentBytes: 1 << 20 });
    assert.deepEqual(words(third.records), lines);
    assert.deepEqual(third.torn, undefined);
    third.wal.close();
  });
});

Deno.test("wal: one flush covers every record appended while another flush ran", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const { wal } = Wal.open({ dir, segmentBytes: 1 << 20 });
    wal.append(text.encode("a"));
    const first = wal.flush();
    wal.append(text.encode("b"));
    wal.append(text.encode("c"));
    const second = wal.flush();
    assert.deepEqual(first, second, "a flush asked while one runs joins it");
    assert.deepEqual(await second, 3);
    assert.deepEqual(wal.synced, 3);
    wal.close();
  });
});

Deno.test("wal: a torn last record, cut at every byte, is cut off and reported", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const lines = ["first record", "second record", "the last record, torn by a crash"];
    await writeLines(dir, lines);
    const file = join(dir, segmentName(1));
    const whole = await Deno.readFile(file);
    const lastStart = whole.length - RECORD_HEADER_BYTES - lines[2].length;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      await Deno.writeFile(file, whole.subarray(0, cut));
      const opened = Wal.open({ dir, segmentBytes: 1 << 20 });
      opened.wal.close();
      assert.deepEqual(words(opened.records), lines.slice(0, 2), `cut at ${cut}`);
      assert.deepEqual(opened.torn, { file, offset: lastStart, bytes: cut - lastStart });
      assert.deepEqual((await Deno.stat(file)).size, lastStart, "the torn tail is cut off");
    }
  });
});

Deno.test("wal: a last record whose bytes were never written (zeros) is a torn tail", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    await writeLines(dir, ["kept"]);
    const file = join(dir, segmentName(1));
    const size = (await Deno.stat(file)).size;
    await Deno.writeFile(file, new Uint8Array(64), { append: true });
    const opened = Wal.open({ dir, segmentBytes: 1 << 20 });
    opened.wal.close();
    assert.deepEqual(words(opened.records), ["kept"]);
    assert.deepEqual(opened.torn?.offset, size);
    assert.deepEqual(opened.torn?.bytes, 64);
  });
});

Deno.test("wal: a corrupted byte in the middle refuses to open, naming file and offset", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const lines = ["zero", "one", "two", "three"];
    await writeLines(dir, lines);
    const file = join(dir, segmentName(1));
    const whole = await Deno.readFile(file);
    const secondStart = RECORD_HEADER_BYTES + lines[0].length;
    const damaged = whole.slice();
    damaged[secondStart + RECORD_HEADER_BYTES + 1] ^= 0x40;
    await Deno.writeFile(file, damaged);
    const error = catchCorruption(() => Wal.open({ dir, segmentBytes: 1 << 20 }));
    assert.deepEqual(error.file, file);
    assert.deepEqual(error.offset, secondStart);
    assert(error.message.includes(`${file} at byte ${secondStart}`), error.message);
    assert.deepEqual(await Deno.readFile(file), damaged, "nothing is changed without --repair");
  });
});

Deno.test("wal: repair truncates at the corruption and keeps copies of what it cut", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const lines = Array.from({ length: 40 }, (_, i) => `record number ${i}`);
    await writeLines(dir, lines.slice(0, 10), 64);
    const opened = Wal.open({ dir, segmentBytes: 64 });
    for (const line of lines.slice(10)) {
      opened.wal.append(text.encode(line));
      if (opened.wal.full) opened.wal.roll([]);
    }
    await opened.wal.flush();
    opened.wal.close();
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert(files.length > 3, `several segments: ${files}`);
    const damagedFile = join(dir, files[1]);
    const before = await Deno.readFile(damagedFile);
    const damaged = before.slice();
    damaged[RECORD_HEADER_BYTES] ^= 1;
    await Deno.writeFile(damagedFile, damaged);
    catchCorruption(() => Wal.open({ dir, segmentBytes: 64 }));
    const repaired = Wal.open({ dir, segmentBytes: 64, repair: true });
    repaired.wal.close();
    const kept = words(repaired.records);
    assert.deepEqual(kept, lines.slice(0, kept.length), "what is left is a prefix");
    assert.deepEqual(repaired.repair?.file, damagedFile);
    assert.deepEqual(repaired.repair?.offset, 0);
    assert.deepEqual(await Deno.readFile(`${damagedFile}.damaged`), damaged);
    assert.deepEqual(repaired.repair?.kept.length, files.length - 1);
    const reopened = Wal.open({ dir, segmentBytes: 64 });
    reopened.wal.close();
    assert.deepEqual(words(reopened.records), kept, "a repaired log opens without --repair");
  });
});

Deno.test("wal: segments roll past segmentBytes with their header; the oldest can go", async () => {
  await withTempDir("dsys-wal-", async (dir) => {
    const { wal } = Wal.open({ dir, segmentBytes: 100 });
    const lines = Array.from({ length: 30 }, (_, i) => `entry ${String(i).padStart(2, "0")}`);
    for (const line of lines) {
      wal.append(text.encode(line));
      if (wal.full) wal.roll([text.encode(`header after ${line}`)]);
    }
    await wal.flush();
    assert(wal.segments.length >= 3, `rolled: ${wal.segments.length}`);
    for (const segment of wal.segments.slice(0, -1)) {
      assert(segment.bytes <= 100 + RECORD_HEADER_BYTES + 20, `${segment.file}: ${segment.bytes}`);
    }
    const removed = wal.removeOldest()!;
    wal.close();
    const opened = Wal.open({ dir, segmentBytes: 100 });
    opened.wal.close();
    assert.deepEqual(opened.records[0].segment, removed.index + 1);
    assert(read.decode(opened.records[0].data).startsWith("header after"));
    const entries = words(opened.records).filter((w) => w.startsWith("entry"));
    assert.deepEqual(entries, lines.slice(lines.length - entries.length));
    assert.deepEqual(entries.at(-1), "entry 29");
  });
});

Deno.test("wal: a segment deleted or truncated under the running log fails every later flush", async () => {
  for (const damage of ["delete", "truncate"] as const) {
    await withTempDir("dsys-wal-", async (dir) => {
      const { wal } = Wal.open({ dir, segmentBytes: 1 << 20 });
      wal.append(text.encode("on the disk"));
      assert.equal(await wal.flush(), 1);
      const file = join(dir, segmentName(1));
      if (damage === "delete") await Deno.remove(file);
      else await Deno.truncate(file, 3);
      wal.append(text.encode("would be lost"));
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(
          () => wal.flush(),
          (error: Error) => error instanceof WalVanished && error.message.includes(file),
        );
      }
      assert.equal(wal.synced, 1, `${damage}: nothing more counts as flushed`);
      wal.close();
    });
  }
});
