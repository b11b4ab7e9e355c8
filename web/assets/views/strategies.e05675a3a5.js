// strategies.js: the strategies page (/strategies): the user's strategies (GET /api/strategies) with the
// status, instrument and tag filters and keyset paging, each with its paper runtime (GET
// /api/signals/runtimes); and the three ways to create one: from a template (GET /api/strategies/fixtures,
// POST /api/strategies/from-fixture/{slug}), from an export file (POST /api/strategies/import), or from a
// graph built in the graph editor or written as JSON (POST /api/strategies; the validator's 422 is shown
// in place with its locator and marked on the node or edge it names: views/graph_editor.js).
// Also the pieces the strategy page shares: errorText, ErrorBox, cachedGet.
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import { ComplianceLink } from './compliance_link.e4680dfd0f.js';
import * as api from '../api.be17d892af.js';
import { Link } from '../router.acf9c7a626.js';
import { dateTime, label } from '../format.d46c67b7d9.js';
import { GraphInput, graphValue, graphOf } from './graph_editor.dc2fb2cf22.js';

export const STATUSES = ['draft', 'ready', 'live', 'paused', 'archived'];
export const TIMEFRAMES = ['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];

// cachedGet: a GET whose answer does not change while the page is open (the instruments, the templates);
// a failed one is asked again next time
const cache = new Map();
export function cachedGet(path) {
  if (!cache.has(path)) cache.set(path, api.get(path).catch((e) => { cache.delete(path); throw e; }));
  return cache.get(path);
}

// locator: a 422 locator as one path, ["body","graph","nodes",2,"params","period"] ->
// body.graph.nodes[2].params.period
export function locator(loc) {
  if (!Array.isArray(loc)) return '';
  return loc.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : String(p))).join('');
}

// errorText: what an ApiError means, in a sentence; the 409 and 403 codes of docs/errors.md spelt out
export function errorText(e) {
  const d = e?.detail;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return e?.message ?? String(e);
  const allowed = Array.isArray(d.allowed) ? d.allowed.join(', ') : '';
  switch (d.code) {
    case 'invalid_transition':
      return `Cannot ${d.action} a strategy in status ${d.status}: from ${d.status} it can only go to ${allowed || 'nothing'} (invalid transition).`;
    case 'validation_failed':
      return `Promotion refused by the validation policy: ${(d.failed ?? []).map((f) => `${label(f.criterion)} ${f.observed ?? '—'} (required ${f.required})`).join('; ') || 'no qualifying backtest'}.`;
    case 'strategy_not_startable': return `A strategy in status ${d.status} cannot be started: promote it to ready first.`;
    case 'runtime_active': return `The runtime is already ${d.runtime?.status ?? 'active'}.`;
    case 'live_mode_disabled_v1': return 'Live trading is not available yet: runtimes start in paper mode only.';
    case 'name_conflict': return `The name “${d.name ?? ''}” is taken: choose another.`;
    case 'etag_mismatch': return 'The strategy changed since this page loaded it: it has been reloaded, check it and try again.';
    case 'strategy_archived': return 'The strategy is archived: unarchive it to change it.';
    case 'cannot_rollback_to_current': return `Version ${d.current_version} is already the current version.`;
    case 'not_owner': return 'This strategy belongs to another user.';
    default: return e.message;
  }
}

// ErrorBox: an API error in place: a 422's every {loc, msg} with the locator, anything else as a sentence
export function ErrorBox({ error, id }) {
  if (!error) return null;
  if (error.status === 422 && Array.isArray(error.detail)) {
    return html`<div class="error" role="alert" id=${id} data-testid="error-422">
      <p>Refused (422):</p>
      <ul class="locs">${error.detail.map((d, i) => html`<li key=${i}>${d && d.loc ? html`<code>${locator(d.loc)}</code>: ` : null}${d?.msg ?? JSON.stringify(d)}</li>`)}</ul>
    </div>`;
  }
  return html`<p class="error" role="alert" id=${id}>${errorText(error)}${error.status ? ` (${error.status})` : ''}<${ComplianceLink} error=${error} /></p>`;
}

