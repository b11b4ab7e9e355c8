// test/e2e/openapi.test.mjs: /openapi.json (docs/http.md, "OpenAPI"): served publicly, valid OpenAPI 3.1 per @redocly/cli
// lint, and in step with the route table: every route ex7d serves is documented and every documented
// operation is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDb, startEx7d, api } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let srv;
before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

test('GET /openapi.json is public and is the document in the repository', async () => {
  const r = await api(srv, 'GET', '/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(r.body, JSON.parse(readFileSync(path.join(here, '../../http/openapi.json'), 'utf8')));
  assert.equal(r.body.openapi, '3.1.0');
});

test('every route of http/routes.c is documented, and every documented operation is a route', async () => {
  // routes.c includes one file per area (http/routes_*.h) inside its table
  const src = readFileSync(path.join(here, '../../http/routes.c'), 'utf8').replace(/#include "(routes_\w+\.h)"/g,
    (_, f) => readFileSync(path.join(here, '../../http', f), 'utf8'));
  const served = new Set([...src.matchAll(/\{EVHTTP_REQ_(\w+), "([^"]+)", AUTH_/g)].map((m) => `${m[1].toLowerCase()} ${m[2]}`));
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

test('@redocly/cli lint passes', () => {
  const r = spawnSync(path.join(here, 'node_modules/.bin/redocly'),
    ['lint', '--config', path.join(here, 'redocly.yaml'), path.join(here, '../../http/openapi.json')],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /is valid/);
  assert.doesNotMatch(r.stdout + r.stderr, /You have \d+ warning/);
});
