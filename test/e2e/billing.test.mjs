// test/e2e/billing.test.mjs: billing over HTTP (docs/billing.md): tiers and the disclaimer (public), the compliance gate
// (412 on every gated route, released by POST /api/billing/compliance/accept, re-opened by a new document
// version), the Stripe webhook (signed by the official stripe library: rotation, tampering, wrong secret,
// stale timestamp, replay, out-of-order events, a handler error that leaves nothing behind), the calls to
// Stripe against a local stand-in that checks their shape (checkout, portal, cancel, resume, provider
// errors and timeouts as 503), complimentary tiers, tier changes reaching the rate limits on the next
// request, and the strategy and runtime caps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { ensureDb, startEx7d, token, api, uid, psql, GRAPH } from './lib.mjs';
import { startStripe } from './standins/stripe.mjs';

const KEY = 'sk_test_e2e_billing';
const WH_OLD = 'whsec_e2e_old_0123456789';
const WH_NEW = 'whsec_e2e_new_9876543210';
const stripe = new Stripe(KEY);
let srv, sd;

before(async () => {
  ensureDb();
  sd = await startStripe({ key: KEY });
  srv = await startEx7d({ STRIPE_SECRET_KEY: KEY, STRIPE_API_BASE: sd.url, STRIPE_WEBHOOK_SECRET: `${WH_OLD}, ${WH_NEW}`,
    STRIPE_RETURN_URL: 'https://app.example/billing', STRIPE_TIMEOUT_MS: '1500' });
  psql(`UPDATE ex7.tiers SET stripe_price_id = CASE tier WHEN 'operator' THEN 'price_e2e_operator' WHEN 'strategist' THEN 'price_e2e_strategist' END`);
});
after(async () => {
  psql('UPDATE ex7.tiers SET stripe_price_id = NULL');
  await srv.stop();
  sd.close();
});

const strat = (name) => ({ name, instrument: 'MNQ', timeframe: '5m', graph: GRAPH });
let evn = 0;
// event: a Stripe event of type with data.object obj, created at `created` (unix seconds)
function event(type, obj, created = Math.floor(Date.now() / 1000)) {
  return { id: `evt_e2e_${process.pid}_${++evn}`, object: 'event', type, created, data: { object: obj }, livemode: false, api_version: '2024-06-20' };
}
// hook: posts body (an object or exact text) signed with secret at timestamp (the official library's signature)
async function hook(body, { secret = WH_NEW, timestamp, header } = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const sig = header !== undefined ? header : stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
  return api(srv, 'POST', '/api/billing/webhook', { raw: payload, headers: { 'Content-Type': 'application/json', ...(sig === null ? {} : { 'Stripe-Signature': sig }) } });
}
function sub(id, customer, user, { status = 'active', price = 'price_e2e_operator', tier = 'operator', cancel = false, end = 1900000000 } = {}) {
  return { id, object: 'subscription', customer, status, cancel_at_period_end: cancel, current_period_end: end,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: price, object: 'price' }, current_period_end: end }] },
    metadata: { user_id: user, tier } };
}
const account = (u) => psql(`SELECT row_to_json(a)::text FROM ex7.billing_accounts a WHERE user_id = '${u}'`);

test('tiers and the disclaimer are public: prices as decimal strings, every cap, the CFTC 4.41 text and document versions', async () => {
  let r = await api(srv, 'GET', '/api/billing/tiers');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.tiers.map((t) => t.tier), ['free', 'operator', 'strategist']);
  const op = r.body.tiers[1];
  assert.deepEqual(op.price, { amount: '49.00', currency: 'usd', interval: 'month' });
  assert.equal(op.purchasable, true);
  assert.deepEqual(Object.keys(op.caps).sort(), ['alerts_per_day', 'hook_alerts_per_day', 'hook_alerts_per_minute', 'hooks', 'requests_per_day', 'requests_per_minute', 'running_runtimes', 'strategies', 'study_trials', 'study_workers', 'vix_generations_per_day']);
  assert.deepEqual([op.caps.requests_per_minute, op.caps.requests_per_day, op.caps.alerts_per_day], [120, 10000, 200]);
  assert.equal(r.body.tiers[0].purchasable, false);
  r = await api(srv, 'GET', '/api/billing/disclaimer');
  assert.equal(r.status, 200);
  assert.equal(r.body.rule, 'CFTC Rule 4.41(b)(1)(i)');
  assert.match(r.body.text, /^HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS HAVE CERTAIN INHERENT LIMITATIONS\./);
  assert.deepEqual(r.body.documents.map((d) => [d.document, d.version]), [['privacy', '1'], ['risk', '1'], ['tos', '1']]);
});

