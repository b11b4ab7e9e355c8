// dashboard.js: the first screen after sign-in (paper mode). Whether trading is allowed and why not
// (GET /api/risk), the kill switch (GET and PUT /api/risk/state, with a confirmation), today's P&L and the
// open positions (GET /api/portfolio), the live feed (the signal stream), market health (GET /api/health,
// GET /api/signals/health). Each panel shows its own error in place; a stream event or the server coming
// back reloads the panels.
import { useCallback, useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import { ComplianceLink } from './compliance_link.e4680dfd0f.js';
import * as api from '../api.be17d892af.js';
import { openStream } from '../stream.f7af241b24.js';
import { money, signClass, time, dateTime, label } from '../format.d46c67b7d9.js';

const MODE = 'paper';
const FEED_MAX = 50;

// useResource: {data, error, reload} for one GET; a 429 reloads itself once Retry-After has passed
function useResource(path) {
  const [state, setState] = useState({ data: null, error: null });
  const timer = useRef(null);
  const reload = useCallback(() => {
    clearTimeout(timer.current);
    return api.get(path).then((data) => setState({ data, error: null }), (error) => {
      setState((s) => ({ data: s.data, error }));
      if (error.status === 429) timer.current = setTimeout(reload, Math.max(1, error.retryAfter ?? 5) * 1000);
    });
  }, [path]);
  useEffect(() => { reload(); return () => clearTimeout(timer.current); }, [reload]);
  return { ...state, reload };
}

function Panel({ id, title, error, loading, children, wide }) {
  return html`
    <section class=${`card panel${wide ? ' wide' : ''}`} aria-labelledby=${`${id}-h`} aria-busy=${loading ? 'true' : 'false'}>
      <h2 id=${`${id}-h`}>${title}</h2>
      ${error ? html`<p class="error" role="alert">${error.message}<${ComplianceLink} error=${error} /></p>` : null}
      ${loading && !error ? html`<p class="muted">Loading…</p>` : children}
    </section>`;
}

function Stat({ name, value, cls }) {
  return html`<div class="stat"><dt>${name}</dt><dd class=${cls || ''}>${value}</dd></div>`;
}

// ---------------------------------------------------------------------------------------------------
function RiskPanel({ risk }) {
  const r = risk.data;
  let status = null;
  if (r) {
    const b = r.blocked_reason;
    status = r.trading_allowed
      ? html`<p class="status ok" data-testid="trading-status"><span aria-hidden="true">●</span> Trading allowed</p>`
      : html`<div class="status blocked" data-testid="trading-status">
          <p><span aria-hidden="true">■</span> Trading blocked: ${label(b?.reason ?? b?.breaker)}</p>
          ${b ? html`<p class="why">${label(b.breaker)}${b.observed ? ` · ${b.observed}` : ''}${b.limit ? ` (limit ${b.limit})` : ''}</p>` : null}
        </div>`;
  }
  return html`
    <${Panel} id="risk" title="Trading" error=${risk.error} loading=${!r}>
      ${status}
      ${r ? html`<dl class="stats">
        <${Stat} name="Realized P&L today" value=${money(r.realized_pnl_today)} cls=${signClass(r.realized_pnl_today)} />
        <${Stat} name="Trades today" value=${r.trades_today ?? '—'} />
        <${Stat} name="Open positions" value=${r.open_positions ?? '—'} />
        <${Stat} name="Consecutive losses" value=${r.consecutive_losses ?? '—'} />
      </dl>
      ${r.limits ? html`<details>
        <summary>Limits</summary>
        <dl class="stats small">
          <${Stat} name="Daily loss limit" value=${money(r.limits.daily_loss_limit)} />
          <${Stat} name="Trades per day" value=${r.limits.max_trades_per_day} />
          <${Stat} name="Open positions" value=${r.limits.max_open_positions} />
          <${Stat} name="Consecutive losses" value=${r.limits.max_consecutive_losses} />
        </dl>
      </details>` : html`<p class="muted">No risk limits set.</p>`}
      <p class="muted small">Checked ${time(r.checked_at)}</p>` : null}
    </${Panel}>`;
}

// ---------------------------------------------------------------------------------------------------
const ACTIONS = {
  halted: { button: 'Halt trading', confirm: 'Confirm halt', cls: 'danger',
    text: 'Halt trading in paper mode? Every new entry is refused; exits and stops go on.' },
  reducing: { button: 'Reduce only', confirm: 'Confirm reduce only', cls: '',
    text: 'Switch paper mode to reduce only? Only entries that shrink a position are let through.' },
  active: { button: 'Resume trading', confirm: 'Confirm resume', cls: 'primary',
    text: 'Resume trading in paper mode? Your own halt or reduce-only is lifted.' },
};

function KillSwitch({ state, onChanged }) {
  const st = state.data;
  const [ask, setAsk] = useState(null);
  const [reason, setReason] = useState('');
  const [flatten, setFlatten] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const confirmRef = useRef(null);
  const openerRef = useRef(null);
  useEffect(() => { if (ask) confirmRef.current?.focus(); }, [ask]);
  const open = (target, e) => { openerRef.current = e.currentTarget; setAsk(target); setReason(''); setFlatten(false); setError(null); };
  const cancel = () => { setAsk(null); openerRef.current?.focus(); };
  const apply = async () => {
    setBusy(true);
    setError(null);
    try {
      const body = { state: ask, reason: reason.trim() || null };
      if (ask === 'halted' && flatten) body.flatten = true;
      await api.put(`/api/risk/state?mode=${MODE}`, body);
      setAsk(null);
      onChanged();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const a = ask && ACTIONS[ask];
  return html`
    <${Panel} id="killswitch" title="Kill switch" error=${state.error} loading=${!st}>
      ${st ? html`
        <dl class="stats">
          <${Stat} name="Your state" value=${label(st.state)} cls=${`state-${st.state}`} />
          <${Stat} name="In force" value=${`${label(st.effective)}${st.effective_source ? ` (${st.effective_source})` : ''}`} cls=${`state-${st.effective}`} />
        </dl>
        ${st.reason ? html`<p class="small">Reason: ${st.reason} · since ${dateTime(st.changed_at)}</p>` : null}
        ${st.service?.length ? html`<ul class="service-states" aria-label="The service's trading states">
          ${st.service.map((x) => html`<li key=${`${x.scope}-${x.instrument}`}>Service: ${x.scope === 'all' ? 'all instruments' : x.instrument} ${label(x.state)}${x.reason ? ` (${x.reason})` : ''}</li>`)}
        </ul>` : null}
        <div class="actions">
          ${Object.entries(ACTIONS).map(([k, v]) => html`
            <button type="button" key=${k} class=${v.cls} disabled=${st.state === k || busy}
              aria-expanded=${ask === k ? 'true' : 'false'} aria-controls="killswitch-confirm"
              onClick=${(e) => open(k, e)}>${v.button}</button>`)}
        </div>
        ${a ? html`
          <div id="killswitch-confirm" class="confirm" role="alertdialog" aria-modal="false"
            aria-labelledby="killswitch-confirm-text" onKeyDown=${(e) => { if (e.key === 'Escape') cancel(); }}>
            <p id="killswitch-confirm-text"><strong>${a.text}</strong></p>
            <label for="killswitch-reason">Reason (optional)</label>
            <input id="killswitch-reason" type="text" maxlength="200" value=${reason}
              onInput=${(e) => setReason(e.currentTarget.value)} />
            ${ask === 'halted' ? html`<label class="check"><input type="checkbox" checked=${flatten}
              onChange=${(e) => setFlatten(e.currentTarget.checked)} /> Also close every open paper signal at its mark</label>` : null}
            ${error ? html`<p class="error" role="alert">${error}</p>` : null}
            <div class="actions">
              <button type="button" ref=${confirmRef} class=${a.cls || 'primary'} disabled=${busy} onClick=${apply}>${busy ? 'Applying…' : a.confirm}</button>
              <button type="button" onClick=${cancel}>Cancel</button>
            </div>
          </div>` : null}` : null}
    </${Panel}>`;
}

// ---------------------------------------------------------------------------------------------------
function PortfolioPanel({ portfolio }) {
  const p = portfolio.data;
  return html`
    <${Panel} id="portfolio" title="Today" error=${portfolio.error} loading=${!p}>
      ${p ? html`
        <dl class="stats">
          <${Stat} name="Realized P&L" value=${money(p.today.realized_pnl)} cls=${signClass(p.today.realized_pnl)} />
          <${Stat} name="Signals taken" value=${p.today.signals_taken} />
          <${Stat} name="Win rate" value=${p.today.win_rate == null ? '—' : `${(p.today.win_rate * 100).toFixed(1)}%`} />
          <${Stat} name="Equity" value=${money(p.account?.equity).replace(/^\+/, '')} />
          <${Stat} name="Unrealized" value=${money(p.account?.unrealized_pnl)} cls=${signClass(p.account?.unrealized_pnl)} />
        </dl>
        <h3>Open positions (${p.open_positions})</h3>
        ${p.positions.length ? html`
          <div class="table-wrap" tabindex="0" role="region" aria-label="Open positions">
            <table>
              <thead><tr><th scope="col">Instrument</th><th scope="col">Side</th><th scope="col" class="num">Size</th>
                <th scope="col" class="num">Entry</th><th scope="col" class="num">Stop</th><th scope="col" class="num">Target</th><th scope="col">Since</th></tr></thead>
              <tbody>${p.positions.map((s) => html`<tr key=${s.id}>
                <td>${s.instrument}</td><td class=${`side-${s.side}`}>${s.side}</td><td class="num">${s.size}</td>
                <td class="num">${s.entry_price}</td><td class="num">${s.stop_price ?? '—'}</td><td class="num">${s.target_price ?? '—'}</td>
                <td>${dateTime(s.fired_at)}</td></tr>`)}</tbody>
            </table>
          </div>` : html`<p class="muted">No open positions.</p>`}` : null}
    </${Panel}>`;
}

// ---------------------------------------------------------------------------------------------------
function describeEvent(kind, d) {
  if (kind === 'signal') return `${d.instrument} ${d.side} ${d.size} @ ${d.entry_price}`;
  if (kind === 'signal_closed') return `${d.instrument} ${d.side} ${d.size} closed @ ${d.close_price ?? '—'} (${label(d.close_reason)}) ${d.net_pnl != null ? money(d.net_pnl) : ''}`;
  if (kind === 'risk_lock') return `${label(d.kind)} lock on ${d.instrument ?? (d.strategy_id ? 'a strategy' : 'all trading')} until ${time(d.until)}`;
  if (kind === 'trading_state') {
    if (d.scope) return `service: ${d.scope === 'all' ? 'all instruments' : d.instrument} ${label(d.state)}${d.reason ? ` (${d.reason})` : ''}`;
    return `${d.mode ?? ''} trading ${label(d.state)}${d.reason ? ` (${d.reason})` : ''}`;
  }
  return kind;
}

const KIND_LABEL = { signal: 'Signal', signal_closed: 'Closed', risk_lock: 'Lock', trading_state: 'State' };

function FeedPanel({ feed, stream }) {
  return html`
    <${Panel} id="feed" title="Live signals" wide>
      <p class=${`stream-state ${stream.state}`} role="status">
        ${stream.state === 'live' ? 'Live' : stream.state === 'connecting' ? 'Connecting…' : stream.state === 'failed' ? 'Stopped' : 'Reconnecting…'}
        ${stream.message ? html`<span class="small"> — ${stream.message}</span>` : null}<${ComplianceLink} error=${{ status: stream.state === 'failed' ? stream.status : null }} />
      </p>
      ${feed.length ? html`
        <ol class="feed" aria-label="Signal events, newest first" aria-live="polite">
          ${feed.map((e) => html`<li key=${e.key} class=${`feed-${e.kind}`} data-event-id=${e.id ?? ''} data-signal-id=${e.data.id ?? ''}>
            <time datetime=${e.at}>${time(e.at)}</time>
            <span class="kind">${KIND_LABEL[e.kind] ?? e.kind}</span>
            <span class="what">${describeEvent(e.kind, e.data)}</span>
            ${e.data.tag ? html`<span class="tag">${e.data.tag}</span>` : null}
          </li>`)}
        </ol>` : html`<p class="muted">No events since the page opened. New signals appear here as they fire.</p>`}
    </${Panel}>`;
}

// ---------------------------------------------------------------------------------------------------
function HealthPanel({ health, signals }) {
  const h = health.data;
  const s = signals.data;
  const md = s ? Object.entries(s.market_data) : [];
  return html`
    <${Panel} id="health" title="Market health" error=${health.error || signals.error} loading=${!h && !s}>
      <dl class="stats">
        ${h ? html`<${Stat} name="Server" value=${h.status} cls=${h.status === 'ok' ? 'good' : 'bad'} />
          <${Stat} name="Database" value=${h.postgresql} cls=${h.postgresql === 'ok' ? 'good' : 'bad'} />` : null}
        ${s ? html`<${Stat} name="Dispatcher" value=${s.dispatcher} cls=${s.dispatcher === 'ok' ? 'good' : 'bad'} />
          <${Stat} name="Stale runtimes" value=${s.stale_runtimes} />` : null}
      </dl>
      ${md.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Market data">
          <table>
            <thead><tr><th scope="col">Instrument</th><th scope="col">Data</th><th scope="col">Session</th><th scope="col">Last bar</th><th scope="col" class="num">Lag</th></tr></thead>
            <tbody>${md.map(([sym, m]) => html`<tr key=${sym}><td>${sym}</td>
              <td class=${m.status === 'fresh' ? 'good' : m.status === 'stale' ? 'bad' : ''}>${m.status}</td><td>${m.session}</td>
              <td>${dateTime(m.last_bar_ts)}</td><td class="num">${m.lag_seconds == null ? '—' : `${Math.round(m.lag_seconds)} s`}</td></tr>`)}</tbody>
          </table>
        </div>` : s ? html`<p class="muted">No market data yet.</p>` : null}
    </${Panel}>`;
}

// ---------------------------------------------------------------------------------------------------
export function Dashboard() {
  const risk = useResource(`/api/risk?mode=${MODE}`);
  const state = useResource(`/api/risk/state?mode=${MODE}`);
  const portfolio = useResource(`/api/portfolio?mode=${MODE}`);
  const health = useResource('/api/health');
  const signals = useResource('/api/signals/health');
  const [feed, setFeed] = useState([]);
  const [stream, setStream] = useState({ state: 'connecting', message: null });
  const reloadTimer = useRef(null);
  const lost = useRef(false);
  const reloaders = useRef(null);
  reloaders.current = [risk.reload, state.reload, portfolio.reload, health.reload, signals.reload];
  const reloadAll = useCallback(() => {
    clearTimeout(reloadTimer.current);
    reloadTimer.current = setTimeout(() => reloaders.current.forEach((f) => f()), 150);
  }, []);

  useEffect(() => {
    let n = 0;
    const s = openStream({
      onEvent: (kind, data, id) => {
        setFeed((f) => [{ key: id ?? `x${n++}`, id, kind, data, at: data.fired_at && kind === 'signal' ? data.fired_at : data.closed_at ?? data.changed_at ?? new Date().toISOString() }, ...f].slice(0, FEED_MAX));
        reloadAll();
      },
      // live again after a loss: what happened meanwhile without an event (a change of limits, a position
      // closed by a bar while the stream was down) is read again, not only on the next event
      onState: (st, message, status) => {
        if (st === 'lost' || st === 'failed') lost.current = true;
        else if (st === 'live' && lost.current) { lost.current = false; reloadAll(); }
        setStream({ state: st, message: message ?? null, status: status ?? null });
      },
    });
    window.addEventListener('ex7:server-back', reloadAll);
    return () => { s.close(); window.removeEventListener('ex7:server-back', reloadAll); clearTimeout(reloadTimer.current); };
  }, []);

  return html`
    <main id="main" class="dashboard" tabindex="-1">
      <h1 class="visually-hidden">Dashboard</h1>
      ${stream.state === 'lost' ? html`<p class="outage" role="alert">The live feed was interrupted${stream.message ? `: ${stream.message}` : ''}</p>` : null}
      <div class="grid">
        <${RiskPanel} risk=${risk} />
        <${KillSwitch} state=${state} onChanged=${reloadAll} />
        <${PortfolioPanel} portfolio=${portfolio} />
        <${HealthPanel} health=${health} signals=${signals} />
        <${FeedPanel} feed=${feed} stream=${stream} />
      </div>
    </main>`;
}
