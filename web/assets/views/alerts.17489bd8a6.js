// alerts.js: the alerts page (/alerts, docs/alerts.md): the user's channels (GET/POST/DELETE
// /api/alerts/channels: email, telegram, sms, webhook) with their verification (POST .../verify with the
// code, POST .../resend, whose 429 shows when a new code may be sent and counts down), the subscriptions
// (per channel, one strategy or all of them, the events), the recent deliveries with their status (GET
// /api/alerts/deliveries, "Load more" by cursor, asked again while one is queued) and the price alerts
// (GET/POST/DELETE /api/alerts/price). Every error shows in place, in the panel or row that made the call.
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import * as api from '../api.be17d892af.js';
import { dateTime, label } from '../format.d46c67b7d9.js';
import { ErrorBox, cachedGet } from './strategies.e05675a3a5.js';

export const CHANNEL_TYPES = [
  ['email', 'Email', 'Email address', 'trader@example.com'],
  ['telegram', 'Telegram', 'Telegram @username or chat id (optional)', '@username'],
  ['sms', 'SMS', 'Phone number (E.164)', '+14155550100'],
  ['webhook', 'Webhook', 'Webhook URL (https)', 'https://example.com/ex7'],
];
export const EVENTS = [
  ['signal', 'Signal fired'], ['signal_closed', 'Signal closed'], ['blocked', 'Blocked by the risk gate'],
  ['runtime_error', 'Runtime error'], ['price_alert', 'Price alert'], ['risk_lock', 'Protection lock'],
  ['trading_state', 'Trading state change'],
];
const CONDITIONS = [['crosses_above', 'crosses above'], ['crosses_below', 'crosses below']];
const TIMEFRAMES = ['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];
const del = (path) => api.request('DELETE', path);
const patch = (path, body) => api.request('PATCH', path, { body });

// alertErrorText: the alerts API's refusal codes (docs/alerts.md) in words, or null for ErrorBox's own
function alertErrorText(e) {
  const d = e?.detail;
  if (Array.isArray(d) && d[0] && typeof d[0] === 'object' && 'attempts_left' in d[0]) {
    return `Wrong code: ${d[0].msg ?? 'it does not match'} (${d[0].attempts_left} ${d[0].attempts_left === 1 ? 'try' : 'tries'} left).`;
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) return null;
  const wait = d.retry_after ?? e.retryAfter;
  switch (d.code) {
    case 'resend_too_soon': return `A code was sent less than a minute ago: a new one can be sent in ${wait} s.`;
    case 'resend_limit': return `Five codes were sent in the last hour: a new one can be sent in ${wait} s.`;
    case 'too_many_attempts': return 'Too many wrong codes: send a new code, then enter it.';
    case 'already_verified': return 'This channel is already verified.';
    case 'channel_disabled': return 'This channel is disabled.';
    case 'channel_exists': return 'You already have a channel of this type to this destination.';
    case 'channel_limit': return 'You have 20 channels, the most allowed: delete one first.';
    case 'subscription_exists': return 'This channel is already subscribed for this strategy (or for all strategies): change that subscription instead.';
    case 'price_alert_limit': return 'You have 100 price alerts, the most allowed: delete one first.';
    default: return null;
  }
}

export function AlertError({ error, id, testid }) {
  if (!error) return null;
  const t = alertErrorText(error);
  if (t) return html`<p class="error" role="alert" id=${id} data-testid=${testid}>${t}${error.status ? ` (${error.status})` : ''}</p>`;
  return html`<div data-testid=${testid}><${ErrorBox} error=${error} id=${id} /></div>`;
}

// useCountdown: the seconds left until `until` (ms since the epoch), ticking each second, 0 when passed
function useCountdown(until) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!until || until <= Date.now()) return undefined;
    const t = setInterval(() => { tick((n) => n + 1); if (until <= Date.now()) clearInterval(t); }, 1000);
    return () => clearInterval(t);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - Date.now()) / 1000)) : 0;
}

const statusClass = { verified: 'st-live', pending: 'st-paused', disabled: 'st-archived' };

// ---------------------------------------------------------------------------------------------------
// channels

