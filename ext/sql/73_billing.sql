/* ext/sql/73_billing.sql: tiers, the compliance gate, billing state and Stripe (docs/billing.md).
 * Functions only (re-run whole by the upgrade); the tables are in 72_billing_schema.sql. */

/* ---------------------------------------------------------------------------------------------------
 * Compliance. ex7-api-introduction.txt: "412 Precondition Failed: Compliance gate: user has not yet
 * accepted ToS / Risk / Privacy. Hit /api/billing/compliance/accept first."
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._current_documents()
RETURNS SETOF ex7.compliance_documents
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (d.document) d.*
      FROM ex7.compliance_documents d
     WHERE d.effective_at <= pg_catalog.now()
     ORDER BY d.document, d.effective_at DESC, d.version DESC;
$$;
COMMENT ON FUNCTION ex7._current_documents() IS
'Returns the current version of every compliance document: per document, its newest row already in effect (effective_at <= now()).';

/*
 * The user's acceptances are read on their own, then compared with the documents (a reference table):
 * Citus does not plan a subquery on a distributed table correlated with a function's or a reference
 * table's rows (docs/citus-statements.md).
 */
CREATE OR REPLACE FUNCTION ex7._missing_documents(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_accepted ex7.compliance_acceptances[];
BEGIN
    SELECT pg_catalog.array_agg(a) INTO v_accepted FROM ex7.compliance_acceptances a WHERE a.user_id = p_user;
    RETURN (SELECT COALESCE(pg_catalog.jsonb_agg(
                       pg_catalog.jsonb_build_object('document', d.document, 'version', d.version) ORDER BY d.document),
                   '[]')
              FROM ex7._current_documents() d
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(v_accepted) a
                                WHERE a.document = d.document AND a.version = d.version));
END
$$;
COMMENT ON FUNCTION ex7._missing_documents(uuid) IS
'Returns [{document, version}, ...]: the current document versions the user has not accepted (empty: compliant).';

/*
 * _require_compliance: the gate of every action that trades or delivers (docs/billing.md, "The gate"):
 * runtime start, signal close, force-close-all, the signal stream, alert channels and subscriptions,
 * checkout. Callers run it first, before anything else they check.
 */
CREATE OR REPLACE FUNCTION ex7._require_compliance(p_user uuid)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_missing jsonb;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    v_missing := ex7._missing_documents(p_user);
    IF v_missing <> '[]' THEN
        PERFORM ex7._raise(412, 'compliance documents not accepted',
            pg_catalog.jsonb_build_object('code', 'compliance_required',
                'message', 'accept the current Terms of Service, Risk Disclosure and Privacy Policy first: POST /api/billing/compliance/accept',
                'missing', v_missing));
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._require_compliance(uuid) IS
'Returns nothing when the user accepted every current compliance document; raises X7412 {code: compliance_required, message, missing: [{document, version}]} otherwise (X7401 for a NULL user).';

CREATE OR REPLACE FUNCTION ex7._document_json(d ex7.compliance_documents)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('document', d.document, 'version', d.version, 'title', d.title,
                                         'url', d.url, 'effective_at', d.effective_at);
$$;
COMMENT ON FUNCTION ex7._document_json(ex7.compliance_documents) IS
'Returns {document, version, title, url, effective_at} of a compliance document version.';

CREATE OR REPLACE FUNCTION ex7.get_compliance(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_accepted ex7.compliance_acceptances[];
    v_missing jsonb := ex7._missing_documents(p_user);
BEGIN
    -- the user's acceptances on their own, then joined with the documents (as in ex7._missing_documents)
    SELECT pg_catalog.array_agg(a) INTO v_accepted FROM ex7.compliance_acceptances a WHERE a.user_id = p_user;
    RETURN (SELECT pg_catalog.jsonb_build_object(
                'compliant', v_missing = '[]',
                'documents', COALESCE(pg_catalog.jsonb_agg(
                    ex7._document_json(d) || pg_catalog.jsonb_build_object('accepted_at', a.accepted_at)
                    ORDER BY d.document), '[]'),
                'missing', v_missing)
              FROM ex7._current_documents() d
              LEFT JOIN pg_catalog.unnest(v_accepted) a ON a.document = d.document AND a.version = d.version);
END
$$;
COMMENT ON FUNCTION ex7.get_compliance(uuid) IS
'Returns {compliant, documents: [{document, version, title, url, effective_at, accepted_at (null: not accepted)}], missing: [{document, version}]} for the current document versions.';

/*
 * accept_compliance: POST /api/billing/compliance/accept. Body {"documents": ["tos", "risk", "privacy"]},
 * an item may name its version ({"document": "tos", "version": "2"}: the version the client showed). A
 * version that is no longer current is a 409, so the client shows the new text instead of recording
 * consent to the old one. Accepting again keeps the first record.
 * Over HTTP the body is required (ex7d answers 422 ["body"] "field required" for an empty request, where
 * the reference's sample sends none: an acceptance of legal documents names what the user was shown;
 * docs/billing.md), and so is its "documents" list: '{}' is 422 ["body","documents"]. A NULL body (the
 * DEFAULT), which no HTTP request can send, accepts every current document: the SQL callers' form (tests,
 * the demo data, an operator recording a consent given elsewhere).
 */
CREATE OR REPLACE FUNCTION ex7.accept_compliance(p_user uuid, p_body jsonb DEFAULT NULL, p_client_addr text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_item  jsonb;
    v_i     integer := 0;
    v_doc   text;
    v_ver   text;
    v_cur   ex7.compliance_documents;
    v_want  ex7.compliance_documents[] := '{}';
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_body IS NOT NULL AND pg_catalog.jsonb_typeof(p_body) IS DISTINCT FROM 'object' THEN
        PERFORM ex7._invalid('["body"]', 'the body must be an object {"documents": [...]}', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(COALESCE(p_body, '{}'), ARRAY['documents']);
    IF p_body IS NULL THEN
        SELECT pg_catalog.array_agg(d) INTO v_want FROM ex7._current_documents() d;
    ELSIF NOT p_body ? 'documents' THEN
        PERFORM ex7._invalid('["body","documents"]', 'field required: name the documents the user accepts',
                             'value_error.missing');
    ELSE
        IF pg_catalog.jsonb_typeof(p_body -> 'documents') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_array_length(p_body -> 'documents') NOT BETWEEN 1 AND 20 THEN
            PERFORM ex7._invalid('["body","documents"]', 'documents must be a list of 1 to 20 documents',
                                 'type_error.list');
        END IF;
        FOR v_item IN SELECT e FROM pg_catalog.jsonb_array_elements(p_body -> 'documents') AS e LOOP
            v_doc := NULL;
            v_ver := NULL;
            IF pg_catalog.jsonb_typeof(v_item) = 'string' THEN
                v_doc := v_item #>> '{}';
            ELSIF pg_catalog.jsonb_typeof(v_item) = 'object' AND pg_catalog.jsonb_typeof(v_item -> 'document') = 'string'
                  AND (NOT v_item ? 'version' OR pg_catalog.jsonb_typeof(v_item -> 'version') = 'string')
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(v_item) k
                                   WHERE k NOT IN ('document', 'version')) THEN
                v_doc := v_item ->> 'document';
                v_ver := v_item ->> 'version';
            ELSE
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'documents', v_i),
                    'a document is a name ("tos") or {"document": "tos", "version": "1"}', 'type_error');
            END IF;
            SELECT * INTO v_cur FROM ex7._current_documents() d WHERE d.document = v_doc;
            IF NOT FOUND THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'documents', v_i),
                    pg_catalog.format('unknown document %s; current documents: %s', v_doc,
                        (SELECT pg_catalog.string_agg(d.document, ', ' ORDER BY d.document) FROM ex7._current_documents() d)),
                    'value_error.enum');
            END IF;
            IF v_ver IS NOT NULL AND v_ver <> v_cur.version THEN
                IF NOT EXISTS (SELECT 1 FROM ex7.compliance_documents d WHERE d.document = v_doc AND d.version = v_ver) THEN
                    PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'documents', v_i, 'version'),
                        pg_catalog.format('unknown version %s of %s', v_ver, v_doc), 'value_error');
                END IF;
                PERFORM ex7._raise(409, pg_catalog.format('version %s of %s is not the current one', v_ver, v_doc),
                    pg_catalog.jsonb_build_object('code', 'document_version_not_current', 'document', v_doc,
                                                  'version', v_ver, 'current', v_cur.version));
            END IF;
            v_want := v_want || v_cur;
            v_i := v_i + 1;
        END LOOP;
    END IF;
    -- one INSERT ... VALUES a document: an INSERT ... SELECT from an array would go through the coordinator
    -- on Citus, these stay on the user's shard (docs/citus-statements.md)
    FOREACH v_cur IN ARRAY COALESCE(v_want, '{}') LOOP
        INSERT INTO ex7.compliance_acceptances (user_id, document, version, client_addr)
        VALUES (p_user, v_cur.document, v_cur.version, pg_catalog.left(p_client_addr, 64))
        ON CONFLICT (user_id, document, version) DO NOTHING;
    END LOOP;
    RETURN ex7.get_compliance(p_user);
