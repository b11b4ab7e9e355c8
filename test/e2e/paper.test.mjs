// test/e2e/paper.test.mjs: the paper account over HTTP (docs/paper-account.md): GET /api/account/paper, its
// positions (two strategies' opposite signals netted on one instrument at the mark of its last bar), the
// ledger's keyset pages with the account's balance, the equity per trading day across the 18:00 New York
// boundary, the reset (409 with open positions, 200 after a force-close, the ledger starting over), the
// performance's percents following the new starting capital, 422 locators, 401 without a token and another
// user's strategy (404). The rules are tested in sql/paper.sql; this proves the routes reach them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance } from './lib.mjs';

let srv, ta, tb;
const A = uid('8a', 1);
const B = uid('8a', 2);
const SA1 = uid('8a', 101);   // A's "alpha" (PAPQ)
const SA2 = uid('8a', 102);   // A's "beta" (PAPQ)
const SB = uid('8a', 201);    // B's "theirs" (PAPQ)
const ROUTES = ['/api/account/paper', '/api/account/paper/positions', '/api/account/paper/ledger', '/api/account/paper/equity'];

// a signal priced by ex7.compute_pnl (closed when close is given), on the test's own instrument PAPQ (MNQ's
// specs: tick 0.25 = 0.50 USD, 0.62 a side), so no other file's bars are its mark
const signal = (u, s, side, size, entry, fired, close = null, closedAt = null) => `
  INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price,
                           bar_ts, fired_at, status, close_reason, close_price, closed_at, pnl_points, pnl_ticks,
                           gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl)
  SELECT '${u}', '${s}', 1, 'PAPQ', '1m', 'paper', '${side}', ${size}, ${entry}, ${fired}, ${fired},
         ${close ? "'closed', 'exit_signal'" : "'open', NULL"}, ${close ?? 'NULL'}, ${closedAt ?? 'NULL'},
         p.points, p.ticks, p.gross_pnl, p.slippage_ticks, p.slippage_cost, p.commission, p.net_pnl
    FROM (SELECT 1) AS one LEFT JOIN ex7.compute_pnl('PAPQ', '${side}', ${size}, ${entry}, ${close ?? 'NULL'}) AS p ON true;`;

before(async () => {
  ensureDb();
  psql(`INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side)
        VALUES ('PAPQ', 'Paper test contract like MNQ', 0.25, 0.50, 0.62) ON CONFLICT (symbol) DO NOTHING`);
  // strategist: the test makes more requests than the free tier's 30 a minute
  for (const u of [A, B]) psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  acceptCompliance(A, B);
  psql(`INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, status) VALUES
          ('${SA1}', '${A}', 'alpha', 'PAPQ', '1m', 'e1', 'live'), ('${SA2}', '${A}', 'beta', 'PAPQ', '1m', 'e2', 'live'),
          ('${SB}', '${B}', 'theirs', 'PAPQ', '1m', 'e3', 'live');
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
          ('${SA1}', 1, '${A}', '{}'), ('${SA2}', 1, '${A}', '{}'), ('${SB}', 1, '${B}', '{}');`);
  // A's closes: +17.26 at 17:30 New York on Monday 2026-03-02 (that trading day), -23.24 at 18:30 New York
  // (the next one, 03-03), +17.26 ten minutes ago
  psql(signal(A, SA1, 'long', 1, '18000.00', "'2026-03-02 14:00+00'", '18010.25', "'2026-03-02 22:30+00'"));
  psql(signal(A, SA2, 'long', 1, '18000.00', "'2026-03-02 23:10+00'", '17990.00', "'2026-03-02 23:30+00'"));
  psql(signal(A, SA1, 'long', 1, '18000.00', "now() - interval '20 minutes'", '18010.25', "now() - interval '10 minutes'"));
  // A's open signals: alpha long 2 at 18000.00, beta short 1 at 18010.00; B: one close of +196.76
  psql(signal(A, SA1, 'long', 2, '18000.00', "now() - interval '30 minutes'"));
  psql(signal(A, SA2, 'short', 1, '18010.00', "now() - interval '25 minutes'"));
  psql(signal(B, SB, 'long', 1, '18000.00', "'2026-03-02 14:00+00'", '18100.00', "'2026-03-02 15:00+00'"));
  // the mark: a PAPQ bar closing at 18020.00 five minutes ago (stored as is: the session rules of the ingest
  // would refuse it on a weekend run)
  psql(`INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        VALUES ('PAPQ', '1m', date_trunc('minute', now()) - interval '5 minutes', 18015.00, 18021.00, 18014.00, 18020.00, 10)`);
  srv = await startEx7d();
  ta = await token(A);
  tb = await token(B);
});
after(async () => { await srv?.stop(); });

