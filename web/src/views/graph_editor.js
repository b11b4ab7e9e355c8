// graph_editor.js: the strategy graph edited visually (docs/console.md, "The graph editor"). The node
// catalogue is GET /api/engines (docs/engine.md: each type's parameters with type, range, default and
// values, its input ports with their types, its output type). The graph is drawn as an SVG of labelled
// boxes in columns by depth (a node's column is one more than its deepest input's), its edges as curves
// from an output to the input port they feed. Everything is done with buttons, selects and fields, so the
// keyboard reaches every action: a node is chosen by its box (a focusable button in the drawing) or the
// "Node" select; its parameters are a labelled form; each input port is a select of the nodes whose output
// type fits it ("not connected" disconnects it); Add node and Delete node. A 422 from saving names an
// element of the graph ("body","graph","nodes",3,"params","period" or "body","graph","edges",1,"to"):
// locate() turns it into the node or edge, which is drawn in red with the message under it, and the node
// is chosen so that its form shows the field in error.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { html } from '../html.js';
import * as api from '../api.js';

const BOX_W = 168;
const BOX_H = 52;
const COL_GAP = 64;
const ROW_GAP = 44;
const PAD = 16;

let engines = null;
// catalogue: the node types of GET /api/engines as a Map by type (asked once per page load)
export function useCatalogue() {
  const [cat, setCat] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    engines ??= api.get('/api/engines').then((d) => new Map(d.engines.map((e) => [e.type, e])));
    engines.then(setCat, (e) => { engines = null; setError(e); });
  }, []);
  return { cat, error };
}

// portOf: the input port an edge feeds (`port` may be left out when its node has one input)
function portOf(edge, cat, nodes) {
  if (edge.port) return edge.port;
  const n = nodes.find((x) => x.id === edge.to);
  const def = n && cat?.get(n.type);
  return def?.inputs?.length === 1 ? def.inputs[0].port : '';
}

// locate: where a 422's {loc, msg} points in the graph: {node: index, field} or {edge: index, field} or
// {graph: true}; null when the error is not about the graph (a name, an instrument)
export function locate(d) {
  const loc = Array.isArray(d?.loc) ? d.loc : [];
  const g = loc.indexOf('graph');
  if (g < 0) return null;
  const rest = loc.slice(g + 1);
  if (rest[0] === 'nodes' && Number.isInteger(rest[1])) return { node: rest[1], field: rest[2] === 'params' ? rest[3] : rest[2], msg: d.msg };
  if (rest[0] === 'edges' && Number.isInteger(rest[1])) return { edge: rest[1], field: rest[2], msg: d.msg };
  return { graph: true, msg: d.msg };
}

// layout: each node's column (its depth) and row; cycles and unknown ends are tolerated (a node on a
// cycle stays in the column it reached)
function layout(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let moved = false;
    for (const e of edges) {
      if (!depth.has(e.from) || !depth.has(e.to) || e.from === e.to) continue;
      const d = depth.get(e.from) + 1;
      if (d > depth.get(e.to) && d < nodes.length) { depth.set(e.to, d); moved = true; }
    }
    if (!moved) break;
  }
  const rows = [];
  const pos = new Map();
  for (const n of nodes) {
    const c = depth.get(n.id);
    rows[c] = (rows[c] ?? 0) + 1;
    pos.set(n.id, { x: PAD + c * (BOX_W + COL_GAP), y: PAD + (rows[c] - 1) * (BOX_H + ROW_GAP) });
  }
  const cols = rows.length || 1;
  const height = Math.max(1, ...Array.from(rows, (r) => r ?? 0));
  return { pos, width: PAD * 2 + cols * BOX_W + (cols - 1) * COL_GAP, height: PAD * 2 + height * BOX_H + (height - 1) * ROW_GAP + 24 };
}

function paramSummary(n, def) {
  const p = n.params ?? {};
  const names = (def?.params ?? []).map((x) => x.name).filter((k) => k !== 'tz');
  const parts = names.filter((k) => p[k] !== undefined && p[k] !== null).map((k) => `${k} ${p[k]}`);
  return parts.join(', ');
}

