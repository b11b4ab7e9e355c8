// test/e2e/standins/providers.mjs: local stand-ins for the alert providers ex7d's worker calls (Resend,
// Telegram Bot API, Twilio) and for a user's webhook endpoint. Each records the requests it received and
// checks their shape the way the real API would refuse a bad one (auth, content type, required fields);
// a shape error is recorded in `errors` and answered 400/401, so a test asserts errors is empty.
// The webhook endpoint verifies the Svix signature with the official svix library, as a receiver would.
import http from 'node:http';
import { Webhook } from 'svix';

export const RESEND_KEY = 're_test_0123456789';
export const TELEGRAM_TOKEN = '123456:TEST-token_abc';
export const TWILIO_SID = 'AC0123456789abcdef0123456789abcdef';
export const TWILIO_TOKEN = 'twilio-auth-token-0123456789';

// startProviders: resolves to { base, port, requests, errors, fail(kind, n, status), secrets, close() }.
// kind is resend | telegram | twilio | webhook; fail makes the next n requests of that kind answer status
// (a 5xx: the worker retries). secrets maps a webhook path to its whsec_ secret (set by the test).
export async function startProviders() {
  const requests = { resend: [], telegram: [], twilio: [], webhook: [] };
  const errors = [];
  const failures = { resend: [], telegram: [], twilio: [], webhook: [] };
  const secrets = {};
  let seq = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://x');
      const reply = (status, obj) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const bad = (kind, status, why) => { errors.push(`${kind}: ${why}`); reply(status, { message: why }); };
      let kind;
      if (req.method === 'POST' && url.pathname === '/emails') kind = 'resend';
      else if (req.method === 'POST' && url.pathname === `/bot${TELEGRAM_TOKEN}/sendMessage`) kind = 'telegram';
      else if (req.method === 'POST' && url.pathname === `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`) kind = 'twilio';
      else if (req.method === 'POST' && url.pathname.startsWith('/hook')) kind = 'webhook';
      else return bad('unknown', 404, `no such endpoint ${req.method} ${url.pathname}`);
      const entry = { headers: req.headers, raw, at: Date.now() };
      requests[kind].push(entry);
      const plan = failures[kind];
      if (plan.length > 0) {
        const status = plan.shift();
        return reply(status, { message: 'stand-in failure' });
      }
      if (kind === 'resend') {
        // Resend: Bearer key, JSON with from, to[], subject and html or text; Idempotency-Key optional
        if (req.headers.authorization !== `Bearer ${RESEND_KEY}`) return bad(kind, 401, 'bad Authorization');
        if (!String(req.headers['content-type']).startsWith('application/json')) return bad(kind, 400, 'not JSON');
        let b;
        try { b = JSON.parse(raw); } catch { return bad(kind, 400, 'invalid JSON'); }
        if (!b.from || !Array.isArray(b.to) || b.to.length === 0 || !b.subject || !(b.html || b.text)) return bad(kind, 422, 'missing from, to, subject or body');
        entry.body = b;
        entry.idempotencyKey = req.headers['idempotency-key'];
        return reply(200, { id: `re_${++seq}` });
      }
      if (kind === 'telegram') {
        let b;
        try { b = JSON.parse(raw); } catch { return bad(kind, 400, 'invalid JSON'); }
        if (b.chat_id === undefined || typeof b.text !== 'string' || b.text.length === 0 || b.text.length > 4096) return bad(kind, 400, 'chat_id and text (1-4096) are required');
        entry.body = b;
        return reply(200, { ok: true, result: { message_id: ++seq, chat: { id: Number(b.chat_id) }, text: b.text } });
      }
      if (kind === 'twilio') {
        // Twilio: HTTP Basic with the account SID and auth token, a form with To, From and Body
        const expect = 'Basic ' + Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64');
        if (req.headers.authorization !== expect) return bad(kind, 401, 'bad Authorization');
        if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return bad(kind, 400, 'not a form');
        const f = Object.fromEntries(new URLSearchParams(raw));
        if (!/^\+[1-9]\d{6,14}$/.test(f.To || '') || !f.From || !f.Body || f.Body.length > 1600) return bad(kind, 400, 'To, From and Body are required');
        entry.body = f;
        return reply(201, { sid: `SM${String(++seq).padStart(32, '0')}`, status: 'queued', to: f.To });
      }
      // a user's endpoint: verify like a receiver would, with the svix library
      const secret = secrets[url.pathname];
      if (!secret) return bad(kind, 404, `no secret for ${url.pathname}`);
      try {
        entry.body = new Webhook(secret).verify(raw, {
          'svix-id': req.headers['svix-id'], 'svix-timestamp': req.headers['svix-timestamp'], 'svix-signature': req.headers['svix-signature'],
        });
      } catch (e) {
        return bad(kind, 400, `signature: ${e.message}`);
      }
      return reply(200, { received: true });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port, base: `http://127.0.0.1:${port}`, requests, errors, secrets,
    fail(kind, n, status = 503) { for (let i = 0; i < n; i++) failures[kind].push(status); },
    close() { return new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }); },
  };
}
