// stream.js: the live signal stream (GET /api/signals/stream, docs/stream.md). An EventSource cannot send
// the bearer header, so each connection starts with a single-use ticket (POST /api/signals/stream/ticket)
// passed as ?ticket=. A ticket is spent once the stream opens, so the EventSource's own reconnect (same
// URL) could not work: on any error the console closes it and connects again after a backoff (1 s
// doubling to 30 s). Before any event arrived that is a fresh ticket and a new EventSource; after one, the
// stream must resume after the last event id received, which it takes only as the Last-Event-ID header
// (no query parameter), so the console reads that stream with fetch, which can send the bearer header and
// Last-Event-ID. A server without the ticket route (404) is read with fetch from the start.
import * as api from './api.be17d892af.js';
import * as store from './store.24be74a015.js';

const KINDS = ['signal', 'signal_closed', 'risk_lock', 'trading_state'];

// openStream({onEvent(kind, data, id), onState(state, message)}): state is 'connecting', 'live', 'lost'
// (reconnecting) or 'failed' (a refusal that a reconnect will not fix: 401, 403, 412, 422). Returns
// {close()}.
export function openStream({ onEvent, onState }) {
  let stopped = false;
  let es = null;
  let ctrl = null;
  let timer = null;
  let attempt = 0;
  let lastId = null;
  let viaFetch = false;
  let retryMs = null;

  const deliver = (kind, raw, id) => {
    if (id) lastId = id;
    let data;
    try { data = JSON.parse(raw); } catch { return; }
    if (kind === 'compliance') store.set({ banner: { rule: data.rule, text: data.text } });
    else if (KINDS.includes(kind)) onEvent(kind, data, id ? Number(id) : null);
  };

  const again = (message, after) => {
    if (stopped) return;
    onState('lost', message);
    const delay = after ?? Math.min(30000, (retryMs ?? 1000) * 2 ** attempt);
    attempt = Math.min(attempt + 1, 5);
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  };

  const refused = (e) => {
    if (e.status === 429) return again(e.message, (e.retryAfter ?? 5) * 1000);
    if ([401, 403, 412, 422].includes(e.status)) { onState('failed', e.message); return undefined; }
    return again(e.message);
  };

  async function connect() {
    if (stopped) return;
    onState('connecting');
    // resuming after an event needs Last-Event-ID, which only fetch can send
    if (viaFetch || lastId !== null) return connectFetch();
    let ticket;
    try {
      ticket = await api.post('/api/signals/stream/ticket', undefined);
    } catch (e) {
      if (e.status === 404 || e.status === 405) { viaFetch = true; return connectFetch(); }
      return refused(e);
    }
    if (stopped) return;
    const q = new URLSearchParams({ ticket: ticket.ticket });
    const src = new EventSource(`/api/signals/stream?${q}`);
    es = src;
    src.onopen = () => { attempt = 0; onState('live'); };
    src.onerror = () => {
      // a refused opening (CLOSED) or a dropped stream (CONNECTING, which would reuse the spent ticket)
      src.close();
      if (es !== src) return;
      es = null;
      // the stream's own status is hidden from an EventSource: ask the API whether the server is there
      api.get('/api/health', { auth: false }).then(() => again('The live feed was interrupted; reconnecting.'),
        () => again('The server is unavailable; the live feed will reconnect.'));
    };
    src.addEventListener('compliance', (e) => deliver('compliance', e.data, ''));
    for (const k of KINDS) src.addEventListener(k, (e) => deliver(k, e.data, e.lastEventId));
  }

  async function connectFetch() {
    ctrl = new AbortController();
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${store.get().token}` };
    if (lastId !== null) headers['Last-Event-ID'] = lastId;
    let res;
    try {
      res = await fetch('/api/signals/stream', { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
    } catch {
      return stopped ? undefined : again('The server cannot be reached; the live feed will reconnect.');
    }
    if (!res.ok) {
      let detail = null;
      try { detail = (await res.json()).detail; } catch { /* not JSON */ }
      const ra = Number(res.headers.get('Retry-After'));
      return refused(new api.ApiError(res.status, detail, Number.isFinite(ra) && res.headers.has('Retry-After') ? ra : null));
    }
    attempt = 0;
    onState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let kind = 'message';
          let id = '';
          const data = [];
          for (const line of block.split('\n')) {
            if (!line || line[0] === ':') continue;
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (field === 'event') kind = v;
            else if (field === 'data') data.push(v);
            else if (field === 'id') id = v;
            else if (field === 'retry' && /^\d+$/.test(v)) retryMs = Number(v);
          }
          if (data.length) deliver(kind, data.join('\n'), id);
        }
      }
    } catch { /* aborted or cut */ }
    if (!stopped) again('The live feed was interrupted; reconnecting.');
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (es) { es.close(); es = null; }
      if (ctrl) ctrl.abort();
    },
  };
}
