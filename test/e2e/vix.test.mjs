// test/e2e/vix.test.mjs: Vix with a language model over HTTP (docs/account.md, "Vix with a language model":
// if an LLM endpoint is configured (OpenAI-compatible base URL and key) Vix may use it, and must still
// validate the result).
// ex7d is started with EX7_VIX_LLM_* pointing at a local stand-in (standins/llm.mjs) that checks the
// request's shape: a valid answer is generator "llm"; an invalid graph, garbage, a 500 and silence all
// fall back to the deterministic generator with a fallback_reason, never a hang; 422 and 429 never reach
// the endpoint; without EX7_VIX_LLM_BASE nothing changes; the key appears in no reply and no log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ensureDb, startEx7d, token, api, uid, psql } from './lib.mjs';
import { startLlm } from './standins/llm.mjs';

const KEY = 'sk-e2e-vix-0123456789-do-not-leak-ABCDEF';
const MODEL = 'e2e-vix-model';
const U = (n) => uid('6e', n);
let llm, srv, plain, dead;
const seen = [];

// the stand-in model's answer: long ES 15m when the close crosses above the 50 SMA, 12 tick stop
const GOOD = {
  name: 'SMA 50 trend follow', summary: 'Long when the close crosses above the 50 SMA; 12 tick stop.',
  instrument: 'ES', timeframe: '15m', assumptions: ['long only'],
  graph: {
    nodes: [{ id: 'c', type: 'close' }, { id: 'avg', type: 'sma', params: { period: 50 } }, { id: 'x', type: 'crosses_above' },
      { id: 'long', type: 'enter_long' }, { id: 'stop', type: 'stop_loss_ticks', params: { ticks: 12 } }],
    edges: [{ from: 'c', to: 'avg', port: 'in' }, { from: 'c', to: 'x', port: 'a' }, { from: 'avg', to: 'x', port: 'b' },
      { from: 'x', to: 'long', port: 'when' }, { from: 'long', to: 'stop', port: 'entry' }],
  },
};
const PROMPT = 'RSI mean reversion on MNQ 5m with a 20 tick stop';

before(async () => {
  ensureDb();
  for (const n of [1, 2, 3]) psql(`SELECT ex7.ensure_user('${U(n)}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U(n)}'`);
  llm = await startLlm({ key: KEY, model: MODEL });
  srv = await startEx7d({ EX7_VIX_LLM_BASE: `${llm.url}/`, EX7_VIX_LLM_KEY: KEY, EX7_VIX_LLM_MODEL: MODEL, EX7_VIX_LLM_TIMEOUT_MS: '1500' });
  plain = await startEx7d({});
  // an endpoint nobody listens on (port 9, discard: refused on loopback)
  dead = await startEx7d({ EX7_VIX_LLM_BASE: 'http://127.0.0.1:9/v1', EX7_VIX_LLM_KEY: KEY, EX7_VIX_LLM_TIMEOUT_MS: '1500' });
});
after(async () => {
  await srv.stop();
  await plain.stop();
  await dead.stop();
  llm.close();
});

async function gen(s, tok, body, headers = {}) {
  const r = await api(s, 'POST', '/api/vix/generate-strategy', { tok, body, headers });
  seen.push(r.text, JSON.stringify([...r.headers]));
  return r;
}

