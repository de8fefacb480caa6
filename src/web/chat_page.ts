/**
 * The chat page (`GET /`): one self-contained HTML document (styles and script inline, nothing
 * fetched from elsewhere), embedded in the binary as a string.
 *
 * The script shows every user-supplied string with `textContent` inside `<bdi>` (isolated
 * direction), never as markup. It keeps each line it posted until it sees it delivered, remembers
 * the last event id it showed, and when its server stops answering it moves to another server of
 * the cluster (`/chat/servers`) and resumes from that id (see `session_core.ts`), in the room it
 * was in. A line starting with one `/` is a command (`commands.ts`), run by the bridge. Lines are
 * shown once by message id, not by position: after a healed split a line may come again at
 * another position, and the other side's lines at positions the page already passed.
 *
 * @module
 */

import { pageHead } from "./style.ts";

/** The chat page; `maxTextChars` bounds the input as the chat client does. */
export function chatPage(maxTextChars: number): string {
  return `${pageHead("dsys chat", CHAT_STYLE)}<body>
<header>
  <strong>dsys chat</strong>
  <bdi id="room">#lobby</bdi>
  <span id="state" role="status">not joined</span>
  <button id="who" type="button" aria-expanded="false" aria-controls="people">0 online</button>
  <a href="/cluster">cluster</a>
</header>
<main>
  <div id="log" role="log" aria-live="polite" tabindex="0"></div>
  <aside id="people" hidden><h2>Online</h2><ul id="users"></ul></aside>
</main>
<div id="pending" aria-live="polite"></div>
<form id="join">
  <label for="name">Your name</label>
  <input id="name" autocomplete="nickname" maxlength="64" pattern="[\\p{L}\\p{N}._\\-]+" required autofocus>
  <button type="submit">Join</button>
  <p id="joinError" role="alert"></p>
</form>
<form id="say" hidden>
  <input id="text" autocomplete="off" maxlength="${maxTextChars}" aria-label="Message" placeholder="Message #lobby (Enter sends; /help)">
  <button type="submit">Send</button>
</form>
<script>${CHAT_SCRIPT}</script>
</body>
</html>
`;
}

const CHAT_STYLE = `
header #room { color: var(--accent); font-weight: 600; unicode-bidi: isolate; }
main { display: flex; flex: 1; min-height: 0; }
#log { flex: 1; overflow-y: auto; scrollbar-gutter: stable; padding: .5rem .75rem; }
#people { width: 12rem; border-left: 1px solid var(--line); padding: .5rem .75rem; overflow-y: auto; }
#people h2 { font-size: .9rem; margin: 0 0 .5rem; }
#users { list-style: none; margin: 0; padding: 0; }
.line { display: grid; grid-template-columns: 3.2rem auto 1fr; gap: .5rem; padding: .1rem 0; overflow-wrap: anywhere; }
.line .time { color: var(--dim); font-variant-numeric: tabular-nums; }
.line .from { font-weight: 600; unicode-bidi: isolate; }
.line .text { white-space: pre-wrap; unicode-bidi: isolate; }
.line.own .from { color: var(--accent); }
.line.own { background: var(--own); border-radius: .25rem; }
.line.action .text { font-style: italic; }
.line.direct .from { color: var(--warn); }
.line.sys { grid-template-columns: 3.2rem 1fr; color: var(--dim); font-style: italic; }
#pending { padding: 0 .75rem; color: var(--dim); }
#pending .line .from::after { content: " (sending)"; font-weight: normal; }
form { display: flex; gap: .5rem; padding: .5rem .75rem; border-top: 1px solid var(--line); flex-wrap: wrap; align-items: center; }
form input { flex: 1; min-width: 8rem; }
#joinError { flex-basis: 100%; margin: 0; color: var(--bad); min-height: 1.2em; }
@media (max-width: 40rem) {
  #people { position: absolute; right: 0; top: 2.6rem; bottom: 3.5rem; background: var(--bg); }
  .line { grid-template-columns: auto 1fr; }
  .line .time { display: none; }
  .line.sys { grid-template-columns: 1fr; }
}
`;

