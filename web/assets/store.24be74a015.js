// store.js: the console's shared state (the token, the sign-in mode, the compliance banner, whether the
// server answers) as a tiny observable, and useStore, the hook that re-renders a view when it changes.
import { useEffect, useState } from './vendor/preact-hooks.3c7bb18a23.js';

const TOKEN_KEY = 'ex7.console.token';

function readToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

const state = {
  token: readToken(),      // the bearer token: memory and sessionStorage only, never a cookie
  authMode: null,          // 'login' (POST /api/auth/login answers) or 'token' (paste a token); null: not known yet
  banner: null,            // {rule, text}: CFTC Rule 4.41(b)(1)(i)
  serverDown: null,        // null, or the message of the 503 or network failure that took the server away
  notice: null,            // a message for the sign-in screen (a session that ended)
};
const subs = new Set();

export function get() { return state; }

export function set(patch) {
  let changed = false;
  for (const [k, v] of Object.entries(patch)) {
    if (state[k] !== v) { state[k] = v; changed = true; }
  }
  if ('token' in patch) {
    try {
      if (patch.token) sessionStorage.setItem(TOKEN_KEY, patch.token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch { /* storage off: the token lives in memory only */ }
  }
  if (changed) for (const f of [...subs]) f(state);
}

export function subscribe(f) {
  subs.add(f);
  return () => subs.delete(f);
}

export function useStore() {
  const [, tick] = useState(0);
  useEffect(() => subscribe(() => tick((n) => n + 1)), []);
  return state;
}
