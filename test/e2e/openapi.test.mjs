// test/e2e/openapi.test.mjs: /openapi.json (docs/http.md, "OpenAPI"): served publicly with a strong ETag,
// 304 on If-None-Match and gzip when accepted; valid OpenAPI 3.1 per @redocly/cli lint; in step with the
// route table (every route ex7d serves is documented, every documented operation is served, and the
// generator writes exactly the committed document); exact where a generated client relies on it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDb, startEx7d, api } from './lib.mjs';
import { checkResponse } from './openapi_check.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '../..');
const file = path.join(top, 'http/openapi.json');
let srv;
before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

// raw: one request with node:http (fetch would decompress and hide Content-Encoding); resolves to
// { status, headers, body: Buffer }
function raw(p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.base}${p}`, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, message: res.statusMessage, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /openapi.json is public and is the document in the repository', async () => {
  const r = await api(srv, 'GET', '/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(r.body, JSON.parse(readFileSync(file, 'utf8')));
  assert.equal(r.body.openapi, '3.1.0');
});

test('ETag: a strong hash of the bytes; If-None-Match answers 304 without a body; gzip when accepted', async () => {
  const bytes = readFileSync(file);
  const plain = await raw('/openapi.json', { 'Accept-Encoding': 'identity' });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(plain.body.equals(bytes), 'the plain body is the file');
  const hex = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  assert.equal(plain.headers.etag, `"sha256-${hex}"`, 'strong ETag (no W/), the hash of the document');
  assert.equal(plain.headers.vary, 'Accept-Encoding');
  assert.equal(plain.headers['cache-control'], 'no-cache');

  const gz = await raw('/openapi.json', { 'Accept-Encoding': 'br;q=1.0, gzip;q=0.8' });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.ok(gz.body.length < bytes.length / 4, `compressed ${bytes.length} -> ${gz.body.length}`);
  assert.ok(gunzipSync(gz.body).equals(bytes), 'gunzip gives the document back');
  assert.equal(gz.headers.etag, `"sha256-${hex}-gzip"`, 'the gzip representation has its own strong validator');
  // q=0 refuses gzip (RFC 9110, section 12.5.3)
  assert.equal((await raw('/openapi.json', { 'Accept-Encoding': 'gzip;q=0, identity' })).headers['content-encoding'], undefined);

  for (const inm of [plain.headers.etag, gz.headers.etag, `W/${plain.headers.etag}`, `"other", ${plain.headers.etag}`, '*']) {
    const nm = await raw('/openapi.json', { 'If-None-Match': inm });
    assert.equal(nm.status, 304, inm);
    assert.equal(nm.message, 'Not Modified');
    assert.equal(nm.body.length, 0);
    assert.ok(nm.headers.etag, 'a 304 repeats the ETag');
    assert.ok(nm.headers['x-request-id']);
  }
  const stale = await raw('/openapi.json', { 'If-None-Match': '"sha256-00000000000000000000000000000000"' });
  assert.equal(stale.status, 200);
  // and the document lists both answers
  const doc = JSON.parse(bytes);
  assert.ok(doc.paths['/openapi.json'].get.responses['304']);
  const r = await fetch(`${srv.base}/openapi.json`, { headers: { 'If-None-Match': plain.headers.etag } });
  assert.deepEqual(checkResponse('GET', '/openapi.json', r.status, r.headers, await r.text()), []);
});

test('every route of http/routes.c and http/metrics.c is documented, and every documented operation is a route', async () => {
  // routes.c includes one file per area (http/routes_*.h) inside its table
  const src = readFileSync(path.join(top, 'http/routes.c'), 'utf8').replace(/#include "(routes_\w+\.h)"/g,
    (_, f) => readFileSync(path.join(top, 'http', f), 'utf8'));
  const served = new Set([...src.matchAll(/\{EVHTTP_REQ_(\w+), "([^"]+)", AUTH_/g)].map((m) => `${m[1].toLowerCase()} ${m[2]}`));
  const metrics = readFileSync(path.join(top, 'http/metrics.c'), 'utf8');
  for (const m of metrics.slice(metrics.indexOf('metrics_routes[]')).matchAll(/\{EVHTTP_REQ_(\w+), "(\/\w+)", AUTH_/g)) {
    served.add(`${m[1].toLowerCase()} ${m[2]}`);
  }
  served.add('get /openapi.json');
  const doc = (await api(srv, 'GET', '/openapi.json')).body;
  const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
  assert.deepEqual([...served].filter((x) => !documented.has(x)), [], 'served but not documented');
  assert.deepEqual([...documented].filter((x) => !served.has(x)), [], 'documented but not served');
  // and the documented security matches what the server does: a public operation needs no token
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      if (m !== 'get' || p.includes('{')) continue;
      const r = await api(srv, 'GET', p);
      if (Array.isArray(op.security) && op.security.length === 0) assert.notEqual(r.status, 401, `${p} is public`);
      else assert.equal(r.status, 401, `${p} needs a token`);
    }
  }
});

test('the committed document is what tools/openapi_gen.py writes from the code today', () => {
  const r = spawnSync('python3', [path.join(top, 'tools/openapi_gen.py'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the document is exact: closed response objects, enums, headers, no empty schema', () => {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const ops = Object.entries(doc.paths).flatMap(([p, o]) => Object.entries(o).map(([m, op]) => ({ p, m, op })));
  for (const { p, m, op } of ops) {
    for (const [st, resp] of Object.entries(op.responses)) {
      const r = resp.$ref ? doc.components.responses[resp.$ref.split('/').pop()] : resp;
      for (const c of Object.values(r.content ?? {})) assert.notDeepEqual(c.schema, {}, `${m} ${p} ${st}: an empty schema`);
      assert.ok(r.headers?.['X-Request-Id'], `${m} ${p} ${st}: X-Request-Id`);
      if (st === '429' || st === '503') assert.ok(r.headers['Retry-After'], `${m} ${p} ${st}: Retry-After`);
    }
    const authed = !(Array.isArray(op.security) && op.security.length === 0);
    if (!authed) assert.ok(!op.responses['401'] || ['auth_login', 'alerts_telegram_webhook', 'stripe_apply_event', 'auth_signup'].includes(op.operationId),
      `${m} ${p}: 401 on a public route`);
    else assert.ok(op.responses['401'], `${m} ${p}: an authenticated route lists 401`);
  }
  // every object schema says whether it allows other properties (responses: no, unless it is an open map)
  const walk = (s, where) => {
    if (!s || typeof s !== 'object') return;
    if (s.properties) assert.ok('additionalProperties' in s, `${where}: additionalProperties is set deliberately`);
    for (const [k, v] of Object.entries(s)) if (k !== 'examples' && k !== 'default') walk(v, `${where}/${k}`);
  };
  for (const [n, s] of Object.entries(doc.components.schemas)) {
    walk(s, n);
  }
  // the enum query parameters carry their values
  const param = (p, m, n) => doc.paths[p][m].parameters.find((x) => x.name === n).schema;
  assert.deepEqual(param('/api/signals', 'get', 'side').enum, ['long', 'short']);
  assert.deepEqual(param('/api/strategies', 'get', 'status').enum, ['draft', 'ready', 'live', 'paused', 'archived']);
  assert.deepEqual(param('/api/risk', 'get', 'mode').enum, ['paper', 'live']);
  assert.ok(doc.paths['/api/strategies/{strategy_id}'].get.responses['200'].headers.ETag);
  for (const p of ['/livez', '/readyz', '/metrics']) assert.ok(doc.paths[p], p);
});

test('@redocly/cli lint passes', () => {
  const r = spawnSync(path.join(here, 'node_modules/.bin/redocly'),
    ['lint', '--config', path.join(here, 'redocly.yaml'), file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /is valid/);
  assert.doesNotMatch(r.stdout + r.stderr, /You have \d+ warning/);
});
