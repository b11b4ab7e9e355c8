#!/usr/bin/env python3
"""tools/openapi_gen.py: writes http/openapi.json (OpenAPI 3.1), the document ex7d serves at /openapi.json.

The operations come from the route table (http/routes.c): method, path, auth level, success status and
where each argument comes from; the texts, schemas and error responses are kept here. Run it after
changing routes.c; test/e2e/openapi.test.mjs fails when the document and the table disagree."""
import json, re, pathlib

top = pathlib.Path(__file__).resolve().parent.parent
# routes.c includes one file per area (http/routes_*.h) inside its table: read them in place
src = re.sub(r'#include "(routes_\w+\.h)"', lambda m: (top / 'http' / m.group(1)).read_text(),
             (top / 'http/routes.c').read_text())
version = re.search(r"default_version = '([^']+)'", (top / 'ex7.control').read_text()).group(1)

route_re = re.compile(r'\{EVHTTP_REQ_(\w+), "([^"]+)", AUTH_(\w+), (\d+),\s*SQL\("(\w+)",.*?\),\s*(\{.*?\})(?:, (\w+|NULL))?(?:, (true|false))?(?:, (\w+|NULL))?(?:,\s*"([^"]+)")?(?:,\s*\.body_required = (true))?\},\n', re.S)
arg_re = re.compile(r'\{ARG_(\w+), "([^"]+)", (NULL|"[^"]*")\}')

TAGS = [('/api/strategies', 'Strategies'), ('/api/signals/runtimes', 'Runtimes'), ('/api/signals', 'Signals'),
        ('/api/legacy', 'Signals'), ('/api/risk', 'Risk'), ('/api/health', 'Health'),
        ('/api/instruments', 'Market'), ('/api/market', 'Market'), ('/api/engines', 'Strategies')]
SUMMARY = {
    'health': 'Health (public)', 'list_strategies': 'List Strategies', 'create_strategy': 'Create Strategy',
    'import_strategy': 'Import Strategy', 'get_strategy': 'Get Strategy', 'update_strategy': 'Update Strategy',
    'delete_strategy': 'Delete Strategy', 'clone_strategy': 'Clone Strategy', 'promote_strategy': 'Promote Strategy',
    'pause_strategy': 'Pause Strategy', 'resume_strategy': 'Resume Strategy', 'archive_strategy': 'Archive Strategy',
    'unarchive_strategy': 'Unarchive Strategy', 'export_strategy': 'Export Strategy', 'rollback_strategy': 'Rollback Strategy',
    'list_versions': 'List Strategy Versions', 'get_version': 'Get Strategy Version', 'legacy_signals': 'Get Signals',
    'legacy_signals_instrument': 'Get Signals By Instrument', 'list_signals': 'List Signals', 'list_audit': 'Get Audit',
    'signals_health_me': 'Signals Health Me', 'list_runtimes': 'List Runtimes', 'start_runtime': 'Start Runtime',
    'stop_runtime': 'Stop Runtime', 'force_close_all': 'Force Close All', 'get_signal': 'Get Signal',
    'close_signal': 'Close Signal', 'stream_replay': 'Signal Stream', 'risk_state': 'Get Risk', 'list_blocked': 'Get Blocked',
    'signals_health': 'Signals Health (public)', 'list_instruments': 'Get Instruments',
    'ingest_bars': 'Ingest Bars (service_role only)',
    'list_engines': 'List Engines', 'create_from_fixture': 'Create Strategy From Fixture',
}
RESULT = {
    'list_strategies': 'StrategyPage', 'create_strategy': 'Strategy', 'import_strategy': 'Strategy', 'get_strategy': 'Strategy',
    'update_strategy': 'Strategy', 'clone_strategy': 'Strategy', 'promote_strategy': 'Strategy', 'pause_strategy': 'Strategy',
    'resume_strategy': 'Strategy', 'archive_strategy': 'Strategy', 'unarchive_strategy': 'Strategy', 'list_signals': 'SignalPage',
    'get_signal': 'Signal', 'close_signal': 'Signal', 'health': 'Health', 'risk_state': 'RiskState',
    'signals_health': 'SignalsHealth', 'list_instruments': 'InstrumentList', 'ingest_bars': 'BarIngestResult',
    'list_engines': 'Engines', 'create_from_fixture': 'Strategy',
}
BODY = {
    'create_strategy': 'StrategyCreate', 'update_strategy': 'StrategyPatch', 'import_strategy': 'ExportPayload',
    'ingest_bars': 'BarBatch',
}

