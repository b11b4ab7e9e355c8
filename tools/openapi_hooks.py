# tools/openapi_hooks.py: OpenAPI texts of the webhook intake (http/routes_hooks.h): a user's hooks, their log
# and the public intake, read by tools/openapi_gen.py. Shapes and rules: docs/webhooks.md.
TAGS = [('/api/hooks', 'Webhooks')]
SUMMARY = {
    'list_hooks': 'List Hooks', 'create_hook': 'Create Hook', 'get_hook': 'Get Hook', 'update_hook': 'Patch Hook',
    'delete_hook': 'Delete Hook', 'rotate_hook_secret': 'Rotate Hook Secret', 'list_hook_events': 'List Hook Calls',
    'hook_intake': 'Send Alert (public, the hook\'s secret in the body)',
}
RESULT = {
    'list_hooks': 'HookList', 'create_hook': 'HookWithSecret', 'get_hook': 'Hook', 'update_hook': 'Hook',
    'rotate_hook_secret': 'HookWithSecret', 'list_hook_events': 'HookEventPage', 'hook_intake': 'HookIntakeResult',
}
BODY = {'create_hook': 'HookCreate', 'update_hook': 'HookPatch', 'hook_intake': 'HookAlert'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_uuid = {'type': 'string', 'format': 'uuid'}
_int = {'type': 'integer'}
_str = {'type': 'string'}
_bool = {'type': 'boolean'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_outcomes = ['accepted', 'duplicate', 'stale', 'blocked', 'invalid', 'rejected', 'rate_limited']
_hook = dict(id=_uuid, strategy_id=_uuid, label=_str, mode={'enum': MODES},
             path={'type': 'string', 'description': '/api/hooks/{id}'},
             url={'type': 'string', 'description': 'the URL to give TradingView: EX7_PUBLIC_URL and the path (the path '
                  'alone when ex7d has no EX7_PUBLIC_URL)'},
             max_age_seconds=_int, dedupe_seconds=_int, paused=_bool, paused_at=_nts, created_at=_ts, updated_at=_ts,
             secret_rotated_at=_nts)
SCHEMAS = {
    'HookCreate': {'type': 'object', 'required': ['strategy_id', 'label'], 'additionalProperties': False, 'properties': {
        'strategy_id': _uuid, 'label': {'type': 'string', 'minLength': 1, 'maxLength': 100},
        'mode': {'enum': MODES, 'default': 'paper'},
        'max_age_seconds': {'type': 'integer', 'minimum': 5, 'maximum': 86400, 'default': 120,
                            'description': 'an alert older than this by its own time is stale'},
        'dedupe_seconds': {'type': 'integer', 'minimum': 0, 'maximum': 86400, 'default': 60,
                           'description': 'a body without an order id repeated within this window is a duplicate'}}},
    'HookPatch': {'type': 'object', 'additionalProperties': False, 'properties': {
        'label': {'type': 'string', 'minLength': 1, 'maxLength': 100}, 'paused': _bool,
        'max_age_seconds': {'type': 'integer', 'minimum': 5, 'maximum': 86400},
        'dedupe_seconds': {'type': 'integer', 'minimum': 0, 'maximum': 86400}}},
    'Hook': _obj(**_hook),
    'HookWithSecret': _obj(**_hook, secret={'type': 'string', 'description': 'whk_ and 64 hex digits: the alert\'s '
                                            'passphrase, shown only in this answer'}),
    'HookList': _obj(items={'type': 'array', 'items': _ref('Hook')}),
    'HookEvent': _obj(id=_uuid, received_at=_ts, outcome={'enum': _outcomes}, http_status=_int,
                      action={'type': ['string', 'null']},
                      body={'type': ['object', 'null'], 'description': 'the alert as sent, without its passphrase'},
                      result={'type': 'object', 'description': 'the answer the call got'}),
    'HookEventPage': _obj(items={'type': 'array', 'items': _ref('HookEvent')}, next_cursor={'type': ['string', 'null']}),
    # TradingView's alert message (its placeholders) or a TradersPost body (docs/webhooks.md, "Sending an alert")
    'HookAlert': {'type': 'object', 'required': ['passphrase', 'ticker', 'action'], 'additionalProperties': True, 'properties': {
        'passphrase': {'type': 'string', 'description': 'the hook\'s secret'},
        'ticker': {'type': 'string', 'description': 'MNQ1!, MNQZ2026, MNQZ26, CME_MINI:MNQ1! or MNQ: the hook\'s strategy\'s instrument'},
        'action': {'enum': ['buy', 'sell', 'exit', 'cancel']},
        'sentiment': {'enum': ['long', 'short', 'flat'], 'description': 'the position after the order (TradingView\'s '
                      '{{strategy.market_position}})'},
        'contracts': {'type': ['integer', 'string'], 'description': 'whole number 1..10000 (or quantity); needed to enter'},
        'quantity': {'type': ['integer', 'string'], 'description': 'TradersPost\'s name of contracts'},
        'price': {'type': ['number', 'string'], 'description': 'on the tick grid; absent: the mark price'},
        'time': {'type': 'string', 'format': 'date-time', 'description': 'ISO 8601; older than max_age_seconds is stale'},
        'id': {'type': ['string', 'number'], 'description': 'the order id: a repeat of it is a duplicate'},
        'comment': {'type': 'string', 'maxLength': 500, 'description': 'the signal\'s tag (first 64 characters)'}}},
    'HookIntakeResult': _obj(
        outcome={'enum': ['accepted', 'blocked', 'duplicate']},
        intent={'enum': ['enter', 'exit', 'flatten', 'cancel']}, side={'enum': [None, 'long', 'short']},
        closed={'type': 'array', 'items': _ref('Signal')},
        signal={'oneOf': [_ref('Signal'), {'type': 'null'}]},
        blocked={'type': ['object', 'null'], 'description': 'the risk gate\'s refusal (a Get Blocked item)'},
        first_outcome={'type': 'string', 'optional': True, 'description': 'a duplicate: the first call\'s outcome'},
        note={'type': 'string', 'optional': True}),
}
DESCRIPTION = {
    'create_hook': 'The secret is in this answer only (ex7 keeps its SHA-256). 403 tier_limit_reached over the tier\'s '
                   'hooks_max; 412 until the compliance documents are accepted; 404 for a strategy not the user\'s.',
    'hook_intake': 'TradingView\'s Webhook URL. An unknown hook, a malformed id and a wrong or missing passphrase are the '
                   'same 404 and are not logged. Every other call is logged (List Hook Calls). 409 hook_paused, '
                   'strategy_not_active or no_mark_price; 412 documents not accepted; 422 invalid (the failing member\'s '
                   'locator) or stale (["body","time"]); 429 over the tier\'s hook_alerts_per_minute or hook_alerts_per_day. A repeat (same order '
                   'id, or same body within dedupe_seconds) answers 200 with the first result and fires nothing.',
    'rotate_hook_secret': 'The new secret is in this answer only; the old one answers 404 from then on.',
    'delete_hook': 'Its log goes with it; the signals it fired stay.',
}
NEVER = {
    # the intake acts for the hook's owner, found by the hook: the helpers' 401 for a NULL acting user
    # (ex7._ensure_user, ex7._require_compliance) cannot happen on this public route
    'hook_intake': {401: 'the acting user is the hook\'s owner, never NULL'},
}
