// test/e2e/market.test.mjs: market data over HTTP and the CSV importer (docs/market.md):
// POST /api/market/bars for service_role tokens only (counts, duplicates, 422 locators, 409 conflict, the
// dispatcher moving a runtime), GET /api/instruments, GET /api/signals/health (public), and
// `ex7d import-bars` (summary, exit status, the CSV line of a bad row). The rules themselves are tested in
// sql/market.sql; this proves the routes and the command reach them intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDb, startEx7d, token, api, uid, psql, conninfo, EX7D, acceptCompliance } from './lib.mjs';

let srv, svc, user;
const SVC = uid('e7', 1);
const U = uid('e7', 2);
const dir = mkdtempSync(path.join(tmpdir(), 'ex7-market-'));
// MGC (tick 0.10) 5m bars of Wednesday 2025-03-05, 10:05-10:20 New York (15:05Z-15:20Z): in session, past
const bar = (ts, close = '2900.5', extra = {}) => ({ instrument: 'MGC', timeframe: '5m', ts, open: '2900.0', high: '2901.0', low: '2899.5', close, volume: 10, ...extra });

before(async () => {
  ensureDb();
  for (const u of [SVC, U]) psql(`SELECT ex7.ensure_user('${u}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${u}'`);
  acceptCompliance(U); // starting a runtime is gated on the compliance documents (docs/billing.md)
  srv = await startEx7d();
  svc = await token(SVC, { role: 'service_role' });
  user = await token(U);
});
after(async () => { await srv.stop(); });

test('POST /api/market/bars: service_role only; counts; an identical re-send is a no-op', async () => {
  const body = { bars: [bar('2025-03-05T15:10:00Z'), bar('2025-03-05T15:05:00Z')] };
  let r = await api(srv, 'POST', '/api/market/bars', { body });
  assert.equal(r.status, 401);
  r = await api(srv, 'POST', '/api/market/bars', { tok: user, body });
  assert.equal(r.status, 403, r.text);
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual({ ...r.body, dispatch: undefined }, { received: 2, stored: 2, late: 0, duplicates: 0, dispatched: 2, dispatch: undefined });
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body });
  assert.equal(r.status, 200);
  assert.equal(r.body.duplicates, 2);
  assert.equal(r.body.stored, 0);
  assert.equal(r.body.dispatched, 0);
  assert.equal(psql("SELECT count(*) FROM ex7.bars WHERE instrument = 'MGC' AND timeframe = '5m'"), '2');
});

test('POST /api/market/bars: a bad bar is a 422 naming the element and field, and nothing is stored', async () => {
  const body = { bars: [bar('2025-03-05T15:15:00Z'), bar('2025-03-05T15:20:00Z', '2900.55')] };
  let r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'bars', 1, 'close']);
  assert.equal(r.body.detail[0].type, 'value_error.tick_size');
  assert.equal(psql("SELECT count(*) FROM ex7.bars WHERE instrument = 'MGC' AND ts = '2025-03-05T15:15:00Z'"), '0', 'all or nothing');
  for (const [b, loc] of [[{ bars: [bar('2025-03-05T15:15:00Z', '2900.5', { instrument: 'NOPE' })] }, ['body', 'bars', 0, 'instrument']],
    [{ bars: [bar('2025-03-05T15:17:00Z')] }, ['body', 'bars', 0, 'ts']],
    [{ bars: [bar('2025-03-05T15:15:00')] }, ['body', 'bars', 0, 'ts']],
    [{ bars: 'x' }, ['body', 'bars']], [{}, ['body', 'bars']]]) {
    r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body: b });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.detail[0].loc, loc, JSON.stringify(b));
  }
  // the body is an object: a bare array is refused by ex7d before the database
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body: [bar('2025-03-05T15:15:00Z')] });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body']);
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, raw: '{"bars": [', headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400);
});

test('POST /api/market/bars: the same key with other values is a 409 with both bars', async () => {
  const r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body: { bars: [bar('2025-03-05T15:10:00Z', '2900.9')] } });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.detail.code, 'bar_conflict');
  assert.deepEqual(r.body.detail.loc, ['body', 'bars', 0]);
  assert.equal(r.body.detail.stored.close, '2900.50');
  assert.equal(r.body.detail.sent.close, '2900.90');
});

