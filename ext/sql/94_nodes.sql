/* ext/sql/94_nodes.sql: the database nodes whose notifications ex7d must hear (docs/stream.md, "Every
 * node's notifications").
 *
 * NOTIFY is local to the server that runs it (PostgreSQL docs, NOTIFY: "sent to all sessions listening on
 * the channel in the current database"). On Citus a public function called with its acting user runs on the
 * worker that holds the user's shard (create_distributed_function, colocated with ex7.users), so its
 * pg_notify (signal_fired, signal_closed, ex7_user_changed, ex7_outbox, ...) reaches only listeners on that
 * worker. ex7d therefore asks this function where to LISTEN: every active primary node of pg_dist_node, the
 * coordinator included when it is registered there. On plain PostgreSQL the answer is empty: listen where you
 * query (DATABASE_URL).
 *
 * pg_dist_node exists only where Citus is installed, so the function looks for the extension and the
 * catalog first and reads it with dynamic SQL: a static reference would fail when the body is planned on
 * plain PostgreSQL. Citus grants SELECT on pg_dist_node to PUBLIC (citus--8.0-1.sql), so no privilege is
 * needed beyond EXECUTE on this function.
 */

CREATE OR REPLACE FUNCTION ex7.notify_nodes()
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v_nodes jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = 'citus')
       OR pg_catalog.to_regclass('pg_catalog.pg_dist_node') IS NULL THEN
        RETURN '[]'::jsonb;
    END IF;
    -- noderole 'primary' (not a secondary of a read replica cluster), isactive (citus_disable_node leaves a
    -- node registered but inactive); shouldhaveshards does not matter: a node without shards (the
    -- coordinator, a node being drained) still runs functions and triggers that NOTIFY
    EXECUTE $q$
        SELECT COALESCE(
                   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('host', n.nodename, 'port', n.nodeport)
                                        ORDER BY n.groupid, n.nodename, n.nodeport),
                   '[]'::pg_catalog.jsonb)
          FROM pg_catalog.pg_dist_node n
         WHERE n.isactive AND n.noderole::pg_catalog.text = 'primary'
    $q$ INTO v_nodes;
    RETURN v_nodes;
END
$$;
COMMENT ON FUNCTION ex7.notify_nodes() IS
'Returns a jsonb array of {host, port}: every active primary node of the Citus cluster (pg_dist_node, the coordinator too when it is registered), where ex7d opens its LISTEN connections; an empty array when Citus is not installed in this database (listen on the connection you query). Not user-scoped. docs/stream.md, "Every node''s notifications".';