# Each area with a route file (http/routes_AREA.h) may keep its texts in tools/openapi_AREA.py: dicts
# TAGS (list of (prefix, tag)), SUMMARY, RESULT, BODY, SCHEMAS and DESCRIPTION (operationId -> text).
AREA_SCHEMAS, DESCRIPTION = {}, {}
for area in sorted((top / 'tools').glob('openapi_*.py')):
    if area.name == 'openapi_gen.py':
        continue
    mod = {}
    exec(area.read_text(), mod)
    TAGS = mod.get('TAGS', []) + TAGS
    SUMMARY.update(mod.get('SUMMARY', {}))
    RESULT.update(mod.get('RESULT', {}))
    BODY.update(mod.get('BODY', {}))
    AREA_SCHEMAS.update(mod.get('SCHEMAS', {}))
    DESCRIPTION.update(mod.get('DESCRIPTION', {}))

def qschema(kind, default):
    t = {'QUERY_INT': {'type': 'integer'}, 'QUERY_UUID': {'type': 'string', 'format': 'uuid'},
         'QUERY_TS': {'type': 'string', 'format': 'date-time'}}.get(kind, {'type': 'string'})
    if default != 'NULL':
        d = default.strip('"')
        t = {**t, 'default': int(d) if t.get('type') == 'integer' else d}
    return t