test('ingest dispatches: a starting runtime on MGC 5m is running after the next bar', async () => {
  let r = await api(srv, 'POST', '/api/strategies', { tok: user, body: { name: 'gold 5m', instrument: 'MGC', timeframe: '5m' } });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  assert.equal((await api(srv, 'POST', `/api/strategies/${id}/promote`, { tok: user })).status, 200);
  r = await api(srv, 'POST', `/api/signals/runtimes/${id}/start`, { tok: user, body: { mode: 'paper' } });
  assert.equal(r.body.status, 'starting', r.text);
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body: { bars: [bar('2025-03-05T15:15:00Z')] } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.dispatch.started, 1);
  const rt = (await api(srv, 'GET', '/api/signals/runtimes', { tok: user })).body.items.find((x) => x.strategy_id === id);
  assert.equal(rt.status, 'running');
  assert.equal(Date.parse(rt.last_bar_ts), Date.parse('2025-03-05T15:15:00Z'));
  // "dispatch": false stores without dispatching (a history backfill)
  r = await api(srv, 'POST', '/api/market/bars', { tok: svc, body: { bars: [bar('2025-03-05T15:20:00Z')], dispatch: false } });
  assert.equal(r.body.stored, 1);
  assert.equal(r.body.dispatched, 0);
});

test('GET /api/instruments: every instrument, spec as exact strings, market data', async () => {
  assert.equal((await api(srv, 'GET', '/api/instruments')).status, 401);
  const r = await api(srv, 'GET', '/api/instruments', { tok: user });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.items.length, 12);
  assert.deepEqual(r.body.items.map((i) => i.symbol), [...r.body.items.map((i) => i.symbol)].sort());
  const mgc = r.body.items.find((i) => i.symbol === 'MGC');
  assert.equal(mgc.tick_size, '0.10');
  assert.equal(mgc.tick_value, '1.00');
  assert.equal(mgc.session_calendar, 'cme_globex');
  assert.equal(mgc.market.timeframe, '5m');
  assert.equal(Date.parse(mgc.market.last_bar.ts), Date.parse('2025-03-05T15:20:00Z'));
  assert.equal(mgc.market.last_bar.close, '2900.50');
  assert.ok(['open', 'break', 'closed'].includes(mgc.market.session));
  assert.ok(['fresh', 'stale', 'closed'].includes(mgc.market.status));
  // a bar from 2025: stale whenever the market is open, closed otherwise
  assert.equal(mgc.market.status, mgc.market.session === 'open' ? 'stale' : 'closed');
  assert.ok(mgc.market.lag_seconds > 0);
});

test('GET /api/signals/health: public, the contract\'s shape, no user data', async () => {
  const r = await api(srv, 'GET', '/api/signals/health');
  assert.equal(r.status, 200, r.text);
  assert.ok(['ok', 'stale'].includes(r.body.dispatcher));
  assert.match(r.body.now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
  assert.ok(Math.abs(Date.parse(r.body.now) - Date.now()) < 60000);
  assert.deepEqual(Object.keys(r.body.runtimes).sort(), ['draining', 'error', 'running', 'starting', 'stopped']);
  assert.ok(r.body.runtimes.running >= 1);
  const mgc = r.body.market_data.MGC;
  assert.equal(Date.parse(mgc.last_bar_ts), Date.parse('2025-03-05T15:20:00Z'));
  assert.equal(typeof mgc.lag_seconds, 'number');
  assert.ok(['fresh', 'stale', 'closed'].includes(mgc.status));
  assert.ok(!r.text.includes(U) && !r.text.includes(SVC), 'no user ids');
  // a token is harmless on a public route
  assert.equal((await api(srv, 'GET', '/api/signals/health', { tok: user })).status, 200);
  // health/me is still the per-user route
  assert.equal((await api(srv, 'GET', '/api/signals/health/me')).status, 401);
});

function importBars(csv, args = []) {
  const file = path.join(dir, `bars-${Math.random().toString(16).slice(2)}.csv`);
  writeFileSync(file, csv);
  const p = spawnSync(EX7D, ['import-bars', file, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: conninfo() }, encoding: 'utf8' });
  return { ...p, file };
}

