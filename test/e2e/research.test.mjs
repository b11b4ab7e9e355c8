// test/e2e/research.test.mjs: the research statistics over HTTP (docs/research.md): POST
// /api/backtests/{id}/monte-carlo on a real backtest (a shuffle keeps the backtest's final equity; the same
// seed gives the same answer), GET /api/backtests/{id}/monte-carlo.svg parsed as XML (bands, median, the
// CFTC Rule 4.41 statement in full), the heatmap and walk-forward pictures of the SQL API parsed the same
// way, and the refusals: 404 for another user's backtest, 409 while it runs, 422 with the locator.
// The statistics themselves are checked in sql/research_stats.sql and sql/monte_carlo.sql.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';

let srv, tokA, tokB, bt;
const A = uid('9d', 1);
const B = uid('9d', 2);
const RANGE = { from: '2026-03-02T00:00:00Z', to: '2026-03-06T22:00:00Z' };
// SMA(3) / SMA(8) crossovers both ways with a stop and a target: many trades over the week (as backtests.test.mjs)
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

// an SVG document: well-formed XML (the validator's answer is true or the error), parsed with attributes
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', textNodeName: '#text', isArray: (name, jpath, isLeaf, isAttribute) => !isAttribute });
function svgDoc(text) {
  const valid = XMLValidator.validate(text);
  assert.equal(valid, true, `well-formed XML: ${JSON.stringify(valid)}`);
  const doc = parser.parse(text);
  assert.equal(doc.svg.length, 1, 'one root element, svg');
  const svg = doc.svg[0];
  assert.equal(svg.xmlns, 'http://www.w3.org/2000/svg');
  return svg;
}
// an element's text: the parser gives a string for an element without attributes, an object otherwise
const txt = (n) => (typeof n === 'object' ? String(n['#text']) : String(n));
const texts = (svg, cls) => (svg.text || []).filter((t) => t.class === cls).map(txt);
const banner = () => JSON.parse(psql('SELECT ex7.compliance_banner()'));

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); SELECT ex7.ensure_user('${B}');
        UPDATE ex7.users SET tier = 'strategist' WHERE id IN ('${A}', '${B}')`);
  // GC 30m (tick 0.10): the scripted walk over the Globex week of backtests.test.mjs (the same rows)
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
        SELECT ex7._bar_blocks_sync('GC', '30m', '2026-03-02 00:30+00', '2026-03-06 21:30+00')`);
  srv = await startEx7d();
  tokA = await token(A);
  tokB = await token(B);
  let r = await api(srv, 'POST', '/api/strategies', { tok: tokA, body: { name: 'Monte <Carlo> & co', instrument: 'GC', timeframe: '30m', graph: GRAPH } });
  assert.equal(r.status, 201, r.text);
  r = await api(srv, 'POST', `/api/strategies/${r.body.id}/backtest`, { tok: tokA, body: RANGE });
  assert.equal(r.status, 201, r.text);
  bt = r.body;
  assert.equal(bt.status, 'done');
  assert.ok(bt.result.trades >= 5, `enough trades to shuffle: ${bt.result.trades}`);
});
after(async () => {
  await srv?.stop();
});

test('POST /api/backtests/{id}/monte-carlo: a shuffle keeps the backtest\'s final equity; the same seed the same answer', async () => {
  let r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { tok: tokA, body: { runs: 500, seed: 11, drawdown_threshold: '50' } });
  assert.equal(r.status, 200, r.text);
  const mc = r.body;
  assert.equal(mc.backtest_id, bt.id);
  assert.equal(mc.method, 'shuffle');
  assert.equal(mc.trades, bt.result.trades);
  assert.equal(mc.initial_capital, '10000.00');
  // every order of the same trades ends at the same equity: the backtest's (initial capital + net P&L)
  const final = (Number(mc.initial_capital) + bt.trades.reduce((s, t) => s + Number(t.pnl), 0)).toFixed(2);
  assert.equal(mc.observed.final_equity, final);
  assert.deepEqual(mc.final_equity, { p5: final, p50: final, p95: final });
  assert.equal(mc.fan[0].trade, 0);
  assert.equal(mc.fan[0].p50, '10000.00');
  assert.equal(mc.fan.at(-1).trade, bt.result.trades);
  assert.equal(mc.fan.at(-1).p5, final);
  assert.equal(mc.drawdown_threshold, '50.00');
  assert.ok(mc.probability_drawdown_beyond >= 0 && mc.probability_drawdown_beyond <= 1);
  assert.deepEqual(mc.compliance, banner());

  r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { tok: tokA, body: { runs: 500, seed: 11, drawdown_threshold: 50 } });
  assert.deepEqual(r.body, mc, 'the same seed gives the same answer');
  r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { tok: tokA, body: { method: 'bootstrap', runs: 2000, seed: 5 } });
  assert.equal(r.status, 200, r.text);
  assert.ok(Number(r.body.final_equity.p5) < Number(r.body.final_equity.p95), 'a bootstrap spreads the final equity');
  assert.equal(r.body.probability_drawdown_beyond, null, 'no threshold, no probability');
  // no body: the defaults (shuffle, 1000 runs, seed 1)
  r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.method, r.body.runs, r.body.seed], ['shuffle', 1000, 1]);
});

