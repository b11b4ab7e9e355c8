// test/e2e/json.test.mjs: request bodies and typed path captures at ex7d's edge (http/router.c,
// http/json_strict.c; docs/http.md, "Request bodies" and "Paths").
//   - a body that is not RFC 8259 JSON is a 400 naming why and the byte offset, and acts on nothing;
//   - a string no field may hold (not UTF-8, a lone surrogate, \u0000) is a 422 at the field's locator;
//   - nesting deeper than 64 levels is a 422, 64 levels are not; a body that is valid JSON but not an
//     object is a 422 ["body"];
//   - an empty body where the operation needs one is FastAPI's 422 ["body"] "field required", on every
//     operation http/openapi.json marks with a required JSON body;
//   - a capture declared uuid or integer matches only such a segment: a word is a 404 (never a 405
//     from an item route beside it), and a malformed id on an operation of that very method is a 422.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOC = JSON.parse(readFileSync(path.join(here, '../../http/openapi.json'), 'utf8'));
let srv, ta, tsvc;
const A = uid('a5', 1);
const SVC = uid('a5', 2);
before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${A}'`);
  acceptCompliance(A);
  srv = await startEx7d();
  ta = await token(A);
  tsvc = await token(SVC, { role: 'service_role' });
});
after(async () => { await srv.stop(); });

const strategies = () => Number(psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${A}'`));
// send: a request whose body is exactly these bytes (a string is sent as UTF-8; a Buffer as is)
const send = (method, p, bytes, tok = ta) =>
  api(srv, method, p, { tok, raw: typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes,
                        headers: { 'Content-Type': 'application/json' } });

test('malformed JSON is a 400 with the reason and the byte offset, and creates nothing', async () => {
  const before = strategies();
  const bad = [
    ['{"name": NaN}', 'invalid number (RFC 8259 section 6) at byte 9'],
    ['{"name": Infinity}', 'invalid number (RFC 8259 section 6) at byte 9'],
    ['{"name": -Infinity}', 'invalid number (RFC 8259 section 6) at byte 10'],
    ['{"n": [-01]}', 'invalid number (RFC 8259 section 6) at byte 9'],
    ['{"n": 1.}', 'invalid number (RFC 8259 section 6) at byte 8'],
    ['{"n": +1}', 'invalid number (RFC 8259 section 6) at byte 6'],
    ['{"n": .5}', 'invalid number (RFC 8259 section 6) at byte 6'],
    ["{'name': 'x'}", "unexpected character ''' at byte 1"],
    ['{"name": \'x\'}', "unexpected character ''' at byte 9"],
    ['{name: "x"}', "unexpected character 'n' at byte 1"],
    ['{"name": "a\tb"}', 'unescaped control character in a string (RFC 8259 section 7) at byte 11'],
    ['{"name": "a\nb"}', 'unescaped control character in a string (RFC 8259 section 7) at byte 11'],
    ['{"name": "a\u0000b"}', 'unescaped control character in a string (RFC 8259 section 7) at byte 11'],
    ['{"name": "\\x41"}', 'invalid escape in a string (RFC 8259 section 7) at byte 10'],
    ['{"name": "\\u12"}', 'invalid escape in a string (RFC 8259 section 7) at byte 14'],
    ['{"a": 1,}', "unexpected character '}' at byte 8"],
    ['[1,]', "unexpected character ']' at byte 3"],
    ['{"a": 1} {}', 'data after the value at byte 9'],
    ['{"a": 1}\u0000', 'data after the value at byte 8'],
    ['{"a": 1', 'unexpected end of the text at byte 7'],
    ['{"a": tru}', "unexpected character '}' at byte 9"],
    ['\f{}', 'unexpected byte 0x0c at byte 0'],
    ['\u00a0{}', 'unexpected byte 0xc2 at byte 0'],
    ['\ufeff{}', 'byte order mark (RFC 8259 section 8.1) at byte 0'],
    [' \r\n\t', 'no value at byte 4'],
    // a string error before a grammar error: the text is still not JSON
    ['{"name": "a\\u0000", "n": 01}', 'invalid number (RFC 8259 section 6) at byte 26'],
  ];
  for (const [text, why] of bad) {
    const r = await send('POST', '/api/strategies', text);
    assert.equal(r.status, 400, `${JSON.stringify(text)}: ${r.text}`);
    assert.deepEqual(r.body, { detail: `request body is not valid JSON: ${why}` }, JSON.stringify(text));
  }
  // bytes that are not UTF-8 outside a string
  let r = await send('POST', '/api/strategies', Buffer.from([0x7b, 0xff, 0x7d]));
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.body, { detail: 'request body is not valid JSON: unexpected byte 0xff at byte 1' });
  r = await send('PUT', '/api/notifications/preferences', Buffer.from('{"a": 1}\xff', 'latin1'));
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.body, { detail: 'request body is not valid JSON: data after the value at byte 8' });
  assert.equal(strategies(), before, 'no strategy was created');
});