test('the compliance gate: 412 with the missing documents on every gated route, released by accept, re-opened by a new version', async () => {
  const U = uid('6c', 1);
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}'`);
  const t = await token(U);
  const s = (await api(srv, 'POST', '/api/strategies', { tok: t, body: strat('gated') })).body;
  assert.equal((await api(srv, 'POST', `/api/strategies/${s.id}/promote`, { tok: t })).status, 200);
  const missingId = '00000000-0000-4000-8000-6c00000000ff';
  const gated = [
    ['POST', `/api/signals/runtimes/${s.id}/start`, { mode: 'paper' }],
    ['POST', `/api/signals/${missingId}/close`, { close_price: 100 }],
    ['POST', `/api/signals/runtimes/${missingId}/force-close-all`],
    ['GET', '/api/signals/stream'],
    ['POST', '/api/billing/checkout', { tier: 'operator' }],
    ['POST', '/api/alerts/channels', { type: 'email', destination: 'x@example.com' }],
    ['POST', '/api/alerts/subscriptions', {}],
  ];
  let r = await api(srv, 'GET', '/api/billing/compliance', { tok: t });
  assert.equal(r.status, 200);
  assert.equal(r.body.compliant, false);
  assert.equal(r.body.missing.length, 3);
  for (const [m, p, body] of gated) {
    r = await api(srv, m, p, { tok: t, body });
    assert.equal(r.status, 412, `${m} ${p}: ${r.text}`);
    assert.equal(r.body.detail.code, 'compliance_required');
    assert.deepEqual(r.body.detail.missing, [{ document: 'privacy', version: '1' }, { document: 'risk', version: '1' }, { document: 'tos', version: '1' }]);
    assert.match(r.body.detail.message, /compliance\/accept/);
  }
  // one document: still gated, with the others named
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: { documents: ['tos'] } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.body.missing.map((d) => d.document), ['privacy', 'risk']);
  r = await api(srv, 'POST', `/api/signals/runtimes/${s.id}/start`, { tok: t, body: { mode: 'paper' } });
  assert.deepEqual(r.body.detail.missing.map((d) => d.document), ['privacy', 'risk']);
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: { documents: ['nda'] } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'documents', 0]);
  // an empty body is refused: an acceptance names the documents the user was shown (docs/billing.md)
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]);
  // and so is a body that names none: {} accepted every current document before
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: {} });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'documents']);
  // naming the rest: each stored with version, time and client address
  r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: { documents: ['risk', 'privacy'] } });
  assert.equal(r.status, 201);
  assert.equal(r.body.compliant, true);
  assert.ok(r.body.documents.every((d) => d.accepted_at));
  assert.equal(psql(`SELECT string_agg(document || '@' || version || '@' || client_addr, ' ' ORDER BY document) FROM ex7.compliance_acceptances WHERE user_id = '${U}'`),
    'privacy@1@127.0.0.1 risk@1@127.0.0.1 tos@1@127.0.0.1');
  const released = { start: 200, close: 404, force: 404, stream: 200, checkout: 200, channels: null, subscriptions: null };
  const names = Object.keys(released);
  for (let i = 0; i < gated.length; i++) {
    const [m, p, body] = gated[i];
    if (m === 'GET') {
      const res = await fetch(srv.base + p, { headers: { Authorization: `Bearer ${t}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      await res.body.cancel();
      continue;
    }
    r = await api(srv, m, p, { tok: t, body });
    assert.notEqual(r.status, 412, `${m} ${p} after accepting: ${r.text}`);
    if (released[names[i]] !== null) assert.equal(r.status, released[names[i]], `${m} ${p}: ${r.text}`);
  }
  // a new version of the terms re-opens the gate; accepting the old one is refused
  try {
    psql(`INSERT INTO ex7.compliance_documents VALUES ('tos', 'e2e-2', 'Terms of Service', NULL, now())`);
    r = await api(srv, 'POST', `/api/signals/runtimes/${missingId}/force-close-all`, { tok: t });
    assert.equal(r.status, 412);
    assert.deepEqual(r.body.detail.missing, [{ document: 'tos', version: 'e2e-2' }]);
    r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: { documents: [{ document: 'tos', version: '1' }] } });
    assert.equal(r.status, 409);
    assert.deepEqual(r.body.detail, { code: 'document_version_not_current', document: 'tos', version: '1', current: 'e2e-2' });
    r = await api(srv, 'POST', '/api/billing/compliance/accept', { tok: t, body: { documents: [{ document: 'tos', version: 'e2e-2' }] } });
    assert.equal(r.status, 201);
    assert.equal(r.body.compliant, true);
    r = await api(srv, 'POST', `/api/signals/runtimes/${missingId}/force-close-all`, { tok: t });
    assert.equal(r.status, 404);
  } finally {
    // two transactions: on Citus a reference table (the documents) cannot be written after a multi-shard
    // write to a distributed one (the acceptances) in the same transaction
    psql(`DELETE FROM ex7.compliance_acceptances WHERE version = 'e2e-2'`);
    psql(`DELETE FROM ex7.compliance_documents WHERE version = 'e2e-2'`);
  }
});

test('webhook signatures: the official library\'s signature under either rotating secret is accepted; tampered, wrong secret, stale, missing are 400', async () => {
  const ev = event('customer.created', { id: 'cus_unrelated', object: 'customer' });
  let r = await hook(ev, { secret: WH_OLD });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { received: true, id: ev.id, type: 'customer.created', duplicate: false, outcome: 'ignored' });
  r = await hook(event('customer.created', { id: 'cus_x' }), { secret: WH_NEW });
  assert.equal(r.status, 200);

  const payload = JSON.stringify(event('customer.subscription.deleted', { id: 'sub_x', customer: 'cus_x', status: 'canceled' }));
  const good = stripe.webhooks.generateTestHeaderString({ payload, secret: WH_NEW });
  const before = psql('SELECT count(*) FROM ex7.stripe_events');
  r = await hook(payload.replace('sub_x', 'sub_y'), { header: good });
  assert.equal(r.status, 400);
  assert.equal(r.body.detail, 'invalid Stripe-Signature: no signature matches the payload');
  r = await hook(payload, { secret: 'whsec_not_ours' });
  assert.equal(r.status, 400);
  r = await hook(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 });
  assert.equal(r.status, 400);
  assert.equal(r.body.detail, 'invalid Stripe-Signature: timestamp outside the tolerance zone');
  r = await hook(payload, { header: null });
  assert.equal(r.body.detail, 'invalid Stripe-Signature: missing Stripe-Signature header');
  r = await hook(payload, { header: good.replace('v1=', 'v0=') });
  assert.equal(r.body.detail, 'invalid Stripe-Signature: no v1 signature in Stripe-Signature');
  // several v1 (a rotation on Stripe's side): one matching is enough
  r = await hook(payload, { header: `${good},v1=${'0'.repeat(64)}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(Number(psql('SELECT count(*) FROM ex7.stripe_events')), Number(before) + 1, 'only the verified one was recorded');
  // signed but not an event
  r = await hook('{"hello": "world"}');
  assert.equal(r.status, 400);
  r = await hook('not json at all');
  assert.equal(r.status, 400);
});

test('subscription lifecycle: checkout (request shape) -> webhook -> tier and rate limits change on the next request -> cancel/resume -> past_due -> deleted', async () => {
  const U = uid('6c', 2);
  psql(`SELECT ex7.ensure_user('${U}'); SELECT ex7.accept_compliance('${U}', NULL, 'e2e')`);
  const t = await token(U);
  let r = await api(srv, 'GET', '/api/billing/me', { tok: t });
  assert.equal(r.status, 200);
  assert.equal(r.body.tier, 'free');
  assert.equal(r.headers.get('x-ratelimit-limit'), '30');

  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'operator' } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.url, /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
  assert.equal(r.body.tier, 'operator');
  const req = sd.requests.at(-1);
  assert.equal(req.path, '/v1/checkout/sessions');
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.match(req.headers['idempotency-key'], /^ex7-checkout-[0-9a-f]{32}$/);
  assert.deepEqual(req.form, {
    mode: 'subscription', 'line_items[0][price]': 'price_e2e_operator', 'line_items[0][quantity]': '1', client_reference_id: U,
    success_url: 'https://app.example/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}', cancel_url: 'https://app.example/billing?checkout=cancelled',
    'metadata[user_id]': U, 'metadata[tier]': 'operator', 'subscription_data[metadata][user_id]': U, 'subscription_data[metadata][tier]': 'operator',
    customer_email: '0002@example.com' }); // the token's email claim (lib.mjs token)
  // a double click: the same Idempotency-Key, the same session
  const again = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'operator' } });
  assert.equal(again.body.url, r.body.url);
  assert.equal(sd.requests.at(-1).headers['idempotency-key'], req.headers['idempotency-key']);
  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'free' } });
  assert.equal(r.status, 422);
  r = await api(srv, 'POST', '/api/billing/portal', { tok: t });
  assert.equal(r.status, 404, 'no Stripe customer yet');

  const t0 = Math.floor(Date.now() / 1000) - 100;
  r = await hook(event('checkout.session.completed', { id: 'cs_test_1', object: 'checkout.session', mode: 'subscription', client_reference_id: U,
    customer: 'cus_e2e_2', subscription: 'sub_e2e_2', payment_status: 'paid', metadata: { user_id: U, tier: 'operator' } }, t0));
  assert.equal(r.body.outcome, 'applied', r.text);
  sd.subs.set('sub_e2e_2', sub('sub_e2e_2', 'cus_e2e_2', U));
  const upd = event('customer.subscription.updated', sub('sub_e2e_2', 'cus_e2e_2', U), t0 + 1);
  r = await hook(upd);
  assert.equal(r.body.outcome, 'applied');
  // the tier change reached ex7d's cached caps (NOTIFY ex7_user_changed): the next request counts at 120/min
  r = await api(srv, 'GET', '/api/billing/me', { tok: t });
  assert.equal(r.body.tier, 'operator');
  assert.equal(r.body.tier_source, 'subscription');
  assert.equal(r.body.status, 'active');
  assert.equal(r.body.current_period_end, new Date(1900000000 * 1000).toISOString().replace('.000Z', '+00:00'));
  assert.equal(r.body.caps.requests_per_minute, 120);
  assert.ok(r.body.usage.requests_today >= 1);
  assert.equal(r.headers.get('x-ratelimit-limit'), '120');

  // a replay of the same event id changes nothing, even after the state moved on
  r = await api(srv, 'POST', '/api/billing/cancel', { tok: t });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.cancel_at_period_end, true);
  assert.deepEqual(sd.requests.at(-1).form, { cancel_at_period_end: 'true' });
  assert.equal(sd.requests.at(-1).path, '/v1/subscriptions/sub_e2e_2');
  const snap = account(U);
  r = await hook(upd);
  assert.equal(r.status, 200);
  assert.equal(r.body.duplicate, true);
  assert.equal(account(U), snap, 'replay: no change');
  // an older event delivered late is stale: it changes nothing either
  r = await hook(event('customer.subscription.updated', sub('sub_e2e_2', 'cus_e2e_2', U), t0 + 2));
  assert.equal(r.body.outcome, 'stale');
  assert.equal(account(U), snap);
  r = await api(srv, 'POST', '/api/billing/cancel', { tok: t });
  assert.equal(r.status, 200, 'already cancelling: answered without Stripe');
  r = await api(srv, 'POST', '/api/billing/resume', { tok: t });
  assert.equal(r.body.cancel_at_period_end, false);
  r = await api(srv, 'POST', '/api/billing/portal', { tok: t });
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.url, /^https:\/\/billing\.stripe\.test\//);
  assert.deepEqual(sd.requests.at(-1).form, { customer: 'cus_e2e_2', return_url: 'https://app.example/billing' });
  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'strategist' } });
  assert.equal(r.status, 409);
  assert.equal(r.body.detail.code, 'subscription_exists');

  const now = Math.floor(Date.now() / 1000) + 5;
  r = await hook(event('invoice.payment_failed', { id: 'in_1', object: 'invoice', customer: 'cus_e2e_2', subscription: 'sub_e2e_2' }, now));
  assert.equal(r.body.outcome, 'applied');
  r = await api(srv, 'GET', '/api/billing/me', { tok: t });
  assert.deepEqual([r.body.status, r.body.tier], ['past_due', 'operator'], 'past_due keeps the tier while Stripe retries');
  r = await hook(event('invoice.paid', { id: 'in_1', object: 'invoice', customer: 'cus_e2e_2', subscription: 'sub_e2e_2',
    lines: { data: [{ period: { start: 1900000000, end: 1902592000 } }] } }, now + 1));
  r = await api(srv, 'GET', '/api/billing/me', { tok: t });
  assert.equal(r.body.status, 'active');
  assert.equal(r.body.current_period_end, new Date(1902592000 * 1000).toISOString().replace('.000Z', '+00:00'), 'the paid invoice\'s period end');
  r = await hook(event('customer.subscription.deleted', sub('sub_e2e_2', 'cus_e2e_2', U, { status: 'canceled' }), now + 2));
  assert.equal(r.body.outcome, 'applied');
  r = await api(srv, 'GET', '/api/billing/me', { tok: t });
  assert.deepEqual([r.body.tier, r.body.status], ['free', 'canceled']);
  assert.equal(r.headers.get('x-ratelimit-limit'), '30');
});

