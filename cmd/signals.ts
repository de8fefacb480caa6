/**
 * Waiting for the signals that ask a dsys process to stop, through `node:process` so the same
 * code runs under Deno and Node: on Linux and macOS SIGINT (Ctrl+C) and SIGTERM (a service
 * manager, `kill`); on Windows SIGINT (Ctrl+C) and SIGBREAK (Ctrl+Break), the only two console
 * signals it delivers. Windows has no SIGTERM to wait for (Node accepts a listener that never
 * fires; Deno refuses one), so there none is installed.
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
export type StopSignalName = "SIGINT" | "SIGTERM" | "SIGBREAK";

/** Installs `listener` for `signal`; `process.on` unless a test passes its own. */
export type AddSignalListener = (signal: StopSignalName, listener: () => void) => void;

/** The stop signals that `platform` (a `process.platform` value) delivers. */
export function stopSignalsOf(platform: string): StopSignalName[] {
  return platform === "win32" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/**
 * Calls `onSignal` for every stop signal of `platform` from now until the process exits; the
 * default action (ending the process at once) never comes back.
 */
export function onStopSignals(
  onSignal: (signal: StopSignalName) => void,
  platform: string = process.platform,
  addListener: AddSignalListener = (signal, listener) => process.on(signal, listener),
): void {
  for (const signal of stopSignalsOf(platform)) addListener(signal, () => onSignal(signal));
}

/** Resolves with the name of the first stop signal received; later ones are swallowed. */
export function stopSignal(
  platform: string = process.platform,
  addListener?: AddSignalListener,
): Promise<StopSignalName> {
  return new Promise((resolve) => onStopSignals(resolve, platform, addListener));
}
