/**
 * The transport layer of dsys: datagrams in and out, unicast and multicast, whatever the socket
 * API.
 *
 * - {@linkcode openTransport} opens the native Deno transport or the `node:dgram` one.
 * - {@linkcode listInterfaces} and {@linkcode selectInterfaces} decide which interfaces join the
 *   group, and say why.
 * - {@linkcode withFaults} and {@linkcode parseFaultSpec} inject drops, duplicates, reordering,
 *   delay and corruption for tests (and the hidden `DSYS_FAULTS` setting, which the CLI reads).
 * - {@linkcode MemoryNetwork} gives tests transports without sockets; a runtime takes one, in
 *   place of sockets, through a {@linkcode TransportFactory}.
 *
 * The layer knows nothing of the wire format, membership or the CLI; it must not read the
 * configuration module or the environment itself (callers pass {@linkcode TransportOptions}).
 *
 * @module
 */

export {
  type Address,
  type InterfaceInfo,
  type ReceiveHandler,
  type SocketOpener,
  type Transport,
  TransportError,
  type TransportFactory,
  type TransportKind,
  type TransportOptions,
  type TransportRequest,
  type TransportStats,
} from "./types.ts";
export {
  type InterfaceCandidate,
  type InterfaceChoice,
  listInterfaces,
  selectInterfaces,
} from "./interfaces.ts";
export { chooseTransportKind, openTransport, type SocketTransportKind } from "./select.ts";
export { denoDatagramAvailable, openDenoTransport } from "./deno_transport.ts";
export { openNodeTransport } from "./node_transport.ts";
export {
  type DirectionFaults,
  type FaultCounts,
  type FaultSpec,
  FaultSpecError,
  type FaultStats,
  type FaultyTransport,
  noFaults,
  parseFaultSpec,
  REORDER_HOLD_MS,
  withFaults,
} from "./faulty_transport.ts";
export { MemoryNetwork, MemoryTransport, type MemoryTransportOptions } from "./memory_transport.ts";
