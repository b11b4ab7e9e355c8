/* ext/sql/90_health.sql: liveness for /api/health (ex7-api-introduction.txt, "One quick request": "A live
 * API returns 200 with a JSON body that includes status, postgresql, and last_signal_time"). */

CREATE OR REPLACE FUNCTION ex7.health()
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'status', 'ok',
        'postgresql', 'ok',
        'extension_version', (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'ex7'),
        'last_signal_time', (SELECT u.last_signal_at FROM ex7.users u
                              WHERE u.last_signal_at IS NOT NULL ORDER BY u.last_signal_at DESC LIMIT 1));
$$;
COMMENT ON FUNCTION ex7.health() IS
'Returns {status, postgresql, extension_version, last_signal_time}: the body of GET /api/health. Not user-scoped; reads the newest users.last_signal_at through users_last_signal_idx.';
