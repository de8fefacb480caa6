/**
 * Waiting for the signals that ask a dsys process to stop (SIGINT from Ctrl+C, SIGTERM from a
 * service manager), through `node:process` so the same code runs under Deno and Node.
 *
 * One Ctrl+C often arrives more than once: the terminal sends SIGINT to the whole foreground
 * process group, and a parent that relays signals (npm, `deno task`) sends it again, even twice.
 * The listeners therefore stay installed after the first signal: with none left, Deno restores
 * the default action, and a repeat arriving during the stop killed the server before it sent its
 * `leave` (seen with `npx -y deno@2.9.6 task serve`).
 *
 * @module
 */

import process from "node:process";

/** A signal that asks a dsys process to stop. */
export type StopSignalName = "SIGINT" | "SIGTERM";

/**
 * Calls `onSignal` for every SIGINT and SIGTERM from now until the process exits; the default
 * action (ending the process at once) never comes back.
 */
export function onStopSignals(onSignal: (signal: StopSignalName) => void): void {
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
}

/** Resolves with the name of the first SIGINT or SIGTERM received; later ones are swallowed. */
export function stopSignal(): Promise<StopSignalName> {
  return new Promise((resolve) => onStopSignals(resolve));
}
