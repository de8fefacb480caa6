/**
 * What a persistent chat server writes to its disk log, and how it reads it back — pure: the
 * core emits these operations (`persist` actions) and the shell writes them (`../server/
 * chat_disk.ts`); on start the shell replays what it read into a {@linkcode RestoredLog} that
 * the core starts from.
 *
 * Four operations mirror every change of the in-memory log: an entry stored at its sequence
 * number (whatever the log held from there on is replaced, as `ChatLog.store` does), a truncation,
 * a state transfer's reset, and the state after each batch — the log's tip, the commit points,
 * the promised term and whether the sender table is complete. A `state` read before any other
 * record (the first record of a segment whose older neighbours retention deleted) is the base
 * the log restarts from.
 *
 * @module
 */

import type { ChatEntry } from "../wire/messages.ts";

/** The log's tip and the replica's state after a batch of operations. */
export interface JournalState {
  /** The last sequence number held. */
  last: number;
  /** Its term. */
  lastTerm: number;
  /** The commit point. */
  commit: number;
  /** What a leader reaching a majority committed (`ChatReplica.majorityCommit`). */
  majority: number;
  /** The highest chat term promised. */
  promised: number;
  /** True while the last line of every client is known (`ChatReplica.sendersComplete`). */
  complete: boolean;
}

/** One change of the chat log, as written to the disk. */
export type LogOp =
  | { op: "entry"; entry: ChatEntry }
  | { op: "truncate"; after: number }
  | { op: "reset"; prev: number; prevTerm: number }
  | ({ op: "state" } & JournalState);

/** A chat log read back from the disk. */
export interface RestoredLog {
  /** The sequence number before the first entry (0 when the log starts at 1). */
  prev: number;
  /** The term of that entry. */
  prevTerm: number;
  /** The entries, `prev + 1` on. */
  entries: ChatEntry[];
  /** The last state written (undefined when none was). */
  state?: JournalState;
}

/** Replays operations, oldest first, into the log they leave. */
export function replayJournal(ops: Iterable<LogOp>): RestoredLog {
  const log: RestoredLog = { prev: 0, prevTerm: 0, entries: [] };
  let first = true;
  for (const op of ops) {
    switch (op.op) {
      case "entry": {
        const at = op.entry.seq - log.prev - 1;
        if (at < 0) break;
        if (at > log.entries.length) {
          throw new Error(
            `chat log record of seq ${op.entry.seq} after ${log.prev + log.entries.length}`,
          );
        }
        log.entries.length = at;
        log.entries.push(op.entry);
        break;
      }
      case "truncate":
        log.entries.length = Math.max(0, Math.min(log.entries.length, op.after - log.prev));
        break;
      case "reset":
        log.prev = op.prev;
        log.prevTerm = op.prevTerm;
        log.entries = [];
        break;
      case "state": {
        const { op: _, ...state } = op;
        if (first) {
          log.prev = state.last;
          log.prevTerm = state.lastTerm;
        }
        log.state = state;
        break;
      }
    }
    first = false;
  }
  return log;
}
