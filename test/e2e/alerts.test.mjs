// test/e2e/alerts.test.mjs: alerts end to end (docs/alerts.md). ex7d runs its delivery worker
// (EX7_WORKER=1) against local stand-ins of Resend, Telegram, Twilio and a user's webhook endpoint
// (standins/providers.mjs, which check request shape). Channels are verified the way a user would (the
// code read from the message the stand-in received, the Telegram /start handshake, the signed webhook
// challenge); signals fired in the database reach the providers; Resend webhooks signed with the official
// svix library are accepted and tampered ones are 400; the outbox retries a failing provider and records
// one delivery; the daily quota suppresses; unsubscribe links work and forged tokens do not; Twilio
// receipts and STOP; price alerts fired by scripted bars; notifications; another user's ids are 404 on
// every route; `ex7d worker` as a process of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { Webhook } from 'svix';
import { ensureDb, startEx7d, token, api, uid, psql, conninfo, EX7D, sleep, until } from './lib.mjs';
import { startProviders, RESEND_KEY, TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN } from './standins/providers.mjs';

const A = uid('7e', 1);
const B = uid('7e', 2);
const C = uid('7e', 3);
const RESEND_SECRET = 'whsec_' + Buffer.from('resend-webhook-test-key-0123456').toString('base64');
const TG_SECRET = 'tg_secret-0123456789';
const PUBLIC_URL = 'https://api.ex7.test';
let first, srv, prov, tokA, tokB, tokC, strategyA, strategyC;

function env(extra = {}) {
  return {
    EX7_WORKER: '1', EX7_WORKER_INTERVAL_MS: '100', EX7_WORKER_RETRY_MS: '100', EX7_PUBLIC_URL: PUBLIC_URL,
    RESEND_API_KEY: RESEND_KEY, RESEND_API_BASE: prov.base, RESEND_WEBHOOK_SECRET: RESEND_SECRET, RESEND_FROM: 'ex7 <alerts@ex7.test>',
    TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, TELEGRAM_API_BASE: prov.base, TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
    TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, TWILIO_API_BASE: prov.base, TWILIO_FROM_NUMBER: '+15005550006',
    EX7_RATE_LIMITS: 'off', ...extra,
  };
}
let barMinute = 0;
function fire(user, strategy, price = '5000.25') {
  barMinute += 5;
  const ts = new Date(Date.UTC(2026, 10, 20, 14, 0) + barMinute * 60000).toISOString();
  return psql(`SELECT ex7.fire_signal('${user}', '${strategy}', 'paper', 'long', 1, ${price}, '${ts}') #>> '{signal,id}'`);
}
function code(text) { return /verification code is (\d{6})/.exec(text)[1]; }

