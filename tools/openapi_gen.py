#!/usr/bin/env python3
"""tools/openapi_gen.py: writes http/openapi.json (OpenAPI 3.1), the document ex7d serves at /openapi.json.

The operations come from the route table (http/routes.c): method, path, auth level, success status and
where each argument comes from; the texts, schemas and error responses are kept here. Run it after
changing routes.c; test/e2e/openapi.test.mjs fails when the document and the table disagree."""
import json, re, pathlib, sys

top = pathlib.Path(__file__).resolve().parent.parent
# routes.c includes one file per area (http/routes_*.h) inside its table: read them in place
src = re.sub(r'#include "(routes_\w+\.h)"', lambda m: (top / 'http' / m.group(1)).read_text(),
             (top / 'http/routes.c').read_text())
version = re.search(r"default_version = '([^']+)'", (top / 'ex7.control').read_text()).group(1)

route_re = re.compile(r'\{EVHTTP_REQ_(\w+), "([^"]+)", AUTH_(\w+), (\d+),\s*SQL\("(\w+)",.*?\),\s*(\{(?:[^{}]|\{[^{}]*\})*\})(?:,\s*(\w+|NULL))?(?:,\s*(true|false))?(?:,\s*(\w+|NULL))?(?:,\s*"([^"]+)")?(?:,\s*\.body_required = (true))?\},\n', re.S)
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
    'list_fixtures': 'List Strategy Fixtures',
}
RESULT = {
    'list_strategies': 'StrategyPage', 'create_strategy': 'Strategy', 'import_strategy': 'Strategy', 'get_strategy': 'Strategy',
    'update_strategy': 'Strategy', 'clone_strategy': 'Strategy', 'promote_strategy': 'Strategy', 'pause_strategy': 'Strategy',
    'resume_strategy': 'Strategy', 'archive_strategy': 'Strategy', 'unarchive_strategy': 'Strategy', 'list_signals': 'SignalPage',
    'get_signal': 'Signal', 'close_signal': 'ClosedSignal', 'health': 'Health', 'risk_state': 'RiskState',
    'signals_health': 'SignalsHealth', 'list_instruments': 'InstrumentList', 'ingest_bars': 'BarIngestResult',
    'list_engines': 'Engines', 'create_from_fixture': 'Strategy',
    'export_strategy': 'ExportedStrategy', 'rollback_strategy': 'RolledBack', 'list_versions': 'VersionPage',
    'get_version': 'VersionWithGraph', 'legacy_signals': 'SignalList', 'legacy_signals_instrument': 'SignalList',
    'list_audit': 'AuditPage', 'signals_health_me': 'RuntimeHealthList', 'list_runtimes': 'RuntimeList',
    'start_runtime': 'Runtime', 'stop_runtime': 'Runtime', 'force_close_all': 'ClosedCount', 'list_blocked': 'BlockedPage',
    'list_fixtures': 'FixtureList',
}
BODY = {
    'create_strategy': 'StrategyCreate', 'update_strategy': 'StrategyPatch', 'import_strategy': 'ExportPayload',
    'ingest_bars': 'BarBatch',
}

# ---------------------------------------------------------------------------------------------------
# Enumerations read from the CHECK constraints of the schema (ext/sql/*_schema.sql, 10_schema.sql), so a
# value added to a constraint reaches the document: check_enum('signals', 'side'), check_enum('trade_mode')
# for a domain.
# ---------------------------------------------------------------------------------------------------
_schema_sql = ''.join(f.read_text() for f in sorted((top / 'ext/sql').glob('*.sql')))


def check_enum(table, column=None):
    if column is None:
        m = re.search(rf'CREATE DOMAIN ex7\.{table} AS \w+\s+CHECK \(VALUE IN \(([^)]*)\)\)', _schema_sql)
    else:
        t = re.search(rf'CREATE TABLE ex7\.{table} \((.*?)\n\);', _schema_sql, re.S)
        m = t and re.search(rf'CHECK \({column} IN \(([^)]*)\)', t.group(1))
        # a later file may replace the constraint (ALTER TABLE ... ADD CONSTRAINT ... CHECK (column IN ...)): the
        # last one is the one in force (80_protections_schema.sql widens signals.close_reason, notifications.type)
        for m2 in re.finditer(rf'ALTER TABLE ex7\.{table} ADD CONSTRAINT \w+\s+CHECK \({column} IN \(([^)]*)\)', _schema_sql):
            m = m2
    if not m:
        raise SystemExit(f'openapi_gen: no CHECK (... IN (...)) for {table}.{column}')
    return re.findall(r"'([^']*)'", m.group(1))


def sql_array(fn):
    """The values of an ex7 function returning a constant text array (ex7._timeframes(), ...)."""
    m = re.search(rf"FUNCTION ex7\.{fn}\(\).*?\$\$.*?(?:ARRAY\[([^\]]*)\]|'\{{([^}}]*)\}}'::text\[\])", _schema_sql, re.S)
    if not m:
        raise SystemExit(f'openapi_gen: no constant array in ex7.{fn}()')
    return re.findall(r"'([^']*)'", m.group(1)) if m.group(1) else m.group(2).split(',')


TIMEFRAMES = check_enum('timeframe')
MODES = check_enum('trade_mode')
# query parameters whose SQL function accepts a fixed set of values (its validation names the same set)
PARAM_ENUM = {
    ('list_strategies', 'status'): check_enum('strategies', 'status'),
    ('list_signals', 'side'): check_enum('signals', 'side'),
    ('list_signals', 'status'): check_enum('signals', 'status'),
    ('list_audit', 'decision'): check_enum('signal_audit', 'decision'),
    ('list_deliveries', 'status'): check_enum('alert_deliveries', 'status'),
    ('list_notifications', 'type'): check_enum('notifications', 'type'),
    ('risk_state', 'mode'): MODES, ('get_portfolio', 'mode'): MODES, ('get_dashboard', 'mode'): MODES,
    ('strategy_performance', 'mode'): MODES,
    # ex7.list_notifications also takes 1/0, yes/no and any case; true and false are the contract's
    ('list_notifications', 'unreadOnly'): ['true', 'false'],
    # body members (start and stop take the mode of ex7._check_mode)
    ('start_runtime', 'mode'): MODES, ('stop_runtime', 'mode'): MODES,
}

