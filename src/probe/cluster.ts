/**
 * The probe's cluster observation: it asks the group (and `--peers` / `--addr` by unicast) who
 * is there, again and again for the whole timeout, and listens to the group as a receiver.
 *
 * It records per server every answer (round trip, which requests it answered, whether the
 * request reached it over multicast), every server heartbeat heard on the group, and the
 * datagrams it rejected (wrong secret, other cluster, …). It judges nothing: `verdict.ts` does.
 *
 * The probe joins the group without being a server: it never sends a heartbeat, so servers do
 * not count it as a member.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { Endpoint, formatAddress } from "../net/endpoint.ts";
import type { Address, SocketOpener } from "../transport/types.ts";
import type { DiscoverReplyBody, HeartbeatBody } from "../wire/messages.ts";
import type { RejectReason } from "../wire/rejections.ts";

/** A server that answered at least one request. */
export interface AnswerRecord {
  /** Server id. */
  id: string;
  /** Its unicast address, `host:port`. */
  address: string;
  /** Its latest answer. */
  reply: DiscoverReplyBody;
  /** Shortest round trip (ms). */
  rttMs: number;
  /** Requests sent from its first answered one on. */
  asked: number;
  /** How many of those it answered. */
  answered: number;
  /** True when at least one request reached it over multicast. */
  viaGroup: boolean;
}

/** A server heard announcing itself on the group. */
export interface HeardRecord {
  /** Server id. */
  id: string;
  /** Its unicast address, `host:port`. */
  address: string;
  /** Its latest heartbeat. */
  status: HeartbeatBody;
  /** Requests sent after it was first heard. */
  askedSince: number;
}

/** What one round of the probe saw. */
export interface Observation {
  /** How long the round lasted (ms). */
  durationMs: number;
  /** Servers that answered, by id. */
  answers: AnswerRecord[];
  /** Servers heard on the group, by id (answering or not). */
  heard: HeardRecord[];
  /** Datagrams this probe rejected during the round, by reason. */
  rejections: Record<RejectReason, number>;
  /** True when the probe listened to the group during the round. */
  listening: boolean;
}

/** What a round collects about one answering server. */
interface Collected {
  id: string;
  address: string;
  reply: DiscoverReplyBody;
  rttMs: number;
  viaGroup: boolean;
  /** Nonces it answered. */
  nonces: Set<number>;
  /** Index of the first request it answered. */
  first: number;
}

/** Times of the first requests of a round (ms); later ones follow every {@linkcode REQUEST_EVERY_MS}. */
const FIRST_REQUESTS_MS = [0, 100, 200, 400];
/** Spacing of the later requests of a round (ms). */
const REQUEST_EVERY_MS = 250;
/** No request is sent later than this before the end of a round: its answer needs time. */
const ANSWER_GRACE_MS = 250;

/** When the requests of a round of `timeoutMs` are sent (ms from its start). */
export function requestSchedule(timeoutMs: number): number[] {
  const times = FIRST_REQUESTS_MS.filter((t) => t === 0 || t <= timeoutMs - ANSWER_GRACE_MS);
  let next = FIRST_REQUESTS_MS[FIRST_REQUESTS_MS.length - 1] + REQUEST_EVERY_MS;
  while (next <= timeoutMs - ANSWER_GRACE_MS) {
    times.push(next);
    next += REQUEST_EVERY_MS;
  }
  return times;
}

/** An open probe: its endpoint and unicast targets; run {@linkcode ClusterProbe.round}s. */
export class ClusterProbe {
  readonly #endpoint: Endpoint;
  readonly #targets: Address[];
  /** Why the probe could not join the group, when it could not. */
  readonly groupError?: string;
  #nonce = Math.floor(Math.random() * 1e9);

  private constructor(endpoint: Endpoint, targets: Address[], groupError?: string) {
    this.#endpoint = endpoint;
    this.#targets = targets;
    this.groupError = groupError;
  }