before(async () => {
  ensureDb();
  prov = await startProviders();
  // the compliance documents (docs/billing.md): channels, subscriptions and closes answer 412 before
  for (const u of [A, B, C]) psql(`SELECT ex7.ensure_user('${u}'); SELECT ex7.accept_compliance('${u}')`);
  psql(`SELECT ex7.set_risk_limits('${A}', 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100}')`);
  psql(`SELECT ex7.set_risk_limits('${C}', 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100}')`);
  // the webhook endpoint is the stand-in on 127.0.0.1: allowed for this database only
  psql(`ALTER DATABASE ${process.env.EX7_E2E_DB || 'ex7_e2e'} SET ex7.alerts_allow_private_webhooks = on`);
  srv = first = await startEx7d(env());
  [tokA, tokB, tokC] = await Promise.all([token(A), token(B), token(C)]);
  let r = await api(srv, 'POST', '/api/strategies', { tok: tokA, body: { name: 'alerted', instrument: 'MES', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  strategyA = r.body.id;
  r = await api(srv, 'POST', '/api/strategies', { tok: tokC, body: { name: 'solo worker', instrument: 'MES', timeframe: '5m' } });
  strategyC = r.body.id;
});
after(async () => {
  if (process.env.EX7_E2E_DEBUG) console.error(first?.out.err);
  await srv?.stop();
  await prov?.close();
});

const state = {};

test('email channel: the code arrives through Resend, a wrong code is 422 (counted), the right one verifies', async () => {
  let r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokA, body: { type: 'email', destination: 'nope' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'destination']);
  r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokA, body: { type: 'email', destination: 'trader@example.com', label: 'work' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.status, 'pending');
  state.email = r.body.id;
  const mail = await until(() => prov.requests.resend.find((q) => q.body?.to?.[0] === 'trader@example.com'), 8000, 'verification email');
  assert.equal(mail.body.subject, 'Your ex7 verification code');
  assert.equal(mail.body.from, 'ex7 <alerts@ex7.test>');
  const c = code(mail.body.text);
  r = await api(srv, 'POST', `/api/alerts/channels/${state.email}/verify`, { tok: tokA, body: { code: c === '000000' ? '111111' : '000000' } });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'code']);
  assert.equal(r.body.detail[0].attempts_left, 4);
  r = await api(srv, 'POST', `/api/alerts/channels/${state.email}/verify`, { tok: tokB, body: { code: c } });
  assert.equal(r.status, 404);
  r = await api(srv, 'POST', `/api/alerts/channels/${state.email}/verify`, { tok: tokA, body: { code: c } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.verified, true);
  // resend right after: rate limited (and nothing to resend once verified)
  r = await api(srv, 'POST', `/api/alerts/channels/${state.email}/resend`, { tok: tokA });
  assert.equal(r.status, 409);
  assert.deepEqual(prov.errors, []);
});

test('a fired and a closed signal reach the subscribed email with the idempotency key, P&L and an unsubscribe link', async () => {
  let r = await api(srv, 'POST', '/api/alerts/subscriptions', { tok: tokA, body: { channel_id: state.email, strategy_id: strategyA, events: ['signal', 'signal_closed'] } });
  assert.equal(r.status, 201, r.text);
  state.subEmail = r.body.id;
  r = await api(srv, 'POST', '/api/alerts/subscriptions', { tok: tokA, body: { channel_id: state.email, strategy_id: strategyA } });
  assert.equal(r.status, 409);
  const before = prov.requests.resend.length;
  const sig = fire(A, strategyA, '5000.25');
  psql(`SELECT ex7.close_signal('${A}', '${sig}', 5001.00)`);
  await until(() => prov.requests.resend.length >= before + 2, 8000, 'two alert emails');
  const [opened, closed] = prov.requests.resend.slice(before);
  assert.equal(opened.body.subject, 'MES LONG 1 @ 5000.25');
  assert.match(opened.body.text, /alerted: long 1 MES at 5000\.25 \(paper\)/);
  assert.match(closed.body.subject, /closed @ 5001\.00, P&L -?\d+\.\d\d$/);
  assert.match(opened.body.headers['List-Unsubscribe'], /^<https:\/\/api\.ex7\.test\/api\/alerts\/unsubscribe\?token=[\w-]{44}>$/);
  assert.equal(opened.body.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');
  assert.match(opened.body.html, /href="https:\/\/api\.ex7\.test\/api\/alerts\/unsubscribe\?token=/);
  // the delivery: sent, with Resend's id; the Idempotency-Key was the delivery id
  const list = await until(async () => {
    const l = await api(srv, 'GET', `/api/alerts/deliveries?strategy_id=${strategyA}&status=sent`, { tok: tokA });
    return l.body.items.length >= 2 && l;
  }, 8000, 'deliveries recorded as sent');
  const d = list.body.items.find((x) => x.event === 'signal');
  assert.equal(d.event, 'signal');
  assert.equal(opened.idempotencyKey, d.id);
  r = await api(srv, 'GET', `/api/alerts/deliveries/${d.id}`, { tok: tokA });
  assert.equal(r.status, 200);
  assert.match(r.body.provider_message_id, /^re_\d+$/);
  state.deliveryEmail = r.body;
  state.unsubscribeUrl = /<(.*)>/.exec(opened.body.headers['List-Unsubscribe'])[1].replace(PUBLIC_URL, '');
  assert.deepEqual(prov.errors, []);
});

test('Resend webhooks: signed with the svix library accepted (delivered, then a hard bounce disables the channel); tampered, stale or unsigned 400', async () => {
  const wh = new Webhook(RESEND_SECRET);
  const post = (path, payload, headers) => api(srv, 'POST', path, { raw: payload, headers: { 'Content-Type': 'application/json', ...headers } });
  const event = (type, extra = {}) => JSON.stringify({ type, created_at: new Date().toISOString(), data: { email_id: state.deliveryEmail.provider_message_id, to: ['trader@example.com'], ...extra } });
  const sign = (id, payload, when = new Date()) => ({ 'svix-id': id, 'svix-timestamp': String(Math.floor(when.getTime() / 1000)), 'svix-signature': wh.sign(id, when, payload) });

  let payload = event('email.delivered');
  let r = await post('/api/alerts/webhooks/resend', payload, sign('msg_1', payload));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'delivered');
  // tampered body, signature of another body, a stale timestamp, no headers, another secret
  const h = sign('msg_2', payload);
  r = await post('/api/alerts/webhooks/resend', payload.replace('delivered', 'bounced'), h);
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /no matching v1 signature/);
  r = await post('/api/alerts/webhooks/resend', payload, sign('msg_3', payload, new Date(Date.now() - 10 * 60000)));
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /tolerance/);
  r = await post('/api/alerts/webhooks/resend', payload, {});
  assert.equal(r.status, 400);
  const other = new Webhook('whsec_' + Buffer.from('another-key-another-key-0123').toString('base64'));
  r = await post('/api/alerts/webhooks/resend', payload, { 'svix-id': 'msg_4', 'svix-timestamp': h['svix-timestamp'], 'svix-signature': other.sign('msg_4', new Date(Number(h['svix-timestamp']) * 1000), payload) });
  assert.equal(r.status, 400);
  // several signatures while the secret rotates: any v1 may match
  const rot = sign('msg_5', payload);
  r = await post('/api/alerts/webhooks/resend', payload, { ...rot, 'svix-signature': `v1,AAAA${rot['svix-signature'].slice(7)} ${rot['svix-signature']}` });
  assert.equal(r.status, 200);
  // the alias path, a hard bounce: the channel is disabled
  payload = event('email.bounced', { bounce: { type: 'Permanent', message: 'mailbox does not exist' } });
  r = await post('/api/alerts/webhooks/email', payload, sign('msg_6', payload));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'bounced');
  r = await api(srv, 'GET', '/api/alerts/channels', { tok: tokA });
  const ch = r.body.find((c) => c.id === state.email);
  assert.equal(ch.status, 'disabled');
  assert.equal(ch.disabled_reason, 'bounced');
  // an unknown email id is acknowledged (Resend would retry it forever otherwise)
  payload = JSON.stringify({ type: 'email.delivered', data: { email_id: 'nope' } });
  r = await post('/api/alerts/webhooks/resend', payload, sign('msg_7', payload));
  assert.equal(r.status, 200);
  assert.equal(r.body.matched, false);
});

