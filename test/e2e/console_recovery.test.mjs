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
// A third test cuts only the stream's connection, ex7d staying up (a TCP proxy between the browser and ex7d
// drops every connection it carries): the console asks GET /api/health and HEAD on the stream, both
// answer, so no server banner and no health poll; the new EventSource names the last event id
// (?last_event_id=), the dashboard's panels are read again (a limit changed meanwhile, which no event
// carries, shows: the reconnect alone reloaded them), and the 4.41 statement on screen is the stream's
// (the page's GET /api/billing/disclaimer is answered with a stand-in).
// Only what an outage must cause is accepted, and only while ex7d is down or coming back: the requests of
// the health poll, the stream's ticket and the stream itself failing (net::ERR_CONNECTION_REFUSED, and the
// open stream cut by the stop) or answered 503 (what a stopping ex7d answers on a connection still open,
// docs/http.md), with Chromium's "Failed to load resource" console line for each. Before each stop the
// page has no request in flight but its stream, so that no panel's reload meets the stop. Any other
// console error, uncaught exception, failed request or error answer fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
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
  // strategist: the two flows make more requests than the free tier's 30 a minute
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}';
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

// tcpProxy: a TCP proxy on a free port to ex7d's; cut() closes every connection it carries, as a dropped
// network path would, and it goes on accepting new ones
async function tcpProxy(port) {
  const socks = new Set();
  const server = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    socks.add(c); socks.add(u);
    const gone = () => { c.destroy(); u.destroy(); socks.delete(c); socks.delete(u); };
    for (const x of [c, u]) { x.on('error', gone); x.on('close', gone); }
    c.pipe(u); u.pipe(c);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    cut() { for (const x of socks) x.destroy(); },
    close() { for (const x of socks) x.destroy(); return new Promise((r) => server.close(r)); },
  };
}

test('the stream cut with ex7d up: a new EventSource with last_event_id, the panels read again, the stream\'s 4.41 statement', async () => {
  const srv = await ex7dOn(await freePort());
  const proxy = await tcpProxy(srv.port);
  const page = await browser.newPage();
  try {
    const w = watch(page);
    const streams = [];
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/signals/stream' && r.method() === 'GET') streams.push(u);
      if (u.pathname === '/api/billing/disclaimer') {
        r.respond({ status: 200, contentType: 'application/json', body: JSON.stringify({ rule: 'Stand-in rule', text: 'the page stand-in statement' }) });
      } else r.continue();
    });
    await page.setViewport({ width: 1440, height: 900 });
    await page.evaluateOnNewDocument((key, t) => sessionStorage.setItem(key, t), TOKEN_KEY, tok);
    await page.goto(`${proxy.base}/`, { waitUntil: 'domcontentloaded' });
    await whole(page, 15000);
    // the statement on screen is the one the stream sent first (event: compliance)
    await page.waitForFunction(() => /^CFTC Rule 4\.41\(b\)\(1\)\(i\).*HYPOTHETICAL/.test(document.querySelector('.compliance')?.textContent.replace(/\s+/g, ' ').trim() ?? ''), { timeout: 15000 });
    assert.equal(streams.length, 1);
    assert.ok(streams[0].searchParams.get('ticket')?.startsWith('stk_'), 'opened with a ticket');
    assert.equal(streams[0].searchParams.get('last_event_id'), null);

    // an event, so that the reconnect has an id to name
    const before = fire('cut-before', 20003.25);
    await page.waitForSelector(`.feed li[data-signal-id="${before}"]`, { timeout: 15000 });
    const lastId = await page.$eval(`.feed li[data-signal-id="${before}"]`, (e) => e.dataset.eventId);
    await page.waitForFunction(() => document.querySelector('#portfolio-h')?.closest('section').textContent.includes('20003.25'), { timeout: 15000 });
    await w.quiet();
    // a change no stream event carries
    psql(`UPDATE ex7.risk_limits SET max_trades_per_day = 888888 WHERE user_id = '${U}' AND mode = 'paper'`);
    w.window.outage = true;
    proxy.cut();
    await page.waitForSelector('main .outage[role="alert"]', { timeout: 15000 });
    assert.match(await text(page, 'main .outage'), /^The live feed was interrupted: the connection dropped; reconnecting\./);
    await whole(page, 15000);
    w.window.outage = false;
    // the new EventSource named the last id it received; the panels were read again on the reconnect alone
    assert.equal(streams.length, 2);
    assert.equal(streams[1].searchParams.get('last_event_id'), lastId);
    await page.waitForFunction(() => document.querySelector('#risk-h')?.closest('section').textContent.includes('888888'), { timeout: 15000 });
    assert.equal(await page.$('.topbar ~ .outage'), null, 'no server banner: ex7d stayed up');
    assert.ok(!w.expected.some((e) => /\/api\/health/.test(e)), `the health check answered: ${w.expected}`);
    const live = fire('cut-after', 20005.25);
    await page.waitForSelector(`.feed li[data-signal-id="${live}"]`, { timeout: 15000 });
    const ids = await page.$$eval('.feed li[data-signal-id]', (l) => l.map((e) => e.dataset.signalId));
    assert.deepEqual(ids, [live, before], 'each signal once');
    await w.quiet();
    await frames(page);
    assert.deepEqual(w.problems, [], 'no console error, failed request or error answer but the cut stream\'s');
  } finally {
    await page.close();
    await proxy.close();
    await srv.stop();
  }
});
