// test/e2e/console_account.test.mjs: the console's Account page (web/src/views/account.js, docs/console.md)
// in headless Chromium against a real ex7d under its Content-Security-Policy: reached from the top bar; a
// user who has not accepted the compliance documents sees them and accepts them; the tier, its caps and
// today's usage; Upgrade navigates to the URL POST /api/billing/checkout returns (the local Stripe
// stand-in's; the browser's visit to it is answered by the test); an exchange key is added (its hint shown,
// the secret in no field or text of the page afterwards) and deleted; a notification is shown and marked
// read; the paper account is reset after a dialog (Escape cancels, nothing changes), at a new capital.
// axe-core finds no serious or critical violation; screenshots at 375 and 1440 px go to results/console/
// (EX7_E2E_OUT to put them elsewhere). A console error, an uncaught exception, a failed request or an error
// answer fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';
import { startStripe } from './standins/stripe.mjs';
import { WEB, launch, signedIn, axe, screen, text, hasText, cells, button } from './console_lib.mjs';

const KEY = 'sk_test_e2e_console_account';
const U = uid('c6', 1);
let srv, sd, browser, tok;

before(async () => {
  ensureDb();
  // operator (set by the operator, no subscription): Upgrade offers strategist; no document accepted yet
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'operator' WHERE id = '${U}';
        DELETE FROM ex7.compliance_acceptances WHERE user_id = '${U}';
        DELETE FROM ex7.notifications WHERE user_id = '${U}';
        DELETE FROM ex7.paper_accounts WHERE user_id = '${U}';
        DELETE FROM ex7.exchange_keys WHERE user_id = '${U}';
        DELETE FROM ex7.vix_usage WHERE user_id = '${U}';
        INSERT INTO ex7.notifications (user_id, type, title, message)
        VALUES ('${U}', 'system', 'Console account check', 'A notification for the account page')`);
  tok = await token(U);
  sd = await startStripe({ key: KEY });
  srv = await startEx7d({ EX7_WEB_DIR: WEB, STRIPE_SECRET_KEY: KEY, STRIPE_API_BASE: sd.url,
    STRIPE_RETURN_URL: 'https://app.example/billing', EX7_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}` });
  psql(`UPDATE ex7.tiers SET stripe_price_id = CASE tier WHEN 'operator' THEN 'price_e2e_operator' WHEN 'strategist' THEN 'price_e2e_strategist' END`);
  browser = await launch();
});
after(async () => {
  psql('UPDATE ex7.tiers SET stripe_price_id = NULL');
  await browser?.close();
  await srv?.stop();
  sd?.close();
});

