/**
 * Chat scenarios as data, random ones from a seed, and the runner that plays one in the
 * {@linkcode ChatWorld} under the {@linkcode ChatChecker}.
 *
 * A scenario names its servers, its clients (when each starts, how much history it wants, when
 * its user types each line), the network and the chat tunables, and lists timed faults: crash
 * the leader, crash a follower, start a server (a restart, or a new one that needs the log), crash
 * a client, restart a crashed server, start a server that was never up (it needs the log), split
 * the network into two sides (servers listed, the rest; clients go with their server), heal. After
 * the last line and fault it drains: the run must reach the state where every client that is up
 * has everything acknowledged and has caught up, and the leader's users are exactly the clients
 * that are up (crashed ones timed out), within `drainMs`.
 *
 * @module
 */

import { type ChatConfig, defaultChatConfig, defaultLanConfig } from "../../src/config/mod.ts";
import { SeededRandom } from "../../src/util/random.ts";
import { ChatChecker } from "./chat_invariants.ts";
import { type ChatObserver, ChatWorld, type SimServer } from "./chat_world.ts";
import { SimViolation } from "./invariants.ts";
import type { NetworkModel } from "./simulator.ts";
import type { WireMode } from "./wire.ts";

/**
 * The largest wall-clock jump a random schedule makes (ms): 10 s inside the skew the replay guard
 * admits, so the jumped process stays in the cluster (clocks must agree that far:
 * docs/security.md).
 */
export const CLOCK_JUMP_MS = defaultLanConfig().security.maxClockSkewMs - 10_000;

/** One thing that happens to the cluster. */
export type ChatFault =
  | { type: "crash-leader" }
  | { type: "crash-follower" }
  | { type: "restart-server" }
  | { type: "new-server" }
  | { type: "crash-client"; id: string }
  | { type: "restart-client"; id: string }
  | { type: "pause"; target: "leader" | "follower" | "client"; ms: number }
  | { type: "clock-jump"; ms: number; id?: string }
  | { type: "split"; servers: string[] }
  | { type: "heal" }
  | {
    /** Every server is killed at once and started again `ms` later (needs disks). */
    type: "power-cut";
    ms: number;
  };

/** One client of a scenario. */
export interface ChatClientSpec {
  /** Node id. */
  id: string;
  /** User name. */
  user: string;
  /** History it asks for. */
  history: number;
  /** When it starts (ms). */
  startAt: number;
  /** When its user types each line (ms). */
  lines: number[];
}

/** A whole chat scenario. */
export interface ChatSchedule {
  /** Seed of the simulation's random choices. */
  seed: number;
  /** Server ids; those in `initial` start at 0-300 ms, the others only by a `new-server` fault. */
  servers: string[];
  /** Servers running from the start. */
  initial: string[];
  /** The clients. */
  clients: ChatClientSpec[];
  /** The network. */
  network: NetworkModel;
  /** Chat tunables. */
  chat: ChatConfig;
  /** Timed faults (ms). */
  faults: { at: number; do: ChatFault }[];
  /**
   * How long after the last line and fault the run may take to settle (ms): at 30% loss and a
   * window of one line a line takes about 0.6 s to be acknowledged, so random schedules allow
   * 20 s plus 1.5 s per line of their busiest client.
   */
  drainMs: number;
  /** Servers keep their chat log on a disk that survives crashes (see `ChatWorld`). */
  disk?: boolean;
}

/** What a finished run measured. */
export interface ChatReport {
  /** Simulated time at the end (ms). */
  endedAt: number;
  /** Datagrams sent. */
  datagrams: number;
  /** Entries delivered over all clients. */
  delivered: number;
  /** Lines acknowledged. */
  acked: number;
  /** Ranges clients skipped because the log no longer held them. */
  missed: number;
  /** How often each server and client notice occurred, by type. */
  events: Record<string, number>;
  /** Lines leaders appended from other servers' diverged logs (merges after partitions). */
  merged: number;
}