test('a handler error is a 500 and leaves nothing behind; the retried (fixed) event is then applied', async () => {
  const U = uid('6c', 3);
  psql(`SELECT ex7.ensure_user('${U}')`);
  const ev = event('checkout.session.completed', { id: 'cs_bad', object: 'checkout.session', mode: 'subscription', client_reference_id: U,
    customer: 'cus_e2e_3', subscription: 'sub_e2e_3', payment_status: 'paid', metadata: { user_id: U, tier: 'platinum' } });
  let r = await hook(ev);
  assert.equal(r.status, 500);
  assert.equal(r.body.detail, 'webhook handler failed; Stripe will retry');
  assert.equal(account(U), '', 'no billing row');
  assert.equal(psql(`SELECT count(*) FROM ex7.stripe_events WHERE id = '${ev.id}'`), '0', 'the event is not recorded as processed');
  ev.data.object.metadata.tier = 'strategist';
  r = await hook(ev);
  assert.equal(r.status, 200);
  assert.equal(r.body.outcome, 'applied');
  assert.equal(psql(`SELECT tier FROM ex7.users WHERE id = '${U}'`), 'strategist');
});

test('Stripe failures are 503 with a clear detail, never a hang; without STRIPE_SECRET_KEY billing is not configured', async () => {
  const U = uid('6c', 4);
  psql(`SELECT ex7.ensure_user('${U}'); SELECT ex7.accept_compliance('${U}', NULL, 'e2e')`);
  const t = await token(U);
  sd.failNext = { status: 400, body: { error: { type: 'invalid_request_error', message: "No such price: 'price_e2e_operator'" } } };
  let r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'operator' } });
  assert.equal(r.status, 503);
  assert.equal(r.body.detail, "payment provider error (Stripe HTTP 400): No such price: 'price_e2e_operator'");
  assert.ok(r.headers.get('retry-after'));
  sd.failNext = { status: 500, body: { error: { type: 'api_error', message: 'An unknown error occurred' } } };
  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'strategist' } });
  assert.equal(r.status, 503);
  assert.match(r.body.detail, /Stripe HTTP 500/);
  sd.hangNext = true;
  const t0 = Date.now();
  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'operator' } });
  assert.equal(r.status, 503);
  assert.equal(r.body.detail, 'payment provider unreachable (Stripe): timeout');
  assert.ok(Date.now() - t0 < 4000, `${Date.now() - t0} ms`);
  assert.equal(account(U).includes('"checkout_session_id":"cs_'), false, 'nothing recorded for a failed call');
  psql(`UPDATE ex7.tiers SET stripe_price_id = NULL WHERE tier = 'strategist'`);
  r = await api(srv, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'strategist' } });
  psql(`UPDATE ex7.tiers SET stripe_price_id = 'price_e2e_strategist' WHERE tier = 'strategist'`);
  assert.equal(r.status, 503);
  assert.equal(r.body.detail, 'billing is not configured for the strategist tier (no Stripe price)');

  const bare = await startEx7d();
  try {
    r = await api(bare, 'POST', '/api/billing/checkout', { tok: t, body: { tier: 'operator' } });
    assert.equal(r.status, 503);
    assert.equal(r.body.detail, 'billing is not configured (STRIPE_SECRET_KEY is not set)');
    r = await api(bare, 'POST', '/api/billing/webhook', { raw: '{}', headers: { 'Stripe-Signature': 't=1,v1=00' } });
    assert.equal(r.status, 503);
    r = await api(bare, 'GET', '/api/billing/tiers');
    assert.equal(r.status, 200, 'tiers need no Stripe');
  } finally { await bare.stop(); }
});