test('every paper account route needs a token (401)', async () => {
  for (const p of ROUTES) assert.equal((await api(srv, 'GET', p)).status, 401, p);
  assert.equal((await api(srv, 'POST', '/api/account/paper/reset', { body: {} })).status, 401);
});

test('GET /api/account/paper: the default 10000.00, realized since the start, the netted position at its mark', async () => {
  const r = await api(srv, 'GET', '/api/account/paper', { tok: ta });
  assert.equal(r.status, 200, r.text);
  const a = r.body;
  assert.deepEqual([a.mode, a.starting_capital, a.started_at, a.is_default, a.resets], ['paper', '10000.00', null, true, 0]);
  assert.equal(a.closes, 3);
  assert.equal(a.realized_pnl, '11.28');            // 17.26 - 23.24 + 17.26
  assert.deepEqual([a.open_signals, a.positions, a.unmarked_positions], [2, 1, 0]);
  assert.equal(a.unrealized_gross_pnl, '60.00');
  assert.equal(a.unrealized_pnl, '50.28');
  assert.equal(a.equity, '10061.56');                // 10000 + 11.28 + 50.28
  assert.deepEqual(a.realized_drawdown, { peak_equity: '10017.26', equity: '10011.28', amount: '5.98', percent: 0.059697 });
  assert.match(a.disclaimer.rule, /4\.41/);
  const bad = await api(srv, 'GET', '/api/account/paper?mode=demo', { tok: ta });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.detail[0].loc, ['query', 'mode']);
  const b = await api(srv, 'GET', '/api/account/paper', { tok: tb });
  assert.deepEqual([b.body.closes, b.body.realized_pnl, b.body.open_signals], [1, '196.76', 0], 'B sees only B\'s closes');
});

test('GET /api/account/paper/positions: two strategies\' opposite signals netted on one instrument', async () => {
  const r = await api(srv, 'GET', '/api/account/paper/positions', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.items.length, 1);
  const p = r.body.items[0];
  // long 2 at 18000.00 and short 1 at 18010.00: long 1, break-even (2 * 18000 - 18010) / 1
  assert.deepEqual([p.instrument, p.side, p.size, p.average_price], ['PAPQ', 'long', 1, '17990.00']);
  assert.deepEqual([p.long_size, p.long_average_price, p.short_size, p.short_average_price], [2, '18000.00', 1, '18010.00']);
  assert.deepEqual([...p.strategy_ids].sort(), [SA1, SA2].sort());
  assert.equal(p.mark_price, '18020.00');
  assert.equal(p.mark_timeframe, '1m');
  // gross: 1 x (18020 - 17990) x 2.00 a point; net: each signal's compute_pnl at the mark, 73.52 - 23.24
  assert.deepEqual([p.unrealized_gross_pnl, p.unrealized_pnl], ['60.00', '50.28']);
  assert.deepEqual([r.body.open_signals, r.body.unrealized_pnl], [2, '50.28']);
  const b = await api(srv, 'GET', '/api/account/paper/positions', { tok: tb });
  assert.deepEqual(b.body.items, [], 'B has no position and never sees A\'s');
  const live = await api(srv, 'GET', '/api/account/paper/positions?mode=live', { tok: ta });
  assert.deepEqual(live.body.items, []);
});

