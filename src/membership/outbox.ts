/**
 * The actions one protocol step produces, collected in order.
 *
 * This module owns {@linkcode CoreAction} and the {@linkcode Outbox} the protocol parts append to.
 * It sends nothing itself: the runtime performs the actions `ServerCore.step` returns.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";
import type { Body } from "../wire/messages.ts";
import type { ClusterEvent } from "./events.ts";

/** One thing the runtime must do on behalf of the protocol. */
export type CoreAction =
  | { type: "send"; to: Address; body: Body }
  | { type: "multicast"; body: Body }
  | { type: "notify"; event: ClusterEvent };

/** Collects the actions of one step; shared by the membership table, detector and election. */
export class Outbox {
  #actions: CoreAction[] = [];

  /** Queues a unicast datagram. */
  send(to: Address, body: Body): void {
    this.#actions.push({ type: "send", to, body });
  }

  /** Queues a datagram to the multicast group. */
  multicast(body: Body): void {
    this.#actions.push({ type: "multicast", body });
  }

  /** Queues an event for the rest of the program. */
  notify(event: ClusterEvent): void {
    this.#actions.push({ type: "notify", event });
  }

  /** Returns the queued actions and starts a new, empty list. */
  drain(): CoreAction[] {
    const actions = this.#actions;
    this.#actions = [];
    return actions;
  }
}
