// test/e2e/ratelimit.test.mjs: per-tier rate limits on the bearer subject (ex7-api-introduction.txt,
// "Rate limits + quotas": Free 30/min; "Hitting a limit returns 429 Too Many Requests. The Retry-After
// header is always set"), the user row made by the first request, and tier changes taking effect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';

let srv;
let srv2;
before(async () => { ensureDb(); srv = await startEx7d(); srv2 = await startEx7d(); });
after(async () => { await srv.stop(); await srv2.stop(); });

// inMinute: waits when fewer than s seconds of the clock minute are left, so no window resets under a test
async function inMinute(s = 15) {
  const left = 60 - new Date().getSeconds();
  if (left < s) await new Promise((r) => setTimeout(r, (left + 1) * 1000));
}

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
  // an operator's complimentary tier (docs/billing.md): the billing functions change ex7.users.tier and
  // notify ex7_user_changed (ex7._user_changed)
  psql(`SELECT ex7.billing_comp(NULL, '{"user_id": "${U}", "tier": "operator", "days": 1}')`);
  // the notification travels asynchronously to ex7d's listener; it arrives within milliseconds
  let status = 0;
  for (let i = 0; i < 20 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 25));
    status = (await api(srv, 'GET', '/api/strategies', { tok })).status;
  }
  assert.equal(status, 200, 'operator tier: 120/min');
});

test('two ex7d processes share one count: requests alternating between them, the 31st is 429 (docs/http.md)', async () => {
  const U = uid('b0', 5);
  const tok = await token(U);
  await inMinute();
  const statuses = [];
  for (let i = 0; i < 30; i++) statuses.push((await api(i % 2 ? srv2 : srv, 'GET', '/api/strategies', { tok })).status);
  assert.deepEqual(statuses, Array(30).fill(200));
  for (const s of [srv, srv2]) {
    const r = await api(s, 'GET', '/api/strategies', { tok });
    assert.equal(r.status, 429, 'the 31st and 32nd requests, one on each front');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  }
  // and in bursts: 30 concurrent requests spread over both fronts, then nothing more this minute
  const V = uid('b0', 6);
  const tokV = await token(V);
  await inMinute();
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => api(i % 2 ? srv2 : srv, 'GET', '/api/strategies', { tok: tokV })));
  const ok = burst.filter((r) => r.status === 200).length;
  assert.equal(ok, 30, `exactly 30 of 40 concurrent requests served, got ${ok}`);
  assert.equal(burst.filter((r) => r.status === 429).length, 10);
});

