// test/e2e/console_recovery.test.mjs: the web console (docs/console.md) when ex7d goes away and comes
// back, in headless Chromium driven by puppeteer-core. The dashboard is open, signed in (the token in
// sessionStorage, where the sign-in screen keeps it); ex7d is stopped and started again on the same port.
// Twice (web/src/stream.js: a new ticket and a new EventSource each time):
//   1. before any event arrived: the EventSource's error makes the console ask GET /api/health, which
//      fails, so the top bar says "The server cannot be reached. Retrying…" and the dashboard "The live
//      feed was interrupted"; once ex7d is back both clear (the health poll, the feed Live again), the
//      panels are read again (a risk limit changed while ex7d was down, which no event carries, shows) and
//      a signal fired then appears in the feed, no reload;
//   2. after an event (the new EventSource names the last id received, ?last_event_id=): a signal fired
//      while ex7d is down arrives once it is back (replayed after that id), and one fired after that
//      arrives live.
// Only what an outage must cause is accepted, and only while ex7d is down or coming back: the requests of
// the health poll, the stream's ticket and the stream itself failing (net::ERR_CONNECTION_REFUSED, and the
// open stream cut by the stop) or answered 503 (what a stopping ex7d answers on a connection still open,
// docs/http.md), with Chromium's "Failed to load resource" console line for each. Before each stop the
// page has no request in flight but its stream, so that no panel's reload meets the stop. Any other
// console error, uncaught exception, failed request or error answer fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ensureDb, token, uid, psql, acceptCompliance, keys, conninfo, freePort, EX7D, SECRET, sleep, until } from './lib.mjs';
import { WEB, TOKEN_KEY, launch, frames } from './console_lib.mjs';

const U = uid('c4e5', 1);
let browser, tok, sid;

// ex7d on a port of our choosing (the restart must come back on the same one); resolves once
// /api/health answers 200
const servers = new Set();
process.on('exit', () => { for (const p of servers) p.kill('SIGKILL'); });
async function ex7dOn(port) {
  const k = await keys();
  const wrap = process.env.EX7D_WRAPPER ? process.env.EX7D_WRAPPER.split(' ') : [];
  const proc = spawn(wrap.length ? wrap[0] : EX7D, wrap.length ? [...wrap.slice(1), EX7D] : [], {
    env: {
      PATH: process.env.PATH, DATABASE_URL: conninfo(), EX7_LISTEN: `127.0.0.1:${port}`, EX7_JWT_SECRET: SECRET,
      EX7_JWKS_FILE: k.jwksFile, EX7_WEB_DIR: WEB,
      ...Object.fromEntries(['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']
        .filter((v) => process.env[v]).map((v) => [v, process.env[v]])),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.add(proc);
  proc.on('exit', () => servers.delete(proc));
  proc.unref(); proc.stdout.unref(); proc.stderr.unref();
  const out = { log: '', err: '' };
  proc.stdout.on('data', (d) => { out.log += d; });
  proc.stderr.on('data', (d) => { out.err += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  const base = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < (wrap.length ? 600 : 200) && !up; i++) {
    if (proc.exitCode !== null) break;
    try { up = (await fetch(`${base}/api/health`)).status === 200; } catch { /* not yet */ }
    if (!up) await sleep(50);
  }
  assert.ok(up, `ex7d on port ${port} answers /api/health: ${out.err.slice(-500)}`);
  return {
    base, port, proc, out,
    async stop(signal = 'SIGTERM') { proc.ref(); if (proc.exitCode === null) proc.kill(signal); return exited; },
  };
}

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${U}');
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${U}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(U); // the stream answers 412 until the compliance documents are accepted
  sid = psql(`WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
      VALUES ('${U}', 'recovery-mnq', 'MNQ', '5m', 'e2e') RETURNING id, user_id),
    v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s)
    SELECT id FROM s`);
  tok = await token(U);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const p of servers) p.kill('SIGKILL');
});

// the requests an outage makes fail: the health poll (api.js), the stream's ticket and the stream (stream.js)
const OUTAGE_PATHS = new Set(['/api/health', '/api/signals/stream/ticket', '/api/signals/stream']);
// while ex7d is down nothing listens on its port; the stream open at the stop is cut under the browser
const OUTAGE_ERRORS = /^net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|INCOMPLETE_CHUNKED_ENCODING)$/;

