// signal.js: one signal (/signals/{id}): GET /api/signals/{id} with its prices and, once closed, the P&L
// breakdown (gross, slippage, commission, net, ticks, points; docs/signals.md, docs/pnl.md). An open paper
// signal has a Close form: POST /api/signals/{id}/close with an optional close_price (without one the
// server closes at the mark, the latest bar's close). A refusal (409 no mark price or not open, 422 a price
// outside the band or off the tick grid, 403 a live signal) shows in place; after the close the P&L shows
// with where the price came from (close_price_source).
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import { ComplianceLink } from './compliance_link.e4680dfd0f.js';
import * as api from '../api.be17d892af.js';
import { Link } from '../router.acf9c7a626.js';
import { money, signClass, dateTime, label } from '../format.d46c67b7d9.js';

// closeError: the close's refusal in words a trader acts on (the API's detail otherwise)
function closeError(e, sig) {
  const d = e.detail;
  if (e.status === 409 && d && d.code === 'no_mark_price') {
    const last = d.last_bar_time ? `the last ${d.last_bar_timeframe ?? ''} bar closed ${dateTime(d.last_bar_time)}` : 'there is no bar';
    return `No recent price for ${d.instrument ?? sig.instrument} to close at (${last}): enter the close price.`;
  }
  if (e.status === 409 && d && d.code === 'signal_not_open') return `This signal is no longer open (${d.signal?.status ?? 'closed'}).`;
  if (e.status === 403 && d && d.code === 'live_close_disabled') return 'A live signal cannot be closed here (no broker path).';
  return e.message;
}

function Fact({ term, children, cls = '' }) {
  return html`<div class="stat"><dt>${term}</dt><dd class=${cls}>${children}</dd></div>`;
}

