// test/e2e/console_backtests.test.mjs: the web console's signal page and backtest screens (docs/console.md)
// in headless Chromium driven by puppeteer-core, from a real ex7d (EX7_WEB_DIR=web/) under its
// Content-Security-Policy. Flows: a paper signal fired through SQL, opened from the signals list, closed from
// its page (a price outside the band refused in place with the 422's message, a close without a price
// refused with the 409 no_mark_price, then closed at a price) and its P&L breakdown; a backtest of a
// strategy run from /backtests/new, its metrics, the uPlot equity and drawdown chart drawn on its canvases
// and the trades table; a background backtest (over the inline limit) whose progress the page polls until
// it is done. uPlot is loaded only by the backtest screen. axe-core finds no serious or critical violation
// on these screens; screenshots at 375 and 1440 px go to results/console/ (EX7_E2E_OUT elsewhere). A
// console error, an uncaught exception, a failed request or an unexpected error answer fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until, DB } from './lib.mjs';
import { WEB, launch, signedIn, screen, text } from './console_lib.mjs';

const U = uid('cb', 1);
let srv, browser, tok, sigStrategy;

// the SMA crossover of test/e2e/backtests.test.mjs, with stops and targets
const GRAPH = {
  nodes: [{ id: 'c', type: 'close' }, { id: 'f', type: 'sma', params: { period: 3 } }, { id: 's', type: 'sma', params: { period: 8 } },
    { id: 'up', type: 'crosses_above' }, { id: 'dn', type: 'crosses_below' },
    { id: 'long', type: 'enter_long', params: { size: 1 } }, { id: 'short', type: 'enter_short', params: { size: 1 } },
    { id: 'ls', type: 'stop_loss_ticks', params: { ticks: 20 } }, { id: 'lt', type: 'take_profit_ticks', params: { ticks: 40 } },
    { id: 'ss', type: 'stop_loss_ticks', params: { ticks: 20 } }],
  edges: [{ from: 'c', to: 'f' }, { from: 'c', to: 's' }, { from: 'f', to: 'up', port: 'a' }, { from: 's', to: 'up', port: 'b' },
    { from: 'f', to: 'dn', port: 'a' }, { from: 's', to: 'dn', port: 'b' }, { from: 'up', to: 'long' }, { from: 'dn', to: 'short' },
    { from: 'long', to: 'ls' }, { from: 'long', to: 'lt' }, { from: 'short', to: 'ss' }],
  meta: {},
};

// bars: a scripted walk of GC (tick 0.10) over [from, to) every `step`, no bar in the daily break
function storeBars(tf, from, to, step) {
  psql(`INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                     FROM generate_series(timestamptz '${from}', timestamptz '${to}', interval '${step}') ts
                    WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
             s AS (SELECT g, ts, ((g * 7919) % 11 - 5) + CASE WHEN (g / 20) % 2 = 0 THEN 2 ELSE -2 END AS step FROM t),
             c AS (SELECT g, ts, 2900 + 0.10 * sum(step) OVER (ORDER BY g) AS c FROM s),
             o AS (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o FROM c)
        SELECT 'GC', '${tf}', ts, o, greatest(o, c) + 0.10 * (g % 4), least(o, c) - 0.10 * (g % 3), c, 10 FROM o
        ON CONFLICT DO NOTHING;
        SELECT ex7._bar_blocks_sync('GC', '${tf}', '${from}', '${to}')`);
}

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}';
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${U}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(U); // a close answers 412 until the compliance documents are accepted
  // CL: no test stores its bars, so a close without a price finds no mark (409) and the band is the
  // entry price's
  sigStrategy = psql(`WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
      VALUES ('${U}', 'console-cl', 'CL', '5m', 'e2e') RETURNING id, user_id),
    v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s)
    SELECT id FROM s`);
  // GC 30m over a week (an inline backtest) and GC 1m over three weeks (more bars than a backtest runs inline)
  storeBars('30m', '2026-03-02 00:30+00', '2026-03-06 21:30+00', '30 minutes');
  storeBars('1m', '2026-02-02 00:01+00', '2026-02-23 00:00+00', '1 minute');
  tok = await token(U);
  [srv, browser] = await Promise.all([startEx7d({ EX7_WEB_DIR: WEB }), launch()]);
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

// signedInPage: a page whose tab holds the token (as the sign-in screen leaves it), watching for problems
// and listing the paths it requested
async function signedInPage(allow) {
  const w = await signedIn(browser, srv.base, tok, { path: null, allow });
  const requests = [];
  w.page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  return { ...w, requests };
}

// the DD values of a <dl class="stats"> by their DT
const facts = (page, sel) => page.$eval(sel, (dl) => Object.fromEntries([...dl.querySelectorAll('.stat')]
  .map((s) => [s.querySelector('dt').textContent.trim(), s.querySelector('dd').textContent.replace(/\s+/g, ' ').trim()])));

