/**
 * The status and metrics endpoint of `dsys serve --http [host:]port`: `GET /status` (JSON) and
 * `GET /metrics` (Prometheus text format); every other path is 404.
 *
 * Built on `node:http` so that it runs under Deno, Node and the single executable alike. It binds
 * only where asked (loopback for a bare port) and reads the server through a callback, so it
 * knows nothing of the protocol.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../config/mod.ts";
import { formatMetrics, METRICS_CONTENT_TYPE } from "./metrics.ts";
import type { ServerStatusReport } from "./server.ts";

/** Where the HTTP endpoint listens. */
export interface HttpAddress {
  /** IPv4 address or `localhost`. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** A running HTTP endpoint. */
export interface HttpEndpoint {
  /** The address it listens on (the real port when 0 was asked). */
  readonly address: HttpAddress;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

/** Host of a bare `--http PORT`: loopback, never every interface. */
export const DEFAULT_HTTP_HOST = "127.0.0.1";

/**
 * Parses `--http [host:]port`: a bare port binds loopback. Throws a {@linkcode ConfigError}
 * naming the flag.
 *
 * @example
 * ```ts
 * import { parseHttpAddress } from "./http.ts";
 * console.assert(parseHttpAddress("9464").host === "127.0.0.1");
 * ```
 */
export function parseHttpAddress(text: string): HttpAddress {
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|localhost):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  const octetsOk = !match?.[1] || match[1] === "localhost" ||
    match[1].split(".").every((octet) => Number(octet) <= 255);
  if (!match || port > 65535 || !octetsOk) {
    throw new ConfigError(
      "--http",
      `--http "${text}": expected [host:]port, an IPv4 address or localhost and a port from 0 ` +
        "to 65535 (a bare port listens on 127.0.0.1)",
    );
  }
  return { host: match[1] ?? DEFAULT_HTTP_HOST, port };
}

/**
 * Starts the endpoint. `status` returns the server's current status, or undefined while the
 * server is not running yet (answered with 503). `more` answers the other paths (the browser
 * pages, `src/web/`) and returns false for those it does not know. Rejects with a one-line error
 * when the address cannot be bound.
 */
export function startHttpServer(
  at: HttpAddress,
  status: () => ServerStatusReport | undefined,
  more?: (request: http.IncomingMessage, response: http.ServerResponse) => boolean,
): Promise<HttpEndpoint> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/status" || path === "/metrics" || !more?.(request, response)) {
      answer(request, response, status);
    }
  });
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      const why = error.code === "EADDRINUSE"
        ? "address in use"
        : error.code === "EADDRNOTAVAIL"
        ? "no interface has that address"
        : error.message;
      reject(new Error(`--http ${at.host}:${at.port}: cannot listen (${why})`));
    };
    server.once("error", onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off("error", onError);
      const bound = server.address() as AddressInfo;
      resolve({
        address: { host: at.host, port: bound.port },
        close: () => closeServer(server),
      });
    });
  });
}

function answer(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  status: () => ServerStatusReport | undefined,
): void {
  const path = (request.url ?? "/").split("?")[0];
  const head = request.method === "HEAD";
  const send = (code: number, type: string, body: string) => {
    response.statusCode = code;
    response.setHeader("Content-Type", type);
    response.setHeader("Content-Length", Buffer.byteLength(body));
    response.setHeader("Cache-Control", "no-store");
    response.end(head ? undefined : body);
  };
  if (path !== "/status" && path !== "/metrics") {
    return send(404, TEXT, "not found: try /status or /metrics\n");
  }
  if (request.method !== "GET" && !head) {
    response.setHeader("Allow", "GET, HEAD");
    return send(405, TEXT, "method not allowed: use GET\n");
  }
  const report = status();
  if (!report) return send(503, TEXT, "the server is starting\n");
  if (path === "/status") send(200, JSON_TYPE, `${JSON.stringify(report)}\n`);
  else send(200, METRICS_CONTENT_TYPE, formatMetrics(report));
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
