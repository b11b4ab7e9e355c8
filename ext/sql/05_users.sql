/* ext/sql/05_users.sql: ex7.ensure_user, the user row and caps the HTTP front reads (docs/http.md). Not
 * DDL: re-run whole by every upgrade (00_base.sql runs once), so a change here needs no copy in
 * ext/upgrade/. */

/*
 * _user_changed: what the HTTP front caches about a user (tier and caps, tokens_valid_after) changed. The
 * notification goes out on commit; every front drops its cached entry ("Tier changes take effect on the
 * next request"). Called by the functions that change those columns: a trigger on ex7.users would keep it
 * from being distributed on Citus (docs/scale-out.md, "Triggers").
 */
CREATE OR REPLACE FUNCTION ex7._user_changed(p_user uuid)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_catalog.pg_notify('ex7_user_changed', p_user::text);
$$;
COMMENT ON FUNCTION ex7._user_changed(uuid) IS
'Returns nothing. Notifies ex7_user_changed with the user id (on commit): the HTTP fronts drop what they cached about the user (tier, caps, tokens_valid_after).';

CREATE OR REPLACE FUNCTION ex7.ensure_user(p_user uuid, p_email text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    u ex7.users;
    t ex7.tiers;
    v_until timestamptz;
    v_tier text;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_email IS NOT NULL AND p_email <> '' THEN
        UPDATE ex7.users SET email = p_email WHERE id = p_user AND email IS DISTINCT FROM p_email;
    END IF;
    -- billing (73_billing.sql): an ended complimentary tier is applied here, and the end of a running one
    -- tells the front when these caps go stale ("Tier changes take effect on the next request")
    v_until := ex7._billing_refresh(p_user);
    SELECT * INTO u FROM ex7.users WHERE id = p_user;
    -- the tier first: ex7._current_tier reads tables itself and is not called inside a statement Citus
    -- routes (docs/citus-statements.md)
    v_tier := ex7._current_tier(p_user);
    SELECT * INTO t FROM ex7.tiers WHERE tier = v_tier;
    RETURN pg_catalog.jsonb_build_object('id', u.id, 'email', u.email, 'tier', t.tier, 'created_at', u.created_at,
        'limits', pg_catalog.jsonb_build_object('requests_per_minute', t.requests_per_minute,
                                                'requests_per_day', t.requests_per_day,
                                                'alerts_per_day', t.alerts_per_day),
        'tier_until', v_until,
        'tier_until_unix', pg_catalog.floor(pg_catalog.date_part('epoch', v_until))::bigint,
        -- the account area (72_account_schema.sql): tokens issued before a password change are refused
        'tokens_valid_after_unix', pg_catalog.floor(pg_catalog.date_part('epoch', u.tokens_valid_after))::bigint);
END
$$;
COMMENT ON FUNCTION ex7.ensure_user(uuid, text) IS
'Returns the user {id, email, tier, created_at, limits {requests_per_minute, requests_per_day, alerts_per_day}, tier_until, tier_until_unix, tokens_valid_after_unix}, creating the row (tier free) on the first authenticated request and recording the email claim when given. tier_until (and the same instant in unix seconds) is when the tier changes by the clock alone (the end of a complimentary tier), NULL when nothing is scheduled; a caller caching the caps re-reads them then. tokens_valid_after_unix: bearer tokens issued (iat) before this second are refused (a password change), NULL when none are.';

/*
 * set_tier_caps: the operator's way to change a tier's caps and prices. ex7d caches a user's caps; the
 * notification tells every front to drop them, so the change takes effect on the next request ("Tier
 * changes take effect on the next request"). An UPDATE of ex7.tiers by hand needs
 * NOTIFY ex7_user_changed, '*' after it for the same effect.
 */
CREATE OR REPLACE FUNCTION ex7.set_tier_caps(p_tier text, p_caps jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    k text;
    v_sets text[] := '{}';
    t ex7.tiers;
BEGIN
    IF p_caps IS NULL OR pg_catalog.jsonb_typeof(p_caps) <> 'object' OR p_caps = '{}' THEN
        PERFORM ex7._invalid('["body"]', 'caps must be a non-empty object', 'type_error.dict');
    END IF;
    FOR k IN SELECT pg_catalog.jsonb_object_keys(p_caps) LOOP
        -- the tier's name and rank are its identity, not caps
        IF k IN ('tier', 'rank') OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                                 WHERE a.attrelid = 'ex7.tiers'::regclass AND a.attname = k
                                                   AND a.attnum > 0 AND NOT a.attisdropped) THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', k), pg_catalog.format('unknown cap %s', k),
                                 'value_error.extra');
        END IF;
        v_sets := v_sets || pg_catalog.format('%1$I = r.%1$I', k);
    END LOOP;
    BEGIN
        EXECUTE pg_catalog.format(
            'UPDATE ex7.tiers t SET %s FROM pg_catalog.jsonb_populate_record(NULL::ex7.tiers, $2) r '
            'WHERE t.tier = $1 RETURNING t.*', pg_catalog.array_to_string(v_sets, ', '))
        INTO t USING p_tier, p_caps;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range OR check_violation
                   OR not_null_violation OR datetime_field_overflow OR invalid_parameter_value THEN
        PERFORM ex7._invalid('["body"]', 'invalid caps: ' || SQLERRM, 'value_error');
    END;
    IF t.tier IS NULL THEN
        PERFORM ex7._raise(404, pg_catalog.format('tier %s does not exist', p_tier));
    END IF;
    PERFORM pg_catalog.pg_notify('ex7_user_changed', '*');
    RETURN pg_catalog.to_jsonb(t);
END
$$;
COMMENT ON FUNCTION ex7.set_tier_caps(text, jsonb) IS
'Returns the tier row as JSON after setting the columns named in p_caps (requests_per_minute, requests_per_day, alerts_per_day, vix_per_day, strategies_max, running_runtimes_max, hooks_max, hook_alerts_per_minute, hook_alerts_per_day, study_workers_max, study_trials_max, name, price_monthly, currency, stripe_price_id) and notifying ex7_user_changed with * so that every HTTP front drops its cached caps. Operator only. X7404 for an unknown tier; X7422 for an unknown or invalid cap (the locator names it).';