err = lambda d: {'description': d, 'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}}
paths = {}
for m in route_re.finditer(src):
    method, pattern, auth, status, name, argblock = m.group(1, 2, 3, 4, 5, 6)
    stream = m.group(9) == 'sse_open'  # the signal stream (http/sse.c)
    media = m.group(10)                 # a 2xx body that is not JSON (Route.content_type)
    args = arg_re.findall(argblock)
    op = {'operationId': name, 'summary': SUMMARY.get(name, name), 'tags': [next(t for p, t in TAGS if pattern.startswith(p))]}
    if name in DESCRIPTION:
        op['description'] = DESCRIPTION[name]
    params, body_props = [], {}
    whole_body = False
    for kind, aname, default in args:
        if kind.startswith('PATH'):
            params.append({'name': aname, 'in': 'path', 'required': True,
                           'schema': {'type': 'integer'} if kind == 'PATH_INT' else
                           {'type': 'string', 'format': 'uuid'} if kind == 'PATH_UUID' else {'type': 'string'}})
        elif kind.startswith('QUERY'):
            params.append({'name': aname, 'in': 'query', 'required': False, 'schema': qschema(kind, default)})
        elif kind == 'HEADER_TEXT':
            params.append({'name': aname, 'in': 'header', 'required': False, 'schema': {'type': 'string'},
                           'description': 'The id of the last event received: the events after it are replayed first '
                                          '(an EventSource sends it when it reconnects).' if aname == 'Last-Event-ID' else
                                          'The strategy etag (ETag of a previous response); a stale one is 409.'})
        elif kind == 'BODY':
            whole_body = True
        elif kind.startswith('BODY_'):
            body_props[aname] = {'BODY_INT': {'type': 'integer'}, 'BODY_NUMBER': {'type': ['number', 'string'], 'description': 'exact decimal'},
                                 'BODY_TEXT': {'type': 'string'}}[kind]
            if default != 'NULL':
                body_props[aname]['default'] = default.strip('"')
    if params:
        op['parameters'] = params
    if whole_body:
        ref = BODY.get(name)
        op['requestBody'] = {'required': True, 'content': {'application/json': {'schema': {'$ref': f'#/components/schemas/{ref}'} if ref else {'type': 'object'}}}}
    elif body_props:
        # Route.body_required: an empty body is 422 ["body"] (docs/http.md, "Request bodies")
        op['requestBody'] = {'required': m.group(11) == 'true', 'content': {'application/json': {'schema': {'type': 'object', 'properties': body_props}}}}
    ok = {'description': 'Successful Response'}
    if stream:
        op['description'] = ('Server-Sent Events (docs/stream.md): a retry hint, a compliance banner (event compliance), the events '
                             'after Last-Event-ID, then live events (event signal or signal_closed, id = the event sequence, '
                             'data = the signal JSON) and a comment every 15 s. Filters: strategy_id, instrument (case-insensitive).')
        ok['content'] = {'text/event-stream': {'schema': {'type': 'string'}}}
    elif media:
        ok['content'] = {media: {'schema': {'type': 'string'}}}
    elif status != '204':
        ok['content'] = {'application/json': {'schema': {'$ref': f'#/components/schemas/{RESULT[name]}'} if name in RESULT else {}}}
    responses = {status: ok}
    if auth == 'PUBLIC':
        op['security'] = []
        if name == 'health':
            responses['503'] = {'description': 'The database is unreachable', 'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Health'}}}}
    else:
        responses['401'] = err('Missing or invalid bearer token')
        responses['403'] = err('Token valid but not allowed (tier, role, or a gate the reference names)')
        if not stream:
            responses['404'] = err('Not found, or not owned by the caller')
            responses['409'] = err('Conflict: stale etag, illegal lifecycle edge, already closed, name taken')
        responses['422'] = {'description': 'Validation Error', 'content': {'application/json': {'schema': {'$ref': '#/components/schemas/ValidationError'}}}}
        responses['429'] = err('Rate limit of the tier reached; read Retry-After')
        responses['503'] = err('Database unavailable; safe to retry')
    op['responses'] = responses
    oapath = pattern
    paths.setdefault(oapath, {})[method.lower()] = op