/** The page's script: plain JavaScript, no template literals (it lives inside one). */
const CHAT_SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const store = window.localStorage;
function random() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
const fromHash = new URLSearchParams(location.hash.slice(1)).get("t");
if (fromHash) {
  store.setItem("dsys-token", fromHash);
  history.replaceState(null, "", location.pathname);
}
const token = store.getItem("dsys-token") || "";
let owner = store.getItem("dsys-owner");
if (!owner) { owner = random(); store.setItem("dsys-owner", owner); }
const session = random();
let user = "";
let base = location.origin;
let servers = [];
let lastId = -1;
let epoch = 0;
let ready = false;
let stream = null;
let failures = 0;
let stopped = false;
let room = "lobby";
const shownIds = new Set();
const pending = [];
const log = $("log");

function setState(text) { $("state").textContent = text; }

function line(className, parts, into) {
  const target = into || log;
  const stick = target === log && log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  const div = document.createElement("div");
  div.className = "line " + className;
  for (const [part, text] of parts) {
    const span = document.createElement(part === "time" ? "span" : "bdi");
    span.className = part;
    span.textContent = text;
    div.appendChild(span);
  }
  target.appendChild(div);
  while (log.childElementCount > 2000) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
  return div;
}

function clock(ts) {
  const d = new Date(ts);
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

function showRoom(name) {
  room = name;
  $("room").textContent = "#" + name;
  $("text").placeholder = "Message #" + name + " (Enter sends; /help)";
  // The browser's own reconnect reuses the stream's address: it must name the room.
  if (stream && new URL(stream.url).searchParams.get("room") !== name) {
    stream.close();
    open();
  }
}

function shownBefore(id) {
  if (!id) return false;
  if (shownIds.has(id)) return true;
  shownIds.add(id);
  if (shownIds.size > 5000) shownIds.delete(shownIds.values().next().value);
  return false;
}

function settle(event) {
  if (event.from !== user || event.kind) return;
  const at = event.lid
    ? pending.findIndex((p) => p.lid === event.lid)
    : pending.findIndex((p) => p.text === event.text);
  if (at < 0) return;
  pending[at].el.remove();
  pending.splice(at, 1);
}

function onEvent(message) {
  const event = JSON.parse(message.data);
  if (event.type === "message") {
    // By id: after a healed split a line may come again at a higher position, and lines of the
    // other side at positions this page passed (its client re-anchored there).
    if (event.id === undefined ? event.seq <= lastId : shownBefore(event.id)) return;
    lastId = event.seq;
    settle(event);
    const from = event.kind === "direct"
      ? event.from + " \u2192 " + event.to
      : event.kind === "action" ? "* " + event.from : event.from;
    const kind = (event.from === user ? "own" : "") + (event.kind ? " " + event.kind : "");
    const div = line(kind, [["time", clock(event.ts)], ["from", from], ["text", event.text]]);
    div.dataset.seq = String(event.seq);
  } else if (event.type === "system") {
    if (event.seq !== undefined) {
      if (event.seq <= lastId) return;
      lastId = event.seq;
    }
    const div = line("sys", [["time", ""], ["text", event.text]]);
    div.dataset.kind = event.kind;
    if (event.kind === "refused") backToJoin(event.text);
  } else if (event.type === "room") {
    showRoom(event.room);
  } else if (event.type === "ready") {
    ready = true;
    failures = 0;
    setState(user + " on " + new URL(base).host);
    for (const p of pending) if (p.epoch < epoch) post(p);
  } else if (event.type === "users") {
    const list = $("users");
    list.replaceChildren(...event.users.map((name) => {
      const item = document.createElement("li");
      item.textContent = name;
      return item;
    }));
    $("who").textContent = event.users.length + " online";
  }
}

function post(p) {
  p.epoch = epoch;
  fetch(base + "/chat/send", {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ session, token, lid: p.lid, text: p.text }),
  }).then((r) => { if (!r.ok) p.epoch = -1; }, () => { p.epoch = -1; });
}

