-- sql/init.sql: runs first. Creates the extension and the helpers every later regression file uses.
CREATE EXTENSION ex7;
SELECT extversion FROM pg_extension WHERE extname = 'ex7';

CREATE SCHEMA ex7_test;

-- ex7_test.err(sql): runs sql and returns 'ok', or the error as "SQLSTATE: message" followed by
-- " | detail" when the error has one: the SQLSTATE is the HTTP status the front will answer with.
CREATE FUNCTION ex7_test.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || CASE WHEN det <> '' THEN ' | ' || det ELSE '' END;
END
$$;

-- Two users every file may use: alice and bob.
SELECT ex7.ensure_user('00000000-0000-4000-8000-00000000000a', 'alice@example.com')->>'tier' AS alice_tier;
SELECT ex7.ensure_user('00000000-0000-4000-8000-00000000000b', 'bob@example.com')->>'tier' AS bob_tier;

-- ex7_test.accept_compliance(users): records acceptance of every current compliance document for each
-- user, as POST /api/billing/compliance/accept naming all of them does (docs/billing.md). Runtime starts,
-- signal closes, force-close-all and the stream answer 412 until a user has accepted (docs/billing.md).
CREATE FUNCTION ex7_test.accept_compliance(p_users uuid[]) RETURNS integer LANGUAGE sql AS $$
    SELECT pg_catalog.count(ex7.accept_compliance(u, NULL, 'pg_regress'))::integer FROM pg_catalog.unnest(p_users) AS u;
$$;