S = lambda **p: {'type': 'object', 'properties': p}
dec = {'type': 'string', 'description': 'exact decimal'}
ts = {'type': 'string', 'format': 'date-time'}
nts = {'type': ['string', 'null'], 'format': 'date-time'}
doc = {
    'openapi': '3.1.0',
    'info': {'title': 'EX7 Capital API', 'version': version,
             'description': 'Trading signal delivery, strategy validation and account management. All endpoints require a Supabase JWT bearer token unless marked public. Served by ex7d over the ex7 PostgreSQL extension.',
             'license': {'name': 'Proprietary', 'identifier': 'LicenseRef-ex7'}},
    'servers': [{'url': 'http://127.0.0.1:8100', 'description': 'local development (make run)'},
                {'url': 'https://api.ex7capital.com'}],
    'security': [{'bearer': []}],
    'tags': [{'name': t, 'description': f'{t} endpoints'} for t in dict.fromkeys(t for _, t in TAGS)],
    'paths': dict(sorted(paths.items())),
    'components': {
        'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer', 'bearerFormat': 'JWT'}},
        'schemas': {
            'Error': {'type': 'object', 'required': ['detail'], 'properties': {'detail': {'description': 'A message, or an object with a machine-readable code and the data the contract names'}}},
            'ValidationError': {'type': 'object', 'required': ['detail'], 'properties': {'detail': {'type': 'array', 'items': {
                'type': 'object', 'required': ['loc', 'msg', 'type'], 'properties': {
                    'loc': {'type': 'array', 'items': {'type': ['string', 'integer']}}, 'msg': {'type': 'string'}, 'type': {'type': 'string'}}}}}},
            'Graph': {'type': 'object', 'required': ['nodes', 'edges'], 'properties': {
                'nodes': {'type': 'array', 'items': S(id={'type': 'string'}, type={'type': 'string'}, params={'type': 'object'})},
                'edges': {'type': 'array', 'items': S(**{'from': {'type': 'string'}, 'to': {'type': 'string'}, 'port': {'type': 'string'}})},
                'meta': {'type': 'object'}}},
            'StrategyCreate': {'type': 'object', 'required': ['name', 'instrument', 'timeframe'], 'properties': {
                'name': {'type': 'string', 'minLength': 1, 'maxLength': 120}, 'description': {'type': 'string'},
                'instrument': {'type': 'string'}, 'timeframe': {'enum': ['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d']},
                'tags': {'type': 'array', 'items': {'type': 'string'}}, 'graph': {'$ref': '#/components/schemas/Graph'}, 'note': {'type': 'string'}}},
            'StrategyPatch': {'type': 'object', 'properties': {
                'name': {'type': 'string'}, 'description': {'type': 'string'}, 'instrument': {'type': 'string'},
                'timeframe': {'type': 'string'}, 'tags': {'type': 'array', 'items': {'type': 'string'}},
                'graph': {'$ref': '#/components/schemas/Graph'}, 'note': {'type': 'string'}}},
            'ExportPayload': {'type': 'object', 'required': ['format', 'name', 'instrument', 'timeframe', 'graph'], 'properties': {
                'format': {'const': 'ex7.strategy/v1'}, 'exported_at': ts, 'name': {'type': 'string'}, 'description': {'type': 'string'},
                'instrument': {'type': 'string'}, 'timeframe': {'type': 'string'}, 'tags': {'type': 'array', 'items': {'type': 'string'}},
                'graph': {'$ref': '#/components/schemas/Graph'}, 'name_on_conflict': {'enum': ['suffix', 'error']}}},
            'Strategy': S(id={'type': 'string', 'format': 'uuid'}, name={'type': 'string'}, description={'type': 'string'},
                          instrument={'type': 'string'}, timeframe={'type': 'string'}, tags={'type': 'array', 'items': {'type': 'string'}},
                          status={'enum': ['draft', 'ready', 'live', 'paused', 'archived']}, current_version={'type': 'integer'},
                          etag={'type': 'string'}, created_at=ts, updated_at=ts,
                          allowed_transitions={'type': 'array', 'items': {'type': 'string'}}, graph={'$ref': '#/components/schemas/Graph'}),
            'StrategyPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Strategy'}}, next_cursor={'type': ['string', 'null']}),
            'Signal': S(id={'type': 'string', 'format': 'uuid'}, strategy_id={'type': 'string', 'format': 'uuid'},
                        strategy_version={'type': 'integer'}, instrument={'type': 'string'}, timeframe={'type': 'string'},
                        mode={'enum': ['paper', 'live']}, side={'enum': ['long', 'short']}, size={'type': 'integer'},
                        entry_price=dec, bar_ts=ts, fired_at=ts, status={'enum': ['open', 'closed', 'cancelled']},
                        close_reason={'type': ['string', 'null']}, close_price={'type': ['string', 'null']}, closed_at=nts,
                        gross_pnl={'type': ['string', 'null']}, net_pnl={'type': ['string', 'null']}),
            'SignalPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Signal'}}, next_cursor={'type': ['string', 'null']}),
            'Health': S(status={'enum': ['ok', 'degraded']}, postgresql={'enum': ['ok', 'unreachable']}, last_signal_time=nts),
            'Bar': {'type': 'object', 'required': ['instrument', 'timeframe', 'ts', 'open', 'high', 'low', 'close', 'volume'],
                    'properties': {'instrument': {'type': 'string'}, 'timeframe': {'enum': ['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d']},
                                   'ts': {**ts, 'description': 'the bar close time, ISO-8601 with offset'},
                                   **{k: {'type': ['string', 'number'], 'description': 'exact decimal on the tick grid'} for k in ['open', 'high', 'low', 'close']},
                                   'volume': {'type': ['integer', 'string'], 'minimum': 0}}},
            'BarBatch': {'type': 'object', 'required': ['bars'], 'properties': {
                'bars': {'type': 'array', 'maxItems': 10000, 'items': {'$ref': '#/components/schemas/Bar'}},
                'dispatch': {'type': 'boolean', 'default': True, 'description': 'false: store without dispatching (history backfill)'}}},
            'BarIngestResult': S(received={'type': 'integer'}, stored={'type': 'integer'}, late={'type': 'integer'},
                                 duplicates={'type': 'integer'}, dispatched={'type': 'integer'}, dispatch={'type': 'object'}),
            'MarketData': S(session={'enum': ['open', 'break', 'closed']}, status={'enum': ['fresh', 'stale', 'closed']},
                            timeframe={'type': ['string', 'null']}, last_bar_ts=nts, lag_seconds={'type': ['number', 'null']},
                            last_bar={'oneOf': [{'$ref': '#/components/schemas/Bar'}, {'type': 'null'}]}),
            'Instrument': S(symbol={'type': 'string'}, name={'type': 'string'}, exchange={'type': 'string'}, tick_size=dec,
                            tick_value=dec, commission_per_side=dec, currency={'type': 'string'}, session_calendar={'type': 'string'},
                            active={'type': 'boolean'}, market={'$ref': '#/components/schemas/MarketData'}),
            'InstrumentList': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Instrument'}}),
            'SignalsHealth': S(dispatcher={'enum': ['ok', 'stale']}, stale_runtimes={'type': 'integer'},
                               market_data={'type': 'object', 'additionalProperties': S(
                                   last_bar_ts=nts, lag_seconds={'type': ['number', 'null']}, status={'enum': ['fresh', 'stale', 'closed']},
                                   session={'enum': ['open', 'break', 'closed']}, timeframe={'type': ['string', 'null']})},
                               runtimes={'type': 'object', 'additionalProperties': {'type': 'integer'}}, now=ts),
            'RiskState': S(mode={'enum': ['paper', 'live']}, trading_allowed={'type': 'boolean'},
                           blocked_reason={'type': ['object', 'null']}, limits={'type': 'object'}, realized_pnl_today=dec,
                           trades_today={'type': 'integer'}, open_positions={'type': 'integer'}, checked_at=ts),
            'Engines': S(engines={'type': 'array', 'items': S(
                             type={'type': 'string'}, category={'type': 'string'}, description={'type': 'string'},
                             params={'type': 'array', 'items': S(name={'type': 'string'}, type={'enum': ['int', 'number', 'enum', 'bool', 'time']},
                                                                  min={'type': ['number', 'null']}, max={'type': ['number', 'null']}, default={},
                                                                  values={'type': 'array', 'items': {'type': 'string'}}, description={'type': 'string'})},
                             inputs={'type': 'array', 'items': S(port={'type': 'string'}, type={'enum': ['series', 'boolean', 'entry']})},
                             output={'enum': ['series', 'boolean', 'entry', 'action']})},
                         port_types={'type': 'array', 'items': {'type': 'string'}}, limits={'type': 'object'}),
        },
    },
}
doc['components']['schemas'].update(AREA_SCHEMAS)
doc['paths']['/openapi.json'] = {'get': {'operationId': 'openapi', 'summary': 'This document (public)', 'tags': ['Health'], 'security': [],
                                         'responses': {'200': {'description': 'The OpenAPI document', 'content': {'application/json': {'schema': {'type': 'object'}}}}}}}
(top / 'http/openapi.json').write_text(json.dumps(doc, indent=2) + '\n')
print(f'http/openapi.json: {sum(len(v) for v in doc["paths"].values())} operations')
