// test/e2e/backtests.test.mjs: backtests and the Judge over HTTP (docs/backtests.md): POST
// /api/strategies/{id}/backtest (201, done inline or queued for a background worker), GET /api/backtests/{id}
// with trades, equity and metrics, the list, the equity SVG (image/svg+xml with the CFTC Rule 4.41 statement),
// GET/POST /api/strategies/{id}/validation and the 409 validation_failed of a refused promotion; another user's
// backtest or strategy is 404 on every route. The rules themselves are in sql/backtest.sql and sql/judge.sql.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';

let srv, tokA, tokB;
const A = uid('5a', 1);
const B = uid('5a', 2);
const RANGE = { from: '2026-03-02T00:00:00Z', to: '2026-03-06T22:00:00Z' };
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

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); SELECT ex7.ensure_user('${B}');
        UPDATE ex7.users SET tier = 'strategist' WHERE id IN ('${A}', '${B}')`);
  // GC 30m (tick 0.10): a scripted walk over the Globex week, no bar in the daily break
  psql(`INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                     FROM generate_series(timestamptz '2026-03-02 00:30+00', '2026-03-06 21:30+00', interval '30 minutes') ts
                    WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
             s AS (SELECT g, ts, ((g * 7919) % 11 - 5) + CASE WHEN (g / 20) % 2 = 0 THEN 2 ELSE -2 END AS step FROM t),
             c AS (SELECT g, ts, 2900 + 0.10 * sum(step) OVER (ORDER BY g) AS c FROM s),
             o AS (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o FROM c)
        SELECT 'GC', '30m', ts, o, greatest(o, c) + 0.10 * (g % 4), least(o, c) - 0.10 * (g % 3), c, 10 FROM o
        ON CONFLICT DO NOTHING;
        -- a direct write: the blocks the backtest reads follow by a sync (docs/market.md, "Bar blocks")
        SELECT ex7._bar_blocks_sync('GC', '30m', '2026-03-02 00:30+00', '2026-03-06 21:30+00')`);
  srv = await startEx7d();
  tokA = await token(A);
  tokB = await token(B);
});
after(async () => {
  psql(`SELECT ex7.set_validation_policy('{"window_days": 90, "min_trades": null, "max_drawdown": null,
        "min_profit_factor": null, "min_net_pnl": null, "min_win_rate": null}')`);
  await srv?.stop();		// (none when before() failed)
});

async function strategy(tok, name) {
  const r = await api(srv, 'POST', '/api/strategies', { tok, body: { name, instrument: 'GC', timeframe: '30m', graph: GRAPH } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

test('POST /api/strategies/{id}/backtest: 201 with the finished backtest; GET it with trades, equity, metrics and the 4.41 statement', async () => {
  const sid = await strategy(tokA, 'Backtested');
  let r = await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body: RANGE });
  assert.equal(r.status, 201, r.text);
  const bt = r.body;
  assert.equal(bt.status, 'done');
  assert.equal(bt.strategy_id, sid);
  assert.equal(bt.strategy_version, 1);
  assert.equal(bt.progress.percent, 100);
  assert.ok(bt.result.bars > 100, 'the week of bars');
  assert.ok(bt.trades.length > 0, 'the walk crosses');
  assert.equal(bt.trades.length, bt.result.trades);
  const t = bt.trades[0];
  for (const k of ['entry_time', 'exit_time', 'side', 'quantity', 'entry_price', 'exit_price', 'pnl', 'mae', 'mfe', 'tag'])
    assert.ok(k in t, `trade field ${k}`);
  assert.equal(typeof t.pnl, 'string', 'money as decimal strings');
  assert.ok(bt.equity.length > 0 && typeof bt.equity[0].equity === 'string');
  assert.equal(typeof bt.metrics, 'object');
  assert.deepEqual(bt.compliance, JSON.parse(psql('SELECT ex7.compliance_banner()')));
  assert.match(bt.compliance.text, /^HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS/);

  r = await api(srv, 'GET', `/api/backtests/${bt.id}`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.trades, bt.trades, 'stored as answered');
  assert.deepEqual(r.body.equity, bt.equity);

  // the same input gives the same output
  r = await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body: RANGE });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body.trades, bt.trades, 'deterministic');
  assert.deepEqual(r.body.equity, bt.equity);

  r = await api(srv, 'GET', `/api/strategies/${sid}/backtests?limit=1`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.items.length, 1);
  assert.equal(r.body.items[0].id, r.body.items[0].id);
  assert.ok(r.body.next_cursor);
  assert.ok(r.body.compliance);
  const second = await api(srv, 'GET', `/api/strategies/${sid}/backtests?limit=1&cursor=${encodeURIComponent(r.body.next_cursor)}`, { tok: tokA });
  assert.equal(second.status, 200);
  assert.equal(second.body.items[0].id, bt.id, 'newest first');
  assert.equal(second.body.next_cursor, null);
  r = await api(srv, 'GET', `/api/strategies/${sid}/backtests?cursor=nonsense`, { tok: tokA });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'cursor']);
});

