// backtests.js: backtests (docs/backtests.md, docs/metrics.md).
//   BacktestLauncher({strategyId}): the form that runs one (POST /api/strategies/{id}/backtest: the range and
//     the options) and opens it; any screen can mount it (the strategy page does).
//   BacktestList({strategyId}): a strategy's backtests, newest first (GET /api/strategies/{id}/backtests).
//   BacktestNew: /backtests/new?strategy=<id>: a strategy to pick, the launcher, the strategy's backtests.
//   Backtest({id}): /backtests/{id}: GET /api/backtests/{id}, polled while the run is queued or running (a
//     background run), then the metrics, the equity and drawdown chart (uPlot, loaded by this screen only,
//     with import()), and the trades.
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import { ComplianceLink } from './compliance_link.e4680dfd0f.js';
import * as api from '../api.be17d892af.js';
import { Link, navigate } from '../router.acf9c7a626.js';
import { money, signClass, dateTime, label } from '../format.d46c67b7d9.js';

const DAY = 86400000;
const isoDay = (t) => new Date(t).toISOString().slice(0, 10);
const dollars = (v) => {
  if (v == null || v === '') return '—';
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return `${n < 0 ? '−' : ''}$${Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
};
const pct = (x, digits = 2) => (x == null ? '—' : `${(Number(x) * 100).toFixed(digits)} %`);
const ratio = (x) => (x == null ? '—' : Number(x).toFixed(2));
const utc = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '—');
const running = (b) => b && (b.status === 'queued' || b.status === 'running');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n) => String(n).padStart(2, '0');
// the time axis's labels, UTC and 24-hour: the day under the first time of each day, days alone when the
// ticks are a day or more apart
function timeTicks(u, splits, axis, space, incr) {
  return splits.map((t, i) => {
    const d = new Date(t * 1000);
    const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
    if (incr >= 86400) return day;
    const hm = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
    const prev = i > 0 ? new Date(splits[i - 1] * 1000) : null;
    return !prev || prev.getUTCDate() !== d.getUTCDate() ? `${hm}\n${day}` : hm;
  });
}

function Fact({ term, children, cls = '' }) {
  return html`<div class="stat"><dt>${term}</dt><dd class=${cls}>${children}</dd></div>`;
}

// ---------------------------------------------------------------------------------------------------
// the launcher

export function BacktestLauncher({ strategyId, onStarted }) {
  const today = Date.now();
  const [from, setFrom] = useState(isoDay(today - 30 * DAY));
  const [to, setTo] = useState(isoDay(today));
  const [capital, setCapital] = useState('10000.00');
  const [rf, setRf] = useState('0');
  const [evaluation, setEvaluation] = useState('exact');
  const [riskGate, setRiskGate] = useState(false);
  const [version, setVersion] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    if (!strategyId) { setError('Choose a strategy first.'); return; }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) { setError('From and To are dates (YYYY-MM-DD).'); return; }
    if (to < from) { setError('To is before From.'); return; }
    // the days From to To inclusive, in UTC: bars closing after From's midnight and at or before the
    // midnight that ends To
    const body = { from: `${from}T00:00:00Z`, to: `${isoDay(Date.parse(`${to}T00:00:00Z`) + DAY)}T00:00:00Z`,
      initial_capital: capital.trim(), risk_free_rate: rf.trim(), evaluation, risk_gate: riskGate };
    if (version.trim()) body.version = Number(version);
    setBusy(true);
    try {
      const bt = await api.post(`/api/strategies/${encodeURIComponent(strategyId)}/backtest`, body);
      if (onStarted) onStarted(bt);
      else navigate(`/backtests/${bt.id}`);
    } catch (err) {
      setError(err.status === 429 && err.detail?.code === 'backtests_running'
        ? 'Two of your backtests are already running: wait for one to finish.' : err.message);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <form class="backtest-form" onSubmit=${submit} noValidate aria-labelledby="backtest-form-h">
      <h2 id="backtest-form-h">Run a backtest</h2>
      <div class="form-grid">
        <div><label for="backtest-from">From (UTC)</label>
          <input id="backtest-from" type="date" required value=${from} onInput=${(e) => setFrom(e.currentTarget.value)} /></div>
        <div><label for="backtest-to">To, inclusive (UTC)</label>
          <input id="backtest-to" type="date" required value=${to} onInput=${(e) => setTo(e.currentTarget.value)} /></div>
        <div><label for="backtest-capital">Initial capital ($)</label>
          <input id="backtest-capital" type="text" inputmode="decimal" value=${capital} onInput=${(e) => setCapital(e.currentTarget.value)} /></div>
        <div><label for="backtest-rf">Risk-free rate (annual, 0 to 1)</label>
          <input id="backtest-rf" type="text" inputmode="decimal" value=${rf} onInput=${(e) => setRf(e.currentTarget.value)} /></div>
        <div><label for="backtest-evaluation">Evaluation</label>
          <select id="backtest-evaluation" value=${evaluation} onChange=${(e) => setEvaluation(e.currentTarget.value)}>
            <option value="exact">exact (live's decisions)</option><option value="fast">fast (long ranges)</option>
          </select></div>
        <div><label for="backtest-version">Version (empty: current)</label>
          <input id="backtest-version" type="text" inputmode="numeric" value=${version} onInput=${(e) => setVersion(e.currentTarget.value)} /></div>
      </div>
      <label class="check"><input id="backtest-riskgate" type="checkbox" checked=${riskGate} onChange=${(e) => setRiskGate(e.currentTarget.checked)} />
        Pass entries through the risk gate (your paper limits and protections)</label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="actions"><button type="submit" class="primary" disabled=${busy || !strategyId}>${busy ? 'Starting…' : 'Run backtest'}</button></div>
    </form>`;
}