/** Builds the random scenario of `seed`: 3-5 servers, 2-5 clients, up to 30% loss, faults. */
export function randomChatSchedule(seed: number): ChatSchedule {
  const rng = new SeededRandom(seed);
  const serverCount = 3 + rng.int(3);
  const servers = Array.from({ length: serverCount + 1 }, (_, i) => `s${i}`);
  const initial = servers.slice(0, serverCount);
  const chat = defaultChatConfig();
  if (rng.chance(0.35)) chat.logLimit = 10 + rng.int(40);
  if (rng.chance(0.2)) chat.streamToClients = false;
  if (rng.chance(0.25)) chat.sendWindow = 1 + rng.int(4);
  if (rng.chance(0.2)) {
    chat.maxUncommitted = 4 + rng.int(28);
    chat.orderWindow = 1 + rng.int(chat.sendWindow + 4);
    chat.maxBuffered = 4 + rng.int(28);
  }
  const lossy = rng.chance(0.7);
  const network: NetworkModel = {
    latencyMs: 0.2,
    jitterMs: rng.next() * 5,
    loss: lossy ? (rng.chance(0.5) ? 0.3 : rng.next() * 0.3) : 0,
    duplicate: rng.chance(0.6) ? rng.next() * 0.1 : 0,
    multicast: true,
  };
  const clients: ChatClientSpec[] = [];
  const clientCount = 2 + rng.int(4);
  let lastLine = 0;
  for (let i = 0; i < clientCount; i++) {
    const startAt = rng.chance(0.3) ? 1_500 + rng.int(3_000) : rng.int(1_000);
    const count = 3 + rng.int(rng.chance(0.2) ? 60 : 20);
    const lines: number[] = [];
    let at = startAt + rng.int(500);
    for (let k = 0; k < count; k++) {
      at += rng.chance(0.3) ? 0 : rng.int(400);
      lines.push(at);
    }
    lastLine = Math.max(lastLine, at);
    clients.push({ id: `c${i}`, user: `user${i}`, history: rng.int(30), startAt, lines });
  }
  const faults: { at: number; do: ChatFault }[] = [];
  const faultCount = rng.int(4);
  for (let f = 0; f < faultCount; f++) {
    const at = 1_000 + rng.int(Math.max(1, lastLine - 500));
    const choice = rng.int(10);
    if (choice < 3) faults.push({ at, do: { type: "crash-leader" } });
    else if (choice < 5) faults.push({ at, do: { type: "crash-follower" } });
    else if (choice < 7) faults.push({ at, do: { type: "restart-server" } });
    else if (choice < 9) faults.push({ at, do: { type: "new-server" } });
    else faults.push({ at, do: { type: "crash-client", id: rng.pick(clients).id } });
  }
  const stalls = addStalls(rng, faults, lastLine, chat);
  faults.sort((a, b) => a.at - b.at);
  const busiest = Math.max(...clients.map((c) => c.lines.length));
  const drainMs = 20_000 + 1_500 * busiest + stalls;
  return { seed, servers, initial, clients, network, chat, faults, drainMs };
}

/**
 * Adds the faults of a process that stops and comes back: a restart of some crashed clients
 * (after their name lease expired, as a new session of the same user), pauses (SIGSTOP, a long
 * GC: 0.1-10 s, 70 % of them on the leader) in half of the schedules, and wall-clock jumps of a
 * random process (either way, within the clock skew the wire admits: `CLOCK_JUMP_MS`) in a fifth.
 * A jump beyond that skew cuts the process off like a partition of one: the scenarios test that.
 * Drawn after every other choice of the
 * schedule, so older seeds keep their lines and other faults. Returns how much longer the
 * schedule may take to settle (ms).
 */