test('ex7d import-bars: a CSV in any column order, quoted fields and CRLF; summary; re-run is all duplicates', async () => {
  const csv = 'ts,instrument,timeframe,open,high,low,close,volume\r\n'
    + '2025-03-05T15:01:00Z,MGC,1m,2900.0,2900.5,2899.9,2900.2,3\r\n'
    + '"2025-03-05T10:02:00-05:00","MGC","1m","2900.2","2900.4","2900.0","2900.1","4"\r\n'
    + '\r\n'
    + '2025-03-05T15:03:00Z, MGC ,1m,2900.1,2900.1,2900.1,2900.1,0\r\n';
  let p = importBars(csv);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /3 rows in 1 batch, .*: 3 stored \(0 late\), 0 duplicates, 3 dispatched/);
  assert.equal(p.stderr, '', 'no progress bar when stderr is not a terminal');
  p = importBars(csv, ['--batch', '2', '--no-dispatch']);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /3 rows in 2 batches, .*: 0 stored \(0 late\), 3 duplicates, 0 dispatched/);
  assert.equal(psql("SELECT string_agg(close::text, ',' ORDER BY ts) FROM ex7.bars WHERE instrument = 'MGC' AND timeframe = '1m'"), '2900.20,2900.10,2900.10');
});

test('ex7d import-bars: a bad row stops the import, names its CSV line, exits 1; earlier batches stay', async () => {
  const head = 'instrument,timeframe,ts,open,high,low,close,volume\n';
  const row = (m, close = '2900.0') => `MGC,1m,2025-03-05T15:${m}:00Z,2900.0,2901.0,2899.0,${close},1\n`;
  let p = importBars(head + row('10') + row('11') + row('12') + row('13', '2900.05') + row('14'), ['--batch', '2']);
  assert.equal(p.status, 1, p.stdout + p.stderr);
  assert.match(p.stdout, /2 rows in 1 batch, .*: 2 stored/);
  assert.ok(p.stdout.includes(`rejected: ${p.file}:5: close: close 2900.05 is not on the MGC tick grid (tick size 0.10) [X7422]`), p.stdout);
  assert.match(p.stdout, /not stored: the batch of lines 4-5 \(2 rows\) and everything after it/);
  assert.match(p.stderr, /:5: close:/);
  assert.equal(psql("SELECT count(*) FROM ex7.bars WHERE instrument = 'MGC' AND timeframe = '1m' AND ts >= '2025-03-05T15:10:00Z'"), '2');
  // a conflict with a stored bar names the line too
  p = importBars(head + row('20') + row('10', '2900.1'));
  assert.equal(p.status, 1);
  assert.ok(p.stdout.includes(`${p.file}:3: a different MGC 1m bar`), p.stdout);
  assert.match(p.stdout, /\[X7409\]/);
  // a row with a field too few, an unknown column, an empty file
  p = importBars(head + row('21') + 'MGC,1m,2025-03-05T15:22:00Z,2900.0,2900.0,2900.0,1\n');
  assert.equal(p.status, 1);
  assert.ok(p.stdout.includes(`${p.file}:3: expected 8 fields like the header, found 7`), p.stdout);
  p = importBars('instrument,timeframe,ts,open,high,low,close,vol\n');
  assert.equal(p.status, 2);
  assert.match(p.stderr, /:1: unknown column "vol"/);
  p = importBars('');
  assert.equal(p.status, 2);
  assert.match(p.stderr, /the file is empty/);
  // an empty field is a missing one
  p = importBars(head + 'MGC,1m,2025-03-05T15:23:00Z,2900.0,,2900.0,2900.0,1\n');
  assert.equal(p.status, 1);
  assert.ok(p.stdout.includes(`${p.file}:2: high: field required [X7422]`), p.stdout);
  // usage errors
  p = spawnSync(EX7D, ['import-bars'], { encoding: 'utf8' });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /usage: ex7d import-bars FILE/);
  p = spawnSync(EX7D, ['import-bars', path.join(dir, 'missing.csv')], { encoding: 'utf8' });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /cannot open/);
  p = spawnSync(EX7D, ['import-bars', 'x.csv', '--batch', '20000'], { encoding: 'utf8' });
  assert.equal(p.status, 2);
});