test('comp: service_role only; grants a tier for a period without payment', async () => {
  const U = uid('6c', 5);
  psql(`SELECT ex7.ensure_user('${U}')`);
  const svc = await token(uid('6c', 6), { role: 'service_role' });
  let r = await api(srv, 'POST', '/api/billing/comp', { tok: await token(U), body: { user_id: U, tier: 'strategist', days: 7 } });
  assert.equal(r.status, 403);
  r = await api(srv, 'POST', '/api/billing/comp', { tok: svc, body: { user_id: U, tier: 'strategist', days: 7 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.tier, r.body.tier_source, r.body.comp.tier], ['strategist', 'comp', 'strategist']);
  assert.ok(Math.abs(new Date(r.body.comp.until) - Date.now() - 7 * 86400e3) < 60e3);
  r = await api(srv, 'POST', '/api/billing/comp', { tok: svc, body: { user_id: U, tier: 'gold' } });
  assert.equal(r.status, 422);
  // an expired comp falls back on the next look
  psql(`UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 second' WHERE user_id = '${U}'`);
  r = await api(srv, 'GET', '/api/billing/me', { tok: await token(U) });
  assert.deepEqual([r.body.tier, r.body.comp], ['free', null]);
});

test('a comp that ends reaches the rate limit by the clock: no billing_expire, no notification', async () => {
  // ex7.ensure_user tells ex7d when the comp ends (tier_until_unix); the cached caps go stale then and
  // the next request re-reads them, which applies the end ("Tier changes take effect on the next request")
  const U = uid('6c', 40);
  psql(`SELECT ex7.ensure_user('${U}');
        INSERT INTO ex7.billing_accounts (user_id, comp_tier, comp_until) VALUES ('${U}', 'strategist', now() + interval '2 seconds');
        SELECT ex7._billing_sync_tier('${U}')`);
  const t = await token(U);
  let r = await api(srv, 'GET', '/api/strategies', { tok: t });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-ratelimit-limit'), '600', 'strategist caps while the comp runs');
  const until = Date.parse(psql(`SELECT to_char(comp_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM ex7.billing_accounts WHERE user_id = '${U}'`));
  await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now()) + 1100));
  assert.equal(psql(`SELECT tier FROM ex7.users WHERE id = '${U}'`), 'strategist', 'nothing has applied the end yet');
  r = await api(srv, 'GET', '/api/strategies', { tok: t });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-ratelimit-limit'), '30', 'free caps on the first request after the end');
  assert.equal(psql(`SELECT tier FROM ex7.users WHERE id = '${U}'`), 'free');
});

