/**
 * Every message dsys sends, in one table: the envelope each datagram carries, every body kind,
 * and {@linkcode MESSAGE_KINDS} with each kind's one-byte type code, sender, handling layer,
 * delivery, declared fields and validator. The bodies, bounds and validators live by protocol in
 * `messages/` (`discovery.ts`, `membership.ts`, `chat.ts`, and `common.ts` for what they share);
 * this module joins their tables and re-exports them, so the rest of the code imports messages
 * from here.
 *
 * Adding a message kind means adding its body interface to its protocol's body union and one
 * entry to that protocol's table. The codec (`codec.ts`) owns the byte layout and
 * authentication; these modules own what the bytes mean. Nothing here does I/O.
 *
 * @module
 */

import type { KindSpec, Sender } from "./messages/common.ts";
import { CHAT_KINDS, type ChatBody } from "./messages/chat.ts";
import { DISCOVERY_KINDS, type DiscoveryBody } from "./messages/discovery.ts";
import { MEMBERSHIP_KINDS, type MembershipBody } from "./messages/membership.ts";

export {
  ANY_NAME,
  type ByName,
  byName,
  type Fields,
  isArrayOf,
  isNum,
  isTerminalSafe,
  isText,
  type KindSpec,
  type Layer,
  nextTerm,
  type Role,
  ROLES,
  type Sender,
  STATIC_LIMITS,
  WIRE_BOUNDS,
  type WireLimits,
} from "./messages/common.ts";
export {
  type DiscoverBody,
  type DiscoverDisk,
  type DiscoverMissing,
  type DiscoverReplyBody,
  type DiscoverSplit,
  type DiscoveryBody,
  MAX_DISK_DIR_CHARS,
  MAX_REJECTION_REASONS,
} from "./messages/discovery.ts";
export {
  type AckBody,
  type AnswerBody,
  type CoordinatorBody,
  type ElectionBody,
  type HeartbeatBody,
  type LeaveBody,
  MAX_WELCOME_MEMBERS,
  type MemberEntry,
  type MembershipBody,
  type PingBody,
  type PingReqBody,
  type ServerStatus,
  type WelcomeBody,
} from "./messages/membership.ts";
export {
  CHAT_BOUNCE_REASONS,
  CHAT_CLAIM_OPS,
  CHAT_CLAIM_REFUSALS,
  CHAT_ENTRY_KINDS,
  CHAT_LINE_KINDS,
  CHAT_REFUSALS,
  type ChatAckBody,
  type ChatAppendBody,
  type ChatAppendReplyBody,
  type ChatBody,
  type ChatBounceReason,
  type ChatBusyBody,
  type ChatClaim,
  type ChatClaimBody,
  type ChatClaimOp,
  type ChatClaimRefusal,
  type ChatClaimReplyBody,
  type ChatClaimResult,
  type ChatCommittedBody,
  type ChatDeliverBody,
  type ChatEntry,
  type ChatEntryKind,
  type ChatFetchBody,
  type ChatFetchedBody,
  type ChatForwardBody,
  type ChatForwardItem,
  type ChatGatherBody,
  type ChatGatherReplyBody,
  type ChatJoinBody,
  type ChatLeaveBody,
  type ChatLineAddress,
  type ChatLineKind,
  type ChatMissedBody,
  type ChatNakBody,
  type ChatPastBody,
  type ChatPastPageBody,
  type ChatPostBody,
  type ChatPostItem,
  type ChatRefusal,
  type ChatRefusedBody,
  type ChatRoomSize,
  type ChatRosterBody,
  type ChatRunStart,
  type ChatSenderRecord,
  type ChatSendersBody,
  type ChatSendersFetchBody,
  type ChatSlowBody,
  type ChatSplitBody,
  type ChatStreamBody,
  type ChatWelcomeBody,
  type ChatWhoBody,
  DEFAULT_ROOM,
  isOwnerToken,
  isRoomName,
  MAX_CHAT_ENTRIES,
  MAX_CHAT_ITEMS,
  MAX_CHAT_RUNS,
  MAX_CHAT_TEXT,
  MAX_CLIENT_KEY,
  MAX_ROOM_NAME,
  MAX_ROSTER_NAMES,
  MAX_ROSTER_ROOMS,
  MAX_USER_NAME,
} from "./messages/chat.ts";

/** Every message body. */
export type Body = DiscoveryBody | MembershipBody | ChatBody;

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

/** Every message kind with its wire code, sender, layer, delivery and validator. */
export const MESSAGE_KINDS: { readonly [K in Kind]: KindSpec } = {
  ...DISCOVERY_KINDS,
  ...MEMBERSHIP_KINDS,
  ...CHAT_KINDS,
};

/** Looks up a kind by its wire code. */
export function kindOfCode(code: number): Kind | undefined {
  return KIND_BY_CODE.get(code);
}

const KIND_BY_CODE = new Map<number, Kind>(
  (Object.entries(MESSAGE_KINDS) as [Kind, KindSpec][]).map(([kind, spec]) => [spec.code, kind]),
);
