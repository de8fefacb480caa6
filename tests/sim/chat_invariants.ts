/**
 * What must hold in every simulated chat run, for every client process that ever ran: live ones,
 * late joiners that read history, crashed ones and restarted ones alike. The expected outcome is
 * written here from what the clients did and the documented rule, not from the code under test.
 *
 * As the run goes, after every client step: each client process delivers consecutive positions
 * (no gap, unless its server said the entries are gone and the run allows that: small logs),
 * delivers no message id twice (not even across a re-anchor after a partition), and keeps each
 * sender's lines in the order they were typed. Positions agree between all clients while the
 * network is whole: one position, one line, forever. While it is split, between the clients of
 * one side. Without a partition, no client is ever re-anchored (positions never move) — but for a
 * client on a side with no majority of the servers (crashes and a pause can leave one without any
 * partition): the documented rule lets the positions such a side commits move, and the client is
 * told it is on the minority side.
 *
 * At the end ({@linkcode ChatChecker.finalProblem}), against the final committed log: every
 * server that is up holds the same committed entries as the leader; every position any client
 * process delivered holds that line in the final log — except, after a partition, positions that
 * clients of one side delivered during the split (or after the heal, before the merge reached
 * them), which the documented merge rule lets move: the lines of the side that keeps its
 * positions never move, and a client of the other side that is still running was re-anchored
 * (told) before the end. Every acknowledged line typed after a client process attached is delivered
 * to it when it is still up, and every line typed by a client that is up is acknowledged.
 *
 * Rooms and direct messages: every line, move, action and direct message is a position like any
 * other, so each room's order (the global order's lines of that room) agrees between all its
 * clients by the checks above. A direct message is shown only to its sender and recipient, with
 * the text that was typed; at the end every running process of either user that attached before
 * it was typed has shown it, and it is acknowledged unless its sender is down.
 *
 * @module
 */

import type { ChatClientAction, ChatServerAction } from "../../src/chat/mod.ts";
import { isClientLine, messageId } from "../../src/chat/keys.ts";
import { involves } from "../../src/chat/rooms.ts";
import type { Body, ChatEntry, ChatLineAddress } from "../../src/wire/messages.ts";
import type { ChatObserver, ChatWorld, SimClient, SimServer } from "./chat_world.ts";
import { SimViolation } from "./invariants.ts";

/** How many recent events a failure report shows. */
const TRACE_LINES = 60;

/** Where a client was when it delivered: "whole" network, or a side of the current split. */
type Place = "whole" | `side ${number}`;

/** One position a client process showed (or learnt, for a line it had shown elsewhere). */
interface Delivery {
  seq: number;
  what: string;
  at: number;
  place: Place;
  /**
   * True once a partition had begun: the merge rule may move it, if at most one side loses
   * positions and the client, when still up, was re-anchored over it afterwards.
   */
  provisional: boolean;
}

/** Everything one client process (one incarnation) did. */
interface Process {
  name: string;
  client: SimClient;
  incarnation: number;
  deliveries: Delivery[];
  /** Re-anchors, in order: from `from` on, what it showed before `at` may have moved. */
  rewinds: { at: number; from: number }[];
  /** When its stream last began (an attach that did not resume a session). */
  attachedAt?: number;
  last?: number;
  ids: Set<string>;
  /** Ids of the direct messages it showed. */
  shownDirect: Set<string>;
  lastCseq: Map<string, number>;
  skipped: [number, number][];
  /**
   * When it was first on a side without a majority: told so, or delivering from a server whose
   * view says so (Infinity: never). From then on its deliveries are provisional.
   */
  minorityAt: number;
}

/** Checks a {@linkcode ChatWorld} as it runs. */
export class ChatChecker implements ChatObserver {
  readonly #world: ChatWorld;
  readonly #allowMissed: boolean;
  /** Position → what, per place, for the positions shown while the network had that shape. */
  readonly #shown = new Map<Place, Map<number, string>>();
  readonly #processes = new Map<string, Process>();
  readonly #trace: string[] = [];
  /** When the first partition began (Infinity: none yet). */
  #splitAt = Infinity;
  /** When each line was typed, by its text (unique in a run). */
  readonly #typedAt = new Map<string, number>();
  /** The recipient of each direct message typed, by its text. */
  readonly #typedTo = new Map<string, string>();
  /** The text of each line some client delivered, by id. */
  readonly #textOf = new Map<string, string>();
  /** Ids of acknowledged lines. */
  readonly acked = new Set<string>();
  /** Ranges a client skipped because the log no longer held them. */
  missed = 0;
  /** Entries delivered, over all clients. */
  delivered = 0;
  /** Lines the leaders appended from other servers' diverged logs. */
  merged = 0;
  /** How often each server notice and client notice occurred, by type. */
  readonly events: Record<string, number> = {};