// wrap: text in at most `lines` lines of about `width` characters, cut at spaces; the last one ends in …
// when the text does not fit
function wrap(text, width, lines) {
  const out = [];
  let rest = text;
  while (rest && out.length < lines) {
    if (rest.length <= width) { out.push(rest); rest = ''; break; }
    let cut = rest.lastIndexOf(' ', width);
    if (cut <= 0) cut = width;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  if (rest) out[out.length - 1] = `${out[out.length - 1].slice(0, width - 1)}…`;
  return out;
}

// nextId: a free id for a new node of type t (t, t2, t3, ...)
function nextId(t, nodes) {
  const ids = new Set(nodes.map((n) => n.id));
  if (!ids.has(t)) return t;
  for (let i = 2; ; i++) if (!ids.has(`${t}${i}`)) return `${t}${i}`;
}

function Drawing({ graph, cat, selected, onSelect, marks, idPrefix, readOnly }) {
  const nodes = graph.nodes ?? [];
  const edges = graph.edges ?? [];
  const { pos, width, height } = useMemo(() => layout(nodes, edges), [graph]);
  if (!nodes.length) return html`<p class="muted">The graph is empty: add a node below.</p>`;
  return html`
    <div class="graph-scroll" tabindex="0" role="region" aria-label=${`Drawing of the graph (${nodes.length} nodes); scrolls when wider than the page`}>
      <svg class="graph-canvas" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`}
        role="group" aria-label=${`The graph: ${nodes.length} nodes, ${edges.length} edges`}>
        <defs><marker id=${`${idPrefix}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" /></marker></defs>
        ${edges.map((e, j) => {
          const a = pos.get(e.from);
          const b = pos.get(e.to);
          if (!a || !b) return null;
          const def = cat?.get(nodes.find((n) => n.id === e.to)?.type);
          const ports = def?.inputs ?? [];
          const port = portOf(e, cat, nodes);
          const k = Math.max(0, ports.findIndex((p) => p.port === port));
          const x1 = a.x + BOX_W;
          const y1 = a.y + BOX_H / 2;
          const x2 = b.x;
          const y2 = b.y + ((k + 1) * BOX_H) / (ports.length + 1 || 2);
          const mx = (x1 + x2) / 2;
          const bad = marks.edges.get(j);
          return html`<g key=${`e${j}`} class=${`gedge${bad ? ' has-error' : ''}`} data-edge=${j}>
            <title>${`${e.from} → ${e.to}${port ? ` (${port})` : ''}${bad ? `: ${bad}` : ''}`}</title>
            <path d=${`M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`} marker-end=${`url(#${idPrefix}-arrow)`} />
            ${ports.length > 1 ? html`<text class="port" x=${x2 - 6} y=${y2 - 4} text-anchor="end">${port}</text>` : null}
            ${bad ? html`<text class="edge-error" x=${mx} y=${(y1 + y2) / 2 - 6} text-anchor="middle">⚠ ${bad}</text>` : null}
          </g>`;
        })}
        ${nodes.map((n, i) => {
          const p = pos.get(n.id);
          const def = cat?.get(n.type);
          const bad = marks.nodes.get(i);
          const sel = selected === n.id;
          const summary = paramSummary(n, def);
          // the visible lines are the box's accessible name (WCAG 2.5.3, label in name); a cut line has
          // its whole text in the title
          const full2 = `${n.type}${summary ? ` · ${summary}` : ''}`;
          const line1 = n.id.length > 20 ? `${n.id.slice(0, 19)}…` : n.id;
          const line2 = full2.length > 26 ? `${full2.slice(0, 25)}…` : full2;
          const err = bad ? wrap(`⚠ ${bad.text}`, 30, 2) : [];
          return html`<g key=${`n${i}`} class=${`gnode${sel ? ' selected' : ''}${bad ? ' has-error' : ''}`} data-node-id=${n.id}
            transform=${`translate(${p.x} ${p.y})`} ...${readOnly ? { role: 'img' } : { role: 'button', tabindex: '0', 'aria-pressed': sel ? 'true' : 'false',
              onClick: () => onSelect(n.id),
              onKeyDown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onSelect(n.id); } } }}
