// tools/chaos_load.mjs: the load and the checks of `make chaos` (tools/chaos.sh, docs/ha.md).
//
// Through one ex7d on a multi-host DATABASE_URL it runs, on loopback only and bounded:
//   - signal fires: a closed 1-minute MNQ bar every BAR_MS, posted with a service_role token to
//     POST /api/market/bars; every user's running strategy ("long when the close is above 0") fires an
//     entry on it while the user is flat (docs/dispatcher.md). A bar that got 503 is sent again (an
//     identical re-send stores and dispatches nothing), so the series has no hole;
//   - closes: each user closes every signal its stream reported open, POST /api/signals/{id}/close;
//     after a 503 the signal is read back (GET /api/signals/{id}) before a close is tried again, since a
//     503 means the outcome is unknown (the statement may have committed just before the kill);
//   - signal streams: SSE_PER_USER clients per user read GET /api/signals/stream and record every event
//     id; each drops its connection once during the switch and once after it and resumes with
//     Last-Event-ID (after a 503 it waits Retry-After, at most 1 s).
// At KILL_AT_S it runs KILL_CMD (the primary node dies), records the kill time and the first 2xx after it,
// keeps the load AFTER_S seconds longer, drains, and checks against the database now primary (psql on
// VERIFY_URL): every write that got a 2xx is there, no status other than 2xx and 503 with Retry-After was
// seen, every stream saw each of its user's events exactly once, in order, from its first to the last
// in the event log. Prints "ok - ..." / "not ok - ..." lines, then the figures as one JSON line.
//
// Environment: BASE, SECRET, USERS (uuid,uuid,...), KILL_CMD, VERIFY_URL; optional BAR_MS (250),
// KILL_AT_S (15), AFTER_S (15), SSE_PER_USER (2), FAILOVER_MAX_S (180).
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { execFileSync, exec } from 'node:child_process';

const env = process.env;
const BASE = new URL(env.BASE);
const USERS = env.USERS.split(',');
const BAR_MS = Number(env.BAR_MS || 250);
const KILL_AT_S = Number(env.KILL_AT_S || 15);
const AFTER_S = Number(env.AFTER_S || 15);
const SSE_PER_USER = Number(env.SSE_PER_USER || 2);
const FAILOVER_MAX_S = Number(env.FAILOVER_MAX_S || 180);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();

const b64u = (b) => Buffer.from(b).toString('base64url');
function token(sub, role = 'authenticated') {
  const t = Math.floor(now() / 1000);
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64u(JSON.stringify({ sub, aud: 'authenticated', role, iat: t, exp: t + 7200, email: '', phone: '' }));
  return `${h}.${p}.${createHmac('sha256', env.SECRET).update(`${h}.${p}`).digest('base64url')}`;
}
const SERVICE = token('00000000-0000-4000-8000-0000000c4a05', 'service_role');
const TOK = Object.fromEntries(USERS.map((u) => [u, token(u)]));

// every answer ex7d gave: {what, at, ms, status, retryAfter}
const answers = [];
let tKill = null;
let tFirstOk = null;			// the first 2xx to a request sent after the kill

