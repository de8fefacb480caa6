/**
 * The group view as the rest of dsys sees it: member states, the snapshot of the view and the
 * events a server emits when the view or the leader changes.
 *
 * This module owns these shapes only. Who produces them is `table.ts` (membership),
 * `detector.ts` (failure detection) and `../election/bully.ts` (leadership); who consumes them is
 * the runtime (logs, status table) and later the chat layer. Nothing here has behaviour.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import type { Role } from "../wire/messages.ts";

/**
 * Where a member stands: `alive` (heard recently), `suspect` (silent, being verified), `dead`
 * (verification failed) or `left` (said goodbye). Dead and left members are forgotten later.
 */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** One member as shown to the rest of the program. */
export interface MemberView {
  /** Member id. */
  id: string;
  /** Server or client. */
  role: Role;
  /** Its unicast reply address. */
  addr: Address;
  /** Its incarnation (grows on restart). */
  incarnation: number;
  /** Its Bully priority. */
  priority: number;
  /** Its state. */
  state: MemberState;
  /** Milliseconds since it was last heard, as of the latest event the core processed. */
  lastHeardAgeMs: number;
  /** True when this member is the leader the viewer follows. */
  isLeader: boolean;
}

/** A server's view of the group, itself included. */
export interface ViewSnapshot {
  /** The view number: grows by one on every membership change. */
  view: number;
  /** Every member not yet forgotten, this server first, then by id. */
  members: MemberView[];
  /** Id of the leader this server follows (itself when it leads), or null. */
  leader: string | null;
  /** Term of that leader (0 before any election). */
  term: number;
  /** Set while this server believes the cluster is split (see {@linkcode SplitView}). */
  split?: SplitView;
}

/** A server of the full view that went silent (declared dead, not left). */
export interface MissingServer {
  /** Its id. */
  id: string;
  /** Its last unicast address. */
  addr: Address;
  /** Monotonic time it was declared dead (ms). */
  lostAt: number;
  /** True when a process on its host is still heard: the host is up, so this one crashed. */
  crashed: boolean;
}

/**
 * Servers of the last full view this server no longer reaches (declared dead, not left), and
 * whether the evidence says the network is split: several of them vanished at once and none is
 * known to have crashed (see `split.ts`). Only servers count, never clients.
 */
export interface SplitView {
  /** Servers this server still reaches, itself included. */
  servers: number;
  /** Servers in the last full view (before the loss). */
  of: number;
  /** True when `servers` is more than half of `of`. */
  majority: boolean;
  /** True when the evidence says the network split; false: crashed or cut off, unknown which. */
  partition: boolean;
  /** The servers not reached, oldest loss first. */
  missing: MissingServer[];
}

/**
 * Something the rest of the program may want to log or react to. `split` is announced when this
 * server loses servers involuntarily (and again when the split's numbers change); `healed` when
 * every server of the full view is back, `forgotten` counting those given up on instead (see
 * `split.ts`).
 */
export type ClusterEvent =
  | { type: "member-joined"; member: MemberView }
  | { type: "member-alive-again"; member: MemberView }
  | { type: "member-suspect"; member: MemberView }
  | { type: "member-dead"; member: MemberView }
  | { type: "member-left"; member: MemberView }
  | { type: "leader-changed"; leader: string | null; term: number }
  | { type: "view-changed"; view: number }
  | { type: "election-started"; term: number }
  | { type: "election-won"; term: number }
  | { type: "split"; split: SplitView }
  | { type: "healed"; servers: number; forgotten: number };