# Each area with a route file (http/routes_AREA.h) may keep its texts in tools/openapi_AREA.py: dicts
# TAGS (list of (prefix, tag)), SUMMARY, RESULT, BODY, SCHEMAS and DESCRIPTION (operationId -> text),
# NEVER (operationId -> {status: why}): statuses the call graph below finds but the operation cannot answer
# (a helper's check of an argument the operation never passes as NULL), and PARAM_ENUM (as above).
AREA_SCHEMAS, DESCRIPTION, NEVER = {}, {}, {}
for area in sorted((top / 'tools').glob('openapi_*.py')):
    if area.name == 'openapi_gen.py':
        continue
    mod = {'check_enum': check_enum, 'sql_array': sql_array, 'TIMEFRAMES': TIMEFRAMES, 'MODES': MODES}
    exec(area.read_text(), mod)
    TAGS = mod.get('TAGS', []) + TAGS
    SUMMARY.update(mod.get('SUMMARY', {}))
    RESULT.update(mod.get('RESULT', {}))
    BODY.update(mod.get('BODY', {}))
    for k in mod.get('SCHEMAS', {}):
        if k in AREA_SCHEMAS:
            raise SystemExit(f'openapi_gen: schema {k} of {area.name} is already defined by another area')
    AREA_SCHEMAS.update(mod.get('SCHEMAS', {}))
    DESCRIPTION.update(mod.get('DESCRIPTION', {}))
    NEVER.update(mod.get('NEVER', {}))
    PARAM_ENUM.update(mod.get('PARAM_ENUM', {}))

def qschema(kind, default):
    t = {'QUERY_INT': {'type': 'integer'}, 'QUERY_UUID': {'type': 'string', 'format': 'uuid'},
         'QUERY_TS': {'type': 'string', 'format': 'date-time'}}.get(kind, {'type': 'string'})
    if default != 'NULL':
        d = default.strip('"')
        t = {**t, 'default': int(d) if t.get('type') == 'integer' else d}
    return t

# ---------------------------------------------------------------------------------------------------
# Error statuses per operation, derived from the code so the list stays true when the code changes:
#  - the extension: every status an ex7 function can raise (ex7._raise(NNN, ...), ERRCODE = 'X7NNN', a
#    {"_status": NNN} soft answer, and for C functions the ERRCODE_EX7_* of their source file), directly or
#    through the ex7 functions it calls and the triggers of the tables it writes (docs/errors.md: X7NNN is
#    answered NNN);
#  - ex7d: the statuses the route's own handler (and the functions of http/ it reaches) replies with, the
#    SQL functions its statements call, and what the router does to every route of a kind (below).
# A superset: a helper that can raise 409 makes every caller list 409, even where the caller's arguments
# never trigger it.
# ---------------------------------------------------------------------------------------------------
EX7_CODES = {}
for m in re.finditer(r"#define (ERRCODE_EX7_\w+)\s+MAKE_SQLSTATE\('X', '7', '(\d)', '(\d)', '(\d)'\)", (top / 'ext/ex7.h').read_text()):
    EX7_CODES[m.group(1)] = int(''.join(m.group(2, 3, 4)))


def closure(direct, calls):
    """Returns {name: every status of name and of everything it calls, transitively}."""
    out = {}
    for name in direct:
        seen, todo, st = {name}, [name], set()
        while todo:
            n = todo.pop()
            st |= direct[n]
            for c in calls[n] - seen:
                seen.add(c)
                todo.append(c)
        out[name] = st
    return out


def sql_raises():
    """Returns {function name: set of statuses it can raise} for every ex7 function of ext/sql/*.sql."""
    bodies, triggers, c_symbol = {}, {}, {}
    fn_re = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+ex7\.(\w+)\s*\(.*?\bAS\s+(?:'MODULE_PATHNAME'\s*,\s*'(\w+)'|(\$\w*\$)(.*?)\3)", re.S | re.I)
    for f in sorted((top / 'ext/sql').glob('*.sql')):
        s = f.read_text()
        for m in fn_re.finditer(s):
            if m.group(2):
                c_symbol[m.group(1)] = m.group(2)
                bodies.setdefault(m.group(1), '')
            else:
                bodies[m.group(1)] = bodies.get(m.group(1), '') + re.sub(r'--[^\n]*', '', m.group(4))
        for m in re.finditer(r'CREATE\s+(?:CONSTRAINT\s+)?TRIGGER\s+\w+.*?\bON\s+ex7\.(\w+).*?EXECUTE\s+(?:FUNCTION|PROCEDURE)\s+ex7\.(\w+)', s, re.S | re.I):
            triggers.setdefault(m.group(1), set()).add(m.group(2))
    # C functions of the extension: what each C function raises (ERRCODE_EX7_*, ex7_invalid) directly or through
    # the C functions it calls (PostgreSQL style: the name at the start of its line, the body up to the first
    # "}" at the start of a line)
    c_body = {}
    for f in sorted((top / 'ext').glob('*.c')):
        for m in re.finditer(r'(?m)^(\w+)\([^;{]*?\)\n\{\n(.*?)\n\}', f.read_text(), re.S):
            c_body[m.group(1)] = c_body.get(m.group(1), '') + m.group(2)
    c_direct = {n: {EX7_CODES[c] for c in re.findall(r'\b(ERRCODE_EX7_\w+)\b', b) if c in EX7_CODES} |
                   ({422} if re.search(r'\bex7_invalid\s*\(', b) else set()) for n, b in c_body.items()}
    c_calls = {n: {c for c in re.findall(r'\b(\w+)\s*\(', b) if c in c_body and c != n} for n, b in c_body.items()}
    c_file = closure(c_direct, c_calls)
    direct, calls = {}, {}
    for name, body in bodies.items():
        direct[name] = ({int(x) for x in re.findall(r'ex7\._raise\(\s*(\d{3})', body)} |
                        {int(x) for x in re.findall(r"ERRCODE\s*=\s*'X7(\d{3})'", body)} |
                        {int(x) for x in re.findall(r"'_status'\s*,\s*(\d{3})", body)} |
                        # the webhook intake's soft answers: ex7._hook_log(user, hook, now, outcome, STATUS, ...)
                        {int(x) for x in re.findall(r"ex7\._hook_log\((?:[^,()]*,){4}\s*(\d{3})", body)} - {200} |
                        # a status answered as a value (the login's {"status": 401, "body": ...}, http/auth.c)
                        {int(x) for x in re.findall(r"[\"']status[\"']\s*[:,]\s*([45]\d\d)\b", body)} |
                        c_file.get(c_symbol.get(name), set()))
        calls[name] = {c for c in re.findall(r'ex7\.(\w+)\s*\(', body) if c in bodies}
        for t in re.findall(r'(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+ex7\.(\w+)', body, re.I):
            calls[name] |= triggers.get(t, set())
    return closure(direct, calls)


SQL_RAISES = sql_raises()
sql_of = lambda text: {f for f in re.findall(r'ex7\.(\w+)\s*\(', text) if f in SQL_RAISES}

# the C functions of ex7d's handlers (PostgreSQL style: the name at the start of its line, the body up to
# the first "}" at the start of a line); infrastructure files answer for every route and are counted below
C_INFRA = {'reply.c', 'router.c', 'pool.c', 'log.c', 'metrics.c', 'util.c', 'config.c', 'jwt.c', 'main.c', 'users.c', 'openapi.c'}
C_FUNCS, C_STMTS = {}, {}
for f in sorted((top / 'http').glob('*.c')):
    if f.name in C_INFRA:
        continue
    s = f.read_text()
    for m in re.finditer(r'(?m)^(\w+)\([^;{]*?\)\n\{\n(.*?)\n\}', s, re.S):
        C_FUNCS.setdefault(m.group(1), m.group(2))
    for m in re.finditer(r'PoolStatement\s+(\w+)\s*=\s*\{(.*?)\};', s, re.S):
        C_STMTS[m.group(1)] = m.group(2)


def handler_statuses(handler):
    """Returns (statuses the handler replies with itself, ex7 functions its statements call)."""
    seen, todo, st, fns = {handler}, [handler], set(), set()
    while todo:
        body = C_FUNCS.get(todo.pop(), '')
        for call in re.finditer(r'\breply_(detail|detail_json|raw|invalid)\(\s*\w+,\s*([^,]*),\s*("[^"]*")?', body):
            codes = {422} if call.group(1) == 'invalid' else {int(x) for x in re.findall(r'\b([45]\d\d)\b', call.group(2))}
            # a 500 is an operation's answer only when it is deliberate (the Stripe webhook's "handler failed; Stripe
            # will retry", ex7-api-reference.txt), not the "internal server error" of a bug
            if 500 in codes and call.group(3) in (None, '"internal server error"'):
                codes.discard(500)
            st |= codes
        fns |= sql_of(' '.join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)))
        for ident in set(re.findall(r'\b(\w+)\b', body)):
            if ident in C_STMTS:
                fns |= sql_of(C_STMTS[ident])
            elif ident in C_FUNCS and ident not in seen:
                seen.add(ident)
                todo.append(ident)
    return st, fns


