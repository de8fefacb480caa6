/**
 * The chat messages: what clients and servers say to each other (join, post, deliver, stream,
 * acks and naks) and what servers say among themselves (forward, append, gather, fetch, name
 * claims, sender records), with their bodies, bounds, validators and table entries.
 *
 * @module
 */

import {
  type Fields,
  isArrayOf,
  isCount,
  isId,
  isNext,
  isNum,
  isRecord,
  isSeq,
  isSeqOr0,
  isSeqRange,
  isTerm,
  isText,
  isWallMs,
  type KindSpec,
  STATIC_LIMITS,
  WIRE_BOUNDS,
  type WireLimits,
} from "./common.ts";
import { MAX_WELCOME_MEMBERS } from "./membership.ts";

/** Longest chat text the wire admits (UTF-16 units); `ChatConfig.maxTextChars` is the policy. */
export const MAX_CHAT_TEXT = 2000;

/** Longest user name the wire admits. */
export const MAX_USER_NAME = 32;

/** Longest room name the wire admits (`ChatConfig.maxRoomChars` is the policy). */
export const MAX_ROOM_NAME = 32;

/** The room every session starts in, and the one `/leave` goes back to. */
export const DEFAULT_ROOM = "lobby";

/**
 * True for a room name: 1 to `MAX_ROOM_NAME` lowercase letters, digits, `-` or `_`, starting
 * with a letter or digit (so a name never looks like a flag or a command).
 */
export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ROOM_NAME &&
    /^[a-z0-9][a-z0-9_-]*$/.test(value);
}

/** Longest client session key (`<client id>~<incarnation>`) the wire admits. */
export const MAX_CLIENT_KEY = 160;

/** Most entries one chat datagram carries (the datagram size limit binds long before). */
export const MAX_CHAT_ENTRIES = 256;

/** Most items (posts, forwards, claims, clients) one chat datagram lists. */
export const MAX_CHAT_ITEMS = 64;

/** Most term runs a log summary lists (`ChatRunStart`): enough for dozens of failovers. */
export const MAX_CHAT_RUNS = 32;

/**
 * What a log entry is: a chat line (`text`), an action line (`/me`, `action`), a user joining or
 * leaving the cluster (`join`, `leave`), a user moving to a room (`enter`), a direct message to
 * one user (`direct`), or a line the leader could not deliver (`bounce`: a direct message to a
 * user who is not online, or a new room beyond the cluster's limit; its text says why).
 */
export type ChatEntryKind = "text" | "join" | "leave" | "action" | "enter" | "direct" | "bounce";

/** The entry kinds in wire order. */
export const CHAT_ENTRY_KINDS: readonly ChatEntryKind[] = [
  "text",
  "join",
  "leave",
  "action",
  "enter",
  "direct",
  "bounce",
];

/** What a client's line is: the entry kinds a client may post (the others are the leader's). */
export type ChatLineKind = "text" | "action" | "enter" | "direct";

/** The line kinds a client may post. */
export const CHAT_LINE_KINDS: readonly ChatLineKind[] = ["text", "action", "enter", "direct"];

/** Why the leader bounced a line (the `text` of a `bounce` entry). */
export type ChatBounceReason = "offline" | "rooms-full";

/** Every bounce reason. */
export const CHAT_BOUNCE_REASONS: readonly ChatBounceReason[] = ["offline", "rooms-full"];

/**
 * Where a client's line goes, beside its text: its kind (default `text`), its room (default
 * {@linkcode DEFAULT_ROOM}; for `enter` the room entered) and, for a direct message, its
 * recipient. Absent fields take their defaults, so a lobby line costs no bytes.
 */
export interface ChatLineAddress {
  /** The kind of line; absent: `text`. */
  line?: ChatLineKind;
  /** The room of a `text`/`action` line, or the room an `enter` moves to; absent: the lobby. */
  room?: string;
  /** The recipient of a `direct` line (a user name). */
  to?: string;
}

/** One position of the global chat order, as replicated between servers and sent to clients. */
export interface ChatEntry {
  /** Position in the global order, from 1. */
  seq: number;
  /**
   * Chat term of the leader that sequenced it (with the run fingerprints, it places where diverged
   * logs forked).
   */
  term: number;
  /** Chat line or presence change. */
  kind: ChatEntryKind;
  /** Session key of the client that sent it (`<client id>~<incarnation>`). */
  client: string;
  /** The client's own sequence number of the line, from 1; 0 for presence entries. */
  cseq: number;
  /** User name. */
  from: string;
  /**
   * The line; for `join` the id of the user's server, for `leave` the reason, for `enter` the
   * room the user left, for `bounce` why ({@linkcode ChatBounceReason}). To a client that is
   * neither the sender nor the recipient of a `direct` entry it is `""` (redacted).
   */
  text: string;
  /** Wall-clock time (ms since the epoch): typed (text) or sequenced (presence). */
  ts: number;
  /** The room of a `text`/`action` line or the room an `enter` moves to; absent: the lobby. */
  room?: string;
  /** The recipient of a `direct` (or bounced direct) line. */
  to?: string;
}

