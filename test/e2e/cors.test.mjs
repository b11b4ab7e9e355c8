// test/e2e/cors.test.mjs: CORS (docs/http.md, "CORS"; ALLOWED_ORIGINS, ex7-api-introduction.txt: "CORS is
// configured per-environment"). An allowed origin gets Access-Control-Allow-Origin and the readable
// response headers (Access-Control-Expose-Headers: the rate limits, Retry-After, ETag, X-Request-Id,
// Location); every answer of a server with ALLOWED_ORIGINS says Vary: Origin, once (Fetch standard, "CORS
// protocol and HTTP caches"): successes, preflights, errors, 429s, a disallowed origin, no Origin at all,
// the signal stream. A server without ALLOWED_ORIGINS sends no CORS header and no Vary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, acceptCompliance } from './lib.mjs';

const APP = 'https://app.example';
const EXPOSED = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After', 'ETag', 'X-Request-Id', 'Location'];
let srv, plain;
before(async () => {
  ensureDb();
  srv = await startEx7d({ ALLOWED_ORIGINS: `https://other.example, ${APP}`, EX7_PUBLIC_PER_MINUTE: '1000',
    EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  plain = await startEx7d();
});
after(async () => { await srv.stop(); await plain.stop(); });

// varyOf: the field names of the answer's Vary headers (fetch joins repeated headers with ", ")
const varyOf = (r) => (r.headers.get('vary') ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function allowed(r, what) {
  assert.equal(r.headers.get('access-control-allow-origin'), APP, what);
  assert.deepEqual(varyOf(r), ['Origin'], `${what}: one Vary: Origin`);
  const expose = r.headers.get('access-control-expose-headers').split(',').map((s) => s.trim());
  assert.deepEqual(expose.slice().sort(), EXPOSED.slice().sort(), `${what}: exposed headers`);
}

test('an allowed origin: Allow-Origin, the exposed headers and one Vary: Origin on successes, errors and preflights', async () => {
  const U = uid('c0', 1);
  const tok = await token(U);
  const o = { headers: { Origin: APP } };
  let r = await api(srv, 'GET', '/api/health', o);
  assert.equal(r.status, 200);
  allowed(r, 'public GET');
  r = await api(srv, 'GET', '/api/strategies', { ...o, tok });
  assert.equal(r.status, 200);
  allowed(r, 'authenticated GET');
  assert.ok(r.headers.get('x-ratelimit-limit'), 'rate headers are there to read');
  r = await api(srv, 'GET', '/api/strategies', o);
  assert.equal(r.status, 401);
  allowed(r, '401');
  r = await api(srv, 'GET', '/api/strategies/not-a-uuid', { ...o, tok });
  assert.equal(r.status, 422);
  allowed(r, '422');
  r = await api(srv, 'GET', '/api/no-such-route', o);
  assert.equal(r.status, 404);
  allowed(r, '404');
  r = await api(srv, 'DELETE', '/api/health', o);
  assert.equal(r.status, 405);
  allowed(r, '405');
  r = await api(srv, 'OPTIONS', '/api/strategies', { headers: { Origin: APP, 'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'authorization,content-type,if-match' } });
  assert.equal(r.status, 204);
  allowed(r, 'preflight');
  assert.match(r.headers.get('access-control-allow-methods'), /\bPOST\b/);
  assert.match(r.headers.get('access-control-allow-headers'), /If-Match/);
});

test('a 429 to an allowed origin carries Retry-After and the rate headers, readable by the page', async () => {
  const s = await startEx7d({ ALLOWED_ORIGINS: APP, EX7_PUBLIC_PER_MINUTE: '1', EX7_CLIENT_ADDR_HEADER: 'X-Forwarded-For' });
  try {
    const h = { headers: { Origin: APP, 'X-Forwarded-For': `10.77.${(process.pid >> 8) & 255}.${process.pid & 255}` } };
    let r = await api(s, 'GET', '/api/health', h);
    if (r.status === 200) r = await api(s, 'GET', '/api/health', h);
    assert.equal(r.status, 429);
    allowed(r, '429');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  } finally { await s.stop(); }
});

test('a disallowed origin and a request without Origin: no Allow-Origin, but Vary: Origin all the same', async () => {
  for (const headers of [{ Origin: 'https://evil.example' }, { Origin: 'null' }, {}]) {
    const what = headers.Origin ?? 'no Origin';
    let r = await api(srv, 'GET', '/api/health', { headers });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null, what);
    assert.equal(r.headers.get('access-control-expose-headers'), null, what);
    assert.deepEqual(varyOf(r), ['Origin'], what);
    r = await api(srv, 'OPTIONS', '/api/strategies', { headers: { ...headers, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), null, `preflight, ${what}`);
    assert.equal(r.headers.get('access-control-allow-methods'), null, `preflight, ${what}`);
    assert.deepEqual(varyOf(r), ['Origin'], `preflight, ${what}`);
    r = await api(srv, 'GET', '/api/strategies', { headers });
    assert.equal(r.status, 401);
    assert.deepEqual(varyOf(r), ['Origin'], `401, ${what}`);
  }
  // an origin is matched whole: a prefix or a suffix of an allowed one is not it
  for (const Origin of ['https://app.example.evil', 'https://app.exampl', 'http://app.example']) {
    const r = await api(srv, 'GET', '/api/health', { headers: { Origin } });
    assert.equal(r.headers.get('access-control-allow-origin'), null, Origin);
  }
});

test('the signal stream answers an allowed origin with the same CORS headers', async () => {
  const U = uid('c0', 2);
  acceptCompliance(U);
  const tok = await token(U);
  const r = await fetch(`${srv.base}/api/signals/stream`, { method: 'HEAD', headers: { Origin: APP, Authorization: `Bearer ${tok}` } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  allowed(r, 'stream');
});

test('without ALLOWED_ORIGINS no answer depends on Origin: no CORS headers, no Vary', async () => {
  let r = await api(plain, 'GET', '/api/health', { headers: { Origin: APP } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal(r.headers.get('vary'), null);
  r = await api(plain, 'OPTIONS', '/api/strategies', { headers: { Origin: APP, 'Access-Control-Request-Method': 'POST' } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal(r.headers.get('vary'), null);
});
