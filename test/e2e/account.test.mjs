// test/e2e/account.test.mjs: the account routes over HTTP (docs/account.md): the waitlist,
// Vix, the self-hosted login (tokens ex7d signs, the brute-force limits, password change) and exchange
// keys (AES-256-GCM ciphertext decrypted here with node:crypto, master-key rotation with `ex7d rekey`,
// no secret in any reply, log or error).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { ensureDb, startEx7d, token, api, uid, psql, conninfo, EX7D, SECRET } from './lib.mjs';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const keysEnv = (...ks) => ks.map(([kid, k]) => `${kid}:${k.toString('base64')}`).join(',');
const U = (n) => uid('6d', n);
let srv, plain;
const ADDR = (n) => ({ 'X-Forwarded-For': `192.0.2.${n}` });

before(async () => {
  ensureDb();
  for (const n of [1, 2, 3, 4]) psql(`SELECT ex7.ensure_user('${U(n)}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U(n)}'`);
  srv = await startEx7d({ EX7_AUTH_ENABLED: '1', EX7_MASTER_KEYS: keysEnv(['k1', K1]), EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  plain = await startEx7d({});  // login off, no master keys
});
after(async () => { await srv.stop(); await plain.stop(); });

// everything a secret could leak into: every reply body seen, ex7d's logs, PostgreSQL's log
const seen = [];
async function call(s, method, p, opts = {}) {
  const r = await api(s, method, p, opts);
  seen.push(r.text);
  return r;
}
function pgLog() {
  const dir = process.env.EX7_E2E_PGDATA ? path.dirname(process.env.EX7_E2E_PGDATA) : null;
  const f = dir && path.join(dir, 'postgresql.log');
  return f && existsSync(f) ? readFileSync(f, 'utf8') : '';
}

test('waitlist: public, validated, the same answer for a new and a known address, public count', async () => {
  const before = (await call(srv, 'GET', '/api/waitlist/count')).body.count;
  const a = await call(srv, 'POST', '/api/waitlist', { body: { email: 'e2e-wait@example.com' }, headers: ADDR(10) });
  assert.equal(a.status, 200, a.text);
  const b = await call(srv, 'POST', '/api/waitlist', { body: { email: 'E2E-Wait@Example.com ' }, headers: ADDR(10) });
  assert.equal(b.status, 200);
  assert.equal(b.text, a.text, 'nothing tells a known address from a new one');
  const c = await call(srv, 'GET', '/api/waitlist/count');
  assert.equal(c.status, 200);
  assert.equal(c.body.count, before + 1);
  let r = await call(srv, 'POST', '/api/waitlist', { body: { email: 'not an address' }, headers: ADDR(10) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'email']);
  r = await call(srv, 'POST', '/api/waitlist', { body: {}, headers: ADDR(10) });
  assert.equal(r.status, 422);
  assert.equal(r.body.detail[0].type, 'value_error.missing');
  r = await call(srv, 'POST', '/api/waitlist', { body: { email: 5 }, headers: ADDR(10) });
  assert.equal(r.status, 422);
  // 20 an hour per address, then 429 with Retry-After
  psql(`UPDATE ex7.auth_attempts SET count = 20 WHERE subject = 'waitlist-addr:192.0.2.10'`);
  r = await call(srv, 'POST', '/api/waitlist', { body: { email: 'one-more@example.com' }, headers: ADDR(10) });
  assert.equal(r.status, 429);
  assert.equal(r.body.detail.code, 'waitlist_rate_limited');
  assert.ok(Number(r.headers.get('retry-after')) > 60, r.headers.get('retry-after'));
  r = await call(srv, 'POST', '/api/waitlist', { body: { email: 'one-more@example.com' }, headers: ADDR(11) });
  assert.equal(r.status, 200);
});

const PROMPTS = [
  'RSI mean reversion on MNQ 5m with a 20 tick stop',
  'EMA 9/21 crossover on ES 15 minute bars, 2 contracts, stop 8 ticks, target 16 ticks, RTH only',
  'Go long NQ when price crosses above the 50 sma on the 1 hour chart, 10 point stop, 1:3 risk reward',
  'MACD crossover on CL 15m, 15 tick stop and 30 tick target',
  'bollinger band reversion on gold 30 minute, short only',
  'opening range breakout on micro nasdaq, first 15 minutes, 5m bars, 40 tick stop',
  '20 bar breakout on crude oil 1h, long only',
  'VWAP cross on MES 2m between 9:45 and 11:30, 3 contracts, flat by the close',
  'RSI(2) below 10 above 90 on ES daily, longs only above the 200 sma',
  'golden cross on YM daily',
  'rsi 25/75 on M2K 15m, 12 tick stop, no target',
  'bollinger breakout on RTY 5m, 4 point stop, 2r target, 10am-2pm chicago time',
];

test('Vix: prompts become graphs the engine accepts; a draft on request; 422 with what it understood', async () => {
  const t = await token(U(1));
  for (const prompt of PROMPTS) {
    const r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt } });
    assert.equal(r.status, 200, `${prompt}: ${r.text}`);
    assert.ok(r.body.validation.entries.length >= 1, prompt);
    assert.equal(r.body.strategy, null);
    // the graph is accepted by the strategy routes as it is
    const s = await call(srv, 'POST', '/api/strategies', { tok: t, body: { name: `vix ${prompt.slice(0, 40)}`, instrument: r.body.instrument, timeframe: r.body.timeframe, graph: r.body.graph } });
    assert.equal(s.status, 201, `${prompt}: ${s.text}`);
  }
  let r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt: 'ema 9/21 cross on ES 5m', create: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.strategy.status, 'draft');
  assert.deepEqual(r.body.strategy.graph, r.body.graph);
  const g = await call(srv, 'GET', `/api/strategies/${r.body.strategy.id}`, { tok: t });
  assert.equal(g.status, 200);
  r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt: 'make me money on ES 5m' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'prompt']);
  assert.equal(r.body.detail[0].ctx.understood.instrument, 'ES');
  r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt: 'rsi', model: 'x' } });
  assert.equal(r.status, 422);
  r = await call(srv, 'POST', '/api/vix/generate-strategy', { body: { prompt: 'rsi' } });
  assert.equal(r.status, 401);
});