/**
 * The first entry of a run of one chat term in a log (or the first entry kept, when the run
 * started before the log's window), with the fingerprint of that entry (`entryMark`): two logs
 * that hold the same run start hold the same entries up to it (the merge after a partition).
 */
export interface ChatRunStart {
  /** Sequence number of the entry. */
  seq: number;
  /** Its chat term. */
  term: number;
  /** Fingerprint of the entry (kind, client, line number, time). */
  mark: number;
}

/** Most rooms one roster answer lists (the largest first); `ChatRosterBody.roomCount` has all. */
export const MAX_ROSTER_ROOMS = 64;

/** Most user names one roster answer lists; `ChatRosterBody.total` counts them all. */
export const MAX_ROSTER_NAMES = 128;

/** A client asks its server for the rooms and who is in `room` (`/rooms`, `/who`). */
export interface ChatWhoBody {
  /** Message kind. */
  kind: "chat-who";
  /** The room whose users to list. */
  room: string;
  /** The client's attachment number. */
  gen: number;
  /** The client's number of this question: the answer carries it back. */
  ask: number;
}

/**
 * A client asks its server for past lines of `room` (and direct messages to or from its user)
 * before position `before` (0: up to the commit point): `/history N` beyond what it kept.
 */
export interface ChatPastBody {
  /** Message kind. */
  kind: "chat-past";
  /** The room whose lines it wants. */
  room: string;
  /** Lines before this position (0: the newest committed ones). */
  before: number;
  /** At most this many lines. */
  max: number;
  /** The client's attachment number. */
  gen: number;
  /** The client's number of this question: the answer carries it back. */
  ask: number;
}

/** A server's answer to `chat-past`: the newest such lines before the position, oldest first. */
export interface ChatPastPageBody {
  /** Message kind. */
  kind: "chat-past-page";
  /** The attachment number asked under. */
  gen: number;
  /** The question answered. */
  ask: number;
  /** The lines, oldest first (fewer than asked when a datagram is full or the log ends). */
  entries: ChatEntry[];
  /** True when the server's log holds older entries than those it looked at. */
  more: boolean;
}

/** A room and how many users are in it. */
export interface ChatRoomSize {
  /** Room name. */
  room: string;
  /** Users in it. */
  users: number;
}

/**
 * A server answers `chat-who` from the state its committed log implies (every server of a whole
 * cluster gives the same answer for the same commit point).
 */
export interface ChatRosterBody {
  /** Message kind. */
  kind: "chat-roster";
  /** The attachment number asked under. */
  gen: number;
  /** The question answered. */
  ask: number;
  /** The commit point the answer reflects. */
  at: number;
  /** The rooms, the largest first (at most `MAX_ROSTER_ROOMS`). */
  rooms: ChatRoomSize[];
  /** How many rooms there are in all. */
  roomCount: number;
  /** The room asked about. */
  room: string;
  /** Users in it, by name (at most `MAX_ROSTER_NAMES`). */
  users: string[];
  /** How many users are in it in all. */
  total: number;
}

/** A client asks its server to attach it under a user name (retried until answered). */
export interface ChatJoinBody {
  /** Message kind. */
  kind: "chat-join";
  /** User name, unique in the cluster. */
  user: string;
  /** The client's attachment number: grows on every attach, so old attachments lose. */
  gen: number;
  /** First sequence number the client still needs; 0 for a new client (wants history). */
  resume: number;
  /** How many past messages a new client wants first. */
  history: number;
  /** Term runs of what it delivered (oldest first): the server finds where its log forked. */
  runs: ChatRunStart[];
  /** The room whose lines `history` counts (absent: the lobby). */
  room?: string;
  /**
   * The user's owner token on this computer ({@linkcode isOwnerToken}), when it has one: a
   * claim with the token the name was granted with takes the name over at once from a crashed
   * session of the same user.
   */
  owner?: string;
}

/** A server accepts a client: its stream starts at `start`. */
export interface ChatWelcomeBody {
  /** Message kind. */
  kind: "chat-welcome";
  /** The user name granted. */
  user: string;
  /** The attachment number being answered. */
  gen: number;
  /** First sequence number the server will deliver. */
  start: number;
  /** Highest committed sequence number the server knows. */
  commit: number;
  /** Id of the leader the server follows, whose stream the client may take; `""` for none. */
  leader: string;
  /** That leader's incarnation (0 for none): a stream from any other sender is ignored. */
  leaderIncarnation: number;
}

