// strategy.js: one strategy's page (/strategies/{id}): its fields and lifecycle (promote, pause, resume,
// archive, unarchive, clone, delete; a refused transition's 409 shown in place), its paper runtime (start,
// stop, force-close-all after a confirmation dialog; the state and the last bar), the current graph with the
// graph editor or as JSON (views/graph_editor.js; PUT with If-Match: a new version), the versions (a key diff of two versions' graphs,
// rollback), Export (the export JSON as a download from a Blob link), and its backtests (views/backtests.js:
// the launcher and the list).
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import * as api from '../api.be17d892af.js';
import { Link, navigate } from '../router.acf9c7a626.js';
import { dateTime, label } from '../format.d46c67b7d9.js';
import { ErrorBox, runtimeLabel } from './strategies.e05675a3a5.js';
import { GraphInput, GraphView, graphValue, graphOf } from './graph_editor.dc2fb2cf22.js';
import { BacktestLauncher, BacktestList } from './backtests.c81b9d5236.js';

const MODE = 'paper';
const sp = (id) => `/api/strategies/${encodeURIComponent(id)}`;

// the lifecycle action that leads to each status allowed from the current one (docs/strategies.md)
function actionsOf(s) {
  return (s.allowed_transitions ?? []).map((to) => {
    if (to === 'ready') return { action: 'promote', text: 'Promote to ready', cls: 'primary' };
    if (to === 'live') return s.status === 'paused' ? { action: 'resume', text: 'Resume', cls: 'primary' } : { action: 'promote', text: 'Promote to live', cls: 'primary' };
    if (to === 'paused') return { action: 'pause', text: 'Pause' };
    if (to === 'archived') return { action: 'archive', text: 'Archive' };
    if (to === 'draft') return { action: 'unarchive', text: 'Unarchive' };
    return null;
  }).filter(Boolean);
}

// ---------------------------------------------------------------------------------------------------
// Dialog: a modal confirmation (the native <dialog>: focus moves into it, the page behind is inert,
// Escape cancels). onCancel runs however it closes without confirming; the opener gets focus back.
function Dialog({ id, title, children, confirmText, busyText, busy, error, onConfirm, onCancel, opener }) {
  const ref = useRef(null);
  const cancelRef = useRef(null);
  const done = useRef(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    cancelRef.current?.focus(); // the least destructive choice first
    return () => { done.current = true; if (d?.open) d.close(); opener?.current?.focus(); };
  }, []);
  const onClose = () => { if (!done.current) onCancel(); };
  return html`
    <dialog ref=${ref} id=${id} class="dialog" aria-labelledby=${`${id}-h`} aria-describedby=${`${id}-text`} onClose=${onClose}>
      <h2 id=${`${id}-h`}>${title}</h2>
      <div id=${`${id}-text`}>${children}</div>
      <${ErrorBox} error=${error} />
      <div class="actions">
        <button type="button" ref=${cancelRef} onClick=${() => ref.current?.close()}>Cancel</button>
        <button type="button" class="danger" disabled=${busy} onClick=${onConfirm}>${busy ? busyText : confirmText}</button>
      </div>
    </dialog>`;
}

// ---------------------------------------------------------------------------------------------------
// the paper runtime