test('a signal\'s page: opened from the list, the close refused in place (422 band, 409 no mark), closed at a price, the P&L breakdown', async () => {
  const fired = JSON.parse(psql(`SELECT ex7.fire_signal('${U}', '${sigStrategy}', 'paper', 'long', 1, 70.00, now(), 'console-close')`));
  assert.equal(fired.decision, 'fired', JSON.stringify(fired));
  const id = fired.signal.id;
  const closePath = `/api/signals/${id}/close`;
  const { page, problems, settle, requests } = await signedInPage((m, p, s) => p === closePath && (m ?? 'POST') === 'POST' && (s === 422 || s === 409));

  await page.goto(`${srv.base}/signals`, { waitUntil: 'load' });
  await page.waitForSelector(`a[href="/signals/${id}"]`);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click(`a[href="/signals/${id}"]`);
  await page.waitForSelector('#signal-h');
  assert.equal(new URL(page.url()).pathname, `/signals/${id}`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'through the router, no reload');
  assert.match(await text(page, '#signal-h'), /^CL long 1 @ 70\.00$/);
  assert.match(await text(page, '[data-testid="signal-pnl"]'), /Open: the P&L is realized when the signal closes/);
  assert.equal(await page.evaluate(() => document.title), 'Signal · ex7 console');
  await screen(page, 'signal-open');

  // a price far from the market: the 422's message in place, on the field
  await page.type('#signal-close-price', '200.00');
  await page.click('.close-form button[type="submit"]');
  await page.waitForSelector('#signal-close-error');
  assert.match(await text(page, '#signal-close-error'), /close_price: close_price must be between \d+\.\d+ and \d+\.\d+/);
  assert.equal(await page.$eval('#signal-close-price', (e) => e.getAttribute('aria-invalid')), 'true');

  // no price: the server closes at the mark, and CL has no bar: the 409 in words
  await page.$eval('#signal-close-price', (e) => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('.close-form button[type="submit"]');
  await page.waitForFunction(() => /No recent price for CL/.test(document.querySelector('#signal-close-error')?.textContent ?? ''));
  assert.match(await text(page, '#signal-close-error'), /enter the close price/);
  assert.equal(await page.$eval('#signal-close-price', (e) => e.getAttribute('aria-invalid')), null, 'not the field\'s fault');
  assert.equal((await api(srv, 'GET', `/api/signals/${id}`, { tok })).body.status, 'open', 'still open');

  // a price in the band: closed, the P&L breakdown appears where the form was
  await page.type('#signal-close-price', '70.50');
  await page.click('.close-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="signal-pnl"] .stats.pnl'), { timeout: 15000 });
  assert.equal(await page.$('.close-form'), null, 'no close form on a closed signal');
  const stored = (await api(srv, 'GET', `/api/signals/${id}`, { tok })).body;
  assert.equal(stored.status, 'cancelled');
  assert.equal(stored.close_price, '70.50');
  const f = await facts(page, '[data-testid="signal-pnl"] .stats.pnl');
  assert.equal(f['Gross P&L'], `+$${Number(stored.gross_pnl).toFixed(2)}`);
  assert.equal(f['Commission'], `−$${Number(stored.commission).toFixed(2)}`);
  assert.equal(f[`Slippage (${stored.slippage_ticks} ticks)`], `−$${Number(stored.slippage_cost).toFixed(2)}`);
  assert.equal(f['Net P&L'], `${Number(stored.net_pnl) < 0 ? '−' : '+'}$${Math.abs(Number(stored.net_pnl)).toFixed(2)}`);
  assert.equal(f['Ticks'], '50');
  assert.equal(f['Points'], stored.pnl_points);
  assert.equal(Number(stored.pnl_points), 0.5);
  assert.match(await text(page, '[data-testid="signal-pnl"]'), /Closed .* at 70\.50 \(the price you entered\)/);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'signal-pnl', 'focus on the result');
  assert.match(await text(page, '#main .stats'), /Status\s*cancelled \(user\)/);
  await screen(page, 'signal-closed');

  assert.ok(!requests.some((p) => /\/vendor\/uplot\./.test(p)), 'uPlot is not loaded outside the backtest screens');
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});

