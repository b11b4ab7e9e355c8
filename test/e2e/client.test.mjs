// test/e2e/client.test.mjs: a client generated from http/openapi.json works (docs/http.md, "OpenAPI"):
// openapi-typescript writes client/schema.d.ts from the document, tsc --strict compiles client/client.ts
// (openapi-fetch calls typed by it; required fields read without non-null assertions), and the compiled
// client runs its scenario of more than 20 operations against a live ex7d, each answer also checked
// against the document like every api() call of the suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureDb, startEx7d, token, uid, psql } from './lib.mjs';
import { checkResponse } from './openapi_check.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'client');
const bin = (n) => path.join(here, 'node_modules/.bin', n);
let srv;
before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

test('openapi-typescript generates the types and tsc --strict compiles the client', () => {
  let r = spawnSync(bin('openapi-typescript'), [path.join(here, '../../http/openapi.json'), '-o', path.join(dir, 'schema.d.ts')],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = spawnSync(bin('tsc'), ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc --strict failed:\n${r.stdout}${r.stderr}`);
  // no non-null assertion anywhere in the client: the types must carry what is required
  const src = readFileSync(path.join(dir, 'client.ts'), 'utf8').replace(/\/\/[^\n]*/g, '');
  assert.doesNotMatch(src, /[\w)\]]!(?=[.[\s;,)])/, 'client.ts uses a non-null assertion');
});

test('the compiled client calls at least 20 operations against ex7d, every answer as documented', async () => {
  const { scenario } = await import(pathToFileURL(path.join(dir, 'dist/client.js')).href);
  const problems = [];
  const middleware = {
    async onResponse({ request, response }) {
      const u = new URL(request.url);
      const text = await response.clone().text();
      problems.push(...checkResponse(request.method, u.pathname + u.search, response.status, response.headers, text));
    },
  };
  // the strategist tier's rate limit leaves room for the scenario's requests (rate limiting stays on: the
  // X-RateLimit-* headers are part of what is checked)
  const u = uid('ca', 1);
  psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  const called = await scenario(srv.base, await token(u), middleware);
  assert.ok(new Set(called).size >= 20, `only ${called.length} operations: ${called.join(', ')}`);
  assert.deepEqual(problems, []);
});