test('Vix quota: used and left per tier, 429 with Retry-After to 00:00 UTC over it', async () => {
  const t = await token(U(2));
  psql(`UPDATE ex7.users SET tier = 'free' WHERE id = '${U(2)}'`);
  let q = await call(srv, 'GET', '/api/vix/quota', { tok: t });
  assert.equal(q.status, 200, q.text);
  assert.deepEqual([q.body.tier, q.body.limit, q.body.used, q.body.remaining], ['free', 5, 0, 5]);
  for (let i = 0; i < 5; i++) {
    const r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt: PROMPTS[i] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.quota.remaining, 4 - i);
  }
  const r = await call(srv, 'POST', '/api/vix/generate-strategy', { tok: t, body: { prompt: PROMPTS[0] } });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.body.detail.code, 'vix_quota_exceeded');
  const now = new Date();
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(Math.abs(ra - (midnight - now.getTime()) / 1000) < 5, `Retry-After ${ra}`);
  q = await call(srv, 'GET', '/api/vix/quota', { tok: t });
  assert.equal(q.body.remaining, 0);
  assert.equal(new Date(q.body.resets_at).getTime(), midnight);
});

test('self-hosted login: sign-up and login (form and JSON) return tokens ex7d accepts, with the claims it verifies', async () => {
  const pw = 'p@ss+word%20 with spaces&=';
  let r = await call(srv, 'POST', '/api/auth/signup', { body: { email: 'E2E-Login@Example.com', password: pw }, headers: ADDR(20) });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.token_type, 'bearer');
  const id = r.body.user.id;
  const { payload } = await jwtVerify(r.body.access_token, new TextEncoder().encode(SECRET), { audience: 'authenticated', algorithms: ['HS256'] });
  assert.equal(payload.sub, id);
  assert.equal(payload.email, 'e2e-login@example.com');
  assert.equal(payload.role, 'authenticated');
  assert.equal(payload.exp - payload.iat, 1800);
  r = await call(srv, 'POST', '/api/auth/signup', { body: { email: 'e2e-login@example.com', password: 'another-one' }, headers: ADDR(20) });
  assert.equal(r.status, 409);
  assert.equal(r.body.detail.code, 'email_taken');
  r = await call(srv, 'POST', '/api/auth/signup', { body: { email: 'short@example.com', password: 'short' }, headers: ADDR(20) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'password']);

  // the form login of peer-tradingagents-api.txt, with characters a form encodes
  const form = new URLSearchParams({ username: 'e2e-login@example.com', password: pw }).toString();
  r = await call(srv, 'POST', '/api/auth/login', { raw: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...ADDR(20) } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_in', 'token_type', 'user']);
  const tok = r.body.access_token;
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'e2e-login@example.com', password: pw }, headers: ADDR(20) });
  assert.equal(r.status, 200, r.text);
  r = await call(srv, 'POST', '/api/auth/login', { body: { email: 'E2E-LOGIN@example.com', password: pw }, headers: ADDR(20) });
  assert.equal(r.status, 200, r.text);

  // the token works on every route like a Supabase one
  r = await call(srv, 'GET', '/api/auth/session', { tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.user.id, id);
  assert.equal(r.body.password_login, true);
  r = await call(srv, 'GET', '/api/strategies', { tok });
  assert.equal(r.status, 200);

  // shape errors
  r = await call(srv, 'POST', '/api/auth/login', { body: { password: pw }, headers: ADDR(20) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'username']);
  r = await call(srv, 'POST', '/api/auth/login', { raw: 'username=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...ADDR(20) } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'password']);
  // a JSON login body gets the check of every JSON body (docs/http.md, "Request bodies"): malformed is a 400,
  // a string no field may hold a 422 at its locator, valid JSON that is not an object a 422
  r = await call(srv, 'POST', '/api/auth/login', { raw: 'not json', headers: { 'Content-Type': 'text/plain', ...ADDR(20) } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.detail, /not valid JSON/);
  r = await call(srv, 'POST', '/api/auth/login', { raw: '{"username": "e2e-login@example.com", "password": NaN}', headers: ADDR(20) });
  assert.equal(r.status, 400, r.text);
  r = await call(srv, 'POST', '/api/auth/login', { raw: `{"username": "e2e-login@example.com", "password": "${pw}\\u0000x"}`, headers: ADDR(20) });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'password']);
  r = await call(srv, 'POST', '/api/auth/login', { raw: '["e2e-login@example.com"]', headers: ADDR(20) });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body']);
});

