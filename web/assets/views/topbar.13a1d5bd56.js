// topbar.js: the bar on every screen: the name, the pages, sign-out, and under it the CFTC Rule 4.41
// statement (the stream's first frame, or GET /api/billing/disclaimer before any stream).
import { html } from '../html.cde3ed3cc7.js';
import { Link } from '../router.acf9c7a626.js';
import * as store from '../store.24be74a015.js';

export function TopBar({ signedIn, onSignOut }) {
  const s = store.useStore();
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <${Link} class="brand" href="/" aria-label="ex7 console, dashboard">ex7</${Link}>
      ${signedIn ? html`
        <nav aria-label="Pages">
          <${Link} href="/">Dashboard</${Link}>
          <${Link} href="/signals">Signals</${Link}>
          <${Link} href="/strategies">Strategies</${Link}>
          <${Link} href="/alerts">Alerts</${Link}>
          <${Link} href="/account">Account</${Link}>
        </nav>
        <button type="button" class="signout" onClick=${onSignOut}>Sign out</button>` : null}
    </header>
    ${s.banner ? html`
      <aside class="compliance" aria-label="CFTC Rule 4.41 disclaimer">
        <strong>${s.banner.rule}:</strong> ${s.banner.text}
      </aside>` : null}
    ${s.serverDown ? html`<p class="outage" role="alert">${s.serverDown} Retrying…</p>` : null}`;
}
