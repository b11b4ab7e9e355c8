// test/e2e/engines.test.mjs: the strategy graph engine over HTTP (docs/engine.md): GET /api/engines (the node
// catalog, token required), POST /api/strategies/from-fixture/{slug} (201, unknown slug 404), and graph
// validation errors as 422 with their locators on create, update and import. The rules themselves are
// tested in sql/engines.sql, sql/graph_validation.sql and sql/indicators.sql.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDb, startEx7d, token, api, uid, psql, GRAPH } from './lib.mjs';

let srv, tok;
const A = uid('e4', 1);
before(async () => {
  ensureDb();
  psql(`SELECT ex7.ensure_user('${A}'); UPDATE ex7.users SET tier = 'strategist' WHERE id = '${A}'`);
  srv = await startEx7d();
  tok = await token(A);
});
after(async () => { await srv.stop(); });

test('GET /api/engines: the node catalog, for any signed-in user, never anonymously', async () => {
  let r = await api(srv, 'GET', '/api/engines');
  assert.equal(r.status, 401, 'List Engines: "Auth required so we don\'t leak our stack to scrapers"');
  r = await api(srv, 'GET', '/api/engines', { tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, JSON.parse(psql('SELECT ex7.list_engines()')), 'the body is the SQL function\'s, unchanged');
  const byType = Object.fromEntries(r.body.engines.map((e) => [e.type, e]));
  for (const t of ['open', 'high', 'low', 'close', 'volume', 'sma', 'ema', 'rsi', 'macd', 'bollinger', 'atr', 'vwap',
    'highest', 'lowest', 'add', 'sub', 'mul', 'div', 'constant', 'gt', 'lt', 'crosses_above', 'crosses_below', 'and', 'or',
    'not', 'session_filter', 'enter_long', 'enter_short', 'exit_long', 'exit_short', 'stop_loss_ticks', 'take_profit_ticks']) {
    assert.ok(byType[t], `node type ${t}`);
  }
  assert.deepEqual(byType.rsi.params, [{ name: 'period', type: 'int', min: 2, max: 500, default: 14, description: 'bars (Wilder smoothing)' }]);
  assert.deepEqual(byType.crosses_above.inputs, [{ port: 'a', type: 'series' }, { port: 'b', type: 'series' }]);
  assert.equal(byType.crosses_above.output, 'boolean');
  assert.deepEqual(byType.stop_loss_ticks.inputs, [{ port: 'entry', type: 'entry' }]);
});

test('POST /api/strategies/from-fixture/{slug}: 201 with the strategy; an unknown slug is 404', async () => {
  for (const slug of ['ema-crossover', 'rsi-mean-reversion', 'opening-range-breakout', 'bollinger-reversion']) {
    const r = await api(srv, 'POST', `/api/strategies/from-fixture/${slug}`, { tok });
    assert.equal(r.status, 201, `${slug}: ${r.text}`);
    assert.equal(r.body.status, 'draft');
    assert.equal(r.body.current_version, 1);
    assert.ok(r.body.graph.nodes.some((n) => n.type === 'enter_long'), 'a real graph');
    assert.equal(r.headers.get('etag'), `"${r.body.etag}"`);
    // the fixture round-trips through export and import
    const ex = await api(srv, 'GET', `/api/strategies/${r.body.id}/export`, { tok });
    assert.equal(ex.status, 200);
    const imp = await api(srv, 'POST', '/api/strategies/import', { tok, body: { ...ex.body, name_on_conflict: 'suffix' } });
    assert.equal(imp.status, 201, imp.text);
    assert.deepEqual(imp.body.graph, r.body.graph);
  }
  let r = await api(srv, 'POST', '/api/strategies/from-fixture/ema-crossover', { tok });
  assert.equal(r.status, 201);
  // "(2)" is the suffixed import above: another copy takes the next free name rather than a 409
  assert.equal(r.body.name, 'EMA 9/21 crossover (3)');

  r = await api(srv, 'POST', '/api/strategies/from-fixture/macd-magic', { tok });
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { detail: 'fixture "macd-magic" not found' });
  // the literal route comes before /api/strategies/{source_id}/clone
  r = await api(srv, 'POST', '/api/strategies/from-fixture/clone', { tok });
  assert.equal(r.status, 404, r.text);
  r = await api(srv, 'POST', '/api/strategies/from-fixture/ema-crossover');
  assert.equal(r.status, 401);
});

test('graph validation over HTTP: 422 whose locator points at the offending element', async () => {
  const strat = (name, graph) => ({ name, instrument: 'MES', timeframe: '5m', graph });
  // nodes[3] is an SMA whose period is out of range (docs/engine.md's example locator, "Validation")
  const bad = {
    nodes: [{ id: 'c', type: 'close' }, { id: 'up', type: 'gt' }, { id: 'e', type: 'enter_long' }, { id: 'avg', type: 'sma', params: { period: 0 } }],
    edges: [{ from: 'c', to: 'avg' }, { from: 'c', to: 'up', port: 'a' }, { from: 'avg', to: 'up', port: 'b' }, { from: 'up', to: 'e' }],
  };
  let r = await api(srv, 'POST', '/api/strategies', { tok, body: strat('bad period', bad) });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.detail, [{ loc: ['body', 'graph', 'nodes', 3, 'params', 'period'], msg: 'ensure this value is greater than or equal to 1', type: 'value_error.number.not_ge' }]);

  // a series into a boolean port
  r = await api(srv, 'POST', '/api/strategies', { tok, body: strat('mismatch', { ...GRAPH, edges: [...GRAPH.edges.slice(0, 2), { from: 'c', to: 'e' }] }) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'graph', 'edges', 2]);
  assert.equal(r.body.detail[0].type, 'type_error.port');

  // an update that introduces a cycle
  const s = (await api(srv, 'POST', '/api/strategies', { tok, body: strat('cycle target', GRAPH) })).body;
  r = await api(srv, 'PUT', `/api/strategies/${s.id}`, {
    tok,
    body: { graph: { ...GRAPH, nodes: [...GRAPH.nodes, { id: 'x', type: 'not' }, { id: 'y', type: 'not' }], edges: [...GRAPH.edges, { from: 'x', to: 'y' }, { from: 'y', to: 'x' }] } },
  });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail, [{ loc: ['body', 'graph', 'edges', 3], msg: 'graph has a cycle: x -> y -> x', type: 'value_error.cycle' }]);

  // an import without an entry node, an unknown node type
  r = await api(srv, 'POST', '/api/strategies/import', {
    tok, body: { format: 'ex7.strategy/v1', name: 'no entry', instrument: 'MES', timeframe: '5m', graph: { nodes: [{ id: 'c', type: 'close' }], edges: [] } },
  });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'graph', 'nodes']);
  assert.equal(r.body.detail[0].type, 'value_error.no_entry');
  r = await api(srv, 'POST', '/api/strategies', { tok, body: strat('unknown type', { ...GRAPH, nodes: [...GRAPH.nodes, { id: 'z', type: 'ichimoku' }] }) });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.detail[0].loc, ['body', 'graph', 'nodes', 4, 'type']);
});
