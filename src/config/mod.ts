/**
 * Every tunable of dsys, in one place, with its default and the reason for it.
 *
 * This module owns the shape of the configuration, its named presets and its validation.
 * It must not read flags, the environment or files: `cmd/` resolves those and passes the
 * overrides to {@linkcode resolveConfig}. The model is memberlist's `DefaultLANConfig`.
 *
 * @module
 */

/**
 * Longest delay a timer takes (ms): Node fires a longer `setTimeout` or `setInterval` at once
 * (with a `TimeoutOverflowWarning`), so every duration that becomes a timer is bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Network settings: where dsys listens and how it reaches the group. */
export interface NetworkConfig {
  /** Cluster name carried in every datagram; clusters with other names ignore each other. */
  cluster: string;
  /** IPv4 multicast group used for discovery and heartbeats. */
  group: string;
  /** UDP port of the multicast group; every dsys process of a cluster shares it. */
  port: number;
  /** Unicast port of a server; 0 picks a free port. Clients and probes always use 0. */
  unicastPort: number;
  /** Interface to use (name or IPv4 address); undefined means every up, multicast-capable one. */
  iface?: string;
  /** Multicast time-to-live. */
  multicastTtl: number;
  /** Whether this host's own processes hear its multicast. */
  multicastLoopback: boolean;
  /** Receive buffer asked of the kernel for `node:dgram` under Node (bytes). */
  receiveBufferBytes: number;
  /** Largest datagram accepted or sent (bytes). */
  maxDatagramBytes: number;
  /** Liveness connections (TCP, at the unicast port number) a server holds at most. */
  livenessConnections: number;
  /** Unicast seeds (`host:port`) for networks where multicast does not pass. */
  peers: string[];
}

/** Authentication and replay protection settings. */
export interface SecurityConfig {
  /**
   * Keyring: send with the first secret, accept any; each secret's key encrypts (ChaCha20-Poly1305).
   * Empty means a key derived from the cluster name, which only signs (no privacy).
   */
  secrets: string[];
  /** How far a datagram's timestamp may be from the receiver's clock (ms). */
  maxClockSkewMs: number;
  /** How many recent sequence numbers per sender the replay window remembers. */
  replayWindow: number;
  /**
   * How many senders the replay guard tracks before it forgets the least recent; also how many
   * addresses an endpoint remembers the id of, to bind unicast datagrams to their receiver.
   */
  replaySenders: number;
  /** Datagrams per second one authenticated sender may sustain before it is ignored (flood). */
  senderRatePerSecond: number;
  /** Datagrams one authenticated sender may send at once before it is ignored (flood). */
  senderBurst: number;
  /** How long a misbehaving member (flood, invalid, contradictory) is ignored (ms). */
  coolOffMs: number;
}

/** Failure detection, discovery and election timing. */
export interface TimingConfig {
  /** How often a server multicasts its heartbeat (ms). */
  heartbeatIntervalMs: number;
  /** How often the runtime ticks the protocol cores (ms). */
  tickIntervalMs: number;
  /** Silence after which a server becomes suspect (ms). */
  suspectAfterMs: number;
  /** How long a direct or indirect verification probe waits for an answer (ms). */
  probeTimeoutMs: number;
  /** How many other members are asked to probe a suspect indirectly. */
  indirectProbes: number;
  /** A tick gap at least this long means this process itself was stalled (ms). */
  stallThresholdMs: number;
  /** How long a starting server listens for an existing cluster before forming one (ms). */
  discoveryWindowMs: number;
  /** How many discovery probes a starting process sends, with exponential backoff. */
  discoveryAttempts: number;
  /** How long a departed member (or a dead client) is remembered before it is forgotten (ms). */
  forgetAfterMs: number;
  /** How long an election waits for an ANSWER from a higher-ordered server (ms). */
  electionAnswerTimeoutMs: number;
  /** How long a server that got an ANSWER waits for the COORDINATOR (ms). */
  electionCoordinatorTimeoutMs: number;
  /** How long a server declared dead (not left) is remembered and merge-probed (ms). */
  forgetDeadAfterMs: number;
  /** Most dead servers remembered at once; the longest-dead is forgotten first. */
  maxDeadServers: number;
  /** How often a server unicasts its heartbeat to the last address of every dead server (ms). */
  mergeProbeIntervalMs: number;
  /** Quiet time after the latest death before a split is announced (ms). */
  splitSettleMs: number;
  /** Servers declared dead this close together vanished at once: a cut link, not crashes (ms). */
  splitBurstMs: number;
  /** How soon a liveness connection that closed or was refused is tried again (ms). */
  livenessRetryMs: number;
}

