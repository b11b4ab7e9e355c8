// test/e2e/lib.mjs: what every end-to-end test needs: a database with the extension, an ex7d process on
// a free port with an HS256 secret and a JWKS of ES256 and RS256 keys (made with jose), tokens, and a
// small HTTP client. The cluster itself is the one tools/test.sh started (PGHOST, PGPORT, PGUSER).
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { checkResponse } from './openapi_check.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// EX7D_BIN: another build of the server, e.g. http/ex7d-asan (tools/test.sh runs the suite against it)
export const EX7D = process.env.EX7D_BIN ? path.resolve(process.env.EX7D_BIN) : path.resolve(here, '../../http/ex7d');
export const SECRET = 'e2e-hs256-secret-0123456789abcdef-0123456789';
export const DB = process.env.EX7_E2E_DB || 'ex7_e2e';

export function psql(sql, db = DB) {
  return execFileSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], { encoding: 'utf8' }).trim();
}

// psqlEveryNode: runs sql (a schema change a test makes to inject a fault) where the functions run. On
// plain PostgreSQL that is psql(sql); on a Citus coordinator it is each node in turn, the coordinator
// first, with Citus's DDL propagation off there: a delegated call runs the worker's own copy of every
// function the extension owns, and Citus would otherwise send half of the change (docs/scale-out.md).
export function psqlEveryNode(sql, db = DB) {
  const citus = psql(`SELECT to_regclass('pg_catalog.pg_dist_node') IS NOT NULL`, db) === 't';
  if (!citus) return psql(sql, db);
  const nodes = psql(`SELECT nodename || ' ' || nodeport FROM pg_catalog.pg_dist_node
                       WHERE noderole = 'primary' AND groupid <> 0 ORDER BY nodeid`, db).split('\n').filter(Boolean);
  psql(`SET citus.enable_ddl_propagation = off; ${sql}`, db);
  for (const n of nodes) {
    const [host, port] = n.split(' ');
    execFileSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', port, '-d', db,
      '-c', `SET citus.enable_ddl_propagation = off; ${sql}`], { encoding: 'utf8' });
  }
  return '';
}

export function ensureDb() {
  const exists = psql(`SELECT 1 FROM pg_database WHERE datname = '${DB}'`, 'postgres');
  if (exists !== '1') {
    try { psql(`CREATE DATABASE ${DB}`, 'postgres'); } catch (e) { /* a concurrent file made it */ }
  }
  psql('CREATE EXTENSION IF NOT EXISTS ex7');
}

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export function conninfo(port = process.env.PGPORT) {
  // over TCP so a test can put a proxy in between
  return `host=127.0.0.1 port=${port} dbname=${DB} user=${process.env.PGUSER || 'postgres'} application_name=ex7d-e2e`;
}

