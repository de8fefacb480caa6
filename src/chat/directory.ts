/**
 * The leader's authority over user names: who holds which name, on which server, until when.
 *
 * Servers claim a name for a joining client, renew it as a lease every `leaseIntervalMs` while
 * the client stays, and release it when the client quits or times out. A name held by another
 * client is refused ("name-taken"), unless the claim carries the owner token the name was
 * claimed with (the same user on the same computer, restarted after a crash): that client takes
 * the name over at once (a new `join`). A claim from an older attachment of the same client than the
 * one recorded is refused as "moved" (its server drops the stale session); an unrenewed lease
 * expires after `clientTimeoutMs`. A new leader starts from the names its log implies; when its
 * log does not reach back to the first entry (it was state-transferred) it waits `settleMs` for
 * leases before it grants a name it does not know. Every grant and removal is
 * reported so that the leader sequences a presence entry (`join`, `leave`).
 *
 * @module
 */

import type { ChatClaim, ChatClaimResult } from "../wire/messages.ts";
import { incarnationOf } from "./keys.ts";

/** A user as the log and the leader know it. */
export interface Presence {
  /** Session key of the client holding the name. */
  client: string;
  /** Id of the server it is attached to. */
  server: string;
}

/** A change of presence the leader must sequence. */
export interface PresenceChange {
  /** Joined or left. */
  kind: "join" | "leave";
  /** User name. */
  user: string;
  /** Session key of the client. */
  client: string;
  /** For `join` the server id, for `leave` the reason (`quit` or `timeout`). */
  text: string;
}

interface Holder extends Presence {
  gen: number;
  renewedAt: number;
  /** The owner token the name was claimed with, if any. */
  owner?: string;
}

/** What a {@linkcode Directory} needs. */
export interface DirectoryOptions {
  /** Names most held at once. */
  maxUsers: number;
  /** How long a lease lasts without renewal (ms). */
  clientTimeoutMs: number;
  /** Unknown names are not granted before this time (ms). */
  settledAt: number;
}

/** The name registry of a leader. */
export class Directory {
  readonly #o: DirectoryOptions;
  readonly #users = new Map<string, Holder>();

  /** Starts from the users known from the log, as renewed at `now`. */
  constructor(options: DirectoryOptions, known: ReadonlyMap<string, Presence>, now: number) {
    this.#o = options;
    for (const [user, presence] of known) {
      this.#users.set(user, { ...presence, gen: 0, renewedAt: now });
    }
  }

  /** True when `user` holds a name (is online). */
  holds(user: string): boolean {
    return this.#users.has(user);
  }

  /** How many names are held. */
  get size(): number {
    return this.#users.size;
  }

  /**
   * Handles one claim from `server`. Returns the answer (none while an unknown name must wait for
   * the directory to settle) and the presence change to sequence, if any.
   */
  claim(
    claim: ChatClaim,
    server: string,
    now: number,
  ): { result?: ChatClaimResult; change?: PresenceChange } {
    const { user, client, gen, op } = claim;
    const answer = (ok: boolean, reason: ChatClaimResult["reason"] = "") => ({
      user,
      client,
      gen,
      ok,
      reason,
    });
    const holder = this.#users.get(user);
    if (op !== "hold") {
      if (!holder || holder.client !== client || holder.gen > gen) return { result: answer(true) };
      this.#users.delete(user);
      return { result: answer(true), change: { kind: "leave", user, client, text: op } };
    }
    if (holder && holder.client !== client) {
      // The same user on the same computer, restarted, takes the name over at once; the dead
      // session's server, still renewing with the same token, does not take it back.
      const restarted = claim.owner !== undefined && holder.owner === claim.owner &&
        incarnationOf(client) > incarnationOf(holder.client);
      if (!restarted) return { result: answer(false, "name-taken") };
      this.#users.set(user, { client, server, gen, renewedAt: now, owner: claim.owner });
      return { result: answer(true), change: { kind: "join", user, client, text: server } };
    }
    if (holder) {
      if (gen < holder.gen) return { result: answer(false, "moved") };
      holder.gen = gen;
      holder.server = server;
      holder.renewedAt = now;
      // A leader that learned the name from its log learns the token from the renewals.
      holder.owner ??= claim.owner;
      return { result: answer(true) };
    }
    if (now < this.#o.settledAt) return {};
    if (this.#users.size >= this.#o.maxUsers) return { result: answer(false, "full") };
    this.#users.set(user, { client, server, gen, renewedAt: now, owner: claim.owner });
    return { result: answer(true), change: { kind: "join", user, client, text: server } };
  }

  /** Removes the names whose lease ran out; returns the changes to sequence. */
  expire(now: number): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [user, holder] of this.#users) {
      if (now - holder.renewedAt >= this.#o.clientTimeoutMs) {
        this.#users.delete(user);
        changes.push({ kind: "leave", user, client: holder.client, text: "timeout" });
      }
    }
    return changes;
  }
}
