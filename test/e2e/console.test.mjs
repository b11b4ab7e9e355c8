// test/e2e/console.test.mjs: the web console (web/, docs/console.md) in headless Chromium driven by
// puppeteer-core, loaded from a real ex7d (EX7_WEB_DIR=web/) under its Content-Security-Policy. Flows:
// sign in with a pasted token; the dashboard says trading is allowed; a signal fired through SQL appears
// in the live feed without a reload; the kill switch (with its confirmation) halts trading and the
// dashboard says "blocked: halted"; sign-out forgets the token. With EX7_AUTH_ENABLED the sign-in screen
// asks for an email and a password instead. axe-core finds no serious or critical violation on the
// sign-in screen and the dashboard. Screenshots of each screen at 375 and 1440 px go to
// results/console/ (EX7_E2E_OUT to put them elsewhere). A console error, an uncaught exception, a failed
// request or an error answer other than the expected one (the login probe's 404) fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance } from './lib.mjs';
import { WEB, launch, watch, screen, text } from './console_lib.mjs';

const U = uid('c0', 1);
let srv, browser, tok, sid;

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${U}');
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${U}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(U); // the stream answers 412 until the compliance documents are accepted
  sid = psql(`WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
      VALUES ('${U}', 'console-mnq', 'MNQ', '5m', 'e2e') RETURNING id, user_id),
    v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s)
    SELECT id FROM s`);
  tok = await token(U);
  [srv, browser] = await Promise.all([startEx7d({ EX7_WEB_DIR: WEB }), launch()]);
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('the console: sign in with a token, trading allowed, a fired signal in the live feed, the kill switch halts, sign out', async () => {
  const page = await browser.newPage();
  // the sign-in screen probes the self-hosted login: 404 without EX7_AUTH_ENABLED; the wrong token below
  // is checked with GET /api/risk/state: 401
  const { problems, settle } = watch(page, (m, p, s) => ((m ?? 'POST') === 'POST' && p === '/api/auth/login' && s === 404)
    || ((m ?? 'GET') === 'GET' && p === '/api/risk/state' && s === 401));
  await page.setViewport({ width: 1440, height: 900 });
  const res = await page.goto(`${srv.base}/`, { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'served under the CSP');

  // the sign-in screen: a token field (no self-hosted login here), the 4.41 banner from the public disclaimer
  await page.waitForSelector('#signin-token');
  assert.equal(await page.$('#signin-email'), null);
  await page.waitForSelector('.compliance');
  assert.match(await text(page, '.compliance'), /CFTC Rule 4\.41\(b\)\(1\)\(i\).*HYPOTHETICAL/);
  await screen(page, 'signin');

  // a wrong token is refused in place with the API's detail
  await page.type('#signin-token', 'not-a-token');
  await page.click('.signin button[type="submit"]');
  await page.waitForSelector('.signin .error');
  assert.match(await text(page, '.signin .error'), /token/i);
  await settle(); // its console line is in before the strict watch below

  // sign in with the token (keyboard: Enter in the form submits it)
  await page.$eval('#signin-token', (e) => { e.value = ''; });
  await page.evaluate(() => { window.__sameDocument = true; });
  const { problems: pageProblems } = watch(page);
  await page.type('#signin-token', tok);
  await page.click('.signin button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="trading-status"]')?.textContent.includes('Trading allowed'), { timeout: 15000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ex7.console.token')), tok);
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie');
  await page.waitForFunction(() => document.querySelector('.stream-state')?.textContent.includes('Live'), { timeout: 15000 });
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), { timeout: 15000 });

  // a signal fired in the database appears in the feed, in the same document
  const fired = JSON.parse(psql(`SELECT ex7.fire_signal('${U}', '${sid}', 'paper', 'long', 1, 20000.25, now(), 'console-e2e')`));
  assert.equal(fired.decision, 'fired', JSON.stringify(fired));
  await page.waitForSelector(`.feed li[data-signal-id="${fired.signal.id}"]`, { timeout: 15000 });
  const item = await text(page, `.feed li[data-signal-id="${fired.signal.id}"]`);
  assert.match(item, /MNQ long 1 @ 20000\.25/);
  assert.match(item, /console-e2e/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  // the open position comes to the portfolio panel (reloaded on the event)
  await page.waitForFunction(() => document.querySelector('#portfolio-h')?.closest('section').textContent.includes('20000.25'), { timeout: 15000 });

  await screen(page, 'dashboard');

  // the kill switch: a confirmation first (cancel leaves everything as it was), then halt
  const halt = await page.$('button::-p-text(Halt trading)');
  await halt.click();
  await page.waitForSelector('#killswitch-confirm');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Confirm halt', 'focus on the confirmation');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#killswitch-confirm'));
  assert.equal((await api(srv, 'GET', '/api/risk/state?mode=paper', { tok })).body.state, 'active', 'cancel changes nothing');
  await halt.click();
  await page.waitForSelector('#killswitch-reason');
  await page.type('#killswitch-reason', 'console e2e');
  await screen(page, 'killswitch-confirm');
  const confirm = await page.$('button::-p-text(Confirm halt)');
  await confirm.click();
  await page.waitForFunction(() => document.querySelector('[data-testid="trading-status"]')?.textContent.includes('blocked: halted'), { timeout: 15000 });
  // the change came down the stream too
  await page.waitForSelector('.feed li.feed-trading_state', { timeout: 15000 });
  assert.match(await text(page, '.feed li.feed-trading_state'), /halted \(console e2e\)/);
  await screen(page, 'dashboard-halted');

  // the signals page through the router (no reload), and back
  await page.click('nav a[href="/signals"]');
  await page.waitForSelector(`#signals-h`);
  await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('console-e2e'), { timeout: 15000 });
  assert.equal(new URL(page.url()).pathname, '/signals');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  await screen(page, 'signals');
  await page.goBack();
  await page.waitForSelector('[data-testid="trading-status"]');

  // sign out: the sign-in screen again, the token forgotten
  await page.click('button.signout');
  await page.waitForSelector('#signin-token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ex7.console.token')), null);
  await settle();
  assert.deepEqual([...problems, ...pageProblems], [], 'no console error, failed request or error answer');

  // restore the user's state for the other flows
  await api(srv, 'PUT', '/api/risk/state?mode=paper', { tok, body: { state: 'active' } });
  await page.close();
});

