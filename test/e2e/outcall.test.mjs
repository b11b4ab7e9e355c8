// test/e2e/outcall.test.mjs: ex7d's outbound HTTP(S) client (http/outcall.c), through `ex7d fetch`, which
// makes exactly the call the billing and alert routes make: local http and https stand-ins (a self-signed
// certificate made here with openssl, trusted through EX7_OUTCALL_CAFILE) check the request's shape; TLS
// verification (unknown CA, wrong host name), the whole-exchange timeout and a refused connection end in
// one clear error each, never a hang.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { EX7D, freePort } from './lib.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'ex7-outcall-'));
// cert: a self-signed certificate for the given subjectAltName, its key and cert files
function cert(name, san) {
  const key = path.join(dir, `${name}.key`);
  const crt = path.join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(crt), file: crt };
}

// fetch: runs `ex7d fetch` and resolves to { code, status, body, err, ms }
function fetchx(args, env = {}) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(EX7D, ['fetch', ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 30000 }, (e, stdout, stderr) => {
      const nl = stdout.indexOf('\n');
      resolve({ code: e ? e.code : 0, status: nl > 0 ? Number(stdout.slice(0, nl)) : 0, body: nl > 0 ? stdout.slice(nl + 1) : '', err: stderr.trim(), ms: Date.now() - t0 });
    });
  });
}

const seen = [];
function handler(req, res) {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    if (req.url === '/hang') return; // never answers
    if (req.url === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"part": 1, ');
      setTimeout(() => res.end('"rest": "done"}'), 50);
      return;
    }
    if (req.url === '/fail') {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error": {"message": "boom"}}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, body }));
  });
}

let plain, secure, wrongName, hostCert, otherCert, pPlain, pSecure, pWrong;
before(async () => {
  hostCert = cert('localhost', 'DNS:localhost,IP:127.0.0.1');
  otherCert = cert('other.example', 'DNS:other.example');
  pPlain = await freePort();
  pSecure = await freePort();
  pWrong = await freePort();
  plain = http.createServer(handler).listen(pPlain, '127.0.0.1');
  secure = https.createServer({ key: hostCert.key, cert: hostCert.cert }, handler).listen(pSecure, '127.0.0.1');
  wrongName = https.createServer({ key: otherCert.key, cert: otherCert.cert }, handler).listen(pWrong, '127.0.0.1');
});
after(() => {
  for (const s of [plain, secure, wrongName]) { s.closeAllConnections?.(); s.close(); }
});

test('http: GET and POST reach the stand-in with Host, User-Agent, the given headers and the exact body', async () => {
  let r = await fetchx([`http://127.0.0.1:${pPlain}/v1/things?limit=3`]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { ok: true, method: 'GET', url: '/v1/things?limit=3', body: '' });
  let s = seen.at(-1);
  assert.equal(s.headers.host, `127.0.0.1:${pPlain}`);
  assert.match(s.headers['user-agent'], /^ex7d\//);

  const form = 'mode=subscription&line_items%5B0%5D%5Bprice%5D=price_1&note=a+b%26c';
  r = await fetchx(['-X', 'POST', '-H', 'Authorization: Bearer sk_test_123', '-H', 'Content-Type: application/x-www-form-urlencoded',
    '-H', 'Idempotency-Key: k-1', '-d', form, `http://localhost:${pPlain}/v1/checkout/sessions`]);
  assert.equal(r.code, 0, r.err);
  s = seen.at(-1);
  assert.equal(s.method, 'POST');
  assert.equal(s.body, form);
  assert.equal(s.headers['content-length'], String(form.length));
  assert.equal(s.headers.authorization, 'Bearer sk_test_123');
  assert.equal(s.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(s.headers['idempotency-key'], 'k-1');
});

test('a chunked response is read whole; a 500 is a response (status 500), not an error', async () => {
  let r = await fetchx([`http://127.0.0.1:${pPlain}/chunked`]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.body), { part: 1, rest: 'done' });
  r = await fetchx([`http://127.0.0.1:${pPlain}/fail`]);
  assert.equal(r.code, 0);
  assert.equal(r.status, 500);
  assert.equal(JSON.parse(r.body).error.message, 'boom');
});

test('https: a certificate from the trusted CA file for the host name (or IP) is accepted', async () => {
  for (const host of ['localhost', '127.0.0.1']) {
    const r = await fetchx(['-d', 'x=1', `https://${host}:${pSecure}/v1/tls`], { EX7_OUTCALL_CAFILE: hostCert.file });
    assert.equal(r.code, 0, `${host}: ${r.err}`);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).body, 'x=1');
  }
});

test('https: an untrusted certificate or another host\'s certificate is refused before anything is sent', async () => {
  const before = seen.length;
  let r = await fetchx([`https://localhost:${pSecure}/v1/secret`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /tls: certificate verify failed: self-signed certificate/);
  // trusted chain, wrong name: the cert names other.example, the URL localhost
  writeFileSync(path.join(dir, 'both.crt'), Buffer.concat([hostCert.cert, otherCert.cert]));
  r = await fetchx([`https://localhost:${pWrong}/v1/secret`], { EX7_OUTCALL_CAFILE: path.join(dir, 'both.crt') });
  assert.equal(r.code, 1);
  assert.match(r.err, /tls: certificate verify failed: hostname mismatch/);
  r = await fetchx([`https://127.0.0.1:${pWrong}/v1/secret`], { EX7_OUTCALL_CAFILE: path.join(dir, 'both.crt') });
  assert.match(r.err, /tls: certificate verify failed: IP address mismatch/);
  assert.equal(seen.length, before, 'no request reached a server whose certificate failed');
  // plain http spoken to a TLS port is a TLS error, not a hang
  r = await fetchx(['--timeout', '3000', `https://127.0.0.1:${pPlain}/`], { EX7_OUTCALL_CAFILE: hostCert.file });
  assert.equal(r.code, 1);
  assert.match(r.err, /^ex7d fetch: (tls: |connect failed|connection closed)/);
  r = await fetchx([`https://localhost:${pSecure}/`], { EX7_OUTCALL_CAFILE: path.join(dir, 'missing.pem') });
  assert.match(r.err, /tls: cannot load the CA certificates of .*missing.pem/);
});

test('the timeout bounds the whole exchange; a refused connection and a bad URL fail at once', async () => {
  let r = await fetchx(['--timeout', '700', `http://127.0.0.1:${pPlain}/hang`]);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'ex7d fetch: timeout');
  assert.ok(r.ms >= 650 && r.ms < 3000, `${r.ms} ms`);
  r = await fetchx(['--timeout', '700', `https://localhost:${pSecure}/hang`], { EX7_OUTCALL_CAFILE: hostCert.file });
  assert.equal(r.err, 'ex7d fetch: timeout');
  const closed = await freePort();
  r = await fetchx([`http://127.0.0.1:${closed}/`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /connect failed: no connection to 127\.0\.0\.1:\d+/);
  assert.ok(r.ms < 2000);
  r = await fetchx(['ftp://example.com/']);
  assert.equal(r.code, 2);
  r = await fetchx(['http://host.invalid/']);
  assert.equal(r.code, 1);
  assert.match(r.err, /connect failed: cannot resolve the host/);
});