// request: one HTTP request on its own connection; resolves to {status, retryAfter, body} or {status: 'error'}
function request(method, path, tok, body, what) {
  const t0 = now();
  return new Promise((resolve) => {
    const payload = body === undefined ? null : JSON.stringify(body);
    const req = http.request({ host: BASE.hostname, port: BASE.port, method, path, agent: false, timeout: 60000,
      headers: { Authorization: `Bearer ${tok}`, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        const a = { what, at: t0, ms: now() - t0, status: res.statusCode, retryAfter: res.headers['retry-after'] || null };
        answers.push(a);
        if (tKill && !tFirstOk && t0 > tKill && res.statusCode < 300) tFirstOk = now();
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ ...a, body: parsed, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
      const a = { what, at: t0, ms: now() - t0, status: 'error', detail: String(e) };
      answers.push(a);
      resolve(a);
    });
    if (payload) req.write(payload);
    req.end();
  });
}

// ------------------------------------------------------------------------------------------------
// bars: 1-minute MNQ bars inside the CME Globex session (Tuesday 2026-01-06 on, 14:30-20:59 UTC)
let barTs = Date.UTC(2026, 0, 6, 14, 30);
function nextBarTs() {
  barTs += 60000;
  const d = new Date(barTs);
  if (d.getUTCHours() >= 21) {
    do { barTs = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1, 14, 30); } while ([0, 6].includes(new Date(barTs).getUTCDay()));
  }
}
const barsAcked = [];			// ts of bars that got a 2xx
let running = true;
async function barLoop() {
  while (running) {
    const t0 = now();
    const ts = new Date(barTs).toISOString();
    const r = await request('POST', '/api/market/bars', SERVICE,
      { bars: [{ instrument: 'MNQ', timeframe: '1m', ts, open: '20000.00', high: '20001.00', low: '19999.00', close: '20000.50', volume: 10 }] }, 'bar');
    if (r.status === 200) { barsAcked.push(ts); nextBarTs(); }
    await sleep(Math.max(0, BAR_MS - (now() - t0)));
  }
}

// ------------------------------------------------------------------------------------------------
// closes: what the streams reported open, closed through the API
const open = Object.fromEntries(USERS.map((u) => [u, new Map()]));	// signal id -> 'open' | 'check'
const closesAcked = [];			// signal ids whose close got a 2xx
const closedUnknown = [];		// closed after a 503 (found closed when read back)
let stopAt = Infinity;			// when the load stopped: the closers finish within 30 s of it
async function closeLoop(u) {
  while (running || open[u].size > 0) {
    for (const [id, state] of [...open[u]]) {
      if (state === 'check') {
        const r = await request('GET', `/api/signals/${id}`, TOK[u], undefined, 'read');
        if (r.status === 200 && r.body.status !== 'open') { open[u].delete(id); closedUnknown.push(id); }
        else if (r.status === 200) open[u].set(id, 'open');
        continue;
      }
      const r = await request('POST', `/api/signals/${id}/close`, TOK[u], { close_price: '20000.50' }, 'close');
      if (r.status === 200) { open[u].delete(id); closesAcked.push(id); }
      else if (r.status === 503) open[u].set(id, 'check');
      else open[u].delete(id);	// reported as a bad status by the checks
    }
    await sleep(50);
    if (!running && now() > stopAt + 30000) break;
  }
}

// ------------------------------------------------------------------------------------------------
// streams
const clients = [];
function sseClient(u, n) {
  const c = { u, n, ids: [], last: null, opens: 0, resumes: 0, resumedOk: 0, refused: 0, req: null, banner: false, closedByUs: false };
  const connect = () => {
    if (c.done) return;
    const headers = { Authorization: `Bearer ${TOK[u]}`, Accept: 'text/event-stream' };
    const resuming = c.last !== null;
    if (resuming) headers['Last-Event-ID'] = String(c.last);
    const t0 = now();
    c.opens++;
    if (resuming) c.resumes++;
    const req = http.get({ host: BASE.hostname, port: BASE.port, path: '/api/signals/stream', headers, agent: false }, (res) => {
      answers.push({ what: 'stream', at: t0, ms: now() - t0, status: res.statusCode, retryAfter: res.headers['retry-after'] || null });
      if (res.statusCode !== 200) {
        c.refused++;
        res.resume();
        const wait = Math.min(1000, 1000 * Number(res.headers['retry-after'] || 1));
        res.on('end', () => setTimeout(connect, wait));
        return;
      }
      if (tKill && !tFirstOk && t0 > tKill) tFirstOk = now();
      if (resuming) c.resumedOk++;
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id = null; let event = 'message'; let data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'compliance') c.banner = true;
          if (id === null || (event !== 'signal' && event !== 'signal_closed')) continue;
          c.ids.push(Number(id));
          c.last = Number(id);
          if (n === 0 && event === 'signal') {
            // the first client of each user drives the closes
            try { const s = JSON.parse(data); if (s.status === 'open' && !open[u].has(s.id)) open[u].set(s.id, 'open'); } catch { /* ignore */ }
          }
        }
      });
      const again = () => { if (c.req === req) { c.req = null; setTimeout(connect, c.closedByUs ? 0 : 250); c.closedByUs = false; } };
      res.on('end', again);
      res.on('error', again);
      res.on('close', again);
    });
    req.on('error', () => { if (c.req === req) { c.req = null; setTimeout(connect, 250); } });
    c.req = req;
  };
  c.connect = connect;
  c.drop = () => { if (c.req) { c.closedByUs = true; c.req.destroy(); } };
  clients.push(c);
  connect();
}