>
            <title>${`Node ${n.id}: ${full2}${bad ? `. Error: ${bad.text}` : ''}`}</title>
            <rect width=${BOX_W} height=${BOX_H} rx="6" />
            <text x="10" y="20" class="node-id">${line1} </text>
            <text x="10" y="40" class="node-type">${line2} </text>
            ${bad ? html`<text x="0" y=${BOX_H + 15} class="node-error">${err.map((l, k) => html`<tspan key=${k} x="0" dy=${k ? 14 : 0}>${l} </tspan>`)}</text>` : null}
          </g>`;
        })}
      </svg>
    </div>`;
}

// GraphView: the drawing alone (the strategy page's graph when it is not being edited)
export function GraphView({ graph }) {
  const { cat } = useCatalogue();
  return html`<${Drawing} graph=${graph} cat=${cat} selected=${null} onSelect=${() => {}} readOnly
    marks=${{ nodes: new Map(), edges: new Map(), graph: [] }} idPrefix="view-g" />`;
}

// ParamField: one parameter of the chosen node, labelled, with its range and default
function ParamField({ node, p, idBase, error, onSet }) {
  const id = `${idBase}-p-${p.name}`;
  const v = node.params?.[p.name];
  const hint = p.type === 'enum' ? `default ${p.default}` : `${p.min != null ? `${p.min}` : ''}${p.min != null || p.max != null ? '..' : ''}${p.max != null ? `${p.max}` : ''}${p.min != null || p.max != null ? ', ' : ''}default ${p.default}`;
  const common = { id, 'aria-invalid': error ? 'true' : 'false', 'aria-describedby': `${id}-hint${error ? ` ${id}-err` : ''}` };
  let input;
  if (p.type === 'enum') {
    input = html`<select ...${common} value=${v ?? p.default} onChange=${(e) => onSet(e.currentTarget.value)}>
      ${p.values.map((x) => html`<option key=${x} value=${x}>${x}</option>`)}</select>`;
  } else if (p.type === 'bool') {
    input = html`<input type="checkbox" ...${common} checked=${v ?? p.default} onChange=${(e) => onSet(e.currentTarget.checked)} />`;
  } else if (p.type === 'time') {
    input = html`<input type="text" inputmode="numeric" ...${common} placeholder=${p.default} value=${v ?? ''}
      onInput=${(e) => onSet(e.currentTarget.value === '' ? undefined : e.currentTarget.value)} />`;
  } else {
    input = html`<input type="number" ...${common} step=${p.type === 'int' ? '1' : 'any'} placeholder=${String(p.default)} value=${v ?? ''}
      onInput=${(e) => { const s = e.currentTarget.value; onSet(s === '' ? undefined : Number(s)); }} />`;
  }
  return html`<div class="param">
    <label for=${id}>${p.name}</label>
    ${input}
    <p class="muted small" id=${`${id}-hint`}>${p.description} (${hint})</p>
    ${error ? html`<p class="error small" id=${`${id}-err`}>${error}</p>` : null}
  </div>`;
}

