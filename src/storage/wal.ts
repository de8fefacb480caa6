/**
 * A write-ahead log of opaque records in segment files (the model is etcd's `wal/` and Kafka's
 * log segments): `00000000000000000001.wal`, `…02.wal`, … in one directory, each a run of records
 * `[length u32 LE][CRC-32C of the payload u32 LE][payload]`. It knows nothing of what the records
 * mean; the chat layer writes them (`../server/chat_disk.ts`).
 *
 * Appends are buffered; {@linkcode Wal.flush} writes them and flushes them to the disk with one
 * `fdatasync` (group commit: everything appended while a flush is under way goes with the next
 * one). A segment that would grow past `segmentBytes` is closed (flushed first) and the next
 * starts with the header records the caller gave {@linkcode Wal.roll}, so the oldest segments can
 * be deleted ({@linkcode Wal.remove}) and the log still read from the first one left.
 *
 * On open every record is read back and checked. A damaged last record of the last segment is a
 * torn tail (a write cut by a crash): it is cut off and reported with its size. Damage anywhere
 * else is corruption: {@linkcode Wal.open} throws {@linkcode WalCorruption} naming the file and
 * offset, unless told to repair, which keeps a copy of the damaged segment (and moves the later
 * ones aside), then truncates there. Nothing is dropped silently.
 *
 * A segment deleted or truncated under the running log makes every later flush fail
 * ({@linkcode WalVanished}): nothing written after that counts as on the disk.
 *
 * Only `node:fs`, so it runs under Deno, Node and the single binary alike.
 *
 * @module
 */

import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { crc32c } from "./crc32c.ts";

/** Bytes before each record's payload: its length and its checksum. */
export const RECORD_HEADER_BYTES = 8;

/** Largest payload a record may have (bytes): a longer length field is damage, not a record. */
export const MAX_RECORD_BYTES = 1 << 20;

const SEGMENT_NAME = /^(\d{20})\.wal$/;

/** The file name of segment `index`. */
export function segmentName(index: number): string {
  return `${String(index).padStart(20, "0")}.wal`;
}

/** How to open a {@linkcode Wal}. */
export interface WalOptions {
  /** The directory of the segment files (it must exist). */
  dir: string;
  /** A segment is closed and the next one started once it would grow past this (bytes). */
  segmentBytes: number;
  /** Truncate at a corruption (keeping copies) instead of refusing to open. */
  repair?: boolean;
}

/** One record read back, and the segment it is in. */
export interface WalRecord {
  /** The segment's index. */
  segment: number;
  /** The payload. */
  data: Uint8Array;
}

/** A torn tail found and cut off on open. */
export interface TornTail {
  /** The segment file. */
  file: string;
  /** Where the damaged record began (the file's new size). */
  offset: number;
  /** How many bytes were cut off. */
  bytes: number;
}

/** What `--repair` did on open. */
export interface Repair {
  /** The damaged segment file. */
  file: string;
  /** Where it was truncated. */
  offset: number;
  /** The copies kept: the damaged segment as it was, and every later segment moved aside. */
  kept: string[];
}

/** A segment file: its index, path and size. */
export interface SegmentInfo {
  /** Its index (the number in its name). */
  index: number;
  /** Its path. */
  file: string;
  /** Its size in bytes (what is written so far). */
  bytes: number;
}

/** A record in the middle of the log that does not check: the log refuses to open. */
export class WalCorruption extends Error {
  /** The segment file. */
  readonly file: string;
  /** Where the damaged record begins. */
  readonly offset: number;

  /** Creates the error for damage at `offset` of `file`, `why` in words. */
  constructor(file: string, offset: number, why: string) {
    super(`chat log corrupted in ${file} at byte ${offset} (${why})`);
    this.name = "WalCorruption";
    this.file = file;
    this.offset = offset;
  }
}

/** The active segment was deleted or truncated under the running log (its `code` is `EWALGONE`). */
export class WalVanished extends Error {
  /** Says what happened to the file, like an errno code for the caller's log line. */
  readonly code = "EWALGONE";

  /** Creates the error; `what` names the file and what happened to it. */
  constructor(what: string) {
    super(`chat log segment ${what}`);
    this.name = "WalVanished";
  }
}

/** What {@linkcode Wal.open} returns. */
export interface OpenedWal {
  /** The log, ready to append to. */
  wal: Wal;
  /** Every record, oldest first. */
  records: WalRecord[];
  /** The torn tail cut off, if any. */
  torn?: TornTail;
  /** The repair made, if asked for and needed. */
  repair?: Repair;
}

type Pending = { kind: "record"; bytes: Uint8Array } | { kind: "roll" };

