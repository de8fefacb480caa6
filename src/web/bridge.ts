/**
 * The browser chat's runtime: one in-process chat client per browser session, bridged to the
 * page by server-sent events (`GET /chat/events`, each event's id its place in the global order)
 * and posts (`POST /chat/send`, `POST /chat/command`, `POST /chat/leave`). A browser user is a
 * chat client like any other (a unique name, every line once and in the one order, history,
 * resumption) because it is one: the chat client runs here and the page only shows what it
 * delivers. What is sent and replayed is decided by the pure {@linkcode WebSessionCore}; this
 * layer does I/O and timers.
 *
 * Every chat request must carry the invite token when the cluster has a secret, and an Origin
 * (when the browser sends one) of this server or of another server of the cluster.
 *
 * @module
 */

import type http from "node:http";
import type { WebConfig } from "../config/mod.ts";
import { logger } from "../log/mod.ts";
import type { ChatUiEvent } from "../client/repl.ts";
import { isUserName } from "../chat/keys.ts";
import { DEFAULT_ROOM, isRoomName } from "../wire/messages.ts";
import { isPageCommand, pageCommand, type PageCommandSession } from "./commands.ts";
import { originAllowed, pageOwner, tokenAllows } from "./security.ts";
import {
  formatSseEvent,
  historyFor,
  parseLastEventId,
  type WebEvent,
  WebSessionCore,
  type WebSessionOutput,
} from "./session_core.ts";

const log = logger("web");

/** What the bridge needs of a chat client (`ChatClient` is one). */
export interface WebChatClient extends PageCommandSession {
  /** Queues one line. */
  send(text: string): void;
  /** Registers the handler of deliveries and system lines. */
  onEvent(handler: (event: ChatUiEvent) => void): void;
  /** Users known now. */
  who(): { users: { user: string }[] };
  /** Where the client stands; `next seq` is the first position it has not delivered. */
  status(): Record<string, string | number>;
  /** Resolves when the cluster takes the name away later. */
  readonly refused: Promise<Error>;
  /** Leaves the chat and closes the sockets. */
  close(): Promise<void>;
}

/** What the bridge is given by the server it runs in. */
export interface WebChatOptions {
  /** Browser tunables. */
  web: WebConfig;
  /** The cluster name. */
  cluster: string;
  /** The keyring: empty for an open cluster. */
  secrets: readonly string[];
  /** Past lines a fresh page receives. */
  history: number;
  /** Most past lines a resuming page asks for (the log's length). */
  historyLimit: number;
  /** Longest line (characters), for the page's input. */
  maxTextChars: number;
  /**
   * Joins the chat as `user` in `room` (rejects when refused or no server answers); `history`
   * counts that room's past lines.
   */
  connect(user: string, history: number, owner: string, room: string): Promise<WebChatClient>;
  /** The highest committed sequence number this server knows. */
  commit(): number;
  /** The web origins (`http://host:port`) of the cluster's live servers, this one included. */
  peers(): string[];
  /** The origins whose pages may use the chat: every server of the cluster seen so far. */
  allowed(): string[];
  /** Told the time from each browser line's post to its delivery back (ms). */
  latency?(ms: number): void;
}

interface Session {
  readonly id: string;
  readonly user: string;
  readonly owner: string;
  /** The room the page last heard of (the one it asked for until the client joined). */
  room: string;
  readonly core: WebSessionCore;
  client?: WebChatClient;
  readonly streams: Set<http.ServerResponse>;
  /** When each line in flight was posted (monotonic ms), by the page's line id. */
  readonly posted: Map<string, number>;
  idle?: ReturnType<typeof setTimeout>;
  /** The next readiness check while the session is not ready. */
  progress?: ReturnType<typeof setTimeout>;
  closed: boolean;
}

/** The browser sessions of one server and the HTTP routes under `/chat/`. */
export class WebChat {
  readonly #o: WebChatOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #keepAlive: ReturnType<typeof setInterval>;
  #closed = false;

