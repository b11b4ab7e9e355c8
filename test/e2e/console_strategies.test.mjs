// test/e2e/console_strategies.test.mjs: the console's strategies screens (web/src/views/strategies.js and
// strategy.js, docs/console.md) in headless Chromium against a real ex7d under its Content-Security-Policy:
// create a strategy from a template and see it in the list; a bad graph written as JSON is refused with
// the validator's locator shown in place, a good one is created; on the strategy page a stale Promote shows
// the 409 invalid_transition in place, then unarchive and promote; start the paper runtime, the next bar
// makes it running with its last bar; force close all asks first (Escape cancels, focus in the dialog),
// then cancels the open signal; stop; edit the graph (version 2), the key diff of versions 1 and 2, roll
// back; export downloads the JSON from a Blob link, and importing that file makes a new draft. axe-core finds no serious or critical violation on
// each screen; screenshots at 375 and 1440 px go to results/console/ (EX7_E2E_OUT to put them elsewhere).
// A console error, an uncaught exception, a failed request or an error answer other than the expected
// ones (the 422 of the bad graph, the 409 of the stale promote) fails the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDb, startEx7d, token, api, uid, psql, acceptCompliance, until } from './lib.mjs';
import { WEB, launch, signedIn, screen, text, hasText, cells, hasCells, button, setValue } from './console_lib.mjs';

const U = uid('c5', 1);
let srv, browser, tok;

