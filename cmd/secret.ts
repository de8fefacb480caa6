/**
 * `dsys secret`: prints a fresh random secret, one line, fit to be a `--secret-file` as it is
 * (or the value of `--secret`). Giving every process of a cluster the same one authenticates and
 * encrypts all its traffic.
 *
 * @module
 */

import process from "node:process";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { Command } from "@commander-js/extra-typings";

/** Random bytes in a secret: 256 bits, the size of the encryption key derived from it. */
export const SECRET_BYTES = 32;

/** A fresh random secret: {@linkcode SECRET_BYTES} random bytes, base64url (no commas, no `#`). */
export function freshSecret(): string {
  return Buffer.from(randomBytes(SECRET_BYTES)).toString("base64url");
}

/** Builds the `secret` command. */
export function secretCommand() {
  return new Command("secret")
    .summary("print a fresh random secret for --secret-file")
    .description(
      "print a fresh random secret (256 bits) to secure a cluster: save it once, e.g. " +
        "`(umask 077; dsys secret > dsys.key)`, copy the file to every computer, and start " +
        "every server and client with --secret-file dsys.key",
    )
    .action(() => {
      process.stdout.write(`${freshSecret()}\n`);
    });
}