  /** Creates the bridge; {@linkcode WebChat.close} ends every session. */
  constructor(options: WebChatOptions) {
    this.#o = options;
    this.#keepAlive = setInterval(() => {
      for (const session of this.#sessions.values()) {
        for (const stream of session.streams) stream.write(": keep-alive\n\n");
      }
    }, options.web.keepAliveMs);
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Answers a request under `/chat/`; false for other paths. `url` is the parsed request URL.
   */
  handle(request: http.IncomingMessage, response: http.ServerResponse, url: URL): boolean {
    if (!url.pathname.startsWith("/chat/")) return false;
    const origin = headerOf(request, "origin");
    if (!originAllowed(origin, headerOf(request, "host"), this.#o.allowed())) {
      sendText(response, 403, "forbidden: this page's origin is not a server of the cluster\n");
      return true;
    }
    if (origin !== undefined) {
      response.setHeader("Access-Control-Allow-Origin", origin);
      response.setHeader("Vary", "Origin");
    }
    if (request.method === "OPTIONS") {
      response.setHeader("Access-Control-Allow-Methods", "GET, POST");
      response.setHeader("Access-Control-Allow-Headers", "Last-Event-ID, Content-Type");
      sendText(response, 204, "");
      return true;
    }
    if (url.pathname === "/chat/events" && request.method === "GET") {
      if (!this.#tokenOk(url.searchParams.get("token"), response)) return true;
      this.#openStream(request, response, url);
      return true;
    }
    if (url.pathname === "/chat/servers" && request.method === "GET") {
      if (!this.#tokenOk(url.searchParams.get("token"), response)) return true;
      sendJson(response, 200, { servers: this.#o.peers() });
      return true;
    }
    if (
      (url.pathname === "/chat/send" || url.pathname === "/chat/leave" ||
        url.pathname === "/chat/command") &&
      request.method === "POST"
    ) {
      void readBody(request, this.#o.web.maxBodyBytes).then(
        (body) => this.#post(url.pathname, body, response),
        (error: Error) => sendText(response, 413, `${error.message}\n`),
      );
      return true;
    }
    sendText(response, 404, "not found\n");
    return true;
  }

  /** Ends every session (each user leaves the chat) and the keep-alive timer. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#keepAlive);
    await Promise.all([...this.#sessions.values()].map((session) => this.#end(session)));
  }

  #tokenOk(token: unknown, response: http.ServerResponse): boolean {
    if (tokenAllows(this.#o.secrets, this.#o.cluster, token as string)) return true;
    sendText(response, 401, "this cluster has a secret: open the invite link (`dsys invite`)\n");
    return false;
  }

  #openStream(request: http.IncomingMessage, response: http.ServerResponse, url: URL): void {
    const q = url.searchParams;
    const id = q.get("session") ?? "";
    const user = q.get("user") ?? "";
    const secret = q.get("owner") ?? "";
    const room = q.get("room") ?? DEFAULT_ROOM;
    if (
      !/^[\w-]{16,64}$/.test(id) || !isUserName(user) || !/^[\w-]{16,64}$/.test(secret) ||
      !isRoomName(room)
    ) {
      return sendText(response, 400, "expected session, user, owner and a room name\n");
    }
    const owner = pageOwner(secret, this.#o.cluster, user);
    const lastId = parseLastEventId(headerOf(request, "last-event-id")) ??
      parseLastEventId(q.get("after"));
    let session = this.#sessions.get(id);
    if (session && (session.user !== user || session.owner !== owner)) {
      return sendText(response, 409, "that session belongs to another user\n");
    }
    if (!session) {
      if (this.#closed || this.#sessions.size >= this.#o.web.maxSessions) {
        return sendText(response, 503, "this server has no room for another browser\n");
      }
      session = this.#start(id, user, owner, room, lastId);
    }
    response.statusCode = 200;
    response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
    response.setHeader("Cache-Control", "no-store");
    response.setHeader("X-Accel-Buffering", "no");
    response.write("retry: 1000\n\n");
    const { events, complete } = session.core.replay(lastId);
    if (!complete) {
      response.write(formatSseEvent({
        type: "system",
        kind: "missed",
        text: "some lines are no longer kept here and were skipped",
      }));
    }
    for (const event of events) response.write(formatSseEvent(event));
    response.write(formatSseEvent({ type: "room", room: session.room }));
    if (session.core.ready) {
      response.write(formatSseEvent({ type: "ready", user }));
      if (session.client) response.write(formatSseEvent(usersEvent(session.client)));
    }
    const current = session;
    clearTimeout(current.idle);
    current.streams.add(response);
    response.on("close", () => {
      current.streams.delete(response);
      if (current.streams.size === 0 && !current.closed) {
        current.idle = setTimeout(() => void this.#end(current), this.#o.web.idleSessionMs);
      }
    });
  }

  #start(
    id: string,
    user: string,
    owner: string,
    room: string,
    resumeFrom: number | undefined,
  ): Session {
    const session: Session = {
      id,
      user,
      owner,
      room,
      core: new WebSessionCore({ user, resumeFrom, replayEvents: this.#o.web.replayEvents }),
      streams: new Set(),
      posted: new Map(),
      closed: false,
    };
    this.#sessions.set(id, session);
    const history = historyFor(resumeFrom, this.#o.commit(), this.#o.history, this.#o.historyLimit);
    this.#o.connect(user, history, owner, room).then(
      (client) => {
        if (session.closed) return void client.close();
        session.client = client;
        client.onEvent((event) => this.#onChat(session, event));
        void client.refused.then((error) => {
          this.#emit(session, { events: [refusedEvent(error)], send: [] });
          void this.#end(session);
        });
        this.#emit(session, session.core.joined(this.#o.commit()));
        this.#watchProgress(session);
        log.info("browser user {user} joined", { event: "web-join", user });
      },
      (error: Error) => {
        this.#emit(session, { events: [refusedEvent(error)], send: [] });
        void this.#end(session);
      },
    );
    return session;
  }

  #onChat(session: Session, event: ChatUiEvent): void {
    if (event.type === "message") {
      const { seq, from, text, ts, kind, to, id } = event.message;
      const extra = { id, ...(kind ? { kind } : {}), ...(to === undefined ? {} : { to }) };
      this.#emit(session, session.core.message(seq, from, text, ts, extra));
      return;
    }
    const seq = typeof event.details?.seq === "number" ? event.details.seq : undefined;
    this.#emit(session, session.core.system(event.kind, event.text, seq));
    this.#roomMoved(session);
    if (event.kind === "joined" || event.kind === "left") {
      this.#emit(session, { events: [usersEvent(session.client!)], send: [] });
    }
  }

  /**
   * Until the session is ready, tells its core every `web.progressMs` how far its client
   * delivered: positions of other rooms' lines reach the client but no event reaches the bridge.
   */
  #watchProgress(session: Session): void {
    if (session.closed || session.core.ready || !session.client) return;
    const next = Number(session.client.status()["next seq"]);
    if (next > 0) this.#emit(session, session.core.progress(next - 1));
    if (!session.core.ready) {
      session.progress = setTimeout(() => this.#watchProgress(session), this.#o.web.progressMs);
    }
  }

  /** Tells the page when its client's room changed (a move, or a refused move going back). */
  #roomMoved(session: Session): void {
    const room = session.client?.room;
    if (room === undefined || room === session.room) return;
    session.room = room;
    this.#emit(session, { events: [{ type: "room", room }], send: [] });
  }

  #emit(session: Session, output: WebSessionOutput): void {
    for (const text of output.send) session.client?.send(text);
    for (const event of output.events) {
      const posted = event.type === "message" && event.lid !== undefined
        ? session.posted.get(event.lid)
        : undefined;
      if (posted !== undefined && event.type === "message") {
        session.posted.delete(event.lid!);
        this.#o.latency?.(performance.now() - posted);
      }
      const text = formatSseEvent(event);
      for (const stream of session.streams) stream.write(text);
    }
  }

  #post(path: string, body: string, response: http.ServerResponse): void {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(body);
    } catch {
      return sendText(response, 400, "expected a JSON body\n");
    }
    if (!this.#tokenOk(request.token, response)) return;
    const session = this.#sessions.get(String(request.session));
    if (!session) return sendText(response, 404, "no such session (reconnect)\n");
    if (path === "/chat/leave") {
      void this.#end(session);
      return sendJson(response, 200, { ok: true });
    }
    if (path === "/chat/command") return this.#command(session, request.text, response);
    const { lid, text } = request;
    if (typeof lid !== "string" || lid.length > 64 || typeof text !== "string") {
      return sendText(response, 400, "expected lid and text\n");
    }
    if (session.posted.size < this.#o.web.replayEvents) session.posted.set(lid, performance.now());
    this.#emit(session, session.core.post(lid, text));
    sendJson(response, 202, { ok: true });
  }

  /**
   * Runs a command typed on the page on the session's chat client; answers with the system
   * lines that show it (`said`). Only once the session is ready, so that it takes effect after
   * the lines posted before it.
   */
  #command(session: Session, text: unknown, response: http.ServerResponse): void {
    if (typeof text !== "string" || !isPageCommand(text)) {
      return sendText(response, 400, "expected a command\n");
    }
    const client = session.client;
    if (!client || !session.core.ready) {
      return sendText(response, 409, "not connected yet: try again when the chat is back\n");
    }
    void pageCommand(client, text).then((said) => {
      this.#roomMoved(session);
      sendJson(response, 200, { said });
    });
  }

  async #end(session: Session): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    clearTimeout(session.idle);
    clearTimeout(session.progress);
    this.#sessions.delete(session.id);
    for (const stream of session.streams) stream.end();
    session.streams.clear();
    await session.client?.close();
  }
}