test('caps: strategies and running runtimes per tier are 403 tier_limit_reached', async () => {
  const U = uid('6c', 7);
  psql(`SELECT ex7.ensure_user('${U}'); SELECT ex7.accept_compliance('${U}', NULL, 'e2e'); UPDATE ex7.users SET tier = 'operator' WHERE id = '${U}'`);
  const t = await token(U);
  try {
    psql(`UPDATE ex7.tiers SET strategies_max = 2, running_runtimes_max = 1 WHERE tier = 'operator'`);
    const ids = [];
    for (const n of ['a', 'b']) {
      const r = await api(srv, 'POST', '/api/strategies', { tok: t, body: strat(`cap ${n}`) });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.id);
    }
    let r = await api(srv, 'POST', '/api/strategies', { tok: t, body: strat('cap c') });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body.detail.code, 'tier_limit_reached');
    assert.deepEqual([r.body.detail.cap, r.body.detail.limit, r.body.detail.used, r.body.detail.tier], ['strategies', 2, 2, 'operator']);
    for (const id of ids) await api(srv, 'POST', `/api/strategies/${id}/promote`, { tok: t });
    r = await api(srv, 'POST', `/api/signals/runtimes/${ids[0]}/start`, { tok: t, body: { mode: 'paper' } });
    assert.equal(r.status, 200, r.text);
    r = await api(srv, 'POST', `/api/signals/runtimes/${ids[0]}/start`, { tok: t, body: { mode: 'paper' } });
    assert.equal(r.status, 200, 'restarting the same runtime does not count against itself');
    r = await api(srv, 'POST', `/api/signals/runtimes/${ids[1]}/start`, { tok: t, body: { mode: 'paper' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.detail.cap, 'running_runtimes');
    r = await api(srv, 'GET', '/api/billing/me', { tok: t });
    assert.deepEqual([r.body.usage.strategies, r.body.usage.running_runtimes, r.body.caps.strategies], [2, 1, 2]);
    // a deleted strategy frees its slot
    assert.equal((await api(srv, 'DELETE', `/api/strategies/${ids[1]}`, { tok: t })).status, 204);
    assert.equal((await api(srv, 'POST', '/api/strategies', { tok: t, body: strat('cap c') })).status, 201);
  } finally {
    psql(`UPDATE ex7.tiers SET strategies_max = 100, running_runtimes_max = 25 WHERE tier = 'operator'`);
  }
});