test('configured, a valid answer: generator llm, the model\'s graph validated by the engine, the request\'s shape checked', async () => {
  const t = await token(U(1));
  llm.content = JSON.stringify(GOOD);
  const before = llm.requests.length;
  const r = await gen(srv, t, { prompt: 'trend following on ES 15 minute, long only' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.generator, 'llm');
  assert.equal(r.body.fallback_reason, undefined);
  assert.deepEqual(r.body.graph.nodes, GOOD.graph.nodes);
  assert.deepEqual(r.body.graph.edges, GOOD.graph.edges);
  assert.equal(r.body.graph.meta.generator, 'vix-llm');
  assert.equal(r.body.graph.meta.model, `${MODEL}-2026-01-01`);
  assert.deepEqual([r.body.instrument, r.body.timeframe, r.body.name, r.body.summary], ['ES', '15m', 'Vix: SMA 50 trend follow', GOOD.summary]);
  assert.deepEqual(r.body.validation.entries, [{ id: 'long', side: 'long', size: 1, stop_loss_ticks: 12, take_profit_ticks: null }]);
  assert.equal(r.body.strategy, null);
  assert.equal(r.body.quota.used, 1);
  // one call, of the expected shape
  assert.equal(llm.requests.length, before + 1);
  assert.deepEqual(llm.errors, []);
  const q = llm.requests.at(-1);
  assert.equal(q.path, '/v1/chat/completions');
  assert.equal(q.headers.authorization, `Bearer ${KEY}`);
  assert.equal(q.body.model, MODEL);
  assert.deepEqual(q.body.response_format, { type: 'json_object' });
  assert.equal(q.body.messages[1].content, 'trend following on ES 15 minute, long only');
  assert.match(q.body.messages[0].content, /enter_long/);
  // the same graph is accepted by the strategy routes; create: true makes the draft
  const c = await gen(srv, t, { prompt: 'trend following on ES', create: true, name: 'LLM trend' });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.body.generator, 'llm');
  assert.equal(c.body.strategy.name, 'LLM trend');
  assert.equal(c.body.strategy.status, 'draft');
  assert.deepEqual(c.body.strategy.tags, ['vix', 'llm']);
  assert.deepEqual(c.body.strategy.graph, c.body.graph);
  assert.equal(c.body.quota.used, 2);
});

test('configured, an answer that fails: the deterministic generator answers with fallback_reason, counted once', async () => {
  const t = await token(U(2));
  const cases = [
    [{ content: JSON.stringify({ ...GOOD, graph: { ...GOOD.graph, nodes: [...GOOD.graph.nodes.slice(0, 1), { id: 'avg', type: 'supertrend' }, ...GOOD.graph.nodes.slice(2)] } }) }, 'invalid_graph'],
    [{ content: JSON.stringify({ ...GOOD, graph: { nodes: GOOD.graph.nodes, edges: GOOD.graph.edges.slice(1) } }) }, 'invalid_graph'],
    [{ content: 'Sure! Buy low and sell high.' }, 'invalid_answer'],
    [{ status: 200, body: 'garbage <html>' }, 'invalid_answer'],
    [{ content: JSON.stringify({ ...GOOD, instrument: 'DOGE' }) }, 'invalid_answer'],
    [{ status: 500 }, 'provider_error'],
    [{ status: 429, body: { error: { message: 'Rate limit reached', type: 'requests' } } }, 'provider_error'],
  ];
  let used = 0;
  for (const [answer, code] of cases) {
    llm.queue.push(answer);
    const r = await gen(srv, t, { prompt: PROMPT });
    assert.equal(r.status, 200, `${code}: ${r.text}`);
    assert.equal(r.body.generator, 'deterministic', r.text);
    assert.equal(r.body.fallback_reason.code, code, r.text);
    assert.equal(typeof r.body.fallback_reason.message, 'string');
    assert.equal(r.body.name, 'Vix: RSI(14) 30/70 mean reversion MNQ 5m');
    assert.equal(r.body.quota.used, ++used, 'one generation per request');
  }
  assert.equal(llm.queue.length, 0);
  assert.deepEqual(llm.errors, []);
  // the graph is the deterministic one, as without a model
  const p = await gen(plain, t, { prompt: PROMPT });
  llm.queue.push({ status: 503 });
  const f = await gen(srv, t, { prompt: PROMPT });
  assert.deepEqual(f.body.graph, p.body.graph);
  assert.deepEqual(f.body.validation, p.body.validation);
  // invalid graph: the validator's own locator under ["graph", ...]
  llm.queue.push({ content: JSON.stringify({ ...GOOD, graph: { ...GOOD.graph, nodes: [{ id: 'c', type: 'close' }, { id: 'avg', type: 'sma', params: { period: 0 } }, ...GOOD.graph.nodes.slice(2)] } }) });
  const v = await gen(srv, t, { prompt: PROMPT });
  assert.equal(v.body.fallback_reason.code, 'invalid_graph');
  assert.deepEqual(v.body.fallback_reason.detail[0].loc, ['graph', 'nodes', 1, 'params', 'period']);
  // a request neither can build: the deterministic 422, saying why the model's answer was not used
  llm.queue.push({ content: 'no idea' });
  const u = await gen(srv, t, { prompt: 'make me money' });
  assert.equal(u.status, 422, u.text);
  assert.deepEqual(u.body.detail[0].loc, ['body', 'prompt']);
  assert.equal(u.body.detail[0].ctx.fallback_reason.code, 'invalid_answer');
});

