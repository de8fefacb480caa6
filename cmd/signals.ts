/**
 * Waiting for the signals that ask a dsys process to stop (SIGINT from Ctrl+C, SIGTERM from a
 * service manager), through `node:process` so the same code runs under Deno and Node.
 *
 * @module
 */

import process from "node:process";

/** Resolves with the name of the first SIGINT or SIGTERM received. */
export function stopSignal(): Promise<"SIGINT" | "SIGTERM"> {
  return new Promise((resolve) => {
    const on = (signal: "SIGINT" | "SIGTERM") => () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = on("SIGINT");
    const onTerm = on("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}
