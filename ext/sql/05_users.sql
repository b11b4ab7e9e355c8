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
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_email IS NOT NULL AND p_email <> '' THEN
        UPDATE ex7.users SET email = p_email WHERE id = p_user AND email IS DISTINCT FROM p_email;
    END IF;
    -- billing (73_billing.sql): an ended complimentary tier is applied here, and the end of a running one
    -- tells the front when these caps go stale ("Tier changes take effect on the next request")
    v_until := ex7._billing_refresh(p_user);
    SELECT * INTO u FROM ex7.users WHERE id = p_user;
    SELECT * INTO t FROM ex7.tiers WHERE tier = ex7._current_tier(p_user);
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
