// test/e2e/paths.test.mjs: how ex7d reads a request path (http/router.c, split_path; docs/http.md,
// "Paths"). A trailing slash or an empty segment names no route (404), so an item route's path with its id
// left off can never reach the collection route that acts on every item; a NUL byte decoded from a
// segment ("%00") is a 422 instead of cutting the id short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance } from './lib.mjs';

let srv, ta;
const A = uid('d7', 1);
before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${A}'`);
  acceptCompliance(A);
  srv = await startEx7d();
  ta = await token(A);
});
after(async () => { await srv.stop(); });

const unread = () => Number(psql(`SELECT count(*) FROM ex7.notifications WHERE user_id = '${A}' AND read_at IS NULL`));

test('a trailing slash or an empty segment is a 404 and changes nothing (never the collection route)', async () => {
  psql(`INSERT INTO ex7.notifications (user_id, type, title, message)
        SELECT '${A}', 'system', 'n' || g, 'kept unread' FROM generate_series(1, 3) g`);
  assert.equal(unread(), 3);
  for (const [method, p] of [['PATCH', '/api/notifications/'], ['DELETE', '/api/notifications/'],
                             ['DELETE', '/api/alerts/price/logs/'], ['PATCH', '/api/notifications//'],
                             ['GET', '/api//strategies'], ['GET', '/api/strategies/']]) {
    const r = await api(srv, method, p, { tok: ta });
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    assert.deepEqual(r.body, { detail: 'Not Found' });
  }
  assert.equal(unread(), 3, 'no notification was marked read');
  // the collection route itself still works
  const r = await api(srv, 'PATCH', '/api/notifications', { tok: ta });
  assert.equal(r.status, 200, r.text);
  assert.equal(unread(), 0);
});

test('a NUL byte in a path segment is a 422 on the path, for every method, and acts on nothing', async () => {
  let r = await api(srv, 'POST', '/api/strategies', { tok: ta, body: { name: 'nul path', instrument: 'MES', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  for (const [method, p] of [['GET', `/api/strategies/${id}%00junk`], ['DELETE', `/api/strategies/${id}%00`],
                             ['GET', '/api/%00']]) {
    r = await api(srv, method, p, { tok: ta });
    assert.equal(r.status, 422, `${method} ${p}: ${r.text}`);
    assert.deepEqual(r.body.detail, [{ loc: ['path'], msg: 'a path segment contains a NUL byte (%00)', type: 'value_error' }]);
  }
  r = await api(srv, 'GET', `/api/strategies/${id}`, { tok: ta });
  assert.equal(r.status, 200, 'the strategy is still there');
  assert.equal(r.body.deleted_at ?? null, null);
});
