// test/e2e/ratelimit.test.mjs: per-tier rate limits on the bearer subject (ex7-api-introduction.txt,
// "Rate limits + quotas": Free 30/min; "Hitting a limit returns 429 Too Many Requests. The Retry-After
// header is always set"), the user row made by the first request, and tier changes taking effect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';

let srv;
before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

test('the first authenticated request creates the user row with tier free and the email claim', async () => {
  const U = uid('b0', 1);
  assert.equal(psql(`SELECT count(*) FROM ex7.users WHERE id = '${U}'`), '0');
  const r = await api(srv, 'GET', '/api/strategies', { tok: await token(U) });
  assert.equal(r.status, 200);
  assert.equal(psql(`SELECT tier || ' ' || email FROM ex7.users WHERE id = '${U}'`), `free ${U.slice(-4)}@example.com`);
});

test('a free user gets 30 requests a minute, then 429 with Retry-After and a JSON detail', async () => {
  const U = uid('b0', 2);
  const tok = await token(U);
  // stay inside one clock minute so the window does not reset under the test
  if (new Date().getSeconds() > 50) await new Promise((r) => setTimeout(r, (61 - new Date().getSeconds()) * 1000));
  const statuses = [];
  for (let i = 0; i < 31; i++) statuses.push((await api(srv, 'GET', '/api/strategies', { tok })).status);
  assert.deepEqual(statuses.slice(0, 30), Array(30).fill(200));
  const r = await api(srv, 'GET', '/api/strategies', { tok });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('x-ratelimit-limit'), '30');
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
  assert.equal(typeof r.body.detail, 'string');
  // another subject is not affected
  assert.equal((await api(srv, 'GET', '/api/strategies', { tok: await token(uid('b0', 3)) })).status, 200);
  // public endpoints are not counted against anyone
  assert.equal((await api(srv, 'GET', '/api/health', { tok })).status, 200);
});

test('a tier change takes effect on the next request (NOTIFY ex7_user_changed)', async () => {
  const U = uid('b0', 4);
  const tok = await token(U);
  if (new Date().getSeconds() > 45) await new Promise((r) => setTimeout(r, (61 - new Date().getSeconds()) * 1000));
  for (let i = 0; i < 30; i++) assert.equal((await api(srv, 'GET', '/api/strategies', { tok })).status, 200);
  assert.equal((await api(srv, 'GET', '/api/strategies', { tok })).status, 429);
  psql(`UPDATE ex7.users SET tier = 'operator' WHERE id = '${U}'`);
  // the notification travels asynchronously to ex7d's listener; it arrives within milliseconds
  let status = 0;
  for (let i = 0; i < 20 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 25));
    status = (await api(srv, 'GET', '/api/strategies', { tok })).status;
  }
  assert.equal(status, 200, 'operator tier: 120/min');
});
