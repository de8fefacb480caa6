/**
 * `dsys invite --http HOST:PORT`: prints the link that lets a person join the chat from a
 * browser. With a secret the link carries the invite token derived from it (after `#`, so it is
 * never sent in a request line or a Referer); the page keeps it and sends it with every request.
 *
 * @module
 */

import process from "node:process";
import { Command, Option } from "@commander-js/extra-typings";
import { resolveConfig } from "../src/config/mod.ts";
import { parseHttpAddress } from "../src/server/http.ts";
import { webToken } from "../src/web/mod.ts";
import { commonOptionsOf, commonOverrides, withCommonOptions } from "./options.ts";
import { UsageError } from "./errors.ts";

/** The invite link of a server's page at `host:port` for `cluster` under `secrets`. */
export function inviteLink(
  host: string,
  port: number,
  cluster: string,
  secrets: readonly string[],
): string {
  const base = `http://${host}:${port}/`;
  return secrets.length === 0 ? base : `${base}#t=${webToken(secrets[0], cluster)}`;
}

/** Builds the `invite` command. */
export function inviteCommand() {
  return withCommonOptions(
    new Command("invite")
      .summary("print the link to join the chat from a browser")
      .description(
        "print the link to the chat page of a server started with `serve --http HOST:PORT`; " +
          "with --secret or --secret-file the link carries a token derived from the secret " +
          "(whoever has the link can chat, as with the secret)",
      ),
  )
    .addOption(
      new Option("--http <host:port>", "the address the server's --http listens on")
        .env("DSYS_HTTP").argParser(parseHttpAddress),
    )
    .action((own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      if (!options.http) {
        throw new UsageError("--http HOST:PORT is needed: the address of a server's --http");
      }
      const config = resolveConfig(commonOverrides(options));
      const { host, port } = options.http;
      if (host === "0.0.0.0") {
        throw new UsageError(
          "--http 0.0.0.0: name the address people reach the server at (its LAN address)",
        );
      }
      process.stdout.write(
        `${inviteLink(host, port, config.network.cluster, config.security.secrets)}\n`,
      );
    });
}
