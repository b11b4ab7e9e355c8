// test/e2e/console_alerts.test.mjs: the console's alerts page (web/src/views/alerts.js, docs/console.md) in
// headless Chromium against a real ex7d under its Content-Security-Policy, its delivery worker sending to
// the local Resend stand-in (standins/providers.mjs): the top bar's link; an email channel refused in
// place (422 at the destination), then added; a wrong code refused in place with the tries left; Resend
// code right away refused with the 429 and its wait counting down; the code read from the email the
// stand-in received, entered in the page: verified; subscriptions for all strategies (some events) and for
// one strategy, a second one for the same pair refused in place (409); a trading-state change reaches the
// email and its delivery shows as sent; a price alert refused (422 at the level), created (crosses below a
// level), listed and deleted. axe-core finds no serious or critical violation; screenshots at 375 and
// 1440 px go to results/console/ (EX7_E2E_OUT to put them elsewhere). A console error, an uncaught
// exception, a failed request or an error answer other than the expected ones fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';
import { startProviders, RESEND_KEY } from './standins/providers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../../web');
const OUT = process.env.EX7_E2E_OUT ? path.resolve(process.env.EX7_E2E_OUT, 'console') : path.resolve(here, '../../results/console');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const U = uid('c9', 1);
const EMAIL = 'console.trader@example.com';
let srv, browser, tok, prov, strategy;

const chromium = ['/usr/bin/chromium', 'chromium', 'chromium-browser']
  .map((b) => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim()).find(Boolean);

