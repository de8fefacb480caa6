/**
 * The membership and election messages between servers: heartbeats and welcomes (the group view),
 * the failure detector's pings, Bully's election, answer and coordinator, and leave, with their
 * bodies, bounds, validators and table entries.
 *
 * @module
 */

import {
  type Fields,
  isArrayOf,
  isCount,
  isHost,
  isId,
  isNonce,
  isNum,
  isPort,
  isPriority,
  isTerm,
  isText,
  type KindSpec,
  type Role,
  ROLES,
  STATIC_LIMITS,
  type WireLimits,
} from "./common.ts";

/** What a server says about itself in every heartbeat and welcome. */
export interface ServerStatus {
  /** dsys version of the sender. */
  version: string;
  /** Bully priority of the sender. */
  priority: number;
  /** Id of the leader the sender follows (itself when it leads); `""` when it knows none. */
  leader: string;
  /** Term of that leader; 0 before any election. */
  term: number;
  /** The sender's view number. */
  view: number;
  /** True while the sender is still discovering the cluster; receivers answer with a welcome. */
  joining: boolean;
}

/** A server's periodic heartbeat: multicast, plus unicast to seeds and peers multicast misses. */
export interface HeartbeatBody extends ServerStatus {
  /** Message kind. */
  kind: "heartbeat";
}

/** One member as listed in a {@linkcode WelcomeBody}. */
export interface MemberEntry {
  /** Member id. */
  id: string;
  /** Its role. */
  role: Role;
  /** Its unicast reply host. */
  host: string;
  /** Its unicast reply port. */
  port: number;
  /** Its incarnation. */
  incarnation: number;
  /** Its Bully priority. */
  priority: number;
}

/** A unicast answer to a joining (or newly seen) server: the sender's status and members. */
export interface WelcomeBody extends ServerStatus {
  /** Message kind. */
  kind: "welcome";
  /** Live members the sender knows, itself excluded (at most {@linkcode MAX_WELCOME_MEMBERS}). */
  members: MemberEntry[];
}

/** Most members a {@linkcode WelcomeBody} lists: keeps it well inside one datagram. */
export const MAX_WELCOME_MEMBERS = 64;

/** A direct liveness probe of a suspect; answered with an {@linkcode AckBody}. */
export interface PingBody {
  /** Message kind. */
  kind: "ping";
  /** Echoed in the ack. */
  nonce: number;
}

/** The answer to a ping, sent directly or relayed by the helper of a {@linkcode PingReqBody}. */
export interface AckBody {
  /** Message kind. */
  kind: "ack";
  /** The nonce of the ping (or ping-req) being answered. */
  nonce: number;
  /** Id of the member shown to be alive: the sender itself, or the target of a relayed probe. */
  target: string;
}

/** Asks a helper to ping a suspect and relay the ack (an indirect probe, as in SWIM). */
export interface PingReqBody {
  /** Message kind. */
  kind: "ping-req";
  /** Echoed in the relayed ack. */
  nonce: number;
  /** Id of the suspect. */
  target: string;
  /** The suspect's unicast host. */
  host: string;
  /** The suspect's unicast port. */
  port: number;
}

/** Bully ELECTION, sent to every higher-ordered live server. */
export interface ElectionBody {
  /** Message kind. */
  kind: "election";
  /** The term the sender's election would win. */
  term: number;
  /** Bully priority of the sender. */
  priority: number;
}

/** Bully ANSWER (OK): a higher-ordered server is alive and takes the election over. */
export interface AnswerBody {
  /** Message kind. */
  kind: "answer";
  /** The term of the election being answered. */
  term: number;
}

/** Bully COORDINATOR: the sender leads from this term on. */
export interface CoordinatorBody {
  /** Message kind. */
  kind: "coordinator";
  /** The term the sender won. */
  term: number;
  /** Bully priority of the sender. */
  priority: number;
}

/** A server stopping cleanly: receivers drop it at once. */
export interface LeaveBody {
  /** Message kind. */
  kind: "leave";
}

/** Every membership and election body. */
export type MembershipBody =
  | HeartbeatBody
  | WelcomeBody
  | PingBody
  | AckBody
  | PingReqBody
  | ElectionBody
  | AnswerBody
  | CoordinatorBody
  | LeaveBody;

/** The fields of a {@linkcode ServerStatus}. */
const STATUS_FIELDS = {
  version: true,
  priority: true,
  leader: true,
  term: true,
  view: true,
  joining: true,
} as const;

/** The fields of a {@linkcode MemberEntry}. */
const MEMBER_FIELDS: Fields = {
  id: true,
  role: true,
  host: true,
  port: true,
  incarnation: true,
  priority: true,
};

/** The membership and election kinds, with their code, sender, layer, delivery, fields and validator. */
export const MEMBERSHIP_KINDS: { readonly [K in MembershipBody["kind"]]: KindSpec } = {
  "heartbeat": {
    code: 10,
    from: "server",
    layer: "membership",
    multicast: true,
    fields: STATUS_FIELDS,
    validate: (f, l = STATIC_LIMITS) => isServerStatus(f, l),
  },
  "welcome": {
    code: 11,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { ...STATUS_FIELDS, members: [MEMBER_FIELDS] },
    validate: (f, l = STATIC_LIMITS) =>
      isServerStatus(f, l) &&
      isArrayOf(f.members, MAX_WELCOME_MEMBERS, (m) => isMemberEntry(m, l)),
  },
  "ping": {
    code: 12,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { nonce: true },
    validate: (f) => isNonce(f.nonce),
  },
  "ack": {
    code: 13,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { nonce: true, target: true },
    validate: (f) => isNonce(f.nonce) && isId(f.target),
  },
  "ping-req": {
    code: 14,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { nonce: true, target: true, host: true, port: true },
    validate: (f) => isNonce(f.nonce) && isId(f.target) && isHost(f.host) && isPort(f.port),
  },
  "election": {
    code: 15,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { term: true, priority: true },
    validate: (f, l = STATIC_LIMITS) => isNum(f.term, 1, l.maxTerm) && isPriority(f.priority),
  },
  "answer": {
    code: 16,
    from: "server",
    layer: "membership",
    multicast: false,
    fields: { term: true },
    validate: (f, l = STATIC_LIMITS) => isNum(f.term, 1, l.maxTerm),
  },
  "coordinator": {
    code: 17,
    from: "server",
    layer: "membership",
    multicast: true,
    fields: { term: true, priority: true },
    validate: (f, l = STATIC_LIMITS) => isNum(f.term, 1, l.maxTerm) && isPriority(f.priority),
  },
  "leave": {
    code: 18,
    from: "server",
    layer: "membership",
    multicast: true,
    fields: {},
    validate: () => true,
  },
};

function isServerStatus(f: Record<string, unknown>, l: WireLimits): boolean {
  return isText(f.version, 32) && isPriority(f.priority) && (f.leader === "" || isId(f.leader)) &&
    isTerm(f.term, l) && isCount(f.view) && typeof f.joining === "boolean";
}

function isMemberEntry(item: unknown, limits: WireLimits): item is MemberEntry {
  if (typeof item !== "object" || item === null) return false;
  const e = item as Record<string, unknown>;
  return isId(e.id) && ROLES.includes(e.role as Role) && isHost(e.host) && isPort(e.port) &&
    isNum(e.incarnation, 0, limits.maxIncarnation) && isPriority(e.priority);
}
