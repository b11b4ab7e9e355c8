// test/e2e/observability.test.mjs: metrics, probes and logs of ex7d (docs/observability.md).
// GET /metrics passes `promtool check metrics` (Debian's prometheus package) and its counters move with
// traffic, labelled by route template and never by raw path; /metrics is refused without
// EX7_METRICS_TOKEN or a service_role token, and with EX7_METRICS_LISTEN it is served only there;
// /livez and /readyz answer 200/503 with what is wrong (no database, no extension); hostile paths and
// provider errors are logged, and every line ex7d writes on stdout and stderr is one JSON object with an
// RFC 3339 millisecond timestamp, a level and a message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { ensureDb, startEx7d, token, api, uid, psql, conninfo, freePort, DB, sleep, until } from './lib.mjs';
import { startProviders, RESEND_KEY } from './standins/providers.mjs';

const U = uid('0b', 1);
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
let srv, prov, tokU, tokService;
const servers = [];


// start: ex7d with env; the bytes it writes from then on are kept too (s.bytes), to check they are UTF-8
// (lib.mjs keeps text, in which a stray byte would already be a replacement character)
async function start(env) {
  const s = await startEx7d(env);
  s.bytes = { out: [], err: [] };
  s.proc.stdout.on('data', (d) => s.bytes.out.push(d));
  s.proc.stderr.on('data', (d) => s.bytes.err.push(d));
  servers.push(s);
  return s;
}

// utf8: fails unless chunks are well-formed UTF-8 (RFC 8259 section 8.1: JSON text is UTF-8)
function utf8(chunks, where) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch (e) {
    assert.fail(`${where}: bytes that are not UTF-8`);
  }
}

// scrape: the text of /metrics (with the metrics token unless told otherwise)
async function scrape(s, { base = s.base, tok = METRICS_TOKEN } = {}) {
  const r = await fetch(`${base}/metrics`, { headers: tok ? { Authorization: `Bearer ${tok}` } : {} });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return r.text();
}

// sample: the value of the series name{labels} in a scrape (labels exactly as printed), or undefined
function sample(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// promtool: runs `promtool check metrics` on text; returns its output, failing on any problem
function promtool(text) {
  try {
    return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    assert.fail(`promtool check metrics failed (status ${e.status}): ${e.stdout}${e.stderr}`);
  }
}

// lines: every line of a log text parsed as JSON, each checked for the common fields
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
function lines(text, where) {
  return text.split('\n').filter((l) => l !== '').map((l) => {
    let o;
    try { o = JSON.parse(l); } catch (e) { assert.fail(`${where}: not JSON: ${JSON.stringify(l)}`); }
    assert.equal(typeof o, 'object', `${where}: not an object: ${l}`);
    assert.match(o.ts, RFC3339_MS, `${where}: ts of ${l}`);
    assert.ok(['info', 'warn', 'error'].includes(o.level), `${where}: level of ${l}`);
    assert.equal(typeof o.msg, 'string', `${where}: msg of ${l}`);
    assert.equal(typeof o.event, 'string', `${where}: event of ${l}`);
    return o;
  });
}

// raw: sends bytes as one HTTP request on a new connection; resolves to the status line
function raw(s, bytes) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(s.port, '127.0.0.1', () => sock.write(bytes));
    let got = '';
    sock.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n\r\n')) sock.end(); });
    sock.on('end', () => resolve(got.split('\r\n')[0]));
    sock.on('error', reject);
    sock.setTimeout(5000, () => { sock.destroy(); resolve(got.split('\r\n')[0]); });
  });
}

before(async () => {
  ensureDb();
  prov = await startProviders();
  psql(`SELECT ex7.ensure_user('${U}'); SELECT ex7.accept_compliance('${U}')`);
  srv = await start({
    EX7_METRICS_TOKEN: METRICS_TOKEN, EX7_RATE_LIMITS: 'off',
    EX7_WORKER: '1', EX7_WORKER_INTERVAL_MS: '100', EX7_WORKER_RETRY_MS: '100',
    RESEND_API_KEY: RESEND_KEY, RESEND_API_BASE: prov.base, RESEND_FROM: 'ex7 <alerts@ex7.test>',
  });
  tokU = await token(U);
  tokService = await token(uid('0b', 2), { role: 'service_role' });
});

after(async () => {
  for (const s of servers) await s.stop();
  await prov?.close();
});

