// test/e2e/stream_ticket.test.mjs: single-use tickets for the signal stream (docs/stream.md, "Tickets for
// browsers"; http/sse.c, ext/sql/84_stream_tickets.sql). POST /api/signals/stream/ticket gives a ticket; the
// `eventsource` npm client, sending no header at all as a browser's EventSource, opens
// GET /api/signals/stream?ticket=... and receives the banner and the user's events (not another user's);
// the ticket's second use, an expired, an unknown and a malformed ticket are 401 with the usual JSON; an
// Authorization header wins over a ticket and leaves it unused; no ticket ever appears in ex7d's output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';

const A = uid('5c', 1);
const B = uid('5c', 2);
let srv, ta, tb;
const issued = []; // every ticket of the file: none may be in ex7d's log

function setupUser(u) {
  psql(`SELECT ex7.ensure_user('${u}');
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${u}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(u); // the stream is gated on the compliance documents (docs/billing.md)
}
function makeStrategy(u, name) {
  return psql(`WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
      VALUES ('${u}', '${name}', 'MNQ', '5m', 'e2e') RETURNING id, user_id),
    v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s)
    SELECT id FROM s`);
}
const fire = (u, sid) => JSON.parse(psql(`SELECT ex7.fire_signal('${u}', '${sid}', 'paper', 'long', 1, 20000.25, now())`));

async function ticket(tok) {
  const r = await api(srv, 'POST', '/api/signals/stream/ticket', { tok });
  assert.equal(r.status, 201, r.text);
  issued.push(r.body.ticket);
  return r.body;
}
// stream: the eventsource npm client without any header (what a browser's EventSource sends)
function stream(query) {
  const got = [];
  const banners = [];
  const src = new EventSource(`${srv.base}/api/signals/stream${query}`);
  src.addEventListener('compliance', (e) => banners.push(JSON.parse(e.data)));
  src.addEventListener('signal', (e) => got.push({ id: Number(e.lastEventId), data: JSON.parse(e.data) }));
  return { src, got, banners };
}

before(async () => {
  ensureDb();
  setupUser(A);
  setupUser(B);
  [ta, tb] = await Promise.all([token(A), token(B)]);
  srv = await startEx7d();
});
after(async () => { await srv.stop(); });

test('POST /api/signals/stream/ticket: 201 with a single-use ticket valid 30 s; a token is needed', async () => {
  const t = await ticket(ta);
  assert.match(t.ticket, /^stk_[0-9a-f]{64}$/);
  assert.equal(t.expires_in, 30);
  const left = (Date.parse(t.expires_at) - Date.now()) / 1000;
  assert.ok(left > 25 && left <= 31, `expires in ${left} s`);
  assert.deepEqual(Object.keys(t).sort(), ['expires_at', 'expires_in', 'ticket']);
  // only the digest is in the database
  assert.equal(psql(`SELECT count(*) FROM ex7.stream_tickets WHERE user_id = '${A}' AND digest = sha256(convert_to('${t.ticket}', 'UTF8'))`), '1');
  const anon = await api(srv, 'POST', '/api/signals/stream/ticket');
  assert.equal(anon.status, 401);
  assert.equal(anon.body.detail, 'Not authenticated');
});

test('an EventSource without headers opens the stream with ?ticket=: the banner, then the user\'s events only', async () => {
  const sa = makeStrategy(A, `ticket a ${Date.now()}`);
  const sb = makeStrategy(B, `ticket b ${Date.now()}`);
  const t = await ticket(ta);
  const s = stream(`?ticket=${t.ticket}`);
  try {
    await until(() => s.banners.length === 1, 10000, 'the compliance banner');
    assert.equal(s.banners[0].rule, 'CFTC Rule 4.41(b)(1)(i)');
    const mine = fire(A, sa);
    fire(B, sb);
    await until(() => s.got.length === 1, 10000, 'A\'s signal');
    assert.equal(s.got[0].id, Number(mine.event_id));
    assert.equal(s.got[0].data.user_id, A);
    assert.equal(s.got[0].data.strategy_id, sa);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.got.length, 1, 'B\'s signal is not on A\'s stream');
  } finally {
    s.src.close();
  }
  assert.equal(psql(`SELECT used_at IS NOT NULL FROM ex7.stream_tickets WHERE digest = sha256(convert_to('${t.ticket}', 'UTF8'))`), 't');

  // the ticket is used: a second use (a reconnect with the same URL) is 401 with the usual JSON
  const again = await api(srv, 'GET', `/api/signals/stream?ticket=${t.ticket}`);
  assert.equal(again.status, 401);
  assert.deepEqual(again.body, { detail: 'invalid stream ticket: unknown, expired or already used' });
  assert.equal(again.headers.get('www-authenticate'), 'Bearer');

  // B's ticket opens B's stream
  const tB = await ticket(tb);
  const s2 = stream(`?ticket=${tB.ticket}&strategy_id=${sb}`);
  try {
    await until(() => s2.banners.length === 1, 10000, 'B\'s banner');
    fire(A, sa);
    const theirs = fire(B, sb);
    await until(() => s2.got.length === 1, 10000, 'B\'s signal');
    assert.equal(s2.got[0].id, Number(theirs.event_id));
    assert.equal(s2.got[0].data.user_id, B);
  } finally {
    s2.src.close();
  }
});

test('a new EventSource resumes with ?last_event_id=: the events after it are replayed once, then live ones', async () => {
  const sa = makeStrategy(A, `resume a ${Date.now()}`);
  const first = fire(A, sa);
  const second = fire(A, sa);
  const third = fire(A, sa);
  const t = await ticket(ta);
  // the page had event `first`: a fresh ticket and last_event_id replay what came after it
  const s = stream(`?ticket=${t.ticket}&last_event_id=${first.event_id}&strategy_id=${sa}`);
  try {
    await until(() => s.got.length === 2, 10000, 'the two events after last_event_id');
    assert.deepEqual(s.got.map((e) => e.id), [Number(second.event_id), Number(third.event_id)]);
    const live = fire(A, sa);
    await until(() => s.got.length === 3, 10000, 'the live event');
    assert.equal(s.got[2].id, Number(live.event_id));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.got.length, 3, 'nothing twice');
  } finally {
    s.src.close();
  }
  // checked as the header: not an id is 422
  const t2 = await ticket(ta);
  const bad = await api(srv, 'GET', `/api/signals/stream?ticket=${t2.ticket}&last_event_id=x`);
  assert.equal(bad.status, 422, bad.text);
});

test('an expired, an unknown, a malformed and an empty ticket are 401; the query filters are still checked', async () => {
  const t = await ticket(ta);
  // backdated to constants: Citus refuses a STABLE expression over a column (created_at - interval) in an UPDATE
  psql(`UPDATE ex7.stream_tickets SET created_at = now() - interval '61 seconds', expires_at = now() - interval '31 seconds'
         WHERE digest = sha256(convert_to('${t.ticket}', 'UTF8'))`);
  for (const q of [`?ticket=${t.ticket}`, `?ticket=stk_${'0'.repeat(64)}`, '?ticket=not-a-ticket', '?ticket=']) {
    const r = await api(srv, 'GET', `/api/signals/stream${q}`);
    assert.equal(r.status, 401, q);
    assert.deepEqual(r.body, { detail: 'invalid stream ticket: unknown, expired or already used' }, q);
  }
  assert.equal(psql(`SELECT used_at IS NULL FROM ex7.stream_tickets WHERE digest = sha256(convert_to('${t.ticket}', 'UTF8'))`), 't',
    'an expired ticket stays unused');
  // no ticket, no header: the usual 401
  const none = await api(srv, 'GET', '/api/signals/stream');
  assert.equal(none.status, 401);
  assert.equal(none.body.detail, 'Not authenticated');
  // a good ticket with a bad filter: the ticket is used, then the 422 of the filter
  const t2 = await ticket(ta);
  const bad = await api(srv, 'GET', `/api/signals/stream?ticket=${t2.ticket}&strategy_id=nope`);
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.detail[0].loc, ['query', 'strategy_id']);
});

test('an Authorization header wins: the ticket is not looked at and stays unused', async () => {
  const t = await ticket(ta);
  const ctl = new AbortController();
  const r = await fetch(`${srv.base}/api/signals/stream?ticket=${t.ticket}`, { headers: { Authorization: `Bearer ${tb}` }, signal: ctl.signal });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  ctl.abort();
  assert.equal(psql(`SELECT used_at IS NULL FROM ex7.stream_tickets WHERE digest = sha256(convert_to('${t.ticket}', 'UTF8'))`), 't');
  // a bad header with a good ticket: the header's 401, the ticket still unused
  const h = await api(srv, 'GET', `/api/signals/stream?ticket=${t.ticket}`, { headers: { Authorization: 'Bearer nope' } });
  assert.equal(h.status, 401);
  assert.match(h.body.detail, /^Invalid token/);
  assert.equal(psql(`SELECT used_at IS NULL FROM ex7.stream_tickets WHERE digest = sha256(convert_to('${t.ticket}', 'UTF8'))`), 't');
  // and it still opens the stream once
  const ok = new AbortController();
  const r2 = await fetch(`${srv.base}/api/signals/stream?ticket=${t.ticket}`, { signal: ok.signal });
  assert.equal(r2.status, 200);
  ok.abort();
});

test('no ticket appears in ex7d\'s output (access log, errors)', async () => {
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(issued.length >= 6, `${issued.length} tickets`);
  const out = srv.out.log + srv.out.err;
  assert.ok(out.includes('/api/signals/stream'), 'the stream\'s requests are logged');
  for (const t of issued) assert.ok(!out.includes(t) && !out.includes(t.slice(4)), 'a ticket in the log');
  assert.ok(!out.includes(`stk_${'0'.repeat(64)}`));
});
