-- sql/signals.sql: firing signals through the gate, and the read side: list (every filter, keyset paging
-- across ties, cursor and limit errors, the index it reads), get, legacy, audit.
\set uf '00000000-0000-4000-8000-000000000221'
\set uo '00000000-0000-4000-8000-000000000222'
\set ul '00000000-0000-4000-8000-000000000223'
\set sf1 '00000000-0000-4000-8000-0000022100a1'
\set sf2 '00000000-0000-4000-8000-0000022100a2'
\set sfdel '00000000-0000-4000-8000-0000022100a3'
\set so '00000000-0000-4000-8000-0000022200a1'
\set sl1 '00000000-0000-4000-8000-0000022300a1'
\set sl2 '00000000-0000-4000-8000-0000022300a2'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'uf', :'uo', :'ul']::uuid[]) AS u;
-- strategies by direct INSERT (etag: any text). sf1 is at version 3; sfdel is soft-deleted.
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, current_version, etag, deleted_at) VALUES
    (:'sf1', :'uf', 'nq scalper', 'MNQ', '2m', 3, 'etag-1', NULL),
    (:'sf2', :'uf', 'crude swing', 'CL', '1h', 1, 'etag-2', NULL),
    (:'sfdel', :'uf', 'gone', 'MNQ', '2m', 1, 'etag-3', '2026-04-01 00:00+00'),
    (:'so', :'uo', 'not yours', 'MNQ', '2m', 1, 'etag-4', NULL),
    (:'sl1', :'ul', 'list one', 'MNQ', '2m', 1, 'etag-5', NULL),
    (:'sl2', :'ul', 'list two', 'ES', '5m', 1, 'etag-6', NULL);
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
SELECT :'sf1', v, :'uf', '{}' FROM generate_series(1, 3) AS v;
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
    (:'sf2', 1, :'uf', '{}'), (:'sfdel', 1, :'uf', '{}'), (:'so', 1, :'uo', '{}'),
    (:'sl1', 1, :'ul', '{}'), (:'sl2', 1, :'ul', '{}');

-- ===================================================================================================
-- fire_signal
-- ===================================================================================================
-- passes the gate: the signal (version, instrument and timeframe from the strategy), its event, audit
SELECT ex7.fire_signal(:'uf', :'sf1', 'paper', 'long', 2, 20000.25, '2026-11-20 14:30:00+00', 'breakout') AS r \gset
SELECT :'r'::jsonb ->> 'decision' AS decision, :'r'::jsonb -> 'event_id' AS event_id,
       jsonb_pretty((:'r'::jsonb -> 'signal') - ARRAY['id', 'fired_at']) AS signal;
