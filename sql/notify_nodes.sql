-- sql/notify_nodes.sql: ex7.notify_nodes() on plain PostgreSQL (docs/stream.md, "Every node's
-- notifications"): Citus is not installed, so ex7d is told to listen where it queries: an empty array, and
-- no error although pg_catalog.pg_dist_node does not exist. The Citus answer (one element per active
-- primary node) is exercised by make test-citus on a real cluster.

SELECT ex7.notify_nodes() AS nodes, pg_catalog.jsonb_typeof(ex7.notify_nodes()) AS type;

-- the catalog it would read is absent here; the function never names it statically
SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_node') IS NULL AS no_pg_dist_node;

-- a table of that name in another schema, first in the caller's search_path, is not Citus's catalog
CREATE TABLE public.pg_dist_node (nodename text, nodeport int, isactive bool, noderole text, groupid int);
INSERT INTO public.pg_dist_node VALUES ('10.0.0.9', 5432, true, 'primary', 1);
SET search_path = public, ex7;
SELECT notify_nodes() AS nodes_with_a_decoy;
RESET search_path;
DROP TABLE public.pg_dist_node;

-- ex7d calls it as an ordinary role (ex7_user's EXECUTE on every function, ext/sql/99_grants.sql)
SET ROLE ex7_user;
SELECT ex7.notify_nodes() AS nodes_as_ex7_user;
RESET ROLE;

-- declared as ex7d relies on: jsonb, stable (read once per discovery, never writes), not user-scoped
SELECT p.provolatile, p.prorettype::regtype, p.pronargs
  FROM pg_catalog.pg_proc p
 WHERE p.oid = 'ex7.notify_nodes()'::regprocedure;
SELECT pg_catalog.obj_description('ex7.notify_nodes()'::regprocedure, 'pg_proc') IS NOT NULL AS commented;