/** What a server prints for the people running it. */
export interface OutputConfig {
  /** How often `serve` prints its view as a table (ms); 0 switches it off. */
  statusIntervalMs: number;
}

/** Sequencer, replication, delivery and client tunables of the chat layer. */
export interface ChatConfig {
  /** Committed entries every server keeps; older ones are dropped (memory bound). */
  logLimit: number;
  /** Past messages a new client receives before live ones (the chat command's `--history`). */
  history: number;
  /**
   * How long a chat client looks for servers, and at the end of its input waits for its lines to
   * be acknowledged (ms; the chat command's `--timeout`).
   */
  clientWaitMs: number;
  /** Longest line a client may send, in characters (code points; the wire's `MAX_CHAT_TEXT` UTF-16 units hold it). */
  maxTextChars: number;
  /** Largest JSON body of a batched datagram (bytes); one oversized entry still goes alone. */
  batchBodyBytes: number;
  /** Lines a client has in flight (sent, not yet acknowledged) at most. */
  sendWindow: number;
  /** Lines a client queues behind its window before it refuses input. */
  maxQueued: number;
  /** How far ahead of the next expected line the leader buffers a client's lines. */
  orderWindow: number;
  /** Lines the leader buffers out of order, over all clients. */
  maxBuffered: number;
  /** Sequenced but uncommitted entries the leader holds before it tells clients to slow down. */
  maxUncommitted: number;
  /**
   * Entries the leader's log may hold beyond the slowest attached client's delivery point before
   * it tells senders to slow down; below `logLimit`, so the log never moves past a live reader.
   */
  maxReaderLag: number;
  /** Entries the leader sends a server beyond what it acknowledged. */
  replicationWindow: number;
  /** Entries a server sends a client beyond what it acknowledged. */
  deliveryWindow: number;
  /**
   * Datagrams of entries a server has unacknowledged towards one server or client; entries beyond
   * wait and then leave together (batching under load, no delay when idle).
   */
  datagramsInFlight: number;
  /** Delivery datagrams a client acknowledges with one ack; the rest wait for its next tick. */
  ackEvery: number;
  /**
   * The leader multicasts committed entries to every client (`chat-stream`), and servers send a
   * client that takes the stream only what its acks show missing; off: every server sends each
   * of its clients its own copy.
   */
  streamToClients: boolean;
  /** A client that took no stream datagram for this long is sent everything by its server (ms). */
  streamSilenceMs: number;
  /**
   * While split, a resuming client whose history differs from this server's log waits this long
   * for the heal's merge before it is re-anchored on this side's log (ms).
   */
  anchorWaitMs: number;
  /** Entries the leader multicasts beyond the slowest client's delivery point (flow control). */
  streamWindow: number;
  /** Entries a client taking the stream delivers before it acks; fewer wait for its next tick. */
  streamAckEntries: number;
  /** Entries a client buffers out of order. */
  receiveWindow: number;
  /** Entries a gathering leader asks for per fetch. */
  fetchWindow: number;
  /**
   * Delivered entries a client remembers (position, term, id) to re-anchor on a merged log after
   * a partition without delivering a line twice.
   */
  mergeMemory: number;
  /** Clients one server accepts; a join beyond is refused as `full`. */
  maxClients: number;
  /** Lines per second one client may post to its server; beyond, the server says slow down. */
  postRatePerSecond: number;
  /** Lines one client may post at once before the rate applies. */
  postBurst: number;
  /** User names the leader tracks in the whole cluster. */
  maxUsers: number;
  /** Rooms the cluster keeps at once (a room exists while someone is in it). */
  maxRooms: number;
  /** Users a server lists in one answer to `/who` (the count of the rest is given). */
  maxWhoListed: number;
  /** Clients whose last sequence number every server remembers (duplicate suppression). */
  maxSenders: number;
  /** Silence after which a server resends to a server or a client, or repeats a request (ms). */
  retransmitMs: number;
  /** Silence after which a client resends its unacknowledged lines or its join (ms). */
  clientRetryMs: number;
  /** How often a client tells its server it is alive and how far it got (ms). */
  clientHeartbeatMs: number;
  /** Silence of its server after which a client looks for another one (ms). */
  serverTimeoutMs: number;
  /**
   * How long a client whose liveness connection to its server closed waits for that server to
   * answer before it looks for another one (ms).
   */
  serverCheckMs: number;
  /**
   * Silence of a client's server, while other servers are heard, after which the client checks it
   * as on a closed connection (a host cut off sends no close).
   */
  serverQuietMs: number;
  /** Silence of a client after which its server drops it and releases its name (ms). */
  clientTimeoutMs: number;
  /** How often a server renews the names of its clients at the leader (ms). */
  leaseIntervalMs: number;
  /** How long a new leader waits for name leases before it grants unknown names (ms). */
  settleMs: number;
}