SELECT :'r'::jsonb #>> '{signal,id}' AS sig1 \gset
-- fired_at is the time of the firing transaction, the same as its event's and audit row's
SELECT (:'r'::jsonb #>> '{signal,fired_at}')::timestamptz = e.created_at AS event_same_time,
       (:'r'::jsonb #>> '{signal,fired_at}')::timestamptz = a.created_at AS audit_same_time
  FROM ex7.signal_events e, ex7.signal_audit a
 WHERE e.user_id = :'uf' AND e.signal_id = :'sig1' AND a.signal_id = :'sig1';
SELECT e.event_id, e.kind, e.signal_id = :'sig1' AS same_signal, e.payload = :'r'::jsonb -> 'signal' AS payload_is_signal
  FROM ex7.replay_since_event_id(:'uf', 0) AS e;
SELECT decision, signal_id = :'sig1' AS same_signal, strategy_version, instrument, timeframe, mode, bar_ts, detail
  FROM ex7.signal_audit WHERE user_id = :'uf' ORDER BY id;
-- CL ticks are 0.01; stop and target are checked on the grid too
SELECT ex7.fire_signal(:'uf', :'sf2', 'paper', 'short', 1, 71.37, '2026-11-20 15:00:00+00', NULL, 71.62, 70.87)
       #- '{signal,id}' #- '{signal,fired_at}' AS crude;

-- every refusal of bad input, each at its locator
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L)', :'uf', :'sf1', 'demo', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L)', :'uf', :'sf1', 'paper', 'buy', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 0, 20000.25, %L)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.10, %L)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, -20000.25, %L)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, NULL, %L)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 71.375, %L)', :'uf', :'sf2', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L, NULL, 19990.3)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L, NULL, NULL, 0)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, NULL)', :'uf', :'sf1', 'paper', 'long'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L, %L)', :'uf', :'sf1', 'paper', 'long', '2026-11-20 14:30+00', repeat('x', 65)));
-- the strategy must exist, be live (not soft-deleted) and be the caller's: 404 for all three
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L)', :'uf', '00000000-0000-4000-8000-0000022100ff', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L)', :'uf', :'sfdel', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.25, %L)', :'uf', :'so', 'paper', 'long', '2026-11-20 14:30+00'));
SELECT ex7_test.err(format('SELECT ex7.fire_signal(NULL, %L, %L, %L, 1, 20000.25, %L)', :'so', 'paper', 'long', '2026-11-20 14:30+00'));
-- none of them wrote anything
SELECT count(*) AS signals, ex7.last_event_id(:'uf') AS events,
       (SELECT count(*) FROM ex7.signal_audit WHERE user_id = :'uf') AS audit_rows
  FROM ex7.signals WHERE user_id = :'uf';

-- refused by the gate: not an error, a result the engine reads (max_open_positions 2, two open)
SELECT ex7.set_risk_limits(:'uf', 'paper', '{"max_open_positions": 2}') ->> 'max_open_positions' AS max_open;
SELECT ex7.fire_signal(:'uf', :'sf1', 'paper', 'short', 1, 20000.50, '2026-11-20 15:02:00+00') AS b \gset
SELECT :'b'::jsonb ->> 'decision' AS decision, :'b'::jsonb #>> '{blocked,triggered_limit}' AS breaker,
       :'b'::jsonb #>> '{blocked,observed}' AS observed, :'b'::jsonb #>> '{blocked,limit}' AS "limit",
       :'b'::jsonb #>> '{blocked,strategy_version}' AS version, :'b'::jsonb ? 'signal' AS has_signal;
-- the live pool is separate: the same strategy still fires live
SELECT ex7.fire_signal(:'uf', :'sf1', 'live', 'short', 1, 20000.50, '2026-11-20 15:02:00+00') ->> 'decision' AS live;
SELECT decision, count(*) FROM ex7.signal_audit WHERE user_id = :'uf' GROUP BY 1 ORDER BY 1;

-- ===================================================================================================
-- get_signal: the caller's signal; 404 for a missing one and for another user's (no distinction)
-- ===================================================================================================
SELECT ex7.get_signal(:'uf', :'sig1') = :'r'::jsonb -> 'signal' AS same_as_fired;
SELECT ex7_test.err(format('SELECT ex7.get_signal(%L, %L)', :'uo', :'sig1'));
SELECT ex7_test.err(format('SELECT ex7.get_signal(%L, %L)', :'uf', '00000000-0000-4000-8000-00000022ffff'));

