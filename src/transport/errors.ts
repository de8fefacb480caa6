/**
 * Turns socket errors into {@linkcode TransportError}s a user can act on, and reports errors
 * thrown by receive handlers.
 *
 * This module owns the wording of transport errors. It opens no socket.
 *
 * @module
 */

import { type Address, type InterfaceInfo, type ReceiveHandler, TransportError } from "./types.ts";

/** The OS error code (`EADDRINUSE`, …) of a Node or Deno error, when it has one. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function isNotCapable(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "NotCapable" || name === "PermissionDenied";
}

/** Explains why binding UDP `port` (what: "unicast" or "multicast group") failed. */
export function bindError(error: unknown, port: number, what: string): TransportError {
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (isNotCapable(error)) {
    return new TransportError(`no permission to open UDP sockets: run with --allow-net`, {
      cause: error,
    });
  }
  switch (code) {
    case "EADDRINUSE":
      return new TransportError(
        what === "unicast"
          ? `UDP port ${port} is already in use`
          : `UDP port ${port} (${what}) is already in use by a program that does not share it`,
        { cause: error },
      );
    case "EACCES":
    case "EPERM":
      return new TransportError(`not allowed to bind UDP port ${port}`, { cause: error });
    case "EADDRNOTAVAIL":
      return new TransportError(`cannot bind UDP port ${port}: address not available`, {
        cause: error,
      });
    default:
      return new TransportError(`cannot bind UDP port ${port} (${what}): ${detail}`, {
        cause: error,
      });
  }
}

/** Explains why joining `group` on `iface` failed. */
export function joinError(error: unknown, group: string, iface: InterfaceInfo): TransportError {
  const detail = error instanceof Error ? error.message : String(error);
  return new TransportError(
    `cannot join multicast group ${group} on ${iface.name} (${iface.address}): ${detail}`,
    { cause: error },
  );
}

/** Explains why a multicast socket option could not be set on `iface`. */
export function multicastSetupError(error: unknown, iface: InterfaceInfo): TransportError {
  const detail = error instanceof Error ? error.message : String(error);
  return new TransportError(
    `cannot send multicast on ${iface.name} (${iface.address}): ${detail}`,
    { cause: error },
  );
}

/** Throws a {@linkcode TransportError} when no interface was given to carry multicast. */
export function requireInterface(interfaces: readonly InterfaceInfo[]): InterfaceInfo {
  const first = interfaces[0];
  if (!first) throw new TransportError("no interface given for multicast");
  return first;
}

/**
 * Hands one received datagram to the handler, if there is one. A throwing handler is a bug in
 * the caller: swallowing it would hide it, and letting it end a receive loop would silently
 * deafen the process, so it is rethrown in a microtask, where it surfaces as uncaught.
 */
export function dispatchDatagram(
  handler: ReceiveHandler | undefined,
  data: Uint8Array,
  from: Address,
  viaGroup: boolean,
): void {
  if (!handler) return;
  try {
    handler(data, from, viaGroup);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