/** Why a server refuses a client. `unknown-client` means: join again. */
export type ChatRefusal = "name-taken" | "full" | "bad-name" | "unknown-client";

/** Every refusal reason. */
export const CHAT_REFUSALS: readonly ChatRefusal[] = [
  "name-taken",
  "full",
  "bad-name",
  "unknown-client",
];

/** A server refuses a join or a post. */
export interface ChatRefusedBody {
  /** Message kind. */
  kind: "chat-refused";
  /** Why. */
  reason: ChatRefusal;
  /**
   * The attachment number refused (0 when the server knows none: `unknown-client`). A client
   * takes a refusal that ends it only for its current attachment number.
   */
  gen: number;
}

/** One line a client sends. */
export interface ChatPostItem extends ChatLineAddress {
  /** The client's sequence number of the line, from 1. */
  cseq: number;
  /** The line. */
  text: string;
  /** Wall-clock time it was typed (ms since the epoch). */
  ts: number;
}

/** A client sends (or resends) lines to its server. */
export interface ChatPostBody {
  /** Message kind. */
  kind: "chat-post";
  /** Highest own sequence number the client has seen delivered (all below it too). */
  acked: number;
  /** The lines, in the client's order. */
  items: ChatPostItem[];
}

/** A server sends committed entries to a client (empty: a keepalive). */
export interface ChatDeliverBody {
  /** Message kind. */
  kind: "chat-deliver";
  /** Highest committed sequence number the server knows. */
  commit: number;
  /** Highest line number of the receiving client known committed (acknowledges lines up to it). */
  acked: number;
  /** The client's attachment number (deliveries to an older attachment are stale). */
  gen: number;
  /** Committed entries, in order. */
  entries: ChatEntry[];
  /** Id of the leader the server follows, whose stream the client may take; `""` for none. */
  leader: string;
  /** That leader's incarnation (0 for none). */
  leaderIncarnation: number;
}

/** A client's cumulative acknowledgement and heartbeat. */
export interface ChatAckBody {
  /** Message kind. */
  kind: "chat-ack";
  /** First sequence number the client lacks. */
  next: number;
  /** The attachment number the client is joined under (acks of an older one are stale). */
  gen: number;
  /** True while the client shows the cluster as split (its server repeats the state if not). */
  split: boolean;
  /**
   * True while the client shows its side of a split as a minority (its server repeats the state
   * if it says otherwise). Absent from clients older than this field.
   */
  minority?: boolean;
  /**
   * True while the client takes the leader's multicast stream (`chat-stream`): its server then
   * leaves new entries to the stream and sends only what the client's acks show missing.
   */
  streamed: boolean;
}

/**
 * The leader multicasts newly committed entries to the group, for every client at once (one
 * datagram instead of one per client and server). A client takes them only where they continue
 * what it delivered: the entry before the first one has chat term `prevTerm` and fingerprint
 * `prevMark` (`entryMark`); -1 when the leader no longer keeps it (then no client takes them).
 */
export interface ChatStreamBody {
  /** Message kind. */
  kind: "chat-stream";
  /** Chat term of the entry before the first one, or -1. */
  prevTerm: number;
  /** Fingerprint of the entry before the first one, or -1. */
  prevMark: number;
  /** Committed entries, consecutive, in order. */
  entries: ChatEntry[];
}

/** A server tells its clients that the cluster is split, or whole again. */
export interface ChatSplitBody {
  /** Message kind. */
  kind: "chat-split";
  /** True while the server believes the cluster is split. */
  split: boolean;
  /** Servers on this server's side (itself included); 0 when whole. */
  servers: number;
  /** Servers of the last full view; 0 when whole. */
  of: number;
  /** True when this side holds more than half of them. */
  majority: boolean;
  /** True when the loss looks like a cut network; false: crashed or cut off (absent: true). */
  partition?: boolean;
  /** Ids of the servers not reached (absent from older servers). */
  missing?: string[];
  /** The client's attachment number (a notice for another attachment is ignored). */
  gen: number;
}

/** A client asks for entries it missed. */
export interface ChatNakBody {
  /** Message kind. */
  kind: "chat-nak";
  /** First missing sequence number. */
  from: number;
  /** Last missing sequence number. */
  to: number;
}