test('Telegram handshake: /start <token> with the shared secret verifies the chat; a wrong secret is 401; alerts then go to the chat', async () => {
  let r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokA, body: { type: 'telegram', label: 'phone' } });
  assert.equal(r.status, 201, r.text);
  state.tg = r.body.id;
  const startToken = r.body.verification.start_token;
  assert.equal(r.body.verification.start_command, `/start ${startToken}`);
  const update = (text, chat = 777001) => JSON.stringify({ update_id: 1, message: { message_id: 5, chat: { id: chat, type: 'private' }, text } });
  r = await api(srv, 'POST', '/api/alerts/webhooks/telegram', { raw: update(`/start ${startToken}`), headers: { 'X-Telegram-Bot-Api-Secret-Token': 'wrong' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer', 'every 401 carries WWW-Authenticate (RFC 9110 15.5.2)');
  r = await api(srv, 'POST', '/api/alerts/webhooks/telegram', { raw: update(`/start ${startToken}`) });
  assert.equal(r.status, 401);
  // other text with the right secret (in the query, as the contract's setWebhook URL): logged, ignored
  r = await api(srv, 'POST', `/api/alerts/webhooks/telegram?secret=${TG_SECRET}`, { raw: update('hello') });
  assert.equal(r.status, 200);
  assert.equal(r.body.action, 'ignored');
  r = await api(srv, 'POST', '/api/alerts/webhooks/telegram', { raw: update(`/start ${startToken}`), headers: { 'X-Telegram-Bot-Api-Secret-Token': TG_SECRET } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.method, 'sendMessage');
  assert.equal(r.body.chat_id, '777001');
  r = await api(srv, 'GET', '/api/alerts/channels', { tok: tokA });
  const ch = r.body.find((c) => c.id === state.tg);
  assert.equal(ch.verified, true);
  assert.equal(ch.destination, '777001');
  r = await api(srv, 'POST', '/api/alerts/subscriptions', { tok: tokA, body: { channel_id: state.tg, events: ['signal'] } });
  assert.equal(r.status, 201);
  const n = prov.requests.telegram.length;
  fire(A, strategyA);
  const msg = await until(() => prov.requests.telegram[n], 8000, 'telegram message');
  assert.equal(msg.body.chat_id, '777001');
  assert.match(msg.body.text, /^alerted: long 1 MES at 5000\.25/);
  assert.deepEqual(prov.errors, []);
});

test('outbox retries: a provider that fails twice then succeeds gets three attempts, one delivery recorded, nothing sent after', async () => {
  prov.fail('telegram', 2, 503);
  const n = prov.requests.telegram.length;
  const sig = fire(A, strategyA);
  await until(() => prov.requests.telegram.length >= n + 3, 8000, 'three telegram attempts');
  const rows = await until(() => {
    const out = psql(`SELECT status || ' ' || attempts || ' ' || coalesce(provider_message_id, '-') FROM ex7.alert_deliveries
                       WHERE message #>> '{data,signal,id}' = '${sig}' AND channel_type = 'telegram'`);
    return out.startsWith('delivered') && out;
  }, 8000, 'the delivery recorded');
  assert.match(rows, /^delivered 3 777001:\d+$/);
  await sleep(500);
  assert.equal(prov.requests.telegram.length, n + 3, 'nothing sent after the success');
  assert.equal(psql(`SELECT count(*) FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = '${sig}' AND channel_type = 'telegram'`), '1');
});

test('quota: over the tier\'s alerts a day the delivery is suppressed with reason quota, nothing is sent', async () => {
  psql(`INSERT INTO ex7.alert_usage (user_id, day, sent) VALUES ('${A}', (now() AT TIME ZONE 'UTC')::date, 20)
        ON CONFLICT (user_id, day) DO UPDATE SET sent = 20`);
  const n = prov.requests.telegram.length;
  const sig = fire(A, strategyA);
  const d = await until(async () => {
    const r = await api(srv, 'GET', '/api/alerts/deliveries?status=suppressed&limit=200', { tok: tokA });
    return r.body.items.find((x) => x.channel_type === 'telegram' && x.reason === 'quota');
  }, 8000, 'a suppressed delivery');
  assert.equal(d.status, 'suppressed');
  assert.equal(psql(`SELECT reason FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = '${sig}' AND channel_type = 'telegram'`), 'quota');
  await sleep(300);
  assert.equal(prov.requests.telegram.length, n);
  psql(`UPDATE ex7.alert_usage SET sent = 0 WHERE user_id = '${A}'`);
});

test('unsubscribe: the link shows an HTML page, POST confirms; forged or edited tokens are 422', async () => {
  let r = await api(srv, 'GET', state.unsubscribeUrl);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^text\/html; charset=utf-8/);
  assert.match(r.text, /Stop signal, signal_closed alerts of the strategy &quot;alerted&quot; sent to t\*\*\*@example\.com\?/);
  assert.match(r.text, /<form method="post" action="\/api\/alerts\/unsubscribe\?token=[\w-]{44}">/);
  const tok = new URL(state.unsubscribeUrl, 'http://x').searchParams.get('token');
  const flip = (t, i) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
  for (const bad of [flip(tok, 5), flip(tok, 30), flip(tok, 43), tok.slice(0, 40), 'x'.repeat(44), crypto.randomBytes(33).toString('base64url')]) {
    r = await api(srv, 'GET', `/api/alerts/unsubscribe?token=${bad}`);
    assert.equal(r.status, 422, bad);
    r = await api(srv, 'POST', `/api/alerts/unsubscribe?token=${bad}`, { raw: '' });
    assert.equal(r.status, 422, bad);
  }
  // RFC 8058 one-click: a form body, the token in the query
  r = await api(srv, 'POST', state.unsubscribeUrl, { raw: 'List-Unsubscribe=One-Click', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.status, 200);
  assert.match(r.text, /You will no longer receive/);
  r = await api(srv, 'GET', '/api/alerts/subscriptions', { tok: tokA });
  const s = r.body.find((x) => x.id === state.subEmail);
  assert.equal(s.enabled, false);
  assert.ok(s.unsubscribed_at);
});

test('webhook channel: a signed challenge carries the code (verified with the svix library by the receiver), then signed alerts', async () => {
  let r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokA, body: { type: 'webhook', destination: `${prov.base}/hook1` } });
  assert.equal(r.status, 201, r.text);
  state.hook = r.body.id;
  prov.secrets['/hook1'] = r.body.signing_secret;
  assert.match(r.body.signing_secret, /^whsec_/);
  const challenge = await until(() => prov.requests.webhook.find((q) => q.body?.type === 'channel.verification'), 8000, 'the challenge');
  assert.match(challenge.headers['svix-id'], /^msg_[0-9a-f]{32}$/);
  r = await api(srv, 'POST', `/api/alerts/channels/${state.hook}/verify`, { tok: tokA, body: { code: challenge.body.data.code } });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'POST', '/api/alerts/subscriptions', { tok: tokA, body: { channel_id: state.hook, strategy_id: strategyA, events: ['signal'] } });
  assert.equal(r.status, 201);
  const sig = fire(A, strategyA);
  const got = await until(() => prov.requests.webhook.find((q) => q.body?.type === 'alert.signal'), 8000, 'the alert');
  assert.equal(got.body.data.signal.id, sig);
  assert.equal(got.body.data.strategy_name, 'alerted');
  await until(() => psql(`SELECT status FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = '${sig}' AND channel_type = 'webhook'`) === 'delivered', 8000, 'delivered');
  assert.deepEqual(prov.errors, []);
});