test('a backtest from /backtests/new: metrics, the uPlot equity and drawdown chart drawn, the trades table', async () => {
  const s = await api(srv, 'POST', '/api/strategies', { tok, body: { name: 'console-gc-30m', instrument: 'GC', timeframe: '30m', graph: GRAPH } });
  assert.equal(s.status, 201, s.text);
  const sid = s.body.id;
  const { page, problems, settle, requests } = await signedInPage();
  const cssAnswers = [];
  page.on('response', (r) => { if (/\/vendor\/uplot\.[0-9a-f]+\.css$/.test(r.url())) cssAnswers.push(r.headers()['content-type']); });

  await page.goto(`${srv.base}/backtests/new?strategy=${sid}`, { waitUntil: 'load' });
  await page.waitForFunction((id) => document.querySelector('#backtest-strategy')?.value === id
    && !document.querySelector('#backtest-strategy').disabled, {}, sid);
  assert.match(await page.$eval('#backtest-strategy', (e) => e.selectedOptions[0].textContent), /console-gc-30m \(GC 30m, draft\)/);
  await screen(page, 'backtest-new');
  assert.ok(!requests.some((p) => /\/vendor\/uplot\./.test(p)), 'uPlot waits for a chart');

  // the week of bars: Monday to Friday, inclusive
  const setDate = (sel, v) => page.$eval(sel, (e, x) => { e.value = x; e.dispatchEvent(new Event('input', { bubbles: true })); }, v);
  await setDate('#backtest-from', '2026-03-02');
  await setDate('#backtest-to', '2026-03-06');
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/strategies/${sid}/backtest`);
  await page.click('.backtest-form button[type="submit"]');
  const answer = await posted;
  assert.equal(answer.status(), 201);
  const body = JSON.parse(answer.request().postData());
  assert.deepEqual({ from: body.from, to: body.to }, { from: '2026-03-02T00:00:00Z', to: '2026-03-07T00:00:00Z' });
  const bt = await answer.json();
  assert.equal(bt.status, 'done', 'a week of 30m bars runs inline');

  await page.waitForFunction((id) => location.pathname === `/backtests/${id}`, {}, bt.id);
  await page.waitForSelector('.backtest-status[data-status="done"]');
  await page.waitForSelector('.chart[data-state="drawn"]', { timeout: 15000 });
  assert.equal(await page.evaluate(() => document.title), 'Backtest · ex7 console');
  assert.match(await text(page, '#backtest-h'), /Backtest: GC 30m, version 1/);

  // the metrics, as the API computed them
  const full = (await api(srv, 'GET', `/api/backtests/${bt.id}`, { tok })).body;
  const m = await facts(page, '#backtest-metrics-h + .stats');
  assert.match(m['Trades'], new RegExp(`^${full.metrics.trades} \\(${full.metrics.winning_trades} won, ${full.metrics.losing_trades} lost\\)$`));
  assert.ok(m['Net P&L'].startsWith(`${Number(full.metrics.net_pnl) < 0 ? '−' : Number(full.metrics.net_pnl) > 0 ? '+' : ''}$${Math.abs(Number(full.metrics.net_pnl)).toLocaleString('en-US', { minimumFractionDigits: 2 })}`), m['Net P&L']);
  assert.equal(m['Max drawdown (every bar)'], `$${Number(full.result.max_drawdown).toLocaleString('en-US', { minimumFractionDigits: 2 })}`);

  // uPlot: the vendored module and its stylesheet (a file, text/css) were loaded by this screen; both
  // charts drew on their canvases
  assert.ok(requests.some((p) => /^\/assets\/vendor\/uplot\.[0-9a-f]{10}\.js$/.test(p)), 'uPlot loaded');
  assert.deepEqual(cssAnswers.map((c) => c.split(';')[0]), ['text/css']);
  const painted = await page.$$eval('.chart-box canvas', (cs) => cs.map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return { w: c.width, h: c.height, n };
  }));
  assert.equal(painted.length, 2, 'the equity and the drawdown charts');
  for (const p of painted) assert.ok(p.w > 200 && p.h > 100 && p.n > 500, `a drawn canvas: ${JSON.stringify(p)}`);
  // interactive: the cursor over the equity chart shows the value under it in the legend
  const over = await page.$('.chart-equity .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => /\$\d/.test(document.querySelector('.chart-equity .u-legend .u-series:nth-child(2) .u-value')?.textContent ?? ''));
  await page.waitForFunction(() => /UTC/.test(document.querySelector('.chart-drawdown .u-legend .u-series:first-child .u-value')?.textContent ?? ''),
    {}, 'the drawdown chart follows the cursor');
  await page.mouse.move(0, 0);
  assert.match(await text(page, '#chart-caption'), /^Equity from \$10,000\.00 on 2026-03-02 00:00 UTC to \$[\d,.]+ on .*deepest drawdown/);
  assert.match(await text(page, '#backtest-chart-h + .chart + p'), /CFTC Rule 4\.41\(b\)\(1\)\(i\): HYPOTHETICAL/);

  // the trades table
  assert.ok(full.trades.length > 0);
  assert.equal(await text(page, '#backtest-trades-h'), `Trades (${full.trades.length})`);
  const rows = await page.$$eval('table.trades tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
  assert.equal(rows.length, Math.min(100, full.trades.length));
  const t0 = full.trades[0];
  assert.deepEqual([rows[0][0], rows[0][1], rows[0][4], rows[0][6], rows[0][7]],
    [String(t0.seq ?? 1), t0.side, t0.entry_price, t0.exit_price, t0.exit_reason.replace(/_/g, ' ')]);

  await screen(page, 'backtest');

  // the strategy's backtests list the run on /backtests/new
  await page.click('a::-p-text(Run another)');
  await page.waitForSelector(`.backtest-list a[href="/backtests/${bt.id}"]`);
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});

// holdLock: a psql session holding `sql` (a lock) in an open transaction until release()
function holdLock(sql) {
  const p = spawn('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', DB], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => { out += d; if (out.includes('locked')) resolve(); });
    p.on('exit', (code) => reject(new Error(`psql exited with ${code} before the lock`)));
  });
  p.stdin.write(`BEGIN; ${sql}; SELECT 'locked';\n`);
  let released = null;
  const release = () => {
    released ??= new Promise((resolve) => { if (p.exitCode !== null) resolve(); else { p.on('exit', resolve); p.stdin.end('COMMIT;\n'); } });
    return released;
  };
  return { ready, release };
}

test('a background backtest: queued, its progress polled on the page while it runs, then the result', async () => {
  const s = await api(srv, 'POST', '/api/strategies', { tok, body: { name: 'console-gc-1m', instrument: 'GC', timeframe: '1m', graph: GRAPH } });
  assert.equal(s.status, 201, s.text);
  const sid = s.body.id;
  const { page, problems, settle } = await signedInPage();
  const polls = [];
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (r.request().method() === 'GET' && /^\/api\/backtests\/[0-9a-f-]+$/.test(u.pathname) && r.ok()) {
      try { polls.push((await r.json()).status); } catch { /* the page went on */ }
    }
  });
  await page.goto(`${srv.base}/backtests/new?strategy=${sid}`, { waitUntil: 'load' });
  await page.waitForFunction((id) => document.querySelector('#backtest-strategy')?.value === id, {}, sid);
  const setDate = (sel, v) => page.$eval(sel, (e, x) => { e.value = x; e.dispatchEvent(new Event('input', { bubbles: true })); }, v);
  await setDate('#backtest-from', '2026-02-02');
  await setDate('#backtest-to', '2026-02-21');
  await page.select('#backtest-evaluation', 'fast');

  // the worker cannot store its results while this session holds the results' tables: the run stays
  // queued or running, whatever the machine's speed, until the lock goes
  const lock = holdLock('LOCK TABLE ex7.backtest_trade_chunks, ex7.backtest_equity_chunks IN SHARE MODE');
  try {
    await lock.ready;
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/strategies/${sid}/backtest`);
    await page.click('.backtest-form button[type="submit"]');
    const answer = await posted;
    assert.equal(answer.status(), 201);
    const bt = await answer.json();
    assert.equal(bt.status, 'queued', 'over the inline limit: a background run');
    assert.ok(bt.progress.bars_total > 20000, JSON.stringify(bt.progress));
    await page.waitForFunction((id) => location.pathname === `/backtests/${id}`, {}, bt.id);
    await page.waitForSelector('.backtest-status[data-status="queued"] progress, .backtest-status[data-status="running"] progress');
    assert.match(await text(page, '.backtest-status'), /^(Queued|Running): [\d.]+ %( \([\d,]+ of [\d,]+ bars\))?/);
    await screen(page, 'backtest-running');
    // the page asks again while it runs
    const seen = polls.length;
    await until(() => polls.length > seen, 10000, 'the page to ask for the progress again');
    assert.ok(polls.every((x) => x === 'queued' || x === 'running'), polls.join(' '));
  } finally {
    await lock.release();
  }
  await page.waitForSelector('.backtest-status[data-status="done"]', { timeout: 60000 });
  await page.waitForSelector('.chart[data-state="drawn"]', { timeout: 15000 });
  assert.ok(polls.length >= 2 && polls.slice(0, -1).every((x) => x === 'queued' || x === 'running') && polls.at(-1) === 'done', polls.join(' '));
  const trades = await page.$$eval('table.trades tbody tr', (trs) => trs.length);
  const total = Number(/\((\d+)\)/.exec(await text(page, '#backtest-trades-h'))[1]);
  assert.equal(trades, Math.min(100, total));
  if (total > 100) {
    await page.click('button::-p-text(more of)');
    await page.waitForFunction((n) => document.querySelectorAll('table.trades tbody tr').length === n, {}, Math.min(200, total));
  }
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});