// a valid starting graph: long when the close crosses above its 20-bar average, 20-tick stop, 40-tick target
export const SAMPLE_GRAPH = {
  nodes: [
    { id: 'close', type: 'close' },
    { id: 'avg', type: 'sma', params: { period: 20 } },
    { id: 'cross', type: 'crosses_above' },
    { id: 'long', type: 'enter_long', params: { size: 1 } },
    { id: 'stop', type: 'stop_loss_ticks', params: { ticks: 20 } },
    { id: 'target', type: 'take_profit_ticks', params: { ticks: 40 } },
  ],
  edges: [
    { from: 'close', to: 'avg' }, { from: 'close', to: 'cross', port: 'a' }, { from: 'avg', to: 'cross', port: 'b' },
    { from: 'cross', to: 'long' }, { from: 'long', to: 'stop' }, { from: 'long', to: 'target' },
  ],
  meta: {},
};

// ---------------------------------------------------------------------------------------------------
// creating a strategy

function FromFixture({ onCreated }) {
  const [fixtures, setFixtures] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  useEffect(() => { cachedGet('/api/strategies/fixtures').then(setFixtures, setError); }, []);
  const create = async (slug) => {
    setBusy(slug);
    setError(null);
    try {
      onCreated(await api.post(`/api/strategies/from-fixture/${encodeURIComponent(slug)}`));
    } catch (e) { setError(e); } finally { setBusy(null); }
  };
  return html`
    <div>
      <p class="muted small">A draft copy of a ready-made strategy (a second copy is named “… (2)”).</p>
      <${ErrorBox} error=${error} />
      ${fixtures === null && !error ? html`<p class="muted">Loading…</p>` : null}
      ${fixtures ? html`<ul class="fixtures">${fixtures.map((f) => html`
        <li key=${f.slug} class="fixture" data-slug=${f.slug}>
          <h3 id=${`fx-${f.slug}`}>${f.name}</h3>
          <p class="small">${f.instrument} · ${f.timeframe}${f.tags?.length ? ` · ${f.tags.join(', ')}` : ''}</p>
          <p class="small muted">${f.description}</p>
          <button type="button" class="primary" disabled=${busy !== null} aria-describedby=${`fx-${f.slug}`}
            onClick=${() => create(f.slug)}>${busy === f.slug ? 'Creating…' : 'Create from template'}</button>
        </li>`)}</ul>` : null}
    </div>`;
}

function FromFile({ onCreated }) {
  const [suffix, setSuffix] = useState(true);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const file = fileRef.current?.files?.[0];
    if (!file) { setError(new Error('Choose an export file (.json) first.')); return; }
    let payload;
    try {
      payload = JSON.parse(await file.text());
    } catch (err) {
      setError(new Error(`${file.name} is not JSON: ${err.message}`));
      return;
    }
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) { setError(new Error(`${file.name} is not a strategy export.`)); return; }
    if (suffix) payload.name_on_conflict = 'suffix';
    setBusy(true);
    try {
      onCreated(await api.post('/api/strategies/import', payload));
      fileRef.current.value = '';
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`
    <form onSubmit=${submit} aria-label="Import a strategy">
      <p class="muted small">A file made by Export on a strategy's page (format ex7.strategy/v1). It becomes a new draft.</p>
      <label for="import-file">Export file</label>
      <input id="import-file" type="file" accept=".json,application/json" ref=${fileRef} />
      <label class="check"><input type="checkbox" checked=${suffix} onChange=${(e) => setSuffix(e.currentTarget.checked)} />
        If the name is taken, add a number</label>
      <${ErrorBox} error=${error} />
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>${busy ? 'Importing…' : 'Import'}</button></div>
    </form>`;
}

