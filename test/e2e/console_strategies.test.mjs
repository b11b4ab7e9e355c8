// test/e2e/console_strategies.test.mjs: the console's strategies screens (web/src/views/strategies.js and
// strategy.js, docs/console.md) in headless Chromium against a real ex7d under its Content-Security-Policy:
// create a strategy from a template and see it in the list; a bad graph written as JSON is refused with
// the validator's locator shown in place, a good one is created; on the strategy page a stale Promote shows
// the 409 invalid_transition in place, then unarchive and promote; start the paper runtime, the next bar
// makes it running with its last bar; force close all asks first (Escape cancels, focus in the dialog),
// then cancels the open signal; stop; edit the graph (version 2), the key diff of versions 1 and 2, roll
// back; export downloads the JSON from a Blob link, and importing that file makes a new draft. axe-core finds no serious or critical violation on
// each screen; screenshots at 375 and 1440 px go to results/console/ (EX7_E2E_OUT to put them elsewhere).
// A console error, an uncaught exception, a failed request or an error answer other than the expected
// ones (the 422 of the bad graph, the 409 of the stale promote) fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../../web');
const OUT = process.env.EX7_E2E_OUT ? path.resolve(process.env.EX7_E2E_OUT, 'console') : path.resolve(here, '../../results/console');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const U = uid('c5', 1);
let srv, browser, tok;

const chromium = ['/usr/bin/chromium', 'chromium', 'chromium-browser']
  .map((b) => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim()).find(Boolean);

before(async () => {
  assert.ok(chromium, 'chromium is installed (tools/deps.sh)');
  mkdirSync(OUT, { recursive: true });
  ensureDb();
  // strategist: the flow makes more requests than the free tier's 30 a minute
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}';
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${U}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(U); // runtime starts and force-close-all answer 412 until then
  tok = await token(U);
  srv = await startEx7d({ EX7_WEB_DIR: WEB });
  browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--disable-dev-shm-usage'],
  });
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