function addStalls(
  rng: SeededRandom,
  faults: { at: number; do: ChatFault }[],
  lastLine: number,
  chat: ChatConfig,
): number {
  let extra = 0;
  for (const fault of [...faults]) {
    if (fault.do.type !== "crash-client" || !rng.chance(0.6)) continue;
    const at = fault.at + chat.clientTimeoutMs + 500 + rng.int(2_000);
    faults.push({ at, do: { type: "restart-client", id: fault.do.id } });
    extra = Math.max(extra, at - lastLine);
  }
  if (rng.chance(0.5)) {
    const count = 1 + rng.int(2);
    for (let p = 0; p < count; p++) {
      const ms = rng.chance(0.5) ? 100 + rng.int(900) : 1_000 + rng.int(9_000);
      const roll = rng.next();
      const target = roll < 0.7 ? "leader" : roll < 0.9 ? "follower" : "client";
      const at = 800 + rng.int(Math.max(1, lastLine));
      faults.push({ at, do: { type: "pause", target, ms } });
      extra = Math.max(extra, at + ms - lastLine);
    }
  }
  if (rng.chance(0.2)) {
    const ms = (rng.chance(0.5) ? -1 : 1) * (1_000 + rng.int(CLOCK_JUMP_MS - 1_000));
    faults.push({ at: 500 + rng.int(Math.max(1, lastLine)), do: { type: "clock-jump", ms } });
  }
  return extra;
}

/**
 * A random chat schedule whose servers keep their chat log on disks, with one to three power cuts
 * (every server killed at once, started again 0.2-2 s later) among its faults: an acknowledged
 * line must survive them.
 */
export function randomDiskSchedule(seed: number): ChatSchedule {
  const schedule = randomChatSchedule(seed);
  const rng = new SeededRandom(seed ^ 0x5eed);
  const lastLine = Math.max(...schedule.clients.flatMap((c) => c.lines));
  const cuts = 1 + rng.int(3);
  const dark: [number, number][] = [];
  for (let i = 0; i < cuts; i++) {
    const at = 1_000 + rng.int(Math.max(1, lastLine));
    const ms = 200 + rng.int(1_800);
    schedule.faults.push({ at, do: { type: "power-cut", ms } });
    dark.push([at, at + ms]);
  }
  // A server started while every other is down (a new one, or a restart of one that was down
  // before the cut, so its log may lack what the others committed since) founds a cluster of its
  // own: a partition that heals when the others come back, not what a power cut is about.
  schedule.faults = schedule.faults.filter(({ at, do: fault }) =>
    (fault.type !== "new-server" && fault.type !== "restart-server") ||
    !dark.some(([from, to]) => at >= from && at <= to)
  );
  schedule.faults.sort((a, b) => a.at - b.at);
  schedule.drainMs += 2_000 * cuts;
  return { ...schedule, disk: true };
}

/**
 * Builds the partition scenario of `seed`: 4-5 servers and 2-4 clients on a network with up to
 * 10% loss split in two sides (1 to n-1 servers on the first) at 1.5-2.5 s, healed 2-5 s later,
 * with every client typing throughout, sometimes a leader crash during the split, a client crash
 * (and restart), pauses and wall-clock jumps.
 */