test('without STRIPE_SECRET_KEY the routes still check first: a bad body is 422, no compliance 412, no account 404; only a request that would reach Stripe is 503', async () => {
  const ok = uid('6c', 60);
  const gated = uid('6c', 61);
  psql(`SELECT ex7.ensure_user('${ok}'); SELECT ex7.ensure_user('${gated}'); SELECT ex7.accept_compliance('${ok}', NULL, 'e2e')`);
  const tOk = await token(ok);
  const tGated = await token(gated);
  const bare = await startEx7d();
  try {
    let r = await api(bare, 'POST', '/api/billing/checkout', { tok: tOk, body: { tier: 'operator', coupon: 'x' } });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.detail[0].loc, ['body', 'coupon']);
    r = await api(bare, 'POST', '/api/billing/checkout', { tok: tOk, body: { tier: 'platinum' } });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.detail[0].loc, ['body', 'tier']);
    r = await api(bare, 'POST', '/api/billing/checkout', { tok: tOk, body: {} });
    assert.equal(r.status, 422, r.text);
    r = await api(bare, 'POST', '/api/billing/checkout', { tok: tGated, body: { tier: 'operator' } });
    assert.equal(r.status, 412, r.text);
    assert.equal(r.body.detail.code, 'compliance_required');
    // portal, cancel, resume: the account is checked before the configuration
    for (const p of ['/api/billing/portal', '/api/billing/cancel', '/api/billing/resume']) {
      r = await api(bare, 'POST', p, { tok: tOk });
      assert.equal(r.status, 404, `${p}: ${r.text}`);
    }
    r = await api(bare, 'POST', '/api/billing/checkout', { tok: tOk, body: { tier: 'operator' } });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.detail, 'billing is not configured (STRIPE_SECRET_KEY is not set)');
    assert.ok(r.headers.get('retry-after'));
    // a subscriber's portal is a Stripe call: 503 too, and nothing is recorded
    psql(`INSERT INTO ex7.billing_accounts (user_id, stripe_customer_id) VALUES ('${ok}', 'cus_e2e_bare')
          ON CONFLICT (user_id) DO UPDATE SET stripe_customer_id = EXCLUDED.stripe_customer_id`);
    r = await api(bare, 'POST', '/api/billing/portal', { tok: tOk });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.detail, 'billing is not configured (STRIPE_SECRET_KEY is not set)');
    assert.equal(account(ok).includes('"checkout_session_id":null'), true, account(ok));
  } finally { await bare.stop(); }
});