# the error responses (docs/errors.md, docs/http.md); #/components/responses/<status>
ERROR_TEXT = {
    400: 'Malformed request: the body is not valid JSON, holds a NUL byte, or a signed webhook\'s signature does not verify',
    401: 'Missing, invalid, expired or revoked bearer token (WWW-Authenticate says which), or wrong credentials',
    403: 'Token valid but not allowed: a service_role route, the tier\'s cap, or a gate the reference names',
    404: 'Not found, or not owned by the caller',
    409: 'Conflict: stale etag, illegal lifecycle edge, already closed, name taken (detail.code says which)',
    412: 'Precondition failed: the compliance documents are not accepted (detail.code compliance_required)',
    413: 'Request body larger than EX7_BODY_LIMIT',
    422: 'Validation error: detail lists the failing inputs with their locators',
    429: 'Rate limit or quota reached; retry after Retry-After seconds',
    503: 'Database, queue or upstream unavailable, or the server is shutting down; safe to retry after Retry-After seconds',
    500: 'The operation failed and left nothing behind; the sender retries (a webhook\'s handler error)',
}
RATE = {'X-RateLimit-Limit': {'$ref': '#/components/headers/X-RateLimit-Limit'},
        'X-RateLimit-Remaining': {'$ref': '#/components/headers/X-RateLimit-Remaining'},
        'X-RateLimit-Reset': {'$ref': '#/components/headers/X-RateLimit-Reset'}}
RID = {'X-Request-Id': {'$ref': '#/components/headers/X-Request-Id'}}


def error_response(code):
    r = {'description': ERROR_TEXT[code],
         'headers': {**RID, **RATE, **({'Retry-After': {'$ref': '#/components/headers/Retry-After'}} if code in (429, 503) else {}),
                     **({'WWW-Authenticate': {'$ref': '#/components/headers/WWW-Authenticate'}} if code == 401 else {})},
         'content': {'application/json': {'schema': {'$ref': '#/components/schemas/ValidationError' if code == 422 else '#/components/schemas/Error'}}}}
    return r