/** An open write-ahead log. */
export class Wal {
  readonly #o: WalOptions;
  readonly #segments: SegmentInfo[];
  #fd: number;
  #pending: Pending[] = [];
  #appended = 0;
  #written = 0;
  #synced = 0;
  #running: Promise<number> | null = null;
  #closed = false;
  /** The size the last segment will have once everything pending is written. */
  #tail: number;
  /** The index of that segment (the next record appended goes there). */
  #tailIndex: number;

  private constructor(options: WalOptions, segments: SegmentInfo[]) {
    this.#o = options;
    this.#segments = segments;
    const active = segments[segments.length - 1];
    this.#fd = fs.openSync(active.file, "r+");
    this.#tail = active.bytes;
    this.#tailIndex = active.index;
  }

  /** Opens (or creates) the log in `options.dir` and reads every record back. */
  static open(options: WalOptions): OpenedWal {
    const { dir } = options;
    const indexes = fs.readdirSync(dir).map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((m): m is string => m !== undefined).map(Number).sort((a, b) => a - b);
    const records: WalRecord[] = [];
    const segments: SegmentInfo[] = [];
    let torn: TornTail | undefined;
    let repair: Repair | undefined;
    for (let i = 0; i < indexes.length; i++) {
      const index = indexes[i];
      const file = join(dir, segmentName(index));
      const bytes = fs.readFileSync(file);
      const last = i === indexes.length - 1;
      const scan = scanSegment(bytes);
      for (const data of scan.records) records.push({ segment: index, data });
      if (scan.damage) {
        const { offset, why, tail } = scan.damage;
        if (last && tail) {
          fs.truncateSync(file, offset);
          torn = { file, offset, bytes: bytes.length - offset };
        } else if (options.repair) {
          repair = repairAt(
            file,
            offset,
            indexes.slice(i + 1).map((n) => join(dir, segmentName(n))),
          );
          segments.push({ index, file, bytes: offset });
          break;
        } else {
          throw new WalCorruption(file, offset, why);
        }
      }
      segments.push({ index, file, bytes: torn?.file === file ? torn.offset : bytes.length });
    }
    if (segments.length === 0) {
      const file = join(dir, segmentName(1));
      fs.writeFileSync(file, new Uint8Array(0));
      syncDirectory(dir);
      segments.push({ index: 1, file, bytes: 0 });
    }
    return { wal: new Wal(options, segments), records, torn, repair };
  }

  /** The segments, oldest first (the last is the one appended to). */
  get segments(): readonly SegmentInfo[] {
    return this.#segments;
  }

