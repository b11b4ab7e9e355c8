// test/e2e/auth.test.mjs: bearer authentication as facts.md ("JWT", RFC 8725) and docs/http.md ("Authentication") describe.
// Tokens are made with jose, the reference JavaScript implementation, not with our own code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair, exportSPKI, base64url } from 'jose';
import { ensureDb, startEx7d, token, api, uid, keys } from './lib.mjs';

let srv;
const A = uid('a0', 1);

before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

const b64 = (o) => base64url.encode(JSON.stringify(o));
async function expect401(tok, why) {
  const r = await api(srv, 'GET', '/api/strategies', { tok });
  assert.equal(r.status, 401, `${why}: ${r.text}`);
  assert.equal(typeof r.body.detail, 'string');
  return r;
}

test('valid HS256, ES256 and RS256 tokens are accepted', async () => {
  for (const alg of ['HS256', 'ES256', 'RS256']) {
    const r = await api(srv, 'GET', '/api/strategies', { tok: await token(A, { alg }) });
    assert.equal(r.status, 200, `${alg}: ${r.text}`);
    assert.deepEqual(r.body, { items: [], next_cursor: null });
  }
});

test('no token, a non-bearer scheme and an empty bearer are 401', async () => {
  let r = await api(srv, 'GET', '/api/strategies');
  assert.equal(r.status, 401);
  assert.deepEqual(r.body, { detail: 'Not authenticated' });
  r = await api(srv, 'GET', '/api/strategies', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(r.status, 401);
  r = await api(srv, 'GET', '/api/strategies', { headers: { Authorization: 'Bearer ' } });
  assert.equal(r.status, 401);
});

test('alg none is refused', async () => {
  const t = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: A, aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600, role: 'authenticated' })}.`;
  await expect401(t, 'alg none');
});

test('HS256 signed with the RSA public key as secret (algorithm confusion) is refused', async () => {
  const k = await keys();
  const pem = await exportSPKI(k.rs.publicKey);
  const t = await token(A, { alg: 'HS256', key: new TextEncoder().encode(pem), header: { kid: 'rs-1' } });
  await expect401(t, 'HS256 with RSA public key');
});

test('ES256 token claiming the RS256 key id is refused (one key, one algorithm)', async () => {
  const k = await keys();
  const t = await token(A, { alg: 'ES256', key: k.es.privateKey, header: { kid: 'rs-1' } });
  await expect401(t, 'alg/key mismatch');
});

test('unknown kid and a key we do not hold are refused', async () => {
  await expect401(await token(A, { alg: 'ES256', header: { kid: 'nope' } }), 'unknown kid');
  const other = await generateKeyPair('ES256');
  await expect401(await token(A, { alg: 'ES256', key: other.privateKey, header: { kid: 'es-1' } }), 'foreign key');
});

test('bad signature, wrong secret and a tampered payload are refused', async () => {
  const t = await token(A);
  const [h, p, s] = t.split('.');
  await expect401(`${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`, 'bad signature');
  await expect401(await token(A, { key: new TextEncoder().encode('another-secret-another-secret-12345') }), 'wrong secret');
  const forged = b64({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: uid('a0', 2) });
  await expect401(`${h}.${forged}.${s}`, 'tampered payload');
});

test('expired tokens are refused beyond the 60 s leeway, accepted within it', async () => {
  const now = Math.floor(Date.now() / 1000);
  await expect401(await token(A, { exp: now - 61 }), 'expired');
  const r = await api(srv, 'GET', '/api/strategies', { tok: await token(A, { exp: now - 5 }) });
  assert.equal(r.status, 200, 'within leeway');
  await expect401(await token(A, { exp: null }), 'no exp');
});

test('a token not yet valid (nbf) is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  await expect401(await token(A, { claims: { nbf: now + 300 } }), 'nbf in the future');
  const r = await api(srv, 'GET', '/api/strategies', { tok: await token(A, { claims: { nbf: now - 10 } }) });
  assert.equal(r.status, 200);
});

test('missing or wrong aud is refused', async () => {
  await expect401(await token(A, { claims: { aud: 'anon' } }), 'wrong aud');
  const k = new TextEncoder().encode((await import('./lib.mjs')).SECRET);
  const noAud = await new SignJWT({ role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' })
    .setSubject(A).setExpirationTime('1h').sign(k);
  await expect401(noAud, 'missing aud');
});

test('malformed tokens are 401, never a crash', async () => {
  for (const t of ['x', 'a.b', 'a.b.c.d', '!!!.###.$$$', `${b64({ alg: 'HS256' })}.not-json.sig`,
    `${base64url.encode('{"alg":')}.${b64({})}.c2ln`, `${b64([1, 2])}.${b64({})}.c2ln`, 'a'.repeat(20000)]) {
    await expect401(t, `malformed ${t.slice(0, 20)}`);
  }
  const r = await api(srv, 'GET', '/api/health');
  assert.equal(r.status, 200, 'ex7d still serves');
});

test('sub must be a uuid; anon role cannot call authenticated routes', async () => {
  await expect401(await token('not-a-uuid'), 'sub not a uuid');
  await expect401(await token(A, { role: 'anon' }), 'anon');
});

test('issuer is checked when EX7_JWT_ISS is set', async () => {
  const iss = 'https://demo.supabase.co/auth/v1';
  const s2 = await startEx7d({ EX7_JWT_ISS: iss });
  try {
    let r = await api(s2, 'GET', '/api/strategies', { tok: await token(A, { claims: { iss } }) });
    assert.equal(r.status, 200);
    r = await api(s2, 'GET', '/api/strategies', { tok: await token(A, { claims: { iss: 'https://evil.example/auth/v1' } }) });
    assert.equal(r.status, 401);
    r = await api(s2, 'GET', '/api/strategies', { tok: await token(A) });
    assert.equal(r.status, 401, 'missing iss');
  } finally { await s2.stop(); }
});

test('public endpoints need no token; a token there is harmless', async () => {
  let r = await api(srv, 'GET', '/api/health');
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'ok');
  assert.equal(r.body.postgresql, 'ok');
  assert.ok('last_signal_time' in r.body);
  r = await api(srv, 'GET', '/api/health', { tok: 'garbage' });
  assert.equal(r.status, 200);
});

test('the dev token command signs with the configured secret only', async () => {
  const { execFileSync } = await import('node:child_process');
  const { EX7D, SECRET } = await import('./lib.mjs');
  const t = execFileSync(EX7D, ['token', '--sub', A], { env: { EX7_JWT_SECRET: SECRET }, encoding: 'utf8' }).trim();
  const r = await api(srv, 'GET', '/api/strategies', { tok: t });
  assert.equal(r.status, 200);
  assert.throws(() => execFileSync(EX7D, ['token', '--sub', A], { env: {}, stdio: 'pipe' }), 'no secret, no token');
});

test('start-up refuses unknown or invalid settings with a clear message', async () => {
  for (const [env, word] of [[{ EX7_LISTN: '1' }, 'unknown setting EX7_LISTN'], [{ EX7_POOL_SIZE: 'many' }, 'EX7_POOL_SIZE'],
    [{ EX7_LISTEN: 'nope' }, 'EX7_LISTEN'], [{ EX7_JWT_SECRET: 'short' }, 'at least 32 bytes']]) {
    const s = await startEx7d(env);
    const { code } = await s.exited;
    assert.equal(code, 2, JSON.stringify(env));
    assert.match(s.out.err, new RegExp(word));
  }
});
