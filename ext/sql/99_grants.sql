/* ext/sql/99_grants.sql: the end of the install script. What roles bound to a user (ex7_user) may do;
 * row-level security narrows every grant to that user's rows. */

GRANT USAGE ON SCHEMA ex7 TO ex7_user;
GRANT SELECT ON ALL TABLES IN SCHEMA ex7 TO ex7_user;
REVOKE ALL ON ex7.secrets FROM ex7_user;
GRANT INSERT, UPDATE ON ex7.strategies, ex7.strategy_versions, ex7.strategy_runtimes, ex7.signals,
    ex7.signal_events, ex7.signal_audit, ex7.signals_blocked, ex7.risk_limits TO ex7_user;
-- a bound role may create its own user row and advance its event counter, never change its tier
GRANT INSERT (id, email) ON ex7.users TO ex7_user;
GRANT UPDATE (last_event_seq, last_signal_at, email) ON ex7.users TO ex7_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ex7 TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.bind_role(name, uuid) FROM PUBLIC, ex7_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ex7 TO ex7_user;
-- operator and service paths, not a user's: market data ingest (a feed or a service_role front) and the
-- fronts' shared rate counters (which name other users' subjects)
REVOKE EXECUTE ON FUNCTION ex7.ingest_bar(text, text, timestamptz, numeric, numeric, numeric, numeric, bigint, boolean),
    ex7.ingest_bars(jsonb, boolean),
    ex7.rate_take(text, integer, integer, integer, integer, timestamptz) FROM PUBLIC, ex7_user;
REVOKE ALL ON ex7.rate_counters FROM ex7_user;
