-- sql/notifications.sql: in-app notifications (list with type, unreadOnly, limit, offset and total; mark
-- one and all read; delete) and their preferences per type, which decide whether an event lands here.
\set ua '00000000-0000-4000-8000-7e0000000011'
\set ub '00000000-0000-4000-8000-7e0000000012'
\set sa '00000000-0000-4000-8000-7e00000011a1'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;
-- the compliance documents (docs/billing.md): channels, subscriptions and closes answer 412 before
SELECT ex7_test.accept_compliance(ARRAY[:'ua', :'ub']::uuid[]) AS accepted;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, current_version, etag) VALUES
    (:'sa', :'ua', 'notify me', 'MES', '5m', 1, 'e1');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES (:'sa', 1, :'ua', '{}');

-- a fire and a close are notifications; so is anything ex7._notify writes (fixed times for the order)
SELECT ex7.fire_signal(:'ua', :'sa', 'paper', 'long', 1, 5000.25, '2026-11-20 14:30:00+00') #>> '{signal,id}' AS sig \gset
SELECT ex7.close_signal(:'ua', :'sig', 5001.00) ->> 'net_pnl' AS net_pnl;
UPDATE ex7.notifications SET created_at = '2026-11-20 14:30:01+00' WHERE user_id = :'ua' AND type = 'signal';
UPDATE ex7.notifications SET created_at = '2026-11-20 14:31:00+00' WHERE user_id = :'ua' AND type = 'signal_closed';
SELECT ex7._notify(:'ua', 'system', 'Welcome ' || n, 'hello', NULL, '{}') FROM generate_series(1, 3) AS n;
UPDATE ex7.notifications SET created_at = '2026-11-19 00:00:00+00'::timestamptz + (substr(title, 9)::int * interval '1 hour')
 WHERE user_id = :'ua' AND type = 'system';
SELECT ex7._notify(:'ub', 'system', 'for B', 'b only', NULL, '{}');

SELECT jsonb_pretty(ex7.list_notifications(:'ua', 'signal') #- '{notifications,0,id}' #- '{notifications,0,created_at}'
                    #- '{notifications,0,data}' #- '{notifications,0,message}' #- '{notifications,0,action_url}') AS signal_only;
SELECT regexp_replace(n ->> 'message', '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', '<time>') AS message, n ->> 'action_url' = '/signals/' || :'sig' AS action_url, n #>> '{data,signal,id}' = :'sig' AS data
  FROM (SELECT ex7.list_notifications(:'ua', 'signal') #> '{notifications,0}' AS n) s;
SELECT (SELECT array_agg(x ->> 'title' ORDER BY o) FROM jsonb_array_elements(l -> 'notifications') WITH ORDINALITY t(x, o)) AS titles,
       l -> 'total' AS total
  FROM (SELECT ex7.list_notifications(:'ua') AS l) s;
-- limit and offset page; total counts every match
SELECT (SELECT array_agg(x ->> 'title' ORDER BY o) FROM jsonb_array_elements(l -> 'notifications') WITH ORDINALITY t(x, o)) AS page2,
       l -> 'total' AS total
  FROM (SELECT ex7.list_notifications(:'ua', NULL, NULL, 2, 2) AS l) s;
SELECT ex7_test.err(format('SELECT ex7.list_notifications(%L, %L, %L, %s, %s)', :'ua', t, u, l, o)) AS list_errors
  FROM (VALUES ('trade', NULL, 50, 0), (NULL, 'maybe', 50, 0), (NULL, NULL, 0, 0), (NULL, NULL, 50, -1)) AS v(t, u, l, o);

-- read: one, then all; unreadOnly
SELECT id AS n_closed FROM ex7.notifications WHERE user_id = :'ua' AND type = 'signal_closed' \gset
SELECT ex7.mark_notification_read(:'ua', :'n_closed') AS one;
SELECT ex7.list_notifications(:'ua', NULL, 'true') -> 'total' AS unread,
       ex7.list_notifications(:'ua', NULL, 'false') -> 'total' AS everything;
SELECT ex7_test.err(format('SELECT ex7.mark_notification_read(%L, %L)', :'ub', :'n_closed')) AS bola_read,
       ex7_test.err(format('SELECT ex7.delete_notification(%L, %L)', :'ub', :'n_closed')) AS bola_delete;
SELECT ex7.mark_all_notifications_read(:'ua') AS all_read;
SELECT ex7.list_notifications(:'ua', NULL, 'true') -> 'total' AS unread_after,
       ex7.list_notifications(:'ub', NULL, 'true') -> 'total' AS b_unread;
SELECT ex7.delete_notification(:'ua', :'n_closed') AS deleted;
SELECT ex7_test.err(format('SELECT ex7.delete_notification(%L, %L)', :'ua', :'n_closed')) AS deleted_again;

-- preferences: every type on by default; turning signal off stops those notifications only
SELECT ex7.get_notification_preferences(:'ua') AS defaults;
SELECT ex7_test.err(format('SELECT ex7.set_notification_preferences(%L, %L)', :'ua', b)) AS pref_errors
  FROM unnest(ARRAY['{}', '{"notification_preferences": [true]}', '{"notification_preferences": {"trade": true}}',
                    '{"notification_preferences": {"signal": "no"}}']) AS b;
SELECT ex7.set_notification_preferences(:'ua', '{"notification_preferences": {"signal": false}}') AS set_off;
SELECT ex7.set_notification_preferences(:'ua', '{"notification_preferences": {"blocked": false}}')
       -> 'notification_preferences' AS merged;
SELECT ex7.fire_signal(:'ua', :'sa', 'paper', 'long', 1, 5000.50, '2026-11-20 14:35:00+00') #>> '{signal,id}' AS sig2 \gset
SELECT ex7.close_signal(:'ua', :'sig2', 5000.50) ->> 'status' AS closed;
SELECT type, count(*) FROM ex7.notifications WHERE user_id = :'ua' GROUP BY type ORDER BY type;
SELECT ex7.get_notification_preferences(:'ub') -> 'notification_preferences' -> 'signal' AS b_untouched;
