/**
 * The discovery messages: `discover` (who is there?) and the servers' `discover-reply`, with their
 * bodies, bounds, validators and table entries. Every process (server, client, probe) uses them.
 *
 * @module
 */

import {
  byName,
  type Fields,
  isArrayOf,
  isCount,
  isHost,
  isId,
  isNonce,
  isNum,
  isPort,
  isPriority,
  isRecord,
  isTerm,
  isText,
  type KindSpec,
  STATIC_LIMITS,
  WIRE_BOUNDS,
} from "./common.ts";
import { MAX_WELCOME_MEMBERS } from "./membership.ts";
import { type ChatRoomSize, isRoomSize, MAX_ROSTER_ROOMS, ROOM_SIZE_FIELDS } from "./chat.ts";

/** Asks every server that hears it to reply with a {@linkcode DiscoverReplyBody}. */
export interface DiscoverBody {
  /** Message kind. */
  kind: "discover";
  /** Echoed in the reply to measure the round trip and match answers to asks. */
  nonce: number;
}

/** A server's answer to {@linkcode DiscoverBody}: who it is and what it knows. */
export interface DiscoverReplyBody {
  /** Message kind. */
  kind: "discover-reply";
  /** The nonce of the discover being answered. */
  nonce: number;
  /** dsys version of the server. */
  version: string;
  /** Bully priority of the server. */
  priority: number;
  /** Milliseconds since the server started. */
  uptimeMs: number;
  /** Whether the request reached the server over multicast (false: unicast). */
  viaGroup: boolean;
  /** Id of the leader the server follows (itself when it leads); `""` when it knows none. */
  leader: string;
  /** Term of that leader. */
  term: number;
  /** The server's view number. */
  view: number;
  /** Live (alive or suspect) servers in the server's view, itself included. */
  viewSize: number;
  /** Chat clients attached to this server (its own, not the cluster's). */
  clients: number;
  /** Datagrams the server rejected since it started, by reason (reasons with a count only). */
  rejections: Record<string, number>;
  /** Set while the server sees the cluster split; absent when whole (and from older servers). */
  split?: DiscoverSplit;
  /** The chat rooms in use and their sizes, the largest first (at most `MAX_ROSTER_ROOMS`). */
  rooms?: ChatRoomSize[];
}

/** A partition as a server reports it in a {@linkcode DiscoverReplyBody}. */
export interface DiscoverSplit {
  /** Servers the server still reaches, itself included (at least 1). */
  servers: number;
  /** Servers in its last full view (at least `servers`). */
  of: number;
  /** True when `servers` is more than half of `of`. */
  majority: boolean;
  /** True when the loss looks like a cut network; false: crashed or cut off (absent: true). */
  partition?: boolean;
  /** The servers not reached (absent from older servers). */
  missing?: DiscoverMissing[];
}

/** A server of the full view that a server no longer reaches, as a discover reply tells. */
export interface DiscoverMissing {
  /** Its id. */
  id: string;
  /** Its last unicast host. */
  host: string;
  /** Its last unicast port. */
  port: number;
  /** How long ago it was declared dead (ms). */
  agoMs: number;
  /** True when a process on its host is still heard: it crashed, the host is up. */
  crashed: boolean;
}

/** Most entries a {@linkcode DiscoverReplyBody.rejections} may list. */
export const MAX_REJECTION_REASONS = 32;

/** Every discovery body. */
export type DiscoveryBody = DiscoverBody | DiscoverReplyBody;

/** The fields of a {@linkcode DiscoverSplit}. */
const SPLIT_FIELDS: Fields = {
  servers: true,
  of: true,
  majority: true,
  partition: true,
  missing: [{ id: true, host: true, port: true, agoMs: true, crashed: true }],
};

/** The discovery kinds, with their code, sender, layer, delivery, fields and validator. */
export const DISCOVERY_KINDS: { readonly [K in DiscoveryBody["kind"]]: KindSpec } = {
  "discover": {
    code: 2,
    from: "any",
    layer: "discovery",
    multicast: true,
    fields: { nonce: true },
    validate: (f) => isNonce(f.nonce),
  },
  "discover-reply": {
    code: 3,
    from: "any",
    layer: "discovery",
    multicast: true,
    fields: {
      nonce: true,
      version: true,
      priority: true,
      uptimeMs: true,
      viaGroup: true,
      leader: true,
      term: true,
      view: true,
      viewSize: true,
      clients: true,
      rejections: byName(true),
      split: SPLIT_FIELDS,
      rooms: [ROOM_SIZE_FIELDS],
    },
    validate: (f, l = STATIC_LIMITS) =>
      isNonce(f.nonce) && isText(f.version, 32) && isPriority(f.priority) && isCount(f.uptimeMs) &&
      typeof f.viaGroup === "boolean" && isText(f.leader, 128) && isTerm(f.term, l) &&
      isCount(f.view) && isCount(f.viewSize) && isCount(f.clients) &&
      isCountsByName(f.rejections) && (f.split === undefined || isDiscoverSplit(f.split)) &&
      (f.rooms === undefined || isArrayOf(f.rooms, MAX_ROSTER_ROOMS, isRoomSize)),
  },
};

function isDiscoverSplit(value: unknown): value is DiscoverSplit {
  return isRecord(value) && isNum(value.servers, 1, WIRE_BOUNDS.count) && isCount(value.of) &&
    value.of >= value.servers && typeof value.majority === "boolean" &&
    (value.partition === undefined || typeof value.partition === "boolean") &&
    (value.missing === undefined || isArrayOf(value.missing, MAX_WELCOME_MEMBERS, isMissing));
}

function isMissing(item: unknown): item is DiscoverMissing {
  return isRecord(item) && isId(item.id) && isHost(item.host) && isPort(item.port) &&
    isCount(item.agoMs) && typeof item.crashed === "boolean";
}

/** Counts keyed by short names (unknown names pass: a newer sender may count more reasons). */
function isCountsByName(value: unknown): value is Record<string, number> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= MAX_REJECTION_REASONS &&
    entries.every(([name, count]) => name.length > 0 && name.length <= 32 && isCount(count));
}