test('configured, silence or no endpoint: provider_timeout / provider_unreachable within the timeout, never a hang', async () => {
  const t = await token(U(2));
  llm.queue.push({ hang: true });
  const t0 = Date.now();
  const r = await gen(srv, t, { prompt: PROMPT });
  const took = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.generator, 'deterministic');
  assert.equal(r.body.fallback_reason.code, 'provider_timeout');
  assert.ok(took >= 1400 && took < 5000, `took ${took} ms with a 1500 ms timeout`);
  const d = await gen(dead, t, { prompt: PROMPT });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.body.generator, 'deterministic');
  assert.equal(d.body.fallback_reason.code, 'provider_unreachable');
  // the server still answers everything else
  const q = await api(srv, 'GET', '/api/vix/quota', { tok: t });
  assert.equal(q.status, 200);
});

test('configured: a bad body, a blank prompt and an exhausted quota never reach the endpoint', async () => {
  const t = await token(U(3));
  const before = llm.requests.length;
  let r = await gen(srv, t, { prompt: 'rsi', model: 'gpt' });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'model']);
  r = await gen(srv, t, { prompt: '   ' });
  assert.equal(r.status, 422);
  r = await gen(srv, t, { prompt: 'x'.repeat(2001) });
  assert.equal(r.status, 422);
  r = await api(srv, 'POST', '/api/vix/generate-strategy', { body: { prompt: 'rsi' } });
  assert.equal(r.status, 401);
  psql(`UPDATE ex7.users SET tier = 'free' WHERE id = '${U(3)}'; INSERT INTO ex7.vix_usage (user_id, day, used) VALUES ('${U(3)}', (now() AT TIME ZONE 'UTC')::date, 5)`);
  r = await gen(srv, t, { prompt: PROMPT });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.body.detail.code, 'vix_quota_exceeded');
  assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.equal(llm.requests.length, before, 'the endpoint was not called');
});

test('unset: the deterministic generator exactly as before, the endpoint never called', async () => {
  const t = await token(U(1));
  const before = llm.requests.length;
  const r = await gen(plain, t, { prompt: PROMPT });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.generator, 'deterministic');
  assert.equal('fallback_reason' in r.body, false);
  assert.equal(llm.requests.length, before);
});

test('the key appears in no reply, no header, not in ex7d\'s log nor PostgreSQL\'s', async () => {
  // ex7d logs a warning per fallback, without the key or the provider's body
  assert.match(srv.out.err, /vix: language model/);
  for (const s of [srv, plain, dead]) {
    assert.equal((s.out.log + s.out.err).includes(KEY), false, 'ex7d log');
    assert.equal((s.out.log + s.out.err).includes('Incorrect API key'), false);
  }
  for (const text of seen) assert.equal(text.includes(KEY), false, 'reply');
  const dir = process.env.EX7_E2E_PGDATA ? path.dirname(process.env.EX7_E2E_PGDATA) : null;
  const f = dir && path.join(dir, 'postgresql.log');
  if (f && existsSync(f)) assert.equal(readFileSync(f, 'utf8').includes(KEY), false, 'PostgreSQL log');
  const stored = psql(`SELECT count(*) FROM ex7.strategy_versions WHERE graph::text LIKE '%${KEY}%' OR note LIKE '%${KEY}%'`);
  assert.equal(stored, '0');
});
