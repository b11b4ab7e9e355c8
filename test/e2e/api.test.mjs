// test/e2e/api.test.mjs: the Strategies, Signals, Runtimes and Risk routes of ex7-api-reference.txt over
// HTTP: status codes, bodies, ordering, cursors, another user's resources as 404, and shape errors as 422
// with their locators. The rules themselves are tested in sql/; this proves the routes reach them intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, GRAPH, acceptCompliance } from './lib.mjs';

let srv, ta, tb;
const A = uid('d0', 1);
const B = uid('d0', 2);
before(async () => {
  ensureDb();
  // these tests make more than the free tier's 30 requests a minute (ratelimit.test.mjs tests that cap)
  for (const u of [A, B, uid('d0', 3)]) {
    psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
    acceptCompliance(u); // runtimes and closes are gated on the compliance documents (docs/billing.md)
  }
  srv = await startEx7d();
  ta = await token(A);
  tb = await token(B);
});
after(async () => { await srv.stop(); });

const strat = (name, extra = {}) => ({ name, instrument: 'MNQ', timeframe: '5m', tags: ['e2e'], graph: GRAPH, ...extra });

test('strategy lifecycle over HTTP: create 201, get, update with If-Match, promote, 409 with allowed set, delete 204', async () => {
  let r = await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('life') });
  assert.equal(r.status, 201, r.text);
  const s = r.body;
  assert.equal(s.status, 'draft');
  assert.equal(s.current_version, 1);
  assert.deepEqual(s.allowed_transitions, ['ready', 'archived']);

  r = await api(srv, 'GET', `/api/strategies/${s.id}`, { tok: ta });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.graph, GRAPH);
  assert.equal(r.headers.get('etag'), `"${s.etag}"`, 'ETag header carries the row etag');
  assert.ok(Number(r.headers.get('x-ratelimit-limit')) > 0);
  assert.ok(r.headers.get('x-ratelimit-remaining') !== null && r.headers.get('x-ratelimit-reset') !== null);
  r = await api(srv, 'PUT', `/api/strategies/${s.id}`, { tok: ta, body: { description: 'quoted If-Match' }, headers: { 'If-Match': r.headers.get('etag') } });
  assert.equal(r.status, 200, 'the ETag header value is accepted as If-Match');
  s.etag = r.body.etag;

  r = await api(srv, 'PUT', `/api/strategies/${s.id}`, { tok: ta, body: { description: 'v2', graph: { ...GRAPH, meta: { v: 2 } } }, headers: { 'If-Match': s.etag } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.current_version, 2);
  assert.notEqual(r.body.etag, s.etag);
  r = await api(srv, 'PUT', `/api/strategies/${s.id}`, { tok: ta, body: { description: 'stale' }, headers: { 'If-Match': s.etag } });
  assert.equal(r.status, 409);
  assert.equal(r.body.detail.code, 'etag_mismatch');

  for (const want of ['ready', 'live']) {
    r = await api(srv, 'POST', `/api/strategies/${s.id}/promote`, { tok: ta });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, want);
  }
  r = await api(srv, 'POST', `/api/strategies/${s.id}/promote`, { tok: ta });
  assert.equal(r.status, 409);
  assert.deepEqual(r.body.detail, { code: 'invalid_transition', status: 'live', action: 'promote', allowed: ['paused', 'archived'] });

  r = await api(srv, 'POST', `/api/strategies/${s.id}/archive`, { tok: ta });
  assert.equal(r.body.status, 'archived');
  r = await api(srv, 'POST', `/api/strategies/${s.id}/archive`, { tok: ta });
  assert.equal(r.status, 409, 'archived -> archived is not an edge');
  r = await api(srv, 'POST', `/api/strategies/${s.id}/unarchive`, { tok: ta });
  assert.equal(r.body.status, 'draft');

  r = await api(srv, 'DELETE', `/api/strategies/${s.id}`, { tok: ta });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  r = await api(srv, 'GET', `/api/strategies/${s.id}`, { tok: ta });
  assert.equal(r.status, 404);
});