test('login brute force: 5 failures lock the account (429, Retry-After) wherever they come from; 20 lock an address', async () => {
  const pw = 'correct horse battery staple';
  let r = await call(srv, 'POST', '/api/auth/signup', { body: { email: 'brute@example.com', password: pw }, headers: ADDR(30) });
  assert.equal(r.status, 201, r.text);
  const wrong = await call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: 'guess 0' }, headers: ADDR(31) });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
  const unknown = await call(srv, 'POST', '/api/auth/login', { body: { username: 'nobody-here@example.com', password: 'guess 0' }, headers: ADDR(31) });
  assert.equal(unknown.text, wrong.text, 'an unknown account and a wrong password look alike');
  // four more from other addresses, concurrently
  const more = await Promise.all([1, 2, 3, 4].map((i) => call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: `guess ${i}` }, headers: ADDR(31 + i) })));
  assert.deepEqual(more.map((x) => x.status), [401, 401, 401, 401]);
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: pw }, headers: ADDR(40) });
  assert.equal(r.status, 429, 'locked even with the right password');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra > 800 && ra <= 900, `Retry-After ${ra}`);
  // the window passes: the right password works again
  // (the new start computed first: Citus refuses timestamptz arithmetic over a column in an UPDATE)
  const start = psql(`SELECT window_start - interval '15 minutes' FROM ex7.auth_attempts WHERE subject = 'login:brute@example.com'`);
  psql(`UPDATE ex7.auth_attempts SET window_start = '${start}' WHERE subject = 'login:brute@example.com'`);
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: pw }, headers: ADDR(40) });
  assert.equal(r.status, 200, r.text);
  // an address that failed 20 times is refused for every account
  const spray = await Promise.all(Array.from({ length: 20 }, (_, i) => call(srv, 'POST', '/api/auth/login', { body: { username: `spray${i}@example.com`, password: 'x' }, headers: ADDR(50) })));
  assert.ok(spray.every((x) => x.status === 401));
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: pw }, headers: ADDR(50) });
  assert.equal(r.status, 429);
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'brute@example.com', password: pw }, headers: ADDR(51) });
  assert.equal(r.status, 200);
});