  /**
   * Opens the probe's endpoint joined to the group; when the group cannot be joined (its port is
   * held by a program that does not share it), opens it without and records why. `addrs` are
   * asked by unicast besides the `--peers` seeds; `openSockets` opens the sockets (default:
   * `openTransport`).
   */
  static async open(
    config: Config,
    addrs: readonly Address[],
    openSockets?: SocketOpener,
  ): Promise<ClusterProbe> {
    const options = { config, role: "probe" as const, unicastPort: 0, openSockets };
    const seeds = new Set(config.network.peers);
    const targets = addrs.filter((a) => !seeds.has(formatAddress(a)));
    const { endpoint, groupError } = await Endpoint.openJoiningIfPossible(options);
    return new ClusterProbe(endpoint, targets, groupError?.message);
  }

  /** Asks and listens for `timeoutMs`, or until `signal` aborts. */
  round(timeoutMs: number, signal?: AbortSignal): Promise<Observation> {
    const endpoint = this.#endpoint;
    const started = performance.now();
    const rejectedBefore = endpoint.stats().rejections;
    const sentAt = new Map<number, { at: number; index: number }>();
    const answers = new Map<string, Collected>();
    const heard = new Map<string, HeardRecord & { first: number }>();
    const timers: ReturnType<typeof setTimeout>[] = [];
    const schedule = requestSchedule(timeoutMs);
    return new Promise((resolve) => {
      const finish = () => {
        for (const timer of timers) clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        unsubscribe();
        const rejectedAfter = endpoint.stats().rejections;
        const rejections = Object.fromEntries(
          Object.entries(rejectedAfter).map(([r, n]) => [r, n - rejectedBefore[r as RejectReason]]),
        ) as Record<RejectReason, number>;
        resolve({
          durationMs: performance.now() - started,
          answers: [...answers.values()].map((c) => ({
            id: c.id,
            address: c.address,
            reply: c.reply,
            rttMs: c.rttMs,
            asked: sentAt.size - c.first,
            answered: c.nonces.size,
            viaGroup: c.viaGroup,
          })).sort((a, b) => a.id.localeCompare(b.id)),
          heard: [...heard.values()].map(({ first, ...h }) => ({
            ...h,
            askedSince: sentAt.size - first,
          })).sort((a, b) => a.id.localeCompare(b.id)),
          rejections,
          listening: this.groupError === undefined,
        });
      };
      const unsubscribe = endpoint.onEnvelope(({ sender, body }, viaGroup) => {
        if (sender.role !== "server") return;
        if (body.kind === "heartbeat" && viaGroup) {
          heard.set(sender.id, {
            id: sender.id,
            address: formatAddress(sender.addr),
            status: body,
            askedSince: 0,
            first: heard.get(sender.id)?.first ?? sentAt.size,
          });
          return;
        }
        if (body.kind !== "discover-reply") return;
        const sent = sentAt.get(body.nonce);
        if (!sent) return;
        const rtt = performance.now() - sent.at;
        const record = answers.get(sender.id) ?? {
          id: sender.id,
          address: formatAddress(sender.addr),
          reply: body,
          rttMs: rtt,
          viaGroup: false,
          nonces: new Set<number>(),
          first: sent.index,
        };
        record.reply = body;
        record.rttMs = Math.min(record.rttMs, rtt);
        record.viaGroup ||= body.viaGroup;
        record.first = Math.min(record.first, sent.index);
        record.nonces.add(body.nonce);
        answers.set(sender.id, record);
      });
      for (const at of schedule) {
        timers.push(setTimeout(() => this.#ask(sentAt), at));
      }
      timers.push(setTimeout(finish, timeoutMs));
      if (signal?.aborted) finish();
      else signal?.addEventListener("abort", finish);
    });
  }

  #ask(sentAt: Map<number, { at: number; index: number }>): void {
    const nonce = ++this.#nonce;
    sentAt.set(nonce, { at: performance.now(), index: sentAt.size });
    this.#endpoint.broadcast({ kind: "discover", nonce });
    for (const target of this.#targets) this.#endpoint.send({ kind: "discover", nonce }, target);
  }

  /** Closes the probe's sockets. */
  async close(): Promise<void> {
    await this.#endpoint.close();
  }
}