function usersEvent(client: WebChatClient): WebEvent {
  return { type: "users", users: client.who().users.map((u) => u.user) };
}

/**
 * The event for a session that could not join or lost its name: `refused` when the cluster
 * refused the name (the page asks for another), `unavailable` when no chat server answered (the
 * page reconnects, or moves to another server).
 */
function refusedEvent(error: Error): WebEvent {
  const kind = error.name === "ChatRefusedError" ? "refused" : "unavailable";
  return { type: "system", kind, text: error.message };
}

function headerOf(request: http.IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads a request body of at most `limit` bytes as UTF-8. */
function readBody(request: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    request.on("data", (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body larger than ${limit} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      const all = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        all.set(chunk, at);
        at += chunk.length;
      }
      resolve(new TextDecoder().decode(all));
    });
    request.on("error", reject);
  });
}

/** Sends a plain-text answer that is never cached. */
export function sendText(response: http.ServerResponse, code: number, body: string): void {
  response.statusCode = code;
  response.setHeader("Content-Type", "text/plain; charset=utf-8");
  response.setHeader("Cache-Control", "no-store");
  response.end(body);
}

function sendJson(response: http.ServerResponse, code: number, body: unknown): void {
  response.statusCode = code;
  response.setHeader("Content-Type", "application/json; charset=utf-8");
  response.setHeader("Cache-Control", "no-store");
  response.end(JSON.stringify(body));
}