test('another user\'s strategy is a 404 on every route, never a leak', async () => {
  const s = (await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('private') })).body;
  for (const [m, p, body] of [['GET', ''], ['PUT', '', { description: 'x' }], ['DELETE', ''], ['POST', '/promote'],
    ['POST', '/archive'], ['GET', '/export'], ['GET', '/versions'], ['GET', '/versions/1'], ['POST', '/clone', {}],
    ['POST', '/rollback', { to_version: 1 }]]) {
    const r = await api(srv, m, `/api/strategies/${s.id}${p}`, { tok: tb, body });
    assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
    assert.ok(!r.text.includes('private'), 'no data of A in the answer');
  }
  const r = await api(srv, 'GET', '/api/strategies', { tok: tb });
  assert.ok(!r.body.items.some((x) => x.id === s.id));
});

test('list strategies: keyset pages newest first, opaque cursor, tampered cursor 422, limit bounds 422', async () => {
  const U = uid('d0', 3);
  const t = await token(U);
  for (let i = 0; i < 5; i++) assert.equal((await api(srv, 'POST', '/api/strategies', { tok: t, body: strat(`page ${i}`) })).status, 201);
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const r = await api(srv, 'GET', `/api/strategies?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { tok: t });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.body.items.map((x) => x.name));
    cursor = r.body.next_cursor;
    pages++;
  } while (cursor && pages < 10);
  assert.deepEqual(seen, ['page 4', 'page 3', 'page 2', 'page 1', 'page 0']);
  assert.equal(pages, 3);
  let r = await api(srv, 'GET', '/api/strategies?limit=2&cursor=bm90LWEtY3Vyc29y', { tok: t });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'cursor']);
  for (const bad of ['0', '201', 'ten']) {
    r = await api(srv, 'GET', `/api/strategies?limit=${bad}`, { tok: t });
    assert.equal(r.status, 422, bad);
    assert.deepEqual(r.body.detail[0].loc, ['query', 'limit']);
  }
  r = await api(srv, 'GET', '/api/strategies?status=deleted', { tok: t });
  assert.equal(r.status, 422);
});

test('shape errors are 422 with locators; nothing is created', async () => {
  const before = psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${A}'`);
  let r = await api(srv, 'POST', '/api/strategies', { tok: ta, raw: '{"name": ', headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400, 'malformed JSON');
  assert.equal(typeof r.body.detail, 'string');
  r = await api(srv, 'POST', '/api/strategies', { tok: ta, raw: '[1,2]' });
  assert.equal(r.status, 422, 'JSON, but not an object');
  assert.deepEqual(r.body.detail[0].loc, ['body']);
  r = await api(srv, 'POST', '/api/strategies', { tok: ta, raw: JSON.stringify({ ...strat('huge'), description: 'x'.repeat(1100000) }) });
  assert.equal(r.status, 413, 'over EX7_BODY_LIMIT');
  assert.match(r.body.detail, /larger than/);
  r = await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('bad', { instrument: 'XYZ' }) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'instrument']);
  r = await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('bad', { timeframe: '7m' }) });
  assert.deepEqual(r.body.detail[0].loc, ['body', 'timeframe']);
  r = await api(srv, 'GET', '/api/strategies/not-a-uuid', { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'strategy_id']);
  r = await api(srv, 'GET', '/api/signals?from=yesterday', { tok: ta });
  assert.deepEqual(r.body.detail[0].loc, ['query', 'from']);
  r = await api(srv, 'GET', '/api/strategies/00000000-0000-4000-8000-000000000000/versions/x', { tok: ta });
  assert.deepEqual(r.body.detail[0].loc, ['path', 'version']);
  assert.equal(psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${A}'`), before);
  r = await api(srv, 'GET', '/api/nothing-here', { tok: ta });
  assert.equal(r.status, 404);
  r = await api(srv, 'PATCH', '/api/strategies', { tok: ta });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, POST, OPTIONS');
});

