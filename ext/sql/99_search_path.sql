/* ext/sql/99_search_path.sql: every function of the extension runs with its search_path pinned to
 * pg_catalog, ex7, pg_temp (docs/extending.md, "Every function runs with search_path pinned").
 *
 * Why: an unqualified name in a function body (a function, an operator, an aggregate, a type, a table) is
 * looked up in the caller's search_path when the body is planned. A caller with
 * "SET search_path = public, pg_catalog" and a CREATE AGGREGATE public.sum(numeric) of its own would
 * otherwise change what ex7.risk_state reports as today's realized P&L. pg_temp comes last, named: left
 * out, it is searched first (PostgreSQL docs, "Writing SECURITY DEFINER Functions Safely"; CVE-2007-2138).
 * A C function's SPI queries run under the same setting, so C functions are pinned too.
 *
 * How: this file runs last in the install script (99_s sorts after 99_grants) and, being re-runnable, last
 * in every upgrade script, so it reaches every function of schema ex7, whichever file created it. A
 * function's SET clause applies on every call: a GUC save and restore per call, and a LANGUAGE sql
 * function with one is never inlined into its caller's query. The exceptions below are functions called
 * once per row on hot paths where that cost was measured (docs/extending.md): small LANGUAGE sql functions
 * that must stay inlinable, and the C graph evaluator. Each of them has every operator, function,
 * aggregate and type it names qualified instead (OPERATOR(pg_catalog.=), pg_catalog.jsonb_build_object,
 * ::pg_catalog.text), so it computes the same under any search_path; the SQL ones are inlined into pinned
 * callers, whose queries are planned under the pinned path anyway.
 * test/pgtap/search_path.sql fails for any other function without the setting.
 */

CREATE OR REPLACE FUNCTION ex7._search_path_exceptions()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- the item builders of the list endpoints, inlined into the list's query once per row: pinned, each
    -- row would run the function on its own (list_signals of 50 items 1.0 -> 1.7 ms; docs/extending.md)
    SELECT ARRAY['ex7._signal_json(ex7.signals)',
                 'ex7._audit_json(ex7.signal_audit)',
                 'ex7._blocked_json(ex7.signals_blocked)',
                 'ex7._bar_json(ex7.bars)',
                 'ex7._runtime_json(ex7.strategy_runtimes, pg_catalog.text)',
                 'ex7._notification_json(ex7.notifications)',
                 'ex7._delivery_json(ex7.alert_deliveries)',
                 'ex7._subscription_json(ex7.alert_subscriptions, pg_catalog.text)',
                 'ex7._price_alert_json(ex7.price_alerts)',
                 'ex7._price_alert_log_json(ex7.price_alert_logs)',
                 'ex7._document_json(ex7.compliance_documents)',
    -- a bar length by timeframe, inlined into per-row expressions (the pipeline health, the jobs, the bar
    -- grid check of every ingested bar)
                 'ex7._timeframe_interval(pg_catalog.text)',
    -- the graph evaluator (C), called once per runtime and bar by the dispatcher: pinned, 1,000 strategies
    -- evaluated 3.3 -> 4.1 ms (best of 30, interleaved). Its one query (ext/graph.c, the bars window) names
    -- every operator and type with pg_catalog; it looks up no other name.
                 'ex7._evaluate(uuid, integer, jsonb, pg_catalog.text, pg_catalog.text, timestamp with time zone)',
    -- the protections' decision (C, ext/protect.c), called once per protection in the query that follows every
    -- close (ex7._protections_after_close): it runs no query and looks up no name
                 'ex7.protection_decide(pg_catalog.text, integer, integer, interval, interval, numeric, interval, timestamp with time zone[], numeric[], boolean[])'
                ]::pg_catalog.text[]
$$;
COMMENT ON FUNCTION ex7._search_path_exceptions() IS
'Returns the functions of schema ex7 (as regprocedure text) that run without a pinned search_path: SQL item builders that must stay inlinable and the C graph evaluator, called once per row or runtime; each qualifies every name it uses (ext/sql/99_search_path.sql).';

-- 99_grants.sql ran before this file: the same grant as every other function
GRANT EXECUTE ON FUNCTION ex7._search_path_exceptions() TO ex7_user;

DO $$
DECLARE
    f regprocedure;
    v_exception boolean;
BEGIN
    FOR f, v_exception IN
        SELECT p.oid::regprocedure,
               p.oid OPERATOR(pg_catalog.=) ANY (
                   SELECT pg_catalog.to_regprocedure(e) FROM pg_catalog.unnest(ex7._search_path_exceptions()) e
                    WHERE pg_catalog.to_regprocedure(e) IS NOT NULL)
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'ex7'::pg_catalog.regnamespace
           AND p.prokind OPERATOR(pg_catalog.<>) 'a'		-- an aggregate takes no SET clause
    LOOP
        -- RESET: an exception keeps no search_path from an earlier run of this file
        EXECUTE pg_catalog.format(CASE WHEN v_exception THEN 'ALTER FUNCTION %s RESET search_path'
                                       ELSE 'ALTER FUNCTION %s SET search_path = pg_catalog, ex7, pg_temp' END, f);
    END LOOP;
END
$$;