-- ===================================================================================================
-- list_signals. ul has 12 signals fired in three groups of four on the same instant (one bar close),
-- tagged n01..n12 in id order. Odd n: strategy sl1 (MNQ), even n: sl2 (ES); n divisible by 3 short;
-- n01-n03 closed, n04-n05 cancelled, the rest open. Newest first by (fired_at, id): n12 n11 n10 ... n01.
-- ===================================================================================================
INSERT INTO ex7.signals (id, user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                         entry_price, bar_ts, fired_at, status, close_reason, close_price, closed_at, tag)
SELECT ('00000000-0000-4000-8000-0000022300' || lpad(n::text, 2, '0'))::uuid, :'ul',
       CASE WHEN n % 2 = 1 THEN :'sl1'::uuid ELSE :'sl2'::uuid END, 1,
       CASE WHEN n % 2 = 1 THEN 'MNQ' ELSE 'ES' END, CASE WHEN n % 2 = 1 THEN '2m' ELSE '5m' END, 'paper',
       CASE WHEN n % 3 = 0 THEN 'short' ELSE 'long' END, 1, 5000.00, f, f,
       CASE WHEN n <= 3 THEN 'closed' WHEN n <= 5 THEN 'cancelled' ELSE 'open' END,
       CASE WHEN n <= 3 THEN 'exit_signal' WHEN n <= 5 THEN 'user' END,
       CASE WHEN n <= 5 THEN 5001.00 END, CASE WHEN n <= 5 THEN f + interval '1 hour' END,
       'n' || lpad(n::text, 2, '0')
  FROM generate_series(1, 12) AS n,
       LATERAL (SELECT '2026-04-20 13:30:00+00'::timestamptz + ((n - 1) / 4) * interval '2 minutes' AS f) AS t;

-- a page as its tags, and whether it has a next cursor
CREATE FUNCTION ex7_test.sig_page(j jsonb, OUT tags text, OUT more boolean) LANGUAGE sql AS $$
    SELECT (SELECT string_agg(i ->> 'tag', ' ' ORDER BY o) FROM jsonb_array_elements(j -> 'items') WITH ORDINALITY AS e(i, o)),
           j ->> 'next_cursor' IS NOT NULL;
$$;

-- keyset paging across ties: page boundaries fall inside a group of equal fired_at
SELECT * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_limit => 5));
SELECT ex7.list_signals(:'ul', p_limit => 5) ->> 'next_cursor' AS c1 \gset
SELECT * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_cursor => :'c1', p_limit => 5));
SELECT ex7.list_signals(:'ul', p_cursor => :'c1', p_limit => 5) ->> 'next_cursor' AS c2 \gset
SELECT * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_cursor => :'c2', p_limit => 5));
-- the cursor is the last row's (fired_at, id): "the Nth row's (fired_at, id) becomes next_cursor"
SELECT ts, id FROM ex7.cursor_decode('signals', :'ul', :'c1');
-- a last page that is exactly full has no next cursor (N+1 fetch), one short of full has one
SELECT 'limit 4, page 3' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_limit => 4,
    p_cursor => ex7.list_signals(:'ul', p_limit => 4, p_cursor => ex7.list_signals(:'ul', p_limit => 4) ->> 'next_cursor') ->> 'next_cursor'));
SELECT 'limit 12' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_limit => 12));
SELECT 'limit 11' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_limit => 11));
SELECT 'default 50' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul'));
-- walking every page size gives back exactly the table's order, no row twice, none missed
WITH RECURSIVE walk(size, page, cur, ids) AS (
    SELECT s, 1, ex7.list_signals(:'ul', p_limit => s) ->> 'next_cursor',
           ARRAY(SELECT (i ->> 'id')::uuid FROM jsonb_array_elements(ex7.list_signals(:'ul', p_limit => s) -> 'items') WITH ORDINALITY AS e(i, o) ORDER BY o)
      FROM generate_series(1, 13) AS s
    UNION ALL
    SELECT w.size, w.page + 1, ex7.list_signals(:'ul', p_cursor => w.cur, p_limit => w.size) ->> 'next_cursor',
           w.ids || ARRAY(SELECT (i ->> 'id')::uuid FROM jsonb_array_elements(ex7.list_signals(:'ul', p_cursor => w.cur, p_limit => w.size) -> 'items') WITH ORDINALITY AS e(i, o) ORDER BY o)
      FROM walk w WHERE w.cur IS NOT NULL)
