// test/e2e/hooks.test.mjs: the webhook intake over HTTP (docs/webhooks.md). A user's hook on a ready
// strategy, alerts posted as TradingView posts them (its alert message as the body, text/plain or
// application/json) and as TradersPost does, the signals they fire in the signal list with their source,
// duplicates, wrong secrets and unknown hooks (the same 404), invalid fields (422 with the locator), a paused
// hook (409), rotation, the log, another user's hook (404) and deletion. The rules themselves are tested in
// sql/hooks.sql and specs/hook_intake.spec; this proves the routes reach them and answer as documented.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance } from './lib.mjs';

let srv, ta, tb, hook, secret, strategy;
const A = uid('6b', 1);
const B = uid('6b', 2);
const PUBLIC_URL = 'https://ex7.example.com';
// TradingView's alert message, as its placeholders fill it in ({{ticker}}, {{strategy.order.action}}, ...)
const tv = (o) => JSON.stringify({ passphrase: secret, ticker: 'CME_MINI:MNQ1!', action: 'buy', contracts: '1',
  price: '20001.25', sentiment: 'long', time: new Date().toISOString(), comment: 'tv', ...o });
const post = (id, raw, type = 'text/plain; charset=utf-8') => api(srv, 'POST', `/api/hooks/${id}`, { raw, headers: { 'Content-Type': type } });

before(async () => {
  ensureDb();
  for (const u of [A, B]) psql(`SELECT ex7.ensure_user('${u}')`);
  acceptCompliance(A, B);
  srv = await startEx7d({ EX7_PUBLIC_URL: PUBLIC_URL });
  ta = await token(A);
  tb = await token(B);
  const s = await api(srv, 'POST', '/api/strategies', { tok: ta, body: { name: `hooked ${Date.now()}`, instrument: 'MNQ', timeframe: '5m' } });
  assert.equal(s.status, 201, s.text);
  strategy = s.body.id;
  assert.equal((await api(srv, 'POST', `/api/strategies/${strategy}/promote`, { tok: ta })).body.status, 'ready');
});

after(async () => {
  await srv?.stop();
});

test('POST /api/hooks: 201 with the public url and the secret, shown once; 422 and 404 for bad input', async () => {
  let r = await api(srv, 'POST', '/api/hooks', { tok: ta, body: { strategy_id: strategy, label: 'TradingView' } });
  assert.equal(r.status, 201, r.text);
  hook = r.body.id;
  secret = r.body.secret;
  assert.equal(r.body.url, `${PUBLIC_URL}/api/hooks/${hook}`);
  assert.match(secret, /^whk_[0-9a-f]{64}$/);
  r = await api(srv, 'GET', `/api/hooks/${hook}`, { tok: ta });
  assert.equal(r.status, 200);
  assert.ok(!('secret' in r.body), 'the secret is shown only at creation');
  r = await api(srv, 'GET', '/api/hooks', { tok: ta });
  assert.deepEqual(r.body.items.map((h) => h.id), [hook]);
  r = await api(srv, 'POST', '/api/hooks', { tok: ta, body: { strategy_id: strategy, label: '' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'label']);
  r = await api(srv, 'POST', '/api/hooks', { tok: tb, body: { strategy_id: strategy, label: 'not mine' } });
  assert.equal(r.status, 404, 'another user\'s strategy');
  assert.equal((await api(srv, 'GET', `/api/hooks/${hook}`, { tok: tb })).status, 404, 'another user\'s hook');
  assert.equal((await api(srv, 'GET', '/api/hooks')).status, 401);
});

test('a TradingView alert (text/plain) fires a signal through the gate; the same order id again is a duplicate', async () => {
  let r = await post(hook, tv({ id: 'order-1' }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.outcome, 'accepted');
  assert.equal(r.body.intent, 'enter');
  assert.equal(r.body.signal.side, 'long');
  assert.equal(r.body.signal.entry_price, '20001.25');
  assert.equal(r.body.signal.source, 'webhook');
  assert.equal(r.body.signal.hook_id, hook);
  const sig = r.body.signal.id;
  r = await post(hook, tv({ id: 'order-1' }), 'application/json');
  assert.equal(r.status, 200);
  assert.equal(r.body.outcome, 'duplicate');
  assert.equal(r.body.signal.id, sig, 'the first result');
  r = await api(srv, 'GET', `/api/signals?strategy_id=${strategy}`, { tok: ta });
  assert.deepEqual(r.body.items.map((s) => [s.id, s.source, s.status]), [[sig, 'webhook', 'open']]);
  // TradersPost: exit flattens
  r = await post(hook, JSON.stringify({ passphrase: secret, ticker: 'MNQ', action: 'exit', price: 20003.5 }), 'application/json');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.intent, 'flatten');
  assert.deepEqual(r.body.closed.map((s) => [s.id, s.close_reason, s.close_price]), [[sig, 'exit_signal', '20003.5']]);
});

test('a wrong or missing secret and an unknown hook are the same 404; a malformed id or a body that is not JSON is 422', async () => {
  for (const [id, body] of [[hook, tv({ passphrase: 'whk_wrong', id: 'w-1' })], [uid('6b', 999), tv({ id: 'w-2' })],
    [hook, JSON.stringify({ ticker: 'MNQ1!', action: 'buy', contracts: 1 })]]) {
    const r = await post(id, body);
    assert.equal(r.status, 404, `${id}: ${r.text}`);
    assert.deepEqual(r.body, { detail: 'hook not found' });
  }
  let r = await post('not-a-hook', tv({ id: 'w-3' }));
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'hook_id']);
  r = await post(hook, 'buy MNQ now');
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body']);
});