paths = {}
for m in route_re.finditer(src):
    method, pattern, auth, status, name, argblock = m.group(1, 2, 3, 4, 5, 6)
    sqltext = re.search(r'SQL\("\w+",\s*"((?:[^"\\]|\\.)*)"', m.group(0)).group(1)
    etag_header = m.group(8) == 'true'
    handler = m.group(9) if m.group(9) not in (None, 'NULL') else None
    stream = handler == 'sse_open'      # the signal stream (http/sse.c)
    media = m.group(10)                 # a 2xx body that is not JSON (Route.content_type)
    args = arg_re.findall(argblock)
    op = {'operationId': name, 'summary': SUMMARY.get(name, name), 'tags': [next(t for p, t in TAGS if pattern.startswith(p))]}
    if name in DESCRIPTION:
        op['description'] = DESCRIPTION[name]
    params, body_props = [], {}
    whole_body = raw_body = False
    for kind, aname, default in args:
        if kind.startswith('PATH'):
            params.append({'name': aname, 'in': 'path', 'required': True,
                           'schema': {'type': 'integer'} if kind == 'PATH_INT' else
                           {'type': 'string', 'format': 'uuid'} if kind == 'PATH_UUID' else {'type': 'string'}})
        elif kind.startswith('QUERY'):
            sch = qschema(kind, default)
            if (name, aname) in PARAM_ENUM:
                sch = {**sch, 'enum': PARAM_ENUM[(name, aname)]}
            params.append({'name': aname, 'in': 'query', 'required': False, 'schema': sch})
        elif kind == 'HEADER_TEXT':
            params.append({'name': aname, 'in': 'header', 'required': False, 'schema': {'type': 'string'},
                           'description': 'The id of the last event received: the events after it are replayed first '
                                          '(an EventSource sends it when it reconnects).' if aname == 'Last-Event-ID' else
                                          'The strategy etag (ETag of a previous response); a stale one is 409.'})
        elif kind == 'BODY':
            whole_body = True
        elif kind == 'RAW_BODY':
            raw_body = True
        elif kind.startswith('BODY_'):
            body_props[aname] = {'BODY_INT': {'type': 'integer'}, 'BODY_NUMBER': {'type': ['number', 'string'], 'description': 'exact decimal'},
                                 'BODY_TEXT': {'type': 'string'}}[kind]
            if (name, aname) in PARAM_ENUM:
                body_props[aname]['enum'] = PARAM_ENUM[(name, aname)]
            if default != 'NULL':
                body_props[aname]['default'] = default.strip('"')
    if params:
        op['parameters'] = params
    if whole_body or (raw_body and name in BODY):
        ref = BODY.get(name)
        # a JSON body is required as the route says (Route.body_required): one whose every field has a default
        # may be left out; a raw body read by a handler (the webhook intake) is always required
        op['requestBody'] = {'required': m.group(11) == 'true' or not whole_body, 'content': {'application/json': {'schema': {'$ref': f'#/components/schemas/{ref}'} if ref else {'type': 'object'}}}}
    elif body_props:
        # Route.body_required: an empty body is 422 ["body"] (docs/http.md, "Request bodies")
        op['requestBody'] = {'required': m.group(11) == 'true', 'content': {'application/json': {'schema': {
            'type': 'object', 'properties': body_props, 'additionalProperties': True}}}}
    elif raw_body:
        op['requestBody'] = {'required': False, 'content': {'*/*': {'schema': {'type': 'string'}}}}
    ok = {'description': 'Successful Response', 'headers': dict(RID)}
    counted = auth != 'SERVICE'         # service_role tokens are not rate limited (router.c, admit)
    if counted:
        ok['headers'].update(RATE)
    if etag_header:
        ok['headers']['ETag'] = {'$ref': '#/components/headers/ETag'}
    if stream:
        op['description'] = ('Server-Sent Events (docs/stream.md): a retry hint, a compliance banner (event compliance), the events '
                             'after Last-Event-ID, then live events (id = the event sequence) and a comment every 15 s. Events: '
                             'signal and signal_closed (data = the signal JSON), risk_lock (data = the lock, as List Locks shows it) '
                             'and trading_state (data = the user\'s trading state, as Get Trading State shows it). The service\'s '
                             'trading state (PUT /api/risk/service-state) comes as event trading_state without an id, data = '
                             '{scope, instrument, state, reason, changed_at}. Filters: strategy_id, instrument (case-insensitive); '
                             'an event with no strategy or no instrument (a user-wide lock, a trading state) passes that filter.')
        ok['content'] = {'text/event-stream': {'schema': {'type': 'string'}}}
        # a browser's EventSource sends no header: a single-use ticket instead (docs/stream.md, "Tickets for browsers")
        op['parameters'] = op.get('parameters', []) + [{
            'name': 'ticket', 'in': 'query', 'required': False, 'schema': {'type': 'string', 'pattern': '^stk_[0-9a-f]{64}$'},
            'description': 'A ticket of POST /api/signals/stream/ticket, accepted once within 30 s instead of the bearer '
                           'token when no Authorization header is sent (an Authorization header wins and leaves the ticket '
                           'unused). Unknown, expired or used: 401.'}, {
            'name': 'last_event_id', 'in': 'query', 'required': False, 'schema': {'type': 'string'},
            'description': 'The Last-Event-ID of a page that opens a new EventSource (which sends the header only when it '
                           'reconnects by itself): the events after it are replayed. The header wins when both are sent; '
                           'checked as the header.'}]
        op['security'] = [{'bearer': []}, {'streamTicket': []}]
    elif media:
        ok['content'] = {media: {'schema': {'type': 'string'}}}
    elif status != '204':
        if name not in RESULT:
            raise SystemExit(f'openapi_gen: {method} {pattern} ({name}) has no result schema: name it in RESULT '
                             f'(tools/openapi_gen.py or tools/openapi_AREA.py) with its schema in SCHEMAS')
        ok['content'] = {'application/json': {'schema': {'$ref': f'#/components/schemas/{RESULT[name]}'}}}
    responses = {status: ok}
    # what the code can answer besides success
    codes = set()
    for f in sql_of(sqltext):
        codes |= SQL_RAISES[f]
    if handler:
        hs, hf = handler_statuses(handler)
        codes |= hs
        for f in hf:
            codes |= SQL_RAISES[f]
    if auth != 'PUBLIC':
        codes.add(401)                  # router.c, authenticate
    if auth == 'SERVICE':
        codes.add(403)
    if whole_body or body_props or raw_body:
        codes |= {413}                  # router.c: larger than EX7_BODY_LIMIT
    if whole_body or body_props or raw_body:
        codes |= {400}                  # router.c, body_json: not valid JSON; build_args: a raw body with a NUL byte
                                        # (the login's JSON form gets body_strict too, http/auth.c)
    if params or whole_body or body_props:
        codes.add(422)                  # router.c, build_args: a path, query or body value of the wrong type
    if counted:
        codes.add(429)                  # router.c, admit
    codes.add(503)                      # every route runs on the pool: unavailable, busy, shutting down
    codes -= set(NEVER.get(name, {}))
    for c in sorted(codes):
        responses[str(c)] = {'$ref': f'#/components/responses/{c}'}
    if name == 'health':
        responses['503'] = {'description': 'The database is unreachable', 'headers': {**RID, **RATE, 'Retry-After': {'$ref': '#/components/headers/Retry-After'}},
                            'content': {'application/json': {'schema': {'anyOf': [
                                {'$ref': '#/components/schemas/Health'}, {'$ref': '#/components/schemas/Error'}],
                                'description': 'Health when the database cannot be reached (routes.c, health_unavailable); '
                                               'Error when the server is busy or shutting down'}}}}
    if auth == 'PUBLIC':
        op['security'] = []
    op['responses'] = responses
    paths.setdefault(pattern, {})[method.lower()] = op


