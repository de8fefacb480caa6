/**
 * The chat log on a server's disk: the shell side of the core's `persist` actions. It writes each
 * batch of log changes (`../chat/journal.ts`) as records of the write-ahead log
 * (`../storage/wal.ts`), flushes them (group commit: one `fdatasync` covers every batch that came
 * meanwhile) and tells the server which batch is on the disk, so the core may acknowledge it.
 * On open it reads the log back for the core to start from. It rolls segments (each new one
 * starts with the state, so a reader may start there) and deletes the oldest ones that
 * retention lets go: committed lines beyond `retainLines`, or older than `retainDays`.
 *
 * A write or flush that fails (ENOSPC: the disk is full) is logged once; nothing more is
 * acknowledged (the core waits for `persisted`) and the writes are retried every `flushRetryMs`
 * until they succeed, which is logged too.
 *
 * @module
 */

import type { StorageConfig } from "../config/mod.ts";
import type { JournalState, LogOp, RestoredLog } from "../chat/journal.ts";
import { replayJournal } from "../chat/journal.ts";
import { logger } from "../log/mod.ts";
import { type Repair, type TornTail, Wal, WalVanished } from "../storage/wal.ts";

const log = logger("storage");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How to open a {@linkcode ChatDisk}. */
export interface ChatDiskOptions {
  /** The data directory (opened and locked: `../storage/data_dir.ts`). */
  dir: string;
  /** Segment size and retention. */
  storage: StorageConfig;
  /** Truncate at a corruption, keeping copies (`--repair`), instead of refusing to start. */
  repair?: boolean;
}

/** What the disk log shows in `/status`, `/metrics` and `dsys probe`. */
export interface ChatDiskInfo {
  /** The data directory. */
  dir: string;
  /** Bytes of every segment. */
  bytes: number;
  /** Segment files. */
  segments: number;
  /** The oldest sequence number on the disk (0 when none is). */
  oldestSeq: number;
  /** The time of the oldest line on the disk (ms since the epoch; 0 when none). */
  oldestTs: number;
  /** When the last flush ended (ms since the epoch; 0 before the first). */
  lastFlushAt: number;
  /** How long the last flush took (ms). */
  lastFlushMs: number;
  /** Flushes done. */
  flushes: number;
  /** The error that stops the writes now (ENOSPC, …), if any. */
  failing?: string;
}

/** What the entries of one segment span. */
interface SegmentSpan {
  oldestSeq: number;
  oldestTs: number;
  newestSeq: number;
  newestTs: number;
}

/** A server's chat log on its disk. */
export class ChatDisk {
  readonly #o: ChatDiskOptions;
  readonly #wal: Wal;
  readonly #spans = new Map<number, SegmentSpan>();
  /** Batches appended and not yet flushed: the record number that ends each. */
  #batches: { id: number; record: number }[] = [];
  #state: JournalState | undefined;
  #onFlushed: (id: number) => void = () => {};
  #flushStart = 0;
  #lastFlushAt = 0;
  #lastFlushMs = 0;
  #flushes = 0;
  #failing: string | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #inFlight = false;
  #closed = false;

  private constructor(options: ChatDiskOptions, wal: Wal) {
    this.#o = options;
    this.#wal = wal;
  }

  /**
   * Opens the log in `options.dir` and reads it back. Throws `WalCorruption` for damage in the
   * middle (unless `repair`); a torn tail is cut off and returned.
   */
  static open(
    options: ChatDiskOptions,
  ): { disk: ChatDisk; restored: RestoredLog; torn?: TornTail; repair?: Repair } {
    const opened = Wal.open({
      dir: options.dir,
      segmentBytes: options.storage.segmentBytes,
      repair: options.repair,
    });
    const disk = new ChatDisk(options, opened.wal);
    const ops: LogOp[] = [];
    for (const record of opened.records) {
      const op = JSON.parse(decoder.decode(record.data)) as LogOp;
      ops.push(op);
      disk.#note(record.segment, op);
    }
    const restored = replayJournal(ops);
    disk.#state = restored.state;
    return { disk, restored, torn: opened.torn, repair: opened.repair };
  }

  /** Calls `fn` with the id of the last batch flushed, after every flush. */
  onFlushed(fn: (id: number) => void): void {
    this.#onFlushed = fn;
  }