/** The defaults for a LAN, sized for 10 000 messages of history and 100 clients per server. */
export function defaultChatConfig(): ChatConfig {
  return {
    // The history these defaults are sized for: 10 000 messages in bounded memory (~2 MB).
    logLimit: 10_000,
    // The documented `--history` default (docs/cli.md): a screenful or two of context for a
    // person joining, a few datagrams, cheap beside the log.
    history: 100,
    // A starting cluster answers within its discovery window many times over, and a failover
    // (server timeout plus discovery) fits three times; a script whose cluster is down still
    // gives up within a pause a person accepts.
    clientWaitMs: 10_000,
    // A long paragraph; at 6 JSON bytes per unit at worst it still fits a 16 KiB datagram.
    maxTextChars: 1000,
    // Batches only grow under a backlog (an idle line goes alone, unfragmented); then ~60 lines
    // share one datagram (6 Ethernet fragments) — datagrams, not bytes, cost CPU (JGroups: 64 KB).
    batchBodyBytes: 8000,
    // Two full batches in flight: keeps a LAN pipe full at 1 ms round trips (32 halved throughput).
    sendWindow: 128,
    // Bounds a client's memory when stdin outruns the cluster; the runtime pauses input.
    maxQueued: 1000,
    // Twice the send window: retries and reordering of one window always fit.
    orderWindow: 256,
    // 100 clients' worth of a reordered half-window each; beyond it lines wait for a retry.
    maxBuffered: 4096,
    // A few batches of every client in flight; beyond it the leader pushes back.
    maxUncommitted: 4096,
    // Half the log: slow readers hold senders back long before their entries could be dropped.
    maxReaderLag: 5000,
    // About 50 datagrams in flight per server: fills a LAN without overrunning a 208 KiB buffer.
    replicationWindow: 512,
    // About 25 datagrams in flight per client.
    deliveryWindow: 256,
    // A few datagrams cover a LAN round trip at any sane rate; beyond that batching pays.
    datagramsInFlight: 4,
    // Every second datagram, like TCP's delayed ACK: half the acks, and a server's window of
    // `datagramsInFlight` (4) never waits for one; a lone datagram is acked at the next tick.
    ackEvery: 2,
    // One datagram per batch for all clients instead of one per client: the deliveries were 6 of
    // the ~16 datagrams each line cost, and followers' clients skip the commit notice's hop.
    streamToClients: true,
    // Three repair rounds (`retransmitMs`): a client whose multicast stopped is served by
    // unicast again within a third of a second, while a busy stream never flips it back and forth.
    streamSilenceMs: 300,
    // A heal merges in well under a second (lab median 56-79 ms): waiting that long spares a client
    // of the side that keeps its positions a second re-anchoring, while a client that crossed to
    // the other side of a lasting split goes on after 2 s.
    anchorWaitMs: 2_000,
    // About 8 full datagrams in flight: a third of a default 208 KiB receive buffer (Deno cannot
    // enlarge it), and still several round trips' worth at the cluster's rates.
    streamWindow: 512,
    // A quarter of the stream window keeps the stream flowing under load; at 1 000 lines/s a
    // client acks once a tick (25 ms) instead of every second datagram: 40 acks/s, not 500.
    streamAckEntries: 128,
    // Covers a delivery window plus reordering; later entries are re-requested.
    receiveWindow: 1024,
    // One round trip fetches a useful slice of a 10 000-entry log.
    fetchWindow: 512,
    // As many as a server's log keeps: a fork older than that is below every window anyway.
    mergeMemory: 10_000,
    // The 100 clients per server these defaults are sized for, with room.
    maxClients: 256,
    // Far under what a 3-server cluster of this machine sequences (15 000–20 000 lines/s), so no
    // client can starve the others, and far over what a person or a script pasting text sends.
    postRatePerSecond: 1000,
    // A pasted file of 2 000 lines goes through at once; so does each client of the chat
    // benchmark (10 × 2 000 lines as fast as possible).
    postBurst: 2000,
    // Several servers' worth of clients.
    maxUsers: 1024,
    // A class or an office has a few dozen teams and topics; the bound keeps every server's
    // roster and the `/rooms` answer small whatever a script creates.
    maxRooms: 256,
    // A screenful of names, and an answer that fits one datagram (128 names of 32 characters).
    maxWhoListed: 128,
    // Every client of a busy cluster, with room for departed ones whose lines are still retried.
    maxSenders: 4096,
    // Four LAN round trips and a few ticks: repairs loss fast without doubling traffic.
    retransmitMs: 100,
    // A commit takes a few hops; retrying sooner only duplicates.
    clientRetryMs: 300,
    // Five a second: cheap, and a lost ack is repaired quickly.
    clientHeartbeatMs: 200,
    // Ten heartbeats unanswered: a dead server, not a lossy network (and longer than a failover).
    serverTimeoutMs: 2000,
    // A live server answers the ack sent on the close within a round trip and a flush; a close
    // forged on the path is refuted by that answer, a crashed server is left after this.
    serverCheckMs: 150,
    // Three client heartbeats (and six server heartbeats) without a word from its server while
    // others are heard: its host or link is gone, or it is stalled; checked before leaving it.
    serverQuietMs: 600,
    // Longer than a client's reattach (server timeout plus discovery), so a moving client keeps
    // its name.
    clientTimeoutMs: 6000,
    // Leases expire after `clientTimeoutMs`; five renewals fit in it, so loss does not expire them.
    leaseIntervalMs: 1000,
    // Two lease rounds: every server has reported its clients to the new leader.
    settleMs: 2000,
  };
}