function FromGraph({ onCreated }) {
  const [f, setF] = useState({ name: '', instrument: 'MES', timeframe: '5m', note: '' });
  const [g, setG] = useState(() => graphValue(SAMPLE_GRAPH));
  const [instruments, setInstruments] = useState(null);
  const [error, setError] = useState(null);
  const [refused, setRefused] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { cachedGet('/api/instruments').then((d) => setInstruments(d.items.filter((i) => i.active)), () => setInstruments([])); }, []);
  const set = (k) => (e) => setF((p) => ({ ...p, [k]: e.currentTarget.value }));
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    let graph;
    try { graph = graphOf(g); } catch (err) { setError(new Error(`The graph is not valid JSON: ${err.message}`)); setRefused({ graph: null, error: err }); return; }
    const body = { name: f.name, instrument: f.instrument, timeframe: f.timeframe, graph };
    if (f.note.trim()) body.note = f.note;
    setBusy(true);
    try { onCreated(await api.post('/api/strategies', body)); } catch (err) { setError(err); setRefused({ graph, error: err }); } finally { setBusy(false); }
  };
  return html`
    <form onSubmit=${submit} aria-label="Build a strategy" novalidate>
      <p class="muted small">Build the graph in the visual editor (the node types and their parameters come from GET
        /api/engines, docs/engine.md) or write it as JSON. It starts with an example: long when the close crosses above
        its 20-bar average, a 20-tick stop and a 40-tick target.</p>
      <label for="new-name">Name</label>
      <input id="new-name" type="text" required maxlength="120" value=${f.name} onInput=${set('name')} />
      <div class="row">
        <div><label for="new-instrument">Instrument</label>
          <select id="new-instrument" value=${f.instrument} onChange=${set('instrument')}>
            ${(instruments?.length ? instruments.map((i) => i.symbol) : [f.instrument]).map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
          </select></div>
        <div><label for="new-timeframe">Timeframe</label>
          <select id="new-timeframe" value=${f.timeframe} onChange=${set('timeframe')}>
            ${TIMEFRAMES.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
          </select></div>
      </div>
      <${GraphInput} idBase="new-g" jsonId="new-graph" value=${g} onChange=${setG} refused=${refused}
        describedBy=${error ? 'new-error' : undefined} />
      <div class="actions"><button type="button" onClick=${() => setG(graphValue({ nodes: [], edges: [], meta: {} }, g.tab))}>Start from an empty graph</button></div>
      <label for="new-note">Version note (optional)</label>
      <input id="new-note" type="text" maxlength="1000" value=${f.note} onInput=${set('note')} />
      <${ErrorBox} error=${error} id="new-error" />
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>${busy ? 'Creating…' : 'Create strategy'}</button></div>
    </form>`;
}

const WAYS = [['fixture', 'From a template', FromFixture], ['file', 'Import a file', FromFile], ['graph', 'Build a graph', FromGraph]];

