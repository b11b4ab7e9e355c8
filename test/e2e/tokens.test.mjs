// test/e2e/tokens.test.mjs: hostile bearer tokens (docs/http.md, "Authentication"). Each token is signed
// correctly, so only the rule under test can refuse it: HS256 signatures made here with node:crypto over
// header and payload text written by hand (JSON.stringify cannot write NaN, Infinity, a duplicate or an
// exponent), ES256 ones with jose. Every refusal is a 401 with WWW-Authenticate (RFC 6750 section 3) and
// the reason in the detail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { ensureDb, startEx7d, token, api, uid, keys, SECRET } from './lib.mjs';

let srv;
const A = uid('7e', 1);
const now = () => Math.floor(Date.now() / 1000);
const HS = '{"alg":"HS256","typ":"JWT"}';
const MAX_DATE = 253402300799;	// 9999-12-31T23:59:59Z, jwt.h JWT_MAX_NUMERIC_DATE

before(async () => { ensureDb(); srv = await startEx7d(); });
after(async () => { await srv.stop(); });

const b64 = (text) => Buffer.from(text, 'utf8').toString('base64url');

// sign: a compact JWS of exactly this header and payload text, HS256 with the server's secret
function sign(headerText, payloadText, secret = SECRET) {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// claims: the payload text of a valid token for A, with members replaced or added as raw JSON text
function claims(raw = {}) {
  const t = now();
  const members = { aud: '"authenticated"', sub: `"${A}"`, exp: String(t + 600), iat: String(t), role: '"authenticated"', ...raw };
  return `{${Object.entries(members).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

async function expect200(tok, what) {
  const r = await api(srv, 'GET', '/api/strategies', { tok });
  assert.equal(r.status, 200, `${what}: ${r.text}`);
}

// refused: the token is a 401 with the invalid_token challenge and detail "Invalid token: <why>"
async function refused(tok, why, what = why, s = srv) {
  const r = await api(s, 'GET', '/api/strategies', { tok });
  assert.equal(r.status, 401, `${what}: ${r.text}`);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"', what);
  assert.deepEqual(r.body, { detail: `Invalid token: ${why}` }, what);
}

test('the hand-made tokens are valid when nothing is wrong with them', async () => {
  await expect200(sign(HS, claims()), 'plain');
  await expect200(sign(HS, claims({ email: '"a@example.com"', nbf: String(now() - 5) })), 'email and nbf');
  // an escaped backslash followed by the text u0000 is no NUL
  await expect200(sign(HS, claims({ note: '"\\\\u0000"' })), 'escaped backslash');
  // iat within the 60 s leeway of a clock ahead of ours; exp at the last second of year 9999
  await expect200(sign(HS, claims({ iat: String(now() + 30) })), 'iat 30 s ahead');
  await expect200(sign(HS, claims({ exp: String(MAX_DATE) })), 'exp 9999-12-31T23:59:59Z');
});

test('a NUL inside sub, aud, iss, kid, role, email or a member name is refused, never cut', async () => {
  const nul = 'NUL character in a string';
  await refused(sign(HS, claims({ sub: `"${A}\\u0000evil"` })), nul, 'sub');
  await refused(await token(`${A}\u0000evil`), nul, 'sub through jose');
  await refused(sign(HS, claims({ aud: '"authenticated\\u0000evil"' })), nul, 'aud');
  await refused(sign(HS, claims({ aud: '["authenticated\\u0000evil"]' })), nul, 'aud array');
  await refused(sign(HS, claims({ role: '"service_role\\u0000x"' })), nul, 'role');
  await refused(sign(HS, claims({ email: '"a@example.com\\u0000@evil"' })), nul, 'email');
  // json-c cuts a member name at the NUL: "aud\u0000x" would be read as aud
  await refused(sign(HS, claims({ aud: undefined, 'aud\u0000x': '"authenticated"' })), nul, 'member name');
  await refused(sign('{"alg":"HS256\\u0000x"}', claims()), nul, 'alg');
  await refused(await token(A, { alg: 'ES256', header: { kid: 'es-1\u0000evil' } }), nul, 'kid');
  const iss = 'https://demo.supabase.co/auth/v1';
  const s2 = await startEx7d({ EX7_JWT_ISS: iss });
  try {
    await refused(sign(HS, claims({ iss: JSON.stringify(`${iss}\u0000evil`) })), nul, 'iss', s2);
    const r = await api(s2, 'GET', '/api/strategies', { tok: sign(HS, claims({ iss: JSON.stringify(iss) })) });
    assert.equal(r.status, 200, r.text);
  } finally { await s2.stop(); }
});

test('exp, nbf and iat must be whole seconds from 0 to 253402300799: NaN, Infinity, 1e300 never stand for a time', async () => {
  const t = now();
  for (const name of ['exp', 'nbf', 'iat']) {
    const why = `${name} must be whole seconds from 0 to 253402300799`;
    for (const v of ['NaN', 'Infinity', '-Infinity']) await refused(sign(HS, claims({ [name]: v })), 'not strict JSON (RFC 8259)', `${name}: ${v}`);
    for (const v of ['1e300', '1e400', `${t}.5`, `${t}.0`, `${t / 1000}e3`, `"${t + 600}"`,
      'null', 'true', '-1', String(MAX_DATE + 1), '18446744073709551616', '9223372036854775807']) {
      // nbf far ahead and iat far ahead would be refused for their time too: keep exp valid for those
      await refused(sign(HS, claims({ [name]: v })), why, `${name}: ${v}`);
    }
  }
  await refused(sign(HS, claims({ exp: undefined })), 'token has no expiry');
  await refused(sign(HS, claims({ exp: String(t - 61) })), 'token expired');
  await refused(sign(HS, claims({ nbf: String(t + 300) })), 'token not yet valid');
});

test('header and claims are strict JSON (RFC 8259): json-c alone would take these', async () => {
  const why = 'not strict JSON (RFC 8259)';
  for (const [what, text] of [['single quotes', claims().replace('"role"', "'role'")], ['trailing comma', claims().replace(/}$/, ',}')],
    ['trailing text', `${claims()}x`], ['comment', `${claims()}/**/`], ['leading zero', claims({ n: '01' })],
    ['lone surrogate', claims({ email: '"\\ud800@example.com"' })],
    ['not an object', '[1]'], ['a string', '"x"']]) {
    await refused(sign(HS, text), why, what);
  }
  await refused(sign("{'alg':'HS256'}", claims()), why, 'header in single quotes');
  // bytes that are not UTF-8 inside a string
  const input = `${b64(HS)}.${Buffer.concat([Buffer.from(claims().replace(/}$/, ',"email":"')), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]).toString('base64url')}`;
  await refused(`${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`, why, 'overlong UTF-8');
});

test('an iat beyond the leeway in the future is refused', async () => {
  await refused(sign(HS, claims({ iat: String(now() + 3650 * 86400) })), 'token issued in the future', 'ten years ahead');
  await refused(sign(HS, claims({ iat: String(now() + 120) })), 'token issued in the future', 'two minutes ahead');
  const k = await keys();
  const es = await new SignJWT({ role: 'authenticated', iat: now() + 3650 * 86400 }).setProtectedHeader({ alg: 'ES256', kid: 'es-1' })
    .setSubject(A).setAudience('authenticated').setExpirationTime('1h').sign(k.es.privateKey);
  await refused(es, 'token issued in the future', 'ES256');
});

test('a password change ends a session whose token claims to be issued ten years from now', async () => {
  const s2 = await startEx7d({ EX7_AUTH_ENABLED: '1' });
  try {
    const email = `iat-${Date.now()}@example.com`;
    let r = await api(s2, 'POST', '/api/auth/signup', { body: { email, password: 'first-password' } });
    assert.equal(r.status, 201, r.text);
    const sub = r.body.user.id;
    const t = now();
    // signed with the server's own secret, as a stolen signing key or a broken issuer would
    const future = sign(HS, `{"aud":"authenticated","sub":"${sub}","role":"authenticated","exp":${t + 3600},"iat":${t + 3650 * 86400}}`);
    await new Promise((res) => setTimeout(res, 1010 - (Date.now() % 1000)));
    r = await api(s2, 'POST', '/api/auth/password', { tok: r.body.access_token, body: { current_password: 'first-password', new_password: 'second-password' } });
    assert.equal(r.status, 200, r.text);
    r = await api(s2, 'GET', '/api/auth/session', { tok: future });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.deepEqual(r.body, { detail: 'Invalid token: token issued in the future' });
  } finally { await s2.stop(); }
});

test('any crit header parameter is refused (RFC 7515 4.1.11: ex7d understands no extension)', async () => {
  const why = 'crit header parameter not understood';
  await refused(sign('{"alg":"HS256","crit":["exp"],"exp":1}', claims()), why, 'crit exp');
  await refused(sign('{"alg":"HS256","b64":false,"crit":["b64"]}', claims()), why, 'crit b64 (RFC 7797)');
  for (const c of ['[]', '"exp"', 'null', '[1]', '{}']) await refused(sign(`{"alg":"HS256","crit":${c}}`, claims()), why, `crit ${c}`);
});

test('an anon token is refused with the invalid_token challenge', async () => {
  await refused(sign(HS, claims({ role: '"anon"' })), 'anonymous tokens are not accepted');
  // a real Supabase anon key has no sub
  await refused(sign(HS, claims({ role: '"anon"', sub: undefined })), 'anonymous tokens are not accepted', 'anon key');
  await refused(await token(A, { role: 'anon' }), 'anonymous tokens are not accepted', 'anon through jose');
});

test('token parts are strict base64url: no padding, no + or /, no set trailing bits', async () => {
  const good = sign(HS, claims());
  const [h, p, s] = good.split('.');
  await expect200(good, 'unaltered');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // 32 bytes are 43 characters whose last carries 2 unused bits: the same bytes spelled with one set
  const last = alphabet.indexOf(s.at(-1));
  const respelled = `${h}.${p}.${s.slice(0, -1)}${alphabet[last | 1]}`;
  assert.deepEqual(Buffer.from(respelled.split('.')[2], 'base64url'), Buffer.from(s, 'base64url'), 'same bytes');
  await refused(respelled, 'malformed token', 'trailing bits');
  await refused(`${h}.${p}.${s}=`, 'malformed token', 'padding');
  // the same bytes in the standard alphabet (RFC 4648 section 4): a signature holding - or _ spelled with + and /
  let std;
  for (let i = 0; std === undefined; i++) {
    const t = sign(HS, claims({ n: String(i) }));
    if (/[-_]/.test(t.split('.')[2])) std = t;
  }
  await refused(std.replace(/-/g, '+').replace(/_/g, '/'), 'malformed token', 'standard alphabet');
  await refused(`${h}=.${p}.${s}`, 'malformed token', 'padded header');
  await refused(`${h}.${p}.${s.slice(0, 20)} ${s.slice(20)}`, 'malformed token', 'space');
});

test('every 401 carries WWW-Authenticate: Bearer (RFC 6750 section 3)', async () => {
  let r = await api(srv, 'GET', '/api/strategies');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer', 'no token');
  r = await api(srv, 'GET', '/api/strategies', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer', 'another scheme');
  await refused('not.a.token', 'malformed token');
  await refused(await token(A, { exp: now() - 120 }), 'token expired');
  r = await api(srv, 'GET', '/metrics', { tok: sign(HS, claims({ exp: 'NaN' })) });
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b/, '/metrics');
  const s2 = await startEx7d({ EX7_AUTH_ENABLED: '1' });
  try {
    r = await api(s2, 'POST', '/api/auth/login', { body: { username: 'nobody@example.com', password: 'wrong password' } });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer', 'failed login');
  } finally { await s2.stop(); }
});
