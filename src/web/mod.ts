/**
 * The browser door of `dsys serve --http`: the chat page (`/`), the cluster page (`/cluster`),
 * the chat bridge (`/chat/*`, {@linkcode WebChat}) and the cluster page's data (`/cluster/now`,
 * `/cluster/feed`, {@linkcode ClusterFeed}). Everything is embedded: no file is read, nothing is
 * fetched from elsewhere. `src/server/http.ts` hands it every path it does not answer itself.
 *
 * @module
 */

import type http from "node:http";
import type { ServerStatusReport } from "../server/server.ts";
import { sendText, WebChat, type WebChatOptions } from "./bridge.ts";
import { chatPage } from "./chat_page.ts";
import { clusterPage } from "./cluster_page.ts";
import { ClusterFeed } from "./cluster_feed.ts";

export { WebChat } from "./bridge.ts";
export { webToken } from "./security.ts";

/** What the browser door needs: the bridge's options and the server's status. */
export interface WebFrontOptions extends Omit<WebChatOptions, "peers" | "allowed" | "latency"> {
  /** The server's status, undefined while it starts. */
  status(): ServerStatusReport | undefined;
  /** The port the HTTP endpoint listens on (every server of a cluster uses the same one). */
  httpPort(): number;
}

/**
 * The web origins of the cluster's servers: each live server of the view at its unicast host
 * and this server's HTTP port (servers of one cluster listen on the same `--http` port, one per
 * host), this server first.
 */
export function peerOrigins(
  report: ServerStatusReport | undefined,
  port: number,
  live = true,
): string[] {
  if (!report) return [];
  const hosts = report.members
    .filter((m) => m.role === "server" && (!live || m.state === "alive" || m.state === "suspect"))
    .map((m) => m.addr.host);
  return [...new Set(hosts)].map((host) => `http://${host}:${port}`);
}

/** The pages and the chat bridge of one server. */
export class WebFront {
  readonly #chat: WebChat;
  readonly #feed: ClusterFeed;
  readonly #chatPage: string;
  readonly #clusterPage = clusterPage();

  /** Starts the bridge and the cluster feed's sampling; {@linkcode WebFront.close} stops both. */
  constructor(options: WebFrontOptions) {
    const peers = () => peerOrigins(options.status(), options.httpPort());
    // A page whose server died keeps that server's origin: every server this one has seen in
    // the view stays an allowed origin, after it died and after the view forgot it.
    const seen = new Set<string>();
    const allowed = () => {
      for (const origin of peerOrigins(options.status(), options.httpPort(), false)) {
        if (seen.size < options.web.maxSessions) seen.add(origin);
      }
      return [...seen];
    };
    this.#feed = new ClusterFeed(options.web, options.status, peers, allowed);
    this.#chat = new WebChat({
      ...options,
      peers,
      allowed,
      latency: (ms) => this.#feed.latency(ms),
    });
    this.#chatPage = chatPage(options.maxTextChars);
  }

  /** Answers a request this door serves; false for paths it does not know. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): boolean {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/" || url.pathname === "/cluster") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.setHeader("Allow", "GET, HEAD");
        sendText(response, 405, "method not allowed: use GET\n");
        return true;
      }
      const body = url.pathname === "/" ? this.#chatPage : this.#clusterPage;
      response.statusCode = 200;
      response.setHeader("Content-Type", "text/html; charset=utf-8");
      response.setHeader("Cache-Control", "no-store");
      response.setHeader("X-Content-Type-Options", "nosniff");
      response.setHeader("X-Frame-Options", "DENY");
      response.setHeader("Referrer-Policy", "no-referrer");
      response.end(request.method === "HEAD" ? undefined : body);
      return true;
    }
    return this.#chat.handle(request, response, url) || this.#feed.handle(request, response, url);
  }

  /** Ends every browser session and stops sampling. */
  async close(): Promise<void> {
    this.#feed.close();
    await this.#chat.close();
  }
}