before(async () => {
  assert.ok(chromium, 'chromium is installed (tools/deps.sh)');
  mkdirSync(OUT, { recursive: true });
  ensureDb();
  prov = await startProviders();
  // strategist: the flow makes more requests than the free tier's 30 a minute
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}'`);
  acceptCompliance(U); // channels and subscriptions answer 412 until then
  tok = await token(U);
  srv = await startEx7d({
    EX7_WEB_DIR: WEB, EX7_WORKER: '1', EX7_WORKER_INTERVAL_MS: '100', EX7_PUBLIC_URL: 'https://api.ex7.test',
    RESEND_API_KEY: RESEND_KEY, RESEND_API_BASE: prov.base, RESEND_FROM: 'ex7 <alerts@ex7.test>',
  });
  const r = await api(srv, 'POST', '/api/strategies', { tok, body: { name: 'alerted strategy', instrument: 'MES', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  strategy = r.body.id;
  browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--disable-dev-shm-usage'],
  });
});
after(async () => {
  await browser?.close();
  await srv?.stop();
  await prov?.close();
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

const mailTo = (to, after = 0) => until(() => prov.requests.resend.slice(after).find((q) => q.body?.to?.[0] === to), 15000, `an email to ${to}`);
const codeOf = (mail) => /verification code is (\d{6})/.exec(mail.body.text)[1];

test('the alerts page: an email channel verified with the code it received, subscriptions, deliveries, price alerts', async () => {
  const page = await browser.newPage();
  // expected error answers: the bad address's and the bad level's 422, the wrong code's 422, the early
  // resend's 429 and the second subscription of a pair's 409
  const problems = watch(page, (m, p, s) => (m ?? 'POST') === 'POST' && (
    (p === '/api/alerts/channels' && s === 422) || (/^\/api\/alerts\/channels\/[^/]+\/verify$/.test(p) && s === 422)
    || (/^\/api\/alerts\/channels\/[^/]+\/resend$/.test(p) && s === 429)
    || (p === '/api/alerts/subscriptions' && s === 409) || (p === '/api/alerts/price' && s === 422)));
  await page.evaluateOnNewDocument((t) => sessionStorage.setItem('ex7.console.token', t), tok);
  await page.setViewport({ width: 1440, height: 900 });

  // the top bar's link (no reload)
  await page.goto(`${srv.base}/`, { waitUntil: 'load' }); // the dashboard's stream never lets the network idle
  await page.waitForSelector('nav a[href="/alerts"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('nav a[href="/alerts"]');
  await page.waitForSelector('#channels-h');
  await hasText(page, '[data-testid="channels"]', /No channels yet/);
  await hasText(page, '[data-testid="price-alerts"]', /No price alerts/);
  assert.equal(new URL(page.url()).pathname, '/alerts');

  // an address that is not one: the 422 in place, at the destination
  await page.select('#ch-type', 'email');
  await page.type('#ch-dest', 'nope');
  await (await button(page, 'Add channel')).click();
  await hasText(page, '[data-testid="channel-add-error"]', /destination: value is not a valid email address/);
  assert.equal(await page.$eval('#ch-dest', (e) => e.getAttribute('aria-invalid')), 'true');
  // a real one: pending, and the code goes out through Resend
  const sent = prov.requests.resend.length;
  await setValue(page, '#ch-dest', EMAIL);
  await page.type('#ch-label', 'desk');
  await (await button(page, 'Add channel')).click();
  await hasText(page, '[data-testid="channel-notice"]', new RegExp(`a verification code was sent to ${EMAIL.replace(/\./g, '\\.')}`));
  await page.waitForSelector('li.channel');
  const ch = await page.$eval('li.channel', (e) => e.dataset.channelId);
  await hasText(page, `li[data-channel-id="${ch}"] [data-testid="channel-status"]`, /pending/);
  assert.equal(await page.$('[data-testid="channel-add-error"]'), null, 'the error went with the next success');
  const code = codeOf(await mailTo(EMAIL, sent));

  // a wrong code: refused in place with the tries left
  await page.type(`#ch-${ch}-code`, code === '000000' ? '111111' : '000000');
  await (await button(page, 'Verify')).click();
  await hasText(page, '[data-testid="verify-error"]', /Wrong code: .*\(4 tries left\)/);
  assert.equal(await page.$eval(`#ch-${ch}-code`, (e) => e.getAttribute('aria-invalid')), 'true');
  await hasText(page, `#ch-${ch}-hint`, /\(4 tries left\)\./); // the channel read again
  // a new code at once: the 429 with its wait, the button counting down
  await (await button(page, 'Resend code')).click();
  await hasText(page, '[data-testid="verify-error"]', /a new one can be sent in \d+ s\. \(429\)/);
  const resend = await page.waitForSelector(`li[data-channel-id="${ch}"] .verify .actions button`);
  assert.match(await resend.evaluate((e) => e.textContent), /^Resend \(in \d+ s\)$/);
  assert.equal(await resend.evaluate((e) => e.disabled), true);
  assert.deepEqual(await axe(page), [], 'axe on the pending channel');
  await shots(page, 'alerts-verify');
  // the code of the email, entered in the page
  await setValue(page, `#ch-${ch}-code`, code);
  await (await button(page, 'Verify')).click();
  await hasText(page, `li[data-channel-id="${ch}"] [data-testid="channel-status"]`, /verified/);
  await hasText(page, '[data-testid="channel-notice"]', /desk is verified/);
  assert.equal(await page.$(`#ch-${ch}-code`), null);
  let r = await api(srv, 'GET', '/api/alerts/channels', { tok });
  assert.equal(r.body.find((c) => c.id === ch).verified, true);

  // subscriptions: all strategies, three events; then one strategy, every event; that pair again: 409 in place
  for (const ev of ['signal_closed', 'blocked', 'runtime_error', 'price_alert']) await page.click(`input[name="sub-event"][value="${ev}"]`);
  await (await button(page, 'Subscribe')).click();
  await page.waitForSelector('tr[data-subscription-id]');
  await hasCells(page, 'tr[data-subscription-id]', new RegExp(`^email: ${EMAIL.replace(/\./g, '\\.')} \\| All strategies \\| signal, risk lock, trading state \\| on \\|`));
  r = await api(srv, 'GET', '/api/alerts/subscriptions', { tok });
  assert.equal(r.body.length, 1);
  assert.deepEqual([...r.body[0].events].sort(), ['risk_lock', 'signal', 'trading_state']);
  assert.equal(r.body[0].strategy_id, null);
  await page.select('#sub-strategy', strategy);
  for (const ev of ['signal_closed', 'blocked', 'runtime_error', 'price_alert']) await page.click(`input[name="sub-event"][value="${ev}"]`);
  await (await button(page, 'Subscribe')).click();
  await page.waitForFunction(() => document.querySelectorAll('tr[data-subscription-id]').length === 2);
  await (await button(page, 'Subscribe')).click();
  await hasText(page, '[data-testid="subscription-error"]', /already subscribed for this strategy .*\(409\)/);
  r = await api(srv, 'GET', '/api/alerts/subscriptions', { tok });
  assert.equal(r.body.length, 2);
  assert.equal(r.body.find((s) => s.strategy_id === strategy).events.length, 7);

  // a trading-state change reaches the email; its delivery is listed as sent
  const before = prov.requests.resend.length;
  r = await api(srv, 'PUT', '/api/risk/state?mode=paper', { tok, body: { state: 'halted', reason: 'console alerts e2e' } });
  assert.equal(r.status, 200, r.text);
  await mailTo(EMAIL, before);
  await (await button(page, 'Refresh')).click();
  await page.waitForSelector('tr[data-event="trading_state"]');
  await hasCells(page, 'tr[data-event="trading_state"]', /\| trading state \| email \| .* \| sent \| 1 \| $/); // the page's own poll while queued
  await hasCells(page, 'tr[data-event="verification"]', /\| verification \| email \| .* \| sent \| 1 \| $/);

  // price alerts: a bad level refused in place; crosses below 4800.25 created, listed, deleted
  await page.select('#pa-instrument', 'MES');
  await page.select('#pa-condition', 'crosses_below');
  await page.type('#pa-level', '-5');
  await (await button(page, 'Create price alert')).click();
  await hasText(page, '[data-testid="price-error"]', /level: level must be a positive decimal/);
  assert.equal(await page.$eval('#pa-level', (e) => e.getAttribute('aria-invalid')), 'true');
  await setValue(page, '#pa-level', '4800.25');
  await page.select('#pa-timeframe', '5m');
  await page.type('#pa-note', 'support');
  await (await button(page, 'Create price alert')).click();
  await page.waitForSelector('tr[data-price-alert-id]');
  assert.match(await cells(page, 'tr[data-price-alert-id]'), /^MES \| crosses below \| 4800\.25 \| 5m \| once \| active \| 0 \| support \| Delete$/);
  r = await api(srv, 'GET', '/api/alerts/price', { tok });
  assert.equal(r.body.length, 1);
  assert.equal(r.body[0].condition, 'crosses_below');
  assert.equal(r.body[0].level, '4800.25');
  assert.equal(await page.$('[data-testid="price-error"]'), null);
  assert.deepEqual(await axe(page), [], 'axe on the alerts page');
  await shots(page, 'alerts');
  await page.click('button[aria-label="Delete the alert MES crosses below 4800.25"]');
  await hasText(page, '[data-testid="price-alerts"]', /No price alerts/);
  assert.equal((await api(srv, 'GET', '/api/alerts/price', { tok })).body.length, 0);

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.deepEqual(prov.errors, [], 'the stand-in saw well-formed requests');
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});