test('sms: the code by Twilio, status callbacks signed with X-Twilio-Signature, STOP disables, HELP answers', async () => {
  let r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokA, body: { type: 'sms', destination: '+14155550123' } });
  assert.equal(r.status, 201, r.text);
  const chan = r.body.id;
  const sms = await until(() => prov.requests.twilio.find((q) => q.body?.To === '+14155550123'), 8000, 'verification sms');
  assert.equal(sms.body.From, '+15005550006');
  assert.equal(sms.body.StatusCallback, `${PUBLIC_URL}/api/alerts/webhooks/twilio`);
  r = await api(srv, 'POST', `/api/alerts/channels/${chan}/verify`, { tok: tokA, body: { code: code(sms.body.Body) } });
  assert.equal(r.status, 200, r.text);
  const sid = await until(() => psql(`SELECT provider_message_id FROM ex7.alert_deliveries WHERE channel_id = '${chan}' AND status = 'sent'`), 8000, 'sent');
  // facts.md: base64(HMAC-SHA1(auth token, URL + sorted name+value))
  const signTwilio = (params, url = `${PUBLIC_URL}/api/alerts/webhooks/twilio`) => crypto.createHmac('sha1', TWILIO_TOKEN)
    .update(url + Object.keys(params).sort().map((k) => k + params[k]).join('')).digest('base64');
  const postTwilio = (params, sig = signTwilio(params)) => api(srv, 'POST', '/api/alerts/webhooks/twilio', {
    raw: new URLSearchParams(params).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig } });
  const receipt = { MessageSid: sid, MessageStatus: 'delivered', AccountSid: TWILIO_SID, To: '+14155550123' };
  r = await postTwilio(receipt, signTwilio({ ...receipt, MessageStatus: 'failed' }));
  assert.equal(r.status, 403);
  r = await postTwilio(receipt);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^application\/xml/);
  assert.equal(psql(`SELECT status FROM ex7.alert_deliveries WHERE provider_message_id = '${sid}'`), 'delivered');
  r = await postTwilio({ From: '+14155550123', Body: 'HELP', MessageSid: 'SMin1', SmsStatus: 'received' });
  assert.match(r.text, /<Message>ex7 alerts: .*Reply STOP to unsubscribe/);
  r = await postTwilio({ From: '+14155550123', Body: 'STOP', MessageSid: 'SMin2', SmsStatus: 'received' });
  assert.equal(r.status, 200);
  r = await api(srv, 'GET', '/api/alerts/channels', { tok: tokA });
  assert.equal(r.body.find((c) => c.id === chan).disabled_reason, 'stopped');
  assert.deepEqual(prov.errors, []);
});