  /** Bytes in every segment, written so far. */
  get bytes(): number {
    return this.#segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Bytes appended and not yet written. */
  get pendingBytes(): number {
    let sum = 0;
    for (const p of this.#pending) if (p.kind === "record") sum += p.bytes.length;
    return sum;
  }

  /** The index of the segment the next record appended will be written to. */
  get tailIndex(): number {
    return this.#tailIndex;
  }

  /** True when the last segment would grow past `segmentBytes` with what is pending. */
  get full(): boolean {
    return this.#tail > this.#o.segmentBytes;
  }

  /** How many records were appended (the number the next flush resolves with, once written). */
  get appended(): number {
    return this.#appended;
  }

  /** How many of the appended records are on the disk (flushed). */
  get synced(): number {
    return this.#synced;
  }

  /** Appends a record (buffered until {@linkcode Wal.flush}); returns its number (1, 2, …). */
  append(data: Uint8Array): number {
    if (data.length > MAX_RECORD_BYTES) {
      throw new RangeError(`a log record of ${data.length} bytes (at most ${MAX_RECORD_BYTES})`);
    }
    const bytes = new Uint8Array(RECORD_HEADER_BYTES + data.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, data.length, true);
    view.setUint32(4, crc32c(data), true);
    bytes.set(data, RECORD_HEADER_BYTES);
    this.#pending.push({ kind: "record", bytes });
    this.#tail += bytes.length;
    return ++this.#appended;
  }

  /**
   * Closes the active segment after what is appended so far and starts the next one with
   * `header` (records that let a reader start there once the older segments are gone).
   */
  roll(header: readonly Uint8Array[]): void {
    this.#pending.push({ kind: "roll" });
    this.#tail = 0;
    this.#tailIndex++;
    for (const data of header) this.append(data);
  }

  /**
   * Writes what is appended and flushes it to the disk; resolves with how many records are
   * flushed. Calls made while a flush runs share the next one (group commit). Rejects on a write
   * or flush error (ENOSPC: the disk is full), leaving the records that were not written pending
   * for the next call.
   */
  flush(): Promise<number> {
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #run(): Promise<number> {
    while (this.#synced < this.#appended && !this.#closed) {
      this.#checkActive();
      this.#write();
      const upTo = this.#written;
      const fd = this.#fd;
      await new Promise<void>((resolve, reject) =>
        fs.fdatasync(fd, (error) => error ? reject(error) : resolve())
      );
      this.#checkActive();
      this.#synced = Math.max(this.#synced, upTo);
    }
    return this.#synced;
  }

  /** Writes the pending records (rolling where asked); on an error, cuts a partial write off. */
  #write(): void {
    while (this.#pending.length > 0) {
      const active = this.#segments[this.#segments.length - 1];
      const run: Uint8Array[] = [];
      let runBytes = 0;
      while (this.#pending.length > run.length && this.#pending[run.length].kind === "record") {
        const bytes = (this.#pending[run.length] as { bytes: Uint8Array }).bytes;
        run.push(bytes);
        runBytes += bytes.length;
      }
      if (run.length > 0) {
        const chunk = new Uint8Array(runBytes);
        let at = 0;
        for (const bytes of run) {
          chunk.set(bytes, at);
          at += bytes.length;
        }
        try {
          let done = 0;
          while (done < chunk.length) {
            done += fs.writeSync(this.#fd, chunk, done, chunk.length - done, active.bytes + done);
          }
        } catch (error) {
          fs.ftruncateSync(this.#fd, active.bytes);
          throw error;
        }
        active.bytes += runBytes;
        this.#pending.splice(0, run.length);
        this.#written += run.length;
      }
      if (this.#pending[0]?.kind === "roll") {
        this.#startSegment(active.index + 1);
        this.#pending.shift();
      }
    }
  }

  /**
   * Throws when the active segment was deleted or truncated under this process: what was
   * written there would not be read back, so it must not count as flushed.
   */
  #checkActive(): void {
    const active = this.#segments[this.#segments.length - 1];
    const { nlink, size } = fs.fstatSync(this.#fd);
    if (nlink === 0) throw new WalVanished(`${active.file} was deleted`);
    if (size < active.bytes) {
      throw new WalVanished(`${active.file} was truncated to ${size} of ${active.bytes} bytes`);
    }
  }

  #startSegment(index: number): void {
    fs.fdatasyncSync(this.#fd);
    const file = join(this.#o.dir, segmentName(index));
    const fd = fs.openSync(file, "w+");
    syncDirectory(this.#o.dir);
    fs.closeSync(this.#fd);
    this.#fd = fd;
    this.#segments.push({ index, file, bytes: 0 });
  }

  /** Deletes the oldest segment (never the active one); returns it, or undefined. */
  removeOldest(): SegmentInfo | undefined {
    if (this.#segments.length < 2) return undefined;
    const oldest = this.#segments.shift()!;
    fs.unlinkSync(oldest.file);
    return oldest;
  }

  /** Closes the active segment; what is pending is not written (flush first to keep it). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }
}

interface Scan {
  records: Uint8Array[];
  /** Where the first damaged record begins; `tail` when it reaches the end of the file. */
  damage?: { offset: number; why: string; tail: boolean };
}

/** Reads a segment's records up to the first damaged one. */
export function scanSegment(bytes: Uint8Array): Scan {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.length) {
    const left = bytes.length - offset;
    const damage = (why: string, tail: boolean) => ({ records, damage: { offset, why, tail } });
    if (left < RECORD_HEADER_BYTES) return damage(`${left} bytes, a record header is 8`, true);
    const length = view.getUint32(offset, true);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length === 0 || length > MAX_RECORD_BYTES) {
      return damage(`record length ${length}`, allZero(bytes, offset));
    }
    if (end > bytes.length) return damage(`record of ${length} bytes cut at the end`, true);
    const data = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32c(data) !== view.getUint32(offset + 4, true)) {
      return damage("checksum mismatch", end === bytes.length);
    }
    records.push(data);
    offset = end;
  }
  return { records };
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Keeps a copy of `file` and moves `later` aside, then truncates `file` at `offset`. */
function repairAt(file: string, offset: number, later: string[]): Repair {
  const kept = [`${file}.damaged`];
  fs.copyFileSync(file, kept[0]);
  for (const path of later) {
    fs.renameSync(path, `${path}.after-damage`);
    kept.push(`${path}.after-damage`);
  }
  fs.truncateSync(file, offset);
  return { file, offset, kept };
}

/** Flushes a directory's entries (a new or renamed file survives a power cut). */
function syncDirectory(dir: string): void {
  if (process.platform === "win32") return;
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