export function SignalDetail({ id }) {
  const [sig, setSig] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [price, setPrice] = useState('');
  const [busy, setBusy] = useState(false);
  const [closeErr, setCloseErr] = useState(null);   // {text, field}: field true when it is the price's fault
  const [source, setSource] = useState(null);       // the close answer's close_price_source and mark
  const result = useRef(null);

  useEffect(() => {
    let live = true;
    api.get(`/api/signals/${encodeURIComponent(id)}`).then((s) => { if (live) setSig(s); }, (e) => { if (live) setLoadError(e); });
    return () => { live = false; };
  }, [id]);

  const close = async (e) => {
    e.preventDefault();
    setBusy(true);
    setCloseErr(null);
    const p = price.trim();
    try {
      const closed = await api.post(`/api/signals/${encodeURIComponent(id)}/close`, p ? { close_price: p } : {});
      setSig(closed);
      setSource({ source: closed.close_price_source, bar: closed.mark_bar_time, timeframe: closed.mark_timeframe });
      setPrice('');
      // focus the result: a screen reader hears the P&L, the form is gone
      setTimeout(() => result.current?.focus(), 0);
    } catch (err) {
      if (err.status === 409 && err.detail?.code === 'signal_not_open' && err.detail.signal) setSig(err.detail.signal);
      const onPrice = err.status === 422 && Array.isArray(err.detail) && err.detail.some((d) => Array.isArray(d.loc) && d.loc.includes('close_price'));
      setCloseErr({ text: closeError(err, sig), field: onPrice, error: err });
    } finally {
      setBusy(false);
    }
  };

  if (loadError) {
    return html`<main id="main" class="signal" tabindex="-1"><section class="card panel">
      <h1>Signal</h1><p class="error" role="alert">${loadError.status === 404 ? 'There is no such signal.' : loadError.message}</p>
      <p><${Link} href="/signals">All signals</${Link}></p></section></main>`;
  }
  if (!sig) return html`<main id="main" class="signal" tabindex="-1" aria-busy="true"><p class="muted">Loading…</p></main>`;

  const open = sig.status === 'open';
  const canClose = open && sig.mode === 'paper';
  return html`
    <main id="main" class="signal grid" tabindex="-1">
      <section class="card panel wide" aria-labelledby="signal-h">
        <div class="panel-head">
          <h1 id="signal-h">${sig.instrument} <span class=${`side-${sig.side}`}>${sig.side}</span> ${sig.size} @ ${sig.entry_price}</h1>
          <${Link} href="/signals">All signals</${Link}>
        </div>
        <dl class="stats">
          <${Fact} term="Status">${sig.status}${sig.close_reason ? ` (${label(sig.close_reason)})` : ''}</${Fact}>
          <${Fact} term="Mode">${sig.mode}</${Fact}>
          <${Fact} term="Timeframe">${sig.timeframe}</${Fact}>
          <${Fact} term="Fired">${dateTime(sig.fired_at)}</${Fact}>
          <${Fact} term="Bar">${dateTime(sig.bar_ts)}</${Fact}>
          <${Fact} term="Stop">${sig.stop_price ?? '—'}</${Fact}>
          <${Fact} term="Target">${sig.target_price ?? '—'}</${Fact}>
          <${Fact} term="Strategy version">${sig.strategy_version ?? '—'}</${Fact}>
          ${sig.tag ? html`<${Fact} term="Tag">${sig.tag}</${Fact}>` : null}
        </dl>
      </section>

      <section class="card panel wide" aria-labelledby="signal-pnl-h" data-testid="signal-pnl" tabindex="-1" ref=${result}>
        <h2 id="signal-pnl-h">P&L</h2>
        ${open ? html`<p class="muted">Open: the P&L is realized when the signal closes.</p>` : html`
          <p>Closed ${dateTime(sig.closed_at)} at <strong>${sig.close_price ?? '—'}</strong>${source ? html` <span class="muted">(${source.source === 'mark'
            ? `the mark: the close of the ${source.timeframe ?? ''} bar of ${dateTime(source.bar)}`
            : 'the price you entered'})</span>` : null}</p>
          <dl class="stats pnl">
            <${Fact} term="Gross P&L" cls=${signClass(sig.gross_pnl)}>${money(sig.gross_pnl)}</${Fact}>
            <${Fact} term=${`Slippage${sig.slippage_ticks != null ? ` (${sig.slippage_ticks} ticks)` : ''}`}>${sig.slippage_cost == null ? '—' : money(-Number(sig.slippage_cost))}</${Fact}>
            <${Fact} term="Commission">${sig.commission == null ? '—' : money(-Number(sig.commission))}</${Fact}>
            <${Fact} term="Net P&L" cls=${`net ${signClass(sig.net_pnl)}`}>${money(sig.net_pnl)}</${Fact}>
            <${Fact} term="Ticks">${sig.pnl_ticks ?? '—'}</${Fact}>
            <${Fact} term="Points">${sig.pnl_points ?? '—'}</${Fact}>
          </dl>`}
      </section>

      ${canClose ? html`
        <section class="card panel wide" aria-labelledby="signal-close-h">
          <h2 id="signal-close-h">Close this position</h2>
          <form class="close-form" onSubmit=${close} noValidate>
            <label for="signal-close-price">Close price (optional)</label>
            <input id="signal-close-price" type="text" inputmode="decimal" autocomplete="off" value=${price}
              onInput=${(e) => setPrice(e.currentTarget.value)} aria-describedby=${closeErr?.field ? 'signal-close-hint signal-close-error' : 'signal-close-hint'}
              aria-invalid=${closeErr?.field ? 'true' : undefined} />
            <p id="signal-close-hint" class="hint small">Empty: the server closes at the mark (the latest bar's close, when it is recent). A price must be on the tick grid and near the market.</p>
            ${closeErr ? html`<p id="signal-close-error" class="error" role="alert">${closeErr.text}<${ComplianceLink} error=${closeErr.error} /></p>` : null}
            <div class="actions"><button type="submit" class="danger" disabled=${busy}>${busy ? 'Closing…' : 'Close position'}</button></div>
          </form>
        </section>` : null}
      ${open && sig.mode !== 'paper' ? html`<p class="card panel wide muted">A live signal is closed by the broker, not here.</p>` : null}
    </main>`;
}