// watch: the page's problems; window.outage is true from just before ex7d stops until the console is
// whole again, the only time the failures of OUTAGE_PATHS with OUTAGE_ERRORS or 503 are expected.
// quiet(): resolves once no request but the stream has been in flight for 300 ms.
function watch(page) {
  const problems = [];
  const expected = [];
  const window = { outage: false };
  const pending = new Set();
  const isStream = (r) => new URL(r.url()).pathname === '/api/signals/stream';
  page.on('request', (r) => { if (!isStream(r)) pending.add(r); });
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const p = new URL(r.url()).pathname;
    if (window.outage && r.status() === 503 && OUTAGE_PATHS.has(p)) { expected.push(`${r.request().method()} ${p}: 503`); return; }
    problems.push(`${r.request().method()} ${p} answered ${r.status()}${window.outage ? ' (during the outage)' : ''}`);
  });
  page.on('requestfailed', (r) => {
    pending.delete(r);
    const p = new URL(r.url()).pathname;
    const err = r.failure()?.errorText ?? '';
    // the console closes the stream itself (es.close(), an aborted fetch) to connect again or on leaving
    if (p === '/api/signals/stream' && err === 'net::ERR_ABORTED') return;
    if (window.outage && OUTAGE_PATHS.has(p) && OUTAGE_ERRORS.test(err)) { expected.push(`${r.method()} ${p}: ${err}`); return; }
    problems.push(`${r.method()} ${p} failed: ${err}${window.outage ? ' (during the outage)' : ''}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url;
    const p = url ? new URL(url).pathname : '';
    const f = /^Failed to load resource: (?:(net::ERR_[A-Z_]+)|the server responded with a status of (\d+) \(Service Unavailable\))$/.exec(m.text());
    if (window.outage && f && OUTAGE_PATHS.has(p) && (f[1] ? OUTAGE_ERRORS.test(f[1]) : f[2] === '503')) return;
    problems.push(`console: ${m.text()} (${url ?? ''})${window.outage ? ' (during the outage)' : ''}`);
  });
  const quiet = async () => {
    let since = Date.now();
    const end = Date.now() + 15000;
    while (Date.now() - since < 300) {
      assert.ok(Date.now() < end, `requests still in flight: ${[...pending].map((r) => r.url())}`);
      if (pending.size) since = Date.now();
      await sleep(50);
    }
  };
  return { problems, expected, window, quiet };
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent.replace(/\s+/g, ' ').trim());
const fire = (tag, price) => {
  const f = JSON.parse(psql(`SELECT ex7.fire_signal('${U}', '${sid}', 'paper', 'long', 1, ${price}, now(), '${tag}')`));
  assert.equal(f.decision, 'fired', JSON.stringify(f));
  return f.signal.id;
};
// the dashboard whole: the trading status, every panel with its data, the feed Live, no outage notice
const whole = (page, timeout) => page.waitForFunction(() =>
  document.querySelector('[data-testid="trading-status"]')?.textContent.includes('Trading allowed')
    && !document.querySelector('[aria-busy="true"]')
    && document.querySelector('.stream-state')?.textContent.includes('Live')
    && !document.querySelector('.outage'), { timeout, polling: 100 });

test('ex7d stops and starts again under an open dashboard: the outage is shown, then clears, and signals arrive without a reload', async () => {
  const port = await freePort();
  let srv = await ex7dOn(port);
  const page = await browser.newPage();
  try {
    const w = watch(page);
    await page.setViewport({ width: 1440, height: 900 });
    await page.evaluateOnNewDocument((key, t) => sessionStorage.setItem(key, t), TOKEN_KEY, tok);
    await page.goto(`${srv.base}/`, { waitUntil: 'domcontentloaded' });
    await whole(page, 15000);
    await page.evaluate(() => { window.__sameDocument = true; });

    // 1. no event yet: ex7d stops
    await w.quiet();
    w.window.outage = true;
    await srv.stop();
    await page.waitForFunction(() => document.querySelector('.topbar ~ .outage')?.textContent.includes('The server cannot be reached'), { timeout: 15000, polling: 100 });
    assert.match(await text(page, '.topbar ~ .outage'), /^The server cannot be reached\. Retrying…$/);
    await page.waitForSelector('main .outage[role="alert"]', { timeout: 15000 });
    assert.match(await text(page, 'main .outage'), /^The live feed was interrupted/);
    assert.match(await text(page, '.stream-state'), /^Reconnecting…/);
    // the console retries while ex7d is down, and those fail
    await until(() => w.expected.some((e) => /ERR_CONNECTION_REFUSED/.test(e)), 15000, 'a retry refused while ex7d is down');

    // a change no stream event carries, made while ex7d is down
    psql(`UPDATE ex7.risk_limits SET max_trades_per_day = 777777 WHERE user_id = '${U}' AND mode = 'paper'`);
    srv = await ex7dOn(port);
    // the health poll (every 3 s) clears the top bar's notice, the stream's backoff (1 s doubling) brings
    // the feed back, and the panels are read again
    await whole(page, 45000);
    await page.waitForFunction(() => document.querySelector('#risk-h')?.closest('section').textContent.includes('777777'), { timeout: 15000 });
    w.window.outage = false;
    assert.equal(await page.$('.outage'), null, 'no outage notice left');
    const first = fire('recovery-after', 20000.25);
    await page.waitForSelector(`.feed li[data-signal-id="${first}"]`, { timeout: 15000 });
    assert.match(await text(page, `.feed li[data-signal-id="${first}"]`), /MNQ long 1 @ 20000\.25.*recovery-after/);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');

    // 2. after an event: ex7d stops again; a signal fired while it is down arrives once it is back. The
    // event reloaded the panels: the position is in, and their requests are done
    await page.waitForFunction(() => document.querySelector('#portfolio-h')?.closest('section').textContent.includes('20000.25'), { timeout: 15000 });
    await w.quiet();
    w.window.outage = true;
    await srv.stop();
    await page.waitForSelector('main .outage[role="alert"]', { timeout: 15000 });
    assert.match(await text(page, 'main .outage'), /^The live feed was interrupted/);
    assert.match(await text(page, '.stream-state'), /^Reconnecting…/);
    const refused = w.expected.length;
    const missed = fire('recovery-down', 20001.25);
    // a reconnect refused while ex7d is down, so the stream resumes only after it is back
    await until(() => w.expected.slice(refused).some((e) => /stream.*ERR_CONNECTION_REFUSED/.test(e)), 15000, 'a stream reconnect refused while ex7d is down');
    srv = await ex7dOn(port);
    await page.waitForSelector(`.feed li[data-signal-id="${missed}"]`, { timeout: 45000 });
    await whole(page, 15000);
    w.window.outage = false;
    const live = fire('recovery-live', 20002.25);
    await page.waitForSelector(`.feed li[data-signal-id="${live}"]`, { timeout: 15000 });
    const ids = await page.$$eval('.feed li[data-signal-id]', (l) => l.map((e) => e.dataset.signalId));
    assert.deepEqual(ids, [live, missed, first], 'each signal once, newest first');
    // the portfolio panel was reloaded on the events: all three positions are there
    await page.waitForFunction(() => ['20000.25', '20001.25', '20002.25']
      .every((p) => document.querySelector('#portfolio-h')?.closest('section').textContent.includes(p)), { timeout: 15000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');

    await w.quiet();
    await frames(page);
    assert.deepEqual(w.problems, [], 'no console error, failed request or error answer but the outage\'s');
  } finally {
    await page.close();
    await srv.stop();
  }
});
