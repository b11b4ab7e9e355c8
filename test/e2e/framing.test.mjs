// test/e2e/framing.test.mjs: connections and framing at ex7d's edge (http/conn.c, http/sse.c; docs/http.md,
// "Connections and framing"), with raw sockets: a request head that RFC 9112 says must not be guessed at is
// refused with a JSON {"detail": ...} and the connection closed before evhttp parses it (so nothing of it
// runs as a request); the errors libevent used to answer with its own HTML page are JSON; a head that
// trickles in is cut at EX7_HEAD_TIMEOUT_MS while bodies and streams are not; the connection cap holds
// under a low RLIMIT_NOFILE without spinning on accept(); a user's streams are bounded and a stalled
// stream's memory stays within EX7_SSE_BUFFER_MAX.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDb, startEx7d, freePort, conninfo, keys, token, uid, psql, EX7D, SECRET, acceptCompliance, sleep, until } from './lib.mjs';

const U = uid('fa', 1);
const V = uid('fa', 2);
let srv, tu, tv;
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// the build without sanitizers: memory is measured on what ships (ASan's quarantine and shadow would be measured
// instead); EX7D (EX7D_BIN) is the sanitizer build in make test
const PLAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../http/ex7d');

// start: ex7d with the test keys; nofile: under `ulimit -n nofile` (bash execs ex7d: the pid is ex7d's)
async function start(env = {}, { nofile, bin = EX7D } = {}) {
  const k = await keys();
  const port = await freePort();
  const proc = spawn(nofile ? 'bash' : bin, nofile ? ['-c', `ulimit -n ${nofile} && exec "$0"`, bin] : [], {
    env: { PATH: process.env.PATH, DATABASE_URL: conninfo(), EX7_LISTEN: `127.0.0.1:${port}`, EX7_JWT_SECRET: SECRET,
      EX7_JWKS_FILE: k.jwksFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const out = { log: '', err: '' };
  proc.stdout.on('data', (d) => { out.log += d; });
  proc.stderr.on('data', (d) => { out.err += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && proc.exitCode === null; i++) {
    try { await fetch(`${base}/api/health`); break; } catch { await sleep(50); }
  }
  return { base, port, proc, out, async stop() { if (proc.exitCode === null) proc.kill('SIGTERM'); return exited; } };
}

// parse: the HTTP responses in a byte buffer: [{status, headers, body (parsed JSON or the text)}]
function parse(buf) {
  const out = [];
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
    const len = Number(headers['content-length'] ?? 0);
    const text = rest.subarray(end + 4, end + 4 + len).toString('utf8');
    let body = text;
    try { body = JSON.parse(text); } catch { /* not JSON: kept as text */ }
    out.push({ status, headers, body });
    rest = rest.subarray(end + 4 + len);
  }
  return out;
}

// exchange: sends parts (Buffers or strings; a number waits that many ms) on a new connection (then ends its
// side when `end`) and reads until the server closes it or `ms` pass; resolves to { responses, closed, ms
// (connect to close), bytes }
function exchange(port, parts, { ms = 5000, end = false } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ responses: parse(bytes), closed, ms: Date.now() - t0, bytes });
    };
    const timer = setTimeout(finish, ms);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => { closed = true; finish(); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('error', () => { closed = true; finish(); });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (typeof p === 'number') await sleep(p);
        else if (!done) sock.write(p);
      }
      if (end && !done) sock.end();
    });
  });
}

// the one refusal of a connection: a JSON detail, and the connection closed after it
function refused(x, status, detail, what) {
  assert.equal(x.responses.length, 1, `${what}: exactly one response: ${x.bytes.toString('latin1').slice(0, 400)}`);
  const r = x.responses[0];
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.headers['content-type'], 'application/json', what);
  assert.equal(typeof r.body, 'object', `${what}: a JSON body`);
  assert.match(r.body.detail, detail, what);
  assert.equal(r.headers.connection, 'close', what);
  assert.ok(x.closed, `${what}: the connection is closed`);
}

before(async () => {
  ensureDb();
  for (const u of [U, V]) psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  acceptCompliance(U, V);
  srv = await startEx7d({ EX7_RATE_LIMITS: 'off' });
  [tu, tv] = await Promise.all([token(U), token(V)]);
});
after(async () => { await srv.stop(); });

const H = 'Host: x\r\n';
const HEALTH = `GET /api/health HTTP/1.1\r\n${H}\r\n`;

