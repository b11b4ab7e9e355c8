// test/e2e/studies.test.mjs: parameter studies over HTTP (docs/research.md, "Studies" and "Walk-forward"): POST
// /api/strategies/{id}/studies (201, queued), real background workers running the trials to done while GET
// /api/studies/{id} is polled and study_progress events arrive on the stream, the trials in keyset pages, the
// list, apply (201 with a new version), cancel/resume conflicts, the heatmap and walk-forward SVGs
// (image/svg+xml), a 422 with its locator, and another user's study is 404 on every route. The rules
// themselves are in sql/studies.sql, sql/walk_forward.sql and specs/study_claim.spec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';

let srv, tokA, tokB;
const A = uid('5d', 1);
const B = uid('5d', 2);
const RANGE = { from: '2026-03-02T00:00:00Z', to: '2026-03-06T22:00:00Z' };
const GRAPH = {
  nodes: [{ id: 'c', type: 'close' }, { id: 'fast', type: 'sma', params: { period: 3 } }, { id: 'slow', type: 'sma', params: { period: 8 } },
    { id: 'up', type: 'crosses_above' }, { id: 'dn', type: 'crosses_below' },
    { id: 'long', type: 'enter_long', params: { size: 1 } }, { id: 'short', type: 'enter_short', params: { size: 1 } },
    { id: 'ls', type: 'stop_loss_ticks', params: { ticks: 20 } }],
  edges: [{ from: 'c', to: 'fast' }, { from: 'c', to: 'slow' }, { from: 'fast', to: 'up', port: 'a' }, { from: 'slow', to: 'up', port: 'b' },
    { from: 'fast', to: 'dn', port: 'a' }, { from: 'slow', to: 'dn', port: 'b' }, { from: 'up', to: 'long' }, { from: 'dn', to: 'short' },
    { from: 'long', to: 'ls' }],
  meta: {},
};
const SPACE = { parameters: { 'fast.period': { min: 2, max: 5, step: 1 }, 'slow.period': { values: [8, 12] } },
  constraints: ['fast.period < slow.period'] };

before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); SELECT ex7.ensure_user('${B}');
        UPDATE ex7.users SET tier = 'strategist' WHERE id IN ('${A}', '${B}')`);  // polling needs more than 30 requests a minute
  acceptCompliance(A);
  // MGC 30m (tick 0.10): a scripted walk over the Globex week, no bar in the daily break
  psql(`INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                     FROM generate_series(timestamptz '2026-03-02 00:30+00', '2026-03-06 21:30+00', interval '30 minutes') ts
                    WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
             s AS (SELECT g, ts, ((g * 7919) % 13 - 6) + CASE WHEN (g / 20) % 2 = 0 THEN 2 ELSE -2 END AS step FROM t),
             c AS (SELECT g, ts, 2900 + 0.10 * sum(step) OVER (ORDER BY g) AS c FROM s),
             o AS (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o FROM c)
        SELECT 'MGC', '30m', ts, o, greatest(o, c) + 0.10 * (g % 4), least(o, c) - 0.10 * (g % 3), c, 10 FROM o
        ON CONFLICT DO NOTHING;
        SELECT ex7._bar_blocks_sync('MGC', '30m', '2026-03-02 00:30+00', '2026-03-06 21:30+00')`);
  srv = await startEx7d();
  tokA = await token(A);
  tokB = await token(B);
});
after(async () => { await srv?.stop(); });

async function strategy(tok, name) {
  const r = await api(srv, 'POST', '/api/strategies', { tok, body: { name, instrument: 'MGC', timeframe: '30m', graph: GRAPH } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

// the user's stream, read by hand until a predicate holds on the text received
function streamUntil(tok, pred, ms = 30000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const req = http.get(`${srv.base}/api/signals/stream`, { headers: { Authorization: `Bearer ${tok}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => { buf += d; if (pred(buf)) { req.destroy(); clearTimeout(t); resolve(buf); } });
    });
    req.on('error', () => {});
    const t = setTimeout(() => { req.destroy(); reject(new Error(`stream: not seen in ${ms} ms:\n${buf}`)); }, ms);
  });
}