S = lambda **p: {'type': 'object', 'properties': p}
dec = {'type': 'string', 'description': 'exact decimal'}
ndec = {'type': ['string', 'null'], 'description': 'exact decimal'}
ts = {'type': 'string', 'format': 'date-time'}
nts = {'type': ['string', 'null'], 'format': 'date-time'}
_strategy_fields = dict(id={'type': 'string', 'format': 'uuid'}, name={'type': 'string'}, description={'type': 'string'},
                        instrument={'type': 'string'}, timeframe={'enum': TIMEFRAMES}, tags={'type': 'array', 'items': {'type': 'string'}},
                        status={'enum': check_enum('strategies', 'status')}, current_version={'type': 'integer'},
                        etag={'type': 'string'}, created_at=ts, updated_at=ts,
                        allowed_transitions={'type': 'array', 'items': {'enum': check_enum('strategies', 'status')}})
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
        'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer', 'bearerFormat': 'JWT'},
                            # GET /api/signals/stream only (docs/stream.md, "Tickets for browsers")
                            'streamTicket': {'type': 'apiKey', 'in': 'query', 'name': 'ticket',
                                             'description': 'A single-use ticket of POST /api/signals/stream/ticket'}},
        'schemas': {
            # FastAPI's shape (ex7._invalid); an item may carry the context its check names (ctx, attempts_left, ...)
            'ValidationError': {'type': 'object', 'required': ['detail'], 'additionalProperties': False, 'properties': {'detail': {'type': 'array', 'items': {
                'type': 'object', 'required': ['loc', 'msg', 'type'], 'additionalProperties': True, 'properties': {
                    'loc': {'type': 'array', 'items': {'type': ['string', 'integer']}}, 'msg': {'type': 'string'}, 'type': {'type': 'string'},
                    'ctx': {'type': 'object', 'additionalProperties': True}}}}}},
            'Error': {'type': 'object', 'required': ['detail'], 'additionalProperties': False, 'properties': {'detail': {
                'type': ['string', 'object', 'array'], 'description': 'A message, or an object with a machine-readable code and the data the contract names'}}},
            'Graph': {'type': 'object', 'required': ['nodes', 'edges'], 'properties': {
                'nodes': {'type': 'array', 'items': S(id={'type': 'string'}, type={'type': 'string'}, params={'type': 'object'})},
                'edges': {'type': 'array', 'items': S(**{'from': {'type': 'string'}, 'to': {'type': 'string'}, 'port': {'type': 'string'}})},
                'meta': {'type': 'object'}}},
            # ex7._strategy_fields refuses unknown keys ("extra fields not permitted", ext/sql/30_strategies.sql)
            'StrategyCreate': {'type': 'object', 'required': ['name', 'instrument', 'timeframe'], 'additionalProperties': False, 'properties': {
                'name': {'type': 'string', 'minLength': 1, 'maxLength': 120}, 'description': {'type': 'string'},
                'instrument': {'type': 'string'}, 'timeframe': {'enum': TIMEFRAMES},
                'tags': {'type': 'array', 'items': {'type': 'string'}}, 'graph': {'$ref': '#/components/schemas/Graph'}, 'note': {'type': 'string'}}},
            'StrategyPatch': {'type': 'object', 'additionalProperties': False, 'properties': {
                'name': {'type': 'string'}, 'description': {'type': 'string'}, 'instrument': {'type': 'string'},
                'timeframe': {'enum': TIMEFRAMES}, 'tags': {'type': 'array', 'items': {'type': 'string'}},
                'graph': {'$ref': '#/components/schemas/Graph'}, 'note': {'type': 'string'}}},
            'ExportPayload': {'type': 'object', 'required': ['format', 'name', 'instrument', 'timeframe', 'graph'], 'properties': {
                'format': {'const': 'ex7.strategy/v1'}, 'exported_at': ts, 'name': {'type': 'string'}, 'description': {'type': 'string'},
                'instrument': {'type': 'string'}, 'timeframe': {'enum': TIMEFRAMES}, 'tags': {'type': 'array', 'items': {'type': 'string'}},
                'graph': {'$ref': '#/components/schemas/Graph'}, 'name_on_conflict': {'enum': ['suffix', 'error']}}},
            # ex7._strategy_json (ext/sql/30_strategies.sql): with the current graph, and without it in list items
            'Strategy': S(**_strategy_fields, graph={'$ref': '#/components/schemas/Graph', 'description': 'the current version\'s graph'}),
            'StrategySummary': S(**_strategy_fields),
            'StrategyPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/StrategySummary'}}, next_cursor={'type': ['string', 'null']}),
            'Signal': S(id={'type': 'string', 'format': 'uuid'}, user_id={'type': 'string', 'format': 'uuid'},
                        strategy_id={'type': 'string', 'format': 'uuid'},
                        strategy_version={'type': 'integer'}, instrument={'type': 'string'}, timeframe={'enum': TIMEFRAMES},
                        mode={'enum': MODES}, side={'enum': check_enum('signals', 'side')}, size={'type': 'integer', 'minimum': 1},
                        entry_price=dec, stop_price=ndec, target_price=ndec, bar_ts=ts, fired_at=ts,
                        status={'enum': check_enum('signals', 'status')},
                        close_reason={'enum': [None, *check_enum('signals', 'close_reason')]}, close_price=ndec, closed_at=nts,
                        pnl_points=ndec, pnl_ticks=ndec, gross_pnl=ndec, slippage_ticks=ndec, slippage_cost=ndec,
                        commission=ndec, net_pnl=ndec, tag={'type': ['string', 'null'], 'maxLength': 64},
                        source={'enum': ['engine', 'webhook'],   # ext/sql/79_hooks_schema.sql (an ALTER TABLE)
                                'description': 'engine (the dispatcher, fire_signal) or webhook (a hook\'s alert: docs/webhooks.md)'},
                        hook_id={'type': ['string', 'null'], 'format': 'uuid', 'description': 'the hook of a webhook signal'}),
            # close_signal: the signal and where its close price came from (ext/sql/60_signals.sql, close_signal)
            'ClosedSignal': {'allOf': [{'$ref': '#/components/schemas/Signal'}, S(
                close_price_source={'enum': ['request', 'mark']},
                mark_bar_time={**ts, 'optional': True, 'description': 'the bar whose close was the mark (source mark only)'},
                mark_timeframe={'enum': TIMEFRAMES, 'optional': True, 'description': 'its timeframe (source mark only)'})]},
            'SignalPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Signal'}}, next_cursor={'type': ['string', 'null']}),
            'Health': S(status={'enum': ['ok', 'degraded']}, postgresql={'enum': ['ok', 'unreachable']},
                        extension_version={'type': ['string', 'null'], 'optional': True,
                                           'description': 'the installed ex7 version (absent when the database is unreachable)'},
                        last_signal_time=nts),
            'Bar': {'type': 'object', 'required': ['instrument', 'timeframe', 'ts', 'open', 'high', 'low', 'close', 'volume'],
                    'properties': {'instrument': {'type': 'string'}, 'timeframe': {'enum': TIMEFRAMES},
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
            'RiskState': S(mode={'enum': MODES}, trading_allowed={'type': 'boolean'},
                           blocked_reason={'type': ['object', 'null'], 'properties': {
                               'breaker': {'type': 'string', 'description': 'trading_state (docs/trading-state.md), a protection\'s '
                                           'kind when its lock refuses (cooldown, stoploss_guard, max_drawdown, low_profit: '
                                           'docs/protections.md), daily_loss_limit, max_trades_per_day, max_open_positions, '
                                           'max_consecutive_losses, or error'},
                               'reason': {'type': 'string'}, 'observed': {'type': ['string', 'null']}, 'limit': {'type': ['string', 'null']},
                               'lock_id': {'type': 'string', 'format': 'uuid', 'optional': True,
                                           'description': 'the refusing lock (a protection\'s breaker only): DELETE /api/risk/locks/{lock_id} lifts it'}}},
                           trading_state={'optional': True, **S(
                               state={'enum': ['active', 'reducing', 'halted']},
                               source={'enum': [None, 'service', 'instrument', 'user'],
                                       'description': 'whose state is the most restrictive in force; null when active'},
                               reason={'type': ['string', 'null']}, changed_at=nts),
                                          'description': 'the trading state in force for the mode (GET /api/risk/state); absent '
                                                         'when the state could not be read (breaker error)'},
                           limits={'type': ['object', 'null'], 'optional': True, 'properties': {
                               'daily_loss_limit': dec, 'max_trades_per_day': {'type': 'integer'},
                               'max_open_positions': {'type': 'integer'}, 'max_consecutive_losses': {'type': 'integer'}}},
                           realized_pnl_today={**ndec, 'optional': True}, trades_today={'type': ['integer', 'null'], 'optional': True},
                           open_positions={'type': ['integer', 'null'], 'optional': True},
                           consecutive_losses={'type': ['integer', 'null'], 'optional': True},
                           trading_day_start={**nts, 'optional': True}, checked_at=ts),
            'Engines': S(engines={'type': 'array', 'items': S(
                             type={'type': 'string'}, category={'type': 'string'}, description={'type': 'string'},
                             params={'type': 'array', 'items': S(name={'type': 'string'}, type={'enum': ['int', 'number', 'enum', 'bool', 'time']},
                                                                  min={'type': ['number', 'null']}, max={'type': ['number', 'null']},
                                                                  default={'type': ['number', 'string', 'boolean'], 'description': 'a time is "HH:MM"'},
                                                                  values={'type': 'array', 'items': {'type': 'string'}, 'optional': True,
                                                                          'description': 'enum parameters only'},
                                                                  description={'type': 'string'})},
                             inputs={'type': 'array', 'items': S(port={'type': 'string'}, type={'enum': ['series', 'boolean', 'entry']})},
                             output={'enum': ['series', 'boolean', 'entry', 'action']})},
                         port_types={'type': 'array', 'items': {'enum': ['series', 'boolean', 'entry', 'action']}},
                         limits=S(max_nodes={'type': 'integer'}, max_edges={'type': 'integer'}, max_id_length={'type': 'integer'},
                                  max_lookback={'type': 'integer'})),
        },
    },
}
# the bodies of ext/sql/30_strategies.sql (_version_json, rollback_strategy, export_strategy), 60_signals.sql
# (_audit_json, legacy_signals, list_audit, force_close_all), 50_risk.sql (_blocked_json, list_blocked) and
# 80_runtimes.sql (_runtime_json, list_runtimes, signals_health_me); nullable where the column is
_uuid, _nuuid, _int, _nint = {'type': 'string', 'format': 'uuid'}, {'type': ['string', 'null'], 'format': 'uuid'}, {'type': 'integer'}, {'type': ['integer', 'null']}
_str, _nstr = {'type': 'string'}, {'type': ['string', 'null']}
_version = {'version': _int, 'created_at': ts, 'note': _nstr, 'rolled_back_from': _nint, 'node_count': _int,
            'edge_count': _int, 'is_current': {'type': 'boolean'}}
