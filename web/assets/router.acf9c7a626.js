// router.js: a History API router. navigate(path) pushes a history entry; usePath() re-renders on a
// navigation or on the browser's back and forward; Link is an <a> whose plain left click navigates
// in place (a modified click opens the real URL: ex7d serves index.html at every page path).
import { useEffect, useState } from './vendor/preact-hooks.3c7bb18a23.js';
import { html } from './html.cde3ed3cc7.js';

const subs = new Set();
const notify = () => { for (const f of [...subs]) f(location.pathname); };
window.addEventListener('popstate', notify);

export function navigate(path, { replace = false } = {}) {
  if (path !== location.pathname + location.search) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  notify();
  window.scrollTo(0, 0);
}

export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => { subs.add(setPath); return () => subs.delete(setPath); }, []);
  return path;
}

export function Link({ href, children, ...rest }) {
  const current = usePath() === href;
  const onClick = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} aria-current=${current ? 'page' : undefined} ...${rest}>${children}</a>`;
}