test('/livez and /readyz: 200 with the state of the database, LISTEN and the extension version', async () => {
  let r = await api(srv, 'GET', '/livez');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: 'alive' });
  const version = psql("SELECT extversion FROM pg_extension WHERE extname = 'ex7'");
  r = await until(async () => { const x = await api(srv, 'GET', '/readyz'); return x.status === 200 && x; }, 10000, 'readyz');
  assert.deepEqual(r.body, { status: 'ready', database: 'ok', listen: 'ok', extension_version: version, expected_version: version });
  r = await api(srv, 'POST', '/readyz');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD');
  // the probes are not rate limited and need no token
  r = await api(srv, 'HEAD', '/livez');
  assert.equal(r.status, 200);
});

test('/readyz: 503 without the extension, and without a database (while /livez stays 200)', async () => {
  const noExt = await start({ EX7_METRICS_TOKEN: METRICS_TOKEN, DATABASE_URL: conninfo().replace(`dbname=${DB}`, 'dbname=postgres') });
  let r = await until(async () => { const x = await api(noExt, 'GET', '/readyz'); return x.body?.listen === 'ok' && x; }, 10000, 'listen');
  assert.equal(r.status, 503);
  assert.equal(r.body.status, 'not_ready');
  assert.equal(r.body.database, 'ok');
  assert.equal(r.body.extension_version, null);

  const port = await freePort();	// nothing listens there
  const noDb = await start({ EX7_METRICS_TOKEN: METRICS_TOKEN, DATABASE_URL: `host=127.0.0.1 port=${port} dbname=x user=postgres connect_timeout=2` });
  r = await api(noDb, 'GET', '/readyz');
  assert.equal(r.status, 503);
  assert.equal(r.body.database, 'unreachable');
  assert.equal(r.body.listen, 'down');
  assert.equal((await api(noDb, 'GET', '/livez')).status, 200);
  // /metrics still answers, saying the database part is missing
  const text = await scrape(noDb);
  assert.equal(sample(text, 'ex7d_database_snapshot_ok'), 0);
  assert.equal(sample(text, 'ex7d_db_pool_connections{state="down"}'), 4);
  promtool(text);
  // the outage is logged once, as JSON
  const errs = await until(() => lines(noDb.out.err, 'stderr').filter((o) => o.event === 'database_unreachable').length > 0
    && lines(noDb.out.err, 'stderr'), 10000, 'database_unreachable line');
  assert.ok(errs.some((o) => o.event === 'database_unreachable' && o.level === 'error'));
});

test('/metrics: refused without the metrics token or a service_role token', async () => {
  let r = await api(srv, 'GET', '/metrics');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  r = await api(srv, 'GET', '/metrics', { tok: tokU });
  assert.equal(r.status, 403);
  r = await api(srv, 'GET', '/metrics', { tok: METRICS_TOKEN.slice(0, -1) + 'X' });
  assert.equal(r.status, 401);
  // RFC 6750 section 3.1: a token that was sent and refused is an invalid_token
  assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  await scrape(srv);
  await scrape(srv, { tok: tokService });
});