_runtime = {'id': _uuid, 'strategy_id': _uuid, 'strategy_name': _str, 'mode': {'enum': MODES},
            'status': {'enum': check_enum('strategy_runtimes', 'status')}, 'started_at': nts, 'stopped_at': nts,
            'last_bar_ts': nts, 'error': _nstr, 'updated_at': ts}
_nullable_enum = lambda vals: {'enum': [None, *vals]}
doc['components']['schemas'].update({
    'ExportedStrategy': S(format={'const': 'ex7.strategy/v1'}, exported_at=ts, name=_str, description=_str, instrument=_str,
                          timeframe={'enum': TIMEFRAMES}, tags={'type': 'array', 'items': _str},
                          graph={'$ref': '#/components/schemas/Graph'}),
    'RolledBack': S(id=_uuid, current_version=_int, etag=_str),
    'Version': S(**_version),
    'VersionWithGraph': S(**_version, strategy_id=_uuid, graph={'$ref': '#/components/schemas/Graph'}),
    'VersionPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Version'}},
                     next_cursor={'type': ['integer', 'null'], 'description': 'the last version of the page (pass it as cursor); null on the last page'}),
    'SignalList': {'type': 'array', 'items': {'$ref': '#/components/schemas/Signal'}},
    'Audit': S(id=_int, user_id=_uuid, strategy_id=_nuuid, strategy_version=_nint, instrument=_nstr, timeframe=_nstr,
               mode=_nullable_enum(MODES), bar_ts=ts, decision={'enum': check_enum('signal_audit', 'decision')},
               signal_id=_nuuid, detail={'type': 'object', 'additionalProperties': True,
                                         'description': 'the decision\'s context (gate state, error, ...)'}, created_at=ts),
    'AuditPage': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Audit'}}, next_cursor=_nstr),
    'Runtime': S(**_runtime),
    'RuntimeList': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/Runtime'}}),
    'RuntimeHealth': S(**_runtime, strategy_status={'enum': check_enum('strategies', 'status')}, instrument=_str,
                       timeframe={'enum': TIMEFRAMES}),
    'RuntimeHealthList': S(items={'type': 'array', 'items': {'$ref': '#/components/schemas/RuntimeHealth'}}),
    'ClosedCount': {'type': 'integer', 'minimum': 0, 'description': 'how many open signals were closed'},
    # list_fixtures: the slugs of POST /api/strategies/from-fixture/{slug} (ext/sql/62_engines.sql)
    'FixtureList': {'type': 'array', 'items': S(slug=_str, name=_str, description=_str, instrument=_str,
                                                timeframe={'enum': TIMEFRAMES}, tags={'type': 'array', 'items': _str})},
    'Blocked': S(id=_uuid, user_id=_uuid, strategy_id=_nuuid, strategy_version=_nint, instrument=_str, timeframe=_nstr,
                 bar_ts=nts, mode={'enum': MODES}, side=_nullable_enum(check_enum('signals_blocked', 'side')),
                 triggered_limit=_str, reason=_str, observed=_nstr, limit=_nstr,
                 reason_json={'type': 'object', 'additionalProperties': True, 'description': 'the refusing risk state (GET /api/risk)'},
                 blocked_at=ts),
    'BlockedPage': S(timestamp=ts, items={'type': 'array', 'items': {'$ref': '#/components/schemas/Blocked'}}, total=_int,
                     limit=_int, offset=_int),
})
doc['components']['schemas'].update(AREA_SCHEMAS)

