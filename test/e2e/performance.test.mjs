// test/e2e/performance.test.mjs: the performance area over HTTP (docs/metrics.md, "Performance API"):
// GET /api/performance, GET /api/portfolio, GET /api/dashboard and GET /api/strategies/{id}/performance,
// their status codes, the CFTC 4.41 statement on every payload, 422 locators, 401 without a token, and
// another user's data never shown (BOLA: a foreign strategy is 404, lists hold only the caller's rows).
// The formulas are tested in sql/metrics.sql and sql/performance.sql; this proves the routes reach them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';

let srv, ta, tb;
const A = uid('5b', 1);
const B = uid('5b', 2);
const SA = uid('5b', 101);   // A's strategy "alpha" (MNQ)
const SB = uid('5b', 201);   // B's strategy "theirs" (MNQ)
const BANNER_RULE = 'CFTC Rule 4.41(b)(1)(i)';

// a closed signal priced by ex7.compute_pnl, at fixed times
const closed = (u, s, side, size, entry, close, fired, closedAt, tag = null) => `
  INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price,
                           bar_ts, fired_at, status, close_reason, close_price, closed_at, pnl_points, pnl_ticks,
                           gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl, tag)
  SELECT '${u}', '${s}', 1, 'MNQ', '5m', 'paper', '${side}', ${size}, ${entry}, ${fired}, ${fired}, 'closed',
         'exit_signal', ${close}, ${closedAt}, p.points, p.ticks, p.gross_pnl, p.slippage_ticks, p.slippage_cost,
         p.commission, p.net_pnl, ${tag ? `'${tag}'` : 'NULL'}
    FROM ex7.compute_pnl('MNQ', '${side}', ${size}, ${entry}, ${close}) p;`;

before(async () => {
  ensureDb();
  for (const u of [A, B]) psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  psql(`INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, status) VALUES
          ('${SA}', '${A}', 'alpha', 'MNQ', '5m', 'e1', 'live'), ('${SB}', '${B}', 'theirs', 'MNQ', '5m', 'e2', 'live');
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
          ('${SA}', 1, '${A}', '{}'), ('${SB}', 1, '${B}', '{}');`);
  // A: +17.26 (41 ticks long), -23.24 (-40 ticks long) on 2026-03-02/03, and +17.26 closed just now (today)
  psql(closed(A, SA, 'long', 1, '18000.00', '18010.25', "'2026-03-02 14:00+00'", "'2026-03-02 14:30+00'", 'orb'));
  psql(closed(A, SA, 'long', 1, '18000.00', '17990.00', "'2026-03-03 14:00+00'", "'2026-03-03 15:00+00'", 'orb'));
  psql(closed(A, SA, 'long', 1, '18000.00', '18010.25', "now() - interval '2 minutes'", 'now()'));
  // one open position of A; B: one big win that A must never see
  psql(`INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                                 entry_price, bar_ts, fired_at)
        VALUES ('${A}', '${SA}', 1, 'MNQ', '5m', 'paper', 'short', 1, 18000.00, now(), now())`);
  psql(closed(B, SB, 'long', 1, '18000.00', '18100.00', "'2026-03-02 14:00+00'", "'2026-03-02 15:00+00'"));
  srv = await startEx7d();
  ta = await token(A);
  tb = await token(B);
});
after(async () => { await srv.stop(); });

test('every performance route needs a token (401)', async () => {
  for (const p of ['/api/performance', '/api/portfolio', '/api/dashboard', `/api/strategies/${SA}/performance`]) {
    const r = await api(srv, 'GET', p);
    assert.equal(r.status, 401, `${p}: ${r.text}`);
  }
});

test('GET /api/performance: the caller\'s strategies only, backtest beside paper and live stats, with the 4.41 statement', async () => {
  let r = await api(srv, 'GET', '/api/performance', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.disclaimer.rule, BANNER_RULE);
  assert.match(r.body.disclaimer.text, /^HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS/);
  assert.deepEqual(r.body.strategies.map((s) => s.name), ['alpha']);
  const s = r.body.strategies[0];
  assert.equal(s.live.paper.trades, 3);
  assert.equal(s.live.paper.net_pnl, '11.28');            // 17.26 - 23.24 + 17.26
  assert.equal(s.live.live.trades, 0);
  assert.equal(s.live.paper.breakdowns, undefined, 'the overview leaves the breakdowns to the per-strategy route');
  assert.ok('backtest' in s);
  r = await api(srv, 'GET', '/api/performance', { tok: tb });
  assert.deepEqual(r.body.strategies.map((x) => [x.name, x.live.paper.net_pnl]), [['theirs', '196.76']]);
});

