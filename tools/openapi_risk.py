# tools/openapi_risk.py: OpenAPI texts of the risk controls (http/routes_risk.h): protections and their locks
# (docs/protections.md, ext/sql/81_protections.sql) and the trading state, a user's per mode and the service's
# (docs/trading-state.md, ext/sql/81_trading_state.sql), read by tools/openapi_gen.py. Get Risk and Get Blocked
# stay in tools/openapi_gen.py with the rest of the reference's Account section.
SUMMARY = {
    'list_protections': 'List Protections', 'create_protection': 'Create Protection', 'get_protection': 'Get Protection',
    'update_protection': 'Patch Protection', 'delete_protection': 'Delete Protection', 'list_locks': 'List Locks',
    'lift_lock': 'Lift Lock', 'get_trading_state': 'Get Trading State', 'set_trading_state': 'Set Trading State',
    'service_trading_states': 'Get Service Trading State (service_role only)',
    'set_service_trading_state': 'Set Service Trading State (service_role only)',
}
RESULT = {
    'list_protections': 'ProtectionList', 'create_protection': 'Protection', 'get_protection': 'Protection',
    'update_protection': 'Protection', 'list_locks': 'LockPage', 'lift_lock': 'Lock',
    'get_trading_state': 'TradingState', 'set_trading_state': 'TradingStateChange',
    'service_trading_states': 'ServiceTradingStateList', 'set_service_trading_state': 'ServiceTradingStateList',
}
BODY = {
    'create_protection': 'ProtectionCreate', 'update_protection': 'ProtectionPatch',
    'set_trading_state': 'TradingStateSet', 'set_service_trading_state': 'ServiceTradingStateSet',
}
PARAM_ENUM = {
    ('list_protections', 'mode'): MODES, ('list_locks', 'mode'): MODES, ('list_locks', 'state'): ['active', 'all'],
    ('get_trading_state', 'mode'): MODES, ('set_trading_state', 'mode'): MODES,
}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_uuid = {'type': 'string', 'format': 'uuid'}
_nuuid = {'type': ['string', 'null'], 'format': 'uuid'}
_nstr = {'type': ['string', 'null']}
_bool = {'type': 'boolean'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_kinds = check_enum('risk_protections', 'kind')
_states = ['active', 'reducing', 'halted']
_scope = {'enum': ['strategy', 'instrument', 'all'],
          'description': 'strategy (strategy_id set), instrument (instrument set), or all of the mode\'s trading'}
# the parameters of the kinds (ext/sql/81_protections.sql, ex7._protection_set); each kind has only its own
# (cooldown: bars; stoploss_guard: trade_limit, lookback_minutes, lock_minutes; max_drawdown: those and
# max_drawdown; low_profit: those and min_profit)
_count = lambda d: {'type': 'integer', 'minimum': 1, 'maximum': 1000, 'description': d}
_minutes = lambda d: {'type': 'integer', 'minimum': 1, 'maximum': 525600, 'description': d}
_money_in = lambda d: {'type': ['number', 'string'], 'description': d + '; money: a number or a decimal string, at most 2 decimals'}
_params_in = {
    'bars': _count('cooldown: bars of the signal\'s timeframe the strategy is locked after each close (default 2)'),
    'trade_limit': _count('stoploss_guard: stop-outs within lookback_minutes that lock (default 3); max_drawdown, '
                          'low_profit: closes needed before the rule judges (default 1)'),
    'lookback_minutes': _minutes('the closes the rule reads (defaults 60 for stoploss_guard, 1440 otherwise)'),
    'lock_minutes': _minutes('how long a lock lasts (defaults 60 for stoploss_guard, 720 otherwise)'),
    'max_drawdown': _money_in('max_drawdown (required): the drawdown of the running net P&L within the lookback that '
                              'locks, > 0 and <= 1000000'),
    'min_profit': _money_in('low_profit: the net P&L within the lookback below which it locks (default 0.00), '
                            '-1000000..1000000'),
}
_params_out = {
    'bars': {'type': 'integer', 'optional': True}, 'trade_limit': {'type': 'integer', 'optional': True},
    'lookback_minutes': {'type': 'integer', 'optional': True}, 'lock_minutes': {'type': 'integer', 'optional': True},
    'max_drawdown': {'type': 'string', 'optional': True, 'description': 'exact decimal'},
    'min_profit': {'type': 'string', 'optional': True, 'description': 'exact decimal'},
}
_service_state = _obj(scope={'enum': ['all', 'instrument']}, instrument=_nstr, state={'enum': ['reducing', 'halted']},
                      reason=_nstr, changed_at=_ts)
_trading_state = dict(
    mode={'enum': MODES},
    state={'enum': _states, 'description': 'the user\'s own state for the mode (active when never set)'},
    reason=_nstr, changed_at=_nts,
    effective={'enum': _states, 'description': 'the most restrictive of the user\'s and the service\'s for every instrument'},
    effective_source={'enum': [None, 'service', 'instrument', 'user'], 'description': 'whose state effective is; null when active'},
    service={'type': 'array', 'items': _ref('ServiceTradingState'),
             'description': 'the service\'s states in force (every instrument, or one)'})
SCHEMAS = {
    'ProtectionCreate': {'type': 'object', 'required': ['kind'], 'additionalProperties': False, 'properties': {
        'kind': {'enum': _kinds}, 'mode': {'enum': MODES, 'default': 'paper'},
        'strategy_id': {**_nuuid, 'description': 'the scope: one of the user\'s strategies (not with instrument)'},
        'instrument': {'type': ['string', 'null'], 'description': 'the scope: one instrument (not with strategy_id); '
                       'neither: all of the mode\'s trading'},
        **_params_in, 'enabled': {'type': 'boolean', 'default': True}}},
    'ProtectionPatch': {'type': 'object', 'additionalProperties': False, 'properties': {
        **_params_in, 'enabled': _bool},
        'description': 'the kind\'s parameters and enabled; kind, mode and scope are fixed (422 value_error.const)'},
    'Protection': _obj(id=_uuid, mode={'enum': MODES}, kind={'enum': _kinds}, scope=_scope, strategy_id=_nuuid,
                       instrument=_nstr, params=_obj(**_params_out), enabled=_bool, created_at=_ts, updated_at=_ts),
    'ProtectionList': _obj(items={'type': 'array', 'items': _ref('Protection')}),
    'Lock': _obj(id=_uuid, mode={'enum': MODES}, kind={'enum': _kinds},
                 protection_id={**_nuuid, 'description': 'the protection that wrote it (it may since have been deleted)'},
                 scope=_scope, strategy_id=_nuuid, instrument=_nstr,
                 reason={'enum': [k + '_locked' for k in _kinds]},
                 observed=_nstr, limit=_nstr,
                 signal_id={**_nuuid, 'description': 'the close that triggered it'},
                 locked_at={**_ts, 'description': 'the bar of that close (the bar clock)'},
                 until={**_ts, 'description': 'entries in the scope are refused until then (the bar clock)'},
                 created_at=_ts, lifted_at=_nts,
                 active={'type': 'boolean', 'description': 'not lifted and until in the future'}),
    'LockPage': _obj(items={'type': 'array', 'items': _ref('Lock')}, next_cursor=_nstr),
    'ServiceTradingState': _service_state,
    'ServiceTradingStateList': _obj(items={'type': 'array', 'items': _ref('ServiceTradingState')}),
    'TradingState': _obj(**_trading_state),
    'TradingStateChange': _obj(**_trading_state,
                               flattened={'type': 'array', 'items': _ref('Signal'),
                                          'description': 'the signals flatten closed (close_reason kill_switch)'},
                               event_id={'type': 'integer', 'description': 'the trading_state event on the stream'}),
    'TradingStateSet': {'type': 'object', 'required': ['state'], 'additionalProperties': False, 'properties': {
        'state': {'enum': _states}, 'reason': {'type': ['string', 'null'], 'maxLength': 200},
        'flatten': {'type': 'boolean', 'default': False,
                    'description': 'with halted only: close every open signal of the mode at its mark, all or nothing'}}},
    'ServiceTradingStateSet': {'type': 'object', 'required': ['state'], 'additionalProperties': False, 'properties': {
        'scope': {'type': 'string', 'default': '*', 'description': '* (every instrument) or an instrument symbol'},
        'state': {'enum': _states, 'description': 'active removes the state of the scope'},
        'reason': {'type': ['string', 'null'], 'maxLength': 200}}},
}
DESCRIPTION = {
    'list_protections': 'The user\'s protections, oldest first, of one mode or (mode absent) both.',
    'create_protection': 'A rule that, after a close in its scope, may lock new entries for a while (exits always go on). '
                         'Parameters left out take the kind\'s defaults. 422 lists every bad member at ["body", member]; '
                         '409 protections_limit beyond 20.',
    'update_protection': 'Changes the kind\'s parameters or enabled; the locks it already wrote stay.',
    'delete_protection': 'The locks it wrote stay until they expire or are lifted.',
    'list_locks': 'Newest first, keyset pages. A lock written after a close is also a risk_lock event on the signal stream '
                  '(docs/stream.md) and an alert.',
    'lift_lock': 'Lifts an active lock early and answers it with lifted_at set: entries in its scope pass again. 409 '
                 'lock_not_active when it was already lifted or has expired.',
    'get_trading_state': 'The user\'s kill switch for the mode, the state in force (with the service\'s) and the service\'s '
                         'states.',
    'set_trading_state': 'halted refuses every entry, reducing only lets through an entry that shrinks the net position of its '
                         'instrument, active lifts the user\'s state; exits always go on. With flatten (halted only) every '
                         'open signal of the mode closes at its mark in the same transaction: 409 no_mark_price, and nothing '
                         'changes, when an instrument has no fresh mark. The change is a trading_state event on the signal '
                         'stream (its event_id) and an alert.',
    'service_trading_states': 'The service\'s trading states in force (an exchange incident): every instrument, or one.',
    'set_service_trading_state': 'Sets (or, with active, removes) the service\'s state for every instrument (scope *) or one. '
                                 'It waits for fires in flight on the instruments it covers, and is sent to every open signal '
                                 'stream as event trading_state without an id.',
}
NEVER = {
    # ex7._emit_event's 404 for a user without a row: ex7d runs ex7.ensure_user before a subject's first request,
    # and the route names no other resource
    'set_trading_state': {404: 'the acting user\'s row exists (ex7.ensure_user); the route names no resource'},
}