/** The chat log on disk (the write-ahead log of `src/storage/`). */
export interface StorageConfig {
  /** A log segment is closed and the next one begun once it would grow past this (bytes). */
  segmentBytes: number;
  /** A segment of committed lines is deleted once this many newer lines follow it (retention). */
  retainLines: number;
  /** A segment of committed lines is deleted once its newest is this many days old (retention). */
  retainDays: number;
  /** How long after a failed write or flush (a full disk) the server tries again (ms). */
  flushRetryMs: number;
}

/** The disk log's defaults, sized for a chat's history. */
export function defaultStorageConfig(): StorageConfig {
  return {
    // 8 MiB, ~30 000 lines: retention frees space in steps small next to the log, and a roll
    // (one extra flush) comes every few thousand lines at most.
    segmentBytes: 8 * 1024 * 1024,
    // Ten times the memory window (`chat.logLimit`): a month of a busy team room, ~30 MB on disk.
    retainLines: 100_000,
    // A month of history even for a quiet room; a busy one reaches `retainLines` first.
    retainDays: 30,
    // Once a second: a freed disk is noticed soon, and a full one is not hammered.
    flushRetryMs: 1000,
  };
}

/** Tunables of the browser chat (`serve --http`: the page, its sessions and the cluster page). */
export interface WebConfig {
  /** Browser sessions (in-process chat clients) one server runs at most. */
  maxSessions: number;
  /** How long a session outlives its last open event stream before it leaves the chat (ms). */
  idleSessionMs: number;
  /** Events a session keeps to replay to a browser that reconnects (`Last-Event-ID`). */
  replayEvents: number;
  /** Largest request body a page may post (bytes). */
  maxBodyBytes: number;
  /** How often the cluster page's feed sends a snapshot (ms). */
  feedIntervalMs: number;
  /** How many snapshots the cluster page's charts span. */
  feedPoints: number;
  /** How long the idle event stream waits before it sends a comment to keep proxies open (ms). */
  keepAliveMs: number;
  /** How often a joining session checks how far its client delivered, until it is ready (ms). */
  progressMs: number;
}

/** The defaults of {@linkcode WebConfig}. */
export function defaultWebConfig(): WebConfig {
  return {
    // As many as a server's chat clients are sized for (ChatConfig: 100 clients per server).
    maxSessions: 100,
    // A phone that locks its screen or walks between access points comes back within this;
    // a closed tab leaves at once (the page says so), a lost one frees its name after it.
    idleSessionMs: 60_000,
    // A minute of a lively chat: a browser that lost its stream for a moment replays from memory
    // (a longer gap asks the cluster's log, as a resume on another server does).
    replayEvents: 1000,
    // A line of maxTextChars characters at 6 JSON bytes each, with room for the envelope.
    maxBodyBytes: 16 * 1024,
    // One snapshot a second: a chart people read, a few hundred bytes per viewer per second.
    feedIntervalMs: 1000,
    // Five minutes at one point a second: "the last minutes" on the cluster page.
    feedPoints: 300,
    // Below the 60 s idle timeout of common proxies and of Node's own server.
    keepAliveMs: 15_000,
    // A person waits this long at most for lines typed while joining; only joining sessions poll.
    progressMs: 100,
  };
}

/** The whole configuration of a dsys process. */
export interface Config {
  /** Network settings. */
  network: NetworkConfig;
  /** Authentication settings. */
  security: SecurityConfig;
  /** Protocol timing. */
  timing: TimingConfig;
  /** Output of the server for its operator. */
  output: OutputConfig;
  /** The chat layer. */
  chat: ChatConfig;
  /** The chat log on disk. */
  storage: StorageConfig;
}