test('GET /api/backtests/{id}/monte-carlo.svg: the fan chart, well-formed, with the 4.41 statement under it', async () => {
  const r = await api(srv, 'GET', `/api/backtests/${bt.id}/monte-carlo.svg?method=bootstrap&runs=400&seed=9`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  const svg = svgDoc(r.text);
  assert.match(txt(svg.title[0]), /^Monte Carlo, bootstrap: Monte <Carlo> & co v1, GC 30m, 2026-03-02 to 2026-03-06$/);
  assert.match(texts(svg, 'summary')[0], /^400 runs, seed 9 \| final equity p5 \/ p50 \/ p95: /);
  assert.deepEqual(svg.polygon.map((p) => p.class), ['band-5-95', 'band-25-75']);
  assert.equal(svg.polyline.filter((p) => p.class === 'median').length, 1);
  assert.equal(svg.line.filter((l) => l.class === 'initial-capital').length, 1);
  assert.deepEqual(texts(svg, 'disclaimer-rule'), [banner().rule]);
  assert.equal(texts(svg, 'disclaimer').join(' '), banner().text, 'the statement in full');
  assert.ok(texts(svg, 'x-label').length >= 2, 'trade ticks');
  // the same picture for the same query
  const again = await api(srv, 'GET', `/api/backtests/${bt.id}/monte-carlo.svg?method=bootstrap&runs=400&seed=9`, { tok: tokA });
  assert.equal(again.text, r.text);
});

test('the heatmap and walk-forward pictures of the SQL API: well-formed, escaped, the statement under them', () => {
  const heat = psql(`SELECT ex7.heatmap_svg('[{"x": 5, "y": 20, "value": -120.5}, {"x": 10, "y": 20, "value": 340},
                     {"x": 15, "y": 20, "value": null}, {"x": 5, "y": 30, "value": 15}, {"x": 10, "y": 30, "value": 0},
                     {"x": 15, "y": 30, "value": 90}]', 'fast <sma>', 'slow & sma', 'Net P&L by "fast" and slow')`);
  let svg = svgDoc(heat);
  assert.equal(txt(svg.title[0]), 'Net P&L by "fast" and slow');
  const rects = svg.rect.filter((x) => (x.class || '').startsWith('cell'));
  assert.equal(rects.length, 6);
  assert.equal(rects.filter((x) => x.class === 'cell infeasible').length, 1);
  assert.equal(svg.rect.filter((x) => x.class === 'best').length, 1);
  assert.deepEqual(texts(svg, 'x-label'), ['5', '10', '15']);
  assert.deepEqual(texts(svg, 'y-label'), ['20', '30']);
  assert.equal(texts(svg, 'disclaimer').join(' '), banner().text);

  const wf = psql(`SELECT ex7.walk_forward_svg('[{"ts": "2026-01-05T00:00:00Z", "equity": "10000.00"},
                   {"ts": "2026-02-02T00:00:00Z", "equity": "10250.50"}, {"ts": "2026-03-02T00:00:00Z", "equity": "9900.00"},
                   {"ts": "2026-03-30T00:00:00Z", "equity": "10400.00"}]', '["2026-02-02T00:00:00Z", "2026-03-02T00:00:00Z"]',
                   'Walk-forward <OOS>')`);
  svg = svgDoc(wf);
  assert.equal(txt(svg.title[0]), 'Walk-forward <OOS>');
  assert.deepEqual(texts(svg, 'window'), ['W1', 'W2', 'W3'], 'the part before the first boundary is window 1');
  assert.equal(svg.line.filter((l) => l.class === 'boundary').length, 2);
  assert.deepEqual(texts(svg, 'disclaimer-rule'), [banner().rule]);
});

test('refusals: 404 for another user\'s backtest, 409 while it runs, 422 with the locator', async () => {
  for (const [method, p] of [['POST', `/api/backtests/${bt.id}/monte-carlo`], ['GET', `/api/backtests/${bt.id}/monte-carlo.svg`]]) {
    const r = await api(srv, method, p, { tok: tokB, body: method === 'POST' ? {} : undefined });
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    assert.match(r.headers.get('content-type'), /application\/json/, 'an error is JSON, also on the SVG route');
  }
  for (const [body, loc] of [[{ runs: 10, colour: 'red' }, ['body', 'colour']], [{ method: 'jackknife' }, ['body', 'method']],
    [{ runs: 0 }, ['body', 'runs']], [{ seed: -1 }, ['body', 'seed']], [{ drawdown_threshold: 'abc' }, ['body', 'drawdown_threshold']]]) {
    const r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { tok: tokA, body });
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.body.detail[0].loc, loc);
  }
  let r = await api(srv, 'GET', `/api/backtests/${bt.id}/monte-carlo.svg?runs=100001`, { tok: tokA });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'runs']);
  r = await api(srv, 'GET', `/api/backtests/${bt.id}/monte-carlo.svg?method=nope`, { tok: tokA });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'method']);
  r = await api(srv, 'GET', `/api/backtests/${bt.id}/monte-carlo.svg?runs=many`, { tok: tokA });
  assert.equal(r.status, 422, r.text);

  // a backtest still running: 409 with its status
  const running = psql(`INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to, status)
                        VALUES ('${A}', '${bt.strategy_id}', 1, 'GC', '30m', '${RANGE.from}', '${RANGE.to}', 'running') RETURNING id`);
  r = await api(srv, 'POST', `/api/backtests/${running}/monte-carlo`, { tok: tokA, body: {} });
  assert.equal(r.status, 409, r.text);
  assert.deepEqual(r.body.detail, { code: 'backtest_not_done', status: 'running' });
  psql(`DELETE FROM ex7.backtests WHERE user_id = '${A}' AND id = '${running}'`);
  r = await api(srv, 'POST', `/api/backtests/${bt.id}/monte-carlo`, { body: {} });
  assert.equal(r.status, 401);
});