  /** Appends batch `id` of log changes and starts flushing. */
  write(id: number, ops: readonly LogOp[]): void {
    for (const op of ops) {
      this.#note(this.#wal.tailIndex, op);
      this.#wal.append(encoder.encode(JSON.stringify(op)));
    }
    if (this.#wal.full && this.#state) {
      this.#wal.roll([encoder.encode(JSON.stringify({ op: "state", ...this.#state }))]);
    }
    this.#batches.push({ id, record: this.#wal.appended });
    this.#kick();
  }

  /** Sizes, the oldest line, the last flush. */
  info(): ChatDiskInfo {
    let oldestSeq = 0;
    let oldestTs = 0;
    for (const segment of this.#wal.segments) {
      const span = this.#spans.get(segment.index);
      if (span) {
        oldestSeq = span.oldestSeq;
        oldestTs = span.oldestTs;
        break;
      }
    }
    return {
      dir: this.#o.dir,
      bytes: this.#wal.bytes,
      segments: this.#wal.segments.length,
      oldestSeq,
      oldestTs,
      lastFlushAt: this.#lastFlushAt,
      lastFlushMs: this.#lastFlushMs,
      flushes: this.#flushes,
      ...(this.#failing ? { failing: this.#failing } : {}),
    };
  }

  /** Writes and flushes what is pending (when the disk lets it), then closes the log. */
  async close(): Promise<void> {
    clearTimeout(this.#retry);
    if (!this.#failing) await this.#wal.flush().catch(() => {});
    this.#closed = true;
    this.#wal.close();
  }

  #note(segment: number, op: LogOp): void {
    if (op.op === "state") {
      this.#state = { ...op };
      delete (this.#state as { op?: string }).op;
      return;
    }
    if (op.op !== "entry") return;
    const { seq, ts } = op.entry;
    const span = this.#spans.get(segment);
    if (!span) {
      this.#spans.set(segment, { oldestSeq: seq, oldestTs: ts, newestSeq: seq, newestTs: ts });
      return;
    }
    span.newestSeq = Math.max(span.newestSeq, seq);
    span.newestTs = Math.max(span.newestTs, ts);
  }

  /**
   * Deletes the oldest segments whose lines are all committed and beyond retention: more than
   * `retainLines` newer lines follow them, or their newest line is older than `retainDays`.
   */
  #retain(): void {
    const { retainLines, retainDays } = this.#o.storage;
    const state = this.#state;
    if (!state) return;
    const oldEnough = Date.now() - retainDays * 24 * 3600 * 1000;
    while (this.#wal.segments.length > 2) {
      const oldest = this.#wal.segments[0];
      const span = this.#spans.get(oldest.index);
      if (span) {
        const committed = span.newestSeq <= state.commit;
        const beyond = state.last - span.newestSeq >= retainLines || span.newestTs < oldEnough;
        if (!committed || !beyond) return;
      }
      this.#wal.removeOldest();
      this.#spans.delete(oldest.index);
      log.info("deleted chat log segment {file} (retention: {lines} lines, {days} days)", {
        event: "chat-log-retained",
        file: oldest.file,
        lines: retainLines,
        days: retainDays,
      });
    }
  }

  #kick(): void {
    if (this.#closed || this.#retry !== undefined || this.#inFlight) return;
    this.#inFlight = true;
    this.#flushStart = performance.now();
    this.#wal.flush().then((synced) => {
      this.#inFlight = false;
      const now = performance.now();
      this.#lastFlushMs = now - this.#flushStart;
      this.#lastFlushAt = Date.now();
      this.#flushes++;
      if (this.#failing) {
        log.warn("chat log writes again after {error}: acknowledging again", {
          event: "chat-log-recovered",
          error: this.#failing,
        });
        this.#failing = undefined;
      }
      let id: number | undefined;
      while (this.#batches.length > 0 && this.#batches[0].record <= synced) {
        id = this.#batches.shift()!.id;
      }
      this.#retain();
      if (id !== undefined && !this.#closed) this.#onFlushed(id);
      if (this.#batches.length > 0) this.#kick();
    }, (error) => {
      this.#inFlight = false;
      const code = error instanceof WalVanished
        ? error.message
        : (error as { code?: string }).code ?? String(error);
      if (this.#failing !== code) {
        log.error(
          "chat log write failed ({error}{hint}): no more lines are acknowledged until it " +
            "succeeds; retrying every {ms} ms",
          {
            event: "chat-log-failing",
            error: code,
            hint: code === "ENOSPC" ? ": the disk is full" : "",
            dir: this.#o.dir,
            ms: this.#o.storage.flushRetryMs,
          },
        );
        this.#failing = code;
      }
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#kick();
      }, this.#o.storage.flushRetryMs);
    });
  }
}
