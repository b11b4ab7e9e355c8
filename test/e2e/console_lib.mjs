// test/e2e/console_lib.mjs: what the web console's browser suites (console*.test.mjs, docs/console.md
// "Tests") share: one headless Chromium per suite (puppeteer-core on Debian's chromium), a page signed in
// the way the sign-in screen leaves a tab (the token in sessionStorage), the watch that fails a flow on a
// console error, an uncaught exception, a failed request or an error answer it did not expect, axe-core's
// serious and critical violations, and the screenshots of a screen at 375 and 1440 px (no sideways
// scrolling at either). Nothing here sleeps for a fixed time: every wait is for a condition.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB = path.resolve(here, '../../web');
export const OUT = process.env.EX7_E2E_OUT ? path.resolve(process.env.EX7_E2E_OUT, 'console') : path.resolve(here, '../../results/console');
export const TOKEN_KEY = 'ex7.console.token'; // web/src/store.js
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const chromium = ['/usr/bin/chromium', 'chromium', 'chromium-browser']
  .map((b) => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim()).find(Boolean);

// launch: the suite's one browser (each test opens its own pages in it and closes them)
export async function launch() {
  assert.ok(chromium, 'chromium is installed (tools/deps.sh)');
  mkdirSync(OUT, { recursive: true });
  return puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--disable-dev-shm-usage'],
  });
}

// signedIn: a new page of browser holding tok as the sign-in screen leaves it, at 1440 x 900, watched
// (allow as for watch); goes to base + path (load: the dashboard's stream never lets the network idle).
// Returns {page, problems, settle}.
export async function signedIn(browser, base, tok, { path: p = '/', allow } = {}) {
  const page = await browser.newPage();
  const w = watch(page, allow);
  await page.setViewport({ width: 1440, height: 900 });
  await page.evaluateOnNewDocument((key, t) => sessionStorage.setItem(key, t), TOKEN_KEY, tok);
  if (p !== null) await page.goto(`${base}${p}`, { waitUntil: 'load' });
  return { page, ...w };
}

// watch: the page's problems: console errors, uncaught exceptions, failed requests and error answers,
// except those allow(method, path, status) accepts (method is null for Chromium's console line about an
// error answer, which names only the URL; 'console', path, text for any other console error) and the stream's requests the console cuts itself (closing an
// EventSource, leaving the page). Returns {problems, settle}: settle() resolves once no request but the
// stream has been in flight for 100 ms and the page has painted twice, so every answer's console line is
// in (call it before asserting problems is empty).
export function watch(page, allow = () => false) {
  const problems = [];
  const allowedUrls = new Set();
  const pending = new Set();
  const isStream = (u) => u.pathname === '/api/signals/stream';
  page.on('request', (r) => { if (!isStream(new URL(r.url()))) pending.add(r); });
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const u = new URL(r.url());
    if (allow(r.request().method(), u.pathname, r.status())) { allowedUrls.add(r.url()); return; }
    problems.push(`${r.request().method()} ${u.pathname} answered ${r.status()}`);
  });
  page.on('requestfailed', (r) => {
    pending.delete(r);
    const u = new URL(r.url());
    if (isStream(u) && /ERR_ABORTED/.test(r.failure()?.errorText ?? '')) return;
    problems.push(`${r.method()} ${u.pathname} failed: ${r.failure()?.errorText}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium's "Failed to load resource" for an error answer may come before the response event: judge it
    // by its URL and status
    const url = m.location()?.url;
    const st = /Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (url && (allowedUrls.has(url) || (st && allow(null, new URL(url).pathname, Number(st[1]))))) return;
    // another console line the flow expects: allow('console', path, text)
    if (url && allow('console', new URL(url).pathname, m.text())) return;
    problems.push(`console: ${m.text()} (${url ?? ''})`);
  });
  const settle = async (ms = 15000) => {
    const end = Date.now() + ms;
    let since = Date.now();
    while (Date.now() - since < 100) {
      assert.ok(Date.now() < end, `requests still in flight: ${[...pending].map((r) => r.url())}`);
      if (pending.size) since = Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    await frames(page);
  };
  return { problems, settle, pending };
}

// frames: resolves after the page has painted twice (a layout change applied, a render committed)
export const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

// axe: the serious and critical violations on the page (axe-core evaluated through the DevTools protocol,
// which the page's CSP does not govern)
export async function axe(page) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// shots: the screen photographed at 375 and 1440 px into OUT/<name>-<width>.png, with no sideways
// scrolling at either; the viewport is 1440 x 900 again afterwards. The backtest's charts follow their
// panel's width (a ResizeObserver): each width waits until they have.
export async function shots(page, name) {
  for (const width of [375, 1440]) {
    await page.setViewport({ width, height: 900 });
    await page.waitForFunction(() => [...document.querySelectorAll('.chart-box')].every((b) =>
      [...b.querySelectorAll('.uplot')].every((u) => u.getBoundingClientRect().width <= b.getBoundingClientRect().width + 1)));
    await frames(page);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${name} at ${width} px scrolls sideways by ${over} px`);
    await page.screenshot({ path: path.join(OUT, `${name}-${width}.png`), fullPage: true });
  }
}

// screen: axe finds nothing serious, then the screenshots
export async function screen(page, name) {
  assert.deepEqual(await axe(page), [], `axe on ${name}`);
  await shots(page, name);
}

export const text = (page, sel) => page.$eval(sel, (e) => e.textContent.replace(/\s+/g, ' ').trim());
export const hasText = (page, sel, re, timeout = 15000) => page.waitForFunction(
  (s, src) => { const e = document.querySelector(s); return e && new RegExp(src).test(e.textContent.replace(/\s+/g, ' ')); },
  { timeout }, sel, re.source);
export const cells = (page, sel) => page.$eval(sel, (tr) => [...tr.cells].map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join(' | '));
export const hasCells = (page, sel, re, timeout = 15000) => page.waitForFunction(
  (s, src) => { const tr = document.querySelector(s); return tr && new RegExp(src).test([...tr.cells].map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join(' | ')); },
  { timeout }, sel, re.source);
export const button = (page, label, timeout = 15000) => page.waitForSelector(`::-p-xpath(//button[normalize-space(.)="${label}"])`, { timeout });
// setValue: a field's value set as typing it would (Preact listens for input)
export const setValue = (page, sel, v) => page.$eval(sel, (e, x) => { e.value = x; e.dispatchEvent(new Event('input', { bubbles: true })); }, v);