let keysPromise;
// keys: one ES256 and one RS256 key pair, and a JWKS file with their public halves
export function keys() {
  keysPromise ??= (async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const rs = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    const esJwk = { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' };
    const rsJwk = { ...(await exportJWK(rs.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' };
    const dir = mkdtempSync(path.join(tmpdir(), 'ex7-e2e-'));
    const jwksFile = path.join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [esJwk, rsJwk] }));
    return { es, rs, esJwk, rsJwk, jwksFile };
  })();
  return keysPromise;
}

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// startEx7d: starts ex7d with the test keys; resolves once /api/health answers. env overrides settings.
export async function startEx7d(env = {}) {
  const k = await keys();
  const port = await freePort();
  // EX7D_WRAPPER="valgrind --leak-check=full ..." runs the server under a checker (docs/http.md)
  const wrap = process.env.EX7D_WRAPPER ? process.env.EX7D_WRAPPER.split(' ') : [];
  const proc = spawn(wrap.length ? wrap[0] : EX7D, wrap.length ? [...wrap.slice(1), EX7D] : [], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: conninfo(),
      EX7_LISTEN: `127.0.0.1:${port}`,
      EX7_JWT_SECRET: SECRET,
      EX7_JWKS_FILE: k.jwksFile,
      // a sanitizer build writes its reports where tools/test.sh looks for them
      ...Object.fromEntries(['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']
        .filter((v) => process.env[v]).map((v) => [v, process.env[v]])),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // a failed assertion must not leave a server behind that keeps the test process alive
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  proc.unref();
  proc.stdout.unref();
  proc.stderr.unref();
  const out = { log: '', err: '' };
  proc.stdout.on('data', (d) => { out.log += d; });
  proc.stderr.on('data', (d) => { out.err += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < (wrap.length ? 400 : 100); i++) {
    if (proc.exitCode !== null) break;
    try { await fetch(`${base}/api/health`); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  return {
    base, port, proc, out,
    // waiting for the exit holds the event loop open again (the child is unref'd)
    get exited() { proc.ref(); return exited; },
    async stop(signal = 'SIGTERM') { proc.ref(); if (proc.exitCode === null) proc.kill(signal); return exited; },
  };
}

// token: a Supabase-shaped access token (facts.md) signed HS256 with the shared secret by default.
export async function token(sub, { alg = 'HS256', role = 'authenticated', claims = {}, header = {}, exp = '1h', key } = {}) {
  const k = await keys();
  let signKey = key;
  let kid = header.kid;
  if (!signKey) {
    if (alg === 'HS256') signKey = new TextEncoder().encode(SECRET);
    else if (alg === 'ES256') { signKey = k.es.privateKey; kid ??= 'es-1'; }
    else if (alg === 'RS256') { signKey = k.rs.privateKey; kid ??= 'rs-1'; }
  }
  const jwt = new SignJWT({ role, aal: 'aal1', session_id: crypto.randomUUID(), email: `${sub.slice(-4)}@example.com`, phone: '', is_anonymous: false, ...claims })
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header })
    .setSubject(sub)
    .setIssuedAt()
    .setAudience(claims.aud ?? 'authenticated');
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(signKey);
}

// api: one request; resolves to { status, headers, body (parsed JSON or null), text }. Every answer is
// checked against http/openapi.json (openapi_check.mjs): an undocumented status, a body off its schema or a
// missing required header throws, failing the test that made the request. openapi: false skips the check for
// a request that is not an API call by design (a raw protocol probe).
export async function api(srv, method, p, { tok, body, headers = {}, raw, openapi = true } = {}) {
  const h = { ...headers };
  if (tok) h.Authorization = `Bearer ${tok}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) { payload = JSON.stringify(body); h['Content-Type'] = 'application/json'; }
  const res = await fetch(srv.base + p, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (openapi) {
    const problems = checkResponse(method, p, res.status, res.headers, text);
    // EX7_OPENAPI_REPORT=<file>: write the mismatches there and go on (to see all of them in one run)
    if (problems.length && process.env.EX7_OPENAPI_REPORT) appendFileSync(process.env.EX7_OPENAPI_REPORT, problems.join('\n') + '\n');
    else if (problems.length) throw new Error(`response does not match http/openapi.json:\n  ${problems.join('\n  ')}\n  body: ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

// acceptCompliance: records that each user accepted every current compliance document, as POST
// /api/billing/compliance/accept naming all of them does. Runtime starts, signal closes, force-close-all
// and the stream answer 412 until then (docs/billing.md).
export function acceptCompliance(...users) {
  for (const u of users) psql(`SELECT ex7.accept_compliance('${u}', NULL, 'e2e')`);
}

// uid: a fixed-format user uuid for test n of a file (each file has its own prefix)
export function uid(prefix, n) {
  return `00000000-0000-4000-8000-${prefix}${String(n).padStart(12 - prefix.length, '0')}`;
}

// a valid strategy graph (docs/engine.md): long when the close is above 0
export const GRAPH = {
  nodes: [{ id: 'c', type: 'close' }, { id: 'k', type: 'constant', params: { value: 0 } }, { id: 'up', type: 'gt' }, { id: 'e', type: 'enter_long' }],
  edges: [{ from: 'c', to: 'up', port: 'a' }, { from: 'k', to: 'up', port: 'b' }, { from: 'up', to: 'e' }],
  meta: {},
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// until: resolves to fn()'s first truthy value, polling every `every` ms (50); fails the test after ms (what names
// the awaited condition in the failure)
export async function until(fn, ms = 10000, what = 'condition', every = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}