/** Default for a LAN: fast failover, no false alarms on a busy two-core machine. */
export function defaultLanConfig(): Config {
  return {
    network: {
      // Short, readable; people running one cluster never have to name it.
      cluster: "dsys",
      // Organisation-local scope (RFC 2365): never routed off the site.
      group: "239.255.77.77",
      // Above the registered range's common services, below the ephemeral range.
      port: 7400,
      // Fixed so that firewall rules can name it; the next port after the group's.
      unicastPort: 7401,
      iface: undefined,
      // One hop: the chat stays on the LAN segment.
      multicastTtl: 1,
      // Several processes on one host must hear each other.
      multicastLoopback: true,
      // Measured on a 2-core machine: the default 208 KiB holds ~256 small datagrams and
      // bursts overflow it; under Node 1–4 MiB kept delivery lossless up to ~260 000/s.
      receiveBufferBytes: 4 * 1024 * 1024,
      // Well under the 64 KiB UDP limit; larger datagrams are hostile or a bug.
      maxDatagramBytes: 16 * 1024,
      // Every client of a full server and every other server, with room; each costs a descriptor.
      livenessConnections: 1024,
      peers: [],
    },
    security: {
      secrets: [],
      // LAN clocks drift by seconds, not minutes; older datagrams are replays.
      maxClockSkewMs: 120_000,
      // Covers the reordering of a burst of heartbeats and chat batches.
      replayWindow: 1024,
      // Bounds memory under forged-sender floods; far above any real cluster.
      replaySenders: 4096,
      // Honest peers stay well under it: 10 clients sending at full speed (~19 000 lines/s through
      // 3 servers) got no sender flagged; a flood from one sender is what exceeds it.
      senderRatePerSecond: 10_000,
      // A full second of that rate: a retransmission burst after a stall never reaches it.
      senderBurst: 10_000,
      // Longer than failure detection (~0.7 s), so an ignored server drops out of the view, and
      // short enough that a repaired member rejoins without a restart; one log line per period.
      coolOffMs: 10_000,
    },
    timing: {
      // Ten a second: cheap on a LAN and gives the detector a fine grain.
      heartbeatIntervalMs: 100,
      // Finer than every timeout below, so none is late by more than this.
      tickIntervalMs: 25,
      // Five heartbeats lost in a row before suspicion; survives GC pauses of a few 100 ms.
      suspectAfterMs: 500,
      // LAN round trips are well under a millisecond; this covers a busy event loop.
      probeTimeoutMs: 200,
      // Two helpers give an independent path without flooding a small cluster (SWIM uses 3).
      indirectProbes: 2,
      // A gap of 10 ticks means our own process stalled; re-check before accusing others.
      stallThresholdMs: 250,
      // Enough for every live server to answer a probe twice.
      discoveryWindowMs: 600,
      // Probes at 0, 100, 200, 400 ms cover a lost probe or answer.
      discoveryAttempts: 4,
      // Long enough for a restarted server to be told apart from the old one.
      forgetAfterMs: 30_000,
      // LAN round trip plus a busy event loop.
      electionAnswerTimeoutMs: 150,
      // The winner announces right after its own answer window; allow two of them.
      electionCoordinatorTimeoutMs: 400,
      // A partition can last minutes; a record is a few hundred bytes, so keep it for the merge.
      forgetDeadAfterMs: 600_000,
      // Bounds memory and merge-probe traffic (one datagram per dead server per probe) under churn.
      maxDeadServers: 64,
      // Twice a second: a healed partition merges in well under a second even without multicast.
      mergeProbeIntervalMs: 500,
      // Deaths of one partition come within a heartbeat or two: announce one split, not a series.
      splitSettleMs: 300,
      // Every survivor declares a cut-off side dead within a few heartbeats (suspicion and probe
      // differ by at most a tick or two per peer); two unrelated crashes a second apart are rare.
      splitBurstMs: 1_000,
      // A restarted server is watched again within a second; a refused connect costs a round trip.
      livenessRetryMs: 1_000,
    },
    output: {
      // Often enough to watch a cluster settle, rare enough not to bury the event lines.
      statusIntervalMs: 10_000,
    },
    chat: defaultChatConfig(),
    storage: defaultStorageConfig(),
  };
}

/**
 * The LAN defaults on a cluster of their own (`dsys-test`) with any free unicast port, for tests
 * on loopback and in namespaces. The timings stay the defaults on purpose: they are what ships
 * and what is tuned against false alarms on a busy two-core machine, where the suite runs; tests
 * that need virtual speed run the pure cores in the simulators instead.
 */