test('with EX7_AUTH_ENABLED: the sign-in screen asks for an email and a password, a wrong one is refused in place', async () => {
  const own = await startEx7d({ EX7_WEB_DIR: WEB, EX7_AUTH_ENABLED: '1' });
  try {
    const email = `console-${Date.now()}@example.com`;
    const su = await api(own, 'POST', '/api/auth/signup', { body: { email, password: 'correct horse battery' } });
    assert.equal(su.status, 201, su.text);
    acceptCompliance(su.body.user.id);
    const page = await browser.newPage();
    // the probe's 422 (an empty login) and the wrong password's 401 are expected
    const { problems, settle } = watch(page, (m, p, s) => (m ?? 'POST') === 'POST' && p === '/api/auth/login' && (s === 422 || s === 401 || s === 400));
    await page.setViewport({ width: 1440, height: 900 });
    await page.goto(`${own.base}/`, { waitUntil: 'load' });
    await page.waitForSelector('#signin-email');
    assert.equal(await page.$eval('label[for="signin-password"]', (e) => e.textContent), 'Password');
    await screen(page, 'signin-password');
    await page.type('#signin-email', email);
    await page.type('#signin-password', 'wrong password!');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.signin .error');
    assert.match(await text(page, '.signin .error'), /Incorrect email or password/);
    await page.$eval('#signin-password', (e) => { e.value = ''; });
    await page.type('#signin-password', 'correct horse battery');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="trading-status"]', { timeout: 15000 });
    await page.waitForFunction(() => document.querySelector('.stream-state')?.textContent.includes('Live'), { timeout: 15000 });
    await page.click('button.signout');
    await page.waitForSelector('#signin-email');
    await settle();
    assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
    await page.close();
  } finally {
    await own.stop();
  }
});