test('password change needs the current password and ends the older sessions; session; login off means 404', async () => {
  let r = await call(srv, 'POST', '/api/auth/signup', { body: { email: 'changer@example.com', password: 'first-password' }, headers: ADDR(60) });
  const tok = r.body.access_token;
  // tokens are cut by their second (iat): let the change happen in a later second than the sign-up
  await new Promise((res) => setTimeout(res, 1010 - (Date.now() % 1000)));
  assert.equal((await call(srv, 'GET', '/api/auth/session', { tok })).status, 200);
  r = await call(srv, 'POST', '/api/auth/password', { tok, body: { current_password: 'wrong-password', new_password: 'second-password' }, headers: ADDR(60) });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'current_password']);
  r = await call(srv, 'POST', '/api/auth/password', { tok, body: { current_password: 'first-password', new_password: 'second-password' }, headers: ADDR(60) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.changed, true);
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'changer@example.com', password: 'first-password' }, headers: ADDR(61) });
  assert.equal(r.status, 401);
  r = await call(srv, 'POST', '/api/auth/login', { body: { username: 'changer@example.com', password: 'second-password' }, headers: ADDR(61) });
  assert.equal(r.status, 200);
  // the token of the session before the change is refused from the next request on; the new login's works
  const fresh = r.body.access_token;
  r = await call(srv, 'GET', '/api/auth/session', { tok });
  assert.equal(r.status, 401, r.text);
  assert.match(r.body.detail, /revoked by a password change/);
  assert.match(r.headers.get('www-authenticate'), /invalid_token/);
  assert.equal((await call(srv, 'GET', '/api/strategies', { tok })).status, 401);
  r = await call(srv, 'GET', '/api/auth/session', { tok: fresh });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.user.email, 'changer@example.com');
  // a Supabase user has no password here
  r = await call(srv, 'POST', '/api/auth/password', { tok: await token(U(3)), body: { current_password: 'a', new_password: 'bbbbbbbbbb' } });
  assert.equal(r.status, 404);
  r = await call(srv, 'GET', '/api/auth/session', { tok: await token(U(3)) });
  assert.equal(r.body.password_login, false);
  r = await call(srv, 'GET', '/api/auth/session');
  assert.equal(r.status, 401);
  // off unless EX7_AUTH_ENABLED=1
  for (const [m, p, body] of [['POST', '/api/auth/login', { username: 'changer@example.com', password: 'second-password' }],
    ['POST', '/api/auth/signup', { email: 'x@example.com', password: 'xxxxxxxxxx' }]]) {
    r = await call(plain, m, p, { body });
    assert.equal(r.status, 404, `${p}: ${r.text}`);
    assert.match(r.body.detail, /not enabled/);
  }
  r = await call(plain, 'GET', '/api/auth/session', { tok: await token(U(3)) });
  assert.equal(r.status, 404);
});

