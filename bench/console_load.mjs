// bench/console_load.mjs: the browser side of bench/bench_console.sh. Loads the web console's dashboard
// LOADS times in headless Chromium (puppeteer-core from test/e2e/node_modules, /usr/bin/chromium), each time
// in a fresh browser context (an empty cache, no connection kept from the last load), signed in with a token
// put in sessionStorage before the page's first script runs, and measures each load:
//   - bytes: what came over the wire for every response of the load (Chromium's encodedDataLength over the
//     DevTools protocol: headers and bodies as served, gzip where ex7d gzips), up to the moment the dashboard
//     is settled (the stream's frames so far included); body bytes alone beside it;
//   - Chromium's Navigation Timing: domInteractive, domContentLoadedEventEnd, loadEventEnd (ms from the
//     navigation's start);
//   - dashboard: when the main panel's trading status ([data-testid="trading-status"]) entered the DOM
//     (a MutationObserver installed before any script of the page: performance.now(), same time origin);
//   - settled: when every panel had its data (no aria-busy="true") and the stream said Live.
// A console error, an uncaught exception, a failed request or an error answer fails the run (exit 1): the
// numbers would then be those of a broken page.
// Usage: node bench/console_load.mjs BASE TOKEN LOADS. Prints one JSON line: {loads: [...], best: {...}}.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const [base, token, loadsS] = process.argv.slice(2);
const LOADS = Number(loadsS) || 5;
const TOKEN_KEY = 'ex7.console.token'; // web/src/store.js
const require = createRequire(new URL('../test/e2e/package.json', import.meta.url));
const pm = require('puppeteer-core');
const puppeteer = pm.default ?? pm;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const chromium = ['/usr/bin/chromium', 'chromium', 'chromium-browser']
  .map((b) => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim()).find(Boolean);
if (!chromium) { console.error('no chromium (tools/deps.sh installs it)'); process.exit(1); }

async function load(browser) {
  const ctx = await browser.createBrowserContext();
  try {
    const page = await ctx.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`); });
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.request().method()} ${new URL(r.url()).pathname} answered ${r.status()}`); });
    page.on('requestfailed', (r) => problems.push(`${r.method()} ${new URL(r.url()).pathname} failed: ${r.failure()?.errorText}`));

    // the wire bytes of every response, by request id: the headers' bytes when the response arrives, the
    // chunks as they come (a stream never finishes), the total once it finished
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    const wire = new Map();
    const info = new Map();
    cdp.on('Network.responseReceived', (e) => {
      const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      info.set(e.requestId, { url: e.response.url, encoding: h['content-encoding'] ?? '', type: e.type });
      wire.set(e.requestId, { head: e.response.encodedDataLength ?? 0, chunks: 0, total: null });
    });
    cdp.on('Network.dataReceived', (e) => { const w = wire.get(e.requestId); if (w) w.chunks += e.encodedDataLength; });
    cdp.on('Network.loadingFinished', (e) => {
      const w = wire.get(e.requestId) ?? { head: 0, chunks: 0 };
      w.total = e.encodedDataLength;
      wire.set(e.requestId, w);
    });

    await page.evaluateOnNewDocument((key, tok) => {
      if (location.pathname !== '/') return;
      sessionStorage.setItem(key, tok);
      const mark = () => {
        if (window.__ex7Shown === undefined && document.querySelector('[data-testid="trading-status"]')) window.__ex7Shown = performance.now();
        if (window.__ex7Shown !== undefined && window.__ex7Settled === undefined && !document.querySelector('[aria-busy="true"]')
          && document.querySelector('.stream-state')?.textContent.includes('Live')) window.__ex7Settled = performance.now();
      };
      new MutationObserver(mark).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
    }, TOKEN_KEY, token);

    const res = await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    if (res.status() !== 200) problems.push(`GET / answered ${res.status()}`);
    await page.waitForFunction(() => window.__ex7Settled !== undefined, { timeout: 20000 })
      .catch(() => problems.push('the dashboard did not settle within 20 s'));
    await sleep(300); // the last chunks' events
    const t = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      const bodies = [n, ...performance.getEntriesByType('resource')].reduce((s, e) => s + (e.encodedBodySize || 0), 0);
      return { domInteractive: n.domInteractive, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
        dashboard: window.__ex7Shown, settled: window.__ex7Settled, bodies,
        status: document.querySelector('[data-testid="trading-status"]')?.textContent.replace(/\s+/g, ' ').trim() };
    });
    let bytes = 0;
    for (const w of wire.values()) bytes += w.total ?? w.head + w.chunks;
    const texts = [...info.values()].filter((i) => /\.(js|css|html|svg)$|\/$/.test(new URL(i.url).pathname));
    const seen = [...problems]; // closing the page cuts the stream: not a problem of the load
    await page.close();
    return {
      bytes, body_bytes: t.bodies, requests: wire.size,
      gzipped: texts.filter((i) => i.encoding === 'gzip').length, text_files: texts.length,
      dom_interactive_ms: t.domInteractive, dom_content_loaded_ms: t.domContentLoaded, load_ms: t.load,
      dashboard_ms: t.dashboard, settled_ms: t.settled, trading_status: t.status, problems: seen,
    };
  } finally {
    await ctx.close();
  }
}

const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--disable-dev-shm-usage'],
});
let rc = 0;
try {
  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await load(browser));
  const bad = loads.flatMap((l, i) => l.problems.map((p) => `load ${i + 1}: ${p}`));
  const min = (k) => Math.min(...loads.map((l) => l[k]));
  const max = (k) => Math.max(...loads.map((l) => l[k]));
  const best = {
    bytes: min('bytes'), bytes_max: max('bytes'), body_bytes: min('body_bytes'), requests: max('requests'),
    dom_interactive_ms: min('dom_interactive_ms'), dom_content_loaded_ms: min('dom_content_loaded_ms'),
    load_ms: min('load_ms'), dashboard_ms: min('dashboard_ms'), settled_ms: min('settled_ms'),
    gzipped: min('gzipped'), text_files: max('text_files'),
  };
  console.log(JSON.stringify({ loads, best, problems: bad }));
  if (bad.length) rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
