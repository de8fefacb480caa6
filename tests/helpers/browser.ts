/**
 * Real-browser tests: Debian's Chromium (package `chromium`), headless, driven by playwright-core
 * (pinned in deno.json). {@linkcode browserSkipReason} says what is missing so the tests skip
 * saying so; `.ci/run` installs the package.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    return `browser tests skipped: ${CHROMIUM} not found (install the Debian package chromium)`;
  }
}

/**
 * Launches headless Chromium; `wrapper` is a program run instead of it with Chromium's path and
 * arguments after (the lab's `ip netns exec NS`).
 */
export async function launchChromium(wrapper?: string): Promise<Browser> {
  return await chromium.launch({
    executablePath: wrapper ?? CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: 60_000,
  });
}

/** Joins the chat page that `page` shows as `user` (types the name, presses Enter). */
export async function joinAs(page: Page, user: string): Promise<void> {
  await page.locator("#name").fill(user);
  await page.locator("#name").press("Enter");
  await page.waitForFunction(
    `document.querySelector("#state").textContent.startsWith(${JSON.stringify(`${user} on `)})`,
    undefined,
    { timeout: 30_000 },
  );
}

/** Types a line into the page and presses Enter, as a person does. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.locator("#text").press("Enter");
}

/** One line the page shows: sequence number (messages), classes, author and text. */
export interface PageLine {
  /** The line's place in the order (`data-seq`), or null for system lines. */
  seq: number | null;
  /** `own`, `sys` or empty. */
  kind: string;
  /** Author (messages). */
  from: string;
  /** Text content. */
  text: string;
}

/** Every line the page's log shows now. */
export async function pageLines(page: Page): Promise<PageLine[]> {
  return await page.evaluate(`[...document.querySelectorAll("#log .line")].map((node) => ({
    seq: node.dataset.seq ? Number(node.dataset.seq) : null,
    kind: node.className.replace("line", "").trim(),
    from: node.querySelector(".from")?.textContent ?? "",
    text: node.querySelector(".text")?.textContent ?? "",
  }))`) as PageLine[];
}

/** Waits until the page's log shows a message with exactly `text`. */
export async function waitForText(page: Page, text: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll("#log .line .text")].some((n) => n.textContent === ${
      JSON.stringify(text)
    })`,
    undefined,
    { timeout: timeoutMs },
  );
}

/**
 * A page in a fresh context (its own storage, like another person's browser). The test's string
 * predicates are evaluated in the page, which the page's Content-Security-Policy forbids, so the
 * context bypasses the policy; the page's own code never evaluates strings.
 */
export async function freshPage(
  browser: Browser,
  viewport = { width: 1000, height: 640 },
): Promise<Page> {
  return await (await browser.newContext({ bypassCSP: true, viewport })).newPage();
}

/** Strings that would run, inject markup or reorder the display if shown as HTML. */
export const HOSTILE = [
  `<img src=x onerror="window.__pwned='img'">`,
  `<script>window.__pwned='script'</script>`,
  `</div><b id="injected">bold</b>`,
  "\u202Egnp.exe\u202C and \u2067isolate\u2069 \u200Fright",
  `javascript:window.__pwned='href'`,
];

/** Asserts that no place in the order is shown twice and each of `texts` is shown once. */
export function assertOnceEach(lines: PageLine[], texts: string[]): void {
  const seqs = lines.flatMap((l) => l.seq === null ? [] : [l.seq]);
  assert.equal(new Set(seqs).size, seqs.length, `a line shown twice: ${seqs.join(",")}`);
  for (const text of texts) {
    const shown = lines.filter((l) => l.text === text).length;
    assert.equal(shown, 1, `${JSON.stringify(text)} shown ${shown} times`);
  }
}
