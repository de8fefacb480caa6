/**
 * The live cluster page (`GET /cluster`): every server's row (fetched from each server's
 * `/cluster/now`), charts of lines per second and browser-line latency over the last minutes
 * (inline SVG), and the timeline of joins, suspicions, deaths, elections, splits and heals
 * (`/cluster/feed`). Self-contained like the chat page; every string is shown as text.
 *
 * @module
 */

import { pageHead } from "./style.ts";

/** The cluster page. */
export function clusterPage(): string {
  return `${pageHead("dsys cluster", CLUSTER_STYLE)}<body>
<header><strong>dsys cluster</strong><span id="state" role="status">loading…</span><a href="/">chat</a></header>
<div id="page">
<section aria-labelledby="h-servers"><h2 id="h-servers">Servers</h2>
<div class="scroll"><table><thead><tr><th>server</th><th>role</th><th>term</th><th>state</th><th>split</th><th>clients</th><th>commit</th></tr></thead><tbody id="rows"></tbody></table></div></section>
<section class="charts">
<figure><figcaption>lines per second <span id="lps"></span></figcaption><svg id="c-lines" viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="lines per second"></svg></figure>
<figure><figcaption>browser line latency, ms <span id="lat"></span></figcaption><svg id="c-latency" viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="latency"></svg></figure>
</section>
<section aria-labelledby="h-time"><h2 id="h-time">Timeline</h2><ol id="timeline"></ol></section>
</div>
<script>${CLUSTER_SCRIPT}</script>
</body>
</html>
`;
}

const CLUSTER_STYLE = `
#page { overflow-y: auto; padding: .5rem .75rem; scrollbar-gutter: stable; }
h2 { font-size: 1rem; margin: .75rem 0 .4rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.leader { color: var(--accent); font-weight: 600; }
td.alive { color: var(--good); } td.suspect { color: var(--warn); } td.dead, td.down { color: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: .75rem; }
figure { margin: 0; border: 1px solid var(--line); border-radius: .35rem; padding: .4rem; }
figcaption { color: var(--dim); font-size: .85rem; }
svg { width: 100%; height: 5rem; display: block; }
svg polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg circle { fill: var(--accent); }
#timeline { list-style: none; padding: 0; margin: 0; font-variant-numeric: tabular-nums; }
#timeline li { padding: .15rem 0; border-bottom: 1px dotted var(--line); }
#timeline .t { color: var(--dim); margin-right: .5rem; }
#timeline .death, #timeline .split { color: var(--bad); }
#timeline .suspect { color: var(--warn); } #timeline .election { color: var(--accent); }
#timeline .heal, #timeline .join { color: var(--good); }
`;

/** The page's script: plain JavaScript, no template literals (it lives inside one). */
const CLUSTER_SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const rows = new Map();

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function chart(svg, values) {
  const points = values.filter((v) => v !== null);
  const top = Math.max(1, ...points);
  const step = 300 / Math.max(1, values.length - 1);
  const coords = [];
  values.forEach((v, i) => { if (v !== null) coords.push((i * step).toFixed(1) + "," + (78 - (v / top) * 74).toFixed(1)); });
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", coords.join(" "));
  const dots = coords.map((xy) => {
    const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    const [x, y] = xy.split(",");
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", y);
    dot.setAttribute("r", "1.5");
    return dot;
  });
  svg.replaceChildren(line, ...dots);
}

function show(feed, peers) {
  const states = new Map(feed.row.members.map((m) => [m.id, m.state]));
  const body = $("rows");
  const ids = new Set(feed.row.members.map((m) => m.id));
  for (const id of rows.keys()) ids.add(id);
  body.replaceChildren(...[...ids].sort().map((id) => {
    const r = rows.get(id);
    const tr = document.createElement("tr");
    const state = states.get(id) || (r && r.down ? "down" : "unknown");
    tr.append(
      cell(id),
      cell(r ? r.row.role : "?", r && r.row.role === "leader" ? "leader" : ""),
      cell(r ? String(r.row.term) : "?"),
      cell(state, state),
      cell(r ? (r.row.split || "whole") : "?"),
      cell(r ? String(r.row.clients) : "?"),
      cell(r ? String(r.row.commit) : "?"),
    );
    return tr;
  }));
  chart($("c-lines"), feed.points.map((p) => p.linesPerSecond));
  chart($("c-latency"), feed.points.map((p) => p.latencyMs));
  const last = feed.points[feed.points.length - 1];
  $("lps").textContent = last ? "(now " + last.linesPerSecond.toFixed(1) + ")" : "";
  $("lat").textContent = last && last.latencyMs !== null ? "(now " + last.latencyMs.toFixed(0) + ")" : "";
  $("timeline").replaceChildren(...feed.timeline.slice().reverse().map((entry) => {
    const li = document.createElement("li");
    li.className = entry.kind;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = new Date(entry.t).toLocaleTimeString();
    const what = document.createElement("bdi");
    what.textContent = entry.text;
    li.append(t, what);
    return li;
  }));
  $("state").textContent = "seen from " + feed.row.id + ", view " + feed.row.view + ", " + peers.length + " servers";
}

async function tick() {
  try {
    const feed = await (await fetch("/cluster/feed")).json();
    const peers = feed.peers || [];
    await Promise.all(peers.map(async (origin) => {
      const url = origin === location.origin ? "/cluster/now" : origin + "/cluster/now";
      try {
        const row = await (await fetch(url, { signal: AbortSignal.timeout(1500) })).json();
        rows.set(row.id, { row, origin });
      } catch {
        for (const [id, r] of rows) if (r.origin === origin) r.down = true;
      }
    }));
    rows.set(feed.row.id, { row: feed.row, origin: location.origin });
    show(feed, peers);
  } catch {
    $("state").textContent = "this server does not answer";
  }
  setTimeout(tick, 1000);
}
tick();
`;