test('a string no field may hold is a 422 at its locator: \\u0000, bytes that are not UTF-8, a lone surrogate', async () => {
  const before = strategies();
  const cases = [
    // names, the exchange-key passphrase, the sign-up email: C strings would end at the NUL
    ['POST', '/api/strategies', '{"name": "a\\u0000b", "instrument": "MES", "timeframe": "5m"}', ['body', 'name'], 'nul', 11],
    ['POST', '/api/exchange-keys', '{"exchange": "binance", "api_key": "k", "secret": "s", "passphrase": "a\\u0000b"}',
     ['body', 'passphrase'], 'nul', 71],
    ['POST', '/api/auth/signup', '{"email": "a\\u0000b@example.com", "password": "correct horse battery"}', ['body', 'email'], 'nul', 12],
    ['POST', '/api/exchange-keys', Buffer.concat([Buffer.from('{"exchange": "binance", "api_key": "k", "secret": "s", "passphrase": "'),
      Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), ['body', 'passphrase'], 'utf8', 70],
    ['POST', '/api/strategies', Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
     ['body', 'name'], 'utf8', 10],                                      // an overlong '/'
    ['POST', '/api/strategies', Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
     ['body', 'name'], 'utf8', 10],                                      // U+D800 encoded in UTF-8
    ['POST', '/api/strategies', Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')]),
     ['body', 'name'], 'utf8', 10],                                      // above U+10FFFF
    ['POST', '/api/strategies', '{"name": "x", "graph": {"nodes": [{"id": "c", "type": "close"}, {"id": "\\ud800", "type": "sma"}], "edges": []}}',
     ['body', 'graph', 'nodes', 1, 'id'], 'surrogate', 72],
    ['POST', '/api/strategies', '{"name": "\\udc00\\ud800"}', ['body', 'name'], 'surrogate', 10],
    // a member name written with an escape is named as written, which any JSON reader decodes
    ['POST', '/api/strategies', '{"na\\u006de": "\\u0000"}', ['body', 'name'], 'nul', 15],
  ];
  for (const [method, p, bytes, loc, kind, at] of cases) {
    const r = await send(method, p, bytes, p === '/api/auth/signup' ? undefined : ta);
    assert.equal(r.status, 422, `${p} ${bytes}: ${r.text}`);
    assert.equal(r.body.detail.length, 1);
    assert.deepEqual(r.body.detail[0].loc, loc, r.text);
    assert.equal(r.body.detail[0].type, `value_error.str.${kind}`, r.text);
    assert.match(r.body.detail[0].msg, new RegExp(`at byte ${at}$`), r.text);
  }
  // a member name that holds one: the locator is the object holding it
  const r = await send('POST', '/api/strategies', '{"name": "x", "graph": {"a\\u0000b": 1}}');
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, [{ loc: ['body', 'graph'], type: 'value_error.str.nul',
    msg: 'string holds a NUL character (\\u0000) (a member name) at byte 26' }]);
  // a pair of surrogate escapes is one character, and a valid name
  const ok = await send('POST', '/api/strategies', '{"name": "pair \\ud83d\\ude00 caf\u00e9", "instrument": "MES", "timeframe": "5m"}');
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.body.name, 'pair \u{1F600} caf\u00e9');
  assert.equal(strategies(), before + 1, 'only the valid one was created');
  assert.equal(psql(`SELECT count(*) FROM ex7.users WHERE email LIKE 'a%@example.com'`), '0', 'no sign-up');
});