// GraphEditor: {graph, onChange(graph), errors (a 422's detail list, or null), idBase}. The graph's
// nodes and edges keep their order (a 422's index names them) and any keys the editor does not know.
export function GraphEditor({ graph, onChange, errors, idBase }) {
  const { cat, error: catError } = useCatalogue();
  const nodes = graph.nodes ?? [];
  const edges = graph.edges ?? [];
  const [selected, setSelected] = useState(nodes[0]?.id ?? null);
  const [addType, setAddType] = useState('');
  const [addId, setAddId] = useState('');
  const [msg, setMsg] = useState(null);

  // the 422's marks: node index -> {text, field}, edge index -> text, and errors of the whole graph
  const marks = useMemo(() => {
    const m = { nodes: new Map(), edges: new Map(), graph: [] };
    for (const d of errors ?? []) {
      const l = locate(d);
      if (!l) continue;
      if (l.node !== undefined && nodes[l.node]) m.nodes.set(l.node, { text: l.field ? `${l.field}: ${l.msg}` : l.msg, field: l.field, msg: l.msg });
      else if (l.edge !== undefined && edges[l.edge]) m.edges.set(l.edge, l.field ? `${l.field}: ${l.msg}` : l.msg);
      else m.graph.push(l.msg);
    }
    return m;
  }, [errors, graph]);
  // a refused graph: choose the node it names (or the node an edge in error feeds)
  useEffect(() => {
    const [ni] = marks.nodes.keys();
    const [ej] = marks.edges.keys();
    if (ni !== undefined) setSelected(nodes[ni].id);
    else if (ej !== undefined && nodes.some((n) => n.id === edges[ej].to)) setSelected(edges[ej].to);
  }, [marks]);

  const categories = useMemo(() => {
    const c = new Map();
    for (const e of cat?.values() ?? []) { if (!c.has(e.category)) c.set(e.category, []); c.get(e.category).push(e); }
    return c;
  }, [cat]);

  const set = (ns, es) => onChange({ ...graph, nodes: ns, edges: es });
  const sel = nodes.find((n) => n.id === selected) ?? null;
  const selIndex = sel ? nodes.indexOf(sel) : -1;
  const selDef = sel && cat?.get(sel.type);
  const selMark = selIndex >= 0 ? marks.nodes.get(selIndex) : null;

  const add = (e) => {
    e.preventDefault();
    if (!addType) { setMsg('Choose a node type first.'); return; }
    const id = (addId.trim() || nextId(addType, nodes));
    if (nodes.some((n) => n.id === id)) { setMsg(`There is already a node “${id}”: choose another id.`); return; }
    const def = cat.get(addType);
    const params = {};
    for (const p of def.params) if (p.name !== 'tz') params[p.name] = p.default;
    set([...nodes, def.params.length ? { id, type: addType, params } : { id, type: addType }], edges);
    setSelected(id);
    setAddId('');
    setMsg(`Added node ${id} (${addType}).`);
  };
  const remove = () => {
    if (!sel) return;
    const left = nodes.filter((n) => n !== sel);
    set(left, edges.filter((x) => x.from !== sel.id && x.to !== sel.id));
    setSelected(left[0]?.id ?? null);
    setMsg(`Deleted node ${sel.id} and its edges.`);
  };
  const setParam = (name, v) => {
    const params = { ...(sel.params ?? {}) };
    if (v === undefined) delete params[name]; else params[name] = v;
    set(nodes.map((n) => (n === sel ? { ...n, params } : n)), edges);
  };
  // connect: input port `port` of the chosen node from node `from` ('' disconnects it)
  const connect = (port, from) => {
    const j = edges.findIndex((x) => x.to === sel.id && portOf(x, cat, nodes) === port);
    let es = edges;
    if (j >= 0 && !from) es = edges.filter((_, i) => i !== j);
    else if (j >= 0) es = edges.map((x, i) => (i === j ? { ...x, from, port } : x));
    else if (from) es = [...edges, { from, to: sel.id, port }];
    set(nodes, es);
  };

  if (catError) return html`<p class="error" role="alert">The node catalogue could not be read: ${catError.message}</p>`;
  if (!cat) return html`<p class="muted">Loading the node catalogue…</p>`;
  const edgeErrorsOf = (id) => [...marks.edges].filter(([j]) => edges[j]?.to === id || edges[j]?.from === id);
  return html`
    <div class="graph-editor" data-testid="graph-editor">
      <${Drawing} graph=${graph} cat=${cat} selected=${selected} onSelect=${setSelected} marks=${marks} idPrefix=${idBase} />
      ${marks.graph.length ? html`<p class="error" data-testid="graph-error">${marks.graph.join('; ')}</p>` : null}
      <div class="graph-tools">
        <fieldset class="node-add">
          <legend>Add a node</legend>
          <div class="row">
            <div><label for=${`${idBase}-add-type`}>Type</label>
              <select id=${`${idBase}-add-type`} value=${addType} onChange=${(e) => setAddType(e.currentTarget.value)}>
                <option value="">choose a type</option>
                ${[...categories].map(([c, list]) => html`<optgroup key=${c} label=${c}>
                  ${list.map((d) => html`<option key=${d.type} value=${d.type}>${d.type}</option>`)}</optgroup>`)}
              </select></div>
            <div><label for=${`${idBase}-add-id`}>Id (optional)</label>
              <input id=${`${idBase}-add-id`} type="text" maxlength="64" value=${addId} placeholder=${addType ? nextId(addType, nodes) : ''}
                onInput=${(e) => setAddId(e.currentTarget.value)} onKeyDown=${(e) => { if (e.key === 'Enter') add(e); }} /></div>
            <div><button type="button" onClick=${add}>Add node</button></div>
          </div>
          ${addType ? html`<p class="muted small">${cat.get(addType)?.description}</p>` : null}
          ${msg ? html`<p class="small" role="status">${msg}</p>` : null}
        </fieldset>
        ${nodes.length ? html`<fieldset class="node-edit" aria-describedby=${selMark ? `${idBase}-node-err` : undefined}>
          <legend>Node</legend>
          <label for=${`${idBase}-node`}>Node</label>
          <select id=${`${idBase}-node`} value=${selected ?? ''} onChange=${(e) => setSelected(e.currentTarget.value)}>
            ${nodes.map((n, i) => html`<option key=${n.id} value=${n.id}>${n.id} (${n.type})${marks.nodes.has(i) ? ' ⚠' : ''}</option>`)}
          </select>
          ${sel ? html`
            <p class="small muted">${selDef ? `${selDef.category}: ${selDef.description.replace(/\.?$/, '.')} Output: ${selDef.output}.` : `Unknown type ${sel.type}.`}</p>
            ${selMark && !selDef?.params.some((p) => p.name === selMark.field) ? html`<p class="error" id=${`${idBase}-node-err`} data-testid="node-error">${selMark.text}</p>` : null}
            ${selMark && selDef?.params.some((p) => p.name === selMark.field) ? html`<p class="visually-hidden" id=${`${idBase}-node-err`}>${selMark.text}</p>` : null}
            ${selDef?.params.length ? html`<div class="params">${selDef.params.map((p) => html`<${ParamField} key=${`${sel.id}-${p.name}`} node=${sel} p=${p} idBase=${`${idBase}-${selIndex}`}
              error=${selMark?.field === p.name ? selMark.msg : null} onSet=${(v) => setParam(p.name, v)} />`)}</div>` : null}
            ${selDef?.inputs.length ? html`<div class="inputs">${selDef.inputs.map((inp) => {
              const cur = edges.find((x) => x.to === sel.id && portOf(x, cat, nodes) === inp.port);
              const j = cur ? edges.indexOf(cur) : -1;
              const bad = j >= 0 ? marks.edges.get(j) : null;
              const iid = `${idBase}-${selIndex}-in-${inp.port}`;
              const fits = nodes.filter((n) => n.id !== sel.id && cat.get(n.type)?.output === inp.type);
              return html`<div key=${inp.port} class="param">
                <label for=${iid}>Input ${inp.port} (${inp.type})</label>
                <select id=${iid} value=${cur?.from ?? ''} aria-invalid=${bad ? 'true' : 'false'} aria-describedby=${bad ? `${iid}-err` : undefined}
                  onChange=${(e) => connect(inp.port, e.currentTarget.value)}>
                  <option value="">not connected</option>
                  ${fits.map((n) => html`<option key=${n.id} value=${n.id}>${n.id} (${n.type})</option>`)}
                  ${cur && !fits.some((n) => n.id === cur.from) ? html`<option value=${cur.from}>${cur.from} (does not fit)</option>` : null}
                </select>
                ${bad ? html`<p class="error small" id=${`${iid}-err`}>${bad}</p>` : null}
              </div>`;
            })}</div>` : null}
            ${edgeErrorsOf(sel.id).filter(([j]) => edges[j].from === sel.id).map(([j, t]) => html`<p key=${j} class="error small">Edge to ${edges[j].to}: ${t}</p>`)}
            <p class="small">Feeds: ${edges.filter((x) => x.from === sel.id).map((x) => `${x.to}${portOf(x, cat, nodes) ? `.${portOf(x, cat, nodes)}` : ''}`).join(', ') || 'nothing'}</p>
            <div class="actions"><button type="button" class="danger" onClick=${remove}>Delete node ${sel.id}</button></div>` : null}
        </fieldset>` : null}
      </div>
    </div>`;
}