// decrypt: the stored row of key id, decrypted with node:crypto (docs/account.md: AAD "<user>|<id>|<exchange>")
function stored(id) {
  const [kid, iv, ct, tag, user, exchange] = psql(`SELECT kid, encode(iv, 'hex'), encode(ciphertext, 'hex'), encode(tag, 'hex'), user_id, exchange FROM ex7.exchange_keys WHERE id = '${id}'`).split('|');
  return { kid, iv: Buffer.from(iv, 'hex'), ct: Buffer.from(ct, 'hex'), tag: Buffer.from(tag, 'hex'), aad: `${user}|${id}|${exchange}` };
}
function decrypt(row, key, aad = row.aad) {
  const d = createDecipheriv('aes-256-gcm', key, row.iv);
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(row.tag);
  return JSON.parse(Buffer.concat([d.update(row.ct), d.final()]).toString('utf8'));
}
function rekey(keys) {
  return new Promise((resolve) => {
    execFile(EX7D, ['rekey', '--batch', '2'], { env: { PATH: process.env.PATH, DATABASE_URL: conninfo(), EX7_MASTER_KEYS: keys } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout, err: stderr }));
  });
}

const SECRET1 = 'sEcReT-' + randomBytes(12).toString('hex');
const APIKEY1 = 'AKIA-' + randomBytes(10).toString('hex') + 'WXYZ';
const PASS1 = 'pHrAsE-' + randomBytes(6).toString('hex');

test('exchange keys: create encrypts (node:crypto decrypts the row), list shows a hint only, delete; errors carry no secret', async () => {
  const t = await token(U(4));
  let r = await call(srv, 'POST', '/api/exchange-keys', { tok: t, body: { exchange: 'OKX', label: 'Main', apiKey: APIKEY1, secret: SECRET1, passphrase: PASS1 } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'exchange', 'has_passphrase', 'hint', 'id', 'label']);
  assert.equal(r.body.exchange, 'okx');
  assert.equal(r.body.hint, '****WXYZ');
  const id = r.body.id;
  const row = stored(id);
  assert.equal(row.kid, 'k1');
  assert.equal(row.iv.length, 12);
  assert.equal(row.tag.length, 16);
  assert.deepEqual(decrypt(row, K1), { api_key: APIKEY1, secret: SECRET1, passphrase: PASS1 });
  assert.throws(() => decrypt(row, K1, `${U(1)}|${id}|okx`), 'another user in the AAD does not decrypt');
  assert.throws(() => decrypt(row, K2), 'another key does not decrypt');

  r = await call(srv, 'GET', '/api/exchange-keys', { tok: t });
  assert.equal(r.status, 200);
  assert.equal(r.body.keys.length, 1);
  assert.deepEqual(Object.keys(r.body.keys[0]).sort(), ['created_at', 'exchange', 'has_passphrase', 'hint', 'id', 'label']);
  r = await call(srv, 'GET', '/api/exchange-keys', { tok: await token(U(3)) });
  assert.deepEqual(r.body.keys, []);

  // refusals, each with the secrets in the body
  for (const [body, loc] of [[{ exchange: 'nasdaq', api_key: APIKEY1, secret: SECRET1 }, ['body', 'exchange']],
    [{ exchange: 'okx', api_key: APIKEY1, secret: SECRET1 }, ['body', 'passphrase']],
    [{ exchange: 'binance', api_key: APIKEY1 }, ['body', 'secret']],
    [{ exchange: 'binance', secret: SECRET1 }, ['body', 'api_key']],
    [{ exchange: 'binance', api_key: APIKEY1, secret: 12345 }, ['body', 'secret']],
    [{ exchange: 'binance', api_key: APIKEY1, secret: SECRET1, label: 'x'.repeat(101) }, ['body', 'label']]]) {
    r = await call(srv, 'POST', '/api/exchange-keys', { tok: t, body });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.detail[0].loc, loc);
  }
  r = await call(srv, 'POST', '/api/exchange-keys', { tok: t, raw: `{"exchange": "binance", "secret": "${SECRET1}"`, headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400);
  // not configured: 503, and still nothing leaks
  r = await call(plain, 'POST', '/api/exchange-keys', { tok: t, body: { exchange: 'binance', api_key: APIKEY1, secret: SECRET1 } });
  assert.equal(r.status, 503);

  r = await call(srv, 'DELETE', `/api/exchange-keys/${id}`, { tok: await token(U(3)) });
  assert.equal(r.status, 404, 'another user\'s key');
  r = await call(srv, 'POST', '/api/exchange-keys', { tok: t, body: { exchange: 'binance', label: 'spare', api_key: 'short', secret: SECRET1 } });
  assert.equal(r.body.hint, '****', 'a short API key shows nothing of itself');
  r = await call(srv, 'DELETE', `/api/exchange-keys/${r.body.id}`, { tok: t });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { id: r.body.id, deleted: true });
});

