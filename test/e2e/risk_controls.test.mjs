// test/e2e/risk_controls.test.mjs: the risk controls over HTTP (docs/protections.md, docs/trading-state.md,
// docs/stream.md): protections CRUD with their answers and locators, another user's protection (404); the
// user's kill switch (PUT /api/risk/state) refusing a fire made through a webhook and showing in Get Risk, and
// its trading_state event on the signal stream with an id, also through the strategy and instrument filters
// and in a replay; the service's state (service_role only) broadcast to the streams as trading_state without
// an id, honouring the instrument filter; a cooldown that locks after a close (a risk_lock event), List Locks
// and lifting the lock (409 the second time). The rules themselves are tested in the extension's suites; this
// proves the routes and the stream reach them and answer as documented (every answer is checked against
// http/openapi.json by api()).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';

let srv, ta, tb, svc, strategy, hook, secret;
const A = uid('9c', 1);
const B = uid('9c', 2);
const SVC = uid('9c', 99);
let order = 0;
// TradingView's alert message (docs/webhooks.md, "Sending an alert"); every alert has its own order id
const alert = (o = {}) => JSON.stringify({ passphrase: secret, ticker: 'CME_MINI:MNQ1!', action: 'buy', contracts: '1',
  price: '20001.25', sentiment: 'long', time: new Date().toISOString(), id: `rc-${++order}`, ...o });
const fire = async (o) => {
  const r = await api(srv, 'POST', `/api/hooks/${hook}`, { raw: alert(o), headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.status, 200, r.text);
  return r.body;
};
// TradersPost's exit: flattens the hook's strategy
const exit = () => fire({ action: 'exit', sentiment: 'flat', contracts: undefined, price: '20003.50' });

// stream: GET /api/signals/stream read by hand, so a frame without an id line can be told from one with
// (an EventSource would report the previous id for it); frames are {id (absent: none), event, data}
async function stream(tok, query = '', headers = {}) {
  const ctl = new AbortController();
  const res = await fetch(`${srv.base}/api/signals/stream${query}`,
    { headers: { Authorization: `Bearer ${tok}`, ...headers }, signal: ctl.signal });
  assert.equal(res.status, 200);
  const st = { frames: [], text: '', close: () => ctl.abort() };
  (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        st.text += dec.decode(chunk, { stream: true });
        let i;
        while ((i = st.text.indexOf('\n\n')) >= 0) {
          const block = st.text.slice(0, i);
          st.text = st.text.slice(i + 2);
          const f = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const j = line.indexOf(': ');
            f[line.slice(0, j)] = line.slice(j + 2);
          }
          if (f.event) st.frames.push({ ...(f.id !== undefined ? { id: Number(f.id) } : {}), event: f.event, data: JSON.parse(f.data) });
        }
      }
    } catch { /* aborted */ }
  })();
  st.of = (event) => st.frames.filter((f) => f.event === event);
  await until(() => st.of('compliance').length === 1, 5000, 'the compliance banner');
  return st;
}

const serviceState = (body) => api(srv, 'PUT', '/api/risk/service-state', { tok: svc, body });

before(async () => {
  ensureDb();
  for (const u of [A, B]) psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  acceptCompliance(A, B);
  srv = await startEx7d({ EX7_RATE_LIMITS: 'off' });
  ta = await token(A);
  tb = await token(B);
  svc = await token(SVC, { role: 'service_role' });
  const s = await api(srv, 'POST', '/api/strategies', { tok: ta, body: { name: `risk controls ${Date.now()}`, instrument: 'MNQ', timeframe: '5m' } });
  assert.equal(s.status, 201, s.text);
  strategy = s.body.id;
  assert.equal((await api(srv, 'POST', `/api/strategies/${strategy}/promote`, { tok: ta })).body.status, 'ready');
  const h = await api(srv, 'POST', '/api/hooks', { tok: ta, body: { strategy_id: strategy, label: 'risk controls' } });
  assert.equal(h.status, 201, h.text);
  hook = h.body.id;
  secret = h.body.secret;
});

after(async () => {
  // the service's state is every user's: leave none behind for the next file
  if (svc) for (const scope of ['*', 'MYM']) await serviceState({ scope, state: 'active' });
  await srv?.stop();
});