function command(text) {
  const say = (words) => { line("sys", [["time", ""], ["text", words]]).dataset.kind = "command"; };
  if (!ready) return say("not connected yet: try again when the chat is back");
  fetch(base + "/chat/command", {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ session, token, text }),
  }).then(async (r) => {
    if (!r.ok) return say((await r.text()).trim());
    const body = await r.json();
    for (const words of body.said || []) say(words);
  }, () => say("not connected: try again when the chat is back"));
}

async function refreshServers() {
  try {
    const answer = await fetch(base + "/chat/servers?token=" + encodeURIComponent(token));
    if (answer.status === 401) return "unauthorized";
    if (answer.ok) {
      const body = await answer.json();
      if (Array.isArray(body.servers) && body.servers.length > 0) servers = body.servers;
    }
    return "ok";
  } catch {
    return "down";
  }
}

function open() {
  const query = new URLSearchParams({ session, user, owner, token });
  if (lastId >= 0) query.set("after", String(lastId));
  query.set("room", room);
  stream = new EventSource(base + "/chat/events?" + query);
  stream.onmessage = onEvent;
  stream.onopen = () => { void refreshServers(); };
  stream.onerror = () => {
    ready = false;
    failures++;
    setState("reconnecting…");
    if (stream.readyState === EventSource.CLOSED || failures >= 3) moveOn();
  };
}

function moveOn() {
  if (stopped) return;
  stream.close();
  const others = servers.filter((s) => s !== base);
  if (others.length > 0) {
    base = others[Math.floor(Math.random() * others.length)];
    epoch++;
  }
  failures = 0;
  const words = (others.length > 0 ? "moving to " : "reconnecting to ") + new URL(base).host;
  line("sys", [["time", ""], ["text", words]]).dataset.kind = "moving";
  setTimeout(open, others.length > 0 ? 0 : 1000);
}

function backToJoin(why) {
  stopped = true;
  if (stream) stream.close();
  $("say").hidden = true;
  $("join").hidden = false;
  $("joinError").textContent = why;
  setState("not joined");
}

$("join").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  $("joinError").textContent = "";
  const answer = await refreshServers();
  if (answer === "unauthorized") {
    $("joinError").textContent = "This chat needs an invite link: ask for one (dsys invite).";
    return;
  }
  user = name;
  store.setItem("dsys-name", name);
  stopped = false;
  $("join").hidden = true;
  $("say").hidden = false;
  $("text").focus();
  setState("joining as " + user + "…");
  open();
});

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const typed = $("text").value;
  if (typed.trim() === "") return;
  $("text").value = "";
  const trimmed = typed.trim();
  if (trimmed.startsWith("/") && !trimmed.startsWith("//")) return command(trimmed);
  const text = trimmed.startsWith("//") ? trimmed.slice(1) : typed;
  const p = { lid: random(), text, epoch: -1, el: line("own", [["time", ""], ["from", user], ["text", text]], $("pending")) };
  pending.push(p);
  if (ready) post(p);
});

$("who").addEventListener("click", () => {
  const people = $("people");
  people.hidden = !people.hidden;
  $("who").setAttribute("aria-expanded", String(!people.hidden));
});

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { $("people").hidden = true; $("who").setAttribute("aria-expanded", "false"); }
});

addEventListener("pagehide", () => {
  if (user) navigator.sendBeacon(base + "/chat/leave", JSON.stringify({ session, token }));
});

if (matchMedia("(min-width: 40rem)").matches) {
  $("people").hidden = false;
  $("who").setAttribute("aria-expanded", "true");
}
$("name").value = store.getItem("dsys-name") || "";
`;