function RuntimePanel({ strategy }) {
  const [rt, setRt] = useState(undefined); // undefined: not read yet; null: never started
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const [msg, setMsg] = useState(null);
  const [ask, setAsk] = useState(null); // the force-close dialog: {open: count or null, error}
  const forceRef = useRef(null);
  const poll = useRef({ timer: null, delay: 3000 });

  const load = () => api.get('/api/signals/runtimes').then((d) => {
    setRt(d.items.find((r) => r.strategy_id === strategy.id && r.mode === MODE) ?? null);
  }, setError);
  useEffect(() => { load(); }, [strategy.id]);
  // starting and draining end with the dispatcher's next bar of the strategy's series: ask again after 3 s,
  // doubling to a minute, while the page is visible (no stream event carries a runtime's state)
  useEffect(() => {
    const p = poll.current;
    clearTimeout(p.timer);
    if (rt?.status !== 'starting' && rt?.status !== 'draining') { p.delay = 3000; return undefined; }
    p.timer = setTimeout(() => {
      p.delay = Math.min(60000, p.delay * 2);
      if (document.visibilityState === 'visible') load(); else setRt((r) => ({ ...r }));
    }, p.delay);
    return () => clearTimeout(p.timer);
  }, [rt]);

  const act = async (what) => {
    setBusy(what);
    setError(null);
    setMsg(null);
    try {
      setRt(await api.post(`/api/signals/runtimes/${encodeURIComponent(strategy.id)}/${what}`, { mode: MODE }));
      poll.current.delay = 3000;
    } catch (e) {
      setError(e);
      if (e.status === 409 && e.detail?.runtime) setRt(e.detail.runtime);
    } finally { setBusy(null); }
  };
  const openForce = async () => {
    setMsg(null);
    setAsk({ open: null, error: null, busy: false });
    try {
      const q = new URLSearchParams({ strategy_id: strategy.id, status: 'open', limit: '200' });
      const page = await api.get(`/api/signals?${q}`);
      setAsk((a) => a && { ...a, open: `${page.items.length}${page.next_cursor ? ' or more' : ''}` });
    } catch { /* the count is a courtesy: the dialog works without it */ }
  };
  const forceClose = async () => {
    setAsk((a) => ({ ...a, busy: true, error: null }));
    try {
      const n = await api.post(`/api/signals/runtimes/${encodeURIComponent(strategy.id)}/force-close-all`);
      setAsk(null);
      setMsg(`Force close: ${n} open signal${n === 1 ? '' : 's'} cancelled at ${n === 1 ? 'its' : 'their'} entry price (no P&L).`);
      load();
    } catch (e) {
      setAsk((a) => ({ ...a, busy: false, error: e }));
    }
  };

  const active = rt && ['starting', 'running', 'draining'].includes(rt.status);
  return html`
    <section class="card panel" aria-labelledby="runtime-h" aria-busy=${rt === undefined ? 'true' : 'false'}>
      <h2 id="runtime-h">Paper runtime</h2>
      ${rt === undefined && !error ? html`<p class="muted">Loading…</p>` : null}
      ${rt !== undefined ? html`
        <p class=${`status rt-${rt?.status ?? 'none'}`} data-testid="runtime-status">State: ${runtimeLabel(rt)}</p>
        <dl class="stats small">
          <div class="stat"><dt>Last bar</dt><dd data-testid="runtime-last-bar">${rt?.last_bar_ts ? dateTime(rt.last_bar_ts) : '—'}</dd></div>
          <div class="stat"><dt>Started</dt><dd>${dateTime(rt?.started_at)}</dd></div>
          <div class="stat"><dt>Stopped</dt><dd>${dateTime(rt?.stopped_at)}</dd></div>
          <div class="stat"><dt>Updated</dt><dd>${dateTime(rt?.updated_at)}</dd></div>
        </dl>
        ${rt?.status === 'starting' ? html`<p class="muted small">It runs from the next closed ${strategy.timeframe} bar of ${strategy.instrument}.</p>` : null}
        ${rt?.status === 'draining' ? html`<p class="muted small">Finishing its open signals: it stops on the next bar, or when they are closed.</p>` : null}` : null}
      <${ErrorBox} error=${error} />
      ${msg ? html`<p class="notice" role="status">${msg}</p>` : null}
      <div class="actions">
        <button type="button" class="primary" disabled=${busy !== null || active || rt === undefined} onClick=${() => act('start')}>${busy === 'start' ? 'Starting…' : 'Start (paper)'}</button>
        <button type="button" disabled=${busy !== null || !active} onClick=${() => act('stop')}>${busy === 'stop' ? 'Stopping…' : 'Stop'}</button>
        <button type="button" class="danger" ref=${forceRef} disabled=${busy !== null} aria-haspopup="dialog" onClick=${openForce}>Force close all…</button>
        <button type="button" class="link" onClick=${() => { setError(null); load(); }}>Refresh</button>
      </div>
      ${ask ? html`<${Dialog} id="force-close-dialog" title="Force close all?" confirmText="Force close all" busyText="Closing…"
          busy=${ask.busy} error=${ask.error} opener=${forceRef} onConfirm=${forceClose} onCancel=${() => setAsk(null)}>
          <p>Every open signal of “${strategy.name}”, paper and live, is cancelled at its entry price, with no P&L.
            The runtime keeps its state.</p>
          <p><strong>Open signals: ${ask.open ?? '…'}</strong></p>
        </${Dialog}>` : null}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// versions and the key diff

// flatten: a graph as {path: JSON value} for every leaf. Nodes are keyed by id and edges by their ends
// (one edge per input port), so that a node added in the middle does not shift every later path.
export function flatten(graph) {
  const out = new Map();
  const walk = (v, p) => {
    if (v && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v).map(([k, x]) => [`.${k}`, x]);
      if (!entries.length) out.set(p, Array.isArray(v) ? '[]' : '{}');
      for (const [k, x] of entries) walk(x, p + k);
    } else out.set(p, JSON.stringify(v));
  };
  const g = graph && typeof graph === 'object' ? graph : {};
  for (const n of Array.isArray(g.nodes) ? g.nodes : []) walk(n, `nodes[id=${n?.id}]`);
  for (const e of Array.isArray(g.edges) ? g.edges : []) walk(e, `edges[${e?.from}→${e?.to}${e?.port ? `:${e.port}` : ''}]`);
  for (const [k, v] of Object.entries(g)) if (k !== 'nodes' && k !== 'edges') walk(v, k);
  return out;
}

export function diffGraphs(a, b) {
  const fa = flatten(a);
  const fb = flatten(b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return keys.filter((k) => fa.get(k) !== fb.get(k))
    .map((k) => ({ key: k, from: fa.get(k), to: fb.get(k), kind: !fa.has(k) ? 'added' : !fb.has(k) ? 'removed' : 'changed' }));
}

function Versions({ strategy, onChanged }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [pick, setPick] = useState({ from: '', to: '' });
  const [diff, setDiff] = useState(null);
  const [busy, setBusy] = useState(null);
  const graphs = useRef(new Map());
  const sid = strategy.id;

  const load = async (after) => {
    setError(null);
    try {
      const q = new URLSearchParams({ limit: '50' });
      if (after) q.set('cursor', String(after));
      const page = await api.get(`${sp(sid)}/versions?${q}`);
      const all = after ? [...(items ?? []), ...page.items] : page.items;
      setItems(all);
      setCursor(page.next_cursor);
      if (!after) setPick({ from: String(all[1]?.version ?? all[0]?.version ?? ''), to: String(all[0]?.version ?? '') });
    } catch (e) { setError(e); }
  };
  useEffect(() => { setDiff(null); load(null); }, [sid, strategy.current_version]);

  const graphOf = async (v) => {
    if (!graphs.current.has(v)) graphs.current.set(v, api.get(`${sp(sid)}/versions/${v}`).then((x) => x.graph));
    try { return await graphs.current.get(v); } catch (e) { graphs.current.delete(v); throw e; }
  };
  const compare = async (e) => {
    e.preventDefault();
    setBusy('diff');
    setError(null);
    try {
      const [a, b] = await Promise.all([graphOf(pick.from), graphOf(pick.to)]);
      setDiff({ from: pick.from, to: pick.to, rows: diffGraphs(a, b) });
    } catch (err) { setError(err); } finally { setBusy(null); }
  };
  const rollback = async (v) => {
    setBusy(`rb${v}`);
    setError(null);
    try {
      await api.post(`${sp(sid)}/rollback`, { to_version: v });
      onChanged();
    } catch (err) { setError(err); } finally { setBusy(null); }
  };

  const options = (items ?? []).map((v) => html`<option key=${v.version} value=${String(v.version)}>version ${v.version}</option>`);
  return html`
    <section class="card panel wide" aria-labelledby="versions-h">
      <h2 id="versions-h">Versions</h2>
      <${ErrorBox} error=${error} />
      ${items === null && !error ? html`<p class="muted">Loading…</p>` : null}
      ${items ? html`
        <div class="table-wrap" tabindex="0" role="region" aria-label="Versions">
          <table>
            <thead><tr><th scope="col" class="num">Version</th><th scope="col">Created</th><th scope="col">Note</th>
              <th scope="col" class="num">Nodes</th><th scope="col" class="num">Edges</th><th scope="col">Rollback</th></tr></thead>
            <tbody>${items.map((v) => html`<tr key=${v.version} data-version=${v.version}>
              <td class="num">${v.version}${v.is_current ? ' (current)' : ''}</td><td>${dateTime(v.created_at)}</td>
              <td>${v.rolled_back_from ? `rollback to version ${v.rolled_back_from}` : v.note ?? ''}</td>
              <td class="num">${v.node_count}</td><td class="num">${v.edge_count}</td>
              <td>${v.is_current ? '—' : html`<button type="button" disabled=${busy !== null || strategy.status === 'archived'}
                aria-label=${`Roll back to version ${v.version}`} onClick=${() => rollback(v.version)}>${busy === `rb${v.version}` ? 'Rolling back…' : 'Roll back'}</button>`}</td>
            </tr>`)}</tbody>
          </table>
        </div>
        ${cursor ? html`<button type="button" onClick=${() => load(cursor)}>Load more</button>` : null}
        ${items.length > 1 ? html`
          <form class="compare" onSubmit=${compare} aria-label="Compare two versions">
            <div><label for="diff-from">From</label>
              <select id="diff-from" value=${pick.from} onChange=${(e) => setPick((p) => ({ ...p, from: e.currentTarget.value }))}>${options}</select></div>
            <div><label for="diff-to">To</label>
              <select id="diff-to" value=${pick.to} onChange=${(e) => setPick((p) => ({ ...p, to: e.currentTarget.value }))}>${options}</select></div>
            <button type="submit" disabled=${busy !== null}>${busy === 'diff' ? 'Comparing…' : 'Compare graphs'}</button>
          </form>` : html`<p class="muted small">One version so far: saving a changed graph makes the next one.</p>`}
        ${diff ? html`
          <div data-testid="graph-diff" aria-live="polite">
            <h3>Graph of version ${diff.from} → version ${diff.to}: ${diff.rows.length ? `${diff.rows.length} difference${diff.rows.length === 1 ? '' : 's'}` : 'identical'}</h3>
            ${diff.rows.length ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Differences">
              <table class="diff">
                <thead><tr><th scope="col">Key</th><th scope="col">Version ${diff.from}</th><th scope="col">Version ${diff.to}</th></tr></thead>
                <tbody>${diff.rows.map((r) => html`<tr key=${r.key} class=${`d-${r.kind}`}>
                  <td><code>${r.key}</code> <span class="kind">${r.kind}</span></td><td><code>${r.from ?? ''}</code></td><td><code>${r.to ?? ''}</code></td></tr>`)}</tbody>
              </table></div>` : null}
          </div>` : null}` : null}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// the graph: shown, and edited in the graph editor or as JSON (a new version)

function GraphPanel({ strategy, onSaved }) {
  const [edit, setEdit] = useState(null); // {g: the GraphInput value, note}
  const [error, setError] = useState(null);
  const [refused, setRefused] = useState(null);
  const [busy, setBusy] = useState(false);
  const g = strategy.graph ?? { nodes: [], edges: [] };
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    let graph;
    try { graph = graphOf(edit.g); } catch (err) { setError(new Error(`The graph is not valid JSON: ${err.message}`)); setRefused({ graph: null, error: err }); return; }
    const body = { graph };
    if (edit.note.trim()) body.note = edit.note;
    setBusy(true);
    try {
      const s = await api.request('PUT', sp(strategy.id), { body, headers: { 'If-Match': `"${strategy.etag}"` } });
      setEdit(null);
      setRefused(null);
      onSaved(s);
    } catch (err) {
      setError(err);
      setRefused({ graph, error: err });
      if (err.status === 409) onSaved(null); // a stale etag: read the strategy again
    } finally { setBusy(false); }
  };
  return html`
    <section class="card panel wide" aria-labelledby="graph-h">
      <div class="panel-head">
        <h2 id="graph-h">Graph (version ${strategy.current_version})</h2>
        ${edit ? null : html`<button type="button" disabled=${strategy.status === 'archived'}
          onClick=${() => { setError(null); setRefused(null); setEdit({ g: graphValue(g), note: '' }); }}>Edit graph</button>`}
      </div>
      <p class="muted small">${(g.nodes ?? []).length} nodes, ${(g.edges ?? []).length} edges. Saving a changed graph makes the next version.</p>
      ${edit ? html`
        <form onSubmit=${save} aria-label="Edit the graph" novalidate>
          <${GraphInput} idBase="edit-g" jsonId="edit-graph" value=${edit.g} onChange=${(v) => setEdit((x) => ({ ...x, g: v }))}
            refused=${refused} describedBy=${error ? 'edit-error' : undefined} />
          <label for="edit-note">Version note (optional)</label>
          <input id="edit-note" type="text" maxlength="1000" value=${edit.note} onInput=${(ev) => { const v = ev.currentTarget.value; setEdit((x) => ({ ...x, note: v })); }} />
          <${ErrorBox} error=${error} id="edit-error" />
          <div class="actions">
            <button type="submit" class="primary" disabled=${busy}>${busy ? 'Saving…' : 'Save as a new version'}</button>
            <button type="button" onClick=${() => { setEdit(null); setError(null); setRefused(null); }}>Cancel</button>
          </div>
        </form>` : html`
        <${ErrorBox} error=${error} />
        <${GraphView} graph=${g} />
        <details><summary>Show the graph as JSON</summary><pre class="graph-view" tabindex="0">${JSON.stringify(g, null, 2)}</pre></details>`}
    </section>`;
}

// ---------------------------------------------------------------------------------------------------
// export: the document as a file, from a Blob link (no request for the download itself)

function fileName(name) {
  return `${String(name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'strategy'}.ex7.json`;
}

function ExportPanel({ strategy }) {
  const [file, setFile] = useState(null); // {url, name}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const linkRef = useRef(null);
  useEffect(() => () => { if (file) URL.revokeObjectURL(file.url); }, [file]);
  useEffect(() => { if (file) linkRef.current?.focus(); }, [file]);
  const prepare = async () => {
    setBusy(true);
    setError(null);
    try {
      const doc = await api.get(`${sp(strategy.id)}/export`);
      const blob = new Blob([JSON.stringify(doc, null, 2) + '\n'], { type: 'application/json' });
      setFile({ url: URL.createObjectURL(blob), name: fileName(strategy.name), version: strategy.current_version });
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return html`
    <section class="card panel" aria-labelledby="export-h">
      <h2 id="export-h">Export</h2>
      <p class="muted small">The current version as a JSON file (format ex7.strategy/v1): import it on the strategies page, here or elsewhere.</p>
      <${ErrorBox} error=${error} />
      <div class="actions">
        <button type="button" disabled=${busy} onClick=${prepare}>${busy ? 'Exporting…' : file ? 'Export again' : 'Export'}</button>
        ${file ? html`<a class="button" ref=${linkRef} href=${file.url} download=${file.name} data-testid="export-link">Download ${file.name} (version ${file.version})</a>` : null}
      </div>
    </section>`;
}

// ---------------------------------------------------------------------------------------------------

export function Strategy({ id: raw }) {
  const id = decodeURIComponent(raw ?? '');
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  const [actError, setActError] = useState(null);
  const [busy, setBusy] = useState(null);
  const [ask, setAsk] = useState(null); // the delete dialog
  const deleteRef = useRef(null);

  const load = () => api.get(sp(id)).then((x) => { setS(x); setError(null); }, setError);
  useEffect(() => { load(); }, [id]);
  useEffect(() => { if (s) document.title = `${s.name} · Strategies · ex7 console`; }, [s?.name]);

  const transition = async (action) => {
    setBusy(action);
    setActError(null);
    try {
      setS(await api.post(`${sp(id)}/${action}`));
    } catch (e) {
      setActError(e);
      if (e.status === 409) load(); // the status moved on elsewhere: show where it is now
    } finally { setBusy(null); }
  };
  const clone = async () => {
    setBusy('clone');
    setActError(null);
    try {
      const c = await api.post(`${sp(id)}/clone`, {});
      navigate(`/strategies/${c.id}`);
    } catch (e) { setActError(e); } finally { setBusy(null); }
  };
  const remove = async () => {
    setAsk((a) => ({ ...a, busy: true, error: null }));
    try {
      await api.request('DELETE', sp(id));
      navigate('/strategies');
    } catch (e) { setAsk((a) => ({ ...a, busy: false, error: e })); }
  };

  if (error) {
    return html`<main id="main" class="strategy" tabindex="-1"><div class="card">
      <h1>${error.status === 404 ? 'Strategy not found' : 'Strategy'}</h1>
      <${ErrorBox} error=${error} />
      <p><${Link} href="/strategies">All strategies</${Link}></p></div></main>`;
  }
  if (!s) return html`<main id="main" class="strategy" tabindex="-1" aria-busy="true"><p class="muted">Loading…</p></main>`;
  return html`
    <main id="main" class="strategy" tabindex="-1">
      <p class="crumbs"><${Link} href="/strategies">Strategies</${Link}> /</p>
      <div class="grid">
        <section class="card panel wide" aria-labelledby="strategy-h">
          <div class="panel-head">
            <h1 id="strategy-h">${s.name}</h1>
            <span class=${`badge st-${s.status}`} data-testid="strategy-status">${s.status}</span>
          </div>
          ${s.description ? html`<p>${s.description}</p>` : null}
          <dl class="stats small">
            <div class="stat"><dt>Instrument</dt><dd>${s.instrument}</dd></div>
            <div class="stat"><dt>Timeframe</dt><dd>${s.timeframe}</dd></div>
            <div class="stat"><dt>Version</dt><dd>${s.current_version}</dd></div>
            <div class="stat"><dt>Tags</dt><dd>${s.tags.length ? s.tags.join(', ') : '—'}</dd></div>
            <div class="stat"><dt>Updated</dt><dd>${dateTime(s.updated_at)}</dd></div>
          </dl>
          <h2 class="sub">Lifecycle</h2>
          <p class="muted small">${s.allowed_transitions.length ? `From ${s.status} it can go to ${s.allowed_transitions.map(label).join(', ')}.` : `Nothing follows ${s.status}.`}</p>
          <div class="actions" data-testid="lifecycle">
            ${actionsOf(s).map((a) => html`<button type="button" key=${a.action} class=${a.cls ?? ''} disabled=${busy !== null}
              onClick=${() => transition(a.action)}>${busy === a.action ? 'Working…' : a.text}</button>`)}
            <button type="button" disabled=${busy !== null} onClick=${clone}>${busy === 'clone' ? 'Cloning…' : 'Clone'}</button>
            <button type="button" class="danger" ref=${deleteRef} aria-haspopup="dialog" disabled=${busy !== null}
              onClick=${() => setAsk({ busy: false, error: null })}>Delete…</button>
          </div>
          <div data-testid="lifecycle-error"><${ErrorBox} error=${actError} /></div>
        </section>
        <${RuntimePanel} strategy=${s} />
        <${ExportPanel} strategy=${s} />
        <${GraphPanel} strategy=${s} onSaved=${(x) => (x ? setS(x) : load())} />
        <${Versions} strategy=${s} onChanged=${load} />
        <section class="card panel wide" aria-label="Backtests">
          <${BacktestLauncher} strategyId=${s.id} />
          <${BacktestList} strategyId=${s.id} />
        </section>
      </div>
      ${ask ? html`<${Dialog} id="delete-dialog" title=${`Delete “${s.name}”?`} confirmText="Delete" busyText="Deleting…"
          busy=${ask.busy} error=${ask.error} opener=${deleteRef} onConfirm=${remove} onCancel=${() => setAsk(null)}>
          <p>Its runtimes stop and its open signals are cancelled at their entry price. The signals and their history stay.</p>
        </${Dialog}>` : null}
    </main>`;
}
