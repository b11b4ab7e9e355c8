// main.js: the console's entry module: the top bar, then the sign-in screen or the page the path names.
import { render } from './vendor/preact.6d0f985e12.js';
import { useEffect } from './vendor/preact-hooks.3c7bb18a23.js';
import { html } from './html.cde3ed3cc7.js';
import * as api from './api.be17d892af.js';
import * as store from './store.24be74a015.js';
import { usePath, Link } from './router.acf9c7a626.js';
import { TopBar } from './views/topbar.13a1d5bd56.js';
import { SignIn } from './views/signin.738ce4dc00.js';
import { Dashboard } from './views/dashboard.bf3f951e00.js';
import { Signals } from './views/signals.a30fa42698.js';
import { SignalDetail } from './views/signal.a0775bc3dd.js';
import { Backtest, BacktestNew } from './views/backtests.c81b9d5236.js';
import { Strategies } from './views/strategies.e05675a3a5.js';
import { Strategy } from './views/strategy.fb4e43f8a1.js';
import { Alerts } from './views/alerts.17489bd8a6.js';
import { Account } from './views/account.e63f02ea5b.js';

const PAGES = { '/': Dashboard, '/signals': Signals, '/strategies': Strategies, '/alerts': Alerts, '/account': Account };
const TITLES = { '/': 'Dashboard', '/signals': 'Signals', '/strategies': 'Strategies', '/alerts': 'Alerts', '/account': 'Account' };
// pages whose path holds an id: [pattern, view, title]; the pattern's named groups are the view's props
const ROUTES = [
  [/^\/signals\/(?<id>[^/]+)\/?$/, SignalDetail, 'Signal'],
  [/^\/backtests\/new\/?$/, BacktestNew, 'New backtest'],
  [/^\/backtests\/(?<id>[^/]+)\/?$/, Backtest, 'Backtest'],
  [/^\/strategies\/(?<id>[^/]+)\/?$/, Strategy, 'Strategy'],
];
function route(path) {
  if (PAGES[path]) return [PAGES[path], TITLES[path], {}];
  for (const [re, view, title] of ROUTES) {
    const m = re.exec(path);
    if (m) return [view, title, { ...m.groups }];
  }
  return [NotFound, 'Not found', {}];
}

function NotFound() {
  return html`<main id="main" class="card notfound" tabindex="-1"><h1>Page not found</h1>
    <p>There is no page at ${location.pathname}. <${Link} href="/">Go to the dashboard</${Link}></p></main>`;
}

function App() {
  const s = store.useStore();
  const path = usePath();
  useEffect(() => {
    // the 4.41 statement before any stream has sent it (public)
    api.get('/api/billing/disclaimer', { auth: false }).then((d) => {
      if (!store.get().banner) store.set({ banner: { rule: d.rule, text: d.text } });
    }, () => { /* shown by the stream once signed in */ });
  }, []);
  const signedIn = Boolean(s.token);
  useEffect(() => {
    document.title = `${signedIn ? route(path)[1] : 'Sign in'} · ex7 console`;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path, signedIn]);
  const signOut = () => store.set({ token: null, notice: 'You are signed out.' });
  const [Page, , params] = route(path);
  return html`
    <${TopBar} signedIn=${signedIn} onSignOut=${signOut} />
    ${signedIn ? html`<${Page} key=${path} ...${params} />` : html`<${SignIn} />`}`;
}

render(html`<${App} />`, document.getElementById('app'));