test('GET /api/backtests/{id}/equity.svg: an SVG picture with the 4.41 statement under the chart', async () => {
  const sid = await strategy(tokA, 'Pictured');
  const bt = (await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body: RANGE })).body;
  const r = await api(srv, 'GET', `/api/backtests/${bt.id}/equity.svg`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  assert.match(r.text, /^<svg/);
  assert.match(r.text, /HYPOTHETICAL OR SIMULATED/);
  assert.match(r.text, /CFTC Rule 4\.41/);
});

test('body checks: 422 with the field locator', async () => {
  const sid = await strategy(tokA, 'Checked');
  for (const [body, loc] of [[{}, ['body', 'from']], [{ from: RANGE.from }, ['body', 'to']],
    [{ ...RANGE, to: '2026-03-01T00:00:00Z' }, ['body', 'to']], [{ ...RANGE, evaluation: 'quick' }, ['body', 'evaluation']],
    [{ ...RANGE, risk_gate: 'yes' }, ['body', 'risk_gate']], [{ ...RANGE, colour: 'red' }, ['body', 'colour']],
    [{ ...RANGE, initial_capital: '-1' }, ['body', 'initial_capital']]]) {
    const r = await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body });
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.body.detail[0].loc, loc);
  }
  let r = await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body: { ...RANGE, version: 7 } });
  assert.equal(r.status, 404);
  r = await api(srv, 'POST', '/api/strategies/not-a-uuid/backtest', { tok: tokA, body: RANGE });
  assert.equal(r.status, 422);
  r = await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { body: RANGE });
  assert.equal(r.status, 401);
});

test('BOLA: another user\'s strategy and backtest are 404 on every route', async () => {
  const sid = await strategy(tokA, 'Private');
  const bt = (await api(srv, 'POST', `/api/strategies/${sid}/backtest`, { tok: tokA, body: RANGE })).body;
  const routes = [['POST', `/api/strategies/${sid}/backtest`, RANGE], ['GET', `/api/strategies/${sid}/backtests`],
    ['GET', `/api/backtests/${bt.id}`], ['GET', `/api/backtests/${bt.id}/equity.svg`],
    ['GET', `/api/strategies/${sid}/validation`], ['POST', `/api/strategies/${sid}/validation`]];
  for (const [method, p, body] of routes) {
    const r = await api(srv, method, p, { tok: tokB, body });
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    assert.match(r.headers.get('content-type'), /application\/json/, 'an error is JSON, also on the SVG route');
  }
  const r = await api(srv, 'GET', `/api/backtests/${crypto.randomUUID()}`, { tok: tokA });
  assert.equal(r.status, 404);
});

test('the Judge: promotion refused with 409 validation_failed listing each failed criterion; GET/POST validation', async () => {
  const sid = await strategy(tokA, 'Judged');
  let r = await api(srv, 'POST', `/api/strategies/${sid}/promote`, { tok: tokA });
  assert.equal(r.body.status, 'ready');
  r = await api(srv, 'GET', `/api/strategies/${sid}/validation`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.latest, null);
  assert.equal(r.body.policy.min_trades, null, 'criteria off until the operator sets them');

  psql(`SELECT ex7.set_validation_policy('{"window_days": 30, "min_trades": 100000, "min_net_pnl": "1000000"}')`);
  r = await api(srv, 'GET', '/api/validation/policy', { tok: tokA });
  assert.equal(r.status, 200);
  assert.equal(r.body.min_trades, 100000);
  r = await api(srv, 'POST', `/api/strategies/${sid}/promote`, { tok: tokA });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'validation_failed');
  assert.deepEqual(r.body.detail.failed.map((f) => f.criterion), ['min_trades', 'min_net_pnl']);
  assert.equal(r.body.detail.failed[0].required, 100000);
  assert.equal(typeof r.body.detail.failed[0].observed, 'number');
  assert.equal(r.body.detail.failed[1].required, '1000000');
  assert.equal(r.body.detail.validation.passed, false);
  r = await api(srv, 'GET', `/api/strategies/${sid}`, { tok: tokA });
  assert.equal(r.body.status, 'ready', 'not promoted');

  r = await api(srv, 'POST', `/api/strategies/${sid}/validation`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.passed, false);
  assert.equal(r.body.trigger, 'request');
  r = await api(srv, 'GET', `/api/strategies/${sid}/validation`, { tok: tokA });
  assert.equal(r.body.latest.passed, false);
  assert.ok(r.body.compliance);
  const backtest = await api(srv, 'GET', `/api/backtests/${r.body.latest.backtest_id}`, { tok: tokA });
  assert.equal(backtest.status, 200);
  assert.equal(backtest.body.purpose, 'validation');

  psql(`SELECT ex7.set_validation_policy('{"min_trades": 1, "min_net_pnl": null}')`);
  r = await api(srv, 'POST', `/api/strategies/${sid}/promote`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'live');
  r = await api(srv, 'GET', `/api/strategies/${sid}/validation`, { tok: tokA });
  assert.equal(r.body.latest.passed, true);
  assert.equal(r.body.latest.trigger, 'promotion');
});
