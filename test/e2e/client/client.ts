// test/e2e/client/client.ts: a client of the EX7 API generated from http/openapi.json (openapi-typescript
// writes schema.d.ts, openapi-fetch makes the calls), compiled with tsc --strict by client.test.mjs and run
// against a live ex7d. It reads required fields without non-null assertions ("!"): where the document says
// a field is required and not nullable, the type says so too, and the code below only compiles if it does.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths, components } from './schema.js';

type Strategy = components['schemas']['Strategy'];

export function makeClient(baseUrl: string, token: string, middleware?: Middleware) {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  if (middleware) client.use(middleware);
  return client;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`client: ${what}`);
}

// ok: the data of a successful answer; the error's detail otherwise (data and error are exclusive)
function ok<T>(r: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (r.data === undefined) throw new Error(`client: ${what} answered ${r.response.status}: ${JSON.stringify(r.error)}`);
  return r.data;
}

// scenario: calls the operations below in order and returns the operationIds it called
export async function scenario(baseUrl: string, token: string, middleware?: Middleware): Promise<string[]> {
  const api = makeClient(baseUrl, token, middleware);
  const called: string[] = [];
  const graph: components['schemas']['Graph'] = {
    nodes: [{ id: 'c', type: 'close' }, { id: 'k', type: 'constant', params: { value: 0 } }, { id: 'up', type: 'gt' },
            { id: 'e', type: 'enter_long' }],
    edges: [{ from: 'c', to: 'up', port: 'a' }, { from: 'k', to: 'up', port: 'b' }, { from: 'up', to: 'e' }],
  };

  const health = ok(await api.GET('/api/health'), 'health');
  check(health.status === 'ok' || health.status === 'degraded', 'health.status');
  called.push('health');

  const engines = ok(await api.GET('/api/engines'), 'list_engines');
  check(engines.engines.some((e) => e.type === 'close'), 'engines list close');
  called.push('list_engines');

  const created: Strategy = ok(await api.POST('/api/strategies', {
    body: { name: `client ${Date.now()}`, instrument: 'MNQ', timeframe: '5m', tags: ['client'], graph },
  }), 'create_strategy');
  check(created.status === 'draft' && created.current_version === 1, 'created draft v1');
  called.push('create_strategy');

  const page = ok(await api.GET('/api/strategies', { params: { query: { status: 'draft', limit: 10 } } }), 'list_strategies');
  check(page.items.some((s) => s.id === created.id), 'the new strategy is listed');
  check(page.next_cursor === null || typeof page.next_cursor === 'string', 'next_cursor');
  called.push('list_strategies');

  const got = ok(await api.GET('/api/strategies/{strategy_id}', { params: { path: { strategy_id: created.id } } }), 'get_strategy');
  check(got.etag === created.etag, 'etag');
  called.push('get_strategy');

  const updated = ok(await api.PUT('/api/strategies/{strategy_id}', {
    params: { path: { strategy_id: created.id }, header: { 'If-Match': `"${got.etag}"` } },
    body: { description: 'edited by the generated client', graph: { ...graph, meta: { note: 'v2' } } },
  }), 'update_strategy');
  check(updated.etag !== got.etag, 'a new etag');
  called.push('update_strategy');

  const versions = ok(await api.GET('/api/strategies/{strategy_id}/versions', { params: { path: { strategy_id: created.id } } }), 'list_versions');
  check(versions.items.length >= 1 && versions.items.every((v) => v.version >= 1), 'versions');
  called.push('list_versions');

  const v1 = ok(await api.GET('/api/strategies/{strategy_id}/versions/{version}', {
    params: { path: { strategy_id: created.id, version: 1 } } }), 'get_version');
  check(v1.graph.nodes.length === 4 && v1.strategy_id === created.id, 'version 1 graph');
  called.push('get_version');

  const exported = ok(await api.GET('/api/strategies/{strategy_id}/export', { params: { path: { strategy_id: created.id } } }), 'export_strategy');
  check(exported.format === 'ex7.strategy/v1', 'export format');
  called.push('export_strategy');

  const imported = ok(await api.POST('/api/strategies/import', { body: { ...exported, name_on_conflict: 'suffix' } }), 'import_strategy');
  check(imported.id !== created.id && imported.name.startsWith(exported.name), 'imported copy');
  called.push('import_strategy');

  const cloned = ok(await api.POST('/api/strategies/{source_id}/clone', {
    params: { path: { source_id: created.id } }, body: { name: `clone ${Date.now()}` } }), 'clone_strategy');
  check(cloned.graph !== undefined && cloned.status === 'draft', 'clone');
  called.push('clone_strategy');

  const signals = ok(await api.GET('/api/signals', { params: { query: { side: 'long', status: 'open', limit: 5 } } }), 'list_signals');
  check(Array.isArray(signals.items), 'signals page');
  called.push('list_signals');

  const audit = ok(await api.GET('/api/signals/audit', { params: { query: { decision: 'fired' } } }), 'list_audit');
  check(audit.items.every((a) => a.decision === 'fired'), 'audit filter');
  called.push('list_audit');

  const legacy = ok(await api.GET('/api/legacy/signals', { params: { query: { hours: 24 } } }), 'legacy_signals');
  check(Array.isArray(legacy), 'legacy list');
  called.push('legacy_signals');

  const runtimes = ok(await api.GET('/api/signals/runtimes'), 'list_runtimes');
  check(runtimes.items.every((r) => r.mode === 'paper' || r.mode === 'live'), 'runtime modes');
  called.push('list_runtimes');

  const mine = ok(await api.GET('/api/signals/health/me'), 'signals_health_me');
  check(Array.isArray(mine.items), 'health me');
  called.push('signals_health_me');

  const risk = ok(await api.GET('/api/risk', { params: { query: { mode: 'paper' } } }), 'risk_state');
  check(risk.mode === 'paper' && typeof risk.trading_allowed === 'boolean', 'risk');
  called.push('risk_state');

  const blocked = ok(await api.GET('/api/risk/blocked', { params: { query: { limit: 5, offset: 0 } } }), 'list_blocked');
  check(blocked.limit === 5 && blocked.total >= 0, 'blocked page');
  called.push('list_blocked');

  const instruments = ok(await api.GET('/api/instruments'), 'list_instruments');
  check(instruments.items.some((i) => i.symbol === 'MNQ'), 'MNQ listed');
  called.push('list_instruments');

  const tiers = ok(await api.GET('/api/billing/tiers'), 'billing_tiers');
  check(tiers.tiers.length >= 1, 'tiers');
  called.push('billing_tiers');

  const quota = ok(await api.GET('/api/vix/quota'), 'vix_quota');
  check(quota.remaining <= quota.limit, 'quota');
  called.push('vix_quota');

  const notes = ok(await api.GET('/api/notifications', { params: { query: { limit: 5 } } }), 'list_notifications');
  check(notes.total >= notes.notifications.length, 'notifications');
  called.push('list_notifications');

  const deleted = await api.DELETE('/api/strategies/{strategy_id}', { params: { path: { strategy_id: cloned.id } } });
  check(deleted.response.status === 204, 'delete 204');
  called.push('delete_strategy');

  // an error answer is typed too: its detail
  const gone = await api.GET('/api/strategies/{strategy_id}', { params: { path: { strategy_id: cloned.id } } });
  check(gone.response.status === 404 && gone.error !== undefined && gone.data === undefined, 'deleted is 404');
  called.push('get_strategy (404)');

  return called;
}
