/**
 * The styles both browser pages share: colours (light and dark), the full-height layout and the
 * header. No web fonts: the system's own, so nothing is fetched and nothing jumps when it loads.
 *
 * @module
 */

/** The shared style sheet. */
export const PAGE_STYLE = `
:root { --bg: #fbfbfa; --fg: #1d1d1f; --dim: #6b6b70; --line: #dedee3; --accent: #1b63c6;
  --own: #eaf1fb; --bad: #b3261e; --good: #1e7b34; --warn: #a15c00; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #17171a; --fg: #ececf0; --dim: #9a9aa2; --line: #33333a; --accent: #7fb0ff;
    --own: #1f2a3a; --bad: #ff8a80; --good: #7bd88f; --warn: #ffc266; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; gap: .75rem; align-items: center; padding: .5rem .75rem;
  border-bottom: 1px solid var(--line); min-height: 2.6rem; }
header #state { flex: 1; color: var(--dim); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
a { color: var(--accent); }
button, input { font: inherit; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: .35rem;
  background: var(--bg); color: var(--fg); }
button { cursor: pointer; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
`;

/**
 * The start of a page up to `<body>`: its title, its style sheet (after the shared one) and a
 * Content-Security-Policy that allows only the page's own inline style and script, and requests
 * to HTTP servers (the cluster's other servers).
 */
export function pageHead(title: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src http:">
<title>${title}</title>
<style>${PAGE_STYLE}${style}</style>
</head>
`;
}
