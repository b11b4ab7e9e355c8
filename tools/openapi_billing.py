# tools/openapi_billing.py: OpenAPI texts of the billing area (http/routes_billing.h): tiers, compliance,
# Stripe billing and its webhook, read by tools/openapi_gen.py. Shapes: docs/billing.md.
TAGS = [('/api/billing', 'Billing')]
SUMMARY = {
    'billing_tiers': 'List Tiers (public)', 'billing_disclaimer': 'Get Disclaimer (public)',
    'get_compliance': 'Get Compliance Status', 'accept_compliance': 'Accept Compliance', 'billing_me': 'Billing Me',
    'billing_checkout': 'Checkout', 'billing_portal': 'Portal', 'billing_cancel': 'Cancel', 'billing_resume': 'Resume',
    'billing_comp': 'Admin Comp (service_role)', 'stripe_apply_event': 'Stripe Webhook (public, signed)',
}
RESULT = {
    'billing_tiers': 'TierList', 'billing_disclaimer': 'Disclaimer', 'get_compliance': 'ComplianceStatus',
    'accept_compliance': 'ComplianceStatus', 'billing_me': 'Billing', 'billing_checkout': 'CheckoutSession',
    'billing_portal': 'PortalSession', 'billing_cancel': 'Billing', 'billing_resume': 'Billing', 'billing_comp': 'Billing',
    'stripe_apply_event': 'WebhookReceipt',
}
BODY = {'accept_compliance': 'ComplianceAccept', 'billing_checkout': 'CheckoutRequest', 'billing_comp': 'CompRequest'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_int = {'type': 'integer'}
_str = {'type': 'string'}
_bool = {'type': 'boolean'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_caps = _obj(requests_per_minute=_int, requests_per_day=_int, alerts_per_day=_int, strategies=_int,
             running_runtimes=_int, vix_generations_per_day=_int, hooks=_int, hook_alerts_per_minute=_int,
             hook_alerts_per_day=_int,
             study_workers={**_int, 'description': "background workers a user's studies run on at once"},
             study_trials={**_int, 'description': 'trials one study may have'})
_doc = _obj(document=_str, version=_str, title=_str, url={'type': ['string', 'null']}, effective_at=_ts)
_missing = {'type': 'array', 'items': _obj(document=_str, version=_str)}
SCHEMAS = {
    'TierList': _obj(tiers={'type': 'array', 'items': _obj(
        tier={'enum': ['free', 'operator', 'strategist']}, name=_str, rank=_int,
        price=_obj(amount={'type': 'string', 'description': 'exact decimal'}, currency=_str, interval={'enum': ['month']}),
        purchasable={'type': 'boolean', 'description': 'the tier has a Stripe price: POST /api/billing/checkout sells it'},
        caps=_caps)}),
    # ex7.billing_disclaimer (ext/sql/73_billing.sql): ex7.compliance_banner() and the current documents
    'Disclaimer': _obj(rule={'type': 'string', 'const': 'CFTC Rule 4.41(b)(1)(i)'},
                       text={'type': 'string', 'description': 'CFTC Rule 4.41(b)(1)(i), verbatim'},
                       documents={'type': 'array', 'items': _doc}),
    'ComplianceStatus': _obj(compliant=_bool, documents={'type': 'array', 'items': {
        'allOf': [_doc, _obj(accepted_at=_nts)]}}, missing=_missing),
    'ComplianceAccept': {'type': 'object', 'additionalProperties': False, 'required': ['documents'], 'properties': {
        'documents': {'type': 'array', 'minItems': 1, 'maxItems': 20,
                      'description': 'the documents the user was shown and accepts (required: docs/billing.md)',
                      'items': {'oneOf': [{'type': 'string', 'examples': ['tos']},
                                          {'type': 'object', 'required': ['document'], 'additionalProperties': False,
                                           'properties': {'document': _str, 'version': _str}}]}}}},
    'Billing': _obj(user_id={'type': 'string', 'format': 'uuid'}, tier=_str,
                    tier_source={'enum': ['free', 'subscription', 'comp', 'operator']},
                    status={'type': ['string', 'null'], 'description': "Stripe's subscription status"},
                    current_period_end=_nts, cancel_at_period_end=_bool,
                    # ex7.billing_me (ext/sql/73_billing.sql): the Stripe subscription when there is one, an unexpired comp
                    subscription={'type': ['object', 'null'], 'properties': {
                        'id': _str, 'tier': {'type': ['string', 'null']}, 'status': {'type': ['string', 'null']},
                        'current_period_end': _nts, 'cancel_at_period_end': {'type': ['boolean', 'null']}}},
                    comp={'type': ['object', 'null'], 'properties': {'tier': {'type': ['string', 'null']}, 'until': _ts}},
                    caps=_caps,
                    usage=_obj(requests_today=_int, alerts_today=_int, vix_generations_today=_int, strategies=_int,
                               running_runtimes=_int),
                    day={'type': 'string', 'format': 'date'}),
    'CheckoutRequest': {'type': 'object', 'required': ['tier'], 'additionalProperties': False,
                        'properties': {'tier': {'enum': ['operator', 'strategist']}}},
    'CheckoutSession': _obj(url={'type': 'string', 'format': 'uri'}, session_id=_str, tier=_str),
    'PortalSession': _obj(url={'type': 'string', 'format': 'uri'}),
    'CompRequest': {'type': 'object', 'required': ['user_id', 'tier'], 'additionalProperties': False, 'properties': {
        'user_id': {'type': 'string', 'format': 'uuid'}, 'tier': {'enum': ['free', 'operator', 'strategist']},
        'days': {'type': 'integer', 'minimum': 1, 'maximum': 3660, 'default': 30}}},
    'WebhookReceipt': _obj(received=_bool, id=_str, type=_str, duplicate=_bool,
                           outcome={'enum': ['applied', 'ignored', 'stale']}),
}
_gate = (' Answers 412 {"detail": {"code": "compliance_required", "message", "missing": [{document, version}]}} until the'
         ' current Terms of Service, Risk Disclosure and Privacy Policy are accepted (POST /api/billing/compliance/accept).')
_stripe = (' Calls Stripe (STRIPE_API_BASE); a Stripe error, an unreachable Stripe or a timeout is 503 with a detail'
           ' naming it; without STRIPE_SECRET_KEY 503 "billing is not configured".')
DESCRIPTION = {
    'billing_tiers': 'Public. Returns every tier with prices + feature caps (an operator edits them in ex7.tiers).',
    'billing_disclaimer': 'Public. CFTC Rule 4.41 disclaimer + current required doc versions.',
    'get_compliance': 'The current version of every required document, whether and when the caller accepted it, and what is missing.',
    'accept_compliance': ('Records acceptance (version, time, client address) of the named documents. The body and its'
                          ' documents list are required (the reference\'s sample sends no body; an acceptance names what'
                          ' the user was shown: docs/billing.md). A version that is no longer current is 409'
                          ' document_version_not_current.'),
    'billing_me': 'Tier (and why), Stripe subscription status, period end, cancel-at-period-end, caps and usage today (UTC).',
    'billing_checkout': 'Creates a Stripe Checkout Session (subscription) for the tier and returns its URL.' + _gate + _stripe
                        + ' 409 subscription_exists when a subscription is live (use the portal).',
    'billing_portal': 'Creates a Stripe billing-portal session for the caller\'s customer; 404 before the first checkout.' + _stripe,
    'billing_cancel': 'Cancels the subscription at the end of its period (idempotent); 404 without a live subscription.' + _stripe,
    'billing_resume': 'Undoes a cancellation at period end (idempotent); 404 without a live subscription.' + _stripe,
    'billing_comp': 'service_role only. Grants a tier for a number of days without payment; tier free ends a comp.',
    'stripe_apply_event': ('Stripe → us. Signature verified BEFORE parse (header Stripe-Signature: t and every v1, HMAC-SHA256'
                           ' with each secret of STRIPE_WEBHOOK_SECRET, 300 s tolerance). Returns 200 on success or'
                           ' already-processed (duplicate: true). 400 on bad signature. 500 on handler error (so Stripe'
                           ' retries); the event is then not recorded.'),
}