test('a head RFC 9112 says not to guess at: JSON 400 (411, 417) and the connection closed, nothing of it runs', async () => {
  const before = Number(psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${U}'`));
  // the second request hidden in a body the first Content-Length does not cover: it used to run
  const body = JSON.stringify({ name: `smuggled ${Date.now()}`, instrument: 'MES', timeframe: '5m' });
  const inner = `POST /api/strategies HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const cases = [
    ['two Content-Length values', `POST /api/strategies HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nContent-Length: 2\r\nContent-Length: ${2 + inner.length}\r\n\r\n{}${inner}`,
      400, /more than one Content-Length/],
    ['the same Content-Length twice', `POST /api/strategies HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`, 400, /more than one Content-Length/],
    ['Content-Length: +2', `POST /api/strategies HTTP/1.1\r\n${H}Content-Length: +2\r\n\r\n{}`, 400, /Content-Length must be a decimal number/],
    ['Content-Length: 2, 2', `POST /api/strategies HTTP/1.1\r\n${H}Content-Length: 2, 2\r\n\r\n{}`, 400, /Content-Length must be a decimal number/],
    ['a space before the colon', `GET /api/health HTTP/1.1\r\nHost : x\r\n\r\n`, 400, /whitespace between a header field name and its colon/],
    ['a tab before the colon', `GET /api/health HTTP/1.1\r\n${H}Authorization\t: Bearer ${tu}\r\n\r\n`, 400, /whitespace between/],
    ['a NUL in a header value', Buffer.concat([Buffer.from(`GET /api/health HTTP/1.1\r\n${H}X-Note: a`), Buffer.from([0]), Buffer.from('b\r\n\r\n')]),
      400, /NUL byte in a header field value/],
    ['a NUL in the request target', Buffer.concat([Buffer.from('GET /api/health'), Buffer.from([0]), Buffer.from(`x HTTP/1.1\r\n${H}\r\n`)]), 400, /NUL byte in the request target/],
    ['a bare CR', `GET /api/health HTTP/1.1\r\n${H}X-Note: a\rb\r\n\r\n`, 400, /CR that does not end a line/],
    ['a control character in a value', `GET /api/health HTTP/1.1\r\n${H}X-Note: a\x01b\r\n\r\n`, 400, /control character/],
    ['obsolete line folding', `GET /api/health HTTP/1.1\r\n${H}X-Note: a\r\n b\r\n\r\n`, 400, /obsolete line folding/],
    ['two Authorization fields', `GET /api/strategies HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nAuthorization: Bearer ${tv}\r\n\r\n`,
      400, /more than one Authorization/],
    ['two Host fields', `GET /api/health HTTP/1.1\r\n${H}Host: y\r\n\r\n`, 400, /more than one Host/],
    ['HTTP/1.1 without Host', `GET /api/health HTTP/1.1\r\n\r\n`, 400, /needs a Host header field/],
    ['Transfer-Encoding: chunked', `POST /api/strategies HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, 411, /Transfer-Encoding is not accepted/],
    ['Transfer-Encoding with Content-Length', `POST /api/strategies HTTP/1.1\r\n${H}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`, 411, /Content-Length/],
    ['an Expect other than 100-continue', `POST /api/strategies HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 2\r\n\r\n{}`, 417, /100-continue/],
    ['a HEAD with a body', `HEAD /api/health HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nGET /`, 400, /HEAD request has no body/],
  ];
  for (const [what, bytes, status, detail] of cases) refused(await exchange(srv.port, [bytes]), status, detail, what);
  assert.equal(Number(psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${U}'`)), before, 'the smuggled request created nothing');
  // the same request framed once is served (the test's bytes are right)
  const ok = await exchange(srv.port, [inner.replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n')]);
  assert.equal(ok.responses[0]?.status, 201, ok.bytes.toString());
  assert.equal(Number(psql(`SELECT count(*) FROM ex7.strategies WHERE user_id = '${U}'`)), before + 1);
});

test('what libevent answered in HTML is JSON: a 100 KB header, 10,000 query parameters, an over-limit body, a bad request line, other methods', async () => {
  const cases = [
    ['a 100 KB header', `GET /api/health HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`, 431, /request head is larger than 65536 bytes/],
    ['10,000 query parameters', `GET /api/signals?${Array.from({ length: 10000 }, (_, i) => `p${i}=1`).join('&')} HTTP/1.1\r\n${H}\r\n`, 414, /request line is longer/],
    ['a body over twice EX7_BODY_LIMIT', [`POST /api/strategies HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: ${3 * 1048576}\r\n\r\n`, '{"name": "'.padEnd(65536, 'x')],
      413, /request body larger than 1048576 bytes/],
    ['a bad request line', 'GARBAGE\r\n\r\n', 400, /malformed request line/],
    ['a request line with two spaces', `GET  /api/health HTTP/1.1\r\n${H}\r\n`, 400, /malformed request line/],
    ['an unsupported method (TRACE)', `TRACE /api/health HTTP/1.1\r\n${H}\r\n`, 501, /method not supported/],
    ['an unknown method', `BREW /api/health HTTP/1.1\r\n${H}\r\n`, 501, /method not supported/],
    ['HTTP/2.0 in a request line', `GET /api/health HTTP/2.0\r\n${H}\r\n`, 505, /HTTP\/1.0 and HTTP\/1.1/],
    ['a target evhttp cannot parse', `GET http://[bad HTTP/1.1\r\n${H}\r\n`, 400, /request target cannot be parsed/],
    ['a port out of range in an absolute target', `GET http://a:99999999/api/health HTTP/1.1\r\n${H}\r\n`, 400, /request target cannot be parsed/],
  ];
  for (const [what, bytes, status, detail] of cases) {
    const x = await exchange(srv.port, Array.isArray(bytes) ? bytes : [bytes]);
    refused(x, status, detail, what);
    if (status === 501) assert.match(x.responses[0].headers.allow, /GET, HEAD, POST/, what);
  }
  // the body limit itself is still the router's, with its JSON 413 (the body up to twice the limit is read)
  const r = await fetch(`${srv.base}/api/strategies`, { method: 'POST', headers: { Authorization: `Bearer ${tu}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'x'.repeat(1100000) }) });
  assert.equal(r.status, 413);
  assert.match((await r.json()).detail, /larger than/);
  // leading empty lines before a request line are ignored (RFC 9112 section 2.2), not a 400
  const lead = await exchange(srv.port, [`\r\n\r\nGET /api/health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`]);
  assert.equal(lead.responses[0]?.status, 200, lead.bytes.toString());
  // the metrics count them
  const m = await (await fetch(`${srv.base}/metrics`, { headers: { Authorization: `Bearer ${await token(uid('fa', 9), { role: 'service_role' })}` } })).text();
  assert.ok(Number(/^ex7d_requests_refused_total (\d+)/m.exec(m)?.[1]) >= cases.length, m.slice(0, 200));
});

test('300 mutated requests: every answer is JSON, never an HTML page', async () => {
  // each client ends its side after its bytes (an incomplete request is then closed at once) and heads
  // that stay incomplete are cut after 300 ms
  const s = await start({ EX7_HEAD_TIMEOUT_MS: '300', EX7_RATE_LIMITS: 'off' });
  // a seeded generator: the same mutations every run (a failure names its input)
  let seed = 0x5eed;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
  const template = Buffer.from(`POST /api/strategies?limit=5 HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
  const alphabet = Buffer.from(' :\r\n\t\0/?%#[]@+-,;=\x01\x7f\xffaZ9');
  const statuses = {};
  for (let i = 0; i < 300; i++) {
    const b = [...template];
    for (let k = 1 + rnd(4); k > 0; k--) {
      const at = rnd(b.length);
      const op = rnd(3);
      if (op === 0) b[at] = alphabet[rnd(alphabet.length)];
      else if (op === 1) b.splice(at, 0, alphabet[rnd(alphabet.length)]);
      else b.splice(at, 1);
    }
    const bytes = Buffer.from(b);
    const x = await exchange(s.port, [bytes], { ms: 3000, end: true });
    for (const r of x.responses) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      assert.equal(r.headers['content-type'], 'application/json', `input ${JSON.stringify(bytes.toString('latin1'))}: ${x.bytes.toString('latin1').slice(0, 300)}`);
      assert.equal(typeof r.body, 'object', `input ${JSON.stringify(bytes.toString('latin1'))}`);
    }
    assert.doesNotMatch(x.bytes.toString('latin1'), /<html/i);
  }
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  console.log(`# answers by status: ${JSON.stringify(statuses)}`);
  assert.ok(answered >= 150, `most inputs are answered (${answered})`);
  assert.equal(s.proc.exitCode, null, 'ex7d is running');
  await s.stop();
});

test('keep-alive and pipelining: bodies are skipped by Content-Length; a refused head behind good requests waits for their answers', async () => {
  // two requests with bodies and one without, in one write: three answers in order, the connection kept
  const b1 = JSON.stringify({ name: `pipelined ${Date.now()}`, instrument: 'MES', timeframe: '5m' });
  const b2 = JSON.stringify({ name: `pipelined ${Date.now()} 2`, instrument: 'MES', timeframe: '5m' });
  const post = (b) => `POST /api/strategies HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
  let x = await exchange(srv.port, [post(b1) + post('{"name": "GET /api/health HTTP/1.1"}') + HEALTH], { ms: 1500 });
  assert.deepEqual(x.responses.map((r) => r.status), [201, 422, 200], x.bytes.toString());
  assert.equal(x.closed, false, 'kept alive');
  // the same with a refused head third: the first two are answered, then the refusal, then the close
  x = await exchange(srv.port, [post(b2) + HEALTH + `GET /api/health HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\n` + HEALTH]);
  assert.deepEqual(x.responses.map((r) => r.status), [201, 200, 400], x.bytes.toString());
  assert.match(x.responses[2].body.detail, /more than one Content-Length/);
  assert.ok(x.closed);
  // a head in pieces across writes is examined as a whole
  x = await exchange(srv.port, ['GET /api/hea', 50, `lth HTTP/1.1\r\nHo`, 50, 'st: x\r\nX-A: 1\r\n', 50, 'X-A: 2\r\n\r\n', 50, HEALTH], { ms: 1500 });
  assert.deepEqual(x.responses.map((r) => r.status), [200, 200]);
  x = await exchange(srv.port, ['GET /api/health HTTP/1.1\r\nHost: x\r\nAuthor', 50, 'ization: a\r\nAuthorization: b\r\n', 50, '\r\n']);
  refused(x, 400, /more than one Authorization/, 'a refusal in the second piece of a head');
});

test('head deadline: a trickled head is cut with 408, an idle keep-alive connection closed; a slow body and a stream are not', async () => {
  const s = await start({ EX7_HEAD_TIMEOUT_MS: '1000', EX7_SSE_HEARTBEAT_MS: '300', EX7_RATE_LIMITS: 'off' });
  try {
    // one byte every 250 ms (the attack sent one every 5 s: the same, faster)
    const trickle = [];
    for (const ch of `GET /api/health HTTP/1.1\r\n${H}X-Slow: ${'z'.repeat(40)}\r\n\r\n`) trickle.push(ch, 250);
    let x = await exchange(s.port, trickle, { ms: 8000 });
    refused(x, 408, /request head was not complete within 1000 ms/, 'a trickled head');
    assert.ok(x.ms >= 900 && x.ms < 3500, `cut after ${x.ms} ms`);
    // idle after an answer: closed without a word about 1 s later
    x = await exchange(s.port, [HEALTH], { ms: 6000 });
    assert.deepEqual(x.responses.map((r) => r.status), [200]);
    assert.ok(x.closed && x.ms >= 900 && x.ms < 3500, `idle keep-alive closed after ${x.ms} ms`);
    // a connection that never sends anything
    x = await exchange(s.port, [], { ms: 6000 });
    assert.ok(x.closed && x.bytes.length === 0 && x.ms < 3500, `a silent connection closed after ${x.ms} ms`);
    // a body trickled for 2.5 s after a complete head is evhttp's business (its 60 s timeout): answered
    const body = JSON.stringify({ name: `slow body ${Date.now()}`, instrument: 'MES', timeframe: '5m', description: 'd'.repeat(60) });
    const parts = [`POST /api/strategies HTTP/1.1\r\n${H}Authorization: Bearer ${tu}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`];
    for (let i = 0; i < body.length; i += 10) parts.push(250, body.slice(i, i + 10));
    x = await exchange(s.port, parts, { ms: 10000 });
    assert.deepEqual(x.responses.map((r) => r.status), [201], x.bytes.toString());
    assert.ok(x.ms >= 2000, `the body took ${x.ms} ms`);
    // a signal stream open for 2.5 s keeps receiving heartbeats
    const st = { text: '', ended: false };
    const req = http.get(`${s.base}/api/signals/stream`, { headers: { Authorization: `Bearer ${tu}` } }, (res) => {
      st.status = res.statusCode;
      res.on('data', (d) => { st.text += d; });
      res.on('end', () => { st.ended = true; });
      res.on('error', () => { st.ended = true; });
    });
    req.on('error', () => { st.ended = true; });
    await sleep(2500);
    assert.equal(st.status, 200);
    assert.equal(st.ended, false, 'the stream is open after 2.5 s');
    assert.ok((st.text.match(/: heartbeat/g) ?? []).length >= 4, st.text.slice(-200));
    req.destroy();
    assert.match(s.out.err, /"event":"head_timeout"/);
  } finally {
    await s.stop();
  }
});

test('signal streams: at most EX7_SSE_MAX_PER_USER per user (429 JSON with Retry-After); a closed one frees its place', async () => {
  const s = await start({ EX7_SSE_MAX_PER_USER: '3', EX7_RATE_LIMITS: 'off' });
  const open = (tok) => new Promise((resolve) => {
    const st = { text: '' };
    st.req = http.get(`${s.base}/api/signals/stream`, { headers: { Authorization: `Bearer ${tok}` } }, (res) => {
      st.status = res.statusCode;
      st.headers = res.headers;
      res.on('data', (d) => { st.text += d; if (st.status !== 200 || st.text.includes('event: compliance')) resolve(st); });
      res.on('end', () => resolve(st));
      res.on('error', () => resolve(st));
    });
    st.req.on('error', () => resolve(st));
  });
  const streams = [];
  try {
    for (let i = 0; i < 3; i++) streams.push(await open(tu));
    assert.deepEqual(streams.map((x) => x.status), [200, 200, 200]);
    const over = await open(tu);
    assert.equal(over.status, 429);
    assert.match(JSON.parse(over.text).detail, /too many signal streams open for this user \(at most 3/);
    assert.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After');
    const other = await open(tv);
    assert.equal(other.status, 200, 'another user is not affected');
    streams.push(other);
    streams[0].req.destroy();
    await until(async () => { const again = await open(tu); if (again.status === 200) { streams.push(again); return true; } again.req.destroy(); return false; },
      5000, 'a place freed by a closed stream');
  } finally {
    for (const x of streams) x.req.destroy();
    await s.stop();
  }
});

test('stalled streams: memory stays within EX7_SSE_BUFFER_MAX a stream, chain overhead included (RSS)', async () => {
  const N = 24;
  const CAP = 262144;
  // a heartbeat of 10 minutes: the stalled clients are not closed for not draining while we measure
  const s = await start({ EX7_SSE_BUFFER_MAX: String(CAP), EX7_SSE_HEARTBEAT_MS: '600000', EX7_SSE_MAX_PER_USER: String(N + 1), EX7_RATE_LIMITS: 'off' },
    { bin: PLAIN });
  const W = uid('fa', 3);
  psql(`SELECT ex7.ensure_user('${W}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${W}';
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${W}', 'paper', 1e12, 1000000000, 1000000000, 1000000000) ON CONFLICT (user_id, mode) DO UPDATE
        SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000, max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(W);
  const sid = psql(`WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag) VALUES ('${W}', 'stall ${Date.now()}', 'MNQ', '5m', 'e2e') RETURNING id, user_id),
      v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s) SELECT id FROM s`);
  const tw = await token(W);
  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.proc.pid}/status`, 'utf8'))[1]) * 1024;
  const socks = [];
  try {
    for (let i = 0; i < N; i++) {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.got = 0;
      sock.on('data', (d) => { sock.got += d.length; });
      sock.on('error', () => {});
      await new Promise((r) => sock.on('connect', r));
      sock.write(`GET /api/signals/stream HTTP/1.1\r\n${H}Authorization: Bearer ${tw}\r\n\r\n`);
      socks.push(sock);
    }
    await until(() => socks.every((x) => x.got > 0), 10000, 'every stream started');
    for (const x of socks) x.pause();
    // warm the allocator with a first burst the kernel buffers absorb, then measure from there
    psql(`SELECT count(ex7.fire_signal('${W}', '${sid}', 'paper', 'long', 1, 20000.00 + g * 0.25, now(), 'warm-' || g)) FROM generate_series(1, 50) g`);
    await sleep(1000);
    const base = rss();
    // about 1 KiB a frame: 1,200 frames are more than the kernel's buffers and the cap together
    for (let k = 0; k < 4; k++) {
      psql(`SELECT count(ex7.fire_signal('${W}', '${sid}', 'paper', 'long', 1, 20000.00 + g * 0.25, now(), 'flood-${k}-' || g)) FROM generate_series(1, 300) g`);
    }
    await sleep(1500);
    const grown = rss() - base;
    const frame = psql(`SELECT avg(length(payload::text))::int FROM ex7.signal_events WHERE user_id = '${W}'`);
    console.log(`# ${N} stalled streams, EX7_SSE_BUFFER_MAX ${CAP}: RSS grew ${grown} bytes = ${(grown / N / CAP).toFixed(3)} x the cap a stream (frames about ${frame} bytes of JSON)`);
    assert.equal(s.proc.exitCode, null, 'ex7d is running');
    assert.ok(grown < N * CAP * 1.2, `RSS grew ${grown} bytes, over 1.2 x ${N} x ${CAP}`);
  } finally {
    for (const x of socks) x.destroy();
    await s.stop();
  }
});

// cpu: seconds of CPU pid has used (user + system, /proc/PID/stat)
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')')[1].trim().split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
// flood: opens n connections that send nothing; resolves once they are all connected or refused, or after
// 3 s (beyond ex7d's cap and the kernel's accept queue a connect waits for its SYN to be answered)
async function flood(port, n) {
  const socks = [];
  await Promise.race([sleep(3000), Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', resolve);
    sock.on('error', resolve);
    socks.push(sock);
  })))]);
  return socks;
}
// ask: one request on an open socket; resolves to the status line, or null after ms
function ask(sock, ms = 3000) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    sock.once('data', (d) => { clearTimeout(t); resolve(d.toString('latin1').split('\r\n')[0]); });
    sock.write(HEALTH);
  });
}

