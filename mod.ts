/**
 * dsys as a library: what a program embedding a dsys server, client or probe imports.
 *
 * - {@linkcode Server} runs a server (discovery, group view, failure detection, Bully election)
 *   on real sockets, or on any transport it is given ({@linkcode TransportFactory}, e.g. a
 *   {@linkcode MemoryNetwork}); {@linkcode ServerCore} is its pure protocol state machine.
 * - {@linkcode ChatServerCore} and {@linkcode ChatClientCore} are the pure chat state machines
 *   (sequencer, replication, exactly-once ordered delivery); {@linkcode ChatClient} connects a
 *   chat client, on real sockets or a given transport.
 * - {@linkcode Endpoint} and {@linkcode discoverServers} find servers from a client or a probe;
 *   `src/probe` diagnoses a network and a cluster.
 * - `src/config` holds every tunable ({@linkcode defaultLanConfig}, {@linkcode resolveConfig}).
 * - `src/wire` defines every message and the authenticated codec; `src/transport` the sockets,
 *   interface selection and fault injection.
 *
 * @example Start a server on loopback and stop it
 * ```ts ignore
 * import { resolveConfig, Server } from "./mod.ts";
 * const config = resolveConfig({ network: { iface: "lo", unicastPort: 0 } });
 * const server = await Server.start({ config, priority: 0 });
 * console.log(server.view());
 * await server.stop();
 * ```
 *
 * @module
 */

export * from "./src/config/mod.ts";
export * from "./src/wire/mod.ts";
export * from "./src/transport/mod.ts";
export * from "./src/election/mod.ts";
export * from "./src/membership/mod.ts";
export {
  type CoreEvent,
  type CoreOptions,
  type CoreStats,
  ServerCore,
  type ViewHeadline,
} from "./src/membership/core.ts";
export {
  Server,
  type ServerOptions,
  type ServerStats,
  type ServerStatusReport,
} from "./src/server/server.ts";
export { ChatDisk, type ChatDiskInfo, type ChatDiskOptions } from "./src/server/chat_disk.ts";
export type { Repair, TornTail } from "./src/storage/wal.ts";
export type { GcPauses, LagHistogram, ProcessReport } from "./src/server/process_stats.ts";
export type { GuardStats, Misbehaviour } from "./src/guard/tracker.ts";
export {
  Endpoint,
  type EndpointOptions,
  type EndpointStats,
  type EnvelopeHandler,
  formatAddress,
} from "./src/net/endpoint.ts";
export {
  type DiscoveredServer,
  discoverServers,
  type DiscoveryOptions,
} from "./src/net/discovery.ts";
export * from "./src/chat/mod.ts";
export type { Presence } from "./src/chat/directory.ts";
export type { LeaderPhase } from "./src/chat/leader.ts";
export type { SessionPhase } from "./src/chat/sessions.ts";
export { ChatClient, ChatRefusedError, NoServerError } from "./src/client/client.ts";
export type { ChatSession, ChatUiEvent, ServerEntry, WhoEntry } from "./src/client/repl.ts";
export type { ShownMessage } from "./src/client/render.ts";
export * from "./src/probe/mod.ts";
export type { Hint, HintCode } from "./src/probe/problems.ts";
export type { EnvironmentFacts, InterfaceRow, SelfTestResult } from "./src/probe/local.ts";
export type { Reach } from "./src/probe/verdict.ts";
export { LOG_LEVELS, type LogLevel, type LogSetup, setupLogging } from "./src/log/mod.ts";
export { VERSION } from "./src/version.ts";