// ---------------------------------------------------------------------------------------------------
// a strategy's backtests

export function BacktestList({ strategyId }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const load = async (after) => {
    setError(null);
    try {
      const q = new URLSearchParams({ limit: '20' });
      if (after) q.set('cursor', after);
      const page = await api.get(`/api/strategies/${encodeURIComponent(strategyId)}/backtests?${q}`);
      setItems((prev) => (after ? [...(prev ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) { setError(e); }
  };
  useEffect(() => { setItems(null); if (strategyId) load(null); }, [strategyId]);
  if (!strategyId) return null;
  return html`
    <div class="backtest-list">
      <h2 id="backtest-list-h">Backtests of this strategy</h2>
      ${error ? html`<p class="error" role="alert">${error.message}<${ComplianceLink} error=${error} /></p>` : null}
      ${items && !items.length ? html`<p class="muted">None yet.</p>` : null}
      ${items && items.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="backtest-list-h">
          <table>
            <thead><tr><th scope="col">Run</th><th scope="col">Range</th><th scope="col">Version</th><th scope="col">Status</th>
              <th scope="col" class="num">Trades</th><th scope="col" class="num">Net P&L</th><th scope="col">Purpose</th></tr></thead>
            <tbody>${items.map((b) => html`<tr key=${b.id}>
              <td><${Link} href=${`/backtests/${b.id}`}>${dateTime(b.created_at)}</${Link}></td>
              <td>${isoDay(b.from)} to ${isoDay(Date.parse(b.to) - 1)}</td><td>${b.strategy_version}</td>
              <td>${b.status}${running(b) ? ` ${b.progress?.percent ?? 0} %` : ''}</td>
              <td class="num">${b.result?.trades ?? '—'}</td>
              <td class=${`num ${signClass(b.result?.net_pnl)}`}>${money(b.result?.net_pnl)}</td><td>${b.purpose}</td></tr>`)}</tbody>
          </table>
        </div>` : null}
      ${cursor ? html`<button type="button" onClick=${() => load(cursor)}>Load more</button>` : null}
    </div>`;
}

// ---------------------------------------------------------------------------------------------------
// /backtests/new

export function BacktestNew() {
  const [sid, setSid] = useState(() => new URLSearchParams(location.search).get('strategy') ?? '');
  const [strategies, setStrategies] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get('/api/strategies?limit=200').then((p) => setStrategies(p.items), setError);
  }, []);
  const choose = (id) => {
    setSid(id);
    history.replaceState(null, '', id ? `/backtests/new?strategy=${encodeURIComponent(id)}` : '/backtests/new');
  };
  const chosen = strategies?.find((s) => s.id === sid);
  return html`
    <main id="main" class="backtest-new grid" tabindex="-1">
      <section class="card panel wide" aria-labelledby="backtest-new-h">
        <div class="panel-head"><h1 id="backtest-new-h">New backtest</h1></div>
        ${error ? html`<p class="error" role="alert">${error.message}<${ComplianceLink} error=${error} /></p>` : null}
        <label for="backtest-strategy">Strategy</label>
        <select id="backtest-strategy" value=${sid} onChange=${(e) => choose(e.currentTarget.value)} disabled=${!strategies}>
          <option value="">${strategies ? 'Choose a strategy' : 'Loading…'}</option>
          ${sid && strategies && !chosen ? html`<option value=${sid}>${sid}</option>` : null}
          ${(strategies ?? []).map((s) => html`<option key=${s.id} value=${s.id}>${s.name} (${s.instrument} ${s.timeframe}, ${s.status})</option>`)}
        </select>
        ${strategies && !strategies.length ? html`<p class="muted">You have no strategy to backtest yet.</p>` : null}
        <${BacktestLauncher} strategyId=${sid} />
      </section>
      ${sid ? html`<section class="card panel wide" aria-labelledby="backtest-list-h"><${BacktestList} strategyId=${sid} /></section>` : null}
    </main>`;
}

// ---------------------------------------------------------------------------------------------------
// uPlot: the vendored ESM module and its stylesheet, loaded the first time a chart is drawn

let uplotLoad = null;
function loadUPlot() {
  uplotLoad ??= (async () => {
    const href = new URL('../vendor/uplot.df630c6a8d.css', import.meta.url).href;
    const css = new Promise((resolve, reject) => {
      if (document.querySelector(`link[href="${href}"]`)) { resolve(); return; }
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = href;
      link.onload = resolve;
      link.onerror = () => reject(new Error('the chart stylesheet did not load'));
      document.head.appendChild(link);
    });
    const [mod] = await Promise.all([import('../vendor/uplot.5dd9b3281a.js'), css]);
    return mod.default;
  })();
  uplotLoad.catch(() => { uplotLoad = null; });
  return uplotLoad;
}

// curve: the equity samples as uPlot's columns, with the drawdown from the running peak (which starts at
// the initial capital, as metrics.max_drawdown's) as a negative amount
function curve(equity, capital) {
  const xs = []; const eq = []; const dd = [];
  let peak = Number(capital);
  if (!Number.isFinite(peak)) peak = -Infinity;
  for (const p of equity) {
    const v = Number(p.equity);
    xs.push(Date.parse(p.ts) / 1000);
    eq.push(v);
    if (v > peak) peak = v;
    dd.push(v - peak);
  }
  return { xs, eq, dd };
}

function EquityChart({ id, equity, capital }) {
  const box = useRef(null);
  const eqEl = useRef(null);
  const ddEl = useRef(null);
  const [state, setState] = useState('loading');   // loading, drawn, or an error message
  const { xs, eq, dd } = curve(equity, capital);
  const deepest = dd.reduce((m, v, i) => (v < dd[m] ? i : m), 0);

  useEffect(() => {
    if (xs.length < 2) return undefined;
    let gone = false;
    const plots = [];
    let ro = null;
    loadUPlot().then((uPlot) => {
      if (gone || !box.current) return;
      const css = getComputedStyle(document.documentElement);
      const v = (n, d) => css.getPropertyValue(n).trim() || d;
      const accent = v('--accent', '#0b5cad'); const bad = v('--bad', '#a4161a');
      const axis = { stroke: v('--muted', '#4d5866'), grid: { stroke: v('--line', '#d5dbe3'), width: 1 }, ticks: { stroke: v('--line', '#d5dbe3'), width: 1 } };
      const money0 = (u, vals) => vals.map((x) => (x == null ? '' : `${x < 0 ? '−' : ''}$${Math.abs(x).toLocaleString('en-US', { maximumFractionDigits: 0 })}`));
      const when = { label: 'Time (UTC)', value: (u, t) => (t == null ? '—' : utc(t * 1000)) };
      let syncing = false;
      // a zoom (drag across either chart; double-click resets) applies to both
      const syncX = (u, key) => {
        if (key !== 'x' || syncing) return;
        syncing = true;
        for (const o of plots) if (o !== u) o.setScale('x', { min: u.scales.x.min, max: u.scales.x.max });
        syncing = false;
      };
      const opts = (height, series, yRange) => ({
        width: box.current.clientWidth, height,
        tzDate: (t) => uPlot.tzDate(new Date(t * 1000), 'Etc/UTC'),
        cursor: { sync: { key: `backtest-${id}` }, drag: { x: true, y: false } },
        scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
        axes: [{ ...axis, values: timeTicks }, { ...axis, size: 72, values: money0 }],
        series: [when, series],
        hooks: { setScale: [syncX] },
      });
      plots.push(new uPlot(opts(240, { label: 'Equity', stroke: accent, width: 2, value: (u, x) => dollars(x) }), [xs, eq], eqEl.current));
      plots.push(new uPlot(opts(140, { label: 'Drawdown', stroke: bad, fill: /^#[0-9a-f]{6}$/i.test(bad) ? `${bad}40` : bad, width: 1, value: (u, x) => dollars(x) },
        (u, min) => [Math.min(min, -1) * 1.05, 0]), [xs, dd], ddEl.current));
      ro = new ResizeObserver(() => {
        const w = box.current?.clientWidth;
        if (w) for (const p of plots) p.setSize({ width: w, height: p.height });
      });
      ro.observe(box.current);
      setState('drawn');
    }).catch((e) => { if (!gone) setState(e.message || 'the chart could not be drawn'); });
    return () => { gone = true; ro?.disconnect(); for (const p of plots) p.destroy(); };
  }, [id, equity, capital]);

  if (xs.length < 2) return html`<p class="muted">No equity curve to draw (${xs.length} point${xs.length === 1 ? '' : 's'}).</p>`;
  return html`
    <figure class="chart" aria-labelledby="chart-caption" data-state=${state === 'loading' || state === 'drawn' ? state : 'failed'}>
      <figcaption id="chart-caption">
        Equity from ${dollars(eq[0])} on ${utc(xs[0] * 1000)} to ${dollars(eq[eq.length - 1])} on ${utc(xs[xs.length - 1] * 1000)};
        deepest drawdown of the curve ${dollars(-dd[deepest])}${dd[deepest] < 0 ? ` on ${utc(xs[deepest] * 1000)}` : ''}.
        <span class="hint"> Drag across a chart to zoom, double-click to reset.</span>
      </figcaption>
      ${state !== 'loading' && state !== 'drawn' ? html`<p class="error" role="alert">${state}</p>` : null}
      <div class="chart-box" ref=${box} aria-hidden="true">
        <div class="chart-equity" ref=${eqEl}></div>
        <div class="chart-drawdown" ref=${ddEl}></div>
      </div>
    </figure>`;
}

// ---------------------------------------------------------------------------------------------------
// /backtests/{id}

const TRADES_PAGE = 100;

function Trades({ trades }) {
  const [shown, setShown] = useState(TRADES_PAGE);
  if (!trades.length) return html`<p class="muted">No trades in this range.</p>`;
  return html`
    <div class="table-wrap" tabindex="0" role="region" aria-labelledby="backtest-trades-h">
      <table class="trades">
        <thead><tr><th scope="col" class="num">#</th><th scope="col">Side</th><th scope="col" class="num">Qty</th>
          <th scope="col">Entry (UTC)</th><th scope="col" class="num">Entry</th><th scope="col">Exit (UTC)</th><th scope="col" class="num">Exit</th>
          <th scope="col">Reason</th><th scope="col" class="num">Gross</th><th scope="col" class="num">Slippage</th>
          <th scope="col" class="num">Commission</th><th scope="col" class="num">Net</th><th scope="col" class="num">MAE</th><th scope="col" class="num">MFE</th></tr></thead>
        <tbody>${trades.slice(0, shown).map((t, i) => html`<tr key=${t.seq ?? i}>
          <td class="num">${t.seq ?? i + 1}</td><td class=${`side-${t.side}`}>${t.side}</td><td class="num">${t.quantity}</td>
          <td>${utc(t.entry_time).replace(' UTC', '')}</td><td class="num">${t.entry_price}</td>
          <td>${utc(t.exit_time).replace(' UTC', '')}</td><td class="num">${t.exit_price}</td><td>${label(t.exit_reason)}</td>
          <td class=${`num ${signClass(t.gross_pnl)}`}>${money(t.gross_pnl)}</td><td class="num">${t.slippage_cost == null ? '—' : money(-Number(t.slippage_cost))}</td>
          <td class="num">${t.commission == null ? '—' : money(-Number(t.commission))}</td>
          <td class=${`num ${signClass(t.pnl)}`}>${money(t.pnl)}</td><td class="num">${dollars(t.mae)}</td><td class="num">${dollars(t.mfe)}</td></tr>`)}</tbody>
      </table>
    </div>
    ${shown < trades.length ? html`<button type="button" onClick=${() => setShown((n) => n + TRADES_PAGE)}>
      Show ${Math.min(TRADES_PAGE, trades.length - shown)} more of ${trades.length - shown}</button>` : null}`;
}

function Counts({ title, counts }) {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n);
  if (!entries.length) return null;
  return html`<p class="small"><strong>${title}:</strong> ${entries.map(([k, n]) => `${label(k)} ${n}`).join(', ')}</p>`;
}

function Metrics({ bt }) {
  const m = bt.metrics ?? {};
  const r = bt.result ?? {};
  const dd = m.max_drawdown ?? {};
  return html`
    <dl class="stats">
      <${Fact} term="Net P&L" cls=${signClass(m.net_pnl)}>${money(m.net_pnl)}${m.net_pnl_percent != null ? html` <span class="small">(${Number(m.net_pnl_percent).toFixed(2)} %)</span>` : null}</${Fact}>
      <${Fact} term="Final equity">${dollars(m.final_equity)}</${Fact}>
      <${Fact} term="Trades">${m.trades ?? 0} <span class="small">(${m.winning_trades ?? 0} won, ${m.losing_trades ?? 0} lost)</span></${Fact}>
      <${Fact} term="Win rate">${pct(m.win_rate, 1)}</${Fact}>
      <${Fact} term="Profit factor">${ratio(m.profit_factor)}</${Fact}>
      <${Fact} term="Max drawdown (every bar)">${dollars(r.max_drawdown)}</${Fact}>
      <${Fact} term="Max drawdown (curve)">${dollars(dd.amount)}${dd.percent != null ? html` <span class="small">(${Number(dd.percent).toFixed(2)} %)</span>` : null}</${Fact}>
      <${Fact} term="Sharpe">${ratio(m.sharpe)}</${Fact}>
      <${Fact} term="Sortino">${ratio(m.sortino)}</${Fact}>
      <${Fact} term="CAGR">${pct(m.cagr, 1)}</${Fact}>
      <${Fact} term="Expectancy" cls=${signClass(m.expectancy)}>${money(m.expectancy)}</${Fact}>
      <${Fact} term="Average win / loss">${dollars(m.avg_win)} / ${dollars(m.avg_loss)}</${Fact}>
      <${Fact} term="Largest win / loss">${dollars(m.largest_win)} / ${dollars(m.largest_loss)}</${Fact}>
      <${Fact} term="Payoff ratio">${ratio(m.payoff_ratio)}</${Fact}>
      <${Fact} term="Exposure">${pct(m.exposure, 1)}</${Fact}>
      <${Fact} term="Most wins / losses in a row">${m.max_consecutive_wins ?? '—'} / ${m.max_consecutive_losses ?? '—'}</${Fact}>
    </dl>
    <${Counts} title="Entries skipped" counts=${r.skipped} />
    <${Counts} title="Entries blocked" counts=${r.blocked} />`;
}

export function Backtest({ id }) {
  const [bt, setBt] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer = null;
    const load = async () => {
      timer = null;
      try {
        const b = await api.get(`/api/backtests/${encodeURIComponent(id)}`);
        if (!live) return;
        setBt(b);
        setError(null);
        if (running(b)) timer = setTimeout(load, 1000);   // a background run: poll its progress
      } catch (e) {
        if (!live) return;
        setError(e);
        // busy or away: try again (a 429's Retry-After); anything else stays on screen
        if (e.status === 429 || e.status === 503 || e.status === 0) timer = setTimeout(load, Math.max(1, e.retryAfter ?? 3) * 1000);
      }
    };
    load();
    return () => { live = false; if (timer) clearTimeout(timer); };
  }, [id]);

  if (!bt) {
    return html`<main id="main" class="backtest" tabindex="-1" aria-busy=${error ? undefined : 'true'}>
      <section class="card panel"><h1>Backtest</h1>
        ${error ? html`<p class="error" role="alert">${error.status === 404 ? 'There is no such backtest.' : error.message}</p>` : html`<p class="muted">Loading…</p>`}
      </section></main>`;
  }
  const p = bt.params ?? {};
  const pr = bt.progress ?? {};
  return html`
    <main id="main" class="backtest grid" tabindex="-1">
      <section class="card panel wide" aria-labelledby="backtest-h">
        <div class="panel-head">
          <h1 id="backtest-h">Backtest: ${bt.instrument} ${bt.timeframe}, version ${bt.strategy_version}</h1>
          <${Link} href=${`/backtests/new?strategy=${bt.strategy_id}`}>Run another</${Link}>
        </div>
        <p>${utc(bt.from)} to ${utc(bt.to)} · initial capital ${dollars(p.initial_capital)} · ${p.evaluation ?? 'exact'} evaluation
          · risk gate ${p.risk_gate ? 'on' : 'off'}${bt.result?.bars != null ? ` · ${bt.result.bars.toLocaleString('en-US')} bars` : ''}
          ${bt.duration_ms != null ? ` · ${Number(bt.duration_ms).toLocaleString('en-US', { maximumFractionDigits: 0 })} ms` : ''}</p>
        <div class="backtest-status" role="status" data-status=${bt.status}>
          ${running(bt) ? html`
            <label for="backtest-progress">${bt.status === 'queued' ? 'Queued' : 'Running'}: ${pr.percent ?? 0} %${pr.bars_total ? ` (${(pr.bars_done ?? 0).toLocaleString('en-US')} of ${pr.bars_total.toLocaleString('en-US')} bars)` : ''}</label>
            <progress id="backtest-progress" max="100" value=${pr.percent ?? 0}>${pr.percent ?? 0} %</progress>`
          : bt.status === 'failed' ? html`<p class="error">The backtest failed: ${bt.error ?? 'no reason given'}</p>`
          : html`<p class="good"><strong>Done</strong>${bt.finished_at ? ` ${dateTime(bt.finished_at)}` : ''}</p>`}
        </div>
        ${error ? html`<p class="error" role="alert">${error.message}<${ComplianceLink} error=${error} /></p>` : null}
      </section>
      ${bt.status === 'done' ? html`
        ${bt.metrics ? html`
        <section class="card panel wide" aria-labelledby="backtest-metrics-h">
          <h2 id="backtest-metrics-h">Metrics</h2>
          <${Metrics} bt=${bt} />
        </section>` : null}
        <section class="card panel wide" aria-labelledby="backtest-chart-h">
          <h2 id="backtest-chart-h">Equity and drawdown</h2>
          <${EquityChart} id=${bt.id} equity=${bt.equity ?? []} capital=${p.initial_capital} />
          ${bt.compliance ? html`<p class="small muted"><strong>${bt.compliance.rule}:</strong> ${bt.compliance.text}</p>` : null}
        </section>
        ${bt.trades_kept === false ? html`
        <section class="card panel wide" aria-labelledby="backtest-trades-h">
          <h2 id="backtest-trades-h">Trades not kept</h2>
          <p>This backtest is a trial of a parameter study, run without storing its trades (its curve above is
            daily): its figures are the study's trial metrics. Apply the trial as a new version and backtest it
            to see its trades.</p>
        </section>` : html`
        <section class="card panel wide" aria-labelledby="backtest-trades-h">
          <h2 id="backtest-trades-h">Trades (${(bt.trades ?? []).length})</h2>
          <${Trades} trades=${bt.trades ?? []} />
        </section>`}` : null}
    </main>`;
}