// ---------------------------------------------------------------------------------------------------
// GraphInput: the graph of a form, edited visually (GraphEditor) or as JSON (a textarea), one tab each.
// value: {tab: 'visual' | 'json', graph, text}; graphOf(value) is the graph to send (the JSON tab's text
// parsed: a SyntaxError when it is not a JSON object). refused: {graph, error} of the last save, whose
// 422 is marked on the drawing while the graph is the one that was sent.
export function graphValue(graph, tab = 'visual') {
  return { tab, graph, text: JSON.stringify(graph, null, 2) };
}

export function graphOf(value) {
  if (value.tab === 'visual') return value.graph;
  const g = JSON.parse(value.text);
  if (!g || typeof g !== 'object' || Array.isArray(g)) throw new SyntaxError('the graph must be a JSON object');
  return g;
}

export function GraphInput({ idBase, jsonId, value, onChange, refused, describedBy }) {
  const [tabError, setTabError] = useState(null);
  const error = refused?.error;
  const detail = error?.status === 422 && Array.isArray(error.detail) ? error.detail : null;
  const errors = detail && refused.graph === value.graph ? detail : null;
  const invalid = Boolean(error && (error.status !== 422 || detail?.some((d) => locate(d))));
  const show = (tab) => {
    if (tab === value.tab) return;
    if (tab === 'json') { setTabError(null); onChange({ ...value, tab, text: JSON.stringify(value.graph, null, 2) }); return; }
    let g;
    try { g = graphOf(value); } catch (e) { setTabError(`The JSON cannot be drawn: ${e.message}. Correct it first.`); return; }
    if (!Array.isArray(g.nodes) || !Array.isArray(g.edges)) { setTabError('The JSON cannot be drawn: it needs nodes and edges lists.'); return; }
    setTabError(null);
    // the same graph object as the refused one when the text did not change, so that its marks stay
    const same = refused && JSON.stringify(refused.graph, null, 2) === value.text;
    onChange({ ...value, tab, graph: same ? refused.graph : g });
  };
  const keys = (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const t = value.tab === 'visual' ? 'json' : 'visual';
      show(t);
      document.getElementById(`${idBase}-tab-${t}`)?.focus();
    }
  };
  const tab = (t, text) => html`<button type="button" role="tab" id=${`${idBase}-tab-${t}`} aria-selected=${value.tab === t ? 'true' : 'false'}
    aria-controls=${`${idBase}-panel`} tabindex=${value.tab === t ? '0' : '-1'} onClick=${() => show(t)} onKeyDown=${keys}>${text}</button>`;
  return html`
    <div class="graph-input">
      <p class="label" id=${`${idBase}-label`}>Graph</p>
      <div role="tablist" aria-labelledby=${`${idBase}-label`} class="tabs">${tab('visual', 'Visual editor')}${tab('json', 'JSON')}</div>
      ${tabError ? html`<p class="error" role="alert">${tabError}</p>` : null}
      <div role="tabpanel" id=${`${idBase}-panel`} aria-labelledby=${`${idBase}-tab-${value.tab}`} class="tabpanel">
        ${value.tab === 'visual'
          ? html`<${GraphEditor} graph=${value.graph} errors=${errors} idBase=${idBase}
              onChange=${(g) => onChange({ ...value, graph: g, text: JSON.stringify(g, null, 2) })} />`
          : html`<label for=${jsonId}>The graph as JSON (nodes, edges, meta; docs/engine.md)</label>
            <textarea id=${jsonId} class="graph-json" rows="14" spellcheck="false" value=${value.text}
              aria-invalid=${invalid ? 'true' : 'false'} aria-describedby=${describedBy}
              onInput=${(e) => onChange({ ...value, text: e.currentTarget.value })}></textarea>`}
      </div>
    </div>`;
}