test('GET /api/portfolio: today, cumulative and open positions per mode; mode checked', async () => {
  let r = await api(srv, 'GET', '/api/portfolio', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.mode, 'paper');
  assert.equal(r.body.today.closed, 1);
  assert.equal(r.body.today.realized_pnl, '17.26');
  assert.equal(r.body.today.signals_taken, 2);         // the one closed now and the open one
  assert.equal(r.body.cumulative.realized_pnl, '11.28');
  assert.equal(r.body.cumulative.win_rate, 0.666667);
  assert.equal(r.body.open_positions, 1);
  assert.equal(r.body.positions[0].side, 'short');
  assert.equal(r.body.disclaimer.rule, BANNER_RULE);
  r = await api(srv, 'GET', '/api/portfolio?mode=live', { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.cumulative.closed, 0);
  r = await api(srv, 'GET', '/api/portfolio?mode=demo', { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'mode']);
  r = await api(srv, 'GET', '/api/portfolio', { tok: tb });
  assert.equal(r.body.open_positions, 0, 'B does not see A\'s open position');
  assert.equal(r.body.cumulative.realized_pnl, '196.76');
});

test('GET /api/dashboard: every strategy with totals', async () => {
  const r = await api(srv, 'GET', '/api/dashboard', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.strategies.length, 1);
  const s = r.body.strategies[0];
  assert.deepEqual([s.strategy_id, s.name, s.instrument, s.pnl, s.trade_count, s.open_positions, s.error_count],
    [SA, 'alpha', 'MNQ', '11.28', 3, 1, 0]);
  assert.deepEqual({ ...r.body.aggregate }, {
    strategies: 1, total_pnl: '11.28', total_pnl_percent: 0.1128, total_trades: 3, win_rate: 0.666667,
    running_strategies: 0, error_strategies: 0, total_errors: 0, total_open_positions: 1,
  });
  assert.equal(r.body.disclaimer.rule, BANNER_RULE);
  const bad = await api(srv, 'GET', '/api/dashboard?mode=x', { tok: ta });
  assert.equal(bad.status, 422);
});

test('GET /api/strategies/{id}/performance: metrics, curve and range; a foreign strategy is 404; bad input 422', async () => {
  let r = await api(srv, 'GET', `/api/strategies/${SA}/performance`, { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.total_trades, 3);
  assert.equal(r.body.pnl, '11.28');
  assert.equal(r.body.metrics.breakdowns.by_tag[0].key, 'orb');
  assert.equal(r.body.equity_curve[0].equity, '10000.00');
  assert.equal(r.body.equity_curve.at(-1).equity, '10011.28');
  assert.equal(r.body.disclaimer.rule, BANNER_RULE);

  r = await api(srv, 'GET', `/api/strategies/${SA}/performance?from=2026-03-03T00:00:00Z&to=2026-03-04T00:00:00Z`, { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.total_trades, 1);
  assert.equal(r.body.pnl, '-23.24');
  assert.equal(r.body.max_drawdown, '23.24');

  r = await api(srv, 'GET', `/api/strategies/${SB}/performance`, { tok: ta });
  assert.equal(r.status, 404, 'another user\'s strategy is a 404, never a leak');
  r = await api(srv, 'GET', `/api/strategies/${SA}/performance`, { tok: tb });
  assert.equal(r.status, 404);
  r = await api(srv, 'GET', `/api/strategies/${uid('5b', 999)}/performance`, { tok: ta });
  assert.equal(r.status, 404);

  r = await api(srv, 'GET', `/api/strategies/${SA}/performance?from=2026-03-04T00:00:00Z&to=2026-03-03T00:00:00Z`, { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'to']);
  r = await api(srv, 'GET', `/api/strategies/${SA}/performance?from=yesterday-ish`, { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'from']);
  r = await api(srv, 'GET', '/api/strategies/not-a-uuid/performance', { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'strategy_id']);
});

test('the equity picture of a strategy\'s curve is well-formed SVG with the statement under it', async () => {
  const r = await api(srv, 'GET', `/api/strategies/${SA}/performance`, { tok: ta });
  const curve = JSON.stringify(r.body.equity_curve).replaceAll("'", "''");
  const svg = psql(`SELECT ex7.equity_svg('${curve}', 'alpha <paper>')`);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.doesNotMatch(svg, /<script|href=|url\(/i);
  assert.match(svg, /<title>alpha &lt;paper&gt;<\/title>/);
  assert.match(svg, /CFTC Rule 4\.41\(b\)\(1\)\(i\)/);
  // a small well-formedness check: every element closes in order
  const stack = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') assert.equal(stack.pop(), m[2]);
    else stack.push(m[2]);
  }
  assert.deepEqual(stack, []);
  assert.equal(psql(`SELECT xmlparse(document ex7.equity_svg('${curve}', 'alpha')) IS DOCUMENT`), 't');
});