// psql: one statement on the primary; retried for a minute while no node takes writes
function psql(sql) {
  const end = now() + 60000;
  for (;;) {
    try {
      return execFileSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', env.VERIFY_URL, '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      if (now() > end) throw e;
      execFileSync('sleep', ['0.5']);
    }
  }
}
const results = [];
function check(ok, what) { results.push(ok); console.log(`${ok ? 'ok' : 'not ok'} - ${what}`); }

// ------------------------------------------------------------------------------------------------
async function main() {
  for (const u of USERS) for (let i = 0; i < SSE_PER_USER; i++) sseClient(u, i);
  const tOpen = now();
  while (!clients.every((c) => c.banner)) {
    if (now() - tOpen > 20000) throw new Error('the streams did not open');
    await sleep(50);
  }
  const tStart = now();
  const loops = [barLoop(), ...USERS.map(closeLoop)];
  await sleep(KILL_AT_S * 1000);

  // the primary node dies
  // the kill's time is when the command returned: a request sent before that may still have been served
  const tAsked = now();
  await new Promise((resolve) => exec(env.KILL_CMD, (e, out, err) => { if (e) console.log(`# kill command failed: ${err}`); resolve(); }));
  tKill = now();
  console.log(`# ${new Date(tKill).toISOString()} killed (${tKill - tAsked} ms): ${env.KILL_CMD}`);
  // each stream drops once while the switch is on, one every 1.5 s
  clients.forEach((c, i) => setTimeout(() => c.drop(), 1000 + i * 1500));
  while (!tFirstOk && now() - tKill < FAILOVER_MAX_S * 1000) await sleep(20);
  const failoverMs = tFirstOk ? tFirstOk - tKill : null;
  console.log(`# first 2xx after the kill: ${failoverMs === null ? 'none' : `${failoverMs} ms`}`);
  // once more on the new primary, then the load goes on
  clients.forEach((c, i) => setTimeout(() => c.drop(), 500 + i * 200));
  await sleep(AFTER_S * 1000);

  // drain: no new bars; the closers finish what the streams reported
  running = false;
  stopAt = now();
  await Promise.all(loops);
  const lastSeq = {};
  const tDrain = now();
  for (;;) {
    for (const u of USERS) lastSeq[u] = Number(psql(`SELECT coalesce(max(seq), 0) FROM ex7.signal_events WHERE user_id = '${u}'`));
    if (clients.every((c) => c.last === lastSeq[c.u]) || now() - tDrain > 30000) break;
    await sleep(500);
  }
  for (const c of clients) { c.done = true; if (c.req) c.req.destroy(); }

  // ------------------------------------------------------------------------------------------------
  // checks against the database that is primary now
  const primary = psql('SELECT pg_catalog.inet_server_port()');
  console.log(`# verified on the primary at port ${primary} (pg_is_in_recovery: ${psql('SELECT pg_is_in_recovery()')})`);
  const stored = new Set(psql(`SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') FROM ex7.bars WHERE instrument = 'MNQ' AND timeframe = '1m'`).split('\n'));
  const lostBars = barsAcked.filter((ts) => !stored.has(ts));
  check(barsAcked.length > 0 && lostBars.length === 0, `every bar that got a 2xx is stored on the new primary (${barsAcked.length} bars, ${lostBars.length} lost${lostBars.length ? `: ${lostBars.slice(0, 5).join(' ')}` : ''})`);
  const closedIds = closesAcked.length ? new Set(psql(`SELECT id FROM ex7.signals WHERE status <> 'open' AND close_reason = 'user' AND id = ANY ('{${closesAcked.join(',')}}'::uuid[])`).split('\n')) : new Set();
  const lostCloses = closesAcked.filter((id) => !closedIds.has(id));
  check(closesAcked.length > 0 && lostCloses.length === 0, `every close that got a 2xx is closed by its user on the new primary (docs/signals.md: status cancelled, close_reason user) (${closesAcked.length} closes, ${lostCloses.length} lost)`);
  const fired = Number(psql(`SELECT count(*) FROM ex7.signal_events WHERE kind = 'signal' AND user_id = ANY ('{${USERS.join(',')}}'::uuid[])`));
  check(fired > 0, `signals fired through the bars: ${fired}`);
  const bad = answers.filter((a) => !((typeof a.status === 'number' && a.status >= 200 && a.status < 300) || (a.status === 503 && a.retryAfter)));
  const badKinds = {};
  for (const a of bad) badKinds[`${a.what} ${a.status}`] = (badKinds[`${a.what} ${a.status}`] || 0) + 1;
  check(bad.length === 0, `only 2xx and 503 with Retry-After (${answers.length} answers${bad.length ? `; other: ${JSON.stringify(badKinds)}` : ''})`);
  check(failoverMs !== null, `ex7d serves again after the switch without a restart${failoverMs !== null ? ` (first 2xx ${failoverMs} ms after the kill)` : ''}`);
  let gaps = 0; let dups = 0; let behind = 0; let notResumed = 0;
  for (const c of clients) {
    const seen = new Set();
    for (let i = 0; i < c.ids.length; i++) {
      if (seen.has(c.ids[i])) dups++;
      seen.add(c.ids[i]);
      if (i > 0 && c.ids[i] > c.ids[i - 1] + 1) gaps += c.ids[i] - c.ids[i - 1] - 1;
    }
    if (c.last !== lastSeq[c.u]) behind++;
    if (c.resumedOk < 1) notResumed++;
  }
  const events = clients.reduce((n, c) => n + c.ids.length, 0);
  check(gaps === 0 && dups === 0 && behind === 0, `every stream got its user's events exactly once, in order, up to the last in the log (${clients.length} streams, ${events} events; ${gaps} missing, ${dups} duplicate, ${behind} behind)`);
  check(notResumed === 0, `every stream resumed with Last-Event-ID (${clients.reduce((n, c) => n + c.resumedOk, 0)} resumes, ${clients.reduce((n, c) => n + c.refused, 0)} refused with 503 first)`);

  const afterKill = answers.filter((a) => tKill && a.at >= tKill && (!tFirstOk || a.at < tFirstOk));
  const refused = afterKill.filter((a) => a.status === 503);
  const figures = {
    failover_ms: failoverMs,
    refused_during_switch: refused.length,
    slowest_503_ms: refused.length ? Math.max(...refused.map((a) => a.ms)) : null,
    requests: answers.length,
    by_status: answers.reduce((m, a) => { m[a.status] = (m[a.status] || 0) + 1; return m; }, {}),
    bars_acked: barsAcked.length,
    closes_acked: closesAcked.length,
    closes_found_closed_after_503: closedUnknown.length,
    signals_fired: fired,
    streams: clients.length,
    stream_events: events,
    stream_resumes: clients.reduce((n, c) => n + c.resumedOk, 0),
    load_seconds: Math.round((stopAt - tStart) / 1000),
  };
  console.log(JSON.stringify(figures));
  process.exit(results.every(Boolean) ? 0 : 1);
}

main().catch((e) => { console.log(`not ok - chaos load: ${e.stack || e}`); process.exit(1); });