  /** Watches `world`; `allowMissed` admits skips the servers announce (small logs). */
  constructor(world: ChatWorld, allowMissed: boolean) {
    this.#world = world;
    this.#allowMissed = allowMissed;
    world.observers.push(this);
  }

  /** The last events seen, one per line. */
  trace(): string {
    return this.#trace.join("\n");
  }

  /** A partition began now: from here on each side is judged on its own until the end. */
  partitioned(): void {
    this.#splitAt = Math.min(this.#splitAt, this.#world.now);
  }

  /** Adds a line to the trace (faults, phases). */
  note(line: string): void {
    this.#trace.push(`t=${this.#world.now.toFixed(1)} ${line}`);
    if (this.#trace.length > TRACE_LINES) this.#trace.shift();
  }

  /** See {@linkcode ChatObserver.serverActions}. */
  serverActions(server: SimServer, actions: readonly ChatServerAction[]): void {
    for (const action of actions) {
      if (action.type === "notify") {
        this.#count(`server ${action.notice.type}`);
        if (action.notice.type === "leading" && action.notice.source !== "") {
          this.#count("server leading after a fetch");
        }
        if (action.notice.type === "merged") this.merged += action.notice.appended;
        this.note(`${server.id}#${server.incarnation} ${JSON.stringify(action.notice)}`);
      }
    }
  }

  /** See {@linkcode ChatObserver.typed}. */
  typed(_client: SimClient, text: string, address?: ChatLineAddress): void {
    this.#typedAt.set(text, this.#world.now);
    if (address?.line === "direct") this.#typedTo.set(text, address.to!);
  }

  /**
   * See {@linkcode ChatObserver.toClient}: no datagram on the group, and none to a third user's
   * host, carries the text of a direct message.
   */
  toClient(client: SimClient, body: Body, viaGroup: boolean): void {
    if (body.kind !== "chat-deliver" && body.kind !== "chat-stream") return;
    for (const entry of body.entries) {
      if (entry.kind !== "direct" || entry.text === "") continue;
      if (viaGroup || !involves(entry, client.user)) {
        this.#fail(
          `a ${body.kind} ${viaGroup ? "on the group" : `to ${client.id} (${client.user})`} ` +
            `carried the text of ${entry.from}'s direct message to ${entry.to}`,
        );
      }
    }
  }

  /** See {@linkcode ChatObserver.clientActions}. */
  clientActions(client: SimClient, actions: readonly ChatClientAction[]): void {
    const p = this.#process(client);
    for (const action of actions) {
      switch (action.type) {
        case "deliver": {
          const { seq, id, text, kind, from, to } = action.message;
          this.#textOf.set(id, text);
          if (kind === "direct") this.#checkDirect(p, id, from, to!, text);
          this.#line(p, seq, id);
          this.#count(`client shown ${kind}`);
          break;
        }
        case "moved":
        case "bounced":
        case "unseen":
          this.#line(p, action.seq, action.id);
          this.#count(`client ${action.type}`);
          break;
        case "presence":
          this.#position(p, action.seq, `${action.change} ${action.user}`);
          break;
        case "notice":
          this.#onNotice(p, action.notice);
          break;
        default:
          break;
      }
    }
  }