/** A server tells a client that entries it needs are no longer kept. */
export interface ChatMissedBody {
  /** Message kind. */
  kind: "chat-missed";
  /** First lost sequence number. */
  from: number;
  /** Last lost sequence number. */
  to: number;
  /** The client's attachment number (a notice for another attachment is ignored). */
  gen: number;
}

/** A server asks a client to send more slowly (back-pressure). */
export interface ChatSlowBody {
  /** Message kind. */
  kind: "chat-slow";
  /** The client's attachment number (a notice for another attachment is ignored). */
  gen: number;
}

/** A client quits. */
export interface ChatLeaveBody {
  /** Message kind. */
  kind: "chat-leave";
}

/** One client line a server forwards to the leader. */
export interface ChatForwardItem extends ChatLineAddress {
  /** Session key of the client. */
  client: string;
  /** Its user name. */
  user: string;
  /** The client's `acked` from its post. */
  acked: number;
  /** The client's sequence number of the line. */
  cseq: number;
  /** The line. */
  text: string;
  /** When it was typed. */
  ts: number;
}

/** A server forwards its clients' lines to the leader (the sequencer). */
export interface ChatForwardBody {
  /** Message kind. */
  kind: "chat-forward";
  /** The lines. */
  items: ChatForwardItem[];
}

/** The leader tells a server that these clients must slow down. */
export interface ChatBusyBody {
  /** Message kind. */
  kind: "chat-busy";
  /** Session keys of the clients. */
  clients: string[];
}

/** The leader replicates entries to a server, and tells it the commit point. */
export interface ChatAppendBody {
  /** Message kind. */
  kind: "chat-append";
  /** The leader's chat term. */
  term: number;
  /** Sequence number just before the first entry. */
  prev: number;
  /** Term of the entry at `prev` (0 for none). */
  prevTerm: number;
  /** The leader's commit point. */
  commit: number;
  /** The highest entry committed by a leader that reached a majority of the full view. */
  majorityCommit: number;
  /** True: the receiver replaces its whole log by one that starts after `prev` (state transfer). */
  reset: boolean;
  /** Entries from `prev + 1` on. */
  entries: ChatEntry[];
}

/** A server's answer to an append. */
export interface ChatAppendReplyBody {
  /** Message kind. */
  kind: "chat-append-reply";
  /** The term answered (or the higher term the server promised to). */
  term: number;
  /** True when the entries were stored. */
  ok: boolean;
  /** ok: highest sequence number known to match the leader's log; else where to resume from. */
  match: number;
  /** The server's commit point. */
  commit: number;
  /** The first entry a client attached to the server lacks (its last entry + 1 when none lacks). */
  reader: number;
}

/** A new leader asks a server for a summary of its log and a promise to follow no older term. */
export interface ChatGatherBody {
  /** Message kind. */
  kind: "chat-gather";
  /** The new leader's chat term. */
  term: number;
}

/** A server's log summary for a new leader. */
export interface ChatGatherReplyBody {
  /** Message kind. */
  kind: "chat-gather-reply";
  /** The term answered, or the higher term already promised (then `ok` is false). */
  term: number;
  /** True when the server promised this term. */
  ok: boolean;
  /** First sequence number the server keeps. */
  first: number;
  /** Last sequence number it holds. */
  last: number;
  /** Term of that entry. */
  lastTerm: number;
  /** Its commit point. */
  commit: number;
  /** The highest entry a leader reaching a majority of the full view committed, as it knows. */
  majorityCommit: number;
  /** True when it knows the last line of every client it remembers (no state transfer pending). */
  complete: boolean;
  /** Starts of the last term runs of its log, oldest first (where the logs forked). */
  runs: ChatRunStart[];
}

/** A gathering leader asks a server with a better log for its entries. */
export interface ChatFetchBody {
  /** Message kind. */
  kind: "chat-fetch";
  /** The leader's chat term. */
  term: number;
  /** First sequence number wanted. */
  from: number;
  /** Last sequence number wanted. */
  to: number;
}

/** Entries sent in answer to a fetch. */
export interface ChatFetchedBody {
  /** Message kind. */
  kind: "chat-fetched";
  /** The term of the fetch. */
  term: number;
  /** Sequence number just before the first entry. */
  prev: number;
  /** Term of the entry at `prev`. */
  prevTerm: number;
  /** Entries from `prev + 1` on. */
  entries: ChatEntry[];
}

/** The last committed line number of one client. */
export interface ChatSenderRecord {
  /** Session key of the client. */
  client: string;
  /** Its last committed line number. */
  cseq: number;
}

/** The leader tells a server that lines of its clients are committed (answering retries). */
export interface ChatCommittedBody {
  /** Message kind. */
  kind: "chat-committed";
  /** One record per client. */
  items: ChatSenderRecord[];
}

