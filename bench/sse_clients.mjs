// bench/sse_clients.mjs: the client side of bench/bench_sse.sh. Holds up to 10,000 signal streams on one
// ex7d over raw sockets (HTTP/1.1, chunked, parsed by hand: a library client per connection would cost
// the client more than the server), fires signals at a steady rate through psql, and measures:
//   - latency: from just before the fire (clock_timestamp() in the signal's tag, in the fire's own
//     transaction, so it includes the fire and its commit) to the frame's arrival at a hot client;
//   - ex7d's resident memory (VmRSS) before and after the idle clients connect.
// Usage: node sse_clients.mjs BASE PID SECRET HOT_USER HOT_STRATEGY IDLE_PREFIX IDLE_USERS IDLE_CLIENTS SECONDS RATE
// Prints one JSON line of results.
import net from 'node:net';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

const [base, pid, secret, hotUser, hotStrategy, idlePrefix, idleUsersS, idleClientsS, secondsS, rateS] = process.argv.slice(2);
const idleUsers = Number(idleUsersS);
const idleClients = Number(idleClientsS);
const seconds = Number(secondsS);
const rate = Number(rateS);
const { hostname, port } = new URL(base);
const HOT = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// settling pauses (before a phase, before reading the RSS): shorter in smoke mode (bench/lib.sh), where
// nothing is judged
const settle = (ms) => sleep(process.env.EX7_BENCH_SMOKE === '1' ? ms / 10 : ms);

const b64u = (b) => Buffer.from(b).toString('base64url');
function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64u(JSON.stringify({ sub, aud: 'authenticated', role: 'authenticated', iat: now, exp: now + 7200, email: '', phone: '' }));
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

// one stream; onFrame(text of a complete SSE frame) for a hot client, nothing parsed for an idle one
function open(sub, onFrame) {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname);
    s.setEncoding('latin1');
    let head = '';
    let body = '';
    let need = -1;
    let opened = false;
    let pending = '';
    s.on('connect', () => s.write(`GET /api/signals/stream HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token(sub)}\r\n\r\n`));
    s.on('error', reject);
    s.on('data', (d) => {
      if (!opened) {
        head += d;
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!head.startsWith('HTTP/1.1 200')) { reject(new Error(head.split('\r\n')[0])); s.destroy(); return; }
        d = head.slice(i + 4);
        head = '';
      }
      if (!onFrame) {
        if (!opened && /compliance/.test(d)) { opened = true; resolve(s); }
        opened = true;
        return;
      }
      // chunked transfer coding, then SSE frames
      body += d;
      for (;;) {
        if (need < 0) {
          const i = body.indexOf('\r\n');
          if (i < 0) break;
          need = parseInt(body.slice(0, i), 16);
          body = body.slice(i + 2);
        }
        if (body.length < need + 2) break;
        pending += body.slice(0, need);
        body = body.slice(need + 2);
        need = -1;
      }
      let j;
      while ((j = pending.indexOf('\n\n')) >= 0) {
        const frame = pending.slice(0, j);
        pending = pending.slice(j + 2);
        if (!opened && /event: compliance/.test(frame)) { opened = true; resolve(s); }
        onFrame(frame);
      }
    });
  });
}

// the hot clients: every frame's latency from the tag's timestamp
let samples = [];
const seen = new Array(HOT).fill(0);
function hotFrame(k) {
  return (frame) => {
    const t = nowUs();
    if (!/^id: /.test(frame)) return;
    const m = /"tag": "t(\d+\.\d+)"/.exec(frame);
    if (!m) return;
    seen[k]++;
    samples.push(t - Number(m[1]) * 1e6);
  };
}
function fireFor(n) {
  // one session; each fire in its own transaction, right after its timestamp is taken; a steady rate
  const sql = `DO $$ BEGIN FOR i IN 1..${n} LOOP
      PERFORM pg_sleep(${1 / rate});
      COMMIT;
      PERFORM ex7.fire_signal('${hotUser}', '${hotStrategy}', 'paper', 'long', 1, 20000.00, now(),
                              't' || extract(epoch FROM clock_timestamp())::numeric(20, 6)::text);
      COMMIT;
    END LOOP; END $$`;
  return new Promise((resolve, reject) => {
    const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
  });
}
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
async function phase(name) {
  samples = [];
  seen.fill(0);
  const n = Math.round(seconds * rate);
  await fireFor(n);
  const t0 = Date.now();
  while (seen.some((c) => c < n) && Date.now() - t0 < 10000) await sleep(20);
  const missing = seen.map((c) => n - c);
  return { phase: name, events: n, samples: samples.length, missing: missing.reduce((a, b) => a + b, 0),
    p50_ms: pct(samples, 50) / 1000, p99_ms: pct(samples, 99) / 1000, max_ms: Math.max(...samples) / 1000 };
}

const hot = [];
for (let k = 0; k < HOT; k++) hot.push(await open(hotUser, hotFrame(k)));
await fireFor(20); // warm up: prepared statements, caches
await settle(500);
const small = await phase(`${HOT} clients`);
await settle(1000);
const rssBefore = rssKiB();

// the idle clients: idleUsers users, round robin; at most 200 connection attempts in flight
const idle = [];
const t0 = Date.now();
for (let i = 0; i < idleClients; i += 200) {
  const batch = [];
  for (let k = i; k < Math.min(idleClients, i + 200); k++) {
    batch.push(open(idlePrefix + String(k % idleUsers).padStart(36 - idlePrefix.length, '0'), null));
  }
  idle.push(...(await Promise.all(batch)));
}
const connectSeconds = (Date.now() - t0) / 1000;
await settle(2000);
const rssIdle = rssKiB();
const large = await phase(`${HOT + idleClients} clients`);
const rssAfter = rssKiB();
const perClient = ((Math.max(rssIdle, rssAfter) - rssBefore) * 1024) / idleClients;
console.log(JSON.stringify({ small, large, idle_clients: idleClients, connect_seconds: connectSeconds,
  rss_kib: { before: rssBefore, idle: rssIdle, after: rssAfter }, bytes_per_idle_client: Math.round(perClient),
  p99_ratio: large.p99_ms / small.p99_ms }));
for (const s of [...hot, ...idle]) s.destroy();
process.exit(0);