  /** One client line at `seq`: a position, once per process, in its sender's order. */
  #line(p: Process, seq: number, id: string): void {
    this.#position(p, seq, `msg ${id}`);
    if (p.ids.has(id)) this.#fail(`${p.name} delivered ${id} twice`);
    p.ids.add(id);
    const [sender, cseq] = splitId(id);
    if ((p.lastCseq.get(sender) ?? 0) >= cseq) {
      this.#fail(`${p.name} delivered ${id} after a later line of the same sender`);
    }
    p.lastCseq.set(sender, cseq);
    this.delivered++;
  }

  /** A direct message shown: only to its two users, as typed, to the user it was typed to. */
  #checkDirect(p: Process, id: string, from: string, to: string, text: string): void {
    const user = p.client.user;
    if (user !== from && user !== to) {
      this.#fail(`${p.name} (${user}) was shown ${id}, a direct message from ${from} to ${to}`);
    }
    if (this.#typedTo.get(text) !== to) {
      this.#fail(
        `${p.name} was shown ${id} "${text}" to ${to}; it was typed to ` +
          `${this.#typedTo.get(text) ?? "nobody (not a direct message)"}`,
      );
    }
    p.shownDirect.add(id);
  }

  #onNotice(p: Process, notice: Extract<ChatClientAction, { type: "notice" }>["notice"]): void {
    this.#count(`client ${notice.kind}`);
    if (notice.kind !== "acknowledged" && notice.kind !== "skipped") {
      this.note(`${p.name} ${JSON.stringify(notice)}`);
    }
    switch (notice.kind) {
      case "acknowledged":
        this.acked.add(notice.id);
        return;
      case "attached":
        if (!notice.resumed) p.attachedAt = this.#world.now;
        return;
      case "skipped":
        if (notice.id !== "" && !p.ids.has(notice.id)) {
          this.#fail(`${p.name} skipped ${notice.id} at ${notice.seq} but never delivered it`);
        }
        this.#position(p, notice.seq, notice.id ? `msg ${notice.id}` : null);
        return;
      case "rewound":
        if (this.#splitAt === Infinity && p.minorityAt === Infinity) {
          this.#fail(`${p.name} was re-anchored at ${notice.from} without any partition`);
        }
        p.rewinds.push({ at: this.#world.now, from: notice.from });
        p.last = notice.from - 1;
        return;
      case "split":
        // The servers themselves saw a split (several servers vanished at once), whatever the
        // schedule meant: heavy loss and pauses can cut a side off as well as a partition can.
        if (notice.partition) this.partitioned();
        if (!notice.majority) p.minorityAt = Math.min(p.minorityAt, this.#world.now);
        return;
      case "missed":
        if (!this.#allowMissed) this.#fail(`${p.name} missed ${notice.from}..${notice.to}`);
        this.missed++;
        p.skipped.push([notice.from, notice.to]);
        p.last = notice.to;
        return;
      case "refused":
        // A restarted user whose old session's name lease has not expired yet is refused, as
        // the real client is; the schedule runs it again. Anyone else refused is a bug.
        if (notice.reason !== "name-taken" || p.incarnation === 1) {
          this.#fail(`${p.name} was refused: ${notice.reason}`);
        }
        return;
      default:
        return;
    }
  }

  /**
   * Why the run is not (yet) finished, or null: every up client joined, has everything it typed
   * acknowledged and has delivered up to the commit point of a leading, agreed leader that has
   * committed its whole log.
   */
  pendingProblem(): string | null {
    const leader = this.#world.agreedLeader();
    if (!leader) return "no agreed leader";
    const status = leader.chat!.status();
    if (status.role !== "leading") return `leader ${leader.id} is ${status.role}`;
    if (status.commit !== status.last) {
      return `leader ${leader.id} committed ${status.commit} of ${status.last}`;
    }
    for (const server of this.#world.servers) {
      const s = server.chat?.status();
      if (s && (s.commit !== status.commit || s.last !== status.last)) {
        return `${server.id} holds ${s.last} (committed ${s.commit}), leader ${status.last}`;
      }
    }
    const users = new Set<string>();
    for (const client of this.#world.clients) {
      if (!client.core) continue;
      users.add(client.user);
      const s = client.core.status();
      if (s.phase !== "joined") return `${client.id} is ${s.phase}`;
      if (!client.core.allAcknowledged()) {
        return `${client.id} has ${s.unacknowledged} unacknowledged lines`;
      }
      if (s.next !== status.commit + 1) {
        return `${client.id} is at ${s.next}, leader ${leader.id} committed ${status.commit}`;
      }
    }
    const present = [...leader.chat!.users().keys()].sort().join(" ");
    if (present !== [...users].sort().join(" ")) {
      return `leader ${leader.id} lists users [${present}], up: [${[...users].sort().join(" ")}]`;
    }
    return null;
  }

  /** Checks the end state; throws a {@linkcode SimViolation} when it is wrong. */
  finalProblem(): void {
    const leader = this.#world.agreedLeader();
    const final = new Map<number, string>();
    const finalIds = new Set<string>();
    const directs: ChatEntry[] = [];
    for (const entry of leader?.chat?.committed() ?? []) {
      final.set(entry.seq, identity(entry));
      if (isClientLine(entry)) finalIds.add(messageId(entry.client, entry.cseq));
      if (entry.kind === "direct") directs.push(entry);
    }
    for (const server of this.#world.servers) {
      for (const entry of server.chat?.committed() ?? []) {
        const known = final.get(entry.seq);
        if (known !== undefined && known !== identity(entry)) {
          this.#fail(
            `${server.id} committed "${identity(entry)}" at ${entry.seq}, ` +
              `leader ${leader?.id} "${known}"`,
          );
        }
      }
    }
    this.#checkPositions(final);
    for (const p of this.#processes.values()) {
      if (p.client.core === null || p.client.incarnation !== p.incarnation) continue;
      for (const id of this.acked) {
        const text = this.#textOf.get(id);
        const typedAt = text === undefined ? undefined : this.#typedAt.get(text);
        if (p.ids.has(id) || p.attachedAt === undefined) continue;
        if (typedAt === undefined || typedAt < p.attachedAt) continue;
        if (this.#allowMissed && (p.skipped.length > 0 || !finalIds.has(id))) continue;
        this.#fail(`${p.name} never delivered ${id}, typed after it attached and acknowledged`);
      }
      for (const entry of directs) {
        const id = messageId(entry.client, entry.cseq);
        const typedAt = this.#typedAt.get(entry.text);
        if (p.shownDirect.has(id) || !involves(entry, p.client.user)) continue;
        if (p.attachedAt === undefined || typedAt === undefined || typedAt < p.attachedAt) continue;
        if (this.#allowMissed && p.skipped.length > 0) continue;
        this.#fail(`${p.name} (${p.client.user}) never showed the direct message ${id}`);
      }
    }
  }

  /**
   * Every position shown must hold the same line in the final log, but for the positions the
   * merge rule lets move: shown provisionally (after a partition began, before a re-anchor) by
   * the clients of a side that does not keep its positions; such a client that is still up must
   * have been re-anchored at or below them after showing them. At most one side may lose any.
   */
  #checkPositions(final: ReadonlyMap<number, string>): void {
    const losing = new Set<Place>();
    for (const p of this.#processes.values()) {
      const running = p.client.core !== null && p.client.incarnation === p.incarnation;
      for (const d of p.deliveries) {
        const known = final.get(d.seq);
        if (known === undefined || known === d.what) continue;
        const told = p.rewinds.some((r) => r.at > d.at && r.from <= d.seq);
        if (!d.provisional || (running && !told)) {
          this.#fail(
            `${p.name} showed "${d.what}" at ${d.seq} (t=${d.at.toFixed(1)}, ${d.place}), ` +
              `the final log holds "${known}" there${
                d.provisional ? " and it was never told" : ""
              }`,
          );
        }
        losing.add(d.place);
      }
    }
    losing.delete("whole");
    if (losing.size > 1) {
      this.#fail(`positions moved on more than one side of the split: ${[...losing].join(", ")}`);
    }
  }

  #process(client: SimClient): Process {
    const name = `${client.id}#${client.incarnation}`;
    let p = this.#processes.get(name);
    if (!p) {
      p = {
        name,
        client,
        incarnation: client.incarnation,
        deliveries: [],
        rewinds: [],
        ids: new Set(),
        shownDirect: new Set(),
        lastCseq: new Map(),
        skipped: [],
        minorityAt: Infinity,
      };
      this.#processes.set(name, p);
    }
    return p;
  }

  #count(event: string): void {
    this.events[event] = (this.events[event] ?? 0) + 1;
  }

  /** Records that `p` holds `what` at `seq` (null: a presence entry it had shown already). */
  #position(p: Process, seq: number, what: string | null): void {
    if (p.last !== undefined && seq !== p.last + 1) {
      this.#fail(`${p.name} delivered ${seq} after ${p.last} (${what ?? "presence"})`);
    }
    p.last = seq;
    if (what === null) return;
    const now = this.#world.now;
    if (this.#serverInMinority(p.client)) p.minorityAt = Math.min(p.minorityAt, now);
    const provisional = now >= this.#splitAt || now >= p.minorityAt;
    const place = this.#placeOf(p.client, provisional);
    p.deliveries.push({ seq, what, at: now, place, provisional });
    if (provisional && this.#world.sideOf(p.client.id) === undefined) return;
    let shown = this.#shown.get(place);
    if (!shown) this.#shown.set(place, shown = new Map());
    const known = shown.get(seq);
    if (known !== undefined && known !== what) {
      this.#fail(`${p.name} delivered "${what}" at ${seq} (${place}), others "${known}"`);
    }
    shown.set(seq, what);
  }

  /** True when the server `client` is attached to sees its side of a split without a majority. */
  #serverInMinority(client: SimClient): boolean {
    const id = client.core?.status().server;
    const server = this.#world.servers.find((s) => s.id === id);
    return server?.core?.view().split?.majority === false;
  }

  /**
   * Where `client` stands: its side while the network is split; after the heal, the side its
   * server was on (that server's log may not be merged yet, even after a re-anchoring).
   */
  #placeOf(client: SimClient, provisional: boolean): Place {
    const world = this.#world;
    const side = world.sideOf(client.id);
    if (side !== undefined) return `side ${side}`;
    const server = client.core?.status().server;
    const last = provisional && server ? world.lastSideOf(server) : undefined;
    return last === undefined ? "whole" : `side ${last}`;
  }

  #fail(message: string): never {
    throw new SimViolation(`t=${this.#world.now.toFixed(1)}: ${message}`);
  }
}

/** How a committed entry shows in a client's stream. */
function identity(entry: ChatEntry): string {
  if (isClientLine(entry)) return `msg ${messageId(entry.client, entry.cseq)}`;
  return `${entry.kind === "join" ? "joined" : "left"} ${entry.from}`;
}

function splitId(id: string): [string, number] {
  const slash = id.lastIndexOf("/");
  return [id.slice(0, slash), Number(id.slice(slash + 1))];
}