/** A state-transferred server asks for the last line of every client, a page at a time. */
export interface ChatSendersFetchBody {
  /** Message kind. */
  kind: "chat-senders-fetch";
  /** The asker's chat term. */
  term: number;
  /** The page starts after this client key (`""`: from the first). */
  after: string;
}

/** One page of a server's last committed line per client, in client key order. */
export interface ChatSendersBody {
  /** Message kind. */
  kind: "chat-senders";
  /** The term of the request. */
  term: number;
  /** The `after` of the request. */
  after: string;
  /** True when this is the last page. */
  done: boolean;
  /** The records. */
  senders: ChatSenderRecord[];
}

/** What a server says about a user name: still held, or given up. */
export type ChatClaimOp = "hold" | "quit" | "timeout";

/** Every claim operation. */
export const CHAT_CLAIM_OPS: readonly ChatClaimOp[] = ["hold", "quit", "timeout"];

/** One user name a server claims for (or releases from) one of its clients. */
export interface ChatClaim {
  /** User name. */
  user: string;
  /** Session key of the client. */
  client: string;
  /** The client's attachment number. */
  gen: number;
  /** Hold (claim or renew the lease) or release. */
  op: ChatClaimOp;
  /** The client's owner token, from its join ({@linkcode ChatJoinBody.owner}). */
  owner?: string;
}

/** A server claims, renews or releases user names at the leader (the authority for names). */
export interface ChatClaimBody {
  /** Message kind. */
  kind: "chat-claim";
  /** The claims. */
  claims: ChatClaim[];
}

/** Why the leader turned a claim down (`""`: it did not). */
export type ChatClaimRefusal = "" | "name-taken" | "full" | "moved";

/** Every claim answer reason. */
export const CHAT_CLAIM_REFUSALS: readonly ChatClaimRefusal[] = ["", "name-taken", "full", "moved"];

/** The leader's answer to one claim. */
export interface ChatClaimResult {
  /** User name. */
  user: string;
  /** Session key of the client. */
  client: string;
  /** Attachment number of the claim. */
  gen: number;
  /** True when granted (or released). */
  ok: boolean;
  /** Why not. */
  reason: ChatClaimRefusal;
}

/** The leader's answers to claims. */
export interface ChatClaimReplyBody {
  /** Message kind. */
  kind: "chat-claim-reply";
  /** One result per answered claim. */
  results: ChatClaimResult[];
}

/** Every chat body. */
export type ChatBody =
  | ChatJoinBody
  | ChatWelcomeBody
  | ChatRefusedBody
  | ChatPostBody
  | ChatDeliverBody
  | ChatAckBody
  | ChatNakBody
  | ChatMissedBody
  | ChatSlowBody
  | ChatLeaveBody
  | ChatForwardBody
  | ChatBusyBody
  | ChatAppendBody
  | ChatAppendReplyBody
  | ChatGatherBody
  | ChatGatherReplyBody
  | ChatFetchBody
  | ChatFetchedBody
  | ChatClaimBody
  | ChatClaimReplyBody
  | ChatCommittedBody
  | ChatSendersFetchBody
  | ChatSendersBody
  | ChatSplitBody
  | ChatStreamBody
  | ChatWhoBody
  | ChatRosterBody
  | ChatPastBody
  | ChatPastPageBody;

/** The fields of a {@linkcode ChatEntry}. */
const ENTRY_FIELDS: Fields = {
  seq: true,
  term: true,
  kind: true,
  client: true,
  cseq: true,
  from: true,
  text: true,
  ts: true,
  room: true,
  to: true,
};

/** The fields of a {@linkcode ChatLineAddress}, beside a line's own. */
const ADDRESS_FIELDS = { line: true, room: true, to: true } as const;

/** The fields of a {@linkcode ChatRoomSize}. */
export const ROOM_SIZE_FIELDS: Fields = { room: true, users: true };

/** The fields of a {@linkcode ChatRunStart}. */
const RUN_FIELDS: Fields = { seq: true, term: true, mark: true };

/** The fields of a {@linkcode ChatSenderRecord}. */
const SENDER_FIELDS: Fields = { client: true, cseq: true };

/** The leader a server names to a client: its id and incarnation. */
const LEADER_FIELDS = { leader: true, leaderIncarnation: true } as const;