export function testClusterConfig(): Config {
  const config = defaultLanConfig();
  config.network.cluster = "dsys-test";
  config.network.unicastPort = 0;
  return config;
}

/**
 * A configuration value that is out of range or malformed, or two settings that break a relation
 * between them. The message names settings by their path in {@linkcode Config}
 * (`network.cluster`, `chat.logLimit`), never by a command-line flag: a CLI maps {@linkcode
 * ConfigError.fields} to its own flags.
 */
export class ConfigError extends Error {
  /** The paths of the settings at fault (`section.name`), as the message spells them. */
  readonly fields: readonly string[];

  /** Creates an error about `fields`, whose `message` names each of them. */
  constructor(fields: string | readonly string[], message: string) {
    super(message);
    this.name = "ConfigError";
    this.fields = typeof fields === "string" ? [fields] : fields;
  }
}

/** Deep-partial overrides of a {@linkcode Config}. */
export interface ConfigOverrides {
  /** Network overrides. */
  network?: Partial<NetworkConfig>;
  /** Security overrides. */
  security?: Partial<SecurityConfig>;
  /** Timing overrides. */
  timing?: Partial<TimingConfig>;
  /** Output overrides. */
  output?: Partial<OutputConfig>;
  /** Chat overrides. */
  chat?: Partial<ChatConfig>;
  /** Disk log overrides. */
  storage?: Partial<StorageConfig>;
}

/** Applies overrides to a base configuration and validates the result. */
export function resolveConfig(
  overrides: ConfigOverrides = {},
  base: Config = defaultLanConfig(),
): Config {
  const config: Config = {
    network: { ...base.network, ...stripUndefined(overrides.network) },
    security: { ...base.security, ...stripUndefined(overrides.security) },
    timing: { ...base.timing, ...stripUndefined(overrides.timing) },
    output: { ...base.output, ...stripUndefined(overrides.output) },
    chat: { ...base.chat, ...stripUndefined(overrides.chat) },
    storage: { ...base.storage, ...stripUndefined(overrides.storage) },
  };
  validateConfig(config);
  return config;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}

/**
 * The chat tunables a process runs with: as configured, except that without a secret the
 * leader's multicast stream is off (servers send each client its own copy). Anyone on the LAN
 * reads the stream and can copy its sender's identity, so a forged batch could not be told from
 * the leader's; unicast from a client's own server carries the client's attachment number, which
 * a host that does not see that traffic cannot guess.
 */
export function effectiveChatConfig(config: Pick<Config, "chat" | "security">): ChatConfig {
  const open = config.security.secrets.length === 0;
  return open ? { ...config.chat, streamToClients: false } : config.chat;
}

/** Throws a {@linkcode ConfigError} for the first invalid setting or broken relation. */
export function validateConfig(config: Config): void {
  const { network, timing, output, chat, storage } = config;
  if (!/^[\w.-]{1,64}$/.test(network.cluster)) {
    throw new ConfigError(
      "network.cluster",
      `network.cluster ${
        JSON.stringify(network.cluster)
      }: use 1-64 letters, digits, '.', '_' or '-'`,
    );
  }
  if (!isMulticastIPv4(network.group)) {
    throw new ConfigError(
      "network.group",
      `network.group ${network.group}: not an IPv4 multicast address (224.0.0.0-239.255.255.255)`,
    );
  }
  checkPort("network.port", network.port, 1);
  checkPort("network.unicastPort", network.unicastPort, 0);
  if (
    !Number.isInteger(network.multicastTtl) || network.multicastTtl < 1 ||
    network.multicastTtl > 255
  ) {
    throw new ConfigError(
      "network.multicastTtl",
      `network.multicastTtl ${network.multicastTtl}: use 1-255`,
    );
  }
  for (const peer of network.peers) parseHostPort(peer, "network.peers");
  if (
    !Number.isInteger(output.statusIntervalMs) || output.statusIntervalMs < 0 ||
    output.statusIntervalMs > MAX_TIMER_MS
  ) {
    throw new ConfigError(
      "output.statusIntervalMs",
      `output.statusIntervalMs ${output.statusIntervalMs}: use a whole number of ms up to ` +
        `${MAX_TIMER_MS}, 0 for off`,
    );
  }
  for (
    const [section, values] of [
      ["timing", timing],
      ["chat", chat],
      ["storage", storage],
    ] as const
  ) {
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === "boolean") continue;
      const max = name.endsWith("Ms") ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
      if (!Number.isFinite(value) || value < (name === "history" ? 0 : 1) || value > max) {
        throw new ConfigError(`${section}.${name}`, `${section}.${name} ${value}: out of range`);
      }
    }
  }
  for (const name of ["senderRatePerSecond", "senderBurst", "coolOffMs"] as const) {
    const value = config.security[name];
    if (!Number.isFinite(value) || value < 1) {
      throw new ConfigError(`security.${name}`, `security.${name} ${value}: out of range`);
    }
  }
  for (const relation of relations(config)) {
    if (relation.holds) continue;
    const values = relation.fields.map((field) => `${field} ${valueAt(config, field)}`);
    throw new ConfigError(
      relation.fields,
      `${relation.rule} (${values.join(", ")}): ${relation.reason}`,
    );
  }
}