test('versions and rollback over HTTP', async () => {
  const s = (await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('versions') })).body;
  await api(srv, 'PUT', `/api/strategies/${s.id}`, { tok: ta, body: { graph: { ...GRAPH, meta: { v: 2 } } } });
  let r = await api(srv, 'GET', `/api/strategies/${s.id}/versions?limit=1`, { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.items[0].version, 2);
  assert.equal(r.body.next_cursor, 2);
  r = await api(srv, 'GET', `/api/strategies/${s.id}/versions?limit=1&cursor=2`, { tok: ta });
  assert.equal(r.body.items[0].version, 1);
  assert.equal(r.body.next_cursor, null);
  r = await api(srv, 'POST', `/api/strategies/${s.id}/rollback`, { tok: ta, body: { to_version: 1 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.current_version, 3);
  r = await api(srv, 'POST', `/api/strategies/${s.id}/rollback`, { tok: ta, body: { to_version: 3 } });
  assert.equal(r.status, 409, 'rollback to the current version');
  r = await api(srv, 'POST', `/api/strategies/${s.id}/rollback`, { tok: ta, body: { to_version: 99 } });
  assert.equal(r.status, 404);
  r = await api(srv, 'POST', `/api/strategies/${s.id}/rollback`, { tok: ta, body: { to_version: 'one' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'to_version']);
});

test('export, import round trip, name_on_conflict, clone 201', async () => {
  const s = (await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('portable', { description: 'travel' }) })).body;
  const ex = await api(srv, 'GET', `/api/strategies/${s.id}/export`, { tok: ta });
  assert.equal(ex.status, 200);
  assert.equal(ex.body.format, 'ex7.strategy/v1');
  assert.ok(!('id' in ex.body) && !('user_id' in ex.body));
  let r = await api(srv, 'POST', '/api/strategies/import', { tok: ta, body: ex.body });
  assert.equal(r.status, 409, 'name taken');
  r = await api(srv, 'POST', '/api/strategies/import', { tok: ta, body: { ...ex.body, name_on_conflict: 'suffix' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.name, 'portable (2)');
  assert.deepEqual(r.body.graph, ex.body.graph);
  r = await api(srv, 'POST', '/api/strategies/import', { tok: tb, body: ex.body });
  assert.equal(r.status, 201, 'another user imports the same payload');
  r = await api(srv, 'POST', '/api/strategies/import', { tok: ta, body: { ...ex.body, format: 'ex7.strategy/v0' } });
  assert.equal(r.status, 422);
  r = await api(srv, 'POST', `/api/strategies/${s.id}/clone`, { tok: ta });
  assert.equal(r.status, 201);
  assert.equal(r.body.name, 'portable (copy)');
  assert.equal(r.body.current_version, 1);
});

test('signals over HTTP: list, get, close with P&L, 409 with the current row, force-close-all, audit, legacy', async () => {
  const s = (await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('signals') })).body;
  const fire = (side, price, minutes) => JSON.parse(psql(`SELECT ex7.fire_signal('${A}', '${s.id}', 'paper', '${side}', 1, ${price}, now() - interval '${minutes} minutes')`));
  const f1 = fire('long', 18000.00, 30);
  const f2 = fire('short', 18010.00, 20);
  fire('long', 18020.00, 10);
  assert.equal(f1.decision, 'fired');

  let r = await api(srv, 'GET', `/api/signals?strategy_id=${s.id}&limit=2`, { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.items.length, 2);
  assert.ok(r.body.next_cursor);
  const r2 = await api(srv, 'GET', `/api/signals?strategy_id=${s.id}&limit=2&cursor=${encodeURIComponent(r.body.next_cursor)}`, { tok: ta });
  assert.equal(r2.body.items.length, 1);
  assert.equal(r2.body.next_cursor, null);
  const order = [...r.body.items, ...r2.body.items].map((x) => x.fired_at);
  assert.deepEqual(order, [...order].sort().reverse(), 'fired_at DESC');

  r = await api(srv, 'GET', `/api/signals/${f1.signal.id}`, { tok: tb });
  assert.equal(r.status, 404, 'not owned');
  r = await api(srv, 'POST', `/api/signals/${f1.signal.id}/close`, { tok: ta, body: { close_price: 18010.25 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'cancelled');
  assert.equal(r.body.close_reason, 'user');
  // 1 MNQ long 18000.00 -> 18010.25: 41 ticks x 0.50 = 20.50 gross, less 4 ticks slippage (2.00) and 2 x 0.62 commission
  assert.equal(r.body.gross_pnl, '20.50');
  assert.equal(r.body.net_pnl, '17.26');
  r = await api(srv, 'POST', `/api/signals/${f1.signal.id}/close`, { tok: ta, body: { close_price: 18011.00 } });
  assert.equal(r.status, 409);
  assert.equal(r.body.detail.signal.id, f1.signal.id);
  assert.equal(r.body.detail.signal.net_pnl, '17.26', 'the current row, unchanged');
  r = await api(srv, 'POST', `/api/signals/${f2.signal.id}/close`, { tok: ta, body: { close_price: 18010.10 } });
  assert.equal(r.status, 422, 'off the tick grid');
  r = await api(srv, 'POST', `/api/signals/${f2.signal.id}/close`, { tok: ta, body: { close_price: 'abc' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'close_price']);
  r = await api(srv, 'POST', `/api/signals/${f2.signal.id}/close`, { tok: ta, body: { close_price: '18009.75' } });
  assert.equal(r.status, 200, 'a numeric string is exact too');

  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/force-close-all`, { tok: tb });
  assert.equal(r.status, 403, 'force-close-all on someone else\'s strategy: 403 (contract)');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/force-close-all`, { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body, 1, 'the number of signals cancelled (Force Close All: "Returns the number")');

  r = await api(srv, 'GET', `/api/signals/audit?strategy_id=${s.id}`, { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.items.length, 3);
  assert.ok(r.body.items.every((x) => x.decision === 'fired'));
  r = await api(srv, 'GET', '/api/legacy/signals?hours=1', { tok: ta });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body) && r.body.length >= 3);
  r = await api(srv, 'GET', '/api/legacy/signals/MNQ?hours=1', { tok: ta });
  assert.ok(r.body.every((x) => x.instrument === 'MNQ'));
  r = await api(srv, 'GET', '/api/legacy/signals?hours=0', { tok: ta });
  assert.equal(r.status, 422);
});

test('runtimes over HTTP: start gates, idempotent start, stop, list, health/me', async () => {
  const s = (await api(srv, 'POST', '/api/strategies', { tok: ta, body: strat('runtime') })).body;
  let r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: ta });
  assert.equal(r.status, 409, 'draft is not startable');
  assert.equal(r.body.detail.code, 'strategy_not_startable');
  await api(srv, 'POST', `/api/strategies/${s.id}/promote`, { tok: ta });
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: tb });
  assert.equal(r.status, 403, 'someone else\'s strategy: 403 (contract gate 2)');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: ta, body: { mode: 'live' } });
  assert.equal(r.status, 403);
  assert.equal(r.body.detail.code, 'live_mode_disabled_v1');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: ta, body: { mode: 'paper' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'starting');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: ta });
  assert.equal(r.status, 200, 'idempotent while starting');
  r = await api(srv, 'GET', '/api/signals/runtimes', { tok: ta });
  assert.ok(r.body.items.some((x) => x.strategy_id === s.id));
  r = await api(srv, 'GET', '/api/signals/health/me', { tok: ta });
  assert.ok(r.body.items.some((x) => x.strategy_id === s.id));
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/stop`, { tok: tb });
  assert.equal(r.status, 404, 'stop of someone else\'s runtime: 404 (contract)');
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/stop`, { tok: ta });
  assert.equal(r.status, 200);
});

