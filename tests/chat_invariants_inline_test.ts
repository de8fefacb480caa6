/**
 * The chat cores check their own invariants where they keep them (`src/util/assert.ts`): a log
 * appended out of order, or a commit point left outside the log by a cut beneath it, throws an
 * `InvariantError` at the step that broke it, not a wrong delivery many steps later.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatLog } from "../src/chat/log.ts";
import { ChatReplica } from "../src/chat/replica.ts";
import { InvariantError } from "../src/util/assert.ts";
import type { ChatEntry } from "../src/wire/messages.ts";

function entry(seq: number): ChatEntry {
  return {
    seq,
    term: 1,
    kind: "text",
    client: "c~1",
    cseq: seq,
    from: "u",
    text: `t${seq}`,
    ts: 0,
  };
}

Deno.test("an append that does not continue the log is an invariant error naming both positions", () => {
  const log = new ChatLog();
  log.append(entry(1));
  assert.throws(() => log.append(entry(3)), (error: unknown) => {
    assert.ok(error instanceof InvariantError, String(error));
    assert.match(error.message, /append of seq 3 after 1/);
    return true;
  });
  assert.throws(() => log.append(entry(1)), InvariantError);
  assert.equal(log.last, 1, "the refused appends left the log as it was");
});

Deno.test("a log cut beneath the commit point is caught at the replica's next step", () => {
  const replica = new ChatReplica(100, 100);
  for (let seq = 1; seq <= 5; seq++) replica.log.append(entry(seq));
  replica.advanceCommit(4);
  replica.advanceMajority(4);
  assert.equal(replica.commit, 4);
  // A bug that bypasses the replica: the log loses committed entries.
  replica.log.truncateAfter(2);
  assert.throws(() => replica.advanceCommit(5), (error: unknown) => {
    assert.ok(error instanceof InvariantError, String(error));
    assert.match(error.message, /commit 4 outside the log 0\.\.2/);
    return true;
  });
});

Deno.test("a rollback keeps the majority commit at or below the commit point", () => {
  const replica = new ChatReplica(100, 100);
  for (let seq = 1; seq <= 5; seq++) replica.log.append(entry(seq));
  replica.advanceCommit(5);
  replica.advanceMajority(5);
  replica.rollback(3);
  assert.equal(replica.commit, 3);
  assert.equal(replica.majorityCommit, 3);
  replica.trim();
});