export function randomPartitionSchedule(seed: number): ChatSchedule {
  const rng = new SeededRandom(seed);
  const serverCount = 4 + rng.int(2);
  const servers = Array.from({ length: serverCount }, (_, i) => `s${i}`);
  const chat = defaultChatConfig();
  if (rng.chance(0.25)) chat.sendWindow = 1 + rng.int(4);
  const network: NetworkModel = {
    latencyMs: 0.2,
    jitterMs: rng.next() * 5,
    loss: rng.chance(0.6) ? rng.next() * 0.1 : 0,
    duplicate: rng.chance(0.5) ? rng.next() * 0.05 : 0,
    multicast: true,
  };
  const splitAt = 1_500 + rng.int(1_000);
  const healAt = splitAt + 2_000 + rng.int(3_000);
  const clients: ChatClientSpec[] = [];
  const clientCount = 2 + rng.int(3);
  for (let i = 0; i < clientCount; i++) {
    const startAt = rng.int(800);
    const lines: number[] = [];
    let at = startAt + 300 + rng.int(300);
    while (at < healAt + 2_000) {
      lines.push(at);
      at += 50 + rng.int(400);
    }
    clients.push({ id: `c${i}`, user: `user${i}`, history: 100, startAt, lines });
  }
  const shuffled = rng.shuffle(servers);
  const side = shuffled.slice(0, 1 + rng.int(serverCount - 1));
  const faults: { at: number; do: ChatFault }[] = [
    { at: splitAt, do: { type: "split", servers: side } },
    { at: healAt, do: { type: "heal" } },
  ];
  if (rng.chance(0.3)) faults.push({ at: splitAt + 1_000, do: { type: "crash-leader" } });
  if (rng.chance(0.3)) {
    faults.push({
      at: rng.int(healAt + 1_000),
      do: { type: "crash-client", id: rng.pick(clients).id },
    });
  }
  const stalls = addStalls(rng, faults, healAt + 2_000, chat);
  faults.sort((a, b) => a.at - b.at);
  const busiest = Math.max(...clients.map((c) => c.lines.length));
  return {
    seed,
    servers,
    initial: servers,
    clients,
    network,
    chat,
    faults,
    drainMs: 30_000 + 500 * busiest + stalls,
  };
}

/**
 * Plays a scenario, its datagrams travelling as `wire` says (default: `defaultWireMode()`);
 * throws a {@linkcode SimViolation} (with recent events) if it breaks an invariant.
 */
export function runChatSchedule(schedule: ChatSchedule, wire?: WireMode): ChatReport {
  const world = new ChatWorld({
    seed: schedule.seed,
    network: schedule.network,
    chat: schedule.chat,
    wire,
    disk: schedule.disk,
  });
  for (const id of schedule.servers) world.addServer(id);
  for (const c of schedule.clients) world.addClient(c.id, c.user, c.history);
  const checker = new ChatChecker(world, schedule.chat.logLimit < 10_000);
  world.observers.push(rerunRefused(world));
  let end = 0;
  for (const id of schedule.initial) world.at(world.rng.int(300), () => world.startServer(id));
  for (const c of schedule.clients) {
    world.at(c.startAt, () => world.startClient(c.id));
    for (const at of c.lines) world.at(at, () => world.type(c.id));
    end = Math.max(end, ...c.lines);
  }
  for (const fault of schedule.faults) {
    world.at(fault.at, () => {
      checker.note(`fault ${JSON.stringify(fault.do)}`);
      if (fault.do.type === "split") checker.partitioned();
      // A clock beyond the skew bound is refused by everyone: a partition of one process.
      if (fault.do.type === "clock-jump" && Math.abs(fault.do.ms) > CLOCK_JUMP_MS) {
        checker.partitioned();
      }
      applyFault(world, fault.do);
    });
    end = Math.max(end, fault.at);
  }
  try {
    world.run(end);
    const settled = world.runUntil(
      () => checker.pendingProblem() === null,
      end + schedule.drainMs,
    );
    if (!settled) {
      throw new SimViolation(
        `t=${world.now.toFixed(1)}: not settled ${schedule.drainMs} ms after the last line ` +
          `and fault: ${checker.pendingProblem()}`,
      );
    }
    checker.finalProblem();
  } catch (error) {
    if (error instanceof SimViolation) error.message += `\nrecent events:\n${checker.trace()}`;
    throw error;
  }
  return {
    endedAt: world.now,
    datagrams: world.datagrams,
    delivered: checker.delivered,
    acked: checker.acked.size,
    missed: checker.missed,
    events: checker.events,
    merged: checker.merged,
  };
}

