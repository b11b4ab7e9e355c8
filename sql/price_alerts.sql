-- sql/price_alerts.sql: price alerts (create, update, list, delete), their evaluation on stored bars
-- (crossing above and below, once and repeating, late bars, other series), the log (list, delete one,
-- delete all), and the notification and delivery each trigger writes. Instruments: MGC and GC, which
-- no other test stores bars of.
\set ua '00000000-0000-4000-8000-7e0000000021'
\set ub '00000000-0000-4000-8000-7e0000000022'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;
-- the compliance documents (docs/billing.md): channels, subscriptions and closes answer 412 before
SELECT ex7_test.accept_compliance(ARRAY[:'ua', :'ub']::uuid[]) AS accepted;
CREATE FUNCTION ex7_test.pa(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - ARRAY['id', 'created_at', 'updated_at', 'last_triggered_at'];
$$;
-- a 1m MGC bar closing at 2024-02-07 15:<m> UTC (10:<m> in New York: the session is open)
CREATE FUNCTION ex7_test.bar(m int, o numeric, h numeric, l numeric, c numeric, tf text DEFAULT '1m') RETURNS text
LANGUAGE sql AS $$
    SELECT ex7.ingest_bar('MGC', tf, '2024-02-07 15:00+00'::timestamptz + m * interval '1 minute', o, h, l, c, 10) ->> 'status';
$$;

-- before any bar: no reference price, the default series is 1m
SELECT ex7_test.pa(ex7.create_price_alert(:'ua', '{"instrument": "gc", "condition": "above", "level": 2100}')) AS no_bars_yet;
SELECT ex7_test.bar(1, 2040.0, 2041.0, 2039.5, 2040.5) AS first_bar;
SELECT ex7_test.err(format('SELECT ex7.create_price_alert(%L, %L)', :'ua', b)) AS create_errors
  FROM unnest(ARRAY[
    '{"condition": "crosses_above", "level": 1}',
    '{"instrument": "XAU", "condition": "crosses_above", "level": 1}',
    '{"instrument": "MGC", "condition": "touches", "level": 1}',
    '{"instrument": "MGC", "condition": "crosses_above"}',
    '{"instrument": "MGC", "condition": "crosses_above", "level": -5}',
    '{"instrument": "MGC", "condition": "crosses_above", "level": "12abc"}',
    '{"instrument": "MGC", "condition": "crosses_above", "level": 1, "repeat": "yes"}',
    '{"instrument": "MGC", "condition": "crosses_above", "level": 1, "timeframe": "3m"}'
  ]) AS b;
-- the reference is the newest close of the series
SELECT ex7.create_price_alert(:'ua', '{"instrument": "MGC", "condition": "crosses_above", "level": "2042.0", "note": "breakout"}') AS r \gset
SELECT :'r'::jsonb ->> 'id' AS a_up \gset
SELECT ex7_test.pa(:'r'::jsonb) AS up_once;
SELECT ex7.create_price_alert(:'ua', '{"instrument": "MGC", "condition": "crosses_below", "level": 2039, "repeat": true}') ->> 'id' AS a_down \gset
SELECT ex7.create_price_alert(:'ua', '{"instrument": "MGC", "condition": "crosses_above", "level": 2042, "timeframe": "5m"}') ->> 'id' AS a_5m \gset
SELECT ex7.create_price_alert(:'ub', '{"instrument": "MGC", "condition": "crosses_above", "level": 2041.5}') ->> 'id' AS b_up \gset

-- deliveries: A has a verified email channel subscribed to price alerts
INSERT INTO ex7.alert_channels (id, user_id, type, destination, verified_at)
VALUES ('00000000-0000-4000-8000-7e00000021c1', :'ua', 'email', 'a@example.com', now());
SELECT ex7.create_subscription(:'ua', '{"channel_id": "00000000-0000-4000-8000-7e00000021c1", "events": ["price_alert"]}') ->> 'events' AS sub;

-- bar 2 stays under every level; bar 3's high reaches 2042.0: A's and B's "above" alerts fire, once
SELECT ex7_test.bar(2, 2040.5, 2041.0, 2040.0, 2040.8) AS bar2;
SELECT count(*) AS logs_after_bar2 FROM ex7.price_alert_logs WHERE instrument = 'MGC';
SELECT ex7_test.bar(3, 2040.8, 2042.3, 2040.6, 2042.1) AS bar3;
SELECT user_id = :'ua' AS is_a, condition, level, price, timeframe, bar_ts AT TIME ZONE 'UTC' AS bar_ts
  FROM ex7.price_alert_logs WHERE instrument = 'MGC' ORDER BY is_a DESC;
SELECT ex7_test.pa(ex7.list_price_alerts(:'ua', 'mgc') -> 2) AS up_after;
SELECT type, title, regexp_replace(message, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', '<time>') AS message, action_url
  FROM ex7.notifications WHERE user_id = :'ua';
SELECT channel_type, event, status, message ->> 'title' AS title FROM ex7.alert_deliveries WHERE user_id = :'ua';
SELECT count(*) AS b_notifications, count(*) FILTER (WHERE type = 'price_alert') AS b_price FROM ex7.notifications WHERE user_id = :'ub';

-- falling through 2039 fires the repeating alert; it fires again only after the price came back above
SELECT ex7_test.bar(4, 2042.1, 2042.2, 2038.5, 2038.9) AS bar4;
SELECT ex7_test.bar(5, 2038.9, 2038.9, 2038.0, 2038.2) AS bar5_still_below;
SELECT ex7_test.bar(6, 2038.2, 2040.0, 2038.1, 2039.6) AS bar6_back_above;
SELECT ex7_test.bar(7, 2039.6, 2039.6, 2038.7, 2038.8) AS bar7_crosses_again;
SELECT l.condition, l.price, (l.bar_ts AT TIME ZONE 'UTC')::time AS at
  FROM ex7.price_alert_logs l WHERE l.alert_id = :'a_down' ORDER BY l.id;
SELECT active, triggered_count, last_price FROM ex7.price_alerts WHERE id = :'a_down';
-- a late bar (older than the alert's last one) changes nothing; a 5m bar is evaluated for the 5m alert only
SELECT ex7_test.bar(0, 2036.0, 2036.0, 2030.0, 2031.0) AS late_bar;
SELECT ex7_test.bar(5, 2040.0, 2043.0, 2039.0, 2042.5, '5m') AS five_minute_bar;
SELECT count(*) FILTER (WHERE alert_id = :'a_down') AS down_logs, count(*) FILTER (WHERE alert_id = :'a_5m') AS five_min_logs
  FROM ex7.price_alert_logs;

-- update: re-arm the one-shot alert at a new level; the next crossing fires it
SELECT ex7_test.pa(ex7.update_price_alert(:'ua', :'a_up', '{"active": true, "level": 2040}')) AS rearmed;
SELECT ex7_test.bar(8, 2038.8, 2040.2, 2038.8, 2040.1) AS bar8;
SELECT count(*) AS up_logs FROM ex7.price_alert_logs WHERE alert_id = :'a_up';
SELECT ex7_test.err(q) AS update_errors
  FROM unnest(ARRAY[
    format('SELECT ex7.update_price_alert(%L, %L, %L)', :'ua', :'a_up', '{"level": 0}'),
    format('SELECT ex7.update_price_alert(%L, %L, %L)', :'ua', :'a_up', '{"note": 5}'),
    format('SELECT ex7.update_price_alert(%L, %L, %L)', :'ub', :'a_up', '{"active": false}'),
    format('SELECT ex7.delete_price_alert(%L, %L)', :'ub', :'a_up')
  ]) AS q;

-- logs: list with total, one delete, all delete; B sees only its own
SELECT (SELECT array_agg(x ->> 'price' ORDER BY o) FROM jsonb_array_elements(l -> 'logs') WITH ORDINALITY t(x, o)) AS prices,
       l -> 'total' AS total
  FROM (SELECT ex7.list_price_alert_logs(:'ua') AS l) s;
SELECT ex7.list_price_alert_logs(:'ua', :'a_down', 1, 1) -> 'logs' -> 0 ->> 'price' AS second_newest_down,
       ex7.list_price_alert_logs(:'ub') -> 'total' AS b_total;
SELECT id AS log1 FROM ex7.price_alert_logs WHERE alert_id = :'a_up' ORDER BY id LIMIT 1 \gset
SELECT ex7_test.err(format('SELECT ex7.delete_price_alert_log(%L, %s)', :'ub', :'log1')) AS bola_log;
SELECT ex7.delete_price_alert_log(:'ua', :'log1');
SELECT ex7_test.err(format('SELECT ex7.delete_price_alert_log(%L, %s)', :'ua', :'log1')) AS deleted_log;
SELECT ex7_test.err(format('SELECT ex7.list_price_alert_logs(%L, NULL, %s, %s)', :'ua', l, o)) AS log_list_errors
  FROM (VALUES (0, 0), (50, -1)) AS v(l, o);
SELECT ex7.delete_price_alert_logs(:'ua') AS deleted_all;
SELECT ex7.list_price_alert_logs(:'ua') -> 'total' AS a_total, ex7.list_price_alert_logs(:'ub') -> 'total' AS b_total;

-- delete an alert: gone from the list, no longer evaluated
SELECT ex7.delete_price_alert(:'ua', :'a_down');
SELECT jsonb_array_length(ex7.list_price_alerts(:'ua')) AS a_alerts, jsonb_array_length(ex7.list_price_alerts(:'ub')) AS b_alerts;
SELECT ex7_test.bar(9, 2040.1, 2040.1, 2030.0, 2030.5) AS crash;
SELECT count(*) AS a_logs FROM ex7.price_alert_logs WHERE user_id = :'ua';