before(async () => {
  ensureDb();
  // strategist: the flow makes more requests than the free tier's 30 a minute
  psql(`SELECT ex7.ensure_user('${U}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${U}';
        INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
        VALUES ('${U}', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
        ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
          max_open_positions = 1000000000, max_consecutive_losses = 1000000000`);
  acceptCompliance(U); // runtime starts and force-close-all answer 412 until then
  tok = await token(U);
  [srv, browser] = await Promise.all([startEx7d({ EX7_WEB_DIR: WEB }), launch()]);
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('the strategies screens: create from a template, a bad graph refused in place, lifecycle, the paper runtime, versions, export', async () => {
  // expected error answers: the bad graph's 422 and the stale promote's 409
  const { page, problems, settle } = await signedIn(browser, srv.base, tok, { path: null,
    allow: (m, p, s) => ((m ?? 'POST') === 'POST' && p === '/api/strategies' && s === 422)
      || ((m ?? 'POST') === 'POST' && /^\/api\/strategies\/[^/]+\/promote$/.test(p) && s === 409) });
  const downloads = mkdtempSync(path.join(tmpdir(), 'ex7-console-dl-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });

  // the top bar's link to the strategies page (no reload)
  await page.goto(`${srv.base}/`, { waitUntil: 'load' }); // the dashboard's stream never lets the network idle
  await page.waitForSelector('nav a[href="/strategies"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('nav a[href="/strategies"]');
  await page.waitForSelector('#strategies-h');
  await hasText(page, 'main', /No strategies yet/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');

  // from a template: it appears in the list
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('li[data-slug="ema-crossover"] button');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'create-h', 'focus on the new panel');
  await screen(page, 'strategy-new');
  await page.click('li[data-slug="ema-crossover"] button');
  await hasText(page, '[data-testid="created"]', /Created “EMA 9\/21 crossover” \(draft, version 1\)/);
  await page.waitForSelector('tr[data-strategy-id]');
  const sid = await page.$eval('tr[data-strategy-id]', (e) => e.dataset.strategyId);
  assert.match(await cells(page, `tr[data-strategy-id="${sid}"]`), /^EMA 9\/21 crossover \| draft \| MES \| 5m \| 1 \| not started \| trend, ema, fixture \| /);
  assert.equal((await api(srv, 'GET', `/api/strategies/${sid}`, { tok })).body.status, 'draft');

  // a graph written as JSON: the validator's 422 in place, with its locator; nothing is created
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('input[name="create-way"][value="graph"]');
  await page.click('input[name="create-way"][value="graph"]');
  await page.waitForSelector('#new-g-tab-json');
  await page.click('#new-g-tab-json'); // the graph as JSON: the editor's other tab
  await page.waitForSelector('#new-graph');
  await page.type('#new-name', 'console hand-written');
  const bad = {
    nodes: [{ id: 'c', type: 'close' }, { id: 'k', type: 'constant', params: { value: 0 } }, { id: 'avg', type: 'sma', params: { period: 0 } },
      { id: 'up', type: 'gt' }, { id: 'e', type: 'enter_long' }],
    edges: [{ from: 'c', to: 'avg' }, { from: 'avg', to: 'up', port: 'a' }, { from: 'k', to: 'up', port: 'b' }, { from: 'up', to: 'e' }],
    meta: {},
  };
  await setValue(page, '#new-graph', JSON.stringify(bad, null, 2));
  await (await button(page, 'Create strategy')).click();
  await page.waitForSelector('[data-testid="error-422"]');
  assert.match(await text(page, '[data-testid="error-422"]'), /body\.graph\.nodes\[2\]\.params\.period: ensure this value is greater than or equal to 1/);
  assert.equal(await page.$eval('#new-graph', (e) => e.getAttribute('aria-invalid')), 'true');
  assert.equal((await api(srv, 'GET', '/api/strategies', { tok })).body.items.length, 1, 'the bad graph created nothing');
  await screen(page, 'strategy-graph-422');
  // not JSON at all: refused before any request
  await setValue(page, '#new-graph', '{"nodes": [');
  await (await button(page, 'Create strategy')).click();
  await hasText(page, '#new-error', /The graph is not valid JSON/);
  // fixed: created
  bad.nodes[2].params.period = 20;
  await setValue(page, '#new-graph', JSON.stringify(bad));
  await (await button(page, 'Create strategy')).click();
  await hasText(page, '[data-testid="created"]', /Created “console hand-written” \(draft, version 1\)/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 2);
  // the status filter
  await page.select('#f-status', 'ready');
  await hasText(page, 'main', /No strategies match these filters/);
  await page.select('#f-status', '');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 2);
  await screen(page, 'strategies');

  // the strategy page
  await page.click(`tr[data-strategy-id="${sid}"] a`);
  await page.waitForSelector('#strategy-h');
  assert.equal(new URL(page.url()).pathname, `/strategies/${sid}`);
  await hasText(page, '[data-testid="runtime-status"]', /State: not started/);
  // a stale page: the strategy was archived elsewhere; Promote answers 409 invalid_transition, shown in place
  assert.equal((await api(srv, 'POST', `/api/strategies/${sid}/archive`, { tok })).status, 200);
  await (await button(page, 'Promote to ready')).click();
  await hasText(page, '[data-testid="lifecycle-error"]', /Cannot promote a strategy in status archived: from archived it can only go to draft \(invalid transition\)/);
  await hasText(page, '[data-testid="strategy-status"]', /archived/); // read again
  await (await button(page, 'Unarchive')).click();
  await hasText(page, '[data-testid="strategy-status"]', /draft/);
  await (await button(page, 'Promote to ready')).click();
  await hasText(page, '[data-testid="strategy-status"]', /ready/);
  assert.equal(await page.$('[data-testid="lifecycle-error"] .error'), null, 'the error went with the next success');

  // the paper runtime: start, the next bar makes it running
  await (await button(page, 'Start (paper)')).click();
  await hasText(page, '[data-testid="runtime-status"]', /State: starting/);
  // the newest MES 5m close time in trading hours that no stored bar has passed (the dispatcher takes only
  // a bar newer than every stored one of its series)
  const ts = psql(`SELECT t FROM generate_series(date_bin('5 minutes', now(), timestamptz '2000-01-01'), now() - interval '5 days', interval '-5 minutes') t
    WHERE t <= now() AND ex7.market_session('MES', t - interval '1 second') = 'open'
      AND t > coalesce((SELECT max(b.ts) FROM ex7.bars b WHERE b.instrument = 'MES' AND b.timeframe = '5m'), '-infinity')
    ORDER BY t DESC LIMIT 1`);
  assert.ok(ts, 'a MES 5m bar time to ingest');
  const bar = JSON.parse(psql(`SELECT ex7.ingest_bar('MES', '5m', '${ts}', 5000, 5001, 4999.75, 5000.5, 100)`));
  assert.equal(bar.status, 'stored', JSON.stringify(bar));
  await hasText(page, '[data-testid="runtime-status"]', /State: running/, 30000); // its own poll
  assert.notEqual(await text(page, '[data-testid="runtime-last-bar"]'), '—');

  // force close all: a dialog first (focus in it; Escape cancels, nothing changes), then the open signal goes
  const fired = JSON.parse(psql(`SELECT ex7.fire_signal('${U}', '${sid}', 'paper', 'long', 1, 5000.5, now(), 'console-strategies')`));
  assert.equal(fired.decision, 'fired', JSON.stringify(fired));
  const force = await button(page, 'Force close all…');
  await force.click();
  await page.waitForSelector('#force-close-dialog[open]');
  assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('#force-close-dialog'))), true, 'focus in the dialog');
  await hasText(page, '#force-close-dialog', /Open signals: 1/);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#force-close-dialog'));
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Force close all…', 'focus back on the button');
  assert.equal((await api(srv, 'GET', `/api/signals/${fired.signal.id}`, { tok })).body.status, 'open', 'cancel changes nothing');
  await force.click();
  await page.waitForSelector('#force-close-dialog[open]');
  await hasText(page, '#force-close-dialog', /Open signals: 1/);
  await screen(page, 'force-close-confirm');
  await page.click('#force-close-dialog button.danger');
  await hasText(page, '.strategy [role="status"]', /Force close: 1 open signal cancelled/);
  assert.equal(await page.$('#force-close-dialog'), null);
  assert.equal((await api(srv, 'GET', `/api/signals/${fired.signal.id}`, { tok })).body.status, 'cancelled');

  // stop: no open signal left, so stopped at once
  await (await button(page, 'Stop')).click();
  await hasText(page, '[data-testid="runtime-status"]', /State: stopped/);

  // the graph edited as JSON: version 2; the key diff of versions 1 and 2; rollback to 1 (version 3)
  await (await button(page, 'Edit graph')).click();
  await page.waitForSelector('[data-testid="graph-editor"]'); // the visual editor first
  await page.click('#edit-g-tab-json');
  await page.waitForSelector('#edit-graph');
  const g = JSON.parse(await page.$eval('#edit-graph', (e) => e.value));
  g.nodes.find((n) => n.id === 'fast').params.period = 10;
  await setValue(page, '#edit-graph', JSON.stringify(g, null, 2));
  await page.type('#edit-note', 'faster EMA');
  await (await button(page, 'Save as a new version')).click();
  await hasText(page, '#graph-h', /version 2/);
  await page.waitForSelector('tr[data-version="2"]');
  assert.match(await cells(page, 'tr[data-version="2"]'), /^2 \(current\) \| .* \| faster EMA \| /);
  await (await button(page, 'Compare graphs')).click();
  await page.waitForSelector('[data-testid="graph-diff"] table');
  assert.match(await text(page, '[data-testid="graph-diff"]'), /version 1 → version 2: 1 difference/);
  assert.equal(await cells(page, '[data-testid="graph-diff"] tbody tr'), 'nodes[id=fast].params.period changed | 9 | 10');
  await screen(page, 'strategy');
  await page.click('button[aria-label="Roll back to version 1"]');
  await hasText(page, '#graph-h', /version 3/);
  await page.waitForSelector('tr[data-version="3"]');
  assert.match(await cells(page, 'tr[data-version="3"]'), /^3 \(current\) \| .* \| rollback to version 1 \| /);
  assert.equal((await api(srv, 'GET', `/api/strategies/${sid}`, { tok })).body.graph.nodes.find((n) => n.id === 'fast').params.period, 9);

  // export: the JSON from a Blob link, downloaded
  await (await button(page, 'Export')).click();
  await page.waitForSelector('[data-testid="export-link"]');
  assert.match(await page.$eval('[data-testid="export-link"]', (e) => e.href), /^blob:/);
  await page.click('[data-testid="export-link"]');
  const file = await until(() => readdirSync(downloads).find((f) => f.endsWith('.json')), 15000, 'the downloaded export');
  assert.equal(file, 'ema-9-21-crossover.ex7.json');
  const doc = JSON.parse(readFileSync(path.join(downloads, file), 'utf8'));
  assert.equal(doc.format, 'ex7.strategy/v1');
  assert.equal(doc.name, 'EMA 9/21 crossover');
  assert.equal(doc.graph.nodes.find((n) => n.id === 'fast').params.period, 9);

  // back to the list through the crumbs: the runtime column
  await page.click('.crumbs a');
  await page.waitForSelector(`tr[data-strategy-id="${sid}"]`);
  await hasCells(page, `tr[data-strategy-id="${sid}"]`, /^EMA 9\/21 crossover \| ready \| MES \| 5m \| 3 \| stopped \| /);
  // the exported file imported again: a new draft, its name suffixed (the original holds it)
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('input[name="create-way"][value="file"]');
  await page.click('input[name="create-way"][value="file"]');
  const input = await page.waitForSelector('#import-file');
  await input.uploadFile(path.join(downloads, file));
  await (await button(page, 'Import')).click();
  await hasText(page, '[data-testid="created"]', /Created “EMA 9\/21 crossover \(2\)” \(draft, version 1\)/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-strategy-id]').length === 3);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});

test('the graph editor: a graph built with the keyboard and selects, saved; a refused one marked on the node the 422 names', async () => {
  const { page, problems, settle } = await signedIn(browser, srv.base, tok, { path: '/strategies',
    allow: (m, p, s) => (m ?? 'PUT') === 'PUT' && /^\/api\/strategies\/[^/]+$/.test(p) && s === 422 });
  await (await button(page, 'New strategy')).click();
  await page.waitForSelector('input[name="create-way"][value="graph"]');
  await page.click('input[name="create-way"][value="graph"]');
  // the visual editor is the first tab, with the example graph drawn (six boxes)
  await page.waitForSelector('[data-testid="graph-editor"] svg .gnode');
  assert.equal(await page.$$eval('[data-testid="graph-editor"] .gnode', (l) => l.length), 6);
  await (await button(page, 'Start from an empty graph')).click();
  await hasText(page, '[data-testid="graph-editor"]', /The graph is empty/);
  // nodes added from the catalogue (GET /api/engines), each by its type and id
  const addNode = async (type, id) => {
    await page.select('#new-g-add-type', type);
    await setValue(page, '#new-g-add-id', id);
    await (await button(page, 'Add node')).click();
    await page.waitForSelector(`.gnode[data-node-id="${id}"]`);
  };
  await addNode('close', 'c');
  await addNode('constant', 'k');
  await addNode('gt', 'up');
  await addNode('enter_long', 'e');
  // the keyboard: Tab to a box and Enter chooses it; its form is labelled
  await page.$eval('.gnode[data-node-id="c"]', (e) => e.focus());
  await page.keyboard.press('Tab'); // the next box: k
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.nodeId), 'k');
  await page.keyboard.press('Enter');
  assert.equal(await page.$eval('#new-g-node', (e) => e.value), 'k');
  assert.equal(await page.$eval('.gnode[data-node-id="k"]', (e) => e.getAttribute('aria-pressed')), 'true');
  await page.$eval('#new-g-1-p-value', (e) => e.focus());
  await page.keyboard.down('Control'); await page.keyboard.press('a'); await page.keyboard.up('Control');
  await page.keyboard.type('4000');
  assert.match(await text(page, 'label[for="new-g-1-p-value"]'), /^value$/);
  // inputs connected through their selects (only the nodes whose output fits the port are offered)
  await page.select('#new-g-node', 'up');
  assert.deepEqual(await page.$$eval('#new-g-2-in-a option', (l) => l.map((o) => o.value)), ['', 'c', 'k']);
  await page.select('#new-g-2-in-a', 'c');
  await page.select('#new-g-2-in-b', 'k');
  await page.select('#new-g-node', 'e');
  assert.deepEqual(await page.$$eval('#new-g-3-in-when option', (l) => l.map((o) => o.value)), ['', 'up']);
  await page.select('#new-g-3-in-when', 'up');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="graph-editor"] .gedge').length === 3);
  await screen(page, 'strategy-editor');
  await page.type('#new-name', 'console visual');
  await (await button(page, 'Create strategy')).click();
  await hasText(page, '[data-testid="created"]', /Created “console visual” \(draft, version 1\)/);
  const vid = await page.$eval('[data-testid="created"] a', (a) => a.getAttribute('href').split('/').pop());
  const made = (await api(srv, 'GET', `/api/strategies/${vid}`, { tok })).body.graph;
  assert.deepEqual(made.nodes.map((n) => [n.id, n.type]), [['c', 'close'], ['k', 'constant'], ['up', 'gt'], ['e', 'enter_long']]);
  assert.equal(made.nodes[1].params.value, 4000);
  assert.deepEqual(made.edges.map((e) => `${e.from}>${e.to}.${e.port}`), ['c>up.a', 'k>up.b', 'up>e.when']);

  // its page: the graph drawn; Edit graph; a node added with a period out of range and connected
  await page.click('[data-testid="created"] a');
  await page.waitForSelector('#strategy-h');
  await page.waitForSelector('.gnode[data-node-id="up"]');
  await (await button(page, 'Edit graph')).click();
  await page.waitForSelector('#edit-g-add-type');
  await page.select('#edit-g-add-type', 'sma');
  await setValue(page, '#edit-g-add-id', 'avg');
  await (await button(page, 'Add node')).click();
  await page.waitForSelector('.graph-editor .gnode[data-node-id="avg"]');
  assert.equal(await page.$eval('#edit-g-node', (e) => e.value), 'avg', 'the new node is chosen');
  await setValue(page, '#edit-g-4-p-period', '0');
  await page.select('#edit-g-4-in-in', 'c');
  await page.select('#edit-g-node', 'up');
  await page.select('#edit-g-2-in-b', 'avg');
  await (await button(page, 'Save as a new version')).click();
  // the 422's locator ["body","graph","nodes",4,"params","period"] on the node it names
  await page.waitForSelector('.graph-editor .gnode.has-error');
  assert.equal(await page.$eval('.graph-editor .gnode.has-error', (e) => e.dataset.nodeId), 'avg');
  assert.match(await text(page, '.graph-editor .gnode.has-error .node-error'), /period: ensure this value is greater than or equal to 1/);
  assert.equal(await page.$eval('#edit-g-node', (e) => e.value), 'avg', 'the node in error is chosen');
  assert.equal(await page.$eval('#edit-g-4-p-period', (e) => e.getAttribute('aria-invalid')), 'true');
  assert.match(await text(page, '#edit-g-4-p-period-err'), /ensure this value is greater than or equal to 1/);
  assert.match(await text(page, '[data-testid="error-422"]'), /body\.graph\.nodes\[4\]\.params\.period/);
  await screen(page, 'strategy-editor-422');
  // corrected: the mark goes with the change; saved as version 2
  await setValue(page, '#edit-g-4-p-period', '5');
  await page.waitForFunction(() => !document.querySelector('.graph-editor .has-error'));
  await (await button(page, 'Save as a new version')).click();
  await hasText(page, '#graph-h', /version 2/);
  const saved = (await api(srv, 'GET', `/api/strategies/${vid}`, { tok })).body.graph;
  assert.deepEqual(saved.nodes[4], { id: 'avg', type: 'sma', params: { period: 5 } });
  assert.deepEqual(saved.edges.map((e) => `${e.from}>${e.to}.${e.port}`), ['c>up.a', 'avg>up.b', 'up>e.when', 'c>avg.in']);

  // a cycle: the 422 names an edge, drawn in red; Delete node removes a node with its edges
  await (await button(page, 'Edit graph')).click();
  await page.waitForSelector('#edit-g-node');
  await page.select('#edit-g-node', 'avg');
  // up is not offered for a series input: its output is boolean
  assert.deepEqual(await page.$$eval('#edit-g-4-in-in option', (l) => l.map((o) => o.value)), ['', 'c', 'k']);
  await page.select('#edit-g-add-type', 'add');
  await setValue(page, '#edit-g-add-id', 'sum');
  await (await button(page, 'Add node')).click();
  await page.waitForSelector('#edit-g-5-in-a');
  await page.select('#edit-g-5-in-a', 'avg');
  await page.select('#edit-g-5-in-b', 'k');
  await page.select('#edit-g-node', 'avg');
  await page.select('#edit-g-4-in-in', 'sum');
  await (await button(page, 'Save as a new version')).click();
  await page.waitForSelector('.graph-editor .gedge.has-error');
  assert.match(await text(page, '[data-testid="error-422"]'), /body\.graph\.edges\[\d+\]: graph has a cycle/);
  await page.select('#edit-g-node', 'sum');
  await (await button(page, 'Delete node sum')).click();
  await page.waitForFunction(() => !document.querySelector('.graph-editor .gnode[data-node-id="sum"]'));
  await page.select('#edit-g-node', 'avg');
  assert.equal(await page.$eval('#edit-g-4-in-in', (e) => e.value), '', 'its edges went with it');
  await page.select('#edit-g-4-in-in', 'c');
  await setValue(page, '#edit-g-4-p-period', '6');
  await (await button(page, 'Save as a new version')).click();
  await hasText(page, '#graph-h', /version 3/);
  assert.equal((await api(srv, 'GET', `/api/strategies/${vid}`, { tok })).body.graph.nodes.length, 5);
  await settle();
  assert.deepEqual(problems, [], 'no console error, failed request or unexpected error answer');
  await page.close();
});
