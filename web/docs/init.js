// web/docs/init.js: renders /openapi.json with Redoc into #redoc (web/docs/index.html; docs/console.md,
// "Serving"). A file of its own: the Content-Security-Policy allows no inline script.
/* global Redoc */
'use strict';
Redoc.init('/openapi.json', {
  // the search index runs in a blob: worker, which the policy does not allow (worker-src falls back to
  // script-src 'self')
  disableSearch: true,
  // no web fonts from elsewhere: the policy allows only this origin's (font-src 'self')
  theme: { typography: { fontFamily: 'system-ui, sans-serif', headings: { fontFamily: 'system-ui, sans-serif' },
    code: { fontFamily: 'ui-monospace, monospace' } } },
  expandResponses: '200,201',
}, document.getElementById('redoc'), (err) => {
  if (err) {
    const p = document.createElement('p');
    p.textContent = `The API reference could not be rendered: ${err.message || err}`;
    document.body.prepend(p);
  }
});