/** The chat kinds, with their code, sender, layer, delivery, fields and validator. */
export const CHAT_KINDS: { readonly [K in ChatBody["kind"]]: KindSpec } = {
  "chat-join": {
    code: 30,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: {
      user: true,
      gen: true,
      resume: true,
      history: true,
      runs: [RUN_FIELDS],
      owner: true,
      room: true,
    },
    validate: (f, l = STATIC_LIMITS) =>
      isUser(f.user) && isSeqOr0(f.gen) && isNext(f.resume) && isSeqOr0(f.history) &&
      isArrayOf(f.runs, MAX_CHAT_RUNS, (r) => isRunStart(r, l)) &&
      (f.owner === undefined || isOwnerToken(f.owner)) &&
      (f.room === undefined || isRoomName(f.room)),
  },
  "chat-welcome": {
    code: 31,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { user: true, gen: true, start: true, commit: true, ...LEADER_FIELDS },
    validate: (f, l = STATIC_LIMITS) =>
      isUser(f.user) && isSeqOr0(f.gen) && isNum(f.start, 1, WIRE_BOUNDS.seq + 1) &&
      isSeqOr0(f.commit) && isLeaderRef(f, l),
  },
  "chat-refused": {
    code: 32,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { reason: true, gen: true },
    validate: (f) => CHAT_REFUSALS.includes(f.reason as ChatRefusal) && isCount(f.gen),
  },
  "chat-post": {
    code: 33,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: { acked: true, items: [{ cseq: true, text: true, ts: true, ...ADDRESS_FIELDS }] },
    validate: (f) => isSeqOr0(f.acked) && isArrayOf(f.items, MAX_CHAT_ITEMS, isPostItem),
  },
  "chat-deliver": {
    code: 34,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { commit: true, acked: true, gen: true, entries: [ENTRY_FIELDS], ...LEADER_FIELDS },
    validate: (f, l = STATIC_LIMITS) =>
      isSeqOr0(f.commit) && isSeqOr0(f.acked) && isSeqOr0(f.gen) &&
      isArrayOf(f.entries, MAX_CHAT_ENTRIES, (e) => isChatEntry(e, l)) && isLeaderRef(f, l),
  },
  "chat-ack": {
    code: 35,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: { next: true, gen: true, split: true, minority: true, streamed: true },
    validate: (f) =>
      isNext(f.next) && isSeqOr0(f.gen) && typeof f.split === "boolean" &&
      (f.minority === undefined || typeof f.minority === "boolean") &&
      typeof f.streamed === "boolean",
  },
  "chat-nak": {
    code: 36,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: { from: true, to: true },
    validate: isSeqRange,
  },
  "chat-missed": {
    code: 37,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { from: true, to: true, gen: true },
    validate: (f) => isSeqRange(f) && isCount(f.gen),
  },
  "chat-slow": {
    code: 38,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { gen: true },
    validate: (f) => isCount(f.gen),
  },
  "chat-leave": {
    code: 39,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: {},
    validate: () => true,
  },
  "chat-forward": {
    code: 40,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: {
      items: [{
        client: true,
        user: true,
        acked: true,
        cseq: true,
        text: true,
        ts: true,
        ...ADDRESS_FIELDS,
      }],
    },
    validate: (f) => isArrayOf(f.items, MAX_CHAT_ITEMS, isForwardItem),
  },
  "chat-busy": {
    code: 41,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { clients: [true] },
    validate: (f) => isArrayOf(f.clients, MAX_CHAT_ITEMS, isClientKey),
  },
  "chat-append": {
    code: 42,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: {
      term: true,
      prev: true,
      prevTerm: true,
      commit: true,
      majorityCommit: true,
      reset: true,
      entries: [ENTRY_FIELDS],
    },
    validate: (f, l = STATIC_LIMITS) =>
      isTerm(f.term, l) && isSeqOr0(f.prev) && isTerm(f.prevTerm, l) && isSeqOr0(f.commit) &&
      isSeqOr0(f.majorityCommit) && f.majorityCommit <= f.commit &&
      typeof f.reset === "boolean" && isArrayOf(f.entries, MAX_CHAT_ENTRIES, (e) =>
        isChatEntry(e, l)),
  },
  "chat-append-reply": {
    code: 43,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true, ok: true, match: true, commit: true, reader: true },
    validate: (f, l = STATIC_LIMITS) =>
      isTerm(f.term, l) && typeof f.ok === "boolean" && isSeqOr0(f.match) && isSeqOr0(f.commit) &&
      isNext(f.reader),
  },
  "chat-gather": {
    code: 44,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true },
    validate: (f, l = STATIC_LIMITS) => isTerm(f.term, l),
  },
  "chat-gather-reply": {
    code: 45,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: {
      term: true,
      ok: true,
      first: true,
      last: true,
      lastTerm: true,
      commit: true,
      majorityCommit: true,
      complete: true,
      runs: [RUN_FIELDS],
    },
    validate: (f, l = STATIC_LIMITS) =>
      isTerm(f.term, l) && typeof f.ok === "boolean" && isNum(f.first, 1, WIRE_BOUNDS.seq + 1) &&
      isSeqOr0(f.last) &&
      isTerm(f.lastTerm, l) && isSeqOr0(f.commit) && isSeqOr0(f.majorityCommit) &&
      f.majorityCommit <= f.commit && typeof f.complete === "boolean" &&
      isArrayOf(f.runs, MAX_CHAT_RUNS, (r) => isRunStart(r, l)),
  },
  "chat-fetch": {
    code: 46,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true, from: true, to: true },
    validate: (f, l = STATIC_LIMITS) => isTerm(f.term, l) && isSeqRange(f),
  },
  "chat-fetched": {
    code: 47,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true, prev: true, prevTerm: true, entries: [ENTRY_FIELDS] },
    validate: (f, l = STATIC_LIMITS) =>
      isTerm(f.term, l) && isSeqOr0(f.prev) && isTerm(f.prevTerm, l) &&
      isArrayOf(f.entries, MAX_CHAT_ENTRIES, (e) => isChatEntry(e, l)),
  },
  "chat-claim": {
    code: 48,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { claims: [{ user: true, client: true, gen: true, op: true, owner: true }] },
    validate: (f) => isArrayOf(f.claims, MAX_CHAT_ITEMS, isClaim),
  },
  "chat-claim-reply": {
    code: 49,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { results: [{ user: true, client: true, gen: true, ok: true, reason: true }] },
    validate: (f) => isArrayOf(f.results, MAX_CHAT_ITEMS, isClaimResult),
  },
  "chat-committed": {
    code: 50,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { items: [SENDER_FIELDS] },
    validate: (f) => isArrayOf(f.items, MAX_CHAT_ITEMS, isSenderRecord),
  },
  "chat-senders-fetch": {
    code: 51,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true, after: true },
    validate: (f, l = STATIC_LIMITS) => isTerm(f.term, l) && isText(f.after, MAX_CLIENT_KEY),
  },
  "chat-senders": {
    code: 52,
    from: "server",
    layer: "chat-server",
    multicast: false,
    fields: { term: true, after: true, done: true, senders: [SENDER_FIELDS] },
    validate: (f, l = STATIC_LIMITS) =>
      isTerm(f.term, l) && isText(f.after, MAX_CLIENT_KEY) && typeof f.done === "boolean" &&
      isArrayOf(f.senders, MAX_CHAT_ITEMS, isSenderRecord),
  },
  "chat-split": {
    code: 53,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: {
      split: true,
      servers: true,
      of: true,
      majority: true,
      partition: true,
      missing: [true],
      gen: true,
    },
    validate: (f) =>
      typeof f.split === "boolean" && isCount(f.servers) && isCount(f.of) && f.servers <= f.of &&
      typeof f.majority === "boolean" &&
      (f.partition === undefined || typeof f.partition === "boolean") &&
      (f.missing === undefined || isArrayOf(f.missing, MAX_WELCOME_MEMBERS, isId)) &&
      isCount(f.gen),
  },
  "chat-stream": {
    code: 54,
    from: "server",
    layer: "chat-client",
    multicast: true,
    fields: { prevTerm: true, prevMark: true, entries: [ENTRY_FIELDS] },
    validate: (f, l = STATIC_LIMITS) =>
      isNum(f.prevTerm, -1, l.maxTerm) && isNum(f.prevMark, -1, WIRE_BOUNDS.mark) &&
      isArrayOf(f.entries, MAX_CHAT_ENTRIES, (e) => isChatEntry(e, l)) && f.entries.length > 0,
  },
  "chat-who": {
    code: 55,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: { room: true, gen: true, ask: true },
    validate: (f) => isRoomName(f.room) && isSeqOr0(f.gen) && isSeqOr0(f.ask),
  },
  "chat-roster": {
    code: 56,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: {
      gen: true,
      ask: true,
      at: true,
      rooms: [ROOM_SIZE_FIELDS],
      roomCount: true,
      room: true,
      users: [true],
      total: true,
    },
    validate: (f) =>
      isSeqOr0(f.gen) && isSeqOr0(f.ask) && isSeqOr0(f.at) &&
      isArrayOf(f.rooms, MAX_ROSTER_ROOMS, isRoomSize) && isCount(f.roomCount) &&
      f.rooms.length <= f.roomCount && isRoomName(f.room) &&
      isArrayOf(f.users, MAX_ROSTER_NAMES, isUser) && isCount(f.total) &&
      f.users.length <= f.total,
  },
  "chat-past": {
    code: 57,
    from: "client",
    layer: "chat-server",
    multicast: false,
    fields: { room: true, before: true, max: true, gen: true, ask: true },
    validate: (f) =>
      isRoomName(f.room) && isSeqOr0(f.before) && isNum(f.max, 1, MAX_CHAT_ENTRIES) &&
      isSeqOr0(f.gen) && isSeqOr0(f.ask),
  },
  "chat-past-page": {
    code: 58,
    from: "server",
    layer: "chat-client",
    multicast: false,
    fields: { gen: true, ask: true, entries: [ENTRY_FIELDS], more: true },
    validate: (f, l = STATIC_LIMITS) =>
      isSeqOr0(f.gen) && isSeqOr0(f.ask) && typeof f.more === "boolean" &&
      isArrayOf(f.entries, MAX_CHAT_ENTRIES, (e) => isChatEntry(e, l)),
  },
};

