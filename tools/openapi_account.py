# tools/openapi_account.py: OpenAPI texts of the account area (http/routes_account.h): the waitlist, Vix,
# the self-hosted login and exchange keys, read by tools/openapi_gen.py. Shapes: docs/account.md.
TAGS = [('/api/waitlist', 'Waitlist'), ('/api/vix', 'Vix'), ('/api/auth', 'Auth'), ('/api/exchange-keys', 'Exchange Keys')]
SUMMARY = {
    'waitlist_add': 'Add To Waitlist (public)', 'waitlist_count': 'Waitlist Count (public)',
    'vix_generate': 'Generate Strategy', 'vix_quota': 'Get Quota',
    'auth_signup': 'Sign Up (public, self-hosted login)', 'auth_login': 'Login (public, self-hosted login)',
    'auth_change_password': 'Change Password', 'auth_session': 'Session',
    'list_exchange_keys': 'List Exchange Keys', 'create_exchange_key': 'Save Exchange Key',
    'delete_exchange_key': 'Delete Exchange Key',
}
RESULT = {
    'waitlist_add': 'WaitlistAdded', 'waitlist_count': 'WaitlistCount', 'vix_generate': 'VixResult',
    'vix_quota': 'VixQuota', 'auth_signup': 'Token', 'auth_login': 'Token', 'auth_change_password': 'PasswordChanged',
    'auth_session': 'Session', 'list_exchange_keys': 'ExchangeKeyList', 'create_exchange_key': 'ExchangeKey',
    'delete_exchange_key': 'ExchangeKeyDeleted',
}
BODY = {'vix_generate': 'VixRequest', 'create_exchange_key': 'ExchangeKeyCreate'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_int = {'type': 'integer'}
_uuid = {'type': 'string', 'format': 'uuid'}
_str = {'type': 'string'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_quota = _obj(limit=_int, used=_int, remaining=_int, resets_at=_ts)
SCHEMAS = {
    'WaitlistAdded': _obj(ok={'type': 'boolean'}, message=_str),
    'WaitlistCount': _obj(count=_int),
    'VixRequest': {
        'type': 'object', 'required': ['prompt'], 'additionalProperties': False,
        'properties': {
            'prompt': {'type': 'string', 'minLength': 1, 'maxLength': 2000,
                       'examples': ['RSI mean reversion on MNQ 5m with a 20 tick stop']},
            'create': {'type': 'boolean', 'default': False, 'description': 'also create a draft strategy from the graph'},
            'name': {'type': 'string', 'description': 'the draft\'s name (default: the generated one; suffixed when taken)'}}},
    'VixResult': _obj(graph=_ref('Graph'), summary=_str, assumptions={'type': 'array', 'items': _str},
                      understood={'type': 'object', 'description': 'what Vix read: instrument, timeframe, idea and its settings, direction, size, stop_loss_ticks, take_profit_ticks, session, trend_filter, flat_at_close'},
                      name=_str, instrument=_str, timeframe=_str, generator={'enum': ['deterministic', 'llm']},
                      fallback_reason={'type': 'object', 'required': ['code', 'message'], 'optional': True,
                                       'description': 'only when a configured language model\'s answer was not used and the deterministic generator answered',
                                       'properties': {'code': {'enum': ['provider_timeout', 'provider_unreachable', 'provider_error', 'invalid_answer', 'invalid_graph']},
                                                      'message': _str, 'detail': {'type': 'array', 'items': {'type': 'object'}, 'description': 'the engine validator\'s error (invalid_graph)'}}},
                      validation=_obj(lookback=_int, entries={'type': 'array', 'items': {'type': 'object'}}),
                      strategy={'oneOf': [_ref('Strategy'), {'type': 'null'}]}, quota=_quota),
    'VixQuota': _obj(tier={'enum': ['free', 'operator', 'strategist']}, limit=_int, used=_int, remaining=_int,
                     day={'type': 'string', 'format': 'date'}, resets_at=_ts),
    'Token': _obj(access_token=_str, token_type={'const': 'bearer'}, expires_in=_int, user=_obj(id=_uuid, email=_str)),
    'PasswordChanged': _obj(changed={'type': 'boolean'}, password_changed_at=_ts),
    'Session': _obj(user=_obj(id=_uuid, email={'type': ['string', 'null']}, tier=_str, created_at=_ts),
                    password_login={'type': 'boolean'}, password_changed_at=_nts),
    'ExchangeKeyCreate': {
        'type': 'object', 'required': ['exchange', 'api_key', 'secret'],
        'properties': {
            'exchange': {'enum': sql_array('_exchanges')},
            'label': {'type': 'string', 'maxLength': 100},
            'api_key': {'type': 'string', 'maxLength': 4096, 'description': 'also accepted as apiKey'},
            'secret': {'type': 'string', 'maxLength': 4096},
            'passphrase': {'type': 'string', 'maxLength': 4096, 'description': 'required for okx'}}},
    'ExchangeKey': _obj(id=_uuid, exchange={'enum': sql_array('_exchanges')}, label=_str, hint={'type': 'string', 'examples': ['****WXYZ']},
                        has_passphrase={'type': 'boolean'}, created_at=_ts),
    'ExchangeKeyList': _obj(keys={'type': 'array', 'items': _ref('ExchangeKey')}),
    'ExchangeKeyDeleted': _obj(id=_uuid, deleted={'const': True}),
}
DESCRIPTION = {
    'waitlist_add': 'Body {"email"}. The same 200 body whether the address is new or already listed. 422 for a malformed address; '
                    '429 (Retry-After) after 20 sign-ups from one client address in an hour.',
    'vix_generate': 'Turns a plain-language request ("RSI mean reversion on MNQ 5m with a 20 tick stop") into a strategy graph '
                    'the engine\'s validator accepts, with a summary and the assumptions made; with "create": true also a draft '
                    'strategy. Deterministic (docs/account.md lists what it reads), unless the server has a language model '
                    'configured (EX7_VIX_LLM_BASE, an OpenAI-compatible endpoint): then the model is asked first, its graph is '
                    'validated by the engine the same way (generator "llm"), and any failure of the model (timeout, error, '
                    'an invalid graph) falls back to the deterministic generator (generator "deterministic" with '
                    'fallback_reason). 422 at ["body","prompt"] with ctx.understood when it finds no trading idea; 429 '
                    '{code: vix_quota_exceeded} over the tier\'s daily quota (Retry-After: seconds to 00:00 UTC). One '
                    'generation is counted per answer; a failed generation is not counted.',
    'vix_quota': 'Generations used and left today (UTC) under the caller\'s tier.',
    'auth_signup': 'Only when the server runs with EX7_AUTH_ENABLED=1 (else 404). Body {"email", "password"} (8 to 128 '
                   'characters). 201 with a bearer token signed like the ones ex7d verifies. 409 {code: email_taken}; 429 after '
                   '10 sign-ups from one address in an hour.',
    'auth_login': 'Only when EX7_AUTH_ENABLED=1 (else 404). Body: a form (application/x-www-form-urlencoded: username, '
                  'password) or JSON {"username" or "email", "password"}. 401 for a wrong password or an unknown account '
                  '(alike); 429 with Retry-After after 5 failures of an account or 20 of a client address within 15 minutes.',
    'auth_change_password': 'Body {"current_password", "new_password"}. 422 at ["body","current_password"] when it is wrong '
                            '(counted like a failed login); 404 for a user without a password login.',
    'auth_session': 'The user the bearer token names.',
    'create_exchange_key': 'The API key, secret and passphrase are encrypted with AES-256-GCM by the server before storage '
                           'and are never returned. 503 when the server has no EX7_MASTER_KEYS.',
    'list_exchange_keys': 'Never the secrets: exchange, label, a masked hint of the API key, created_at.',
    'delete_exchange_key': 'Permanent. Another user\'s key is 404.',
}