test('notifications: every alert event is in the list; type and unreadOnly filters, total, read, delete, preferences', async () => {
  let r = await api(srv, 'GET', '/api/notifications?limit=2&offset=0', { tok: tokA });
  assert.equal(r.status, 200);
  assert.equal(r.body.notifications.length, 2);
  assert.ok(r.body.total >= 6, r.text);
  r = await api(srv, 'GET', '/api/notifications?type=signal_closed', { tok: tokA });
  assert.equal(r.body.total, 1);
  const one = r.body.notifications[0];
  assert.equal(one.read_at, null);
  assert.match(one.title, /closed @ 5001\.00/);
  r = await api(srv, 'PATCH', `/api/notifications/${one.id}`, { tok: tokA });
  assert.deepEqual(r.body, { success: true });
  r = await api(srv, 'GET', '/api/notifications?type=signal_closed&unreadOnly=true', { tok: tokA });
  assert.equal(r.body.total, 0);
  r = await api(srv, 'PATCH', '/api/notifications', { tok: tokA });
  assert.equal(r.body.success, true);
  r = await api(srv, 'GET', '/api/notifications?unreadOnly=true', { tok: tokA });
  assert.equal(r.body.total, 0);
  r = await api(srv, 'DELETE', `/api/notifications/${one.id}`, { tok: tokA });
  assert.equal(r.status, 200);
  r = await api(srv, 'GET', '/api/notifications?type=lunch', { tok: tokA });
  assert.equal(r.status, 422);
  r = await api(srv, 'PUT', '/api/profile/preferences', { tok: tokA, body: { notification_preferences: { runtime_error: false } } });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'GET', '/api/notifications/preferences', { tok: tokA });
  assert.equal(r.body.notification_preferences.runtime_error, false);
  assert.equal(r.body.notification_preferences.signal, true);
});