test('nesting: 64 levels reach the function, 65 and 500 are a 422 that says so', async () => {
  const nest = (n) => '['.repeat(n) + ']'.repeat(n);
  // the body object is level 1: 63 arrays in it make 64
  let r = await send('PUT', '/api/notifications/preferences', `{"prefs": ${nest(63)}}`);
  assert.notEqual(r.status, 400, r.text);
  assert.ok(!/deeper/.test(r.text), r.text);
  for (const n of [64, 499]) {
    r = await send('PUT', '/api/notifications/preferences', `{"prefs": ${nest(n)}}`);
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.detail, [{ loc: ['body'], type: 'value_error.jsondepth',
      msg: 'request body has arrays and objects nested deeper than 64 levels (at byte 73)' }]);
  }
  r = await send('POST', '/api/strategies', nest(500));
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.detail[0].type, 'value_error.jsondepth');
});

test('valid JSON that is not an object is a 422 ["body"], a top-level scalar included', async () => {
  for (const text of ['1', '-0.5e3', '"x"', 'true', 'false', 'null', '[]', '[{"name": "x"}]', ' 7 ']) {
    const r = await send('POST', '/api/strategies', text);
    assert.equal(r.status, 422, `${text}: ${r.text}`);
    assert.deepEqual(r.body.detail, [{ loc: ['body'], msg: 'request body must be a JSON object', type: 'type_error.dict' }], text);
  }
  // a string body holding \u0000 is refused for the string, at ["body"]
  const r = await send('POST', '/api/strategies', '"\\u0000"');
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body']);
});

test('an empty body is 422 ["body"] "field required" on every operation that needs a body, and acts on nothing', async () => {
  let r = await api(srv, 'POST', '/api/strategies', { tok: ta, body: { name: 'empty put', instrument: 'MES', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  const s = r.body;
  const missing = [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }];
  // Update Strategy: an empty body used to answer 200 (a new version of nothing)
  r = await api(srv, 'PUT', `/api/strategies/${s.id}`, { tok: ta, headers: { 'If-Match': s.etag } });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, missing);
  r = await api(srv, 'GET', `/api/strategies/${s.id}`, { tok: ta });
  assert.equal(r.body.current_version, s.current_version, 'no new version');
  // Accept Compliance: an empty body used to record acceptance of every current document
  const B = uid('a5', 3);
  psql(`SELECT ex7.ensure_user('${B}')`);
  const tb = await token(B);
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: tb });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, missing);
  assert.equal(psql(`SELECT count(*) FROM ex7.compliance_acceptances WHERE user_id = '${B}'`), '0', 'nothing accepted');
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: tb, body: { documents: ['tos', 'risk', 'privacy'] } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.compliant, true);

  // every operation the document marks with a required JSON body, with a malformed-free path
  const ops = [];
  for (const [p, methods] of Object.entries(DOC.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      if (op.requestBody?.required && op.requestBody.content?.['application/json']) ops.push([m.toUpperCase(), p, op]);
    }
  }
  assert.ok(ops.length >= 20, `${ops.length} operations with a required body`);
  for (const [method, p, op] of ops) {
    const url = p.replace(/\{(\w+)\}/g, (_, n) => {
      const prm = op.parameters.find((x) => x.name === n);
      return prm.schema.type === 'integer' ? '1' : '00000000-0000-4000-8000-0000000000a5';
    });
    const tok = op.security && op.security.length === 0 ? undefined
      : ['/api/market/bars', '/api/billing/comp', '/api/risk/service-state'].includes(p) ? tsvc : ta;
    r = await api(srv, method, url, { tok });
    assert.equal(r.status, 422, `${method} ${p}: ${r.text}`);
    assert.deepEqual(r.body.detail, missing, `${method} ${p}`);
  }
  // an operation whose body is optional still takes an empty one (a clone's name defaults to "<name> (copy)")
  r = await api(srv, 'POST', `/api/strategies/${s.id}/clone`, { tok: ta });
  assert.equal(r.status, 201, r.text);
});

