/**
 * What must hold in every simulated chat run. After every client step: each client delivers
 * consecutive sequence numbers (no gap, unless the server said the entries are gone and the run
 * allows that: small logs), no client delivers a message id twice (not even across a re-anchor
 * after a partition), and each sender's lines keep its order. Until the first re-anchor (a merged
 * log after a partition numbers the two sides' lines anew), every sequence number holds the same
 * entry at every client and no id is delivered at two positions. At the end
 * ({@linkcode ChatChecker.finalProblem}): every server that is up holds the same committed log
 * as the leader (where both keep it), every client's deliveries since its last re-anchor sit at
 * their positions of that log, every acknowledged line — on either side of a partition — is
 * delivered to every client that is up (from where its stream started), every line typed by a
 * client that is up is acknowledged, every client has caught up with the leader, and the leader
 * lists exactly the users of the clients that are up.
 *
 * @module
 */

import type { ChatClientAction, ChatServerAction } from "../../src/chat/mod.ts";
import { messageId } from "../../src/chat/keys.ts";
import type { ChatEntry } from "../../src/wire/messages.ts";
import type { ChatObserver, ChatWorld, SimClient, SimServer } from "./chat_world.ts";
import { SimViolation } from "./invariants.ts";

/** How many recent events a failure report shows. */
const TRACE_LINES = 60;

interface Stream {
  first?: number;
  last?: number;
  positions: Map<number, string>;
  ids: Set<string>;
  lastCseq: Map<string, number>;
  skipped: [number, number][];
}

/** Checks a {@linkcode ChatWorld} as it runs. */
export class ChatChecker implements ChatObserver {
  readonly #world: ChatWorld;
  readonly #allowMissed: boolean;
  readonly #atSeq = new Map<number, string>();
  readonly #seqOf = new Map<string, number>();
  readonly #streams = new Map<string, Stream>();
  readonly #trace: string[] = [];
  #renumbered = false;
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