END
$$;
COMMENT ON FUNCTION ex7.accept_compliance(uuid, jsonb, text) IS
'Returns the user''s compliance status (as ex7.get_compliance) after recording acceptance (time, client address) of the current documents the body names ({"documents": [...]}, what POST /api/billing/compliance/accept requires), or of every current document when the body is NULL (the default: SQL callers only). X7422 for a body without documents, an unknown document or field, X7409 document_version_not_current when a named version is not the current one.';

CREATE OR REPLACE FUNCTION ex7.billing_disclaimer()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7.compliance_banner() || pg_catalog.jsonb_build_object(
        'documents', (SELECT COALESCE(pg_catalog.jsonb_agg(ex7._document_json(d) ORDER BY d.document), '[]')
                        FROM ex7._current_documents() d));
$$;
COMMENT ON FUNCTION ex7.billing_disclaimer() IS
'Returns {rule, text, documents}: the CFTC Rule 4.41(b)(1)(i) statement (ex7.compliance_banner) and the current version of every required document (GET /api/billing/disclaimer, public).';

/* ---------------------------------------------------------------------------------------------------
 * Tiers and caps
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._tier_caps(t ex7.tiers)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    -- vix_per_day is the account area's column (72_account_schema.sql), the hook caps the webhook area's
    -- (79_hooks_schema.sql, created after this file): read through the row's JSON
    SELECT pg_catalog.jsonb_build_object(
        'requests_per_minute', t.requests_per_minute, 'requests_per_day', t.requests_per_day,
        'alerts_per_day', t.alerts_per_day, 'strategies', t.strategies_max,
        'running_runtimes', t.running_runtimes_max,
        'vix_generations_per_day', pg_catalog.to_jsonb(t) -> 'vix_per_day',
        'hooks', pg_catalog.to_jsonb(t) -> 'hooks_max',
        'hook_alerts_per_minute', pg_catalog.to_jsonb(t) -> 'hook_alerts_per_minute',
        'hook_alerts_per_day', pg_catalog.to_jsonb(t) -> 'hook_alerts_per_day',
        'study_workers', pg_catalog.to_jsonb(t) -> 'study_workers_max',
        'study_trials', pg_catalog.to_jsonb(t) -> 'study_trials_max');
$$;
COMMENT ON FUNCTION ex7._tier_caps(ex7.tiers) IS
'Returns the feature caps of a tier: {requests_per_minute, requests_per_day, alerts_per_day, strategies, running_runtimes, vix_generations_per_day, hooks, hook_alerts_per_minute, hook_alerts_per_day, study_workers, study_trials}.';

CREATE OR REPLACE FUNCTION ex7.billing_tiers()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('tiers', COALESCE(pg_catalog.jsonb_agg(
        pg_catalog.jsonb_build_object('tier', t.tier, 'name', t.name, 'rank', t.rank,
            'price', pg_catalog.jsonb_build_object('amount', t.price_monthly::text, 'currency', t.currency,
                                                   'interval', 'month'),
            'purchasable', t.stripe_price_id IS NOT NULL,
            'caps', ex7._tier_caps(t))
        ORDER BY t.rank), '[]'))
      -- through a subquery: on Citus the table's own row has the shard's type, which _tier_caps does not
      -- take (docs/citus-statements.md)
      FROM (SELECT * FROM ex7.tiers) t;
$$;
COMMENT ON FUNCTION ex7.billing_tiers() IS
'Returns {tiers: [{tier, name, rank, price {amount (decimal string), currency, interval}, purchasable (has a Stripe price), caps}]} in rank order (GET /api/billing/tiers, public).';

/*
 * Caps on what a user keeps: strategies and running runtimes per tier (docs/billing.md, "Tiers").
 * ex7-api-introduction.txt: 403 "Token is valid but the user lacks the tier required"; 429 is for rate
 * limits and daily quotas with a Retry-After, which waiting would not help here. Both take the user row
 * lock first (the one lock order, 00_base.sql), so two concurrent creations cannot both take the last
 * slot.
 */