/**
 * A user whose restarted client was refused its name (its old session's lease had not expired)
 * runs the command again a second later, as a person would.
 */
function rerunRefused(world: ChatWorld): ChatObserver {
  return {
    serverActions() {},
    clientActions(client, actions) {
      const refused = actions.some((a) =>
        a.type === "notice" && a.notice.kind === "refused" && a.notice.reason === "name-taken"
      );
      if (!refused || client.incarnation === 1) return;
      const incarnation = client.incarnation;
      world.at(world.now + 1_000, () => {
        if (client.incarnation !== incarnation || !client.up) return;
        world.crashClient(client.id);
        world.startClient(client.id);
      });
    },
  };
}

/**
 * Crashes `server` unless no other awake server holds every entry it committed: an acknowledged
 * line is promised to survive as long as one server of the view that stored it does, and while
 * the others are paused (or still catching up) that may be this server alone.
 */
function crashUnlessLast(world: ChatWorld, server: SimServer): void {
  if (othersHold(world, server)) world.crashServer(server.id);
}

/**
 * True when another server is up, awake and holds every entry `server` committed. Pauses keep to
 * this too: when every server that holds the log is paused, a server started meanwhile is a side
 * of a split of its own (the partition schedules cover splits).
 */
function othersHold(world: ChatWorld, server: SimServer): boolean {
  const commit = server.chat!.status().commit;
  return world.servers.some((s) =>
    s.up && s !== server && !world.paused(s.id) && s.chat!.status().last >= commit
  );
}

function applyFault(world: ChatWorld, fault: ChatFault): void {
  const up = world.servers.filter((s) => s.up);
  switch (fault.type) {
    case "crash-leader": {
      const leader = world.agreedLeader();
      if (leader) crashUnlessLast(world, leader);
      return;
    }
    case "crash-follower": {
      const leader = world.agreedLeader();
      const followers = up.filter((s) => s !== leader);
      if (followers.length > 0) crashUnlessLast(world, world.rng.pick(followers));
      return;
    }
    case "restart-server": {
      const down = world.servers.filter((s) => !s.up && s.incarnation > 0);
      if (down.length > 0) world.startServer(world.rng.pick(down).id);
      return;
    }
    case "new-server": {
      const fresh = world.servers.find((s) => s.incarnation === 0);
      if (fresh) world.startServer(fresh.id);
      return;
    }
    case "crash-client":
      world.crashClient(fault.id);
      return;
    case "restart-client":
      world.startClient(fault.id);
      return;
    case "pause": {
      const leader = world.agreedLeader();
      const followers = up.filter((s) => s !== leader);
      if (fault.target === "client") {
        const clients = world.clients.filter((c) => c.up);
        if (clients.length > 0) world.pause(world.rng.pick(clients).id, fault.ms);
        return;
      }
      const pool = fault.target === "leader" ? (leader ? [leader] : up) : followers;
      if (pool.length === 0) return;
      const server = world.rng.pick(pool);
      if (othersHold(world, server)) world.pause(server.id, fault.ms);
      return;
    }
    case "clock-jump": {
      const nodes: { id: string; up: boolean }[] = [...world.servers, ...world.clients];
      const live = nodes.filter((n) => n.up);
      if (fault.id !== undefined) world.jumpClock(fault.id, fault.ms);
      else if (live.length > 0) world.jumpClock(world.rng.pick(live).id, fault.ms);
      return;
    }
    case "split": {
      const rest = world.servers.map((s) => s.id).filter((id) => !fault.servers.includes(id));
      world.partition([fault.servers, rest]);
      return;
    }
    case "heal":
      world.heal();
      return;
    case "power-cut": {
      for (const server of up) {
        world.crashServer(server.id);
        // A paused process that loses power is not paused when it starts again.
        server.pausedUntil = 0;
      }
      world.at(world.now + fault.ms, () => {
        for (const server of up) world.startServer(server.id);
      });
      return;
    }
  }
}
