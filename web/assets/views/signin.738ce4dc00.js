// signin.js: the sign-in screen. Which form it shows depends on the server: with the self-hosted login
// (EX7_AUTH_ENABLED, docs/account.md) POST /api/auth/login answers and the screen asks for an email and a
// password; without it every /api/auth/* route answers 404 and the screen takes a bearer token pasted from
// the identity provider. The token is kept in memory and sessionStorage (never a cookie).
import { useEffect, useRef, useState } from '../vendor/preact-hooks.3c7bb18a23.js';
import { html } from '../html.cde3ed3cc7.js';
import * as api from '../api.be17d892af.js';
import * as store from '../store.24be74a015.js';

// detectAuthMode: an empty login request: 404 means no self-hosted login; any other answer (422 for the
// missing fields) means there is one. Remembered for the tab.
export async function detectAuthMode() {
  let mode = null;
  try { mode = sessionStorage.getItem('ex7.console.authMode'); } catch { /* no storage */ }
  if (mode !== 'login' && mode !== 'token') {
    try {
      await api.post('/api/auth/login', {}, { auth: false, quiet: true });
      mode = 'login';
    } catch (e) {
      if (e.status === 0 || e.status >= 500) throw e;
      mode = e.status === 404 ? 'token' : 'login';
    }
    try { sessionStorage.setItem('ex7.console.authMode', mode); } catch { /* no storage */ }
  }
  store.set({ authMode: mode });
  return mode;
}

function ErrorText({ id, error }) {
  return error ? html`<p id=${id} class="error" role="alert">${error}</p>` : null;
}

function LoginForm({ onToken }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post('/api/auth/login', { email, password }, { auth: false });
      store.set({ token: r.access_token, notice: null });
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="card signin" onSubmit=${submit} aria-describedby=${error ? 'signin-error' : undefined}>
      <h1>Sign in</h1>
      <label for="signin-email">Email</label>
      <input id="signin-email" type="email" autocomplete="username" required value=${email}
        onInput=${(e) => setEmail(e.currentTarget.value)} />
      <label for="signin-password">Password</label>
      <input id="signin-password" type="password" autocomplete="current-password" required minlength="8"
        value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
      <${ErrorText} id="signin-error" error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <button type="button" class="link" onClick=${onToken}>Use an access token instead</button>
    </form>`;
}

function TokenForm({ onLogin }) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const token = value.trim().replace(/^Bearer\s+/i, '');
    if (!token) { setError('Paste an access token.'); return; }
    setBusy(true);
    setError(null);
    try {
      // the token is checked before it is kept: a route every signed-in user may read
      await api.get('/api/risk/state?mode=paper', { token });
      store.set({ token, notice: null });
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="card signin" onSubmit=${submit}>
      <h1>Sign in</h1>
      <p class="hint" id="token-hint">Paste the access token (a JWT) your identity provider issued. It stays in
        this tab only and is forgotten when you sign out or close the tab.</p>
      <label for="signin-token">Access token</label>
      <textarea id="signin-token" rows="4" required spellcheck="false" autocomplete="off"
        aria-describedby="token-hint" value=${value} onInput=${(e) => setValue(e.currentTarget.value)}></textarea>
      <${ErrorText} id="token-error" error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
      ${onLogin ? html`<button type="button" class="link" onClick=${onLogin}>Sign in with email and password</button>` : null}
    </form>`;
}

export function SignIn() {
  const s = store.useStore();
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const heading = useRef(null);
  const detect = () => {
    setError(null);
    detectAuthMode().then(setForm, (e) => setError(`Cannot reach the server: ${e.message}`));
  };
  useEffect(() => { if (s.authMode) setForm(s.authMode); else detect(); }, []);
  useEffect(() => { heading.current?.focus(); }, [form]);
  return html`
    <main id="main" class="signin-page" tabindex="-1" ref=${heading}>
      ${s.notice ? html`<p class="notice" role="status">${s.notice}</p>` : null}
      ${error ? html`<div class="card"><p class="error" role="alert">${error}</p>
        <button type="button" onClick=${detect}>Try again</button></div>` : null}
      ${!form && !error ? html`<p class="muted" role="status">Connecting…</p>` : null}
      ${form === 'login' ? html`<${LoginForm} onToken=${() => setForm('token-only')} />` : null}
      ${form === 'token' ? html`<${TokenForm} />` : null}
      ${form === 'token-only' ? html`<${TokenForm} onLogin=${() => setForm('login')} />` : null}
    </main>`;
}
