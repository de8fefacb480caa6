/**
 * Loss and partition detection: tells which servers of the full view went silent, whether that
 * looks like a split of the network, and when they are back, announcing a loss once it settled
 * and again whenever what it says changes. It reads the member table and the `now` it is given;
 * it owns no member state and sends nothing. The rules (the full view, crashed or unreachable,
 * the evidence for a split, settling, healing) are in docs/design.md, "Partitions, and crashes
 * that are not".
 *
 * @module
 */

import type { MissingServer, SplitView } from "./events.ts";
import type { Outbox } from "./outbox.ts";
import type { MemberTable } from "./table.ts";

/** How long a gap between deaths may be, and after which quiet a loss is announced. */
export interface SplitTiming {
  /** Quiet time after the latest death before a loss is announced (ms). */
  splitSettleMs: number;
  /** Deaths this close together count as one event: the evidence of a partition (ms). */
  splitBurstMs: number;
}

/** Watches the member table for servers lost involuntarily and announces splits and heals. */
export class SplitDetector {
  readonly #table: MemberTable;
  readonly #out: Outbox;
  readonly #timing: SplitTiming;
  readonly #full = new Set<string>();
  #split: SplitView | undefined;
  #said = "";
  #forgotten = 0;

  /** Creates a detector over `table` whose events go to `out`. */
  constructor(table: MemberTable, out: Outbox, timing: SplitTiming) {
    this.#table = table;
    this.#out = out;
    this.#timing = timing;
  }

  /** The announced loss, while servers of the full view are missing as this server sees it. */
  get split(): SplitView | undefined {
    return this.#split;
  }

  /** Brings the full view up to date and announces a loss or a heal when one is due. */
  tick(now: number): void {
    let live = 0;
    let suspect = false;
    let lastLoss = -Infinity;
    const seen = new Set<string>();
    const lost: MissingServer[] = [];
    const liveHosts = new Set<string>();
    for (const member of this.#table.members()) {
      if (member.state === "alive" || member.state === "suspect") liveHosts.add(member.addr.host);
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
        lost.push({ id: member.id, addr: member.addr, lostAt: member.changedAt, crashed: false });
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
        this.#said = "";
        this.#forgotten = 0;
      }
      return;
    }
    if (suspect || now < lastLoss + this.#timing.splitSettleMs) return;
    for (const missing of lost) missing.crashed = liveHosts.has(missing.addr.host);
    lost.sort((a, b) => a.lostAt - b.lostAt || (a.id < b.id ? -1 : 1));
    const partition = vanishedTogether(lost, this.#timing.splitBurstMs);
    const said = JSON.stringify([servers, of, partition, lost.map((m) => [m.id, m.crashed])]);
    if (said === this.#said) return;
    this.#said = said;
    this.#split = { servers, of, majority: servers > of / 2, partition, missing: lost };
    this.#out.notify({ type: "split", split: copySplit(this.#split) });
  }
}

/** True when at least two servers not known to have crashed were lost within `burstMs`. */
function vanishedTogether(lost: readonly MissingServer[], burstMs: number): boolean {
  const times = lost.filter((m) => !m.crashed).map((m) => m.lostAt);
  for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] <= burstMs) return true;
  return false;
}

/** A copy of `split` that shares nothing with it. */
export function copySplit(split: SplitView): SplitView {
  return {
    ...split,
    missing: split.missing.map((m) => ({ ...m, addr: { ...m.addr } })),
  };
}