test('public routes are limited per client address, counted across fronts; proxies name the client', async () => {
  const a = await startEx7d({ EX7_PUBLIC_PER_MINUTE: '4', EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  const b = await startEx7d({ EX7_PUBLIC_PER_MINUTE: '4', EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  try {
    await inMinute();
    const from = (ip) => ({ headers: { 'X-Forwarded-For': `203.0.113.77, ${ip}` } });
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push((await api(i % 2 ? b : a, 'GET', '/api/health', from('198.51.100.9'))).status);
    assert.deepEqual(seen, [200, 200, 200, 200]);
    const r = await api(a, 'GET', '/api/health', from('198.51.100.9'));
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.match(r.body.detail, /client address/);
    // the last entry is the address the trusted proxy saw: another client is not limited
    assert.equal((await api(b, 'GET', '/api/health', from('198.51.100.10'))).status, 200);
    // a token does not lift the address limit of a public route; a user route is counted per user
    assert.equal((await api(a, 'GET', '/openapi.json', from('198.51.100.9'))).status, 200, '/openapi.json is served without counting');
    assert.equal((await api(a, 'GET', '/api/strategies', { ...from('198.51.100.9'), tok: await token(uid('b0', 7)) })).status, 200);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('invalid public limits stop start-up with a message naming the setting', async () => {
  for (const env of [{ EX7_PUBLIC_PER_MINUTE: '0' }, { EX7_PUBLIC_PER_DAY: 'lots' }]) {
    const s = await startEx7d(env);
    const { code } = await s.exited;
    assert.equal(code, 2, JSON.stringify(env));
    assert.match(s.out.err, new RegExp(Object.keys(env)[0]));
  }
});

// the three X-RateLimit-* headers of one answer: { limit, remaining, reset, retry }
const rl = (r) => ({ limit: Number(r.headers.get('x-ratelimit-limit')), remaining: Number(r.headers.get('x-ratelimit-remaining')),
  reset: Number(r.headers.get('x-ratelimit-reset')), retry: r.headers.get('retry-after') === null ? null : Number(r.headers.get('retry-after')) });
// seconds until 00:00 UTC, when the daily quota resets (ex7-api-introduction.txt, "Rate limits + quotas")
const toMidnight = () => 86400 - Math.floor(Date.now() / 1000) % 86400;
// an address of this run only: the day's count of an address outlives a test
const runAddr = (n) => `10.${n}.${(process.pid >> 8) & 255}.${process.pid & 255}`;

test('X-RateLimit-Limit, -Remaining and -Reset describe one window, the binding one: the day when it has fewer left (docs/http.md)', async () => {
  const s = await startEx7d({ EX7_PUBLIC_PER_MINUTE: '5', EX7_PUBLIC_PER_DAY: '3', EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  try {
    await inMinute();
    const from = { headers: { 'X-Forwarded-For': runAddr(1) } };
    for (const left of [2, 1, 0]) {
      const r = await api(s, 'GET', '/api/health', from);
      assert.equal(r.status, 200);
      const h = rl(r);
      assert.equal(h.limit, 3, 'the day cap, not the minute cap');
      assert.equal(h.remaining, left);
      assert.ok(Math.abs(h.reset - toMidnight()) <= 3, `Reset ${h.reset} is the day's end, ${toMidnight()} s away`);
    }
    const r = await api(s, 'GET', '/api/health', from);
    assert.equal(r.status, 429);
    const h = rl(r);
    assert.deepEqual([h.limit, h.remaining], [3, 0]);
    assert.equal(h.reset, h.retry, 'Reset and Retry-After name the same moment');
    assert.ok(Math.abs(h.retry - toMidnight()) <= 3, `Retry-After ${h.retry}: the day refused`);
  } finally { await s.stop(); }
});

test('the minute binds while it has fewer left; after its 429 and reset the day binds, and its 429 says so', async () => {
  const s = await startEx7d({ EX7_PUBLIC_PER_MINUTE: '3', EX7_PUBLIC_PER_DAY: '5', EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  try {
    await inMinute();
    const from = { headers: { 'X-Forwarded-For': runAddr(2) } };
    for (const left of [2, 1, 0]) {
      const h = rl(await api(s, 'GET', '/api/health', from));
      assert.deepEqual([h.limit, h.remaining], [3, left], 'the minute: 3 - n left against the day\'s 5 - n');
      assert.ok(h.reset >= 1 && h.reset <= 60, `Reset ${h.reset} is the minute's end`);
    }
    let r = await api(s, 'GET', '/api/health', from);
    assert.equal(r.status, 429);
    let h = rl(r);
    assert.deepEqual([h.limit, h.remaining], [3, 0]);
    assert.ok(h.retry >= 1 && h.retry <= 60, `Retry-After ${h.retry}: the minute refused`);
    assert.equal(h.reset, h.retry);
    // the next minute: 3 left in the minute, 2 in the day: the day binds
    await new Promise((res) => setTimeout(res, (h.retry + 1) * 1000));
    r = await api(s, 'GET', '/api/health', from);
    assert.equal(r.status, 200);
    h = rl(r);
    assert.deepEqual([h.limit, h.remaining], [5, 1], 'the day cap and what is left of it');
    assert.ok(Math.abs(h.reset - toMidnight()) <= 3, `Reset ${h.reset} is the day's end`);
    h = rl(await api(s, 'GET', '/api/health', from));
    assert.deepEqual([h.limit, h.remaining], [5, 0]);
    r = await api(s, 'GET', '/api/health', from);
    assert.equal(r.status, 429);
    h = rl(r);
    assert.deepEqual([h.limit, h.remaining], [5, 0]);
    assert.equal(h.reset, h.retry);
    assert.ok(Math.abs(h.retry - toMidnight()) <= 3, `Retry-After ${h.retry}: the day refused, though the minute has 1 left`);
  } finally { await s.stop(); }
});
