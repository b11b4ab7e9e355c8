// stream.js: the live signal stream (GET /api/signals/stream, docs/stream.md) read by the browser's own
// EventSource. An EventSource cannot send the bearer header, so each connection starts with a single-use
// ticket (POST /api/signals/stream/ticket, docs/stream.md "Tickets for browsers") passed as ?ticket=. A
// ticket is spent once the stream opens, so the EventSource's own reconnect (the same URL) would be
// refused: on any error the console closes it and opens a new one after a backoff (1 s, doubling to 30 s;
// a 429's Retry-After), with a fresh ticket and, once an event has arrived, the last id
// received as ?last_event_id= (a new EventSource sends no Last-Event-ID header), so the stream replays
// every event missed meanwhile, each once. An EventSource hides the status of a refused opening, so after
// an error the console asks GET /api/health (the server there at all?) and then HEAD on the stream with
// the bearer header, which answers the stream's status without opening it: a 429 waits its Retry-After; a
// refusal a reconnect cannot fix (401, 403, 412 compliance documents not accepted, 422) stops the feed.
import * as api from './api.js';
import * as store from './store.js';

const KINDS = ['signal', 'signal_closed', 'risk_lock', 'trading_state'];

// what a refused stream's status means (HEAD has no body to carry the detail)
const REFUSED = {
  401: 'Your session is no longer valid: sign in again.',
  403: 'This account may not open the live feed.',
  412: 'Accept the compliance documents on the Account page to open the live feed.',
  422: 'The live feed refused its parameters.',
};

// openStream({onEvent(kind, data, id), onState(state, message, status)}): state is 'connecting', 'live',
// 'lost' (reconnecting) or 'failed' (a refusal that a reconnect will not fix; status is its HTTP status).
// Returns {close()}.
export function openStream({ onEvent, onState }) {
  let stopped = false;
  let es = null;
  let timer = null;
  let attempt = 0;
  let lastId = null;

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
    const delay = after ?? Math.min(30000, 1000 * 2 ** attempt);
    attempt = Math.min(attempt + 1, 5);
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  };

  const refused = (e) => {
    if (e.status === 429) return again(e.message, (e.retryAfter ?? 5) * 1000);
    if ([401, 403, 412, 422].includes(e.status)) {
      if (e.status === 401) store.set({ token: null, notice: `Your session ended: ${e.message}. Sign in again.` });
      onState('failed', e.message, e.status);
      return undefined;
    }
    return again(e.message);
  };

  // why: after an error, whether the server is there, and what the stream answers (HEAD: its status, no body)
  async function why() {
    try {
      await api.get('/api/health', { auth: false });
    } catch {
      return again('the server is unavailable; reconnecting when it is back.');
    }
    let res;
    try {
      res = await fetch('/api/signals/stream', { method: 'HEAD', headers: { Authorization: `Bearer ${store.get().token}` }, cache: 'no-store', credentials: 'omit' });
    } catch {
      return again('the server cannot be reached; reconnecting.');
    }
    if (stopped) return undefined;
    if (res.ok) return again('the connection dropped; reconnecting.');
    const ra = res.headers.get('Retry-After');
    return refused(new api.ApiError(res.status, REFUSED[res.status] ?? `the live feed answered ${res.status}`,
      ra !== null && Number.isFinite(Number(ra)) ? Number(ra) : null));
  }

  async function connect() {
    if (stopped) return;
    onState('connecting');
    let ticket;
    try {
      ticket = await api.post('/api/signals/stream/ticket', undefined);
    } catch (e) {
      return refused(e);
    }
    if (stopped) return;
    const q = new URLSearchParams({ ticket: ticket.ticket });
    if (lastId !== null) q.set('last_event_id', lastId);
    const src = new EventSource(`/api/signals/stream?${q}`);
    es = src;
    src.onopen = () => { attempt = 0; onState('live'); };
    src.onerror = () => {
      // a refused opening (CLOSED) or a dropped stream (CONNECTING, which would reuse the spent ticket)
      src.close();
      if (es !== src) return;
      es = null;
      why();
    };
    src.addEventListener('compliance', (e) => deliver('compliance', e.data, ''));
    for (const k of KINDS) src.addEventListener(k, (e) => deliver(k, e.data, e.lastEventId));
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (es) { es.close(); es = null; }
    },
  };
}
