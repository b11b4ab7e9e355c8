// account.js: the Account page (/account): the tier, its caps and today's usage (GET /api/billing/me), the
// compliance documents still to accept (GET /api/billing/compliance, POST /api/billing/compliance/accept),
// upgrading (POST /api/billing/checkout) and the billing portal (POST /api/billing/portal): both answer a
// Stripe URL the page then navigates to (a navigation, not a fetch); exchange keys (add, list, delete: only
// the hint comes back, never the secret); notifications (list, mark read); the paper account (starting
// capital, equity, reset after a confirmation dialog); Vix (a strategy generated from a plain-language
// request: POST /api/vix/generate-strategy, its daily quota GET /api/vix/quota and its 429 with when to
// retry). Every refusal shows in its panel.
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import * as api from '../api.be17d892af.js';
import { dateTime, label, money, signClass } from '../format.d46c67b7d9.js';
import { ErrorBox } from './strategies.e05675a3a5.js';
import { GraphView } from './graph_editor.dc2fb2cf22.js';
import { Link } from '../router.acf9c7a626.js';

const EXCHANGES = ['binance', 'bybit', 'coinbase', 'kraken', 'mexc', 'okx', 'rithmic', 'tradovate'];
const plain = (v) => {
  const n = Number(v);
  return Number.isFinite(n) ? `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}` : (v ?? '—');
};
const count = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US'));

// go: leaves for a URL the API returned (Stripe's Checkout or portal); only http(s)
function go(url) {
  const u = new URL(url, location.href);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`not a web address: ${url}`);
  location.assign(u.href);
}

// ---------------------------------------------------------------------------------------------------
// the plan: tier, caps and usage, checkout and portal

const CAPS = [
  ['Requests today', 'requests_today', 'requests_per_day'],
  ['Requests a minute', null, 'requests_per_minute'],
  ['Alerts today', 'alerts_today', 'alerts_per_day'],
  ['Vix generations today', 'vix_generations_today', 'vix_generations_per_day'],
  ['Strategies', 'strategies', 'strategies'],
  ['Running runtimes', 'running_runtimes', 'running_runtimes'],
  ['Hooks', null, 'hooks'],
  ['Hook alerts a minute', null, 'hook_alerts_per_minute'],
  ['Hook alerts a day', null, 'hook_alerts_per_day'],
];

