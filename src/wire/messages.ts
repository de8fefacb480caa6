/**
 * Every message dsys sends, in one module: the envelope each datagram carries, every body kind,
 * its one-byte type code on the wire, and the validator that admits a decoded body.
 *
 * Adding a message kind means adding its body interface to {@linkcode Body} and one entry to
 * {@linkcode MESSAGE_KINDS}. The codec (`codec.ts`) owns the byte layout and authentication;
 * this module owns what the bytes mean. Nothing here does I/O.
 *
 * @module
 */

import type { Address } from "../transport/types.ts";

/** What kind of process sent a datagram. */
export type Role = "server" | "client" | "probe";

/** The roles in wire order (their index is the role's byte on the wire). */
export const ROLES: readonly Role[] = ["server", "client", "probe"];

/** Who sent a datagram and where to reply (the reply address is in the message, never taken from the socket). */
export interface Sender {
  /** Stable node id (unique in the cluster). */
  id: string;
  /** Grows on every restart (and when a server refutes a suspicion). */
  incarnation: number;
  /** Server, client or probe. */
  role: Role;
  /** Unicast reply address. */
  addr: Address;
}

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
}

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

/** Every message body. */
export type Body =
  | DiscoverBody
  | DiscoverReplyBody
  | HeartbeatBody
  | WelcomeBody
  | PingBody
  | AckBody
  | PingReqBody
  | ElectionBody
  | AnswerBody
  | CoordinatorBody
  | LeaveBody;

/** A body's kind. */
export type Kind = Body["kind"];

/** One decoded or to-be-encoded datagram. */
export interface Envelope<B extends Body = Body> {
  /** Cluster name. */
  cluster: string;
  /** The sender and its reply address. */
  sender: Sender;
  /** Per-sender sequence number (per incarnation), for replay protection. */
  seq: number;
  /** Sender's wall-clock time in ms since the epoch, for replay protection. */
  ts: number;
  /** The message itself. */
  body: B;
}

/** The wire description of one message kind. */
export interface KindSpec {
  /** The one-byte type code on the wire (never reused). */
  code: number;
  /** True when `fields` (the decoded JSON without `kind`) is a valid body of this kind. */
  validate(fields: Record<string, unknown>): boolean;
}

/** Every message kind with its wire code and validator. */
export const MESSAGE_KINDS: { readonly [K in Kind]: KindSpec } = {
  "discover": {
    code: 2,
    validate: (f) => isInt(f.nonce),
  },
  "discover-reply": {
    code: 3,
    validate: (f) =>
      isInt(f.nonce) && isText(f.version, 32) && isInt(f.priority) && isInt(f.uptimeMs) &&
      typeof f.viaGroup === "boolean" && isText(f.leader, 128) && isInt(f.term) && isInt(f.view),
  },
  "heartbeat": {
    code: 10,
    validate: isServerStatus,
  },
  "welcome": {
    code: 11,
    validate: (f) => isServerStatus(f) && isArrayOf(f.members, MAX_WELCOME_MEMBERS, isMemberEntry),
  },
  "ping": {
    code: 12,
    validate: (f) => isInt(f.nonce),
  },
  "ack": {
    code: 13,
    validate: (f) => isInt(f.nonce) && isId(f.target),
  },
  "ping-req": {
    code: 14,
    validate: (f) => isInt(f.nonce) && isId(f.target) && isHost(f.host) && isPort(f.port),
  },
  "election": {
    code: 15,
    validate: (f) => isTerm(f.term) && f.term > 0 && isInt(f.priority),
  },
  "answer": {
    code: 16,
    validate: (f) => isTerm(f.term) && f.term > 0,
  },
  "coordinator": {
    code: 17,
    validate: (f) => isTerm(f.term) && f.term > 0 && isInt(f.priority),
  },
  "leave": {
    code: 18,
    validate: () => true,
  },
};

function isServerStatus(f: Record<string, unknown>): boolean {
  return isText(f.version, 32) && isInt(f.priority) && (f.leader === "" || isId(f.leader)) &&
    isTerm(f.term) && isTerm(f.view) && typeof f.joining === "boolean";
}

function isMemberEntry(item: unknown): item is MemberEntry {
  if (typeof item !== "object" || item === null) return false;
  const e = item as Record<string, unknown>;
  return isId(e.id) && ROLES.includes(e.role as Role) && isHost(e.host) && isPort(e.port) &&
    isTerm(e.incarnation) && isInt(e.priority);
}

function isId(value: unknown): value is string {
  return isText(value, 128) && value.length > 0;
}

function isHost(value: unknown): value is string {
  return isText(value, 255) && value.length > 0;
}

function isPort(value: unknown): value is number {
  return isInt(value) && value >= 1 && value <= 65535;
}

function isTerm(value: unknown): value is number {
  return isInt(value) && value >= 0;
}

/** Looks up a kind by its wire code. */
export function kindOfCode(code: number): Kind | undefined {
  return KIND_BY_CODE.get(code);
}

const KIND_BY_CODE = new Map<number, Kind>(
  (Object.entries(MESSAGE_KINDS) as [Kind, KindSpec][]).map(([kind, spec]) => [spec.code, kind]),
);

/** True for a safe integer (positive, zero or negative). */
export function isInt(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

/** True for a string of at most `max` UTF-16 units. */
export function isText(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length <= max;
}

/** True for an array whose every item passes `check`, at most `max` long. */
export function isArrayOf<T>(
  value: unknown,
  max: number,
  check: (item: unknown) => item is T,
): value is T[] {
  return Array.isArray(value) && value.length <= max && value.every(check);
}