test('/metrics: promtool check metrics passes; requests counted by route template and status, latency histogram', async () => {
  const before = await scrape(srv);
  promtool(before);
  const health = 'ex7d_http_requests_total{route="/api/health",method="GET",status="200"}';
  const h0 = sample(before, health) ?? 0;
  const hc0 = sample(before, 'ex7d_http_request_duration_seconds_count{route="/api/health",method="GET"}') ?? 0;
  for (let i = 0; i < 3; i++) assert.equal((await api(srv, 'GET', '/api/health')).status, 200);
  // a strategy by id: the route template is the label, not the id
  const id = crypto.randomUUID();
  assert.equal((await api(srv, 'GET', `/api/strategies/${id}`, { tok: tokU })).status, 404);
  assert.equal((await api(srv, 'GET', `/api/nowhere-${id}`)).status, 404);
  assert.equal((await api(srv, 'GET', '/api/strategies/not-a-uuid', { tok: tokU })).status, 422);
  const after = await scrape(srv);
  promtool(after);
  assert.equal(sample(after, health) - h0, 3);
  assert.equal(sample(after, 'ex7d_http_request_duration_seconds_count{route="/api/health",method="GET"}') - hc0, 3);
  assert.ok(sample(after, 'ex7d_http_requests_total{route="/api/strategies/{strategy_id}",method="GET",status="404"}') >= 1);
  assert.ok(sample(after, 'ex7d_http_requests_total{route="/api/strategies/{strategy_id}",method="GET",status="422"}') >= 1);
  assert.ok(sample(after, 'ex7d_http_requests_total{route="unmatched",method="GET",status="404"}') >= 1);
  assert.ok(!after.includes(id), 'a raw path value appears in /metrics');
  // the histogram is cumulative and ends with +Inf = count
  const inf = sample(after, 'ex7d_http_request_duration_seconds_bucket{route="/api/health",method="GET",le="+Inf"}');
  assert.equal(inf, sample(after, 'ex7d_http_request_duration_seconds_count{route="/api/health",method="GET"}'));
  // the pool's and the process's gauges, and the database's figures
  assert.equal(sample(after, 'ex7d_database_snapshot_ok'), 1);
  // every LISTEN connection up: one on plain PostgreSQL, one per node besides on Citus (docs/stream.md)
  assert.ok(sample(after, 'ex7d_listen_connected') >= 1);
  assert.equal(sample(after, 'ex7d_listen_connected'), sample(after, 'ex7d_listen_connections'));
  assert.ok(sample(after, 'ex7d_http_requests_in_flight') >= 1, 'the scrape itself is in flight');
  assert.equal(sample(after, 'ex7d_db_pool_connections{state="down"}'), 0);
  assert.ok(sample(after, 'ex7d_db_pool_queue_wait_seconds_count') > 0);
  assert.ok(sample(after, 'ex7_outbox_queued') >= 0);
  assert.match(after, /^ex7d_build_info\{version="[0-9.]+"\} 1$/m);  // what a scrape costs here (reported, not judged: the machine is shared): median of 20
  const ms = [];
  for (let i = 0; i < 20; i++) { const t = performance.now(); await scrape(srv); ms.push(performance.now() - t); }
  ms.sort((a, b) => a - b);
  console.log(`# /metrics scrape: median ${ms[10].toFixed(2)} ms, max ${ms[19].toFixed(2)} ms, ${after.length} bytes, ${after.split('\n').filter((l) => l && !l.startsWith('#')).length} samples`);
});

