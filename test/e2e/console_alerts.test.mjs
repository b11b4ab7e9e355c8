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
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';
import { startProviders, RESEND_KEY } from './standins/providers.mjs';
import { WEB, launch, signedIn, screen, text, hasText, cells, hasCells, button, setValue } from './console_lib.mjs';

const U = uid('c9', 1);
const EMAIL = 'console.trader@example.com';
let srv, browser, tok, prov, strategy;

before(async () => {
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
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
  await prov?.close();
});

const mailTo = (to, after = 0) => until(() => prov.requests.resend.slice(after).find((q) => q.body?.to?.[0] === to), 15000, `an email to ${to}`);
const codeOf = (mail) => /verification code is (\d{6})/.exec(mail.body.text)[1];

test('the alerts page: an email channel verified with the code it received, subscriptions, deliveries, price alerts', async () => {
  // expected error answers: the bad address's and the bad level's 422, the wrong code's 422, the early
  // resend's 429 and the second subscription of a pair's 409
  const { page, problems, settle } = await signedIn(browser, srv.base, tok, { path: null, allow: (m, p, s) => (m ?? 'POST') === 'POST' && (
    (p === '/api/alerts/channels' && s === 422) || (/^\/api\/alerts\/channels\/[^/]+\/verify$/.test(p) && s === 422)
    || (/^\/api\/alerts\/channels\/[^/]+\/resend$/.test(p) && s === 429)
    || (p === '/api/alerts/subscriptions' && s === 409) || (p === '/api/alerts/price' && s === 422)) });

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
  await screen(page, 'alerts-verify');
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
  await screen(page, 'alerts');
  await page.click('button[aria-label="Delete the alert MES crosses below 4800.25"]');
  await hasText(page, '[data-testid="price-alerts"]', /No price alerts/);
  assert.equal((await api(srv, 'GET', '/api/alerts/price', { tok })).body.length, 0);

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.deepEqual(prov.errors, [], 'the stand-in saw well-formed requests');
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});