SELECT size, max(page) AS pages,
       bool_or(cur IS NULL AND ids = ARRAY(SELECT id FROM ex7.signals WHERE user_id = :'ul' ORDER BY fired_at DESC, id DESC)) AS exact
  FROM walk GROUP BY size ORDER BY size;

-- filters
SELECT 'strategy sl1' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_strategy_id => :'sl1'));
SELECT 'strategy of another user' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_strategy_id => :'sf1'));
SELECT 'from 13:32 (inclusive)' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_from => '2026-04-20 13:32:00+00'));
SELECT 'to 13:32 (exclusive)' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_to => '2026-04-20 13:32:00+00'));
SELECT 'from 13:32 to 13:34' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_from => '2026-04-20 13:32:00+00', p_to => '2026-04-20 13:34:00+00'));
SELECT 'from = to' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_from => '2026-04-20 13:32:00+00', p_to => '2026-04-20 13:32:00+00'));
SELECT 'side short' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_side => 'short'));
SELECT 'side long' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_side => 'long'));
SELECT 'status open' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'open'));
SELECT 'status closed' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'closed'));
SELECT 'status cancelled' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'cancelled'));
SELECT 'instrument es' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_instrument => 'es'));
SELECT 'instrument ZZZ' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_instrument => 'ZZZ'));
SELECT 'sl2, open, long' AS filter, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_strategy_id => :'sl2', p_status => 'open', p_side => 'long'));
-- a filter with paging: open signals three at a time
SELECT ex7.list_signals(:'ul', p_status => 'open', p_limit => 3) ->> 'next_cursor' AS o1 \gset
SELECT 'open p1' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'open', p_limit => 3));
SELECT 'open p2' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'open', p_limit => 3, p_cursor => :'o1'));
SELECT ex7.list_signals(:'ul', p_status => 'open', p_limit => 3, p_cursor => :'o1') ->> 'next_cursor' AS o2 \gset
SELECT 'open p3' AS page, * FROM ex7_test.sig_page(ex7.list_signals(:'ul', p_status => 'open', p_limit => 3, p_cursor => :'o2'));
-- the item is the same JSON get_signal returns
SELECT ex7.list_signals(:'ul', p_limit => 1) -> 'items' -> 0 = ex7.get_signal(:'ul', '00000000-0000-4000-8000-000002230012') AS same_shape;
-- users see only their own signals
SELECT 'uo' AS whose, * FROM ex7_test.sig_page(ex7.list_signals(:'uo'));

-- 422s: side, status, limit, cursor (garbage, edited, another user's, another list's)
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_side => %L)', :'ul', 'buy'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_status => %L)', :'ul', 'done'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_limit => 0)', :'ul'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_limit => 201)', :'ul'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_limit => NULL)', :'ul'));
SELECT jsonb_array_length(ex7.list_signals(:'ul', p_limit => 200) -> 'items') AS limit_200_ok;
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_cursor => %L)', :'ul', 'garbage'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_cursor => %L)', :'ul',
    left(:'c1', 10) || CASE substr(:'c1', 11, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(:'c1', 12)));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_cursor => %L)', :'uo', :'c1'));
SELECT ex7_test.err(format('SELECT ex7.list_signals(%L, p_cursor => %L)', :'ul',
    ex7.cursor_encode('audit', :'ul', '2026-04-20 13:32:00+00', '00000000-0000-4000-8000-000000022305')));