test('price alerts fired by scripted bars: a log entry, a notification, CRUD and logs over HTTP', async () => {
  const bar = (m, o, h, l, c) => psql(`SELECT ex7.ingest_bar('MCL', '1m', '2026-11-18 15:00+00'::timestamptz + ${m} * interval '1 minute', ${o}, ${h}, ${l}, ${c}, 5) ->> 'status'`);
  assert.equal(bar(1, 70.00, 70.10, 69.90, 70.05), 'stored');
  let r = await api(srv, 'POST', '/api/alerts/price', { tok: tokA, body: { instrument: 'mcl', condition: 'crosses_above', level: '70.50', note: 'oil' } });
  assert.equal(r.status, 201, r.text);
  const alert = r.body;
  assert.equal(alert.last_price, '70.05');
  assert.equal(alert.timeframe, '1m');
  r = await api(srv, 'POST', '/api/alerts/price', { tok: tokA, body: { instrument: 'MCL', condition: 'sideways', level: 1 } });
  assert.equal(r.status, 422);
  assert.equal(bar(2, 70.05, 70.40, 70.00, 70.30), 'stored');
  assert.equal(bar(3, 70.30, 70.60, 70.20, 70.55), 'stored');
  r = await api(srv, 'GET', '/api/alerts/price/logs', { tok: tokA });
  assert.equal(r.body.total, 1);
  assert.equal(r.body.logs[0].price, '70.55');
  assert.equal(r.body.logs[0].alert_id, alert.id);
  r = await api(srv, 'GET', '/api/notifications?type=price_alert', { tok: tokA });
  assert.equal(r.body.notifications[0].title, 'MCL crossed above 70.50');
  r = await api(srv, 'GET', '/api/alerts/price?instrument=MCL', { tok: tokA });
  assert.equal(r.body[0].active, false);
  assert.equal(r.body[0].triggered_count, 1);
  r = await api(srv, 'PATCH', `/api/alerts/price/${alert.id}`, { tok: tokA, body: { active: true, repeat: true } });
  assert.equal(r.status, 200);
  assert.equal(r.body.active, true);
  const logId = (await api(srv, 'GET', '/api/alerts/price/logs', { tok: tokA })).body.logs[0].id;
  r = await api(srv, 'DELETE', `/api/alerts/price/logs/${logId}`, { tok: tokA });
  assert.equal(r.status, 204);
  r = await api(srv, 'DELETE', '/api/alerts/price/logs', { tok: tokA });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { deleted: 0 });
  r = await api(srv, 'DELETE', `/api/alerts/price/${alert.id}`, { tok: tokA });
  assert.equal(r.status, 204);
});