  /**
   * A partition began: the sides number their lines independently until the merge, so positions
   * are compared at the end only (against the final log).
   */
  partitioned(): void {
    this.#renumbered = true;
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

  /** See {@linkcode ChatObserver.clientActions}. */
  clientActions(client: SimClient, actions: readonly ChatClientAction[]): void {
    const name = `${client.id}#${client.incarnation}`;
    let stream = this.#streams.get(name);
    if (!stream) {
      stream = { ids: new Set(), lastCseq: new Map(), skipped: [], positions: new Map() };
      this.#streams.set(name, stream);
    }
    for (const action of actions) {
      switch (action.type) {
        case "deliver": {
          const { seq, id } = action.message;
          this.#position(name, stream, seq, `msg ${id}`);
          if (stream.ids.has(id)) this.#fail(`${name} delivered ${id} twice`);
          stream.ids.add(id);
          const known = this.#seqOf.get(id);
          if (!this.#renumbered && known !== undefined && known !== seq) {
            this.#fail(`${id} delivered at ${seq} by ${name}, at ${known} elsewhere`);
          }
          this.#seqOf.set(id, seq);
          const [sender, cseq] = splitId(id);
          if ((stream.lastCseq.get(sender) ?? 0) >= cseq) {
            this.#fail(`${name} delivered ${id} after a later line of the same sender`);
          }
          stream.lastCseq.set(sender, cseq);
          this.delivered++;
          break;
        }
        case "presence":
          this.#position(name, stream, action.seq, `${action.change} ${action.user}`);
          break;
        case "notice": {
          const notice = action.notice;
          this.#count(`client ${notice.kind}`);
          if (notice.kind === "acknowledged") {
            this.acked.add(notice.id);
          } else if (notice.kind !== "skipped") {
            this.note(`${name} ${JSON.stringify(notice)}`);
          }
          if (notice.kind === "skipped") {
            if (notice.id !== "" && !stream.ids.has(notice.id)) {
              this.#fail(`${name} skipped ${notice.id} at ${notice.seq} but never delivered it`);
            }
            this.#position(name, stream, notice.seq, notice.id ? `msg ${notice.id}` : "presence");
            if (notice.id === "") stream.positions.delete(notice.seq);
          } else if (notice.kind === "rewound") {
            this.#renumbered = true;
            stream.last = notice.from - 1;
            stream.first = Math.min(stream.first ?? notice.from, notice.from);
            for (const seq of stream.positions.keys()) {
              if (seq >= notice.from) stream.positions.delete(seq);
            }
          } else if (notice.kind === "missed") {
            if (!this.#allowMissed) this.#fail(`${name} missed ${notice.from}..${notice.to}`);
            this.missed++;
            stream.skipped.push([notice.from, notice.to]);
            stream.last = notice.to;
          } else if (notice.kind === "refused") {
            this.#fail(`${name} was refused: ${notice.reason}`);
          }
          break;
        }
        default:
          break;
      }
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
    const finalSeq = new Map<string, number>();
    for (const entry of leader?.chat?.committed() ?? []) {
      final.set(entry.seq, identity(entry));
      if (entry.kind === "text") finalSeq.set(messageId(entry.client, entry.cseq), entry.seq);
    }
    for (const server of this.#world.servers) {
      if (!server.chat) continue;
      for (const entry of server.chat.committed()) {
        const known = final.get(entry.seq);
        if (known !== undefined && known !== identity(entry)) {
          this.#fail(
            `${server.id} committed "${identity(entry)}" at ${entry.seq}, ` +
              `leader ${leader?.id} "${known}"`,
          );
        }
      }
    }
    for (const client of this.#world.clients) {
      if (!client.core) continue;
      const name = `${client.id}#${client.incarnation}`;
      const stream = this.#streams.get(name)!;
      for (const [seq, what] of stream.positions) {
        const known = final.get(seq);
        if (known !== undefined && known !== what) {
          this.#fail(`${name} delivered "${what}" at ${seq}, the final log holds "${known}"`);
        }
      }
      for (const id of this.acked) {
        const seq = finalSeq.get(id) ?? (this.#renumbered ? undefined : this.#seqOf.get(id));
        if (seq === undefined) {
          if (!this.#allowMissed && !stream.ids.has(id)) {
            this.#fail(`acknowledged ${id} is not in the final log nor delivered by ${name}`);
          }
          continue;
        }
        if (stream.first === undefined || seq < stream.first || stream.ids.has(id)) continue;
        if (!stream.skipped.some(([from, to]) => from <= seq && seq <= to)) {
          this.#fail(`${name} never delivered acknowledged ${id} (seq ${seq})`);
        }
      }
    }
  }

  #count(event: string): void {
    this.events[event] = (this.events[event] ?? 0) + 1;
  }

  #position(name: string, stream: Stream, seq: number, what: string): void {
    if (stream.last !== undefined && seq !== stream.last + 1) {
      this.#fail(`${name} delivered ${seq} after ${stream.last} (${what})`);
    }
    stream.first ??= seq;
    stream.last = seq;
    stream.positions.set(seq, what);
    if (this.#renumbered) return;
    const known = this.#atSeq.get(seq);
    if (known !== undefined && known !== what) {
      this.#fail(`${name} delivered "${what}" at ${seq}, others delivered "${known}"`);
    }
    this.#atSeq.set(seq, what);
  }

  #fail(message: string): never {
    throw new SimViolation(`t=${this.#world.now.toFixed(1)}: ${message}`);
  }
}

/** How a committed entry shows in a client's stream. */
function identity(entry: ChatEntry): string {
  if (entry.kind === "text") return `msg ${messageId(entry.client, entry.cseq)}`;
  return `${entry.kind === "join" ? "joined" : "left"} ${entry.from}`;
}

function splitId(id: string): [string, number] {
  const slash = id.lastIndexOf("/");
  return [id.slice(0, slash), Number(id.slice(slash + 1))];
}
