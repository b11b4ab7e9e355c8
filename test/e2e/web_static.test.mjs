// test/e2e/web_static.test.mjs: ex7d serving the web console (http/static.c; docs/console.md, "Serving").
// A folder of fixtures (test/e2e/fixtures/web, through EX7_WEB_DIR) is served at /: index.html for / and
// every page path (the single-page app's history fallback), /assets/ with immutable caching for
// content-hashed names and no-cache for the rest, strong ETags and 304, gzip with Vary, the
// Content-Security-Policy, nosniff and no-referrer on every answer, HEAD; unknown files, dotted and encoded
// paths are JSON 404s and nothing outside the loaded files is ever answered; the API is unaffected. The
// repository's own web/ gives /docs: Redoc over /openapi.json, from same-origin files only. Settings:
// EX7_WEB_DIR=off, a missing folder and a folder over the caps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, mkdirSync, writeFileSync, truncateSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDb, startEx7d, api, token, uid } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIX = path.join(here, 'fixtures/web');
const WEB = path.resolve(here, '../../web');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const CSP_DOCS = CSP.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';");
const HASHED = '/assets/app.3f9a1c2b.js';
const IMMUTABLE = 'public, max-age=31536000, immutable';

let srv, docs;
before(async () => {
  ensureDb();
  srv = await startEx7d({ EX7_WEB_DIR: FIX });
  docs = await startEx7d({ EX7_WEB_DIR: WEB });
});
after(async () => { await srv.stop(); await docs.stop(); });

const file = (p) => readFileSync(path.join(FIX, p));
const etagOf = (buf) => `"sha256-${createHash('sha256').update(buf).digest('hex').slice(0, 32)}"`;

// get: one request with node:http (fetch would decompress and hide Content-Encoding); resolves to
// { status, headers, body: Buffer }
function get(s, p, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.base}${p}`, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

// raw: the path exactly as written (no client normalizes "..", "%2e" or "\"), on a socket of its own;
// resolves to { status, headers, body: string }
function raw(s, p, method = 'GET') {
  return new Promise((resolve, reject) => {
    const c = net.connect(s.port, '127.0.0.1');
    const chunks = [];
    c.on('data', (d) => chunks.push(d));
    c.on('error', reject);
    c.on('end', () => {
      const t = Buffer.concat(chunks).toString('latin1');
      const end = t.indexOf('\r\n\r\n');
      const lines = t.slice(0, end).split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: t.slice(end + 4) });
    });
    c.write(Buffer.concat([Buffer.from(`${method} `), Buffer.from(p, 'latin1'),
      Buffer.from(' HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')]));
  });
}

function securityHeaders(r, what, csp = CSP) {
  assert.equal(r.headers['content-security-policy'], csp, `${what}: Content-Security-Policy`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
}

function notFound(r, what) {
  assert.equal(r.status, 404, `${what}: ${r.status} ${String(r.body).slice(0, 200)}`);
  assert.match(r.headers['content-type'], /^application\/json/, `${what}: a JSON 404`);
  assert.deepEqual(JSON.parse(String(r.body)), { detail: 'Not Found' }, what);
  securityHeaders(r, what);
}

test('/ answers index.html: no-cache, a strong ETag of its bytes, the security headers', async () => {
  const r = await get(srv, '/', { 'Accept-Encoding': 'identity' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, file('index.html'));
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers.etag, etagOf(file('index.html')), 'strong (no W/), the hash of the bytes');
  assert.equal(r.headers['content-encoding'], undefined);
  securityHeaders(r, '/');
  assert.doesNotMatch(r.headers['content-security-policy'], /unsafe-inline|unsafe-eval/, 'no inline script nor style');
});

test('page paths answer index.html; a dotted last segment, a dot segment or an escaped dot does not', async () => {
  for (const p of ['/strategies', '/strategies/6f0c7f3a-0000-4000-8000-000000000001', '/settings/', '/a/b/c/d',
    '/signals?cursor=x', '/strategies/My%20strategy', '/apix', '/docsx', '/assetsx/y']) {
    const r = await get(srv, p);
    assert.equal(r.status, 200, p);
    assert.deepEqual(r.body, file('index.html'), p);
    assert.equal(r.headers['cache-control'], 'no-cache', p);
    securityHeaders(r, p);
  }
  for (const p of ['/favicon.ico', '/robots.txt', '/strategies/x.json', '/package.json', '/a//b', '/a/%2e%2e/b',
    '/a/%2E/b', '/a/%2fb', '/a/%5cb', '/a/%0ab', '/a/%zz', '/index.html/x.js', '/a/./b', '/a/../b', '/a/..']) {
    notFound(await raw(srv, p), p);	// as written: a URL parser would resolve the dots
  }
  // only GET and HEAD: another method on a page path is the 404 it always was
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) notFound(await get(srv, '/strategies', {}, m), `${m} /strategies`);
});

test('HEAD: the same headers, no body; the connection goes on', async () => {
  for (const p of ['/', '/strategies/1', HASHED]) {
    const g = await get(srv, p, { 'Accept-Encoding': 'identity' });
    const h = await get(srv, p, { 'Accept-Encoding': 'identity' }, 'HEAD');
    assert.equal(h.status, 200, p);
    assert.equal(h.body.length, 0, `${p}: no body`);
    assert.equal(h.headers['content-length'], String(g.body.length), p);
    for (const k of ['etag', 'cache-control', 'content-type', 'content-security-policy']) assert.equal(h.headers[k], g.headers[k], `${p} ${k}`);
  }
  // two requests on one connection, HEAD first: its Content-Length must not be taken for a body
  const two = await new Promise((resolve, reject) => {
    const c = net.connect(srv.port, '127.0.0.1');
    let t = '';
    c.on('data', (d) => { t += d.toString('latin1'); });
    c.on('end', () => resolve(t));
    c.on('error', reject);
    c.write(`HEAD ${HASHED} HTTP/1.1\r\nHost: a\r\n\r\nGET /assets/tiny.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  });
  assert.equal(two.match(/^HTTP\/1\.1 200/gm).length, 2, two.slice(0, 400));
  assert.ok(two.endsWith(file('assets/tiny.txt').toString()), 'the second answer is the tiny file, right after the first head');
});