test('BOLA: another user\'s channel, subscription, delivery, notification, price alert and log are 404 on every route', async () => {
  const ids = {
    channel: state.tg,
    sub: JSON.parse(psql(`SELECT to_json(id) FROM ex7.alert_subscriptions WHERE user_id = '${A}' LIMIT 1`)),
    delivery: state.deliveryEmail.id,
    notification: JSON.parse(psql(`SELECT to_json(id) FROM ex7.notifications WHERE user_id = '${A}' LIMIT 1`)),
  };
  let r = await api(srv, 'POST', '/api/alerts/price', { tok: tokA, body: { instrument: 'MCL', condition: 'below', level: 60 } });
  ids.price = r.body.id;
  psql(`INSERT INTO ex7.price_alert_logs (user_id, alert_id, instrument, condition, level, price, timeframe, bar_ts)
        VALUES ('${A}', '${ids.price}', 'MCL', 'crosses_below', 60, 59.9, '1m', now())`);
  ids.log = psql(`SELECT max(id) FROM ex7.price_alert_logs WHERE user_id = '${A}'`);
  const routes = [
    ['DELETE', `/api/alerts/channels/${ids.channel}`],
    ['POST', `/api/alerts/channels/${ids.channel}/resend`],
    ['POST', `/api/alerts/channels/${ids.channel}/verify`, { code: '123456' }],
    ['PATCH', `/api/alerts/subscriptions/${ids.sub}`, { enabled: false }],
    ['DELETE', `/api/alerts/subscriptions/${ids.sub}`],
    ['POST', '/api/alerts/subscriptions', { channel_id: ids.channel }],
    ['GET', `/api/alerts/deliveries/${ids.delivery}`],
    ['PATCH', `/api/notifications/${ids.notification}`],
    ['DELETE', `/api/notifications/${ids.notification}`],
    ['PATCH', `/api/alerts/price/${ids.price}`, { active: false }],
    ['DELETE', `/api/alerts/price/${ids.price}`],
    ['DELETE', `/api/alerts/price/logs/${ids.log}`],
  ];
  for (const [method, path, body] of routes) {
    r = await api(srv, method, path, { tok: tokB, body });
    assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
  }
  // lists show B nothing of A's
  for (const path of ['/api/alerts/channels', '/api/alerts/subscriptions', '/api/alerts/price']) {
    r = await api(srv, 'GET', path, { tok: tokB });
    assert.deepEqual(r.body, [], path);
  }
  r = await api(srv, 'GET', '/api/alerts/deliveries', { tok: tokB });
  assert.deepEqual(r.body.items, []);
  r = await api(srv, 'GET', '/api/notifications', { tok: tokB });
  assert.equal(r.body.total, 0);
  r = await api(srv, 'GET', '/api/alerts/price/logs', { tok: tokB });
  assert.equal(r.body.total, 0);
  // and everything of A's is still there
  r = await api(srv, 'GET', `/api/alerts/deliveries/${ids.delivery}`, { tok: tokA });
  assert.equal(r.status, 200);
  // no token: 401 on the user routes
  r = await api(srv, 'GET', '/api/alerts/channels');
  assert.equal(r.status, 401);
});

