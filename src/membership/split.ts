/**
 * Partition detection: tells when servers of the full view went silent, and when they are back.
 *
 * The full view is every server this server has seen live since, minus those that left cleanly
 * and those forgotten: a clean `leave` or a forget shrinks it, a join grows it, a death does not
 * change it. Any involuntary loss (a server declared dead) marks a split, because a crash and a
 * partition look the same from inside: `servers` is this server plus its live servers, `of` the
 * size of the full view. Deaths of one partition come within a few heartbeats of each other, so
 * the split is announced only once no server is suspect and `splitSettleMs` passed since the
 * latest death: one announcement with the final numbers instead of a series. It is announced
 * again whenever its numbers change, and it ends (healed) when every server of the full view is
 * live again, or given up on: forgotten after `forgetDeadAfterMs`.
 *
 * It reads the member table and the `now` it is given; it owns no member state and sends nothing.
 *
 * @module
 */

import type { SplitView } from "./events.ts";
import type { Outbox } from "./outbox.ts";
import type { MemberTable } from "./table.ts";

/** Watches the member table for servers lost involuntarily and announces splits and heals. */
export class SplitDetector {
  readonly #table: MemberTable;
  readonly #out: Outbox;
  readonly #settleMs: number;
  readonly #full = new Set<string>();
  #split: SplitView | undefined;
  #forgotten = 0;

  /** Creates a detector over `table` whose events go to `out`. */
  constructor(table: MemberTable, out: Outbox, settleMs: number) {
    this.#table = table;
    this.#out = out;
    this.#settleMs = settleMs;
  }

  /** The announced split, if the cluster is split as this server sees it. */
  get split(): SplitView | undefined {
    return this.#split;
  }

  /** Brings the full view up to date and announces a split or a heal when one is due. */
  tick(now: number): void {
    let live = 0;
    let suspect = false;
    let lastLoss = -Infinity;
    const seen = new Set<string>();
    for (const member of this.#table.members()) {
      if (member.role !== "server") continue;
      seen.add(member.id);
      if (member.state === "alive" || member.state === "suspect") {
        this.#full.add(member.id);
        live++;
        suspect ||= member.state === "suspect";
      } else if (member.state === "left") {
        this.#full.delete(member.id);
      } else if (this.#full.has(member.id)) {
        lastLoss = Math.max(lastLoss, member.changedAt);
      }
    }
    for (const id of this.#full) {
      if (seen.has(id)) continue;
      this.#full.delete(id);
      if (this.#split) this.#forgotten++;
    }
    const of = this.#full.size + 1;
    const servers = live + 1;
    if (servers === of) {
      if (this.#split) {
        this.#out.notify({ type: "healed", servers, forgotten: this.#forgotten });
        this.#split = undefined;
        this.#forgotten = 0;
      }
      return;
    }
    if (suspect || now < lastLoss + this.#settleMs) return;
    if (this.#split?.servers === servers && this.#split.of === of) return;
    this.#split = { servers, of, majority: servers > of / 2 };
    this.#out.notify({ type: "split", split: { ...this.#split } });
  }
}