test('GET /api/account/paper/ledger: keyset pages newest first with the account\'s balance; filters; 404 and 422', async () => {
  let r = await api(srv, 'GET', '/api/account/paper/ledger?limit=2', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((e) => [e.net_pnl, e.balance]), [['17.26', '10011.28'], ['-23.24', '9994.02']]);
  assert.equal(r.body.items[0].slippage_cost, '2.00');
  assert.equal(r.body.items[0].commission, '1.24');
  assert.ok(r.body.next_cursor);
  const cursor = r.body.next_cursor;
  r = await api(srv, 'GET', `/api/account/paper/ledger?limit=2&cursor=${encodeURIComponent(cursor)}`, { tok: ta });
  assert.deepEqual(r.body.items.map((e) => [e.net_pnl, e.balance]), [['17.26', '10017.26']]);
  assert.equal(r.body.next_cursor, null);
  // one strategy's closes, with the account's balance
  r = await api(srv, 'GET', `/api/account/paper/ledger?strategy_id=${SA1}`, { tok: ta });
  assert.deepEqual(r.body.items.map((e) => [e.strategy_id, e.balance]), [[SA1, '10011.28'], [SA1, '10017.26']]);
  // another user's strategy is 404; B's ledger holds B's close only; A's cursor is not B's
  r = await api(srv, 'GET', `/api/account/paper/ledger?strategy_id=${SB}`, { tok: ta });
  assert.equal(r.status, 404, r.text);
  r = await api(srv, 'GET', '/api/account/paper/ledger', { tok: tb });
  assert.deepEqual(r.body.items.map((e) => e.net_pnl), ['196.76']);
  r = await api(srv, 'GET', `/api/account/paper/ledger?cursor=${encodeURIComponent(cursor)}`, { tok: tb });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'cursor']);
  for (const [q, loc] of [['limit=0', ['query', 'limit']], ['limit=201', ['query', 'limit']], ['mode=x', ['query', 'mode']],
                          ['strategy_id=nope', ['query', 'strategy_id']], ['cursor=garbage', ['query', 'cursor']]]) {
    r = await api(srv, 'GET', `/api/account/paper/ledger?${q}`, { tok: ta });
    assert.equal(r.status, 422, q);
    assert.deepEqual(r.body.detail[0].loc, loc, q);
  }
});

test('GET /api/account/paper/equity: one row per trading day, a close after 18:00 New York in the next day', async () => {
  let r = await api(srv, 'GET', '/api/account/paper/equity?from=2026-03-02T12:00:00Z&to=2026-03-03T12:00:00Z', { tok: ta });
  assert.equal(r.status, 200, r.text);
  // the close at 22:30Z (17:30 New York) is Monday's, the one at 23:30Z (18:30) Tuesday's
  assert.deepEqual(r.body.days.map((d) => [d.trading_day, d.closes, d.realized_pnl, d.equity, d.complete]), [
    ['2026-03-02', 1, '17.26', '10017.26', true],
    ['2026-03-03', 1, '-23.24', '9994.02', false],
  ]);
  assert.equal(Date.parse(r.body.days[0].end), Date.parse('2026-03-02T23:00:00Z'));
  // the default range ends now, with the account's equity
  r = await api(srv, 'GET', '/api/account/paper/equity', { tok: ta });
  assert.equal(r.status, 200, r.text);
  const last = r.body.days.at(-1);
  assert.deepEqual([last.complete, last.open_signals, last.equity], [false, 2, '10061.56']);
  for (const [q, loc] of [['from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z', ['query', 'to']],
                          ['from=2024-01-01T00:00:00Z&to=2026-03-02T00:00:00Z', ['query', 'from']],
                          ['from=yesterday', ['query', 'from']], ['mode=x', ['query', 'mode']]]) {
    r = await api(srv, 'GET', `/api/account/paper/equity?${q}`, { tok: ta });
    assert.equal(r.status, 422, q);
    assert.deepEqual(r.body.detail[0].loc, loc, q);
  }
});