/** A relation between settings that the reasons of their defaults state. */
interface Relation {
  /** The settings it relates, as `section.name`. */
  fields: string[];
  /** Whether the configuration keeps it. */
  holds: boolean;
  /** The relation in words, naming every field. */
  rule: string;
  /** What goes wrong when it is broken. */
  reason: string;
}

/** Every relation between settings that a default's reason states, evaluated for `config`. */
function relations(config: Config): Relation[] {
  const { security, timing, chat } = config;
  const compare = comparer(config);
  const timeouts = [
    ...Object.keys(timing).filter((name) => name.endsWith("Ms") && name !== "tickIntervalMs")
      .map((name) => `timing.${name}`),
    ...Object.keys(chat).filter((name) => name.endsWith("Ms")).map((name) => `chat.${name}`),
  ];
  const lastProbeMs = timing.heartbeatIntervalMs * 2 ** (timing.discoveryAttempts - 2);
  return [
    ...timeouts.map((field) =>
      compare(
        "timing.tickIntervalMs",
        "<",
        field,
        "the cores act only on a tick, so a timer finer than the tick is late by a whole tick",
      )
    ),
    compare(
      "timing.suspectAfterMs",
      ">=",
      "timing.heartbeatIntervalMs",
      "one lost heartbeat would make a live server suspect",
      2,
    ),
    compare(
      "timing.stallThresholdMs",
      ">",
      "timing.tickIntervalMs",
      "a tick merely late by one interval would count as a stall of this process",
      2,
    ),
    compare(
      "timing.stallThresholdMs",
      "<",
      "timing.suspectAfterMs",
      "a stall of this process would make it suspect every other server before it sees the stall",
    ),
    {
      fields: [
        "timing.discoveryAttempts",
        "timing.heartbeatIntervalMs",
        "timing.discoveryWindowMs",
      ],
      holds: timing.discoveryAttempts < 2 || lastProbeMs < timing.discoveryWindowMs,
      rule: "the last discovery probe (timing.heartbeatIntervalMs × 2^(timing.discoveryAttempts " +
        "− 2)) must come before timing.discoveryWindowMs ends",
      reason: "later probes would never be sent",
    },
    compare(
      "timing.electionCoordinatorTimeoutMs",
      ">",
      "timing.electionAnswerTimeoutMs",
      "the winner announces only after its own answer window, so the others would give up on it " +
        "and start the election again",
    ),
    compare(
      "timing.mergeProbeIntervalMs",
      "<",
      "timing.forgetDeadAfterMs",
      "a dead server would be forgotten before it is merge-probed once",
    ),
    compare(
      "timing.splitSettleMs",
      "<=",
      "timing.splitBurstMs",
      "deaths announced as one loss would not count as vanished together",
    ),
    {
      fields: ["security.coolOffMs", "timing.suspectAfterMs", "timing.probeTimeoutMs"],
      holds: security.coolOffMs > timing.suspectAfterMs + timing.probeTimeoutMs,
      rule: "security.coolOffMs must be above timing.suspectAfterMs + timing.probeTimeoutMs",
      reason: "an ignored server would be heard again before it drops out of the view",
    },
    compare(
      "chat.maxReaderLag",
      "<",
      "chat.logLimit",
      "the log would drop entries a live reader has not delivered yet",
    ),
    compare(
      "network.maxDatagramBytes",
      ">",
      "chat.batchBodyBytes",
      "a full batch would not fit one datagram",
    ),
    compare(
      "network.maxDatagramBytes",
      ">",
      "chat.maxTextChars",
      "the longest line, escaped in JSON at 6 bytes a character at worst, would not fit one " +
        "datagram",
      6,
    ),
    compare(
      "chat.orderWindow",
      ">=",
      "chat.sendWindow",
      "the leader could not buffer one client's whole window out of order",
    ),
    compare(
      "chat.ackEvery",
      "<",
      "chat.datagramsInFlight",
      "a server would stop at every window and wait for a client's next tick",
    ),
    compare(
      "chat.streamSilenceMs",
      ">",
      "chat.retransmitMs",
      "a client whose stream lost one datagram would be switched to unicast before the loss is " +
        "repaired",
    ),
    compare(
      "chat.anchorWaitMs",
      ">",
      "timing.mergeProbeIntervalMs",
      "a resuming client would be re-anchored before a heal found only by merge probes can merge",
    ),
    compare(
      "chat.streamAckEntries",
      "<",
      "chat.streamWindow",
      "the leader's stream would stop at every window and wait for a client's next tick",
    ),
    compare(
      "chat.receiveWindow",
      ">=",
      "chat.deliveryWindow",
      "a client would drop entries its server may send it and ask for them again",
    ),
    compare(
      "chat.mergeMemory",
      ">=",
      "chat.logLimit",
      "after a merge a client could not re-anchor on a fork its server still keeps, and would " +
        "deliver a line twice",
    ),
    compare(
      "chat.maxUsers",
      ">=",
      "chat.maxClients",
      "the leader could not name every client one server accepts",
    ),
    compare(
      "chat.maxSenders",
      ">=",
      "chat.maxUsers",
      "servers would forget the last line of present clients and take a retry as new",
    ),
    compare(
      "chat.serverTimeoutMs",
      ">=",
      "chat.serverQuietMs",
      "the quick check of a quiet server would come after the client had left it anyway",
    ),
    compare(
      "chat.serverQuietMs",
      ">=",
      "chat.clientHeartbeatMs",
      "one lost answer would make a client check, and maybe leave, a live server",
      2,
    ),
    {
      fields: ["chat.clientTimeoutMs", "chat.serverTimeoutMs", "timing.discoveryWindowMs"],
      holds: chat.clientTimeoutMs > chat.serverTimeoutMs + timing.discoveryWindowMs,
      rule: "chat.clientTimeoutMs must be above chat.serverTimeoutMs + timing.discoveryWindowMs",
      reason: "a client moving to another server would lose its name before it reattaches",
    },
    compare(
      "chat.clientTimeoutMs",
      ">=",
      "chat.leaseIntervalMs",
      "one lost lease renewal would expire a present client's name",
      2,
    ),
    compare(
      "chat.settleMs",
      ">",
      "chat.leaseIntervalMs",
      "a new leader would grant names before every server reported its clients",
    ),
  ];
}