test('the account page: documents accepted, tier and caps, checkout, exchange keys, notifications, the paper account reset', async () => {
  // expected: the stream refused with 412 before the documents are accepted (its ticket, the EventSource's
  // request and Chromium's line about its JSON answer, the console's HEAD asking why), and Vix's 429 once
  // the day's quota is used
  const { page, problems, settle } = await signedIn(browser, srv.base, tok, { path: null, allow: (m, p, s) =>
    ((p === '/api/signals/stream' || p === '/api/signals/stream/ticket') && (s === 412 || (m === 'console' && /EventSource's response has a MIME type/.test(s))))
    || ((m ?? 'POST') === 'POST' && p === '/api/vix/generate-strategy' && s === 429) });
  // the browser's visit to Stripe's Checkout (the stand-in's URL) is answered here
  await page.setRequestInterception(true);
  const visited = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname.endsWith('.stripe.test')) {
      visited.push(r.url());
      r.respond({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Stripe Checkout</title><h1>Checkout</h1>' });
    } else r.continue();
  });

  // the dashboard before the documents are accepted: the stream's 412 stops the feed, with a link to this page
  await page.goto(`${srv.base}/`, { waitUntil: 'load' });
  await hasText(page, '.stream-state', /Stopped — .*compliance documents/);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('.stream-state a.compliance-link');
  await page.waitForSelector('#account-h');
  assert.equal(new URL(page.url()).pathname, '/account');
  // and the top bar's link (no reload)
  await page.click('nav a[href="/signals"]');
  await page.waitForSelector('#signals-h');
  await page.click('nav a[href="/account"]');
  await page.waitForSelector('#account-h');
  assert.equal(await page.evaluate(() => document.title), 'Account · ex7 console');

  // the documents to accept
  await hasText(page, '[data-testid="compliance-state"]', /To accept: 3 documents/);
  assert.deepEqual(await page.$$eval('#compliance li[data-document]', (l) => l.map((e) => e.dataset.document).sort()), ['privacy', 'risk', 'tos']);
  // tier, caps and usage
  await hasText(page, '[data-testid="tier"]', /Tier: Operator/);
  assert.equal(await cells(page, 'tr[data-cap="requests_per_minute"]'), 'Requests a minute | — | 120');
  assert.match(await cells(page, 'tr[data-cap="requests_per_day"]'), /^Requests today \| [1-9][\d,]* \| 10,000$/);
  assert.match(await cells(page, 'tr[data-cap="alerts_per_day"]'), /^Alerts today \| 0 \| 200$/);
  assert.match(await cells(page, 'tr[data-cap="strategies"]'), /^Strategies \| 0 \| \d[\d,]*$/);
  // the notification, unread
  await page.waitForSelector('li.unread[data-notification-id]');
  assert.match(await text(page, 'li[data-notification-id]'), /Console account check A notification for the account page/);
  // the paper account, never reset
  await hasText(page, '[data-testid="paper-capital"]', /\$10,000\.00/);
  await page.waitForSelector('::-p-xpath(//p[contains(., "No exchange keys.")])');
  await screen(page, 'account');

  // accept: the checkbox first
  const accept = await button(page, 'Accept');
  assert.equal(await accept.evaluate((b) => b.disabled), true, 'Accept waits for the checkbox');
  await page.click('#compliance-agree');
  await page.waitForFunction((b) => !b.disabled, {}, accept);
  await accept.click();
  await hasText(page, '[data-testid="compliance-state"]', /Every document is accepted/);
  await hasText(page, '#compliance [role="status"]', /Accepted: /);
  const st = await api(srv, 'GET', '/api/billing/compliance', { tok });
  assert.equal(st.body.compliant, true, st.text);

  // an exchange key: added (the hint shown), then deleted
  const secret = 'console-secret-DO-NOT-SHOW-0123456789';
  await page.select('#key-exchange', 'kraken');
  await page.type('#key-label', 'console desk');
  await page.type('#key-api', 'APIKEY-console-WXYZ');
  await page.type('#key-secret', secret);
  await (await button(page, 'Add key')).click();
  await hasText(page, '[data-testid="keys-msg"]', /Saved the kraken key \*\*\*\*WXYZ\. Its secret is stored encrypted and is never shown again\./);
  await page.waitForSelector('tr[data-key-id]');
  const kid = await page.$eval('tr[data-key-id]', (e) => e.dataset.keyId);
  assert.match(await cells(page, `tr[data-key-id="${kid}"]`), /^kraken \| console desk \| \*\*\*\*WXYZ \| no \| .+ \| Delete$/);
  assert.equal(await page.$eval('#key-secret', (e) => e.value), '', 'the secret field is cleared');
  assert.equal(await page.$eval('#key-api', (e) => e.value), '', 'the API key field is cleared');
  assert.equal(await page.evaluate((s) => document.documentElement.outerHTML.includes(s), secret), false, 'the secret is nowhere on the page');
  assert.deepEqual((await api(srv, 'GET', '/api/exchange-keys', { tok })).body.keys.map((k) => k.hint), ['****WXYZ']);
  assert.deepEqual(await axe(page), [], 'axe after adding a key');
  await page.click(`button[aria-label="Delete the kraken key ****WXYZ"]`);
  await hasText(page, '[data-testid="keys-msg"]', /Deleted the kraken key \*\*\*\*WXYZ/);
  await page.waitForFunction(() => !document.querySelector('tr[data-key-id]'));
  assert.deepEqual((await api(srv, 'GET', '/api/exchange-keys', { tok })).body.keys, []);

  // the notification marked read
  await page.click('button[aria-label="Mark read: Console account check"]');
  await page.waitForSelector('li.read[data-notification-id] [data-testid="read"]');
  assert.equal(Number(psql(`SELECT count(*) FROM ex7.notifications WHERE user_id = '${U}' AND read_at IS NULL`)), 0);

  // the paper account: Escape cancels (focus back on the button, nothing changes), then a reset to 25,000
  const reset = await button(page, 'Reset paper account…');
  await reset.click();
  await page.waitForSelector('#reset-dialog[open]');
  assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('#reset-dialog'))), true, 'focus in the dialog');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#reset-dialog'));
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Reset paper account…', 'focus back on the button');
  assert.equal((await api(srv, 'GET', '/api/account/paper?mode=paper', { tok })).body.resets, 0, 'cancel changes nothing');
  await reset.click();
  await page.waitForSelector('#reset-dialog[open] #reset-capital');
  await page.$eval('#reset-capital', (e) => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.type('#reset-capital', '25000');
  await screen(page, 'account-reset-confirm');
  await page.click('#reset-dialog button.danger');
  await hasText(page, '[data-testid="paper-msg"]', /Reset: the account starts again at \$25,000\.00 \(it was \$10,000\.00\)/);
  assert.equal(await page.$('#reset-dialog'), null);
  assert.equal(await text(page, '[data-testid="paper-capital"]'), '$25,000.00');
  assert.equal(await text(page, '[data-testid="paper-resets"]'), '1');
  const paper = (await api(srv, 'GET', '/api/account/paper?mode=paper', { tok })).body;
  assert.deepEqual([paper.starting_capital, paper.resets], ['25000.00', 1]);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  await screen(page, 'account-after');

  // Vix: a strategy from words, drawn, and created as a draft; the day's quota
  await hasText(page, '[data-testid="vix-quota"]', /Today: 0 of 50 generations used, 50 left/);
  await page.type('#vix-prompt', 'RSI(2) mean reversion on MES 5m, 8 tick stop');
  await page.click('#vix input[type="checkbox"]');
  await (await button(page, 'Generate')).click();
  await page.waitForSelector('[data-testid="vix-result"] .gnode');
  const made = (await api(srv, 'GET', '/api/strategies', { tok })).body.items.find((x) => x.tags.includes('vix'));
  assert.ok(made, 'Vix created a draft');
  await hasText(page, '[data-testid="vix-result"]', new RegExp(`Created the draft “${made.name.replace(/[()]/g, '\\$&')}”`));
  assert.equal(await page.$eval('[data-testid="vix-result"] a', (a) => a.getAttribute('href')), `/strategies/${made.id}`);
  await hasText(page, '[data-testid="vix-quota"]', /Today: 1 of 50 generations used, 49 left/);
  await screen(page, 'account-vix');
  // the quota used up: the 429 says when to retry
  psql(`UPDATE ex7.vix_usage SET used = 50 WHERE user_id = '${U}'`);
  await (await button(page, 'Generate')).click();
  await hasText(page, '[data-testid="vix-error"]', /Today's Vix generations are used \(50 of 50\): retry in [\d,]+ s, when the quota resets at .+ \(429\)/);
  await hasText(page, '[data-testid="vix-quota"]', /Today: 50 of 50 generations used, 0 left/);

  // Upgrade: the browser goes to the URL POST /api/billing/checkout answered
  await (await button(page, 'Upgrade to Strategist ($149.00 a month)')).click();
  await page.waitForFunction(() => location.hostname.endsWith('.stripe.test'), { timeout: 15000 });
  assert.match(page.url(), /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
  assert.equal(visited.filter((u) => /\/c\/pay\//.test(u)).length, 1, visited.join(', '));
  const req = sd.requests.find((r) => r.path === '/v1/checkout/sessions');
  assert.equal(req.form['line_items[0][price]'], 'price_e2e_strategist');
  assert.equal(req.form.client_reference_id, U);

  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or error answer');
  await page.close();
});