# ---------------------------------------------------------------------------------------------------
# Response headers (http/reply.c, reply_raw: what every answer carries) and the error responses
# ---------------------------------------------------------------------------------------------------
_int_h = lambda d: {'description': d, 'schema': {'type': 'integer', 'minimum': 0}}
doc['components']['headers'] = {
    'X-Request-Id': {'description': 'The request\'s id: the client\'s X-Request-Id when it is 1 to 64 letters, digits, '
                                    '"-", "_" or ".", else a new one. Also in the access log line.', 'required': True,
                     'schema': {'type': 'string', 'pattern': '^[A-Za-z0-9._-]{1,64}$'}},
    'X-RateLimit-Limit': _int_h('Requests allowed to the caller in the binding window, the minute or the UTC day '
                                '(the tier\'s caps, or the client address\'s on a public route): the window with fewer '
                                'requests left, or the one that refused (docs/http.md, "The X-RateLimit-* headers describe '
                                'one window"). Sent when the request was counted: not on service_role requests nor when '
                                'the server runs without rate limits.'),
    'X-RateLimit-Remaining': _int_h('Requests left in the same window as X-RateLimit-Limit. Sent with it.'),
    'X-RateLimit-Reset': _int_h('Seconds until that same window resets (on a 429: equal to Retry-After). Sent with '
                                'X-RateLimit-Limit.'),
    'Retry-After': {'description': 'Seconds to wait before retrying (RFC 9110, section 10.2.3): always on 429 '
                                   '(ex7-api-introduction.txt, "Rate limits + quotas") and 503.', 'required': True,
                    'schema': {'type': 'integer', 'minimum': 1}},
    'ETag': {'description': 'The strategy\'s etag in quotes: send it back as If-Match to update it without overwriting '
                            'a newer edit.', 'required': True, 'schema': {'type': 'string'}},
    'WWW-Authenticate': {'description': 'Bearer challenge (RFC 6750, section 3) when the token is missing or invalid.',
                         'schema': {'type': 'string'}},
}
doc['components']['responses'] = {str(c): error_response(c) for c in sorted(ERROR_TEXT)}

# ---------------------------------------------------------------------------------------------------
# The routes outside the route table: /openapi.json (http/openapi.c) and the probes and metrics of
# http/metrics.c (docs/observability.md), which are not rate limited and answer before the API's routes
# ---------------------------------------------------------------------------------------------------
_metrics_src = (top / 'http/metrics.c').read_text()
_metrics_paths = re.findall(r'\{EVHTTP_REQ_GET, "(/\w+)", AUTH_\w+', _metrics_src[_metrics_src.index('metrics_routes[]'):])
if sorted(_metrics_paths) != ['/livez', '/metrics', '/readyz']:
    raise SystemExit(f'openapi_gen: http/metrics.c serves {_metrics_paths}; document them here')
_json = lambda ref: {'application/json': {'schema': {'$ref': f'#/components/schemas/{ref}'}}}
doc['components']['schemas'].update({
    'Liveness': {'type': 'object', 'required': ['status'], 'additionalProperties': False,
                 'properties': {'status': {'const': 'alive'}}},
    'Readiness': {'type': 'object', 'required': ['status'], 'additionalProperties': False, 'properties': {
        'status': {'enum': ['ready', 'not_ready']},
        'reason': {'const': 'shutting down', 'description': 'only while the server drains (then nothing else is said)'},
        'database': {'enum': ['ok', 'unreachable']},
        'database_error': {'type': 'string', 'description': 'only when the database did not answer'},
        'listen': {'enum': ['ok', 'down'], 'description': 'the LISTEN connection of the signal stream and tier changes'},
        'extension_version': {'type': ['string', 'null'], 'description': 'the installed ex7 extension (null: not installed)'},
        'expected_version': {'type': 'string', 'description': 'the version this ex7d was built for'}}},
})
doc['paths']['/livez'] = {'get': {
    'operationId': 'livez', 'summary': 'Liveness (public)', 'tags': ['Health'], 'security': [],
    'description': '200 while the process runs its event loop (docs/observability.md).',
    'responses': {'200': {'description': 'Alive', 'headers': dict(RID), 'content': _json('Liveness')}}}}
doc['paths']['/readyz'] = {'get': {
    'operationId': 'readyz', 'summary': 'Readiness (public)', 'tags': ['Health'], 'security': [],
    'description': '200 when the database answers, the LISTEN connection is up and the extension is at the version this '
                   'ex7d was built for; 503 otherwise, saying which (docs/observability.md).',
    'responses': {'200': {'description': 'Ready', 'headers': dict(RID), 'content': _json('Readiness')},
                  '503': {'description': 'Not ready', 'headers': {**RID, 'Retry-After': {'$ref': '#/components/headers/Retry-After'}},
                          'content': _json('Readiness')}}}}
doc['paths']['/metrics'] = {'get': {
    'operationId': 'metrics', 'summary': 'Prometheus metrics', 'tags': ['Health'],
    'security': [{'bearer': []}],
    'description': 'The Prometheus text exposition format 0.0.4 (docs/observability.md). On the API address it needs '
                   'EX7_METRICS_TOKEN or a service_role token as the bearer; with EX7_METRICS_LISTEN set it is served '
                   'there alone, without a token, and this address answers 404.',
    'responses': {'200': {'description': 'The metrics', 'headers': dict(RID),
                          'content': {'text/plain; version=0.0.4; charset=utf-8': {'schema': {'type': 'string'}}}},
                  '401': {'$ref': '#/components/responses/401'}, '403': {'$ref': '#/components/responses/403'},
                  '404': {'$ref': '#/components/responses/404'}}}}