function AddChannel({ onAdded }) {
  const [f, setF] = useState({ type: 'email', destination: '', label: '' });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const kind = CHANNEL_TYPES.find((t) => t[0] === f.type);
  const set = (k) => (e) => { const v = e.currentTarget.value; setF((p) => ({ ...p, [k]: v })); };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const body = { type: f.type };
    if (f.destination.trim()) body.destination = f.destination.trim();
    if (f.label.trim()) body.label = f.label.trim();
    setBusy(true);
    try {
      const ch = await api.post('/api/alerts/channels', body);
      setF((p) => ({ ...p, destination: '', label: '' }));
      onAdded(ch);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const destInvalid = error?.status === 422 && Array.isArray(error.detail) && error.detail.some((d) => d?.loc?.[1] === 'destination');
  return html`
    <form onSubmit=${submit} aria-labelledby="add-channel-h" class="add-channel">
      <h2 class="sub" id="add-channel-h">Add a channel</h2>
      <div class="row">
        <div><label for="ch-type">Type</label>
          <select id="ch-type" value=${f.type} onChange=${set('type')}>
            ${CHANNEL_TYPES.map(([k, t]) => html`<option key=${k} value=${k}>${t}</option>`)}
          </select></div>
        <div class="grow"><label for="ch-dest">${kind[2]}</label>
          <input id="ch-dest" type="text" value=${f.destination} placeholder=${kind[3]} required=${f.type !== 'telegram'}
            inputmode=${f.type === 'sms' ? 'tel' : f.type === 'email' ? 'email' : undefined} autocomplete="off"
            aria-invalid=${destInvalid ? 'true' : 'false'} aria-describedby=${error ? 'ch-error' : undefined} onInput=${set('destination')} /></div>
        <div><label for="ch-label">Label (optional)</label>
          <input id="ch-label" type="text" maxlength="120" value=${f.label} onInput=${set('label')} /></div>
      </div>
      <${AlertError} error=${error} id="ch-error" testid="channel-add-error" />
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>${busy ? 'Adding…' : 'Add channel'}</button></div>
    </form>`;
}

function Verification({ ch, onChanged, onReload }) {
  const v = ch.verification;
  const [code, setCode] = useState('');
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const [busy, setBusy] = useState(false);
  const [until, setUntil] = useState(0);
  const left = useCountdown(until);
  const idp = `ch-${ch.id}`;
  const verify = async (e) => {
    e.preventDefault();
    setError(null);
    setNote(null);
    setBusy(true);
    try {
      const r = await api.post(`/api/alerts/channels/${ch.id}/verify`, { code: code.trim() });
      setCode('');
      onChanged(r, `${ch.label || ch.destination} is verified.`);
    } catch (err) {
      setError(err);
      onReload(); // the tries left, or a code that expired
    } finally { setBusy(false); }
  };
  const resend = async () => {
    setError(null);
    setNote(null);
    setBusy(true);
    try {
      const r = await api.post(`/api/alerts/channels/${ch.id}/resend`);
      setNote(r.type === 'telegram' ? 'A new start command was made.' : 'A new code was sent: the earlier one no longer works.');
      onChanged(r);
    } catch (err) {
      setError(err);
      const wait = err.detail?.retry_after ?? err.retryAfter;
      if (err.status === 429 && wait > 0) setUntil(Date.now() + wait * 1000);
    } finally { setBusy(false); }
  };
  const resendLabel = left > 0 ? `Resend (in ${left} s)` : v?.method === 'telegram_start' ? 'New start command' : 'Resend code';
  return html`
    <div class="verify" data-testid="verification">
      ${v?.method === 'telegram_start' ? html`
        <p class="small">Send <code>${v.start_command}</code> to the ex7 bot in Telegram to verify this chat
          (before ${dateTime(v.expires_at)}).</p>` : html`
        <form onSubmit=${verify} aria-label=${`Verify ${ch.label || ch.destination}`} class="row">
          <div><label for=${`${idp}-code`}>Verification code</label>
            <input id=${`${idp}-code`} type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6"
              required value=${code} onInput=${(e) => setCode(e.currentTarget.value)}
              aria-invalid=${error?.status === 422 ? 'true' : 'false'} aria-describedby=${`${idp}-hint${error ? ` ${idp}-err` : ''}`} /></div>
          <button type="submit" class="primary" disabled=${busy}>Verify</button>
        </form>
        <p class="small muted" id=${`${idp}-hint`}>${ch.type === 'webhook'
          ? 'The code is in the signed channel.verification request sent to the URL.'
          : `The 6-digit code sent to ${ch.destination}`}${v?.expires_at ? `, valid until ${dateTime(v.expires_at)}` : ''}${v?.attempts_left != null ? ` (${v.attempts_left} tries left)` : ''}.</p>`}
      <div class="actions">
        <button type="button" disabled=${busy || left > 0} onClick=${resend}>${resendLabel}</button>
      </div>
      ${note ? html`<p class="small" role="status">${note}</p>` : null}
      <${AlertError} error=${error} id=${`${idp}-err`} testid="verify-error" />
    </div>`;
}

function ChannelItem({ ch, onChanged, onDeleted, onReload }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const name = ch.label || ch.destination || ch.type;
  const remove = async () => {
    setBusy(true);
    setError(null);
    try { await del(`/api/alerts/channels/${ch.id}`); onDeleted(ch); } catch (err) { setError(err); setBusy(false); }
  };
  return html`
    <li class="channel" data-channel-id=${ch.id}>
      <div class="channel-head">
        <h3 id=${`ch-${ch.id}-h`}>${CHANNEL_TYPES.find((t) => t[0] === ch.type)?.[1] ?? ch.type}: ${ch.destination ?? 'waiting for /start'}</h3>
        <span class=${`badge ${statusClass[ch.status] ?? ''}`} data-testid="channel-status">${ch.status}${ch.disabled_reason ? ` (${label(ch.disabled_reason)})` : ''}</span>
      </div>
      ${ch.label ? html`<p class="small muted">${ch.label}</p>` : null}
      ${ch.signing_secret ? html`<details><summary>Signing secret</summary><code class="secret">${ch.signing_secret}</code></details>` : null}
      ${ch.status === 'pending' ? html`<${Verification} ch=${ch} onChanged=${onChanged} onReload=${onReload} />` : null}
      ${ch.verified_at ? html`<p class="small muted">Verified ${dateTime(ch.verified_at)}</p>` : null}
      <div class="actions">
        ${asking ? html`
          <p class="small">Delete ${name} and its subscriptions?</p>
          <button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete channel</button>
          <button type="button" onClick=${() => setAsking(false)}>Keep it</button>`
        : html`<button type="button" aria-describedby=${`ch-${ch.id}-h`} onClick=${() => setAsking(true)}>Delete…</button>`}
      </div>
      <${AlertError} error=${error} />
    </li>`;
}

function Channels({ channels, error, onChanged, onDeleted, onAdded, onReload, notice }) {
  return html`
    <section class="card panel wide" aria-labelledby="channels-h" data-testid="channels">
      <h2 id="channels-h">Channels</h2>
      <p class="muted small">Where alerts go. A new channel is verified first: enter the code sent to it (email, SMS,
        webhook) or send the start command to the bot (Telegram). Only verified channels deliver.</p>
      ${notice ? html`<p class="notice" role="status" data-testid="channel-notice">${notice}</p>` : null}
      <${AlertError} error=${error} />
      ${channels === null && !error ? html`<p class="muted">Loading…</p>` : null}
      ${channels && !channels.length ? html`<p class="muted">No channels yet.</p>` : null}
      ${channels?.length ? html`<ul class="channels">${channels.map((ch) => html`
        <${ChannelItem} key=${ch.id} ch=${ch} onChanged=${onChanged} onDeleted=${onDeleted} onReload=${onReload} />`)}</ul>` : null}
      <${AddChannel} onAdded=${onAdded} />
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// subscriptions

function channelName(channels, id) {
  const ch = channels?.find((c) => c.id === id);
  return ch ? `${ch.type}: ${ch.destination ?? ch.label ?? ''}` : 'deleted channel';
}

function Subscriptions({ channels, strategies, onChanged }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [formError, setFormError] = useState(null);
  const [rowError, setRowError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [f, setF] = useState({ channel: '', strategy: '', events: EVENTS.map((e) => e[0]) });
  const load = () => api.get('/api/alerts/subscriptions').then((d) => { setItems(d); setError(null); }, setError);
  useEffect(() => { load(); }, [channels]);
  const channel = f.channel || channels?.[0]?.id || '';
  const toggle = (ev) => (e) => {
    const on = e.currentTarget.checked;
    setF((p) => ({ ...p, events: on ? EVENTS.map((x) => x[0]).filter((k) => k === ev || p.events.includes(k)) : p.events.filter((k) => k !== ev) }));
  };
  const submit = async (e) => {
    e.preventDefault();
    setFormError(null);
    if (!channel) { setFormError(new Error('Add a channel first.')); return; }
    if (!f.events.length) { setFormError(new Error('Choose at least one event.')); return; }
    setBusy(true);
    try {
      await api.post('/api/alerts/subscriptions', { channel_id: channel, strategy_id: f.strategy || null, events: f.events });
      await load();
      onChanged();
    } catch (err) { setFormError(err); } finally { setBusy(false); }
  };
  const act = async (fn) => {
    setRowError(null);
    try { await fn(); await load(); } catch (err) { setRowError(err); }
  };
  const stratName = (id) => (id ? strategies?.find((s) => s.id === id)?.name ?? id : 'All strategies');
  return html`
    <section class="card panel wide" aria-labelledby="subs-h" data-testid="subscriptions">
      <h2 id="subs-h">Subscriptions</h2>
      <${AlertError} error=${error} />
      ${items && !items.length ? html`<p class="muted">No subscriptions: nothing is sent until a channel subscribes to events.</p>` : null}
      ${items?.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Subscriptions">
          <table>
            <thead><tr><th scope="col">Channel</th><th scope="col">Strategy</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
            <tbody>${items.map((s) => html`<tr key=${s.id} data-subscription-id=${s.id}>
              <td>${channelName(channels, s.channel_id)}</td><td>${stratName(s.strategy_id)}</td>
              <td class="wrap">${s.events.map(label).join(', ')}</td>
              <td>${s.enabled ? 'on' : s.unsubscribed_at ? 'unsubscribed' : 'off'}</td>
              <td><button type="button" onClick=${() => act(() => patch(`/api/alerts/subscriptions/${s.id}`, { enabled: !s.enabled }))}
                  aria-label=${`${s.enabled ? 'Turn off' : 'Turn on'} ${channelName(channels, s.channel_id)}, ${stratName(s.strategy_id)}`}>${s.enabled ? 'Turn off' : 'Turn on'}</button>
                <button type="button" onClick=${() => act(() => del(`/api/alerts/subscriptions/${s.id}`))}
                  aria-label=${`Delete the subscription of ${channelName(channels, s.channel_id)}, ${stratName(s.strategy_id)}`}>Delete</button></td>
            </tr>`)}</tbody>
          </table>
        </div>` : null}
      <${AlertError} error=${rowError} />
      <form onSubmit=${submit} aria-labelledby="sub-add-h">
        <h2 class="sub" id="sub-add-h">Subscribe</h2>
        <div class="row">
          <div><label for="sub-channel">Channel</label>
            <select id="sub-channel" value=${channel} onChange=${(e) => { const v = e.currentTarget.value; setF((p) => ({ ...p, channel: v })); }}>
              ${(channels ?? []).map((c) => html`<option key=${c.id} value=${c.id}>${c.type}: ${c.destination ?? c.label}${c.status === 'verified' ? '' : ` (${c.status})`}</option>`)}
            </select></div>
          <div><label for="sub-strategy">Strategy</label>
            <select id="sub-strategy" value=${f.strategy} onChange=${(e) => { const v = e.currentTarget.value; setF((p) => ({ ...p, strategy: v })); }}>
              <option value="">All strategies</option>
              ${(strategies ?? []).map((s) => html`<option key=${s.id} value=${s.id}>${s.name}</option>`)}
            </select></div>
        </div>
        <fieldset class="events">
          <legend>Events</legend>
          ${EVENTS.map(([k, t]) => html`<label key=${k} class="check"><input type="checkbox" name="sub-event" value=${k}
            checked=${f.events.includes(k)} onChange=${toggle(k)} />${t}</label>`)}
        </fieldset>
        <p class="small muted">Price alerts have no strategy: only a subscription for all strategies receives them.</p>
        <${AlertError} error=${formError} testid="subscription-error" />
        <div class="actions"><button type="submit" class="primary" disabled=${busy || !channels?.length}>${busy ? 'Subscribing…' : 'Subscribe'}</button></div>
      </form>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// deliveries

const deliveryClass = { sent: 'st-ready', delivered: 'st-live', queued: 'st-paused', suppressed: 'st-archived', failed: 'rt-error', bounced: 'rt-error', complained: 'rt-error' };

function Deliveries({ reloadKey }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const timer = useRef(null);
  const load = async (after) => {
    setBusy(true);
    try {
      const q = new URLSearchParams({ limit: '20' });
      if (after) q.set('cursor', after);
      const page = await api.get(`/api/alerts/deliveries?${q}`);
      setItems((prev) => (after ? [...(prev ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  useEffect(() => { load(null); }, [reloadKey]);
  // a queued delivery is being sent: ask again until none is
  useEffect(() => {
    clearTimeout(timer.current);
    if (items?.some((d) => d.status === 'queued')) timer.current = setTimeout(() => load(null), 3000);
    return () => clearTimeout(timer.current);
  }, [items]);
  return html`
    <section class="card panel wide" aria-labelledby="deliveries-h" data-testid="deliveries">
      <div class="panel-head">
        <h2 id="deliveries-h">Recent deliveries</h2>
        <button type="button" disabled=${busy} onClick=${() => load(null)}>Refresh</button>
      </div>
      <${AlertError} error=${error} />
      ${items && !items.length ? html`<p class="muted">Nothing sent yet.</p>` : null}
      ${items?.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Recent deliveries">
          <table>
            <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Channel</th><th scope="col">Title</th>
              <th scope="col">Status</th><th scope="col" class="num">Attempts</th><th scope="col">Last error</th></tr></thead>
            <tbody>${items.map((d) => html`<tr key=${d.id} data-delivery-id=${d.id} data-event=${d.event}>
              <td>${dateTime(d.created_at)}</td><td>${label(d.event)}</td><td>${d.channel_type}</td><td class="wrap">${d.title}</td>
              <td><span class=${`badge ${deliveryClass[d.status] ?? ''}`}>${d.status}${d.reason ? `: ${label(d.reason)}` : ''}</span></td>
              <td class="num">${d.attempts}</td><td class="wrap">${d.last_error ?? ''}</td></tr>`)}</tbody>
          </table>
        </div>` : null}
      ${cursor ? html`<button type="button" disabled=${busy} onClick=${() => load(cursor)}>${busy ? 'Loading…' : 'Load more'}</button>` : null}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// price alerts

function PriceAlerts() {
  const [items, setItems] = useState(null);
  const [instruments, setInstruments] = useState([]);
  const [f, setF] = useState({ instrument: '', condition: 'crosses_above', level: '', timeframe: '', repeat: false, note: '' });
  const [error, setError] = useState(null);
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () => api.get('/api/alerts/price').then((d) => { setItems(d); setError(null); }, setError);
  useEffect(() => {
    load();
    cachedGet('/api/instruments').then((d) => setInstruments(d.items.filter((i) => i.active).map((i) => i.symbol)), () => {});
  }, []);
  const instrument = f.instrument || instruments[0] || '';
  const set = (k) => (e) => { const v = e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value; setF((p) => ({ ...p, [k]: v })); };
  const submit = async (e) => {
    e.preventDefault();
    setFormError(null);
    const body = { instrument, condition: f.condition, level: f.level.trim(), repeat: f.repeat };
    if (f.timeframe) body.timeframe = f.timeframe;
    if (f.note.trim()) body.note = f.note.trim();
    setBusy(true);
    try {
      await api.post('/api/alerts/price', body);
      setF((p) => ({ ...p, level: '', note: '' }));
      await load();
    } catch (err) { setFormError(err); } finally { setBusy(false); }
  };
  const remove = async (a) => {
    setError(null);
    try { await del(`/api/alerts/price/${a.id}`); await load(); } catch (err) { setError(err); }
  };
  const levelInvalid = formError?.status === 422 && Array.isArray(formError.detail) && formError.detail.some((d) => d?.loc?.[1] === 'level');
  return html`
    <section class="card panel wide" aria-labelledby="price-h" data-testid="price-alerts">
      <h2 id="price-h">Price alerts</h2>
      <p class="muted small">Fires when a bar crosses the level (a level already passed fires only after the price comes back and crosses it).</p>
      <${AlertError} error=${error} />
      ${items && !items.length ? html`<p class="muted">No price alerts.</p>` : null}
      ${items?.length ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Price alerts">
          <table>
            <thead><tr><th scope="col">Instrument</th><th scope="col">Condition</th><th scope="col" class="num">Level</th><th scope="col">Timeframe</th>
              <th scope="col">Repeat</th><th scope="col">State</th><th scope="col" class="num">Fired</th><th scope="col">Note</th><th scope="col">Actions</th></tr></thead>
            <tbody>${items.map((a) => html`<tr key=${a.id} data-price-alert-id=${a.id}>
              <td>${a.instrument}</td><td>${label(a.condition)}</td><td class="num">${a.level}</td><td>${a.timeframe}</td>
              <td>${a.repeat ? 'every crossing' : 'once'}</td><td>${a.active ? 'active' : 'done'}</td>
              <td class="num">${a.triggered_count}${a.last_triggered_at ? ` (${dateTime(a.last_triggered_at)})` : ''}</td><td class="wrap">${a.note}</td>
              <td><button type="button" aria-label=${`Delete the alert ${a.instrument} ${label(a.condition)} ${a.level}`} onClick=${() => remove(a)}>Delete</button></td>
            </tr>`)}</tbody>
          </table>
        </div>` : null}
      <form onSubmit=${submit} aria-labelledby="price-add-h">
        <h2 class="sub" id="price-add-h">New price alert</h2>
        <div class="row">
          <div><label for="pa-instrument">Instrument</label>
            <select id="pa-instrument" value=${instrument} onChange=${set('instrument')}>
              ${instruments.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
            </select></div>
          <div><label for="pa-condition">Condition</label>
            <select id="pa-condition" value=${f.condition} onChange=${set('condition')}>
              ${CONDITIONS.map(([k, t]) => html`<option key=${k} value=${k}>${t}</option>`)}
            </select></div>
          <div><label for="pa-level">Level</label>
            <input id="pa-level" type="text" inputmode="decimal" required value=${f.level} onInput=${set('level')}
              aria-invalid=${levelInvalid ? 'true' : 'false'} aria-describedby=${formError ? 'pa-error' : undefined} /></div>
          <div><label for="pa-timeframe">Bars</label>
            <select id="pa-timeframe" value=${f.timeframe} onChange=${set('timeframe')}>
              <option value="">finest stored</option>${TIMEFRAMES.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
            </select></div>
        </div>
        <label class="check"><input type="checkbox" checked=${f.repeat} onChange=${set('repeat')} />Fire at every crossing (not only once)</label>
        <label for="pa-note">Note (optional)</label>
        <input id="pa-note" type="text" maxlength="200" value=${f.note} onInput=${set('note')} />
        <${AlertError} error=${formError} id="pa-error" testid="price-error" />
        <div class="actions"><button type="submit" class="primary" disabled=${busy || !instrument}>${busy ? 'Creating…' : 'Create price alert'}</button></div>
      </form>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// the page

export function Alerts() {
  const [channels, setChannels] = useState(null);
  const [strategies, setStrategies] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [deliveriesKey, setDeliveriesKey] = useState(0);
  const loadChannels = () => api.get('/api/alerts/channels').then((d) => { setChannels(d); setError(null); }, setError);
  const refreshDeliveries = () => setDeliveriesKey((k) => k + 1);
  useEffect(() => {
    loadChannels();
    api.get('/api/strategies?limit=200').then((d) => setStrategies(d.items), () => setStrategies([]));
  }, []);
  const onAdded = (ch) => {
    setNotice(ch.verification?.method === 'telegram_start'
      ? `Channel added: send ${ch.verification.start_command} to the bot to verify it.`
      : `Channel added: a verification code was sent to ${ch.destination}.`);
    loadChannels();
    refreshDeliveries();
  };
  const onChanged = (ch, message) => {
    setChannels((prev) => (prev ?? []).map((c) => (c.id === ch.id ? ch : c)));
    if (message) setNotice(message);
    refreshDeliveries();
  };
  const onDeleted = (ch) => { setNotice(`Channel ${ch.label || ch.destination || ch.type} deleted.`); loadChannels(); };
  return html`
    <main id="main" class="alerts" tabindex="-1">
      <div class="page-head"><h1>Alerts</h1></div>
      <div class="grid">
        <${Channels} channels=${channels} error=${error} notice=${notice}
          onAdded=${onAdded} onChanged=${onChanged} onDeleted=${onDeleted} onReload=${loadChannels} />
        <${Subscriptions} channels=${channels} strategies=${strategies} onChanged=${refreshDeliveries} />
        <${PriceAlerts} />
        <${Deliveries} reloadKey=${deliveriesKey} />
      </div>
    </main>`;
}
