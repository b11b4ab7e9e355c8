// api.js: every call to ex7d's REST API (same origin). Errors become ApiError with the answer's `detail`
// made readable and, on a 429, the seconds of Retry-After. A 503 or a failed fetch marks the server as
// away (the app shows a banner) and starts polling GET /api/health until it answers 200 again; a 401 on an
// authenticated call ends the session (the token expired or was revoked).
import * as store from './store.js';

export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(describe(status, detail, retryAfter));
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

// formatDetail: the `detail` of an error answer (docs/errors.md) as one line: a string as is, a 422's
// list of {loc, msg} as "where: what", an object by its message or code
export function formatDetail(detail) {
  if (detail == null) return '';
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && typeof d === 'object'
      ? `${Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body' && x !== 'query').join('.') + ': ' : ''}${d.msg ?? d.message ?? JSON.stringify(d)}`
      : String(d))).join('; ');
  }
  if (typeof detail === 'object') {
    const text = detail.message ?? detail.msg ?? detail.reason ?? detail.detail;
    if (typeof text === 'string') return detail.code ? `${text} (${detail.code})` : text;
    return detail.code ? String(detail.code).replace(/_/g, ' ') : JSON.stringify(detail);
  }
  return String(detail);
}

function describe(status, detail, retryAfter) {
  const text = formatDetail(detail) || (status ? `HTTP ${status}` : 'the server cannot be reached');
  if (status === 429) return `${text} (too many requests: retry in ${retryAfter ?? 'a few'} s)`;
  return text;
}

function retryAfterOf(res) {
  const v = res.headers.get('Retry-After');
  if (!v) return null;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, Math.ceil((t - Date.now()) / 1000)) : null;
}

// ---------------------------------------------------------------------------------------------------
// the server away and back
let healthTimer = null;

function serverAway(message) {
  store.set({ serverDown: message });
  if (healthTimer) return;
  const poll = async () => {
    healthTimer = null;
    try {
      const res = await fetch('/api/health', { cache: 'no-store' });
      if (res.ok) { serverBack(); return; }
    } catch { /* still away */ }
    healthTimer = setTimeout(poll, 3000);
  };
  healthTimer = setTimeout(poll, 2000);
}

function serverBack() {
  if (healthTimer) { clearTimeout(healthTimer); healthTimer = null; }
  if (store.get().serverDown) {
    store.set({ serverDown: null });
    window.dispatchEvent(new Event('ex7:server-back'));
  }
}

// ---------------------------------------------------------------------------------------------------
// request: method, path (with its query), options {body, auth (default true), token (another than the
// session's: a pasted one being checked), quiet (no server-away banner: a probe), headers (more request
// headers: If-Match)}; resolves to the parsed JSON, rejects with ApiError
export async function request(method, path, { body, auth = true, quiet = false, token: given, headers: extra } = {}) {
  const headers = { Accept: 'application/json', ...extra };
  const token = given ?? store.get().token;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store', credentials: 'omit' });
  } catch {
    if (!quiet) serverAway('The server cannot be reached.');
    throw new ApiError(0, 'the server cannot be reached', null);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.ok) {
    if (!quiet) serverBack();
    return data;
  }
  const err = new ApiError(res.status, data && typeof data === 'object' && 'detail' in data ? data.detail : text.slice(0, 200), retryAfterOf(res));
  if (!quiet && res.status === 503) serverAway(`The server is unavailable: ${err.message}`);
  if (!quiet && res.status === 401 && auth && token && store.get().token === token) {
    store.set({ token: null, notice: `Your session ended: ${err.message}. Sign in again.` });
  }
  return Promise.reject(err);
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const put = (path, body, opts) => request('PUT', path, { ...opts, body });