test('risk over HTTP: state per mode, 422 on a bad mode, blocked list paging', async () => {
  let r = await api(srv, 'GET', '/api/risk?mode=paper', { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.mode, 'paper');
  assert.equal(typeof r.body.trading_allowed, 'boolean');
  r = await api(srv, 'GET', '/api/risk', { tok: ta });
  assert.equal(r.body.mode, 'paper', 'paper by default');
  r = await api(srv, 'GET', '/api/risk?mode=demo', { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['query', 'mode']);
  r = await api(srv, 'GET', '/api/risk/blocked?limit=10&offset=0', { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.limit, 10);
  assert.ok('total' in r.body && Array.isArray(r.body.items));
  r = await api(srv, 'GET', '/api/risk/blocked?limit=500', { tok: ta });
  assert.equal(r.status, 422);
  r = await api(srv, 'GET', '/api/risk/blocked?offset=-1', { tok: ta });
  assert.equal(r.status, 422);
});

test('health reports the newest signal time; X-Request-Id is echoed; CORS only for allowed origins', async () => {
  let r = await api(srv, 'GET', '/api/health');
  assert.ok(r.body.last_signal_time, 'signals fired above');
  r = await api(srv, 'GET', '/api/health', { headers: { 'X-Request-Id': 'trace-123' } });
  assert.equal(r.headers.get('x-request-id'), 'trace-123');
  r = await api(srv, 'GET', '/api/health', { headers: { 'X-Request-Id': 'bad id with spaces' } });
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  const s2 = await startEx7d({ ALLOWED_ORIGINS: 'https://app.ex7capital.com' });
  try {
    r = await api(s2, 'OPTIONS', '/api/strategies', { headers: { Origin: 'https://app.ex7capital.com', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.ex7capital.com');
    assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
    r = await api(s2, 'GET', '/api/health', { headers: { Origin: 'https://evil.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  } finally { await s2.stop(); }
});