doc['paths']['/openapi.json'] = {'get': {
    'operationId': 'openapi', 'summary': 'This document (public)', 'tags': ['Health'], 'security': [],
    'description': 'The OpenAPI 3.1 document, with a strong ETag (send it back as If-None-Match: 304 while the document is '
                   'the same) and gzip when Accept-Encoding allows it (docs/http.md, "OpenAPI").',
    'parameters': [{'name': 'If-None-Match', 'in': 'header', 'required': False, 'schema': {'type': 'string'},
                    'description': 'An ETag of this document from an earlier answer'}],
    'responses': {'200': {'description': 'The OpenAPI document',
                          'headers': {**RID, 'ETag': {'description': 'A hash of the document\'s bytes (per content coding)',
                                                      'required': True, 'schema': {'type': 'string'}}},
                          'content': {'application/json': {'schema': {'type': 'object', 'required': ['openapi', 'info', 'paths'],
                                                                      'additionalProperties': True,
                                                                      'properties': {'openapi': {'const': '3.1.0'}, 'info': {'type': 'object'},
                                                                                     'paths': {'type': 'object'}}}}}},
                  '304': {'description': 'Not modified: the If-None-Match names the current document',
                          'headers': {**RID, 'ETag': {'description': 'The current ETag', 'required': True, 'schema': {'type': 'string'}}}},
                  '404': {'$ref': '#/components/responses/404'}, '503': {'$ref': '#/components/responses/503'}}}}
doc['paths'] = dict(sorted(doc['paths'].items()))

# ---------------------------------------------------------------------------------------------------
# Response objects are closed: an object schema of a response lists every property it can have and, unless
# it says otherwise, requires them all and allows no other (a builder of the extension writes every key
# with jsonb_build_object; a key that can be absent is marked 'optional': True next to its schema). A
# schema a request body also uses is left open to what its own author wrote.
# ---------------------------------------------------------------------------------------------------
def _refs(node, out):
    if isinstance(node, dict):
        if '$ref' in node and node['$ref'].startswith('#/components/schemas/'):
            n = node['$ref'].rsplit('/', 1)[1]
            if n not in out:
                out.add(n)
                _refs(doc['components']['schemas'][n], out)
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


import copy


def _flatten(node):
    """allOf of object schemas becomes one object (a closed part would refuse the other parts' properties)."""
    if isinstance(node, list):
        return [_flatten(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _flatten(v) for k, v in node.items()}
    if 'allOf' in node:
        parts = [copy.deepcopy(doc['components']['schemas'][p['$ref'].rsplit('/', 1)[1]]) if '$ref' in p else p for p in node['allOf']]
        parts = [_flatten(p) for p in parts]
        if all(p.get('type') == 'object' and 'properties' in p for p in parts):
            merged = {k: v for k, v in node.items() if k != 'allOf'}
            merged.update({'type': 'object', 'properties': {}})
            req = []
            for p in parts:
                merged['properties'].update(p['properties'])
                req += [r for r in p.get('required', []) if r not in req]
            if any('required' in p for p in parts):
                merged['required'] = req
            return merged
    return node


doc['components']['schemas'] = {n: _flatten(s) for n, s in doc['components']['schemas'].items()}


# properties whose values always come from one CHECK constraint or domain, wherever they appear
BY_NAME = {'timeframe': TIMEFRAMES, 'mark_timeframe': TIMEFRAMES, 'mode': MODES, 'side': check_enum('signals', 'side'),
           'channel_type': check_enum('alert_channels', 'type'),
           'tier': check_enum('users', 'tier')}


def _enums(node):
    if isinstance(node, list):
        for v in node:
            _enums(v)
    elif isinstance(node, dict):
        for k, v in (node.get('properties') or {}).items():
            if k in BY_NAME and isinstance(v, dict) and 'enum' not in v and 'const' not in v and v.get('type') in ('string', ['string', 'null']):
                nullable = v.get('type') == ['string', 'null']
                v.pop('type')
                v['enum'] = ([None] if nullable else []) + BY_NAME[k]
        for v in node.values():
            _enums(v)


_enums(doc['components']['schemas'])
_enums(doc['paths'])
_req, _resp = set(), set()
for ops in doc['paths'].values():
    for o in ops.values():
        _refs(o.get('requestBody', {}), _req)
        _refs(o.get('parameters', []), _req)
        _refs(o['responses'], _resp)
_refs(doc['components']['responses'], _resp)


def _close(node, closed):
    if isinstance(node, list):
        for v in node:
            _close(v, closed)
        return
    if not isinstance(node, dict):
        return
    t = node.get('type')
    if (t == 'object' or (isinstance(t, list) and 'object' in t)) and 'properties' not in node:
        node.setdefault('additionalProperties', True)   # an open map: say so (a generator would make it empty)
    if isinstance(node.get('properties'), dict):
        optional = [k for k, v in node['properties'].items() if isinstance(v, dict) and v.pop('optional', False)]
        if closed:
            node.setdefault('required', [k for k in node['properties'] if k not in optional])
            node.setdefault('additionalProperties', False)
        else:
            # a request body (or a schema both sides use): other keys are ignored unless the schema refuses them
            # (the strategy fields of ext/sql/30_strategies.sql, the backtest, checkout, comp and Vix bodies)
            node.setdefault('additionalProperties', True)
    for k, v in node.items():
        if k != '$ref':
            _close(v, closed)


for n, sch in doc['components']['schemas'].items():
    _close(sch, n in _resp and n not in _req)
for ops in doc['paths'].values():
    for o in ops.values():
        for r in o['responses'].values():
            for c in r.get('content', {}).values():
                _close(c['schema'], '$ref' not in c['schema'])
        for c in o.get('requestBody', {}).get('content', {}).values():
            _close(c['schema'], False)

text = json.dumps(doc, indent=2) + '\n'
if sys.argv[1:] == ['--check']:
    # test/e2e/openapi.test.mjs: the committed document must be what the code says today
    if (top / 'http/openapi.json').read_text() != text:
        raise SystemExit('http/openapi.json is stale: run tools/openapi_gen.py')
    print('http/openapi.json is current')
else:
    (top / 'http/openapi.json').write_text(text)
    print(f'http/openapi.json: {sum(len(v) for v in doc["paths"].values())} operations')