test('a word where an item route wants a uuid or an integer is a 404, never a 405', async () => {
  let r = await api(srv, 'POST', '/api/exchange-keys/validate', { tok: ta, body: {}, openapi: false });
  assert.equal(r.status, 404, r.text);
  assert.deepEqual(r.body, { detail: 'Not Found' });
  assert.equal(r.headers.get('allow'), null);
  // the same word on the method of the item route: a malformed id of that operation (FastAPI's 422)
  r = await api(srv, 'DELETE', '/api/exchange-keys/validate', { tok: ta });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, [{ loc: ['path', 'key_id'], msg: 'value is not a valid uuid', type: 'type_error.uuid' }]);
  // a literal sibling route's name with another method: 405 naming the literal route's methods only
  r = await api(srv, 'GET', '/api/strategies/import', { tok: ta, openapi: false });
  assert.equal(r.status, 405, r.text);
  assert.equal(r.headers.get('allow'), 'POST, OPTIONS');
  r = await api(srv, 'PATCH', '/api/alerts/price/logs', { tok: ta, body: {}, openapi: false });
  assert.equal(r.status, 405, r.text);
  assert.equal(r.headers.get('allow'), 'GET, DELETE, OPTIONS');
  // malformed ids on the operation's own method stay FastAPI's 422, after authentication
  r = await api(srv, 'GET', '/api/strategies/not-a-uuid', { tok: ta });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'strategy_id']);
  r = await api(srv, 'GET', '/api/strategies/not-a-uuid');
  assert.equal(r.status, 401, r.text);
  r = await api(srv, 'DELETE', '/api/alerts/price/logs/abc', { tok: ta });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'log_id']);
  r = await api(srv, 'GET', '/api/strategies/00000000-0000-4000-8000-0000000000a5/versions/latest', { tok: ta });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['path', 'version']);

  // every templated operation with a typed capture: a word in its place with every method
  const typed = [];
  for (const [p, methods] of Object.entries(DOC.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      const prm = (op.parameters || []).filter((x) => x.in === 'path' && (x.schema.format === 'uuid' || x.schema.type === 'integer'));
      if (prm.length) typed.push([m.toUpperCase(), p, prm[prm.length - 1].name]);
    }
  }
  assert.ok(typed.length >= 30, `${typed.length} operations with a typed capture`);
  const templates = [...new Set(typed.map(([, p]) => p))];
  for (const p of templates) {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      // the word replaces the last typed capture; earlier ones get a well-formed value
      const own = typed.find(([m, q]) => m === method && q === p);
      const last = typed.find(([, q]) => q === p)[2];
      const url = p.replace(/\{(\w+)\}/g, (_, n) => (n === last ? 'validate' : n === 'version' ? '1' : '00000000-0000-4000-8000-0000000000a5'));
      const literal = Object.keys(DOC.paths).some((q) => q === url);
      if (literal) continue;
      r = await api(srv, method, url, { tok: tsvc, body: method === 'GET' || method === 'DELETE' ? undefined : {}, openapi: false });
      assert.notEqual(r.status, 405, `${method} ${url}: ${r.text}`);
      if (own) {
        assert.equal(r.status, 422, `${method} ${url}: ${r.text}`);
        assert.deepEqual(r.body.detail[0].loc, ['path', last], `${method} ${url}`);
      } else {
        assert.equal(r.status, 404, `${method} ${url}: ${r.text}`);
      }
    }
  }
});
