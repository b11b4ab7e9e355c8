// test/e2e/standins/stripe.mjs: a local stand-in for the Stripe API (the part ex7d calls): Checkout
// Sessions, billing-portal sessions and subscription updates. It checks the shape of every request the
// way Stripe would (Bearer secret key, form encoding, Idempotency-Key, required parameters) and records
// it; a test can make the next call fail (failNext) or never answer (hangNext).
import http from 'node:http';

export async function startStripe({ key = 'sk_test_e2e' } = {}) {
  const st = { requests: [], subs: new Map(), failNext: null, hangNext: false, byKey: new Map(), n: 0 };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(raw));
      const rec = { method: req.method, path: req.url, headers: req.headers, raw, form };
      st.requests.push(rec);
      const send = (status, body) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)); };
      const invalid = (message, param) => send(400, { error: { type: 'invalid_request_error', message, param } });
      if (st.hangNext) { st.hangNext = false; return; }
      if (st.failNext) { const f = st.failNext; st.failNext = null; return send(f.status, f.body); }
      if (req.headers.authorization !== `Bearer ${key}`) return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-www-form-urlencoded') return invalid('expected a form POST');
      const idem = req.headers['idempotency-key'];
      if (!idem) return invalid('ex7d always sends an Idempotency-Key');
      // Stripe: the same key returns the first response; with other parameters it is an error
      const seen = st.byKey.get(idem);
      if (seen) return seen.raw === raw ? send(200, seen.body) : send(400, { error: { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters' } });
      const ok = (body) => { st.byKey.set(idem, { raw, body }); send(200, body); };
      if (req.url === '/v1/checkout/sessions') {
        for (const p of ['mode', 'line_items[0][price]', 'line_items[0][quantity]', 'success_url', 'cancel_url', 'client_reference_id']) {
          if (!form[p]) return invalid(`Missing required param: ${p}.`, p);
        }
        if (form.customer && form.customer_email) return invalid('customer and customer_email are exclusive');
        if (!form.success_url.includes('{CHECKOUT_SESSION_ID}')) return invalid('success_url lacks the session id template');
        const id = `cs_test_${++st.n}`;
        return ok({ id, object: 'checkout.session', mode: form.mode, url: `https://checkout.stripe.test/c/pay/${id}`, client_reference_id: form.client_reference_id, metadata: { user_id: form['metadata[user_id]'], tier: form['metadata[tier]'] } });
      }
      if (req.url === '/v1/billing_portal/sessions') {
        if (!form.customer) return invalid('Missing required param: customer.', 'customer');
        return ok({ id: `bps_${++st.n}`, object: 'billing_portal.session', customer: form.customer, return_url: form.return_url, url: `https://billing.stripe.test/p/session/${st.n}` });
      }
      const m = /^\/v1\/subscriptions\/([A-Za-z0-9_]+)$/.exec(req.url);
      if (m) {
        const sub = st.subs.get(m[1]);
        if (!sub) return send(404, { error: { type: 'invalid_request_error', message: `No such subscription: '${m[1]}'` } });
        if (!['true', 'false'].includes(form.cancel_at_period_end)) return invalid('cancel_at_period_end must be a boolean');
        sub.cancel_at_period_end = form.cancel_at_period_end === 'true';
        return ok(sub);
      }
      send(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url})` } });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  st.url = `http://127.0.0.1:${server.address().port}`;
  st.close = () => { server.closeAllConnections?.(); server.close(); };
  return st;
}