test('protections: create (201, the kind\'s defaults), list, get, patch, delete (204); 404 for another user\'s; 422 locators', async () => {
  let r = await api(srv, 'POST', '/api/risk/protections', { tok: ta, body: { kind: 'cooldown', strategy_id: strategy, bars: 3 } });
  assert.equal(r.status, 201, r.text);
  const cd = r.body;
  assert.equal(cd.kind, 'cooldown');
  assert.equal(cd.mode, 'paper');
  assert.equal(cd.scope, 'strategy');
  assert.equal(cd.strategy_id, strategy);
  assert.equal(cd.instrument, null);
  assert.deepEqual(cd.params, { bars: 3 });
  assert.equal(cd.enabled, true);
  r = await api(srv, 'POST', '/api/risk/protections', { tok: ta, body: { kind: 'stoploss_guard', instrument: 'mnq' } });
  assert.equal(r.status, 201, r.text);
  const sg = r.body;
  assert.equal(sg.scope, 'instrument');
  assert.equal(sg.instrument, 'MNQ');
  assert.deepEqual(sg.params, { trade_limit: 3, lookback_minutes: 60, lock_minutes: 60 }, 'the defaults of stoploss_guard');

  r = await api(srv, 'GET', '/api/risk/protections', { tok: ta });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.items.map((p) => p.id), [cd.id, sg.id], 'oldest first');
  assert.deepEqual((await api(srv, 'GET', '/api/risk/protections?mode=live', { tok: ta })).body.items, []);
  assert.deepEqual((await api(srv, 'GET', '/api/risk/protections', { tok: tb })).body.items, [], 'B sees none of A\'s');
  r = await api(srv, 'GET', `/api/risk/protections/${cd.id}`, { tok: ta });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, cd);

  r = await api(srv, 'PATCH', `/api/risk/protections/${cd.id}`, { tok: ta, body: { bars: 4, enabled: false } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.params, { bars: 4 });
  assert.equal(r.body.enabled, false);

  // another user's protection is not found, whatever the method
  for (const method of ['GET', 'DELETE']) {
    r = await api(srv, method, `/api/risk/protections/${cd.id}`, { tok: tb });
    assert.equal(r.status, 404, `${method}: ${r.text}`);
  }
  assert.equal((await api(srv, 'PATCH', `/api/risk/protections/${cd.id}`, { tok: tb, body: { bars: 1 } })).status, 404);
  assert.equal((await api(srv, 'GET', '/api/risk/protections')).status, 401);

  // 422 with the locator of every bad member
  const bad = async (method, p, body, locs) => {
    const res = await api(srv, method, p, { tok: ta, body });
    assert.equal(res.status, 422, `${method} ${p} ${JSON.stringify(body)}: ${res.text}`);
    assert.deepEqual(res.body.detail.map((d) => d.loc), locs, JSON.stringify(body));
    return res;
  };
  await bad('POST', '/api/risk/protections', { kind: 'nope' }, [['body', 'kind']]);
  await bad('POST', '/api/risk/protections', { bars: 2 }, [['body', 'kind']]);
  await bad('POST', '/api/risk/protections', { kind: 'max_drawdown' }, [['body', 'max_drawdown']]);
  await bad('POST', '/api/risk/protections', { kind: 'cooldown', bars: 0, colour: 'red' }, [['body', 'bars'], ['body', 'colour']]);
  await bad('POST', '/api/risk/protections', { kind: 'cooldown', strategy_id: strategy, instrument: 'MNQ' }, [['body', 'instrument']]);
  await bad('POST', '/api/risk/protections', { kind: 'cooldown', mode: 'demo' }, [['body', 'mode']]);
  await bad('POST', '/api/risk/protections', undefined, [['body']]);
  r = await bad('PATCH', `/api/risk/protections/${cd.id}`, { kind: 'low_profit' }, [['body', 'kind']]);
  assert.equal(r.body.detail[0].type, 'value_error.const');
  await bad('PATCH', `/api/risk/protections/${sg.id}`, { bars: 2 }, [['body', 'bars']]);
  await bad('GET', '/api/risk/protections/not-a-uuid', undefined, [['path', 'protection_id']]);
  await bad('GET', '/api/risk/protections?mode=demo', undefined, [['query', 'mode']]);

  r = await api(srv, 'DELETE', `/api/risk/protections/${sg.id}`, { tok: ta });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  assert.equal((await api(srv, 'DELETE', `/api/risk/protections/${sg.id}`, { tok: ta })).status, 404, 'deleted already');
  assert.equal((await api(srv, 'GET', `/api/risk/protections/${sg.id}`, { tok: ta })).status, 404);
  assert.equal((await api(srv, 'DELETE', `/api/risk/protections/${cd.id}`, { tok: ta })).status, 204);
  assert.deepEqual((await api(srv, 'GET', '/api/risk/protections', { tok: ta })).body.items, []);
});