function Plan({ reloadKey }) {
  const [me, setMe] = useState(null);
  const [tiers, setTiers] = useState([]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const [actionError, setActionError] = useState(null);
  useEffect(() => {
    api.get('/api/billing/me').then(setMe, setError);
    api.get('/api/billing/tiers', { auth: false }).then((d) => setTiers(d.tiers), setError);
  }, [reloadKey]);
  const rank = tiers.find((t) => t.tier === me?.tier)?.rank ?? 0;
  const upgrades = tiers.filter((t) => t.purchasable && t.rank > rank);
  const leave = async (what, path, body) => {
    setBusy(what);
    setActionError(null);
    try {
      const r = await api.post(path, body);
      go(r.url);
    } catch (e) { setActionError(e); setBusy(null); }
  };
  return html`
    <section class="card panel" aria-labelledby="plan-h" aria-busy=${me ? 'false' : 'true'}>
      <h2 id="plan-h">Plan</h2>
      <${ErrorBox} error=${error} />
      ${!me && !error ? html`<p class="muted">Loading…</p>` : null}
      ${me ? html`
        <p class="status ok" data-testid="tier">Tier: ${tiers.find((t) => t.tier === me.tier)?.name ?? me.tier}${' '}<span class="why">(${label(me.tier_source)}${me.status ? `, ${label(me.status)}` : ''}${me.cancel_at_period_end ? ', ends at the period end' : ''})</span></p>
        ${me.current_period_end ? html`<p class="small">Current period ends ${dateTime(me.current_period_end)}.</p>` : null}
        ${me.comp ? html`<p class="small">Complimentary ${me.comp.tier} until ${dateTime(me.comp.until)}.</p>` : null}
        <div class="table-wrap" tabindex="0" role="region" aria-label="Caps and usage">
          <table data-testid="caps">
            <thead><tr><th scope="col">Cap</th><th scope="col" class="num">Used</th><th scope="col" class="num">Limit</th></tr></thead>
            <tbody>${CAPS.map(([name, used, cap]) => html`<tr key=${cap + name} data-cap=${cap}>
              <th scope="row">${name}</th><td class="num">${used ? count(me.usage?.[used]) : '—'}</td><td class="num">${count(me.caps?.[cap])}</td></tr>`)}</tbody>
          </table>
        </div>
        <p class="muted small">Usage of ${me.day} (UTC).</p>` : null}
      <${ErrorBox} error=${actionError} />
      <div class="actions">
        ${upgrades.map((t) => html`<button key=${t.tier} type="button" class="primary" disabled=${busy !== null || !me}
          onClick=${() => leave(t.tier, '/api/billing/checkout', { tier: t.tier })}>
          ${busy === t.tier ? 'Opening checkout…' : `Upgrade to ${t.name} (${plain(t.price.amount)} a ${t.price.interval})`}</button>`)}
        ${me?.subscription ? html`<button type="button" disabled=${busy !== null}
          onClick=${() => leave('portal', '/api/billing/portal')}>${busy === 'portal' ? 'Opening the portal…' : 'Manage billing'}</button>` : null}
      </div>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// compliance documents

function Compliance({ onAccepted }) {
  const [st, setSt] = useState(null);
  const [error, setError] = useState(null);
  const [agreed, setAgreed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const load = () => api.get('/api/billing/compliance').then(setSt, setError);
  useEffect(() => { load(); }, []);
  const pending = (st?.documents ?? []).filter((d) => !d.accepted_at);
  const accept = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post('/api/billing/compliance/accept', { documents: pending.map((d) => ({ document: d.document, version: d.version })) });
      setSt(r);
      setAgreed(false);
      setMsg(`Accepted: ${pending.map((d) => d.title).join(', ')}.`);
      onAccepted?.();
    } catch (err) { setError(err); load(); } finally { setBusy(false); }
  };
  return html`
    <section class="card panel" id="compliance" aria-labelledby="compliance-h" aria-busy=${st ? 'false' : 'true'}>
      <h2 id="compliance-h">Documents</h2>
      ${!st && !error ? html`<p class="muted">Loading…</p>` : null}
      ${msg ? html`<p class="notice" role="status">${msg}</p>` : null}
      ${st && !pending.length ? html`<p class="status ok" data-testid="compliance-state">Every document is accepted.</p>` : null}
      ${pending.length ? html`
        <form onSubmit=${accept} aria-label="Accept the documents">
          <p class="status blocked" data-testid="compliance-state">To accept: ${pending.length} document${pending.length === 1 ? '' : 's'}.${' '}<span class="why">Starting a runtime, closing a signal and the live feed need them.</span></p>
          <ul class="docs">${pending.map((d) => html`<li key=${d.document} data-document=${d.document}>
            ${d.url ? html`<a href=${d.url} target="_blank" rel="noopener">${d.title}</a>` : d.title} (version ${d.version}, in force since ${dateTime(d.effective_at)})</li>`)}</ul>
          <label class="check"><input type="checkbox" id="compliance-agree" checked=${agreed} onChange=${(e) => setAgreed(e.currentTarget.checked)} />
            I have read these documents and accept them</label>
          <div class="actions"><button type="submit" class="primary" disabled=${!agreed || busy}>${busy ? 'Accepting…' : 'Accept'}</button></div>
        </form>` : null}
      <${ErrorBox} error=${error} />
      ${st?.documents?.some((d) => d.accepted_at) ? html`
        <details><summary>Accepted documents</summary>
          <ul>${st.documents.filter((d) => d.accepted_at).map((d) => html`<li key=${d.document}>${d.title} (version ${d.version}), ${dateTime(d.accepted_at)}</li>`)}</ul>
        </details>` : null}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// exchange keys

const EMPTY_KEY = { exchange: 'binance', label: '', api_key: '', secret: '', passphrase: '' };

function ExchangeKeys() {
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [form, setForm] = useState(EMPTY_KEY);
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(null);
  const [msg, setMsg] = useState(null);
  const load = () => api.get('/api/exchange-keys').then((d) => setKeys(d.keys), setError);
  useEffect(() => { load(); }, []);
  const field = (k) => (e) => { const v = e.currentTarget.value; setForm((f) => ({ ...f, [k]: v })); };
  const add = async (e) => {
    e.preventDefault();
    setBusy('add');
    setFormError(null);
    setMsg(null);
    const body = { exchange: form.exchange, api_key: form.api_key, secret: form.secret };
    if (form.label.trim()) body.label = form.label.trim();
    if (form.passphrase) body.passphrase = form.passphrase;
    try {
      const k = await api.post('/api/exchange-keys', body);
      setForm({ ...EMPTY_KEY, exchange: form.exchange }); // the secret is gone from the page
      setMsg(`Saved the ${k.exchange} key ${k.hint}. Its secret is stored encrypted and is never shown again.`);
      load();
    } catch (err) { setFormError(err); } finally { setBusy(null); }
  };
  const remove = async (k) => {
    setBusy(k.id);
    setError(null);
    setMsg(null);
    try {
      await api.request('DELETE', `/api/exchange-keys/${encodeURIComponent(k.id)}`);
      setMsg(`Deleted the ${k.exchange} key ${k.hint}.`);
      load();
    } catch (err) { setError(err); } finally { setBusy(null); }
  };
  return html`
    <section class="card panel" aria-labelledby="keys-h" aria-busy=${keys ? 'false' : 'true'}>
      <h2 id="keys-h">Exchange keys</h2>
      ${msg ? html`<p class="notice" role="status" data-testid="keys-msg">${msg}</p>` : null}
      <${ErrorBox} error=${error} />
      ${!keys && !error ? html`<p class="muted">Loading…</p>` : null}
      ${keys && !keys.length ? html`<p class="muted">No exchange keys.</p>` : null}
      ${keys && keys.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Exchange keys">
          <table>
            <thead><tr><th scope="col">Exchange</th><th scope="col">Label</th><th scope="col">API key</th><th scope="col">Passphrase</th>
              <th scope="col">Added</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>${keys.map((k) => html`<tr key=${k.id} data-key-id=${k.id}>
              <td>${k.exchange}</td><td>${k.label || '—'}</td><td><code>${k.hint}</code></td><td>${k.has_passphrase ? 'yes' : 'no'}</td>
              <td>${dateTime(k.created_at)}</td>
              <td><button type="button" class="link" disabled=${busy !== null} aria-label=${`Delete the ${k.exchange} key ${k.hint}`}
                onClick=${() => remove(k)}>${busy === k.id ? 'Deleting…' : 'Delete'}</button></td></tr>`)}</tbody>
          </table>
        </div>` : null}
      <form onSubmit=${add} aria-label="Add an exchange key" autocomplete="off">
        <h3 class="sub">Add a key</h3>
        <div class="row">
          <div><label for="key-exchange">Exchange</label>
            <select id="key-exchange" value=${form.exchange} onChange=${field('exchange')}>
              ${EXCHANGES.map((x) => html`<option key=${x} value=${x}>${x}</option>`)}</select></div>
          <div><label for="key-label">Label (optional)</label>
            <input id="key-label" type="text" maxlength="100" value=${form.label} onInput=${field('label')} /></div>
        </div>
        <label for="key-api">API key</label>
        <input id="key-api" type="text" required spellcheck="false" autocomplete="off" value=${form.api_key} onInput=${field('api_key')} />
        <label for="key-secret">Secret</label>
        <input id="key-secret" type="password" required autocomplete="new-password" value=${form.secret} onInput=${field('secret')} aria-describedby="key-secret-hint" />
        <p id="key-secret-hint" class="hint small">Stored encrypted; after saving only the last four characters of the API key are shown.</p>
        ${form.exchange === 'okx' ? html`
          <label for="key-pass">Passphrase (required for okx)</label>
          <input id="key-pass" type="password" required autocomplete="new-password" value=${form.passphrase} onInput=${field('passphrase')} />` : null}
        <${ErrorBox} error=${formError} id="key-error" />
        <div class="actions"><button type="submit" class="primary" disabled=${busy !== null}>${busy === 'add' ? 'Saving…' : 'Add key'}</button></div>
      </form>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// notifications

function Notifications() {
  const [page, setPage] = useState(null);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const load = () => {
    const q = new URLSearchParams({ limit: '20', offset: '0' });
    if (unreadOnly) q.set('unreadOnly', 'true');
    return api.get(`/api/notifications?${q}`).then(setPage, setError);
  };
  useEffect(() => { load(); }, [unreadOnly]);
  const mark = async (id) => {
    setBusy(id ?? 'all');
    setError(null);
    try {
      await api.request('PATCH', id ? `/api/notifications/${encodeURIComponent(id)}` : '/api/notifications');
      await load();
    } catch (err) { setError(err); } finally { setBusy(null); }
  };
  const items = page?.notifications ?? [];
  const unread = items.filter((n) => !n.read_at).length;
  return html`
    <section class="card panel" aria-labelledby="notes-h" aria-busy=${page ? 'false' : 'true'}>
      <div class="panel-head">
        <h2 id="notes-h">Notifications</h2>
        <label class="check"><input type="checkbox" checked=${unreadOnly} onChange=${(e) => setUnreadOnly(e.currentTarget.checked)} /> Unread only</label>
      </div>
      <${ErrorBox} error=${error} />
      ${!page && !error ? html`<p class="muted">Loading…</p>` : null}
      ${page && !items.length ? html`<p class="muted">No ${unreadOnly ? 'unread ' : ''}notifications.</p>` : null}
      ${items.length ? html`
        <ul class="feed notes">${items.map((n) => html`<li key=${n.id} data-notification-id=${n.id} class=${n.read_at ? 'read' : 'unread'}>
          <time datetime=${n.created_at}>${dateTime(n.created_at)}</time>
          <span class="kind">${label(n.type)}</span>
          <span class="what"><strong>${n.title}</strong> ${n.message}</span>
          ${n.read_at ? html`<span class="tag" data-testid="read">read</span>` : html`
            <button type="button" class="link" disabled=${busy !== null} aria-label=${`Mark read: ${n.title}`} onClick=${() => mark(n.id)}>Mark read</button>`}
        </li>`)}</ul>
        <p class="muted small">${items.length} of ${page.total}${unreadOnly ? ' unread' : ''}.</p>` : null}
      <div class="actions">
        <button type="button" disabled=${busy !== null || !unread} onClick=${() => mark(null)}>${busy === 'all' ? 'Marking…' : 'Mark all read'}</button>
        <button type="button" class="link" onClick=${() => { setError(null); load(); }}>Refresh</button>
      </div>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// the paper account

// ResetDialog: the native modal <dialog> (focus inside, the page inert, Escape cancels); the opener gets
// focus back however it closes
function ResetDialog({ account, opener, onDone, onCancel }) {
  const ref = useRef(null);
  const cancelRef = useRef(null);
  const done = useRef(false);
  const [capital, setCapital] = useState(account.starting_capital);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    cancelRef.current?.focus();
    return () => { done.current = true; if (d?.open) d.close(); opener?.current?.focus(); };
  }, []);
  const confirm = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await api.post('/api/account/paper/reset', { mode: 'paper', starting_capital: capital.trim() }));
    } catch (err) { setError(err); setBusy(false); }
  };
  return html`
    <dialog ref=${ref} id="reset-dialog" class="dialog" aria-labelledby="reset-dialog-h" aria-describedby="reset-dialog-text"
      onClose=${() => { if (!done.current) onCancel(); }}>
      <form onSubmit=${confirm}>
        <h2 id="reset-dialog-h">Reset the paper account?</h2>
        <p id="reset-dialog-text">The account starts again, flat, at the starting capital below. Past closes stay in the history
          but no longer count toward its equity. Current equity: ${plain(account.equity)}.</p>
        <label for="reset-capital">Starting capital (USD)</label>
        <input id="reset-capital" type="text" inputmode="decimal" required value=${capital} onInput=${(e) => setCapital(e.currentTarget.value)} />
        <${ErrorBox} error=${error} id="reset-error" />
        <div class="actions">
          <button type="button" ref=${cancelRef} onClick=${() => ref.current?.close()}>Cancel</button>
          <button type="submit" class="danger" disabled=${busy}>${busy ? 'Resetting…' : 'Reset the account'}</button>
        </div>
      </form>
    </dialog>`;
}

function PaperAccount({ reloadKey }) {
  const [acct, setAcct] = useState(null);
  const [error, setError] = useState(null);
  const [asking, setAsking] = useState(false);
  const [msg, setMsg] = useState(null);
  const openerRef = useRef(null);
  const load = () => api.get('/api/account/paper?mode=paper').then(setAcct, setError);
  useEffect(() => { load(); }, [reloadKey]);
  const onDone = (r) => {
    setAsking(false);
    setAcct(r);
    setMsg(`Reset: the account starts again at ${plain(r.starting_capital)} (it was ${plain(r.previous?.equity)}).`);
  };
  const a = acct;
  return html`
    <section class="card panel" aria-labelledby="paper-h" aria-busy=${a ? 'false' : 'true'}>
      <h2 id="paper-h">Paper account</h2>
      <${ErrorBox} error=${error} />
      ${msg ? html`<p class="notice" role="status" data-testid="paper-msg">${msg}</p>` : null}
      ${!a && !error ? html`<p class="muted">Loading…</p>` : null}
      ${a ? html`
        <dl class="stats" data-testid="paper">
          <div class="stat"><dt>Starting capital</dt><dd data-testid="paper-capital">${plain(a.starting_capital)}</dd></div>
          <div class="stat"><dt>Equity</dt><dd data-testid="paper-equity">${plain(a.equity)}</dd></div>
          <div class="stat"><dt>Return</dt><dd class=${signClass(a.return_percent)}>${a.return_percent == null ? '—' : `${Number(a.return_percent).toFixed(2)}%`}</dd></div>
          <div class="stat"><dt>Realized P&L</dt><dd class=${signClass(a.realized_pnl)}>${money(a.realized_pnl)}</dd></div>
          <div class="stat"><dt>Unrealized P&L</dt><dd class=${signClass(a.unrealized_pnl)}>${money(a.unrealized_pnl)}</dd></div>
          <div class="stat"><dt>Closes</dt><dd>${count(a.closes)}</dd></div>
          <div class="stat"><dt>Open signals</dt><dd>${count(a.open_signals)}</dd></div>
          <div class="stat"><dt>Resets</dt><dd data-testid="paper-resets">${count(a.resets)}</dd></div>
        </dl>
        <p class="muted small">${a.started_at ? `Started ${dateTime(a.started_at)}.` : 'Never reset: every close counts.'}${' '}Drawdown from the peak: ${plain(a.realized_drawdown?.amount)}.</p>` : null}
      <div class="actions">
        <button type="button" class="danger" ref=${openerRef} aria-haspopup="dialog" disabled=${!a}
          onClick=${() => { setMsg(null); setAsking(true); }}>Reset paper account…</button>
        <button type="button" class="link" onClick=${() => { setError(null); load(); }}>Refresh</button>
      </div>
      ${asking && a ? html`<${ResetDialog} account=${a} opener=${openerRef} onDone=${onDone} onCancel=${() => setAsking(false)} />` : null}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------
// Vix: a graph from a plain-language request (docs/account.md, "Vix: strategy generation")

function vixError(e) {
  const d = e?.detail;
  if (e?.status === 429 && d && d.code === 'vix_quota_exceeded') {
    const wait = e.retryAfter ?? d.retry_after;
    return `Today's Vix generations are used (${count(d.used)} of ${count(d.limit)}): retry in ${count(wait)} s, when the quota resets at ${dateTime(d.resets_at)}.`;
  }
  return null;
}

function Vix() {
  const [quota, setQuota] = useState(null);
  const [f, setF] = useState({ prompt: '', create: false, name: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const resultRef = useRef(null);
  const loadQuota = () => api.get('/api/vix/quota').then(setQuota, setError);
  useEffect(() => { loadQuota(); }, []);
  useEffect(() => { if (result) resultRef.current?.focus(); }, [result]);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const body = { prompt: f.prompt };
    if (f.create) { body.create = true; if (f.name.trim()) body.name = f.name.trim(); }
    setBusy(true);
    try {
      const r = await api.post('/api/vix/generate-strategy', body);
      setResult(r);
      setQuota((q) => ({ ...q, ...r.quota }));
    } catch (err) {
      setError(err);
      if (err.status === 429) loadQuota();
    } finally { setBusy(false); }
  };
  const special = vixError(error);
  const example = error?.status === 422 && Array.isArray(error.detail) ? error.detail.find((d) => d?.ctx?.example)?.ctx.example : null;
  return html`
    <section class="card panel wide" aria-labelledby="vix-h" id="vix">
      <h2 id="vix-h">Vix: a strategy from words</h2>
      <p class="small" data-testid="vix-quota">${quota ? `Today: ${count(quota.used)} of ${count(quota.limit)} generations used, ${count(quota.remaining)} left (the quota resets at ${dateTime(quota.resets_at)}).` : 'Reading the quota…'}</p>
      <form onSubmit=${submit} aria-label="Generate a strategy with Vix">
        <label for="vix-prompt">What should the strategy do?</label>
        <textarea id="vix-prompt" rows="3" maxlength="2000" required placeholder="RSI(2) mean reversion on MES 5m, 8 tick stop"
          aria-invalid=${error?.status === 422 ? 'true' : 'false'} aria-describedby=${error ? 'vix-error' : undefined}
          value=${f.prompt} onInput=${(e) => { const v = e.currentTarget.value; setF((x) => ({ ...x, prompt: v })); }}></textarea>
        <label class="check"><input type="checkbox" checked=${f.create} onChange=${(e) => { const v = e.currentTarget.checked; setF((x) => ({ ...x, create: v })); }} />
          Also create a draft strategy from it</label>
        ${f.create ? html`<label for="vix-name">Name (optional: Vix names it)</label>
          <input id="vix-name" type="text" maxlength="120" value=${f.name} onInput=${(e) => { const v = e.currentTarget.value; setF((x) => ({ ...x, name: v })); }} />` : null}
        ${special ? html`<p class="error" role="alert" id="vix-error" data-testid="vix-error">${special} (429)</p>` : html`<div data-testid="vix-error"><${ErrorBox} error=${error} id="vix-error" /></div>`}
        ${example ? html`<p class="small">For example: “${example}”</p>` : null}
        <div class="actions"><button type="submit" class="primary" disabled=${busy || !f.prompt.trim()}>${busy ? 'Generating…' : 'Generate'}</button></div>
      </form>
      ${result ? html`<div class="vix-result" data-testid="vix-result">
        <h3 tabindex="-1" ref=${resultRef}>${result.name}</h3>
        <p>${result.summary}</p>
        <p class="small">${result.instrument} · ${result.timeframe} · ${result.graph.nodes.length} nodes, ${result.graph.edges.length} edges · generator: ${result.generator}</p>
        ${result.assumptions?.length ? html`<p class="small muted">Assumed: ${result.assumptions.join('; ')}</p>` : null}
        <${GraphView} graph=${result.graph} />
        ${result.strategy ? html`<p class="notice" role="status">Created the draft “${result.strategy.name}”. <${Link} href=${`/strategies/${result.strategy.id}`}>Open it</${Link}></p>` : null}
      </div>` : null}
    </section>`;
}

export function Account() {
  const [accepted, setAccepted] = useState(0);
  return html`
    <main id="main" class="account" tabindex="-1">
      <div class="page-head"><h1 id="account-h">Account</h1></div>
      <div class="grid">
        <${Compliance} onAccepted=${() => setAccepted((n) => n + 1)} />
        <${Plan} reloadKey=${accepted} />
        <${PaperAccount} reloadKey=${accepted} />
        <${Notifications} />
        <${ExchangeKeys} />
        <${Vix} />
      </div>
    </main>`;
}