/** True for a room and its number of users (at least one). */
export function isRoomSize(item: unknown): item is ChatRoomSize {
  return isRecord(item) && isRoomName(item.room) && isCount(item.users) && item.users > 0;
}

/** A leader named to a client: an id and its incarnation, or `""` and 0 for none. */
function isLeaderRef(f: Record<string, unknown>, l: WireLimits): boolean {
  return (f.leader === "" || isId(f.leader)) && isNum(f.leaderIncarnation, 0, l.maxIncarnation);
}

function isUser(value: unknown): value is string {
  return isText(value, MAX_USER_NAME) && value.length > 0;
}

function isClientKey(value: unknown): value is string {
  return isText(value, MAX_CLIENT_KEY) && value.length > 0;
}

function isPostItem(item: unknown): item is ChatPostItem {
  return isRecord(item) && isSeq(item.cseq) && isText(item.text, MAX_CHAT_TEXT) &&
    isWallMs(item.ts) && isLineAddress(item);
}

function isForwardItem(item: unknown): item is ChatForwardItem {
  return isRecord(item) && isClientKey(item.client) && isUser(item.user) &&
    isSeqOr0(item.acked) && isSeq(item.cseq) && isText(item.text, MAX_CHAT_TEXT) &&
    isWallMs(item.ts) && isLineAddress(item);
}