CREATE OR REPLACE FUNCTION ex7._tier_limit(p_user uuid, p_cap text, p_limit integer, p_used bigint, p_tier text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM ex7._raise(403, pg_catalog.format('the %s tier allows %s %s', p_tier, p_limit,
                                              pg_catalog.replace(p_cap, '_', ' ')),
        pg_catalog.jsonb_build_object('code', 'tier_limit_reached', 'cap', p_cap, 'limit', p_limit,
                                      'used', p_used, 'tier', p_tier,
                                      'message', 'upgrade the tier (GET /api/billing/tiers, POST /api/billing/checkout) or free a slot'));
END
$$;
COMMENT ON FUNCTION ex7._tier_limit(uuid, text, integer, bigint, text) IS
'Never returns: raises X7403 {code: tier_limit_reached, cap, limit, used, tier, message}.';

CREATE OR REPLACE FUNCTION ex7._check_strategy_cap(p_user uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_tier  text;
    v_max   integer;
    v_used  bigint;
BEGIN
    PERFORM ex7._lock_user(p_user);
    -- the tier first: ex7._current_tier reads the user's rows and must not run inside another statement
    -- Citus routes (docs/citus-statements.md)
    v_tier := ex7._current_tier(p_user);
    SELECT t.tier, t.strategies_max INTO v_tier, v_max FROM ex7.tiers t WHERE t.tier = v_tier;
    SELECT pg_catalog.count(*) INTO v_used FROM ex7.strategies s WHERE s.user_id = p_user AND s.deleted_at IS NULL;
    IF v_used >= v_max THEN
        PERFORM ex7._tier_limit(p_user, 'strategies', v_max, v_used, v_tier);
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._check_strategy_cap(uuid) IS
'Returns nothing when the user may create one more strategy (fewer than the tier''s strategies_max not deleted); raises X7403 tier_limit_reached otherwise. Locks the user row.';

CREATE OR REPLACE FUNCTION ex7._check_runtime_cap(p_user uuid, p_strategy_id uuid, p_mode text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_tier  text;
    v_max   integer;
    v_used  bigint;
BEGIN
    PERFORM ex7._lock_user(p_user);
    v_tier := ex7._current_tier(p_user);        -- first: as in ex7._check_strategy_cap
    SELECT t.tier, t.running_runtimes_max INTO v_tier, v_max FROM ex7.tiers t WHERE t.tier = v_tier;
    -- the runtime being (re)started does not count against itself
    SELECT pg_catalog.count(*) INTO v_used FROM ex7.strategy_runtimes r
     WHERE r.user_id = p_user AND r.status IN ('starting', 'running', 'draining')
       AND (r.strategy_id, r.mode) IS DISTINCT FROM (p_strategy_id, p_mode);
    IF v_used >= v_max THEN
        PERFORM ex7._tier_limit(p_user, 'running_runtimes', v_max, v_used, v_tier);
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._check_runtime_cap(uuid, uuid, text) IS
'Returns nothing when the user may run one more runtime (fewer than the tier''s running_runtimes_max starting, running or draining, this one aside); raises X7403 tier_limit_reached otherwise. Locks the user row.';

/* ---------------------------------------------------------------------------------------------------
 * Billing state: which tier a user has and why
 * ------------------------------------------------------------------------------------------------- */

/*
 * _billing_sync_tier: ex7.users.tier is the best of free, the subscription's tier while Stripe keeps it
 * (active, trialing, or past_due while Stripe retries the payment) and an unexpired complimentary tier.
 * A change notifies ex7_user_changed (ex7._user_changed): ex7d drops its cached caps, the next request counts
 * against the new ones ("Tier changes take effect on the next request").
 */
CREATE OR REPLACE FUNCTION ex7._billing_effective_tier(p_user uuid)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT t.tier
      FROM ex7.tiers t
     WHERE t.tier = 'free'
        OR t.tier = (SELECT a.subscription_tier FROM ex7.billing_accounts a
                      WHERE a.user_id = p_user AND a.subscription_status IN ('active', 'trialing', 'past_due'))
        OR t.tier = (SELECT a.comp_tier FROM ex7.billing_accounts a
                      WHERE a.user_id = p_user AND a.comp_until > pg_catalog.now())
     ORDER BY t.rank DESC
     LIMIT 1;
$$;
COMMENT ON FUNCTION ex7._billing_effective_tier(uuid) IS
'Returns the tier the user''s billing gives: the highest of free, the Stripe subscription''s tier (status active, trialing or past_due) and an unexpired complimentary tier.';

CREATE OR REPLACE FUNCTION ex7._billing_sync_tier(p_user uuid)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_tier text := ex7._billing_effective_tier(p_user);
BEGIN
    UPDATE ex7.users u SET tier = v_tier WHERE u.id = p_user AND u.tier IS DISTINCT FROM v_tier;
    IF FOUND THEN
        PERFORM ex7._user_changed(p_user);
    END IF;
    RETURN v_tier;
END
$$;
COMMENT ON FUNCTION ex7._billing_sync_tier(uuid) IS
'Returns the user''s effective tier (ex7._billing_effective_tier) after writing it to ex7.users.tier.';

/*
 * _current_tier: the tier a user has now, read-only. ex7.users.tier is written when billing changes
 * (webhooks, comps, ex7.billing_expire), but a complimentary tier runs out by the clock with nobody
 * writing. Every reader of a user's caps goes through here, so an expired comp stops counting at its
 * end ("Tier changes take effect on the next request"), whether or not anything has run billing_expire.
 * A tier an operator set by hand (not the comp's) is left as it is.
 */
CREATE OR REPLACE FUNCTION ex7._current_tier(p_user uuid)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_tier  text;
    v_comp  boolean;
BEGIN
    -- PL/pgSQL: Citus routes a query by its parameters only in a PL/pgSQL function; and
    -- _billing_effective_tier, which reads tables itself, runs outside the query Citus sends to the
    -- user's shard (docs/citus-statements.md)
    SELECT u.tier, a.comp_until <= pg_catalog.now() AND u.tier = a.comp_tier INTO v_tier, v_comp
      FROM ex7.users u LEFT JOIN ex7.billing_accounts a ON a.user_id = u.id
     WHERE u.id = p_user;
    IF v_comp THEN
        RETURN ex7._billing_effective_tier(p_user);
    END IF;
    RETURN v_tier;
END
$$;
COMMENT ON FUNCTION ex7._current_tier(uuid) IS
'Returns the user''s tier now: ex7.users.tier, or the tier without the complimentary one when that comp has ended and has not been applied yet (NULL for an unknown user). Writes nothing.';

/*
 * _billing_refresh: applies an ended comp (writing ex7.users.tier, which notifies the HTTP fronts) and
 * returns when the user's tier will next change by the clock alone: the end of a running comp, or NULL.
 * ex7.ensure_user hands it to ex7d, which re-reads the caps once that time has passed.
 */
CREATE OR REPLACE FUNCTION ex7._billing_refresh(p_user uuid)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_until timestamptz;
    v_tier  text;
BEGIN
    -- the stored tier in a statement of its own: ex7._current_tier reads tables itself and must not run
    -- inside a query Citus sends to the user's shard (docs/citus-statements.md)
    SELECT u.tier INTO v_tier FROM ex7.users u WHERE u.id = p_user;
    -- a role bound to a user may not write its tier (99_grants.sql): it reads ex7._current_tier instead
    IF ex7._current_tier(p_user) IS DISTINCT FROM v_tier
       AND pg_catalog.has_function_privilege('ex7._billing_sync_tier(uuid)', 'EXECUTE') THEN
        PERFORM ex7._billing_sync_tier(p_user);
    END IF;
    SELECT a.comp_until INTO v_until FROM ex7.billing_accounts a
     WHERE a.user_id = p_user AND a.comp_until > pg_catalog.now();
    RETURN v_until;
END
$$;
COMMENT ON FUNCTION ex7._billing_refresh(uuid) IS
'Returns the end of the user''s running complimentary tier (NULL when none), after applying a comp that has ended (ex7.users.tier follows ex7._current_tier).';

CREATE OR REPLACE FUNCTION ex7.billing_expire()
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user uuid;
    v_n    integer := 0;
BEGIN
    FOR v_user IN
        SELECT a.user_id FROM ex7.billing_accounts a JOIN ex7.users u ON u.id = a.user_id
         WHERE a.comp_until <= pg_catalog.now() AND u.tier = a.comp_tier
    LOOP
        IF ex7._billing_sync_tier(v_user) IS NOT NULL THEN
            v_n := v_n + 1;
        END IF;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7.billing_expire() IS
'Returns how many users whose complimentary tier ran out were moved to their tier without it in ex7.users.tier. Optional housekeeping: readers of the caps already use ex7._current_tier, and ex7.ensure_user and GET /api/billing/me apply the end for their user.';

CREATE OR REPLACE FUNCTION ex7.billing_me(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_tier  text;
    a       ex7.billing_accounts;
    t       ex7.tiers;
    v_day   timestamptz := pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_usage jsonb;
    v_requests integer;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    SELECT * INTO a FROM ex7.billing_accounts x WHERE x.user_id = p_user;
    SELECT u.tier INTO v_tier FROM ex7.users u WHERE u.id = p_user;
    -- a user billing never touched keeps the tier an operator set by hand
    IF a.user_id IS NOT NULL AND v_tier IS DISTINCT FROM ex7._billing_effective_tier(p_user) THEN
        IF pg_catalog.has_function_privilege('ex7._billing_sync_tier(uuid)', 'EXECUTE') THEN
            v_tier := ex7._billing_sync_tier(p_user);   -- a comp ran out since: apply it now
        ELSE
            v_tier := ex7._current_tier(p_user);        -- a bound role: what counts, without writing it
        END IF;
    END IF;
    SELECT * INTO t FROM ex7.tiers x WHERE x.tier = v_tier;
    -- "usage against caps today" (daily counts reset at 00:00 UTC, ex7-api-introduction.txt). The rate
    -- counter is read on its own: it is distributed by its subject, not with the user's rows
    -- (docs/citus-statements.md)
    SELECT c.day_used INTO v_requests FROM ex7.rate_counters c WHERE c.subject = 'user:' || p_user AND c.day_start = v_day;
    v_usage := pg_catalog.jsonb_build_object(
        'requests_today', COALESCE(v_requests, 0),
        'alerts_today', COALESCE((SELECT x.sent FROM ex7.alert_usage x
                                              WHERE x.user_id = p_user AND x.day = (v_day AT TIME ZONE 'UTC')::date), 0),
        'vix_generations_today', COALESCE((SELECT x.used FROM ex7.vix_usage x
                                                      WHERE x.user_id = p_user AND x.day = (v_day AT TIME ZONE 'UTC')::date), 0),
        'strategies', (SELECT pg_catalog.count(*) FROM ex7.strategies s
                        WHERE s.user_id = p_user AND s.deleted_at IS NULL),
        'running_runtimes', (SELECT pg_catalog.count(*) FROM ex7.strategy_runtimes r
                              WHERE r.user_id = p_user AND r.status IN ('starting', 'running', 'draining')));
    RETURN pg_catalog.jsonb_build_object(
        'user_id', p_user,
        'tier', v_tier,
        'tier_source', CASE WHEN v_tier = 'free' THEN 'free'
                            WHEN a.subscription_tier = v_tier AND a.subscription_status IN ('active', 'trialing', 'past_due')
                                THEN 'subscription'
                            WHEN a.comp_tier = v_tier AND a.comp_until > pg_catalog.now() THEN 'comp'
                            ELSE 'operator' END,
        'status', a.subscription_status,
        'current_period_end', a.current_period_end,
        'cancel_at_period_end', COALESCE(a.cancel_at_period_end, false),
        'subscription', CASE WHEN a.stripe_subscription_id IS NULL THEN NULL ELSE pg_catalog.jsonb_build_object(
            'id', a.stripe_subscription_id, 'tier', a.subscription_tier, 'status', a.subscription_status,
            'current_period_end', a.current_period_end, 'cancel_at_period_end', a.cancel_at_period_end) END,
        'comp', CASE WHEN a.comp_until > pg_catalog.now() THEN
            pg_catalog.jsonb_build_object('tier', a.comp_tier, 'until', a.comp_until) END,
        'caps', ex7._tier_caps(t),
        'usage', v_usage,
        'day', (v_day AT TIME ZONE 'UTC')::date);
END
$$;
COMMENT ON FUNCTION ex7.billing_me(uuid) IS
'Returns the user''s billing: {user_id, tier, tier_source (free|subscription|comp|operator: set by hand), status (Stripe''s), current_period_end, cancel_at_period_end, subscription, comp, caps, usage {requests_today, alerts_today, vix_generations_today, strategies, running_runtimes}, day (UTC)}. Applies an expired comp first.';

CREATE OR REPLACE FUNCTION ex7.billing_comp(p_actor uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user  uuid;
    v_tier  text;
    v_days  integer := 30;
    v_until timestamptz;
    -- a value: Citus takes only IMMUTABLE expressions in ON CONFLICT DO UPDATE SET
    -- (docs/citus-statements.md)
    v_now   timestamptz := pg_catalog.now();
BEGIN
    p_body := COALESCE(p_body, '{}');
    PERFORM ex7._refuse_extra(p_body, ARRAY['user_id', 'tier', 'days']);
    IF pg_catalog.jsonb_typeof(p_body -> 'user_id') IS DISTINCT FROM 'string'
       OR (p_body ->> 'user_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM ex7._invalid('["body","user_id"]', 'user_id must be a uuid', 'type_error.uuid');
    END IF;
    v_user := (p_body ->> 'user_id')::uuid;
    v_tier := p_body ->> 'tier';
    IF v_tier IS NULL OR NOT EXISTS (SELECT 1 FROM ex7.tiers t WHERE t.tier = v_tier) THEN
        PERFORM ex7._invalid('["body","tier"]',
            pg_catalog.format('tier must be one of: %s', (SELECT pg_catalog.string_agg(t.tier, ', ' ORDER BY t.rank) FROM ex7.tiers t)),
            'value_error.enum');
    END IF;
    IF p_body ? 'days' THEN
        IF pg_catalog.jsonb_typeof(p_body -> 'days') IS DISTINCT FROM 'number' OR (p_body ->> 'days') !~ '^[0-9]{1,4}$'
           OR (p_body ->> 'days')::integer NOT BETWEEN 1 AND 3660 THEN
            PERFORM ex7._invalid('["body","days"]', 'days must be an integer between 1 and 3660', 'value_error.number.range');
        END IF;
        v_days := (p_body ->> 'days')::integer;
    END IF;
    PERFORM ex7._ensure_user(v_user);
    PERFORM ex7._lock_user(v_user);
    -- tier free ends a comp; any other grants it for v_days from now
    v_until := CASE WHEN v_tier = 'free' THEN NULL ELSE pg_catalog.now() + pg_catalog.make_interval(days => v_days) END;
    INSERT INTO ex7.billing_accounts AS a (user_id, comp_tier, comp_until)
    VALUES (v_user, CASE WHEN v_until IS NOT NULL THEN v_tier END, v_until)
    ON CONFLICT (user_id) DO UPDATE
       SET comp_tier = EXCLUDED.comp_tier, comp_until = EXCLUDED.comp_until, updated_at = v_now;
    RETURN ex7.billing_me(v_user);
END
$$;
COMMENT ON FUNCTION ex7.billing_comp(uuid, jsonb) IS
'Returns the target user''s billing (as ex7.billing_me) after granting a complimentary tier without payment. Body {user_id, tier, days (1..3660, default 30)}; tier free ends a comp. Service role only (POST /api/billing/comp). X7422 for a bad field.';

/* ---------------------------------------------------------------------------------------------------
 * Calls to Stripe. ex7d runs a preparing function, sends the request it returns to STRIPE_API_BASE,
 * then hands Stripe's answer to ex7.billing_stripe_result (http/billing.c). A preparing function returns
 * {action, stripe {method, path, form [[name, value], ...], idempotency_key}, context} or {reply}.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._stripe_request(p_user uuid, p_action text, p_method text, p_path text, p_form jsonb,
                                               p_context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    -- Idempotency-Key: the same request by the same user within ten minutes is one Stripe object (a
    -- double click makes one Checkout Session); any other parameter makes another key, never a conflict
    SELECT pg_catalog.jsonb_build_object('action', p_action, 'context', p_context,
        'stripe', pg_catalog.jsonb_build_object('method', p_method, 'path', p_path, 'form', p_form,
            'idempotency_key', 'ex7-' || p_action || '-' || pg_catalog.md5(p_user::text || p_method || p_path
                || p_form::text || pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()) / 600)::text)));
$$;
COMMENT ON FUNCTION ex7._stripe_request(uuid, text, text, text, jsonb, jsonb) IS
'Returns the {action, context, stripe {method, path, form, idempotency_key}} a preparing function hands ex7d; the key is stable for the same request within ten minutes.';

CREATE OR REPLACE FUNCTION ex7._return_url(p_base text, p_query text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_query IS NULL THEN p_base
                ELSE p_base || CASE WHEN pg_catalog.strpos(p_base, '?') > 0 THEN '&' ELSE '?' END || p_query END;
$$;
COMMENT ON FUNCTION ex7._return_url(text, text) IS 'Returns p_base with p_query appended as its query string (or to it).';

CREATE OR REPLACE FUNCTION ex7.billing_checkout(p_user uuid, p_body jsonb, p_return_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_tier  text;
    t       ex7.tiers;
    a       ex7.billing_accounts;
    v_email text;
    v_form  jsonb;
    v_url   text := COALESCE(p_return_url, 'http://localhost:3000/billing');
BEGIN
    PERFORM ex7._require_compliance(p_user);
    PERFORM ex7._ensure_user(p_user);
    IF p_body IS NOT NULL AND pg_catalog.jsonb_typeof(p_body) IS DISTINCT FROM 'object' THEN
        PERFORM ex7._invalid('["body"]', 'the body must be an object {"documents": [...]}', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(COALESCE(p_body, '{}'), ARRAY['tier']);
    IF pg_catalog.jsonb_typeof(p_body -> 'tier') IS DISTINCT FROM 'string' THEN
        PERFORM ex7._invalid('["body","tier"]', 'tier is required', 'value_error.missing');
    END IF;
    v_tier := p_body ->> 'tier';
    SELECT * INTO t FROM ex7.tiers x WHERE x.tier = v_tier;
    IF NOT FOUND OR t.rank = 0 THEN
        PERFORM ex7._invalid('["body","tier"]',
            pg_catalog.format('tier must be one of: %s', (SELECT pg_catalog.string_agg(x.tier, ', ' ORDER BY x.rank)
                                                            FROM ex7.tiers x WHERE x.rank > 0)),
            'value_error.enum');
    END IF;
    IF t.stripe_price_id IS NULL THEN
        PERFORM ex7._raise(503, pg_catalog.format('billing is not configured for the %s tier (no Stripe price)', v_tier));
    END IF;
    SELECT * INTO a FROM ex7.billing_accounts x WHERE x.user_id = p_user;
    IF a.stripe_subscription_id IS NOT NULL AND a.subscription_status IN ('active', 'trialing', 'past_due') THEN
        PERFORM ex7._raise(409, 'a subscription already exists',
            pg_catalog.jsonb_build_object('code', 'subscription_exists', 'tier', a.subscription_tier,
                'status', a.subscription_status,
                'message', 'change or cancel the plan in the billing portal: POST /api/billing/portal'));
    END IF;
    SELECT u.email INTO v_email FROM ex7.users u WHERE u.id = p_user;
    v_form := pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_array('mode', 'subscription'),
        pg_catalog.jsonb_build_array('line_items[0][price]', t.stripe_price_id),
        pg_catalog.jsonb_build_array('line_items[0][quantity]', '1'),
        -- facts.md: "client_reference_id links the user" in checkout.session.completed
        pg_catalog.jsonb_build_array('client_reference_id', p_user::text),
        pg_catalog.jsonb_build_array('success_url',
            ex7._return_url(v_url, 'checkout=success&session_id={CHECKOUT_SESSION_ID}')),
        pg_catalog.jsonb_build_array('cancel_url', ex7._return_url(v_url, 'checkout=cancelled')),
        pg_catalog.jsonb_build_array('metadata[user_id]', p_user::text),
        pg_catalog.jsonb_build_array('metadata[tier]', v_tier),
        -- the subscription's own events name the user too, whatever order they arrive in
        pg_catalog.jsonb_build_array('subscription_data[metadata][user_id]', p_user::text),
        pg_catalog.jsonb_build_array('subscription_data[metadata][tier]', v_tier));
    IF a.stripe_customer_id IS NOT NULL THEN
        v_form := v_form || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array('customer', a.stripe_customer_id));
    ELSIF v_email IS NOT NULL THEN
        v_form := v_form || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array('customer_email', v_email));
    END IF;
    RETURN ex7._stripe_request(p_user, 'checkout', 'POST', '/v1/checkout/sessions', v_form,
                               pg_catalog.jsonb_build_object('tier', v_tier));
END
$$;
COMMENT ON FUNCTION ex7.billing_checkout(uuid, jsonb, text) IS
'Returns the Stripe request that creates a Checkout Session (mode subscription) for body {tier}: the tier''s Stripe price, client_reference_id and metadata naming the user, success and cancel URLs under p_return_url. X7412 until the compliance documents are accepted; X7422 for an unknown or free tier; X7409 subscription_exists; X7503 when the tier has no Stripe price.';

CREATE OR REPLACE FUNCTION ex7.billing_portal(p_user uuid, p_return_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_customer text;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    SELECT a.stripe_customer_id INTO v_customer FROM ex7.billing_accounts a WHERE a.user_id = p_user;
    IF v_customer IS NULL THEN
        PERFORM ex7._raise(404, 'no billing account: subscribe first (POST /api/billing/checkout)');
    END IF;
    RETURN ex7._stripe_request(p_user, 'portal', 'POST', '/v1/billing_portal/sessions',
        pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array('customer', v_customer),
            pg_catalog.jsonb_build_array('return_url', COALESCE(p_return_url, 'http://localhost:3000/billing'))));
END
$$;
COMMENT ON FUNCTION ex7.billing_portal(uuid, text) IS
'Returns the Stripe request that creates a billing-portal session for the user''s Stripe customer, returning to p_return_url. X7404 when the user has no Stripe customer yet.';

CREATE OR REPLACE FUNCTION ex7._billing_cancel_flag(p_user uuid, p_cancel boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a ex7.billing_accounts;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    SELECT * INTO a FROM ex7.billing_accounts x WHERE x.user_id = p_user;
    IF a.stripe_subscription_id IS NULL OR a.subscription_status NOT IN ('active', 'trialing', 'past_due') THEN
        PERFORM ex7._raise(404, 'no active subscription');
    END IF;
    IF a.cancel_at_period_end = p_cancel THEN
        RETURN pg_catalog.jsonb_build_object('reply', ex7.billing_me(p_user));	-- already so: nothing to ask Stripe
    END IF;
    RETURN ex7._stripe_request(p_user, CASE WHEN p_cancel THEN 'cancel' ELSE 'resume' END, 'POST',
        '/v1/subscriptions/' || a.stripe_subscription_id,
        pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array('cancel_at_period_end', p_cancel::text)),
        pg_catalog.jsonb_build_object('subscription', a.stripe_subscription_id));
END
$$;
COMMENT ON FUNCTION ex7._billing_cancel_flag(uuid, boolean) IS
'Returns the Stripe request that sets cancel_at_period_end of the user''s subscription to p_cancel, or {reply: billing} when it already is. X7404 without an active subscription.';

CREATE OR REPLACE FUNCTION ex7.billing_cancel(p_user uuid)
RETURNS jsonb
LANGUAGE sql VOLATILE
AS $$ SELECT ex7._billing_cancel_flag(p_user, true); $$;
COMMENT ON FUNCTION ex7.billing_cancel(uuid) IS
'Returns the Stripe request that cancels the user''s subscription at the end of its period (or the billing when already so). X7404 without an active subscription.';

CREATE OR REPLACE FUNCTION ex7.billing_resume(p_user uuid)
RETURNS jsonb
LANGUAGE sql VOLATILE
AS $$ SELECT ex7._billing_cancel_flag(p_user, false); $$;
COMMENT ON FUNCTION ex7.billing_resume(uuid) IS
'Returns the Stripe request that undoes a cancellation at period end (or the billing when none is pending). X7404 without an active subscription.';

/* _stripe_time: returns a Stripe unix timestamp (a JSON number) as timestamptz, NULL when absent. */
CREATE OR REPLACE FUNCTION ex7._stripe_time(p_value jsonb)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(p_value) = 'number' AND (p_value #>> '{}') ~ '^[0-9]{1,12}$'
                THEN pg_catalog.to_timestamp((p_value #>> '{}')::bigint) END;
$$;
COMMENT ON FUNCTION ex7._stripe_time(jsonb) IS 'Returns a Stripe unix timestamp (JSON number) as timestamptz, or NULL.';

CREATE OR REPLACE FUNCTION ex7._stripe_id(p_value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- an id field is the id, or the expanded object carrying it
    SELECT CASE pg_catalog.jsonb_typeof(p_value) WHEN 'string' THEN p_value #>> '{}'
                                                 WHEN 'object' THEN p_value ->> 'id' END;
$$;
COMMENT ON FUNCTION ex7._stripe_id(jsonb) IS 'Returns the Stripe id of a field that holds an id or an expanded object.';

/*
 * _stripe_apply_subscription: a subscription object, from an event created at p_at or from our own call
 * (p_at = now()). An older state than the one recorded is stale: events arrive out of order (facts.md).
 * The tier comes from the subscription's price (ex7.tiers.stripe_price_id), else its metadata.
 */
CREATE OR REPLACE FUNCTION ex7._stripe_apply_subscription(p_user uuid, p_sub jsonb, p_at timestamptz, p_deleted boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a       ex7.billing_accounts;
    v_id    text := p_sub ->> 'id';
    v_tier  text;
    v_status text := CASE WHEN p_deleted THEN 'canceled' ELSE p_sub ->> 'status' END;
    -- a value: Citus takes only IMMUTABLE expressions in ON CONFLICT DO UPDATE SET
    -- (docs/citus-statements.md)
    v_now   timestamptz := pg_catalog.now();
BEGIN
    IF v_id IS NULL OR v_status IS NULL THEN
        PERFORM ex7._raise(400, 'subscription object without id or status');
    END IF;
    PERFORM ex7._lock_user(p_user);
    SELECT * INTO a FROM ex7.billing_accounts x WHERE x.user_id = p_user;
    IF a.subscription_event_at IS NOT NULL AND p_at < a.subscription_event_at THEN
        RETURN 'stale';
    END IF;
    -- another subscription than the user's current one: only a live one replaces it
    IF a.stripe_subscription_id IS NOT NULL AND a.stripe_subscription_id <> v_id
       AND a.subscription_status IN ('active', 'trialing', 'past_due')
       AND v_status NOT IN ('active', 'trialing', 'past_due') THEN
        RETURN 'ignored';
    END IF;
    SELECT t.tier INTO v_tier FROM ex7.tiers t WHERE t.stripe_price_id = p_sub #>> '{items,data,0,price,id}';
    IF v_tier IS NULL THEN
        SELECT t.tier INTO v_tier FROM ex7.tiers t WHERE t.tier = p_sub #>> '{metadata,tier}';
    END IF;
    INSERT INTO ex7.billing_accounts AS x (user_id, stripe_customer_id, stripe_subscription_id, subscription_tier,
                                           subscription_status, current_period_end, cancel_at_period_end,
                                           subscription_event_at)
    VALUES (p_user, ex7._stripe_id(p_sub -> 'customer'), v_id, v_tier, v_status,
            COALESCE(ex7._stripe_time(p_sub -> 'current_period_end'),
                                ex7._stripe_time(p_sub #> '{items,data,0,current_period_end}')),
            COALESCE((p_sub ->> 'cancel_at_period_end')::boolean, false), p_at)
    ON CONFLICT (user_id) DO UPDATE
       SET stripe_customer_id = COALESCE(EXCLUDED.stripe_customer_id, x.stripe_customer_id),
           stripe_subscription_id = EXCLUDED.stripe_subscription_id,
           subscription_tier = COALESCE(EXCLUDED.subscription_tier,
                                                   CASE WHEN x.stripe_subscription_id = EXCLUDED.stripe_subscription_id
                                                        THEN x.subscription_tier END),
           subscription_status = EXCLUDED.subscription_status,
           current_period_end = COALESCE(EXCLUDED.current_period_end, x.current_period_end),
           cancel_at_period_end = EXCLUDED.cancel_at_period_end,
           subscription_event_at = EXCLUDED.subscription_event_at,
           updated_at = v_now;
    PERFORM ex7._billing_sync_tier(p_user);
    RETURN 'applied';
END
$$;
COMMENT ON FUNCTION ex7._stripe_apply_subscription(uuid, jsonb, timestamptz, boolean) IS
'Returns applied, stale (older than the recorded state) or ignored (a dead subscription that is not the user''s live one) after recording a Stripe subscription object for the user and syncing the tier.';

CREATE OR REPLACE FUNCTION ex7.billing_stripe_result(p_user uuid, p_action text, p_context jsonb, p_response jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- a value: Citus takes only IMMUTABLE expressions in ON CONFLICT DO UPDATE SET
    -- (docs/citus-statements.md)
    v_now timestamptz := pg_catalog.now();
BEGIN
    IF p_action IN ('checkout', 'portal') THEN
        IF p_response ->> 'url' IS NULL THEN
            PERFORM ex7._raise(503, 'payment provider error (Stripe): no session url in its answer');
        END IF;
        IF p_action = 'checkout' THEN
            INSERT INTO ex7.billing_accounts AS x (user_id, checkout_session_id) VALUES (p_user, p_response ->> 'id')
            ON CONFLICT (user_id) DO UPDATE SET checkout_session_id = EXCLUDED.checkout_session_id, updated_at = v_now;
            RETURN pg_catalog.jsonb_build_object('url', p_response ->> 'url', 'session_id', p_response ->> 'id',
                                                 'tier', p_context ->> 'tier');
        END IF;
        RETURN pg_catalog.jsonb_build_object('url', p_response ->> 'url');
    ELSIF p_action IN ('cancel', 'resume') THEN
        -- Stripe's answer is the subscription as of now: webhook events created before it are older
        PERFORM ex7._stripe_apply_subscription(p_user, p_response, pg_catalog.now(), false);
        RETURN ex7.billing_me(p_user);
    END IF;
    RAISE EXCEPTION 'unknown billing action %', p_action;
END
$$;
COMMENT ON FUNCTION ex7.billing_stripe_result(uuid, text, jsonb, jsonb) IS
'Returns the reply of a billing call after recording Stripe''s answer: checkout {url, session_id, tier}, portal {url}, cancel and resume the billing (as ex7.billing_me) with the subscription Stripe returned. Called by ex7d only.';

/* ---------------------------------------------------------------------------------------------------
 * The Stripe webhook (ex7-api-reference.txt, Stripe Webhook; facts.md, "Stripe webhooks"). ex7d has
 * verified the signature; this dedupes by event id and applies the event, all in one transaction: an
 * error rolls back the event record too, so Stripe's retry is processed afresh.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._stripe_user(p_customer text, p_metadata jsonb)
RETURNS uuid
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_user uuid;
BEGIN
    IF (p_metadata ->> 'user_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        SELECT u.id INTO v_user FROM ex7.users u WHERE u.id = (p_metadata ->> 'user_id')::uuid;
        IF FOUND THEN
            RETURN v_user;
        END IF;
    END IF;
    SELECT a.user_id INTO v_user FROM ex7.billing_accounts a WHERE a.stripe_customer_id = p_customer;
    RETURN v_user;
END
$$;
COMMENT ON FUNCTION ex7._stripe_user(text, jsonb) IS
'Returns the user a Stripe object belongs to: its metadata.user_id (set by our checkout) when that user exists, else the user with that Stripe customer, else NULL.';

CREATE OR REPLACE FUNCTION ex7.stripe_apply_event(p_event jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_id      text := p_event ->> 'id';
    v_type    text := p_event ->> 'type';
    o         jsonb := p_event #> '{data,object}';
    v_at      timestamptz := COALESCE(ex7._stripe_time(p_event -> 'created'), pg_catalog.now());
    v_user    uuid;
    v_outcome text := 'ignored';
    v_tier    text;
    v_sub     text;
    a         ex7.billing_accounts;
    -- a value: Citus takes only IMMUTABLE expressions in ON CONFLICT DO UPDATE SET
    -- (docs/citus-statements.md)
    v_now     timestamptz := pg_catalog.now();
BEGIN
    IF pg_catalog.jsonb_typeof(p_event) IS DISTINCT FROM 'object' OR v_id IS NULL OR v_type IS NULL
       OR pg_catalog.jsonb_typeof(o) IS DISTINCT FROM 'object' THEN
        PERFORM ex7._raise(400, 'not a Stripe event: id, type and data.object are required');
    END IF;
    -- dedupe: a second delivery of a processed id (or one racing it: the unique index waits for the
    -- first to commit) changes nothing
    INSERT INTO ex7.stripe_events (id, type, created, outcome) VALUES (v_id, pg_catalog.left(v_type, 100), v_at, 'ignored')
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN pg_catalog.jsonb_build_object('received', true, 'id', v_id, 'type', v_type, 'duplicate', true,
            'outcome', (SELECT e.outcome FROM ex7.stripe_events e WHERE e.id = v_id));
    END IF;

    IF v_type = 'checkout.session.completed' THEN
        v_user := NULL;
        IF (o ->> 'client_reference_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            SELECT u.id INTO v_user FROM ex7.users u WHERE u.id = (o ->> 'client_reference_id')::uuid;
        END IF;
        v_user := COALESCE(v_user, ex7._stripe_user(ex7._stripe_id(o -> 'customer'), o -> 'metadata'));
        IF v_user IS NOT NULL AND o ->> 'mode' IS DISTINCT FROM 'payment' THEN
            v_tier := o #>> '{metadata,tier}';
            IF v_tier IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ex7.tiers t WHERE t.tier = v_tier) THEN
                -- our checkout wrote this metadata: an unknown tier is a configuration error, retried
                RAISE EXCEPTION 'checkout session % names unknown tier %', o ->> 'id', v_tier;
            END IF;
            PERFORM ex7._lock_user(v_user);
            v_sub := ex7._stripe_id(o -> 'subscription');
            INSERT INTO ex7.billing_accounts AS x (user_id, stripe_customer_id, stripe_subscription_id, subscription_tier,
                                                   subscription_status, checkout_session_id)
            VALUES (v_user, ex7._stripe_id(o -> 'customer'), v_sub, v_tier,
                    CASE WHEN o ->> 'payment_status' IN ('paid', 'no_payment_required') THEN 'active' END, o ->> 'id')
            ON CONFLICT (user_id) DO UPDATE
               SET stripe_customer_id = COALESCE(EXCLUDED.stripe_customer_id, x.stripe_customer_id),
                   checkout_session_id = EXCLUDED.checkout_session_id,
                   -- the subscription's own events are the authority once one arrived (they may come first)
                   stripe_subscription_id = CASE WHEN x.subscription_event_at IS NULL
                                                 THEN COALESCE(EXCLUDED.stripe_subscription_id, x.stripe_subscription_id)
                                                 ELSE x.stripe_subscription_id END,
                   subscription_tier = CASE WHEN x.subscription_event_at IS NULL
                                            THEN COALESCE(EXCLUDED.subscription_tier, x.subscription_tier)
                                            ELSE x.subscription_tier END,
                   subscription_status = CASE WHEN x.subscription_event_at IS NULL
                                              THEN COALESCE(EXCLUDED.subscription_status, x.subscription_status)
                                              ELSE x.subscription_status END,
                   updated_at = v_now;
            PERFORM ex7._billing_sync_tier(v_user);
            v_outcome := 'applied';
        END IF;
    ELSIF v_type IN ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted') THEN
        v_user := ex7._stripe_user(ex7._stripe_id(o -> 'customer'), o -> 'metadata');
        IF v_user IS NOT NULL THEN
            v_outcome := ex7._stripe_apply_subscription(v_user, o, v_at, v_type = 'customer.subscription.deleted');
        END IF;
    ELSIF v_type IN ('invoice.paid', 'invoice.payment_failed') THEN
        v_user := ex7._stripe_user(ex7._stripe_id(o -> 'customer'), o #> '{subscription_details,metadata}');
        -- the invoice's subscription: a top-level field, or under parent in newer API versions
        v_sub := COALESCE(ex7._stripe_id(o -> 'subscription'),
                                     o #>> '{parent,subscription_details,subscription}');
        IF v_user IS NOT NULL THEN
            PERFORM ex7._lock_user(v_user);
            SELECT * INTO a FROM ex7.billing_accounts x WHERE x.user_id = v_user;
            IF a.stripe_subscription_id IS NULL OR v_sub IS NULL OR a.stripe_subscription_id <> v_sub THEN
                v_outcome := 'ignored';
            ELSIF a.subscription_event_at IS NOT NULL AND v_at < a.subscription_event_at THEN
                v_outcome := 'stale';
            ELSE
                UPDATE ex7.billing_accounts x
                   SET subscription_status = CASE
                           WHEN v_type = 'invoice.payment_failed' AND x.subscription_status IN ('active', 'trialing')
                               THEN 'past_due'
                           WHEN v_type = 'invoice.paid' AND x.subscription_status IN ('past_due', 'incomplete', 'unpaid')
                               THEN 'active'
                           ELSE x.subscription_status END,
                       current_period_end = CASE WHEN v_type = 'invoice.paid'
                           THEN GREATEST(x.current_period_end,
                                                    ex7._stripe_time(o #> '{lines,data,0,period,end}'))
                           ELSE x.current_period_end END,
                       subscription_event_at = v_at,
                       updated_at = pg_catalog.now()
                 WHERE x.user_id = v_user;
                PERFORM ex7._billing_sync_tier(v_user);
                v_outcome := 'applied';
            END IF;
        END IF;
    END IF;

    UPDATE ex7.stripe_events e SET outcome = v_outcome, user_id = v_user WHERE e.id = v_id;
    RETURN pg_catalog.jsonb_build_object('received', true, 'id', v_id, 'type', v_type, 'duplicate', false,
                                         'outcome', v_outcome);
END
$$;
COMMENT ON FUNCTION ex7.stripe_apply_event(jsonb) IS
'Returns {received, id, type, duplicate, outcome (applied|ignored|stale)} after applying a verified Stripe event once: checkout.session.completed, customer.subscription.created/updated/deleted, invoice.paid, invoice.payment_failed (others are recorded and ignored); a replayed id changes nothing. X7400 when the payload is not an event; any other error rolls everything back (ex7d answers 500 so Stripe retries). Called by ex7d only.';
