// test/e2e/reference.test.mjs: where ex7 differs from the reference (docs/http.md, "Where ex7 differs from
// the reference"), over HTTP: Close Signal without a body closes at the mark and an implausible close_price
// is a 422; Force Close All answers the number of signals cancelled; Delete Strategy cancels the
// strategy's open signals and stops its runtimes; GET /api/strategies/fixtures lists the fixture slugs;
// Stop Runtime stops at once a runtime with nothing to drain. The rules are tested in sql/
// (signal_close_price, signal_close, strategy_delete, runtime_drain, engines) and
// specs/strategy_delete_race.spec.
// Bars: RTY bars of the last half hour written here; no other end-to-end file writes RTY or NQ bars, so
// NQ has no mark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, GRAPH, acceptCompliance } from './lib.mjs';

let srv, tok;
const A = uid('ef', 1);
before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${A}'`);
  acceptCompliance(A);
  for (const m of ['paper', 'live']) {
    psql(`SELECT ex7.set_risk_limits('${A}', '${m}', '{"max_open_positions": 100, "max_trades_per_day": 1000}')`);
  }
  srv = await startEx7d();
  tok = await token(A);
});
after(async () => { await srv.stop(); });

let n = 0;
async function strategy(instrument, timeframe = '1m') {
  const r = await api(srv, 'POST', '/api/strategies', { tok, body: { name: `reference ${++n}`, instrument, timeframe, graph: GRAPH } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}
// fire: a signal of strategy s (the dispatcher's entry point, ex7.fire_signal); returns its id
function fire(s, price, mode = 'paper') {
  const r = JSON.parse(psql(`SELECT ex7.fire_signal('${A}', '${s}', '${mode}', 'long', 1, ${price}, date_trunc('minute', now()) - interval '20 minutes')`));
  assert.equal(r.decision, 'fired', JSON.stringify(r));
  return r.signal.id;
}

test('Close Signal: no body closes at the mark and says so; no recent bar is 409 no_mark_price; an implausible close_price is 422', async () => {
  // RTY 1m bars of the last half hour, 2000.0 rising 0.1 a minute; the newest closed at the start of this
  // minute, so it stays under the 1m mark's age limit (two minutes) for the whole test
  psql(`INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        SELECT 'RTY', '1m', date_trunc('minute', now()) - g * interval '1 minute', c, c + 0.5, c - 0.5, c, 10
          FROM generate_series(0, 29) g, LATERAL (SELECT 2000.0 + (29 - g) * 0.1 AS c) p
        ON CONFLICT DO NOTHING;
        SELECT ex7._bar_blocks_sync('RTY', '1m', date_trunc('minute', now()) - interval '29 minutes', date_trunc('minute', now()))`);
  const mark = JSON.parse(psql(`SELECT row_to_json(m) FROM ex7._mark_price('RTY', now()) m`));
  assert.equal(mark.fresh, true, 'the RTY bars just written are the mark');
  const s = await strategy('RTY');

  // the reference's own sample: POST with no body at all
  const a = fire(s, '2000.00');
  let r = await api(srv, 'POST', `/api/signals/${a}/close`, { tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'cancelled');
  assert.equal(r.body.close_reason, 'user');
  assert.equal(Number(r.body.close_price), Number(mark.price), 'the close of the latest bar');
  assert.equal(r.body.close_price_source, 'mark');
  assert.equal(r.body.mark_timeframe, '1m');
  assert.equal(Date.parse(r.body.mark_bar_time), Date.parse(mark.bar_ts));
  // an empty object and an explicit null are the same request
  const b = fire(s, '2000.00');
  r = await api(srv, 'POST', `/api/signals/${b}/close`, { tok, body: { close_price: null } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.close_price_source, 'mark');

  // an explicit price: 1e15, 0 and -5 (all accepted before, 1e15 tripping the user's own loss breaker)
  // are outside the band around the bars since the entry; the band is in ctx
  const c = fire(s, '2000.00');
  for (const p of [1e15, 0, -5, '1000000000000000']) {
    r = await api(srv, 'POST', `/api/signals/${c}/close`, { tok, body: { close_price: p } });
    assert.equal(r.status, 422, `${p}: ${r.text}`);
    assert.deepEqual(r.body.detail[0].loc, ['body', 'close_price']);
    assert.equal(r.body.detail[0].type, 'value_error.close_price.band', `${p}: ${r.text}`);
    assert.equal(r.body.detail[0].ctx.basis, 'bars');
    assert.ok(Number(r.body.detail[0].ctx.min) < 2000 && Number(r.body.detail[0].ctx.max) > 2003);
  }
  r = await api(srv, 'GET', `/api/signals/${c}`, { tok });
  assert.equal(r.body.status, 'open', 'a refused close changes nothing');
  r = await api(srv, 'GET', '/api/risk?mode=paper', { tok });
  assert.equal(r.body.trading_allowed, true, 'and trips no breaker');
  r = await api(srv, 'POST', `/api/signals/${c}/close`, { tok, body: { close_price: '2001.50' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.close_price, '2001.50');
  assert.equal(r.body.close_price_source, 'request');
  assert.equal(r.body.mark_bar_time, undefined);

  // NQ has no recent bar: no mark, 409 with code no_mark_price; the same signal closes with a price
  const q = await strategy('NQ');
  const d = fire(q, '20000.00');
  r = await api(srv, 'POST', `/api/signals/${d}/close`, { tok });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'no_mark_price');
  assert.equal(r.body.detail.instrument, 'NQ');
  r = await api(srv, 'POST', `/api/signals/${d}/close`, { tok, body: { close_price: 20010.25 } });
  assert.equal(r.status, 200, r.text);
});

test('Force Close All: the body is the number of signals cancelled, a JSON number', async () => {
  const s = await strategy('NQ');
  fire(s, '20000.00');
  fire(s, '20001.00');
  let r = await api(srv, 'POST', `/api/signals/runtimes/${s}/force-close-all`, { tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text.trim(), '2');
  assert.equal(r.body, 2);
  r = await api(srv, 'POST', `/api/signals/runtimes/${s}/force-close-all`, { tok });
  assert.equal(r.body, 0, 'nothing left open');
});

test('Delete Strategy: its open signals are cancelled (history kept), its runtime stopped, the risk gate counts them no more', async () => {
  const s = await strategy('NQ');
  let r = await api(srv, 'POST', `/api/strategies/${s}/promote`, { tok });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'POST', `/api/signals/runtimes/${s}/start`, { tok, body: { mode: 'paper' } });
  assert.equal(r.status, 200, r.text);
  psql(`UPDATE ex7.strategy_runtimes SET status = 'running' WHERE strategy_id = '${s}'`);
  const paper = fire(s, '20000.00');
  const live = fire(s, '20000.00', 'live');
  const openPositions = async (mode) => (await api(srv, 'GET', `/api/risk?mode=${mode}`, { tok })).body.open_positions;
  const before = { paper: await openPositions('paper'), live: await openPositions('live') };
  assert.ok(before.live >= 1);

  r = await api(srv, 'DELETE', `/api/strategies/${s}`, { tok });
  assert.equal(r.status, 204, r.text);
  for (const id of [paper, live]) {
    r = await api(srv, 'GET', `/api/signals/${id}`, { tok });
    assert.equal(r.status, 200, 'the signal stays readable');
    assert.equal(r.body.status, 'cancelled');
    assert.equal(r.body.close_reason, 'force_close');
    assert.equal(r.body.net_pnl, '0.00');
  }
  assert.equal(await openPositions('paper'), before.paper - 1);
  assert.equal(await openPositions('live'), before.live - 1, '/api/risk?mode=live no longer counts it');
  r = await api(srv, 'GET', '/api/signals/runtimes', { tok });
  assert.equal(r.body.items.find((x) => x.strategy_id === s).status, 'stopped');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s}/force-close-all`, { tok });
  assert.equal(r.status, 404, 'the deleted strategy is gone for force-close-all, and nothing is left for it to do');
});

test('GET /api/strategies/fixtures: the slugs POST /api/strategies/from-fixture/{slug} takes', async () => {
  let r = await api(srv, 'GET', '/api/strategies/fixtures');
  assert.equal(r.status, 401, 'signed-in users only, like from-fixture');
  r = await api(srv, 'GET', '/api/strategies/fixtures', { tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, JSON.parse(psql('SELECT ex7.list_fixtures()')), 'the body is the SQL function\'s, unchanged');
  assert.deepEqual(r.body.map((f) => f.slug), ['ema-crossover', 'rsi-mean-reversion', 'opening-range-breakout', 'bollinger-reversion']);
  for (const f of r.body) {
    assert.deepEqual(Object.keys(f).sort(), ['description', 'instrument', 'name', 'slug', 'tags', 'timeframe']);
    const c = await api(srv, 'POST', `/api/strategies/from-fixture/${f.slug}`, { tok });
    assert.equal(c.status, 201, `${f.slug}: ${c.text}`);
    assert.equal(c.body.instrument, f.instrument);
    assert.equal(c.body.timeframe, f.timeframe);
  }
});

test('Stop Runtime: nothing open stops at once; with an open signal it drains until that signal is closed', async () => {
  const start = async (s) => {
    let r = await api(srv, 'POST', `/api/strategies/${s}/promote`, { tok });
    assert.equal(r.status, 200, r.text);
    r = await api(srv, 'POST', `/api/signals/runtimes/${s}/start`, { tok });
    assert.equal(r.status, 200, r.text);
    psql(`UPDATE ex7.strategy_runtimes SET status = 'running' WHERE strategy_id = '${s}'`);
  };
  const idle = await strategy('NQ');
  await start(idle);
  let r = await api(srv, 'POST', `/api/signals/runtimes/${idle}/stop`, { tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'stopped');
  assert.ok(r.body.stopped_at);

  const busy = await strategy('NQ');
  await start(busy);
  const sig = fire(busy, '20000.00');
  r = await api(srv, 'POST', `/api/signals/runtimes/${busy}/stop`, { tok });
  assert.equal(r.body.status, 'draining');
  r = await api(srv, 'POST', `/api/signals/${sig}/close`, { tok, body: { close_price: '20004.00' } });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'GET', '/api/signals/runtimes', { tok });
  const rt = r.body.items.find((x) => x.strategy_id === busy);
  assert.equal(rt.status, 'stopped', 'the close of its last open signal ended the drain');
  assert.ok(rt.stopped_at);
});