test('a halt (PUT /api/risk/state) refuses a webhook\'s fire, shows in Get Risk, and is a trading_state event with an id', async () => {
  const all = await stream(ta);
  // a user-wide event concerns every strategy and every instrument: it passes both filters
  const filtered = await stream(ta, `?strategy_id=${strategy}&instrument=mnq`);
  let r = await api(srv, 'PUT', '/api/risk/state?mode=paper', { tok: ta, body: { state: 'halted', reason: 'e2e kill switch' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.mode, 'paper');
  assert.equal(r.body.state, 'halted');
  assert.equal(r.body.reason, 'e2e kill switch');
  assert.equal(r.body.effective, 'halted');
  assert.equal(r.body.effective_source, 'user');
  assert.deepEqual(r.body.flattened, []);
  const halted = r.body.event_id;
  assert.ok(Number.isInteger(halted) && halted > 0);
  r = await api(srv, 'GET', '/api/risk/state', { tok: ta });
  assert.equal(r.status, 200);
  assert.equal(r.body.state, 'halted');
  assert.equal((await api(srv, 'GET', '/api/risk/state', { tok: tb })).body.state, 'active', 'B\'s own switch is untouched');

  const refused = await fire();
  assert.equal(refused.outcome, 'blocked', JSON.stringify(refused));
  assert.equal(refused.signal, null);
  assert.equal(refused.blocked.triggered_limit, 'trading_state');
  assert.equal(refused.blocked.reason, 'halted');
  r = await api(srv, 'GET', '/api/risk', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.trading_allowed, false);
  assert.equal(r.body.blocked_reason.breaker, 'trading_state');
  assert.equal(r.body.blocked_reason.reason, 'halted');
  assert.equal(r.body.trading_state.state, 'halted');
  assert.equal(r.body.trading_state.source, 'user');
  assert.equal((await api(srv, 'GET', '/api/signals?status=open', { tok: ta })).body.items.length, 0, 'nothing fired');

  for (const st of [all, filtered]) {
    await until(() => st.of('trading_state').length === 1, 5000, 'the trading_state event');
    const [f] = st.of('trading_state');
    assert.equal(f.id, halted, 'the event id the PUT answered');
    assert.equal(f.data.state, 'halted');
    assert.equal(f.data.mode, 'paper');
    assert.equal(f.data.reason, 'e2e kill switch');
  }

  // bad input: 422 with the locator; the state is unchanged
  for (const [q, body, loc] of [['?mode=paper', { state: 'paused' }, ['body', 'state']],
    ['?mode=paper', { state: 'active', flatten: true }, ['body', 'flatten']],
    ['?mode=paper', { state: 'halted', colour: 'red' }, ['body', 'colour']],
    ['?mode=paper', undefined, ['body']], ['?mode=demo', { state: 'halted' }, ['query', 'mode']]]) {
    r = await api(srv, 'PUT', `/api/risk/state${q}`, { tok: ta, body });
    assert.equal(r.status, 422, `${q} ${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(r.body.detail[0].loc, loc);
  }

  r = await api(srv, 'PUT', '/api/risk/state', { tok: ta, body: { state: 'active' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'active');
  assert.equal(r.body.reason, null);
  assert.equal(r.body.event_id, halted + 1);
  assert.equal((await api(srv, 'GET', '/api/risk', { tok: ta })).body.trading_allowed, true);
  for (const st of [all, filtered]) {
    await until(() => st.of('trading_state').length === 2, 5000, 'the second trading_state event');
    assert.deepEqual(st.of('trading_state').map((f) => [f.id, f.data.state]), [[halted, 'halted'], [halted + 1, 'active']]);
  }
  all.close();
  filtered.close();

  // a replay from before the halt sends both again, with their ids (the instrument filter lets them through)
  const again = await stream(ta, '?instrument=MNQ', { 'Last-Event-ID': String(halted - 1) });
  await until(() => again.of('trading_state').length === 2, 5000, 'the replayed trading_state events');
  assert.deepEqual(again.of('trading_state').map((f) => [f.id, f.data.state]), [[halted, 'halted'], [halted + 1, 'active']]);
  again.close();
});

test('a replay filtered by strategy_id includes the user-wide events (strategy_id null)', async () => {
  const last = Number(psql(`SELECT ex7.last_event_id('${A}')`));
  const r = await api(srv, 'PUT', '/api/risk/state', { tok: ta, body: { state: 'active', reason: 'replay probe' } });
  assert.equal(r.status, 200, r.text);
  const st = await stream(ta, `?strategy_id=${strategy}`, { 'Last-Event-ID': String(last) });
  try {
    await until(() => st.of('trading_state').length === 1, 3000, 'the replayed user-wide event');
  } finally {
    st.close();
  }
});

test('the service\'s trading state: service_role only; a change is event trading_state without an id on every stream, by instrument', async () => {
  assert.equal((await api(srv, 'GET', '/api/risk/service-state', { tok: ta })).status, 403);
  assert.equal((await api(srv, 'PUT', '/api/risk/service-state', { tok: ta, body: { state: 'halted' } })).status, 403);
  assert.equal((await api(srv, 'PUT', '/api/risk/service-state', { body: { state: 'halted' } })).status, 401);
  let r = await serviceState({ scope: 'NOPE', state: 'halted' });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'scope']);
  r = await serviceState({ scope: 'MYM', state: 'sideways' });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'state']);

  const all = await stream(ta);
  const mnq = await stream(tb, '?instrument=MNQ');
  r = await serviceState({ scope: 'mym', state: 'halted', reason: 'exchange incident' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((i) => [i.scope, i.instrument, i.state, i.reason]), [['instrument', 'MYM', 'halted', 'exchange incident']]);
  r = await serviceState({ state: 'reducing', reason: 'market-wide' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((i) => [i.scope, i.instrument, i.state]), [['all', null, 'reducing'], ['instrument', 'MYM', 'halted']]);
  r = await api(srv, 'GET', '/api/risk/service-state', { tok: svc });
  assert.equal(r.status, 200);
  assert.equal(r.body.items.length, 2);

  await until(() => all.of('trading_state').length === 2, 5000, 'both broadcasts on the unfiltered stream');
  const [one, every] = all.of('trading_state');
  assert.ok(!('id' in one) && !('id' in every), 'a broadcast has no id: it is in no user\'s log');
  assert.deepEqual([one.data.scope, one.data.instrument, one.data.state, one.data.reason], ['instrument', 'MYM', 'halted', 'exchange incident']);
  assert.deepEqual([every.data.scope, every.data.instrument, every.data.state], ['all', null, 'reducing']);
  assert.ok(every.data.changed_at);
  // the MNQ stream gets the change for every instrument, not MYM's (the frames of one stream keep their order)
  await until(() => mnq.of('trading_state').length >= 1, 5000, 'the broadcast on the MNQ stream');
  await new Promise((res) => setTimeout(res, 200));
  assert.deepEqual(mnq.of('trading_state').map((f) => [f.id, f.data.scope, f.data.state]), [[undefined, 'all', 'reducing']]);

  // every user sees the service's states with their own
  r = await api(srv, 'GET', '/api/risk/state', { tok: tb });
  assert.equal(r.body.state, 'active');
  assert.equal(r.body.effective, 'reducing');
  assert.equal(r.body.effective_source, 'service');
  assert.deepEqual(r.body.service.map((i) => i.scope), ['all', 'instrument']);

  for (const scope of ['*', 'MYM']) {
    r = await serviceState({ scope, state: 'active' });
    assert.equal(r.status, 200, r.text);
  }
  assert.deepEqual(r.body.items, []);
  await until(() => all.of('trading_state').length === 4, 5000, 'the two changes back to active');
  assert.deepEqual(all.of('trading_state').slice(2).map((f) => [f.id, f.data.scope, f.data.state]),
    [[undefined, 'all', 'active'], [undefined, 'instrument', 'active']]);
  assert.equal((await api(srv, 'GET', '/api/risk/state', { tok: tb })).body.effective, 'active');
  all.close();
  mnq.close();
});

test('a cooldown locks the strategy after a close: a risk_lock event, List Locks, a refused fire; DELETE lifts it (409 the second time)', async () => {
  let r = await api(srv, 'POST', '/api/risk/protections', { tok: ta, body: { kind: 'cooldown', strategy_id: strategy, bars: 2 } });
  assert.equal(r.status, 201, r.text);
  const protection = r.body.id;
  const all = await stream(ta);
  const filtered = await stream(ta, `?strategy_id=${strategy}&instrument=MNQ`);
  const entered = await fire();
  assert.equal(entered.outcome, 'accepted', JSON.stringify(entered));
  const closed = await exit();
  assert.equal(closed.intent, 'flatten', JSON.stringify(closed));
  assert.deepEqual(closed.closed.map((s) => s.id), [entered.signal.id]);

  for (const st of [all, filtered]) {
    await until(() => st.of('risk_lock').length === 1, 5000, 'the risk_lock event');
    assert.deepEqual(st.frames.filter((f) => f.id).map((f) => f.event), ['signal', 'signal_closed', 'risk_lock'],
      'the fire, the close, then the lock it triggered');
  }
  const [ev] = all.of('risk_lock');
  const lock = ev.data;
  assert.equal(lock.kind, 'cooldown');
  assert.equal(lock.reason, 'cooldown_locked');
  assert.equal(lock.protection_id, protection);
  assert.equal(lock.scope, 'strategy');
  assert.equal(lock.strategy_id, strategy);
  assert.equal(lock.signal_id, entered.signal.id);
  assert.equal(lock.active, true);
  assert.equal(lock.lifted_at, null);
  const ids = all.frames.filter((f) => f.id).map((f) => f.id);
  assert.deepEqual(ids, [ids[0], ids[0] + 1, ids[0] + 2], 'one dense sequence of the user\'s events');

  r = await api(srv, 'GET', '/api/risk/locks', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((l) => [l.id, l.active]), [[lock.id, true]]);
  assert.equal(r.body.next_cursor, null);
  assert.deepEqual((await api(srv, 'GET', '/api/risk/locks?mode=paper&state=all&limit=1', { tok: ta })).body.items.map((l) => l.id), [lock.id]);
  assert.deepEqual((await api(srv, 'GET', '/api/risk/locks', { tok: tb })).body.items, [], 'B sees none of A\'s');
  for (const [q, loc] of [['?state=maybe', ['query', 'state']], ['?mode=demo', ['query', 'mode']], ['?limit=x', ['query', 'limit']]]) {
    r = await api(srv, 'GET', `/api/risk/locks${q}`, { tok: ta });
    assert.equal(r.status, 422, `${q}: ${r.text}`);
    assert.deepEqual(r.body.detail[0].loc, loc);
  }

  const refused = await fire();
  assert.equal(refused.outcome, 'blocked', JSON.stringify(refused));
  assert.equal(refused.blocked.triggered_limit, 'cooldown');

  assert.equal((await api(srv, 'DELETE', `/api/risk/locks/${lock.id}`, { tok: tb })).status, 404, 'not B\'s lock');
  r = await api(srv, 'DELETE', '/api/risk/locks/not-a-uuid', { tok: ta });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'lock_id']);
  r = await api(srv, 'DELETE', `/api/risk/locks/${lock.id}`, { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.id, lock.id);
  assert.equal(r.body.active, false);
  assert.ok(r.body.lifted_at);
  r = await api(srv, 'DELETE', `/api/risk/locks/${lock.id}`, { tok: ta });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'lock_not_active');
  assert.deepEqual((await api(srv, 'GET', '/api/risk/locks', { tok: ta })).body.items, [], 'no active lock');
  assert.equal((await api(srv, 'GET', '/api/risk/locks?state=all', { tok: ta })).body.items[0].lifted_at, r.body.detail.lock.lifted_at);

  // lifted: the strategy enters again
  const reentered = await fire();
  assert.equal(reentered.outcome, 'accepted', JSON.stringify(reentered));
  all.close();
  filtered.close();
});
