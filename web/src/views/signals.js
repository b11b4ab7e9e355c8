// signals.js: the signals page (/signals): the latest signals of every mode (GET /api/signals), newest
// first, a page at a time; each row links to the signal's page (/signals/{id}, views/signal.js).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { ComplianceLink } from './compliance_link.js';
import * as api from '../api.js';
import { Link } from '../router.js';
import { money, signClass, dateTime, label } from '../format.js';

export function Signals() {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [status, setStatus] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = async (after) => {
    setBusy(true);
    setError(null);
    try {
      const q = new URLSearchParams({ limit: '50' });
      if (status) q.set('status', status);
      if (after) q.set('cursor', after);
      const page = await api.get(`/api/signals?${q}`);
      setItems((prev) => (after ? [...(prev ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { load(null); }, [status]);
  return html`
    <main id="main" class="signals" tabindex="-1">
      <section class="card panel wide" aria-labelledby="signals-h">
        <div class="panel-head">
          <h1 id="signals-h">Signals</h1>
          <label for="signals-status">Status</label>
          <select id="signals-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option><option value="open">open</option>
            <option value="closed">closed</option><option value="cancelled">cancelled</option>
          </select>
        </div>
        ${error ? html`<p class="error" role="alert">${error.message}<${ComplianceLink} error=${error} /></p>` : null}
        ${items === null && !error ? html`<p class="muted">Loading…</p>` : null}
        ${items && !items.length ? html`<p class="muted">No signals.</p>` : null}
        ${items && items.length ? html`
          <div class="table-wrap" tabindex="0" role="region" aria-label="Signals">
            <table>
              <thead><tr><th scope="col">Fired</th><th scope="col">Instrument</th><th scope="col">Mode</th><th scope="col">Side</th>
                <th scope="col" class="num">Size</th><th scope="col" class="num">Entry</th><th scope="col">Status</th>
                <th scope="col" class="num">Close</th><th scope="col" class="num">Net P&L</th><th scope="col">Tag</th></tr></thead>
              <tbody>${items.map((s) => html`<tr key=${s.id}>
                <td><${Link} href=${`/signals/${s.id}`}>${dateTime(s.fired_at)}</${Link}></td><td>${s.instrument}</td><td>${s.mode}</td><td class=${`side-${s.side}`}>${s.side}</td>
                <td class="num">${s.size}</td><td class="num">${s.entry_price}</td>
                <td>${s.status}${s.close_reason ? ` (${label(s.close_reason)})` : ''}</td>
                <td class="num">${s.close_price ?? '—'}</td><td class=${`num ${signClass(s.net_pnl)}`}>${s.net_pnl == null ? '—' : money(s.net_pnl)}</td>
                <td>${s.tag ?? ''}</td></tr>`)}</tbody>
            </table>
          </div>` : null}
        ${cursor ? html`<button type="button" disabled=${busy} onClick=${() => load(cursor)}>${busy ? 'Loading…' : 'Load more'}</button>` : null}
      </section>
    </main>`;
}
