-- sql/lifecycle.sql: the lifecycle state machine (ext/lifecycle.c), every edge and every refusal.
SELECT s AS status, ex7.lifecycle_allowed(s) AS allowed
  FROM unnest(ARRAY['draft', 'ready', 'live', 'paused', 'archived']) AS s;

-- the whole table: every (status, action) pair, legal edges give the target, the rest X7409
SELECT s AS status, a AS action,
       ex7_test.err(format('SELECT ex7.lifecycle_target(%L, %L)', s, a)) AS outcome,
       CASE WHEN ex7_test.err(format('SELECT ex7.lifecycle_target(%L, %L)', s, a)) = 'ok'
            THEN ex7.lifecycle_target(s, a) END AS target
  FROM unnest(ARRAY['draft', 'ready', 'live', 'paused', 'archived']) AS s,
       unnest(ARRAY['promote', 'pause', 'resume', 'archive', 'unarchive']) AS a
 ORDER BY 1, 2;

-- unknown inputs are X7422, NULL in gives NULL out (STRICT)
SELECT ex7_test.err($$SELECT ex7.lifecycle_target('deleted', 'promote')$$);
SELECT ex7_test.err($$SELECT ex7.lifecycle_target('draft', 'launch')$$);
SELECT ex7_test.err($$SELECT ex7.lifecycle_allowed('nope')$$);
SELECT ex7.lifecycle_target(NULL, 'promote') IS NULL AS strict;