const COMPARISONS = {
  "<": { words: "below", holds: (a: number, b: number) => a < b },
  "<=": { words: "at most", holds: (a: number, b: number) => a <= b },
  ">": { words: "above", holds: (a: number, b: number) => a > b },
  ">=": { words: "at least", holds: (a: number, b: number) => a >= b },
};

/**
 * A builder of the relation "`a` op `factor` × `b`" between two numeric settings of `config`,
 * with the reason it must hold.
 */
function comparer(config: Config) {
  return (
    a: string,
    op: keyof typeof COMPARISONS,
    b: string,
    reason: string,
    factor = 1,
  ): Relation => {
    const { words, holds } = COMPARISONS[op];
    const times = factor === 1 ? "" : factor === 2 ? "twice " : `${factor} × `;
    return {
      fields: [a, b],
      holds: holds(valueAt(config, a) as number, factor * (valueAt(config, b) as number)),
      rule: `${a} must be ${words} ${times}${b}`,
      reason,
    };
  };
}

/** The value at `section.name` of `config`. */
function valueAt(config: Config, field: string): unknown {
  const [section, name] = field.split(".");
  return (config as unknown as Record<string, Record<string, unknown>>)[section][name];
}

function checkPort(field: string, port: number, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new ConfigError(field, `${field} ${port}: use a whole number from ${min} to 65535`);
  }
}

/** True for a dotted-quad IPv4 address in 224.0.0.0/4. */
export function isMulticastIPv4(address: string): boolean {
  const octets = parseIPv4(address);
  return octets !== undefined && octets[0] >= 224 && octets[0] <= 239;
}

/** Parses a dotted-quad IPv4 address into its four octets, or undefined. */
export function parseIPv4(address: string): number[] | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return octets.every((o) => o >= 0 && o <= 255) ? octets : undefined;
}

/**
 * Parses `host:port`, throwing a {@linkcode ConfigError} that names `field`: the setting (or, for
 * a caller outside the config, the input) the text came from.
 */
export function parseHostPort(text: string, field: string): { host: string; port: number } {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(
      field,
      `${field} ${JSON.stringify(text)}: expected host:port with a port from 1 to 65535`,
    );
  }
  return { host: match[1], port };
}
