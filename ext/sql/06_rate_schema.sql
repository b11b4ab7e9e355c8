/* ext/sql/06_rate_schema.sql: the request counters every ex7d process shares. The counts are shared by
 * every ex7d process on the same database, so several fronts behind one load balancer enforce one limit
 * (ex7-api-introduction.txt, "Rate limits + quotas": limits apply to the bearer subject; docs/http.md,
 * "One count for every front"). DDL: runs once; new in 0.2.0, so included whole by ext/upgrade/0.1.0--0.2.0.sql.
 *
 * UNLOGGED: a counter update writes no WAL, so taking quota costs no fsync; after a crash the table
 * comes back empty and every subject starts its windows afresh (erring toward serving). */

CREATE UNLOGGED TABLE ex7.rate_counters (
    subject      text PRIMARY KEY CHECK (pg_catalog.length(subject) BETWEEN 1 AND 100),
    minute_start timestamptz NOT NULL,
    minute_used  integer NOT NULL CHECK (minute_used >= 0),
    day_start    timestamptz NOT NULL,
    day_used     integer NOT NULL CHECK (day_used >= 0)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.rate_counters', '');
COMMENT ON TABLE ex7.rate_counters IS 'Requests counted per rate-limit subject (user:<uuid> for bearer subjects, addr:<ip> for public routes) in the current minute and UTC day, across every ex7d process. Written only through ex7.rate_take.';

/* A role bound to a user reads its own counter only (GET /api/billing/me's usage); the fronts bypass RLS. */
ALTER TABLE ex7.rate_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.rate_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY rate_counters_own ON ex7.rate_counters FOR SELECT
    USING (subject = 'user:' || ex7.current_user_id()::text);