test('`ex7d worker` alone delivers (no HTTP listener); the server without EX7_WORKER does not', async () => {
  const plain = await startEx7d(env({ EX7_WORKER: '0' }));
  // C's webhook channel, verified directly, subscribed to its strategy
  const chan = psql(`INSERT INTO ex7.alert_channels (user_id, type, destination, verified_at, signing_secret)
        VALUES ('${C}', 'webhook', '${prov.base}/hook-solo', now(), 'whsec_${Buffer.from('solo-worker-key-0123456789').toString('base64')}')
        RETURNING id`);
  prov.secrets['/hook-solo'] = `whsec_${Buffer.from('solo-worker-key-0123456789').toString('base64')}`;
  psql(`INSERT INTO ex7.alert_subscriptions (user_id, channel_id, events) VALUES ('${C}', '${chan}', '{signal}')`);
  await srv.stop();			// the in-process worker of the first server must not take it
  const sig = fire(C, strategyC);
  await sleep(400);
  assert.equal(psql(`SELECT status FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = '${sig}'`), 'queued');
  const e = env();
  delete e.EX7_WORKER;
  const proc = spawn(EX7D, ['worker'], { env: { PATH: process.env.PATH, DATABASE_URL: conninfo(), ...e }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  try {
    const got = await until(() => prov.requests.webhook.find((q) => q.body?.data?.signal?.id === sig), 8000, 'the solo worker\'s delivery');
    assert.equal(got.body.type, 'alert.signal');
    await until(() => psql(`SELECT status FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = '${sig}'`) === 'delivered', 8000, 'recorded');
  } finally {
    proc.kill('SIGTERM');
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    assert.equal(code, 0, err);
    await plain.stop();
    srv = await startEx7d(env());	// for after()
  }
});

test('`ex7d worker` alone takes the database deadlines from the environment: a bad one stops it with status 2', { timeout: 10000 }, async () => {
  const proc = spawn(EX7D, ['worker'], {
    env: { PATH: process.env.PATH, DATABASE_URL: conninfo(), EX7_STATEMENT_TIMEOUT_MS: '5' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => proc.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /EX7_STATEMENT_TIMEOUT_MS must be an integer between 100 and 3600000/);
});
