/**
 * Wires the browser door (`src/web/`) of `dsys serve --http` to the running server: each browser
 * session joins the chat through a chat client in this process, with the server's own
 * configuration (cluster, secret, group), exactly as `dsys chat` would.
 *
 * @module
 */

import type http from "node:http";
import { type Config, defaultWebConfig } from "../src/config/mod.ts";
import { ChatClient } from "../src/client/client.ts";
import type { HttpEndpoint } from "../src/server/http.ts";
import type { Server } from "../src/server/server.ts";
import { WebFront } from "../src/web/mod.ts";
import { socketOpener } from "./transport.ts";

/** The door's two entry points for the command: its request handler and its stop. */
export interface WebDoor {
  /** Answers the paths the browser door serves; false for others. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): boolean;
  /** Ends every browser session (their users leave) and the feed's timer. */
  close(): Promise<void>;
}

/** The browser door of a server that may not have started yet (`server()` undefined). */
export function webFront(
  config: Config,
  server: () => Server | undefined,
  endpoint: () => HttpEndpoint | undefined,
): WebDoor {
  const front = new WebFront({
    web: defaultWebConfig(),
    cluster: config.network.cluster,
    secrets: config.security.secrets,
    history: config.chat.history,
    historyLimit: config.chat.logLimit,
    maxTextChars: config.chat.maxTextChars,
    status: () => server()?.status(),
    httpPort: () => endpoint()?.address.port ?? 0,
    commit: () => server()?.status().counters.chat.commit ?? 0,
    connect: (user, history, owner, room) =>
      ChatClient.connect({
        config: { ...config, chat: { ...config.chat, history } },
        user,
        room,
        keepHistory: 0,
        owner,
        openSockets: socketOpener(),
      }),
  });
  let closing: Promise<void> | undefined;
  return {
    handle: (request, response) => front.handle(request, response),
    close: () => closing ??= front.close(),
  };
}