test('invalid fields are 422 with the locator, a stale alert is 422 at time; both are in the log', async () => {
  let r = await post(hook, tv({ ticker: 'MES1!', id: 'i-1' }));
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'ticker']);
  r = await post(hook, tv({ price: '20001.30', id: 'i-2' }));
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'price']);
  r = await post(hook, tv({ time: new Date(Date.now() - 10 * 60000).toISOString(), id: 'i-3' }));
  assert.equal(r.status, 422);
  assert.equal(r.body.detail[0].type, 'value_error.stale');
  r = await api(srv, 'GET', `/api/hooks/${hook}/events?limit=3`, { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.items.map((e) => [e.outcome, e.http_status]), [['stale', 422], ['invalid', 422], ['invalid', 422]]);
  assert.ok(r.body.items.every((e) => !('passphrase' in e.body)), 'the log keeps no passphrase');
  assert.ok(r.body.next_cursor);
  r = await api(srv, 'GET', `/api/hooks/${hook}/events?outcome=duplicate`, { tok: ta });
  assert.equal(r.body.items.length, 1);
  assert.equal((await api(srv, 'GET', `/api/hooks/${hook}/events`, { tok: tb })).status, 404);
  assert.equal((await api(srv, 'GET', `/api/hooks/${hook}/events?outcome=maybe`, { tok: ta })).status, 422);
});

test('a paused hook is 409; rotation retires the old secret; deletion makes the URL a 404', async () => {
  let r = await api(srv, 'PATCH', `/api/hooks/${hook}`, { tok: ta, body: { paused: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.paused, true);
  r = await post(hook, tv({ id: 'p-1' }));
  assert.equal(r.status, 409);
  assert.equal(r.body.detail.code, 'hook_paused');
  await api(srv, 'PATCH', `/api/hooks/${hook}`, { tok: ta, body: { paused: false } });
  r = await api(srv, 'POST', `/api/hooks/${hook}/rotate`, { tok: ta });
  assert.equal(r.status, 200, r.text);
  const old = secret;
  secret = r.body.secret;
  assert.notEqual(secret, old);
  assert.equal((await post(hook, tv({ passphrase: old, id: 'r-1', sentiment: 'flat', action: 'sell' }))).status, 404);
  assert.equal((await post(hook, tv({ id: 'r-2', sentiment: 'flat', action: 'sell' }))).status, 200);
  assert.equal((await api(srv, 'DELETE', `/api/hooks/${hook}`, { tok: tb })).status, 404, 'not B\'s to delete');
  assert.equal((await api(srv, 'DELETE', `/api/hooks/${hook}`, { tok: ta })).status, 204);
  assert.equal((await post(hook, tv({ id: 'x-1' }))).status, 404);
  assert.equal((await api(srv, 'GET', `/api/hooks/${hook}`, { tok: ta })).status, 404);
});