-- The page is an index range scan of signals_user_fired_idx from the cursor on: page 3 reads N+1 index
-- entries, not 3N. A table of realistic shape (other users' signals around) so the planner has a choice;
-- pg_stat_get_xact_* count this transaction's scans of the index.
INSERT INTO ex7.users (id) SELECT ('00000000-0000-4000-8000-0000000224' || lpad(g::text, 2, '0'))::uuid FROM generate_series(1, 20) AS g;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag)
SELECT ('00000000-0000-4000-8000-0000022400' || lpad(g::text, 2, '0'))::uuid,
       ('00000000-0000-4000-8000-0000000224' || lpad(g::text, 2, '0'))::uuid, 'noise', 'MNQ', '2m', 'etag-noise'
  FROM generate_series(1, 20) AS g;
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price, bar_ts, fired_at)
SELECT ('00000000-0000-4000-8000-0000000224' || lpad(g::text, 2, '0'))::uuid,
       ('00000000-0000-4000-8000-0000022400' || lpad(g::text, 2, '0'))::uuid, 1, 'MNQ', '2m', 'paper', 'long', 1,
       20000.00, t, t
  FROM generate_series(1, 20) AS g, generate_series(1, 150) AS h,
       LATERAL (SELECT '2026-04-01 00:00+00'::timestamptz + h * interval '2 minutes' AS t) AS x;
ANALYZE ex7.signals;
\set noisy '00000000-0000-4000-8000-000000022401'
BEGIN;
SELECT ex7.list_signals(:'noisy', p_limit => 20) ->> 'next_cursor' AS p2 \gset
SELECT ex7.list_signals(:'noisy', p_limit => 20, p_cursor => :'p2') ->> 'next_cursor' AS p3 \gset
SELECT pg_stat_get_xact_numscans('ex7.signals_user_fired_idx'::regclass) AS scans_before,
       pg_stat_get_xact_tuples_returned('ex7.signals_user_fired_idx'::regclass) AS entries_before \gset
SELECT jsonb_array_length(ex7.list_signals(:'noisy', p_limit => 20, p_cursor => :'p3') -> 'items') AS page3_items;
SELECT pg_stat_get_xact_numscans('ex7.signals_user_fired_idx'::regclass) - :scans_before AS page3_scans,
       pg_stat_get_xact_tuples_returned('ex7.signals_user_fired_idx'::regclass) - :entries_before AS page3_index_entries;
COMMIT;