test('/assets/: a content-hashed name is immutable, others are no-cache; Content-Type by extension', async () => {
  const cases = [
    [HASHED, 'text/javascript; charset=utf-8', IMMUTABLE],
    ['/assets/sub/deep.41c0ffee.mjs', 'text/javascript; charset=utf-8', IMMUTABLE],
    ['/assets/style.css', 'text/css; charset=utf-8', 'no-cache'],
    ['/assets/tiny.txt', 'text/plain; charset=utf-8', 'no-cache'],
    ['/assets/dot.png', 'image/png', 'no-cache'],
  ];
  for (const [p, type, cc] of cases) {
    const r = await get(srv, p, { 'Accept-Encoding': 'identity' });
    assert.equal(r.status, 200, p);
    assert.deepEqual(r.body, file(p.slice(1)), p);
    assert.equal(r.headers['content-type'], type, p);
    assert.equal(r.headers['cache-control'], cc, p);
    assert.equal(r.headers.etag, etagOf(r.body), p);
    securityHeaders(r, p);
  }
});

test('ETag: If-None-Match with it (weak or strong, in a list, or *) is a 304 without a body', async () => {
  const plain = await get(srv, HASHED, { 'Accept-Encoding': 'identity' });
  const gz = await get(srv, HASHED, { 'Accept-Encoding': 'gzip' });
  assert.notEqual(plain.headers.etag, gz.headers.etag, 'each representation has its own strong validator');
  assert.equal(gz.headers.etag, plain.headers.etag.replace(/"$/, '-gzip"'));
  for (const inm of [plain.headers.etag, gz.headers.etag, `W/${plain.headers.etag}`, `"x", ${plain.headers.etag}`, '*']) {
    for (const ae of ['identity', 'gzip']) {
      const r = await get(srv, HASHED, { 'If-None-Match': inm, 'Accept-Encoding': ae });
      assert.equal(r.status, 304, `${inm} ${ae}`);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['cache-control'], IMMUTABLE);
      assert.equal(r.headers.etag, ae === 'gzip' ? gz.headers.etag : plain.headers.etag);
      securityHeaders(r, `304 ${inm}`);
    }
  }
  const idx = await get(srv, '/strategies/9', { 'Accept-Encoding': 'identity' });
  assert.equal((await get(srv, '/', { 'If-None-Match': idx.headers.etag })).status, 304, 'a page and / are the same index.html');
  const stale = await get(srv, HASHED, { 'If-None-Match': '"sha256-00000000000000000000000000000000"', 'Accept-Encoding': 'identity' });
  assert.equal(stale.status, 200);
  assert.deepEqual(stale.body, file(HASHED.slice(1)));
});

test('gzip when Accept-Encoding allows it, with Vary; not for small or compressed files', async () => {
  for (const p of [HASHED, '/assets/style.css', '/']) {
    const r = await get(srv, p, { 'Accept-Encoding': 'br;q=1.0, gzip;q=0.8' });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers['content-encoding'], 'gzip', p);
    assert.match(r.headers.vary, /Accept-Encoding/, p);
    const want = p === '/' ? file('index.html') : file(p.slice(1));
    assert.deepEqual(gunzipSync(r.body), want, `${p}: the gzip copy is the file`);
    assert.ok(r.body.length < want.length, `${p}: smaller`);
    const plain = await get(srv, p, { 'Accept-Encoding': 'gzip;q=0, identity' });
    assert.equal(plain.headers['content-encoding'], undefined, `${p}: q=0 refuses gzip`);
    assert.match(plain.headers.vary, /Accept-Encoding/, `${p}: the plain answer varies too`);
    assert.deepEqual((await get(srv, p)).headers['content-encoding'], undefined, `${p}: no Accept-Encoding, no gzip`);
  }
  for (const p of ['/assets/tiny.txt', '/assets/dot.png']) {
    const r = await get(srv, p, { 'Accept-Encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], undefined, p);
    assert.equal(r.headers.vary, undefined, `${p}: one representation, nothing varies`);
    assert.deepEqual(r.body, file(p.slice(1)), p);
  }
});

test('an unknown asset, a skipped file and /assets itself are JSON 404s; other methods on a file are 405', async () => {
  for (const p of ['/assets/nope.js', '/assets/app.3f9a1c2b.css', '/assets/APP.3F9A1C2B.JS', '/assets/.hidden.js',
    '/assets/notes.md', '/assets', '/assets/', '/assets/sub', '/assets/sub/', '/docs', '/docs/', '/docs/init.js',
    '/package.json']) {
    notFound(await get(srv, p), p);
    notFound(await get(srv, p, {}, 'HEAD').then((r) => ({ ...r, body: '{"detail": "Not Found"}' })), `HEAD ${p}`);
  }
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = await get(srv, HASHED, {}, m);
    assert.equal(r.status, 405, m);
    assert.equal(r.headers.allow, 'GET, HEAD');
    assert.deepEqual(JSON.parse(String(r.body)), { detail: 'Method Not Allowed' });
  }
  // /index.html is a file at the top, served as itself
  const r = await get(srv, '/index.html', { 'Accept-Encoding': 'identity' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, file('index.html'));
});

test('traversal: dotted, encoded, backslashed and NUL paths name nothing', async () => {
  const source = readFileSync(path.resolve(here, '../../http/main.c'), 'latin1').slice(0, 40);
  const attempts = ['/assets/../main.c', '/assets/../../http/main.c', '/assets/%2e%2e/main.c', '/assets/%2E%2E/%2E%2E/http/main.c',
    '/assets/..%2fmain.c', '/assets/..%2F..%2Fhttp%2Fmain.c', '/assets/%252e%252e/main.c', '/assets/.%2e/main.c',
    '/assets/./app.3f9a1c2b.js', '/assets//app.3f9a1c2b.js', '/assets/sub/../app.3f9a1c2b.js', '/assets\\..\\main.c',
    '/assets/..\\..\\http\\main.c', '/assets/app.3f9a1c2b.js%00', '/assets/app.3f9a1c2b.js%00.png', '/assets/%00',
    '/assets/app%2e3f9a1c2b.js', '/..', '/../http/main.c', '/%2e%2e/http/main.c', '/%2e%2e%2fhttp%2fmain.c',
    '/docs/../http/main.c', '/docs/%2e%2e/init.js', '/./index.html', '/assets/\xc0\xae\xc0\xae/main.c',
    '/assets/app.3f9a1c2b.js/', '/assets/app.3f9a1c2b.js/.', '/assets/app.3f9a1c2b.js;x', '/assets/app.3f9a1c2b.js?../../x'];
  for (const p of attempts) {
    const r = await raw(srv, p);
    assert.ok(!r.body.includes(source), `${JSON.stringify(p)} answered http/main.c`);
    if (p.endsWith('?../../x')) {
      // a query string is not the path: the file itself
      assert.equal(r.status, 200, p);
      continue;
    }
    assert.ok([404, 400].includes(r.status), `${JSON.stringify(p)}: ${r.status} ${r.body.slice(0, 120)}`);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/, JSON.stringify(p));
    assert.equal(r.headers['x-content-type-options'], 'nosniff', JSON.stringify(p));
  }
  // a hundred random paths under /assets and at the top: JSON errors or the index, never anything else;
  // the server answers on
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alphabet = ['.', '..', '/', '%2e', '%2f', '%5c', '%00', '%', '\\', 'a', 'app', '3f9a1c2b', 'js', '~', ';', '%c0%ae', '\xff', ':'];
  for (let i = 0; i < 100; i++) {
    let p = rnd(2) ? '/assets/' : '/';
    for (let k = 0, n = 1 + rnd(8); k < n; k++) p += alphabet[rnd(alphabet.length)];
    const r = await raw(srv, p);
    assert.ok([200, 400, 404, 422].includes(r.status), `${JSON.stringify(p)}: ${r.status}`);
    if (r.status === 200) assert.ok(r.body === file('index.html').toString('latin1') || r.headers['cache-control'] === IMMUTABLE, JSON.stringify(p));
    else assert.match(r.headers['content-type'] ?? '', /^application\/json/, JSON.stringify(p));
    assert.ok(!r.body.includes(source), JSON.stringify(p));
  }
  assert.equal((await get(srv, '/livez')).status, 200);
});

test('the API is unaffected, and carries the security headers too', async () => {
  let r = await api(srv, 'GET', '/api/health');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('content-security-policy'), CSP);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  r = await api(srv, 'GET', '/api/strategies');
  assert.equal(r.status, 401, 'an API route still wants its token');
  r = await api(srv, 'GET', '/api/strategies', { tok: await token(uid('5d', 1)) });
  assert.equal(r.status, 200, r.text);
  for (const p of ['/api', '/api/', '/api/nowhere', '/api/assets/app.3f9a1c2b.js', '/api/strategies/']) {
    const x = await get(srv, p);
    notFound(x, p);
  }
  r = await get(srv, '/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(JSON.parse(String(r.body)).openapi.slice(0, 2), '3.');
  assert.equal((await get(srv, '/livez')).status, 200);
  assert.equal((await get(srv, '/metrics')).status, 401, '/metrics is not a page');
  assert.equal((await get(srv, '/readyz')).headers['content-type'], 'application/json');
});

test('/docs: Redoc over /openapi.json from same-origin files, inline styles allowed there only', async () => {
  const r = await get(docs, '/docs', { 'Accept-Encoding': 'identity' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  securityHeaders(r, '/docs', CSP_DOCS);
  const html = String(r.body);
  assert.deepEqual(r.body, readFileSync(path.join(WEB, 'docs/index.html')));
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(html, /\bon[a-z]+\s*=/i, 'no event handler attributes');
  const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(refs.includes('/docs/redoc.standalone.js') && refs.includes('/docs/init.js'), refs.join(' '));
  for (const ref of refs) {
    assert.ok(/^\/(?!\/)/.test(ref) || ref.startsWith('data:'), `${ref}: same-origin`);
    if (ref.startsWith('data:')) continue;
    const f = await get(docs, ref);
    assert.equal(f.status, 200, ref);
    if (ref.endsWith('.js')) assert.equal(f.headers['content-type'], 'text/javascript; charset=utf-8', ref);
    if (ref.startsWith('/docs/')) securityHeaders(f, ref, CSP_DOCS);
  }
  assert.match(readFileSync(path.join(WEB, 'docs/init.js'), 'utf8'), /Redoc\.init\('\/openapi\.json'/);
  assert.deepEqual((await get(docs, '/docs/')).body, r.body, '/docs/ is the same page');
  assert.ok(existsSync(path.join(WEB, 'docs/LICENSE')), 'the vendored renderer keeps its license');
  const bundle = await get(docs, '/docs/redoc.standalone.js', { 'Accept-Encoding': 'gzip' });
  assert.equal(bundle.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(bundle.body), readFileSync(path.join(WEB, 'docs/redoc.standalone.js')));
  // the relaxed policy is /docs's alone
  const api1 = await get(docs, '/api/health');
  assert.equal(api1.headers['content-security-policy'], CSP);
  const nope = await get(docs, '/docs/nope.js');
  assert.equal(nope.status, 404);
  assert.deepEqual(JSON.parse(String(nope.body)), { detail: 'Not Found' });
});

test('the repository web/: its index.html (when built) at /, and never its sources', async () => {
  for (const p of ['/package.json', '/src/index.html', '/node_modules/preact/package.json', '/src/api.js']) {
    notFound(await get(docs, p), p);
  }
  if (!existsSync(path.join(WEB, 'index.html'))) return;
  const r = await get(docs, '/', { 'Accept-Encoding': 'identity' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, readFileSync(path.join(WEB, 'index.html')));
  assert.doesNotMatch(String(r.body), /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script in the console');
});

test('settings: EX7_WEB_DIR=off and no folder keep / a 404; a missing folder or one over the caps stops start-up', async () => {
  const off = await startEx7d({ EX7_WEB_DIR: 'off' });
  try {
    notFound(await get(off, '/'), 'EX7_WEB_DIR=off: /');
    notFound(await get(off, HASHED), 'EX7_WEB_DIR=off: an asset');
    assert.equal((await get(off, '/api/health')).status, 200);
    assert.match(off.out.err, /"event":"web_folder".*EX7_WEB_DIR=off/);
  } finally { await off.stop(); }

  const tmp = mkdtempSync(path.join(tmpdir(), 'ex7-web-'));
  try {
    // a folder without index.html: its assets, no pages
    mkdirSync(path.join(tmp, 'assets'));
    writeFileSync(path.join(tmp, 'assets/a.0123abcd.css'), 'p { margin: 0 }\n');
    const bare = await startEx7d({ EX7_WEB_DIR: tmp });
    try {
      notFound(await get(bare, '/'), 'no index.html: /');
      notFound(await get(bare, '/strategies'), 'no index.html: a page');
      const a = await get(bare, '/assets/a.0123abcd.css');
      assert.equal(a.status, 200);
      assert.equal(a.headers['cache-control'], IMMUTABLE);
    } finally { await bare.stop(); }

    const missing = await startEx7d({ EX7_WEB_DIR: path.join(tmp, 'nowhere') });
    assert.equal((await missing.exited).code, 2);
    assert.match(missing.out.err, /EX7_WEB_DIR .*nowhere is not a folder/);

    // one file over the cap of one file (16 MiB; sparse, nothing is read)
    truncateSync(path.join(tmp, 'assets/a.0123abcd.css'), 0);
    writeFileSync(path.join(tmp, 'assets/big.js'), '');
    truncateSync(path.join(tmp, 'assets/big.js'), 16 * 1024 * 1024 + 1);
    const big = await startEx7d({ EX7_WEB_DIR: tmp });
    assert.equal((await big.exited).code, 2);
    assert.match(big.out.err, /big\.js is larger than 16777216 bytes/);
  } finally { rmSync(tmp, { recursive: true, force: true }); }

  const typo = await startEx7d({ EX7_WEB_DIRS: FIX });
  assert.equal((await typo.exited).code, 2);
  assert.match(typo.out.err, /unknown setting EX7_WEB_DIRS/);
});