// watch: the page's problems (as console.test.mjs): console errors, uncaught exceptions, failed requests
// and error answers, except those allow() accepts (method, path, status)
function watch(page, allow = () => false) {
  const problems = [];
  const allowedUrls = new Set();
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const u = new URL(r.url());
    if (allow(r.request().method(), u.pathname, r.status())) { allowedUrls.add(r.url()); return; }
    problems.push(`${r.request().method()} ${u.pathname} answered ${r.status()}`);
  });
  page.on('requestfailed', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/signals/stream' && /ERR_ABORTED/.test(r.failure()?.errorText ?? '')) return;
    problems.push(`${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url;
    const st = /Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (url && (allowedUrls.has(url) || (st && allow(null, new URL(url).pathname, Number(st[1]))))) return;
    problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  return problems;
}

async function axe(page) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function shots(page, name) {
  for (const width of [375, 1440]) {
    await page.setViewport({ width, height: 900 });
    // the layout has settled at the new width: two animation frames
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${name} at ${width} px scrolls sideways by ${over} px`);
    await page.screenshot({ path: path.join(OUT, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewport({ width: 1440, height: 900 });
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent.replace(/\s+/g, ' ').trim());
const hasText = (page, sel, re, timeout = 15000) => page.waitForFunction(
  (s, src) => { const e = document.querySelector(s); return e && new RegExp(src).test(e.textContent.replace(/\s+/g, ' ')); },
  { timeout }, sel, re.source);
// cells: a table row's cells, "a | b | c"; hasCells waits until they match
const cells = (page, sel) => page.$eval(sel, (tr) => [...tr.cells].map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join(' | '));
const hasCells = (page, sel, re, timeout = 15000) => page.waitForFunction(
  (s, src) => { const tr = document.querySelector(s); return tr && new RegExp(src).test([...tr.cells].map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join(' | ')); },
  { timeout }, sel, re.source);
const button = (page, label) => page.waitForSelector(`::-p-xpath(//button[normalize-space(.)="${label}"])`);
// setValue: a textarea or input's whole value at once, as typing it would (Preact listens to input)
const setValue = (page, sel, v) => page.$eval(sel, (e, x) => { e.value = x; e.dispatchEvent(new Event('input', { bubbles: true })); }, v);

test('the strategies screens: create from a template, a bad graph refused in place, lifecycle, the paper runtime, versions, export', async () => {
  const page = await browser.newPage();
  // expected error answers: the bad graph's 422 and the stale promote's 409
  const problems = watch(page, (m, p, s) => ((m ?? 'POST') === 'POST' && p === '/api/strategies' && s === 422)
    || ((m ?? 'POST') === 'POST' && /^\/api\/strategies\/[^/]+\/promote$/.test(p) && s === 409));
  await page.evaluateOnNewDocument((t) => sessionStorage.setItem('ex7.console.token', t), tok);
  const downloads = mkdtempSync(path.join(tmpdir(), 'ex7-console-dl-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await page.setViewport({ width: 1440, height: 900 });

  // the top bar's link to the strategies page (no reload)
  await page.goto(`${srv.base}/`, { waitUntil: 'load' }); // the dashboard's stream never lets the network idle
  await page.waitForSelector('nav a[href="/strategies"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('nav a[href="/strategies"]');
  await page.waitForSelector('#strategies-h');
  await hasText(page, 'main', /No strategies yet/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');

  // from a template: it appears in the list
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('li[data-slug="ema-crossover"] button');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'create-h', 'focus on the new panel');
  assert.deepEqual(await axe(page), [], 'axe on the new-strategy panel');
  await shots(page, 'strategy-new');
  await page.click('li[data-slug="ema-crossover"] button');
  await hasText(page, '[data-testid="created"]', /Created “EMA 9\/21 crossover” \(draft, version 1\)/);
  await page.waitForSelector('tr[data-strategy-id]');
  const sid = await page.$eval('tr[data-strategy-id]', (e) => e.dataset.strategyId);
  assert.match(await cells(page, `tr[data-strategy-id="${sid}"]`), /^EMA 9\/21 crossover \| draft \| MES \| 5m \| 1 \| not started \| trend, ema, fixture \| /);
  assert.equal((await api(srv, 'GET', `/api/strategies/${sid}`, { tok })).body.status, 'draft');

  // a graph written as JSON: the validator's 422 in place, with its locator; nothing is created
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('input[name="create-way"][value="graph"]');
  await page.click('input[name="create-way"][value="graph"]');
  await page.waitForSelector('#new-graph');
  await page.type('#new-name', 'console hand-written');
  const bad = {
    nodes: [{ id: 'c', type: 'close' }, { id: 'k', type: 'constant', params: { value: 0 } }, { id: 'avg', type: 'sma', params: { period: 0 } },
      { id: 'up', type: 'gt' }, { id: 'e', type: 'enter_long' }],
    edges: [{ from: 'c', to: 'avg' }, { from: 'avg', to: 'up', port: 'a' }, { from: 'k', to: 'up', port: 'b' }, { from: 'up', to: 'e' }],
    meta: {},
  };
  await setValue(page, '#new-graph', JSON.stringify(bad, null, 2));
  await (await button(page, 'Create strategy')).click();
  await page.waitForSelector('[data-testid="error-422"]');
  assert.match(await text(page, '[data-testid="error-422"]'), /body\.graph\.nodes\[2\]\.params\.period: ensure this value is greater than or equal to 1/);
  assert.equal(await page.$eval('#new-graph', (e) => e.getAttribute('aria-invalid')), 'true');
  assert.equal((await api(srv, 'GET', '/api/strategies', { tok })).body.items.length, 1, 'the bad graph created nothing');
  assert.deepEqual(await axe(page), [], 'axe on the refused graph');
  await shots(page, 'strategy-graph-422');
  // not JSON at all: refused before any request
  await setValue(page, '#new-graph', '{"nodes": [');
  await (await button(page, 'Create strategy')).click();
  await hasText(page, '#new-error', /The graph is not valid JSON/);
  // fixed: created
  bad.nodes[2].params.period = 20;
  await setValue(page, '#new-graph', JSON.stringify(bad));
  await (await button(page, 'Create strategy')).click();
  await hasText(page, '[data-testid="created"]', /Created “console hand-written” \(draft, version 1\)/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 2);
  // the status filter
  await page.select('#f-status', 'ready');
  await hasText(page, 'main', /No strategies match these filters/);
  await page.select('#f-status', '');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 2);
  assert.deepEqual(await axe(page), [], 'axe on the list');
  await shots(page, 'strategies');

  // the strategy page
  await page.click(`tr[data-strategy-id="${sid}"] a`);
  await page.waitForSelector('#strategy-h');
  assert.equal(new URL(page.url()).pathname, `/strategies/${sid}`);
  await hasText(page, '[data-testid="runtime-status"]', /State: not started/);
  // a stale page: the strategy was archived elsewhere; Promote answers 409 invalid_transition, shown in place
  assert.equal((await api(srv, 'POST', `/api/strategies/${sid}/archive`, { tok })).status, 200);
  await (await button(page, 'Promote to ready')).click();
  await hasText(page, '[data-testid="lifecycle-error"]', /Cannot promote a strategy in status archived: from archived it can only go to draft \(invalid transition\)/);
  await hasText(page, '[data-testid="strategy-status"]', /archived/); // read again
  await (await button(page, 'Unarchive')).click();
  await hasText(page, '[data-testid="strategy-status"]', /draft/);
  await (await button(page, 'Promote to ready')).click();
  await hasText(page, '[data-testid="strategy-status"]', /ready/);
  assert.equal(await page.$('[data-testid="lifecycle-error"] .error'), null, 'the error went with the next success');

  // the paper runtime: start, the next bar makes it running
  await (await button(page, 'Start (paper)')).click();
  await hasText(page, '[data-testid="runtime-status"]', /State: starting/);
  // the newest MES 5m close time in trading hours that no stored bar has passed (the dispatcher takes only
  // a bar newer than every stored one of its series)
  const ts = psql(`SELECT t FROM generate_series(date_bin('5 minutes', now(), timestamptz '2000-01-01'), now() - interval '5 days', interval '-5 minutes') t
    WHERE t <= now() AND ex7.market_session('MES', t - interval '1 second') = 'open'
      AND t > coalesce((SELECT max(b.ts) FROM ex7.bars b WHERE b.instrument = 'MES' AND b.timeframe = '5m'), '-infinity')
    ORDER BY t DESC LIMIT 1`);
  assert.ok(ts, 'a MES 5m bar time to ingest');
  const bar = JSON.parse(psql(`SELECT ex7.ingest_bar('MES', '5m', '${ts}', 5000, 5001, 4999.75, 5000.5, 100)`));
  assert.equal(bar.status, 'stored', JSON.stringify(bar));
  await hasText(page, '[data-testid="runtime-status"]', /State: running/, 30000); // its own poll
  assert.notEqual(await text(page, '[data-testid="runtime-last-bar"]'), '—');

  // force close all: a dialog first (focus in it; Escape cancels, nothing changes), then the open signal goes
  const fired = JSON.parse(psql(`SELECT ex7.fire_signal('${U}', '${sid}', 'paper', 'long', 1, 5000.5, now(), 'console-strategies')`));
  assert.equal(fired.decision, 'fired', JSON.stringify(fired));
  const force = await button(page, 'Force close all…');
  await force.click();
  await page.waitForSelector('#force-close-dialog[open]');
  assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('#force-close-dialog'))), true, 'focus in the dialog');
  await hasText(page, '#force-close-dialog', /Open signals: 1/);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#force-close-dialog'));
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Force close all…', 'focus back on the button');
  assert.equal((await api(srv, 'GET', `/api/signals/${fired.signal.id}`, { tok })).body.status, 'open', 'cancel changes nothing');
  await force.click();
  await page.waitForSelector('#force-close-dialog[open]');
  await hasText(page, '#force-close-dialog', /Open signals: 1/);
  assert.deepEqual(await axe(page), [], 'axe on the force-close dialog');
  await shots(page, 'force-close-confirm');
  await page.click('#force-close-dialog button.danger');
  await hasText(page, '.strategy [role="status"]', /Force close: 1 open signal cancelled/);
  assert.equal(await page.$('#force-close-dialog'), null);
  assert.equal((await api(srv, 'GET', `/api/signals/${fired.signal.id}`, { tok })).body.status, 'cancelled');

  // stop: no open signal left, so stopped at once
  await (await button(page, 'Stop')).click();
  await hasText(page, '[data-testid="runtime-status"]', /State: stopped/);

  // the graph edited as JSON: version 2; the key diff of versions 1 and 2; rollback to 1 (version 3)
  await (await button(page, 'Edit graph')).click();
  await page.waitForSelector('#edit-graph');
  const g = JSON.parse(await page.$eval('#edit-graph', (e) => e.value));
  g.nodes.find((n) => n.id === 'fast').params.period = 10;
  await setValue(page, '#edit-graph', JSON.stringify(g, null, 2));
  await page.type('#edit-note', 'faster EMA');
  await (await button(page, 'Save as a new version')).click();
  await hasText(page, '#graph-h', /version 2/);
  await page.waitForSelector('tr[data-version="2"]');
  assert.match(await cells(page, 'tr[data-version="2"]'), /^2 \(current\) \| .* \| faster EMA \| /);
  await (await button(page, 'Compare graphs')).click();
  await page.waitForSelector('[data-testid="graph-diff"] table');
  assert.match(await text(page, '[data-testid="graph-diff"]'), /version 1 → version 2: 1 difference/);
  assert.equal(await cells(page, '[data-testid="graph-diff"] tbody tr'), 'nodes[id=fast].params.period changed | 9 | 10');
  assert.deepEqual(await axe(page), [], 'axe on the strategy page');
  await shots(page, 'strategy');
  await page.click('button[aria-label="Roll back to version 1"]');
  await hasText(page, '#graph-h', /version 3/);
  await page.waitForSelector('tr[data-version="3"]');
  assert.match(await cells(page, 'tr[data-version="3"]'), /^3 \(current\) \| .* \| rollback to version 1 \| /);
  assert.equal((await api(srv, 'GET', `/api/strategies/${sid}`, { tok })).body.graph.nodes.find((n) => n.id === 'fast').params.period, 9);

  // export: the JSON from a Blob link, downloaded
  await (await button(page, 'Export')).click();
  await page.waitForSelector('[data-testid="export-link"]');
  assert.match(await page.$eval('[data-testid="export-link"]', (e) => e.href), /^blob:/);
  await page.click('[data-testid="export-link"]');
  const file = await until(() => readdirSync(downloads).find((f) => f.endsWith('.json')), 15000, 'the downloaded export');
  assert.equal(file, 'ema-9-21-crossover.ex7.json');
  const doc = JSON.parse(readFileSync(path.join(downloads, file), 'utf8'));
  assert.equal(doc.format, 'ex7.strategy/v1');
  assert.equal(doc.name, 'EMA 9/21 crossover');
  assert.equal(doc.graph.nodes.find((n) => n.id === 'fast').params.period, 9);

  // back to the list through the crumbs: the runtime column
  await page.click('.crumbs a');
  await page.waitForSelector(`tr[data-strategy-id="${sid}"]`);
  await hasCells(page, `tr[data-strategy-id="${sid}"]`, /^EMA 9\/21 crossover \| ready \| MES \| 5m \| 3 \| stopped \| /);
  // the exported file imported again: a new draft, its name suffixed (the original holds it)
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('input[name="create-way"][value="file"]');
  await page.click('input[name="create-way"][value="file"]');
  const input = await page.waitForSelector('#import-file');
  await input.uploadFile(path.join(downloads, file));
  await (await button(page, 'Import')).click();
  await hasText(page, '[data-testid="created"]', /Created “EMA 9\/21 crossover \(2\)” \(draft, version 1\)/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 3);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});