-- ===================================================================================================
-- legacy_signals: the last N hours (1..720), newest first, optionally one instrument
-- ===================================================================================================
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                         entry_price, bar_ts, fired_at, tag)
VALUES (:'uf', :'sf1', 3, 'MNQ', '2m', 'paper', 'long', 1, 20000.00, now() - interval '2 hours', now() - interval '2 hours', 'two hours ago');
CREATE FUNCTION ex7_test.sig_list(j jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(concat_ws('/', i ->> 'instrument', i ->> 'mode', i ->> 'side', coalesce(i ->> 'tag', '-')), ', ' ORDER BY o)
      FROM jsonb_array_elements(j) WITH ORDINALITY AS e(i, o);
$$;
SELECT 'default 24' AS hours, ex7_test.sig_list(ex7.legacy_signals(:'uf'));
SELECT 'hours 1' AS hours, ex7_test.sig_list(ex7.legacy_signals(:'uf', 1));
SELECT 'hours 3' AS hours, ex7_test.sig_list(ex7.legacy_signals(:'uf', 3));
SELECT 'cl' AS instrument, ex7_test.sig_list(ex7.legacy_signals(:'uf', 24, 'cl'));
SELECT 'ZZZ' AS instrument, ex7.legacy_signals(:'uf', 24, 'ZZZ') AS legacy;
SELECT 'ul (April only)' AS whose, ex7.legacy_signals(:'ul', 720) AS legacy;
SELECT ex7_test.err(format('SELECT ex7.legacy_signals(%L, 0)', :'uf'));
SELECT ex7_test.err(format('SELECT ex7.legacy_signals(%L, 721)', :'uf'));
SELECT ex7_test.err(format('SELECT ex7.legacy_signals(%L, NULL)', :'uf'));

-- ===================================================================================================
-- list_audit: keyset on (bar_ts DESC, id DESC). ul gets 8 rows, a01..a08 in insert (id) order, on
-- three bar closes; ties on bar_ts are ordered by id, newest first.
-- ===================================================================================================
INSERT INTO ex7.signal_audit (user_id, strategy_id, strategy_version, instrument, timeframe, mode, bar_ts, decision, detail)
SELECT :'ul', CASE WHEN n % 2 = 1 THEN :'sl1'::uuid ELSE :'sl2'::uuid END, 1,
       CASE WHEN n % 2 = 1 THEN 'MNQ' ELSE 'ES' END, CASE WHEN n % 2 = 1 THEN '2m' ELSE '5m' END, 'paper',
       '2026-04-20 13:30:00+00'::timestamptz + ((n - 1) / 3) * interval '2 minutes',
       (ARRAY['fired', 'no_signal', 'blocked', 'no_signal', 'skipped', 'no_signal', 'error', 'exit'])[n],
       jsonb_build_object('n', 'a' || lpad(n::text, 2, '0'))
  FROM generate_series(1, 8) AS n ORDER BY n;
CREATE FUNCTION ex7_test.audit_page(j jsonb, OUT rows text, OUT more boolean) LANGUAGE sql AS $$
    SELECT (SELECT string_agg((i #>> '{detail,n}') || ':' || (i ->> 'decision'), ' ' ORDER BY o)
              FROM jsonb_array_elements(j -> 'items') WITH ORDINALITY AS e(i, o)),
           j ->> 'next_cursor' IS NOT NULL;
$$;
SELECT 'page 1' AS page, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_limit => 3));
SELECT ex7.list_audit(:'ul', p_limit => 3) ->> 'next_cursor' AS a1 \gset
SELECT 'page 2' AS page, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_limit => 3, p_cursor => :'a1'));
SELECT ex7.list_audit(:'ul', p_limit => 3, p_cursor => :'a1') ->> 'next_cursor' AS a2 \gset
SELECT 'page 3' AS page, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_limit => 3, p_cursor => :'a2'));
SELECT 'default 100' AS page, * FROM ex7_test.audit_page(ex7.list_audit(:'ul'));
SELECT 'no_signal' AS filter, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_decision => 'no_signal'));
SELECT 'no_signal, limit 2' AS filter, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_decision => 'no_signal', p_limit => 2));
SELECT 'strategy sl2' AS filter, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_strategy_id => :'sl2'));
SELECT 'from 13:32' AS filter, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_from => '2026-04-20 13:32:00+00'));
SELECT 'to 13:32' AS filter, * FROM ex7_test.audit_page(ex7.list_audit(:'ul', p_to => '2026-04-20 13:32:00+00'));
SELECT 'uo' AS whose, * FROM ex7_test.audit_page(ex7.list_audit(:'uo'));
-- the item shape, and the fire audit of uf (fired, blocked) newest bar first
SELECT jsonb_object_keys(ex7.list_audit(:'ul', p_limit => 1) -> 'items' -> 0) AS audit_keys ORDER BY 1;
SELECT i ->> 'decision' AS decision, i ->> 'bar_ts' AS bar_ts, i ->> 'mode' AS mode, i -> 'signal_id' IS DISTINCT FROM 'null' AS has_signal
  FROM jsonb_array_elements(ex7.list_audit(:'uf') -> 'items') AS i;
-- 422s
SELECT ex7_test.err(format('SELECT ex7.list_audit(%L, p_decision => %L)', :'ul', 'maybe'));
SELECT ex7_test.err(format('SELECT ex7.list_audit(%L, p_limit => 0)', :'ul'));
SELECT ex7_test.err(format('SELECT ex7.list_audit(%L, p_limit => 201)', :'ul'));
SELECT ex7_test.err(format('SELECT ex7.list_audit(%L, p_cursor => %L)', :'ul', :'c1'));
SELECT ex7_test.err(format('SELECT ex7.list_audit(%L, p_cursor => %L)', :'uo', :'a1'));

DROP FUNCTION ex7_test.sig_page(jsonb), ex7_test.sig_list(jsonb), ex7_test.audit_page(jsonb);