for (const [name, env, expectLine] of [
  ['the cap derived from ulimit -n 256', {}, /"event":"connections_at_cap"/],
  ['EX7_MAX_CONNECTIONS over what ulimit -n 256 allows (accept() fails with EMFILE)', { EX7_MAX_CONNECTIONS: '1000' }, /"event":"accept_failed"/],
]) {
  test(`1,100 idle connections under ${name}: no spinning, established clients served, accepting again after closes`, async () => {
    const mport = await freePort();
    const s = await start({ EX7_HEAD_TIMEOUT_MS: '60000', EX7_METRICS_LISTEN: `127.0.0.1:${mport}`, ...env }, { nofile: 256 });
    let socks = [];
    try {
      assert.equal(s.proc.exitCode, null, s.out.err);
      const first = await new Promise((resolve) => { const x = net.connect(s.port, '127.0.0.1', () => resolve(x)); });
      assert.match(await ask(first), /^HTTP\/1.1 200/);
      socks = await flood(s.port, 1100);
      await until(() => expectLine.test(s.out.err), 10000, String(expectLine));
      const c0 = cpu(s.proc.pid);
      await sleep(2000);
      const used = cpu(s.proc.pid) - c0;
      assert.ok(used < 0.5, `ex7d used ${used} s of CPU in 2 s while over its descriptors`);
      assert.match(await ask(first), /^HTTP\/1.1 200/, 'an established client is served');
      assert.doesNotMatch(s.out.err, /Too many open files[^"]*\n[^\n]*Too many open files[^"]*\n[^\n]*Too many open files/, 'no flood of accept errors');
      assert.ok((s.out.err.match(expectLine) ?? []).length <= 2, `one line per interval: ${s.out.err.slice(-600)}`);
      if (!env.EX7_MAX_CONNECTIONS) {
        const m = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
        const open = Number(/^ex7d_connections_open (\d+)/m.exec(m)[1]);
        const max = Number(/^ex7d_connections_max (\d+)/m.exec(m)[1]);
        assert.equal(max, 256 - 4 - 64, 'RLIMIT_NOFILE less the pool (4) less the reserve (64)');
        assert.equal(open, max, 'held at the cap');
      }
      // free most of them: the queued clients are accepted, and a new one is served
      for (const x of socks.splice(0, 1000)) x.destroy();
      await until(async () => {
        try { return (await fetch(`${s.base}/api/health`, { signal: AbortSignal.timeout(2000) })).status === 200; } catch { return false; }
      }, 15000, 'a new client served after the flood');
      first.destroy();
    } finally {
      for (const x of socks) x.destroy();
      await s.stop();
    }
  });
}