test('a grid study over HTTP: 201 queued, background workers run it to done, progress polled and streamed, trials paged, applied', async () => {
  const sid = await strategy(tokA, 'Studied');
  // the stream is open before the study starts: every study_progress event of the run arrives on it
  const seen = streamUntil(tokA, (b) => /event: study_progress\ndata: [^\n]*"status": "done"/.test(b));
  await new Promise((r) => setTimeout(r, 300));
  let r = await api(srv, 'POST', `/api/strategies/${sid}/studies`, { tok: tokA, body: { ...RANGE, evaluation: 'fast',
    space: SPACE, objective: { metric: 'net_pnl' } } });
  assert.equal(r.status, 201, r.text);
  const st = r.body;
  assert.ok(['queued', 'running', 'done'].includes(st.status), st.status);
  assert.equal(st.kind, 'grid');
  assert.equal(st.progress.trials_total, 8);
  assert.match(st.compliance.text, /^HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS/);

  // polling: the percent never goes down, and the study ends done
  let last = -1;
  const done = await until(async () => {
    const g = await api(srv, 'GET', `/api/studies/${st.id}`, { tok: tokA });
    assert.equal(g.status, 200, g.text);
    assert.ok(g.body.progress.percent >= last, 'progress only grows');
    last = g.body.progress.percent;
    return g.body.status === 'done' ? g.body : null;
  }, 60000, 'the study done', 250);
  assert.equal(done.progress.trials_done, 8);
  assert.equal(done.progress.percent, 100);
  assert.ok(done.best && done.best.status === 'done', 'the best trial');
  assert.equal(done.result.trials_run, 8);
  const text = await seen;
  const events = [...text.matchAll(/event: study_progress\ndata: ([^\n]*)/g)].map((m) => JSON.parse(m[1]))
    .filter((e) => e.study_id === st.id);
  assert.equal(events.length, 8, 'one study_progress a trial');
  assert.deepEqual(events.map((e) => e.trials_done), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.match(text, new RegExp(`"study_id": "${st.id}"`));

  // the trials: keyset pages in trial_no order, every one a done backtest of the user's
  const all = [];
  let cursor = null;
  do {
    r = await api(srv, 'GET', `/api/studies/${st.id}/trials?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { tok: tokA });
    assert.equal(r.status, 200, r.text);
    all.push(...r.body.items);
    cursor = r.body.next_cursor;
  } while (cursor);
  assert.deepEqual(all.map((t) => t.trial_no), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(all.every((t) => t.status === 'done' && t.backtest_id));
  r = await api(srv, 'GET', `/api/backtests/${all[0].backtest_id}`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.purpose, 'study');
  assert.equal(r.body.result.net_pnl, all[0].metrics.net_pnl);
  // the study did not ask for keep_trades: the trial's backtest has its curve, not its trades
  assert.equal(r.body.trades_kept, false);
  assert.equal(r.body.trades, null);
  assert.ok(r.body.equity.length > 0);
  r = await api(srv, 'POST', `/api/backtests/${all[0].backtest_id}/monte-carlo`, { tok: tokA, body: {} });
  assert.equal(r.status, 409, r.text);
  assert.deepEqual(r.body.detail, { code: 'trades_not_kept' });

  r = await api(srv, 'GET', `/api/strategies/${sid}/studies`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.items[0].id, st.id);

  // apply: 201 with a new version carrying the best values
  r = await api(srv, 'POST', `/api/studies/${st.id}/apply`, { tok: tokA });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.version, 2);
  assert.equal(r.body.trial_no, done.best.trial_no);
  const fast = r.body.graph.nodes.find((n) => n.id === 'fast');
  assert.equal(fast.params.period, done.best.values['fast.period']);
  r = await api(srv, 'POST', `/api/studies/${st.id}/apply`, { tok: tokA, body: { trial: 1 } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.body.values, all[0].values);

  // finished: cancel and resume are conflicts
  r = await api(srv, 'POST', `/api/studies/${st.id}/cancel`, { tok: tokA });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'study_finished');
  r = await api(srv, 'POST', `/api/studies/${st.id}/resume`, { tok: tokA });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'study_not_resumable');

  // the heatmap
  r = await api(srv, 'GET', `/api/studies/${st.id}/heatmap.svg?x=fast.period&y=slow.period`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  assert.match(r.text, /^<svg/);
  assert.match(r.text, /CFTC Rule 4\.41/);
  r = await api(srv, 'GET', `/api/studies/${st.id}/heatmap.svg?x=nope.period`, { tok: tokA });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'x']);

  // another user's study: 404 everywhere
  for (const [m, p] of [['GET', `/api/studies/${st.id}`], ['GET', `/api/studies/${st.id}/trials`],
    ['POST', `/api/studies/${st.id}/cancel`], ['POST', `/api/studies/${st.id}/resume`], ['POST', `/api/studies/${st.id}/apply`],
    ['GET', `/api/studies/${st.id}/heatmap.svg`], ['GET', `/api/studies/${st.id}/walk-forward`],
    ['GET', `/api/studies/${st.id}/walk-forward.svg`], ['GET', `/api/strategies/${sid}/studies`]]) {
    r = await api(srv, m, p, { tok: tokB });
    assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
  }
});

test('a bad space is 422 with a locator into the body, and nothing is created', async () => {
  const sid = await strategy(tokA, 'Refused');
  const r = await api(srv, 'POST', `/api/strategies/${sid}/studies`, { tok: tokA, body: { ...RANGE,
    space: { parameters: { 'fast.period': { values: [3, 0] } } }, objective: { metric: 'sharpe' } } });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'space', 'parameters', 'fast.period', 'values', 1]);
  const l = await api(srv, 'GET', `/api/strategies/${sid}/studies`, { tok: tokA });
  assert.deepEqual(l.body.items, []);
});

test('a walk-forward study over HTTP: windows, stitched curve, efficiency, and its picture', async () => {
  const sid = await strategy(tokA, 'Walked');
  let r = await api(srv, 'POST', `/api/strategies/${sid}/studies`, { tok: tokA, body: { ...RANGE, evaluation: 'fast',
    space: { parameters: { 'fast.period': { values: [2, 3] } } }, objective: { metric: 'net_pnl' },
    walk_forward: { mode: 'rolling', in_sample_days: 2, out_of_sample_days: 1 } } });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  await until(async () => (await api(srv, 'GET', `/api/studies/${id}`, { tok: tokA })).body.status === 'done', 60000, 'walk-forward done', 250);
  r = await api(srv, 'GET', `/api/studies/${id}/walk-forward`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.windows.length, 2);
  assert.ok(r.body.equity.length > 0);
  assert.equal(r.body.equity[0].equity, '10000.00');
  r = await api(srv, 'GET', `/api/studies/${id}/walk-forward.svg`, { tok: tokA });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  assert.match(r.text, /CFTC Rule 4\.41/);
});