test('master key rotation: ex7d rekey moves every key to the current kid; the ciphertext still round-trips', async () => {
  const t = await token(U(4));
  for (let i = 0; i < 4; i++) {
    const r = await call(srv, 'POST', '/api/exchange-keys', { tok: t, body: { exchange: 'kraken', label: `r${i}`, api_key: `${APIKEY1}-${i}`, secret: `${SECRET1}-${i}` } });
    assert.equal(r.status, 201, r.text);
  }
  const ids = psql(`SELECT id FROM ex7.exchange_keys WHERE user_id = '${U(4)}' ORDER BY id`).split('\n');
  assert.equal(ids.length, 5);
  const before = Object.fromEntries(ids.map((id) => [id, decrypt(stored(id), K1)]));
  // a rekey that knows only a new key cannot read the old rows: it leaves them and says so
  let x = await rekey(keysEnv(['k3', randomBytes(32)]));
  assert.equal(x.code, 1, x.err);
  assert.equal(JSON.parse(x.out).unknown_kid, 5);
  // k2 current, k1 still listed: everything moves (batches of 2), and a second run has nothing to do
  x = await rekey(keysEnv(['k2', K2], ['k1', K1]));
  assert.equal(x.code, 0, x.err);
  assert.deepEqual(JSON.parse(x.out), { current_kid: 'k2', rekeyed: 5, unknown_kid: 0, failed: 0 });
  for (const id of ids) {
    const row = stored(id);
    assert.equal(row.kid, 'k2');
    assert.deepEqual(decrypt(row, K2), before[id]);
    assert.throws(() => decrypt(row, K1));
  }
  x = await rekey(keysEnv(['k2', K2], ['k1', K1]));
  assert.equal(JSON.parse(x.out).rekeyed, 0);
  // a front configured with k2 first encrypts new keys under k2
  const s2 = await startEx7d({ EX7_MASTER_KEYS: keysEnv(['k2', K2], ['k1', K1]) });
  const r = await call(s2, 'POST', '/api/exchange-keys', { tok: t, body: { exchange: 'bybit', api_key: APIKEY1, secret: SECRET1 } });
  assert.equal(r.status, 201, r.text);
  assert.equal(stored(r.body.id).kid, 'k2');
  assert.equal(decrypt(stored(r.body.id), K2).secret, SECRET1);
  await s2.stop();
  // bad master keys stop the start-up, without echoing them
  const bad = await startEx7d({ EX7_MASTER_KEYS: 'k1:c2hvcnQ=' });
  const { code } = await bad.exited;
  assert.equal(code, 2);
  assert.match(bad.out.err, /EX7_MASTER_KEYS entry 1/);
  assert.ok(!bad.out.err.includes('c2hvcnQ'));
});

test('no secret or password in any reply, in ex7d\'s logs or in PostgreSQL\'s log', async () => {
  await new Promise((res) => setTimeout(res, 400));  // ex7d flushes its access log every 250 ms
  const everything = [seen.join('\n'), srv.out.log, srv.out.err, plain.out.log, plain.out.err, pgLog()].join('\n');
  for (const s of [SECRET1, PASS1, APIKEY1.slice(0, 20), 'correct horse battery staple', 'p@ss+word', 'second-password', 'first-password']) {
    assert.ok(!everything.includes(s), `leaked: ${s}`);
  }
  assert.ok(srv.out.log.includes('/api/exchange-keys'), 'the access log was read');
  if (process.env.EX7_E2E_PGDATA) assert.ok(pgLog().length > 0, 'the PostgreSQL log was read');
});