test('/metrics: runtimes, signal stream frames and notification lag move with traffic', async () => {
  const before = await scrape(srv);
  let r = await api(srv, 'POST', '/api/strategies', { tok: tokU, body: { name: 'observed', instrument: 'MES', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  const sid = r.body.id;
  for (const step of ['promote']) assert.equal((await api(srv, 'POST', `/api/strategies/${sid}/${step}`, { tok: tokU })).status, 200);
  r = await api(srv, 'POST', `/api/signals/runtimes/${sid}/start`, { tok: tokU, body: { mode: 'paper' } });
  assert.equal(r.status, 200, r.text);
  // a stream open while a signal fires: one live frame, the lag observed
  const ctl = new AbortController();
  const res = await fetch(`${srv.base}/api/signals/stream`, { headers: { Authorization: `Bearer ${tokU}` }, signal: ctl.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let got = '';
  await until(async () => { got += new TextDecoder().decode((await reader.read()).value); return got.includes('event: compliance'); }, 5000, 'banner');
  const mid = await scrape(srv);
  assert.equal(sample(mid, 'ex7d_sse_streams_open'), (sample(before, 'ex7d_sse_streams_open') ?? 0) + 1);
  psql(`SELECT ex7.fire_signal('${U}', '${sid}', 'paper', 'long', 1, 5000.25, now())`);
  await until(async () => { got += new TextDecoder().decode((await reader.read()).value); return got.includes('event: signal'); }, 5000, 'live signal');
  const after = await scrape(srv);
  ctl.abort();
  assert.equal(sample(after, 'ex7d_sse_frames_total{kind="live"}') - sample(before, 'ex7d_sse_frames_total{kind="live"}'), 1);
  assert.equal(sample(after, 'ex7d_notification_lag_seconds_count') - sample(before, 'ex7d_notification_lag_seconds_count'), 1);
  assert.ok(sample(after, 'ex7d_notification_lag_seconds_sum') < 60);
  const running = (t) => (sample(t, 'ex7_runtimes{status="starting",mode="paper"}') ?? 0) + (sample(t, 'ex7_runtimes{status="running",mode="paper"}') ?? 0);
  assert.equal(running(after) - running(before), 1);
  promtool(after);
});

test('EX7_METRICS_LISTEN: /metrics, /livez and /readyz on their own address, /metrics no longer on the API address', async () => {
  const mport = await freePort();
  const s = await start({ EX7_METRICS_LISTEN: `127.0.0.1:${mport}` });
  const mbase = `http://127.0.0.1:${mport}`;
  const text = await scrape(s, { base: mbase, tok: null });
  promtool(text);
  assert.equal((await api(s, 'GET', '/metrics', { tok: tokService })).status, 404);
  assert.equal((await fetch(`${mbase}/livez`)).status, 200);
  assert.equal((await fetch(`${mbase}/api/health`)).status, 404);	// the API is not served there
  const bad = await startEx7d({ EX7_METRICS_LISTEN: 'nowhere' });
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.out.err, /EX7_METRICS_LISTEN must be host:port/);
  lines(bad.out.err, 'stderr of a refused start');
});

test('logs: hostile paths and headers stay valid JSON; a provider error is logged; every line is JSON', async () => {
  // raw bytes that are not UTF-8, quotes, backslashes and control characters in the path and a header
  const hostile = [
    Buffer.concat([Buffer.from('GET /api/\xff\xfe"\\\\x/', 'latin1'), Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80, 0x01]), Buffer.from(' HTTP/1.1\r\nHost: a\r\nX-Request-Id: hostile-1\r\nConnection: close\r\n\r\n')]),
    Buffer.concat([Buffer.from('GET /api/health?x='), Buffer.from([0xff, 0x22, 0x5c]), Buffer.from(' HTTP/1.1\r\nHost: a\r\nX-Request-Id: hostile-2\r\nConnection: close\r\n\r\n')]),
    Buffer.from('GET /api/%FF%00%22 HTTP/1.1\r\nHost: a\r\nX-Request-Id: hostile-3\r\nConnection: close\r\n\r\n'),
    Buffer.concat([Buffer.from('GET /api/strategies/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer '), Buffer.from([0xff, 0xfe, 0x22]), Buffer.from('\r\nX-Request-Id: hostile-4\r\nConnection: close\r\n\r\n')]),
  ];
  const statuses = [];
  for (const b of hostile) statuses.push(await raw(srv, b));
  for (const s of statuses) assert.match(s, /^HTTP\/1\.1 \d{3}/);

  // a provider error: Resend answers 503 to the verification email of a new channel
  prov.fail('resend', 1, 503);
  const r = await api(srv, 'POST', '/api/alerts/channels', { tok: tokU, body: { type: 'email', destination: 'obs@example.com' } });
  assert.equal(r.status, 201, r.text);
  await until(() => lines(srv.out.err, 'stderr').some((o) => o.event === 'provider_error' && o.provider === 'resend'),
    10000, 'provider_error line');
  // the access lines are flushed every 250 ms; each hostile request has its line, the bytes escaped
  const ids = ['hostile-1', 'hostile-2', 'hostile-3', 'hostile-4'];
  const access = await until(() => {
    const a = lines(srv.out.log, 'stdout');
    return ids.every((id) => a.some((o) => o.request_id === id)) && a;
  }, 5000, 'access lines of the hostile requests');
  const h1 = access.find((o) => o.request_id === 'hostile-1');
  assert.equal(h1.event, 'request');
  assert.equal(h1.status, 404);
  assert.equal(h1.route, null);
  assert.equal(h1.path, '/api/\\xFF\\xFE"\\\\x/\\xC3(\\xED\\xA0\\x80\u0001');
  assert.equal(access.find((o) => o.request_id === 'hostile-4').route, '/api/strategies/{strategy_id}');
  for (const o of access) assert.equal(o.event, 'request');
  const pe = lines(srv.out.err, 'stderr').find((o) => o.event === 'provider_error');
  assert.equal(pe.level, 'warn');
  assert.equal(pe.status, 503);
  // every line of every server this file started, on both streams
  for (const s of servers) {
    lines(s.out.log, 'stdout');
    lines(s.out.err, 'stderr');
    utf8(s.bytes.out, 'stdout');
    utf8(s.bytes.err, 'stderr');
  }
});

test('libpq notices go through the logger (client_min_messages=debug5: the server reports each command)', async () => {
  const s = await start({ DATABASE_URL: `${conninfo()} options='-c client_min_messages=debug5'` });
  assert.equal((await api(s, 'GET', '/api/health')).status, 200);
  const notices = await until(() => {
    const n = lines(s.out.err, 'stderr').filter((o) => o.event === 'pg_notice');
    return n.length > 0 && n;
  }, 5000, 'a pg_notice line');
  for (const o of notices) {
    assert.equal(o.severity, 'DEBUG', JSON.stringify(o));
    assert.ok(o.connection === 'pool' || o.connection === 'listener', JSON.stringify(o));
  }
  await s.stop();
  lines(s.out.err, 'stderr');
});

test('a failed job (as ex7.job_status records it) is logged once and counted', async () => {
  // the database's record of a failed run of backtests_reap, written the way ex7._job_step writes it
  // (docs/jobs.md); the job's own failure path is tested in sql/jobs.sql. The row is put back after.
  const saved = psql("SELECT coalesce((SELECT to_jsonb(j) FROM ex7.jobs j WHERE name = 'backtests_reap')::text, '')");
  const fail = () => psql(`INSERT INTO ex7.jobs AS j (name, runs, failures, last_run_at, last_error_at, last_error)
    VALUES ('backtests_reap', 1, 1, now(), now(), 'P0001: observability test "\\xff"')
    ON CONFLICT (name) DO UPDATE SET runs = j.runs + 1, failures = j.failures + 1, last_run_at = now(),
      last_error_at = now(), last_error = excluded.last_error`);
  try {
    const before = await scrape(srv);
    const f0 = sample(before, 'ex7_job_failures_total{job="backtests_reap"}');
    assert.notEqual(f0, undefined, 'the jobs are listed');
    const logged = () => lines(srv.out.err, 'stderr').filter((o) => o.event === 'job_failed' && o.job === 'backtests_reap');
    const n0 = logged().length;
    fail();
    const after = await scrape(srv);	// the scrape reads the jobs, so it notices at once
    promtool(after);
    assert.equal(sample(after, 'ex7_job_failures_total{job="backtests_reap"}') - f0, 1);
    assert.equal(sample(after, 'ex7_job_failing{job="backtests_reap"}'), 1);
    const l = logged();
    assert.equal(l.length - n0, 1);
    assert.equal(l.at(-1).level, 'error');
    assert.match(l.at(-1).error, /observability test/);
    await scrape(srv);
    assert.equal(logged().length - n0, 1, 'logged once, not at every scrape');
  } finally {
    if (saved === '') psql("DELETE FROM ex7.jobs WHERE name = 'backtests_reap'");
    else psql(`UPDATE ex7.jobs j SET (runs, failures, last_run_at, last_error_at, last_error) =
      (SELECT r.runs, r.failures, r.last_run_at, r.last_error_at, r.last_error FROM jsonb_populate_record(NULL::ex7.jobs, '${saved.replace(/'/g, "''")}') r)
      WHERE j.name = 'backtests_reap'`);
  }
});

test('connections killed by the server: the loss, each reconnect and the lost LISTEN are logged once and counted', async () => {
  const app = 'ex7d-obs-reconnect';
  const s = await start({ EX7_METRICS_TOKEN: METRICS_TOKEN, DATABASE_URL: conninfo().replace(/application_name=\S+/, `application_name=${app}`) });
  // every connection up: the pool's four and the LISTEN one
  await until(async () => (await api(s, 'GET', '/readyz')).status === 200 &&
    Number(psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'`)) === 5, 10000, 'connections up');
  const before = await scrape(s);
  const killed = Number(psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${app}'`));
  assert.equal(killed, 5);
  // back by itself: ready again, every connection re-established (the metrics count them)
  const after = await until(async () => {
    if ((await api(s, 'GET', '/readyz')).status !== 200) return false;
    const t = await scrape(s);
    return sample(t, 'ex7d_listen_reconnects_total') >= 1 && sample(t, 'ex7d_db_reconnects_total') >= 4 && t;
  }, 15000, 'reconnected');
  assert.equal(sample(after, 'ex7d_db_connection_losses_total{pool="listen"}') - sample(before, 'ex7d_db_connection_losses_total{pool="listen"}'), 1);
  assert.equal(sample(after, 'ex7d_db_connection_losses_total{pool="query"}') - sample(before, 'ex7d_db_connection_losses_total{pool="query"}'), 4);
  assert.equal(sample(after, 'ex7d_listen_reconnects_total'), 1);
  assert.equal(sample(after, 'ex7d_db_reconnects_total'), 4);
  const l = lines(s.out.err, 'stderr');
  assert.equal(l.filter((o) => o.event === 'listen_reconnected').length, 1);
  assert.equal(l.filter((o) => o.event === 'database_reconnected').length, 4);
  assert.ok(l.some((o) => o.event === 'database_connection_lost' && o.pool === 'listener'), 'the lost LISTEN is logged');
  // requests made meanwhile are not logged one by one: a handful of lines for five connections
  assert.ok(l.filter((o) => o.level !== 'info').length <= 12, JSON.stringify(l));
  utf8(s.bytes.err, 'stderr');
});