test('POST /api/account/paper/reset: 409 with open positions, 422 locators, a new start and capital; performance follows', async () => {
  let r = await api(srv, 'GET', `/api/strategies/${SA1}/performance`, { tok: ta });
  assert.deepEqual([r.body.initial_capital, r.body.pnl, r.body.pnl_percent], ['10000.00', '34.52', 0.3452]);

  r = await api(srv, 'POST', '/api/account/paper/reset', { tok: ta, body: { starting_capital: 20000 } });
  assert.equal(r.status, 409, r.text);
  assert.deepEqual(r.body.detail, { code: 'open_positions', mode: 'paper', open_signals: 2 });
  for (const [body, loc] of [[{ mode: 'demo' }, ['body', 'mode']], [{ mode: 1 }, ['body', 'mode']],
                             [{ starting_capital: 0 }, ['body', 'starting_capital']],
                             [{ starting_capital: '1.005' }, ['body', 'starting_capital']],
                             [{ starting_capital: 'lots' }, ['body', 'starting_capital']]]) {
    r = await api(srv, 'POST', '/api/account/paper/reset', { tok: ta, body });
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.deepEqual(r.body.detail[0].loc, loc, JSON.stringify(body));
  }

  // flatten both strategies (zero P&L), then reset on 20000
  for (const s of [SA1, SA2]) {
    r = await api(srv, 'POST', `/api/signals/runtimes/${s}/force-close-all`, { tok: ta });
    assert.equal(r.status, 200, r.text);
  }
  r = await api(srv, 'POST', '/api/account/paper/reset', { tok: ta, body: { mode: 'paper', starting_capital: '20000' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.starting_capital, r.body.is_default, r.body.resets, r.body.closes, r.body.equity],
    ['20000.00', false, 1, 0, '20000.00']);
  assert.deepEqual([r.body.previous.starting_capital, r.body.previous.closes, r.body.previous.realized_pnl],
    ['10000.00', 5, '11.28'], 'before: three closes and the two force-closes');
  assert.ok(Date.parse(r.body.started_at) > Date.now() - 60000);
  r = await api(srv, 'GET', '/api/account/paper/ledger', { tok: ta });
  assert.deepEqual(r.body.items, [], 'the closes before the reset are not the new account\'s');
  r = await api(srv, 'GET', '/api/account/paper', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.starting_capital, r.body.realized_pnl, r.body.equity], ['20000.00', '0.00', '20000.00']);

  // the same trades, now a percent of 20000.00; the performance overview and the portfolio read it too
  r = await api(srv, 'GET', `/api/strategies/${SA1}/performance`, { tok: ta });
  assert.deepEqual([r.body.initial_capital, r.body.pnl, r.body.pnl_percent], ['20000.00', '34.52', 0.1726]);
  assert.equal(r.body.equity_curve[0].equity, '20000.00');
  r = await api(srv, 'GET', '/api/performance', { tok: ta });
  assert.equal(r.body.initial_capital, '20000.00');
  r = await api(srv, 'GET', '/api/portfolio', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.account.starting_capital, r.body.account.closes], ['20000.00', 0]);

  // B's account is B's: never reset until now, a body without a capital keeps 10000.00
  r = await api(srv, 'POST', '/api/account/paper/reset', { tok: tb });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.starting_capital, r.body.previous.realized_pnl, r.body.previous.equity], ['10000.00', '196.76', '10196.76']);
  r = await api(srv, 'GET', '/api/account/paper', { tok: ta });
  assert.equal(r.body.starting_capital, '20000.00', 'B\'s reset did not touch A\'s account');
});