function CreatePanel({ onCreated, onClose }) {
  const [way, setWay] = useState('fixture');
  const headRef = useRef(null);
  useEffect(() => { headRef.current?.focus(); }, []);
  const Way = WAYS.find((w) => w[0] === way)[2];
  return html`
    <section class="card panel wide create" aria-labelledby="create-h" id="create-panel">
      <div class="panel-head">
        <h2 id="create-h" tabindex="-1" ref=${headRef}>New strategy</h2>
        <button type="button" onClick=${onClose}>Close</button>
      </div>
      <fieldset class="ways">
        <legend class="visually-hidden">How to create it</legend>
        ${WAYS.map(([k, text]) => html`<label key=${k} class="check way">
          <input type="radio" name="create-way" value=${k} checked=${way === k} onChange=${() => setWay(k)} />${text}</label>`)}
      </fieldset>
      <${Way} onCreated=${onCreated} />
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// the list

export function runtimeLabel(rt) {
  if (!rt) return 'not started';
  return rt.status + (rt.error ? `: ${rt.error}` : '');
}

export function Strategies() {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [filters, setFilters] = useState({ status: '', instrument: '', tag: '' });
  const [instruments, setInstruments] = useState([]);
  const [runtimes, setRuntimes] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState(null);
  const newRef = useRef(null);
  const createdRef = useRef(null);
  useEffect(() => { if (created) createdRef.current?.focus(); }, [created]);

  const load = async (after) => {
    setBusy(true);
    setError(null);
    try {
      const q = new URLSearchParams({ limit: '50' });
      for (const k of ['status', 'instrument', 'tag']) if (filters[k].trim()) q.set(k, filters[k].trim());
      if (after) q.set('cursor', after);
      const page = await api.get(`/api/strategies?${q}`);
      setItems((prev) => (after ? [...(prev ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const loadRuntimes = () => api.get('/api/signals/runtimes').then((d) => {
    const m = {};
    for (const r of d.items) if (r.mode === 'paper') m[r.strategy_id] = r;
    setRuntimes(m);
  }, () => { /* the column stays empty; the strategy page says why */ });
  useEffect(() => { load(null); }, [filters]);
  useEffect(() => {
    loadRuntimes();
    cachedGet('/api/instruments').then((d) => setInstruments(d.items.map((i) => i.symbol)), () => {});
  }, []);

  const onCreated = (s) => {
    setCreated(s);
    setCreating(false);
    load(null);
  };
  const closeCreate = () => { setCreating(false); newRef.current?.focus(); };
  const setFilter = (k) => (e) => { const v = e.currentTarget.value; setFilters((f) => ({ ...f, [k]: v })); };

  return html`
    <main id="main" class="strategies" tabindex="-1">
      <div class="page-head">
        <h1 id="strategies-h">Strategies</h1>
        <button type="button" class="primary" ref=${newRef} aria-expanded=${creating ? 'true' : 'false'} aria-controls="create-panel"
          onClick=${() => { setCreated(null); setCreating(!creating); }}>New strategy</button>
      </div>
      <div class="grid">
        ${creating ? html`<${CreatePanel} onCreated=${onCreated} onClose=${closeCreate} />` : null}
        <section class="card panel wide" aria-labelledby="list-h">
          <h2 id="list-h">Your strategies</h2>
          <div class="filters" role="search" aria-label="Filter strategies">
            <div><label for="f-status">Status</label>
              <select id="f-status" value=${filters.status} onChange=${setFilter('status')}>
                <option value="">all</option>${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
              </select></div>
            <div><label for="f-instrument">Instrument</label>
              <select id="f-instrument" value=${filters.instrument} onChange=${setFilter('instrument')}>
                <option value="">all</option>${instruments.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
              </select></div>
            <div><label for="f-tag">Tag</label>
              <input id="f-tag" type="text" value=${filters.tag} placeholder="exact tag" onChange=${setFilter('tag')} /></div>
          </div>
          ${created ? html`<p class="notice" role="status" tabindex="-1" ref=${createdRef} data-testid="created">Created “${created.name}” (${created.status}, version ${created.current_version}).
            <${Link} href=${`/strategies/${created.id}`}>Open it</${Link}></p>` : null}
          ${error ? html`<${ErrorBox} error=${error} />` : null}
          ${items === null && !error ? html`<p class="muted">Loading…</p>` : null}
          ${items && !items.length ? html`<p class="muted">No strategies${filters.status || filters.instrument || filters.tag ? ' match these filters' : ' yet: create one with New strategy'}.</p>` : null}
          ${items && items.length ? html`
            <div class="table-wrap" tabindex="0" role="region" aria-label="Strategies">
              <table>
                <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Instrument</th><th scope="col">Timeframe</th>
                  <th scope="col" class="num">Version</th><th scope="col">Paper runtime</th><th scope="col">Tags</th><th scope="col">Updated</th></tr></thead>
                <tbody>${items.map((s) => html`<tr key=${s.id} data-strategy-id=${s.id}>
                  <td><${Link} href=${`/strategies/${s.id}`}>${s.name}</${Link}></td>
                  <td><span class=${`badge st-${s.status}`}>${s.status}</span></td><td>${s.instrument}</td><td>${s.timeframe}</td>
                  <td class="num">${s.current_version}</td><td>${runtimeLabel(runtimes[s.id])}</td>
                  <td>${s.tags.join(', ')}</td><td>${dateTime(s.updated_at)}</td></tr>`)}</tbody>
              </table>
            </div>` : null}
          ${cursor ? html`<button type="button" disabled=${busy} onClick=${() => load(cursor)}>${busy ? 'Loading…' : 'Load more'}</button>` : null}
        </section>
      </div>
    </main>`;
}