/**
 * A line's address: a known kind; a room name where the kind has a room (and `enter` always
 * names one), a recipient for `direct` and only there.
 */
function isLineAddress(item: Record<string, unknown>): boolean {
  const kind = item.line ?? "text";
  if (!CHAT_LINE_KINDS.includes(kind as ChatLineKind)) return false;
  if (kind === "direct") return isUser(item.to) && item.room === undefined;
  return item.to === undefined &&
    (kind === "enter" ? isRoomName(item.room) : item.room === undefined || isRoomName(item.room));
}

function isChatEntry(item: unknown, l: WireLimits): item is ChatEntry {
  return isRecord(item) && isSeq(item.seq) && isTerm(item.term, l) &&
    CHAT_ENTRY_KINDS.includes(item.kind as ChatEntryKind) && isClientKey(item.client) &&
    isSeqOr0(item.cseq) && isUser(item.from) && isText(item.text, MAX_CHAT_TEXT) &&
    isWallMs(item.ts) && (item.room === undefined || isRoomName(item.room)) &&
    (item.to === undefined || isUser(item.to)) &&
    (item.kind !== "bounce" || CHAT_BOUNCE_REASONS.includes(item.text as ChatBounceReason));
}

function isRunStart(item: unknown, l: WireLimits): item is ChatRunStart {
  return isRecord(item) && isSeq(item.seq) && isTerm(item.term, l) &&
    isNum(item.mark, 0, WIRE_BOUNDS.mark);
}

function isSenderRecord(item: unknown): item is ChatSenderRecord {
  return isRecord(item) && isClientKey(item.client) && isSeq(item.cseq);
}

function isClaim(item: unknown): item is ChatClaim {
  return isRecord(item) && isUser(item.user) && isClientKey(item.client) && isSeqOr0(item.gen) &&
    CHAT_CLAIM_OPS.includes(item.op as ChatClaimOp) &&
    (item.owner === undefined || isOwnerToken(item.owner));
}

/** True for an owner token: 32 lowercase hex digits (128 random bits). */
export function isOwnerToken(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{32}$/.test(value);
}

function isClaimResult(item: unknown): item is ChatClaimResult {
  return isRecord(item) && isUser(item.user) && isClientKey(item.client) && isSeqOr0(item.gen) &&
    typeof item.ok === "boolean" && CHAT_CLAIM_REFUSALS.includes(item.reason as ChatClaimRefusal);
}
