-- sql/alerts.sql: alert channels (create, verify, resend), subscriptions, the outbox written by signal
-- events, blocked and runtime errors, the worker's claim and record (retries, leases, quota), provider
-- webhooks (Resend, Telegram, Twilio), unsubscribe tokens, deliveries list, and ownership everywhere.
\set ua '00000000-0000-4000-8000-7e0000000001'
\set ub '00000000-0000-4000-8000-7e0000000002'
\set sa1 '00000000-0000-4000-8000-7e00000000a1'
\set sa2 '00000000-0000-4000-8000-7e00000000a2'
\set sb1 '00000000-0000-4000-8000-7e00000000b1'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;
-- the compliance documents (docs/billing.md): channels, subscriptions and closes answer 412 before
SELECT ex7_test.accept_compliance(ARRAY[:'ua', :'ub']::uuid[]) AS accepted;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, current_version, etag) VALUES
    (:'sa1', :'ua', 'orb <nq>', 'MNQ', '5m', 1, 'e1'),
    (:'sa2', :'ua', 'crude swing', 'CL', '1h', 1, 'e2'),
    (:'sb1', :'ub', 'not yours', 'MNQ', '5m', 1, 'e3');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
    (:'sa1', 1, :'ua', '{}'), (:'sa2', 1, :'ua', '{}'), (:'sb1', 1, :'ub', '{}');
SELECT ex7.set_risk_limits(:'ua', 'paper', '{"max_open_positions": 2}') IS NOT NULL AS limits;

-- what tests may print of a channel
CREATE FUNCTION ex7_test.chan(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - ARRAY['id', 'created_at', 'updated_at', 'verified_at', 'signing_secret', 'verification']
           || jsonb_build_object('verification', CASE WHEN jsonb_typeof(j -> 'verification') = 'object'
                                 THEN (j -> 'verification') - ARRAY['sent_at', 'expires_at', 'start_token', 'start_command'] END,
                                 'has_signing_secret', j ->> 'signing_secret' ~ '^whsec_[A-Za-z0-9+/=]{44}$');
$$;
-- the code of the newest verification message of a channel (what the stand-in provider would receive)
CREATE FUNCTION ex7_test.code(c uuid) RETURNS text LANGUAGE sql AS $$
    SELECT message ->> 'code' FROM ex7.alert_deliveries WHERE channel_id = c AND event = 'verification'
     ORDER BY created_at DESC, event_key DESC LIMIT 1;
$$;

-- ===================================================================================================
-- Channels
-- ===================================================================================================
SELECT ex7_test.err(format('SELECT ex7.create_channel(%L, %L)', :'ua', b)) AS create_errors
  FROM unnest(ARRAY[
    '{"destination": "a@example.com"}',
    '{"type": "pigeon", "destination": "a@example.com"}',
    '{"type": "email"}',
    '{"type": "email", "destination": "not-an-email"}',
    '{"type": "email", "destination": 42}',
    '{"type": "sms", "destination": "555-0100"}',
    '{"type": "webhook", "destination": "http://hooks.example.com/x"}',
    '{"type": "webhook", "destination": "https://127.0.0.1/x"}',
    '{"type": "webhook", "destination": "https://192.168.1.10:8443/x"}',
    '{"type": "webhook", "destination": "https://localhost/x"}',
    '{"type": "telegram", "destination": "not a handle!"}',
    '{"type": "email", "destination": "a@example.com", "label": 7}'
  ]) AS b;

SELECT ex7.create_channel(:'ua', '{"type": "email", "destination": "Trader.A@Example.COM", "label": "work"}') AS r \gset
SELECT :'r'::jsonb ->> 'id' AS ch_email \gset
SELECT ex7_test.chan(:'r'::jsonb) AS email_channel;
-- the verification code went into the outbox; the channel keeps only its hash
SELECT event, channel_type, status, message ->> 'title' AS title, message ->> 'code' ~ '^[0-9]{6}$' AS six_digits,
       message ->> 'text' LIKE 'Your ex7 verification code is ' || (message ->> 'code') || '.%' AS text_has_code
  FROM ex7.alert_deliveries WHERE channel_id = :'ch_email';
SELECT verify_hash = ex7._alert_code_hash(id, ex7_test.code(id)) AS hash_of_code FROM ex7.alert_channels WHERE id = :'ch_email';

SELECT ex7.create_channel(:'ua', '{"type": "sms", "destination": "+14155550100"}') ->> 'id' AS ch_sms \gset
SELECT ex7.create_channel(:'ua', '{"type": "telegram", "label": "phone"}') AS r \gset
SELECT :'r'::jsonb ->> 'id' AS ch_tg, :'r'::jsonb #>> '{verification,start_token}' AS tg_token \gset
SELECT ex7_test.chan(:'r'::jsonb) AS telegram_channel,
       :'r'::jsonb #>> '{verification,start_command}' = '/start ' || :'tg_token' AS start_command,
       :'tg_token' ~ '^[0-9a-f]{32}$' AS token_shape;
-- a webhook to a private address only when the operator allows it (tests, on-premises)
SET ex7.alerts_allow_private_webhooks = on;
SELECT ex7.create_channel(:'ua', '{"type": "webhook", "destination": "http://127.0.0.1:9/hook"}') AS r \gset
RESET ex7.alerts_allow_private_webhooks;
SELECT :'r'::jsonb ->> 'id' AS ch_hook \gset
SELECT ex7_test.chan(:'r'::jsonb) AS webhook_channel;
-- nothing is sent to a telegram chat before the user wrote to the bot
SELECT c.type, count(d.id) AS verification_messages
  FROM ex7.alert_channels c LEFT JOIN ex7.alert_deliveries d ON d.channel_id = c.id
 WHERE c.user_id = :'ua' GROUP BY c.type ORDER BY c.type;

-- one channel per destination; B may add the same address
SELECT ex7_test.err(format('SELECT ex7.create_channel(%L, %L)', :'ua', '{"type": "email", "destination": "Trader.A@example.com"}'))
       ~ ('^X7409: a channel with this destination exists \| \{"code": "channel_exists", "channel_id": "' || :'ch_email') AS duplicate;
SELECT ex7.create_channel(:'ub', '{"type": "email", "destination": "trader.a@example.com"}') ->> 'id' AS ch_b \gset
SELECT jsonb_array_length(ex7.list_channels(:'ua')) AS a_channels, jsonb_array_length(ex7.list_channels(:'ub')) AS b_channels,
       (SELECT array_agg(x ->> 'type' ORDER BY o) FROM jsonb_array_elements(ex7.list_channels(:'ua')) WITH ORDINALITY t(x, o)) AS a_order;

-- verify: wrong code (counted, committed: returned, not raised), malformed, then the right one
SELECT ex7.verify_channel(:'ua', :'ch_email', CASE WHEN ex7_test.code(:'ch_email') = '000000' THEN '111111' ELSE '000000' END) AS wrong_code;
SELECT verify_attempts FROM ex7.alert_channels WHERE id = :'ch_email';
SELECT ex7_test.err(format('SELECT ex7.verify_channel(%L, %L, %L)', :'ua', :'ch_email', c)) AS malformed
  FROM unnest(ARRAY['12345', 'abcdef', NULL]) AS c;
SELECT ex7_test.chan(ex7.verify_channel(:'ua', :'ch_email', ex7_test.code(:'ch_email'))) AS verified;
-- verified again: the same answer; resend: nothing to resend
SELECT ex7.verify_channel(:'ua', :'ch_email', '123456') ->> 'status' AS again,
       ex7_test.err(format('SELECT ex7.resend_channel_verification(%L, %L)', :'ua', :'ch_email')) AS resend_verified;
SELECT ex7_test.err(format('SELECT ex7.verify_channel(%L, %L, %L)', :'ua', :'ch_tg', '123456')) AS telegram_code;

-- five wrong codes lock the code; an expired code is refused; resend is rate limited
SELECT ex7.verify_channel(:'ua', :'ch_sms', '000000') #> '{detail,0,attempts_left}' AS left1 FROM generate_series(1, 5);
SELECT ex7_test.err(format('SELECT ex7.verify_channel(%L, %L, %L)', :'ua', :'ch_sms', ex7_test.code(:'ch_sms'))) AS locked;
SELECT ex7_test.err(format('SELECT ex7.resend_channel_verification(%L, %L)', :'ua', :'ch_sms'))
       ~ '^X7429: verification was sent less than a minute ago \| \{"code": "resend_too_soon", "retry_after": (59|60)\}$' AS too_soon;
UPDATE ex7.alert_channels SET verify_sent_at = verify_sent_at - interval '61 seconds' WHERE id = :'ch_sms';
SELECT ex7.resend_channel_verification(:'ua', :'ch_sms') #>> '{verification,attempts_left}' AS resent_attempts_left;
UPDATE ex7.alert_channels SET verify_expires_at = now() - interval '1 second' WHERE id = :'ch_sms';
SELECT ex7_test.err(format('SELECT ex7.verify_channel(%L, %L, %L)', :'ua', :'ch_sms', ex7_test.code(:'ch_sms'))) AS expired;
UPDATE ex7.alert_channels SET verify_sent_at = now() - interval '10 minutes', verify_window_sends = 5 WHERE id = :'ch_sms';
SELECT ex7_test.err(format('SELECT ex7.resend_channel_verification(%L, %L)', :'ua', :'ch_sms'))
       ~ '^X7429: too many verification messages this hour \| \{"code": "resend_limit", "retry_after": [0-9]+\}$' AS hourly_limit;
UPDATE ex7.alert_channels SET verify_window_start = now() - interval '2 hours' WHERE id = :'ch_sms';
SELECT ex7.resend_channel_verification(:'ua', :'ch_sms') ->> 'status' AS new_window;
SELECT verify_window_sends FROM ex7.alert_channels WHERE id = :'ch_sms';

-- another user's channel is not found, whatever the route
SELECT ex7_test.err(q) AS bola_channel
  FROM unnest(ARRAY[
    format('SELECT ex7.verify_channel(%L, %L, %L)', :'ub', :'ch_sms', '123456'),
    format('SELECT ex7.resend_channel_verification(%L, %L)', :'ub', :'ch_sms'),
    format('SELECT ex7.delete_channel(%L, %L)', :'ub', :'ch_sms')
  ]) AS q;

-- ===================================================================================================
-- Subscriptions
-- ===================================================================================================
SELECT ex7_test.err(format('SELECT ex7.create_subscription(%L, %L)', :'ua', b)) AS subscription_errors
  FROM unnest(ARRAY[
    '{}',
    '{"channel_id": "nope"}',
    format('{"channel_id": "%s", "strategy_id": 5}', :'ch_email'),
    format('{"channel_id": "%s", "events": []}', :'ch_email'),
    format('{"channel_id": "%s", "events": ["signal", "lunch"]}', :'ch_email'),
    format('{"channel_id": "%s", "enabled": "yes"}', :'ch_email'),
    format('{"channel_id": "%s"}', :'ch_b'),
    format('{"channel_id": "%s", "strategy_id": "%s"}', :'ch_email', :'sb1')
  ]) AS b;
-- email: every strategy, every event (the default); sms: one strategy, closes only; webhook: strategy 1
SELECT ex7.create_subscription(:'ua', format('{"channel_id": "%s"}', :'ch_email')::jsonb) AS r \gset
SELECT :'r'::jsonb ->> 'id' AS sub_email \gset
SELECT :'r'::jsonb - ARRAY['id', 'channel_id', 'created_at', 'updated_at'] AS sub_email_json;
SELECT ex7.create_subscription(:'ua', format('{"channel_id": "%s", "strategy_id": "%s", "events": ["signal_closed", "signal_closed"]}',
                                             :'ch_sms', :'sa1')::jsonb) ->> 'id' AS sub_sms \gset
SELECT ex7.create_subscription(:'ua', format('{"channel_id": "%s", "strategy_id": "%s", "events": ["signal", "signal_closed"]}',
                                             :'ch_hook', :'sa1')::jsonb) ->> 'id' AS sub_hook \gset
SELECT ex7_test.err(format('SELECT ex7.create_subscription(%L, %L)', :'ua', format('{"channel_id": "%s"}', :'ch_email')))
       = format('X7409: this channel already has a subscription for this strategy | {"code": "subscription_exists", "subscription_id": "%s"}', :'sub_email')
       AS duplicate_subscription;
SELECT jsonb_array_length(ex7.list_subscriptions(:'ua')) AS all_subs,
       jsonb_array_length(ex7.list_subscriptions(:'ua', :'sa1')) AS sa1_subs,
       ex7.list_subscriptions(:'ua', :'sa1') -> 0 -> 'events' AS sms_events,
       jsonb_array_length(ex7.list_subscriptions(:'ub')) AS b_subs;
SELECT ex7.update_subscription(:'ua', :'sub_sms', '{"events": ["signal", "signal_closed", "blocked"], "enabled": false}')
       - ARRAY['id', 'channel_id', 'strategy_id', 'created_at', 'updated_at'] AS patched;
SELECT ex7.update_subscription(:'ua', :'sub_sms', '{"enabled": true}') ->> 'enabled' AS reenabled;
SELECT ex7_test.err(q) AS bola_subscription
  FROM unnest(ARRAY[
    format('SELECT ex7.update_subscription(%L, %L, %L)', :'ub', :'sub_sms', '{"enabled": false}'),
    format('SELECT ex7.delete_subscription(%L, %L)', :'ub', :'sub_sms'),
    format('SELECT ex7.update_subscription(%L, %L, %L)', :'ua', :'sub_sms', '{"events": "signal"}')
  ]) AS q;

-- ===================================================================================================
-- The outbox: written in the transaction of the event
-- ===================================================================================================
SELECT ex7.fire_signal(:'ua', :'sa1', 'paper', 'long', 2, 20000.25, '2026-11-20 14:30:00+00', NULL, 19990.00) AS r \gset
SELECT :'r'::jsonb #>> '{signal,id}' AS sig1 \gset
-- email (verified, every strategy): queued; sms (not verified): suppressed unverified; webhook: unverified too
SELECT d.channel_type, d.event, d.status, d.reason, d.message ->> 'title' AS title
  FROM ex7.alert_deliveries d WHERE d.user_id = :'ua' AND d.event <> 'verification' ORDER BY d.channel_type;
SELECT regexp_replace(message ->> 'text', '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', '<time>') AS text,
       message ->> 'action_url' = '/signals/' || :'sig1' AS action_url,
       message #>> '{data,strategy_name}' AS strategy
  FROM ex7.alert_deliveries WHERE user_id = :'ua' AND event = 'signal' AND channel_type = 'email';
-- and the in-app notification
SELECT type, title FROM ex7.notifications WHERE user_id = :'ua';
-- a rolled back fire leaves no delivery and no notification
BEGIN;
SELECT ex7.fire_signal(:'ua', :'sa2', 'paper', 'short', 1, 70.00, '2026-11-20 14:30:00+00') ->> 'decision' AS decision;
ROLLBACK;
SELECT count(*) AS deliveries_after_rollback FROM ex7.alert_deliveries WHERE user_id = :'ua' AND event = 'signal';

-- the close: P&L in the message; sms now verified and asks for closes
UPDATE ex7.alert_channels SET verified_at = now(), verify_hash = NULL WHERE id = :'ch_sms';
SELECT ex7.close_signal(:'ua', :'sig1', 20010.50) ->> 'net_pnl' AS net_pnl;
SELECT channel_type, status, reason, message ->> 'title' AS title,
       regexp_replace(message ->> 'text', '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', '<time>') AS text
  FROM ex7.alert_deliveries WHERE user_id = :'ua' AND event = 'signal_closed' ORDER BY channel_type;

-- a refusal of the risk gate (2 open positions at most) and a runtime error are events too
SELECT ex7.fire_signal(:'ua', :'sa1', 'paper', 'long', 1, 20000.00, '2026-11-20 14:35:00+00') ->> 'decision' AS d1,
       ex7.fire_signal(:'ua', :'sa2', 'paper', 'long', 1, 70.00, '2026-11-20 14:35:00+00') ->> 'decision' AS d2,
       ex7.fire_signal(:'ua', :'sa2', 'paper', 'long', 1, 70.01, '2026-11-20 14:40:00+00') ->> 'decision' AS d3;
SELECT channel_type, status, message ->> 'title' AS title FROM ex7.alert_deliveries
 WHERE user_id = :'ua' AND event = 'blocked' ORDER BY channel_type;
INSERT INTO ex7.strategy_runtimes (strategy_id, user_id, mode, status) VALUES (:'sa1', :'ua', 'paper', 'running');
-- (what the dispatcher does when a strategy fails: 65_dispatch.sql; sql/dispatch.sql runs the real thing)
UPDATE ex7.strategy_runtimes SET status = 'error', error = 'division by zero', updated_at = now() WHERE strategy_id = :'sa1';
SELECT count(ex7._alert_runtime_error(r)) AS alerted FROM ex7.strategy_runtimes r WHERE strategy_id = :'sa1';
UPDATE ex7.strategy_runtimes SET error = 'still broken' WHERE strategy_id = :'sa1';
SELECT channel_type, status, message ->> 'title' AS title,
       regexp_replace(message ->> 'text', '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', '<time>') AS text
  FROM ex7.alert_deliveries WHERE user_id = :'ua' AND event = 'runtime_error';
SELECT type, count(*) FROM ex7.notifications WHERE user_id = :'ua' GROUP BY type ORDER BY type;

-- ===================================================================================================
-- The worker: claim, send, record
-- ===================================================================================================
SELECT count(*) AS queued FROM ex7.alert_deliveries WHERE status = 'queued' AND user_id = :'ua';
SELECT ex7.outbox_claim('w1', 100, '{"base_url": "https://api.ex7.test/", "email_from": "ex7 <a@ex7.test>", "sms_from": "+15005550006"}') AS jobs \gset
SELECT j ->> 'provider' AS provider, (j -> 'attempt')::int AS attempt, d.event, d.channel_type
  FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 ORDER BY d.created_at, d.event, d.channel_type;
-- claimed rows are leased: a second worker finds nothing due
SELECT ex7.outbox_claim('w2', 100) AS second_worker;
SELECT count(*) FILTER (WHERE leased_by = 'w1' AND next_attempt_at > now() + interval '50 seconds') AS leased
  FROM ex7.alert_deliveries WHERE status = 'queued';
-- the email of the signal: Resend's body, the unsubscribe link and RFC 8058 headers
SELECT (j -> 'body') - ARRAY['html', 'tags', 'headers', 'text'] AS resend_body,
       j #>> '{body,headers,List-Unsubscribe-Post}' AS one_click,
       j #>> '{body,headers,List-Unsubscribe}' ~ '^<https://api\.ex7\.test/api/alerts/unsubscribe\?token=[A-Za-z0-9_-]{44}>$' AS list_unsubscribe,
       j #>> '{body,html}' LIKE '%orb &lt;nq&gt;%' AS html_escaped,
       j #>> '{body,tags,0,value}' = j ->> 'id' AS tag
  FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 WHERE d.event = 'signal' AND d.channel_type = 'email' AND d.message #>> '{data,signal,id}' = :'sig1';
SELECT j #>> '{body,Body}' ~ 'Reply STOP to unsubscribe\.$' AS sms_stop, (j -> 'body') - 'Body' AS twilio_fields
  FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 WHERE d.event = 'signal_closed' AND d.channel_type = 'sms';
SELECT j ->> 'url' AS url, j ->> 'secret' ~ '^whsec_' AS secret, j #>> '{body,type}' AS type, j #>> '{body,data,channel_id}' = :'ch_hook' AS data
  FROM jsonb_array_elements(:'jobs'::jsonb) j WHERE j ->> 'provider' = 'webhook';

-- record: success (provider id), retryable failure (backoff), permanent failure, a stale worker
SELECT (j ->> 'id') AS d_email FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 WHERE d.event = 'signal' AND d.channel_type = 'email' AND d.message #>> '{data,signal,id}' = :'sig1' \gset
SELECT (j ->> 'id') AS d_sms FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 WHERE d.event = 'signal_closed' AND d.channel_type = 'sms' \gset
SELECT (j ->> 'id') AS d_email2 FROM jsonb_array_elements(:'jobs'::jsonb) j JOIN ex7.alert_deliveries d ON d.id = (j ->> 'id')::uuid
 WHERE d.event = 'signal_closed' AND d.channel_type = 'email' \gset
SELECT ex7.outbox_record('w2', :'d_email', 200, '{"id": "re_1"}') - 'id' AS stale;
SELECT ex7.outbox_record('w1', :'d_email', 200, '{"id": "re_1"}') - 'id' AS sent;
SELECT ex7.outbox_record('w1', :'d_email', 200, '{"id": "re_1"}') - 'id' AS recorded_twice;
SELECT ex7.outbox_record('w1', :'d_sms', 503, 'busy', NULL, 1000) - ARRAY['id', 'next_attempt_at'] AS retry;
SELECT next_attempt_at - now() BETWEEN interval '0.1 s' AND interval '1 s' AS backoff_1s, last_error, leased_by
  FROM ex7.alert_deliveries WHERE id = :'d_sms';
SELECT ex7.outbox_record('w1', :'d_email2', 422, '{"message": "invalid to"}') - 'id' AS permanent;
SELECT ex7_test.err(format('SELECT ex7.outbox_record(%L, %L, 200, %L)', 'w1', '00000000-0000-4000-8000-7e00000000ff', '{}')) AS unknown;
SELECT ex7._outbox_retry_delay(n, 30000) AS schedule FROM generate_series(1, 9) AS n;
-- due again: the retry is claimed as attempt 2, then succeeds (Twilio's sid)
UPDATE ex7.alert_deliveries SET next_attempt_at = now() WHERE id = :'d_sms';
SELECT (ex7.outbox_claim('w1', 100) -> 0 ->> 'attempt') AS attempt;
SELECT ex7.outbox_record('w1', :'d_sms', 201, '{"sid": "SM123"}') - 'id' AS sms_sent;
-- a worker that died: after its lease the row is due again and another worker takes it
UPDATE ex7.alert_deliveries SET leased_by = 'dead', next_attempt_at = now() - interval '1 second'
 WHERE status = 'queued' AND channel_type = 'webhook';
SELECT j ->> 'provider' AS reclaimed, j -> 'attempt' AS attempt FROM jsonb_array_elements(ex7.outbox_claim('w3', 100)) j;
SELECT ex7.outbox_record('dead', id, 200, '') ->> 'stale' AS dead_worker_stale FROM ex7.alert_deliveries WHERE channel_type = 'webhook' AND status = 'queued';
SELECT ex7.outbox_record('w3', id, 204, '') ->> 'status' AS webhook FROM ex7.alert_deliveries WHERE channel_type = 'webhook' AND status = 'queued';
SELECT status, provider_message_id = 'msg_' || replace(id::text, '-', '') AS svix_id FROM ex7.alert_deliveries WHERE channel_type = 'webhook' ORDER BY status;

-- the quota (free: 20 alerts a UTC day) counts first attempts; over it a delivery is suppressed quota
SELECT ex7.set_risk_limits(:'ua', 'paper', '{"max_open_positions": 50}') IS NOT NULL AS limits;
SELECT day = (now() AT TIME ZONE 'UTC')::date AS utc_day, sent FROM ex7.alert_usage WHERE user_id = :'ua';
UPDATE ex7.alert_usage SET sent = 19 WHERE user_id = :'ua';
SELECT ex7.fire_signal(:'ua', :'sa1', 'paper', 'short', 1, 20000.00, '2026-11-20 14:45:00+00') #>> '{signal,id}' AS sig_q \gset
SELECT ex7.close_signal(:'ua', :'sig_q', 20000.00) ->> 'status' AS closed;
SELECT jsonb_array_length(ex7.outbox_claim('w1', 100)) AS claimed_under_quota;
SELECT event, channel_type, status, reason FROM ex7.alert_deliveries
 WHERE message #>> '{data,signal,id}' = :'sig_q' ORDER BY event, channel_type;
SELECT sent FROM ex7.alert_usage WHERE user_id = :'ua';
-- a higher tier has a higher cap
UPDATE ex7.users SET tier = 'operator' WHERE id = :'ua';
SELECT ex7.fire_signal(:'ua', :'sa2', 'paper', 'short', 1, 70.00, '2026-11-20 15:00:00+00') ->> 'decision' AS fired;
SELECT jsonb_array_length(ex7.outbox_claim('w1', 100)) AS claimed_operator;
SELECT sent FROM ex7.alert_usage WHERE user_id = :'ua';
UPDATE ex7.users SET tier = 'free' WHERE id = :'ua';
-- a new UTC day (the row of the day starts at 0)
UPDATE ex7.alert_usage SET day = day - 1 WHERE user_id = :'ua';

-- ===================================================================================================
-- Provider webhooks
-- ===================================================================================================
-- Resend: delivered, then a hard bounce disables the channel; nothing moves backwards; unknown ids are fine
SELECT ex7.alerts_resend_event('{"type": "email.delivered", "data": {"email_id": "re_1"}}') - 'delivery_id' AS delivered;
SELECT ex7.alerts_resend_event('{"type": "email.sent", "data": {"email_id": "re_1"}}') AS sent_ignored;
SELECT ex7.alerts_resend_event('{"type": "email.delivered", "data": {"email_id": "re_nope"}}') AS unknown;
SELECT ex7.alerts_resend_event('{"type": "email.bounced", "data": {"email_id": "re_1", "bounce": {"type": "Transient"}}}') - 'delivery_id' AS soft_bounce;
SELECT disabled_at IS NOT NULL AS disabled_by_soft FROM ex7.alert_channels WHERE id = :'ch_email';
SELECT ex7.alerts_resend_event('{"type": "email.complained", "data": {"email_id": "re_1"}}') - 'delivery_id' AS complained;
SELECT disabled_reason FROM ex7.alert_channels WHERE id = :'ch_email';
-- a disabled channel's new deliveries are suppressed unsubscribed
SELECT ex7.fire_signal(:'ua', :'sa2', 'paper', 'long', 1, 71.00, '2026-11-20 15:05:00+00') #>> '{signal,id}' AS sig_d \gset
SELECT channel_type, status, reason FROM ex7.alert_deliveries WHERE message #>> '{data,signal,id}' = :'sig_d';

-- Telegram: /start <token> verifies and makes the chat the destination; a replayed token is refused
SELECT ex7.alerts_telegram_update(format('{"update_id": 1, "message": {"chat": {"id": 4242}, "text": "/start %s"}}', :'tg_token')::jsonb) AS handshake;
SELECT destination, verified_at IS NOT NULL AS verified, verify_token FROM ex7.alert_channels WHERE id = :'ch_tg';
SELECT ex7.alerts_telegram_update(format('{"update_id": 2, "message": {"chat": {"id": 666}, "text": "/start %s"}}', :'tg_token')::jsonb) AS replayed;
SELECT ex7.alerts_telegram_update('{"update_id": 3, "message": {"chat": {"id": 4242}, "text": "hello bot"}}') AS other_text,
       ex7.alerts_telegram_update('{"update_id": 4, "edited_message": {"chat": {"id": 4242}, "text": "/start"}}') AS no_token,
       ex7.alerts_telegram_update('{"update_id": 5, "callback_query": {}}') AS not_a_message;
-- a telegram delivery records chat:message as the provider id
SELECT ex7.create_subscription(:'ua', format('{"channel_id": "%s", "events": ["signal"]}', :'ch_tg')::jsonb) ->> 'enabled' AS tg_sub;
SELECT ex7.fire_signal(:'ua', :'sa2', 'paper', 'long', 1, 72.00, '2026-11-20 15:10:00+00') ->> 'decision' AS fired;
SELECT j ->> 'provider' AS provider, j -> 'body' AS telegram_body_keys
  FROM jsonb_array_elements(ex7.outbox_claim('w1', 100)) j \gset
SELECT :'provider' AS provider, (:'telegram_body_keys'::jsonb) - 'text' AS telegram_body;
SELECT ex7.outbox_record('w1', id, 200, '{"ok": true, "result": {"message_id": 77, "chat": {"id": 4242}}}') - 'id' AS telegram_recorded
  FROM ex7.alert_deliveries WHERE channel_type = 'telegram' AND status = 'queued';

-- Twilio: the status callback, STOP, HELP, START
SELECT ex7.alerts_twilio_event('{"MessageSid": "SM123", "MessageStatus": "delivered"}') AS receipt;
SELECT status AS sms_status FROM ex7.alert_deliveries WHERE provider_message_id = 'SM123';
SELECT ex7.alerts_twilio_event('{"From": "+14155550100", "Body": " help "}') AS help;
SELECT ex7.alerts_twilio_event('{"From": "+14155550100", "Body": "Stop"}') AS stop;
SELECT disabled_reason AS reason FROM ex7.alert_channels WHERE id = :'ch_sms';
SELECT ex7.alerts_twilio_event('{"From": "+14155550100", "Body": "START"}') IS NOT NULL AS start;
SELECT disabled_at IS NULL AS enabled_again FROM ex7.alert_channels WHERE id = :'ch_sms';

-- ===================================================================================================
-- Unsubscribe tokens
-- ===================================================================================================
SELECT ex7._alert_token('subscription', :'sub_sms') AS tok_sub, ex7._alert_token('channel', :'ch_sms') AS tok_ch,
       ex7._alert_token('subscription', :'sub_hook') AS tok_hook \gset
SELECT length(:'tok_sub') AS len, (ex7._alert_token_parse(:'tok_sub')).kind, (ex7._alert_token_parse(:'tok_sub')).id = :'sub_sms' AS id;
-- forged: another id with an old mac, one character changed, the kind flipped, garbage
SELECT ex7_test.err(format('SELECT ex7.alerts_unsubscribe_page(%L)', t)) AS forged
  FROM unnest(ARRAY[
    left(:'tok_hook', 23) || substr(:'tok_sub', 24),
    left(:'tok_sub', 10) || translate(substr(:'tok_sub', 11, 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_A') || substr(:'tok_sub', 12),
    'Yw' || substr(:'tok_sub', 3),
    'not-a-token', '', NULL
  ]) AS t;
SELECT regexp_replace(ex7.alerts_unsubscribe_page(:'tok_sub'), 'token=[A-Za-z0-9_-]{44}"', 'token=<token>"') AS page;
SELECT ex7.alerts_unsubscribe(NULL, 'List-Unsubscribe=One-Click&token=' || :'tok_sub') AS confirmed;
SELECT enabled, unsubscribed_at IS NOT NULL AS unsubscribed FROM ex7.alert_subscriptions WHERE id = :'sub_sms';
SELECT ex7.alerts_unsubscribe_page(:'tok_sub') LIKE '%Already unsubscribed%' AS already;
-- the other subscription of the channel is untouched; the channel token stops the channel
SELECT enabled FROM ex7.alert_subscriptions WHERE id = :'sub_hook';
SELECT ex7.alerts_unsubscribe(:'tok_ch') LIKE '%every ex7 alert sent to the number ending in 0100%' AS channel_page;
SELECT disabled_reason AS reason FROM ex7.alert_channels WHERE id = :'ch_sms';
SELECT ex7.alerts_unsubscribe(NULL, format('{"token": "%s"}', :'tok_hook')) LIKE '%Unsubscribed%' AS json_body;
SELECT ex7_test.err($$SELECT ex7.alerts_unsubscribe(NULL, 'nothing=here')$$) AS no_token;
-- a user enabling the subscription again clears the mark
SELECT ex7.update_subscription(:'ua', :'sub_sms', '{"enabled": true}') -> 'unsubscribed_at' AS cleared;

-- ===================================================================================================
-- Deliveries: list (keyset, filters), get, ownership
-- ===================================================================================================
SELECT jsonb_array_length(ex7.list_deliveries(:'ua', p_limit => 200) -> 'items') = count(*) AS all_listed
  FROM ex7.alert_deliveries WHERE user_id = :'ua';
SELECT ex7.list_deliveries(:'ua', p_limit => 200) -> 'next_cursor' AS last_page;
-- page by 3: every row once, newest first
WITH RECURSIVE pages(n, page, cur) AS (
    SELECT 1, ex7.list_deliveries(:'ua', p_limit => 3), ex7.list_deliveries(:'ua', p_limit => 3) ->> 'next_cursor'
    UNION ALL
    SELECT n + 1, ex7.list_deliveries(:'ua', p_cursor => cur, p_limit => 3),
           ex7.list_deliveries(:'ua', p_cursor => cur, p_limit => 3) ->> 'next_cursor'
      FROM pages WHERE cur IS NOT NULL)
SELECT count(DISTINCT x ->> 'id') = (SELECT count(*) FROM ex7.alert_deliveries WHERE user_id = :'ua') AS paged_all,
       count(*) = count(DISTINCT x ->> 'id') AS no_repeats
  FROM pages, jsonb_array_elements(page -> 'items') x;
SELECT x ->> 'status' AS status, count(*) FROM jsonb_array_elements(ex7.list_deliveries(:'ua', p_status => 'suppressed', p_limit => 200) -> 'items') x GROUP BY 1;
SELECT jsonb_array_length(ex7.list_deliveries(:'ua', :'sa1', p_limit => 200) -> 'items')
       = (SELECT count(*) FROM ex7.alert_deliveries WHERE user_id = :'ua' AND strategy_id = :'sa1') AS by_strategy,
       jsonb_array_length(ex7.list_deliveries(:'ua', p_from => now() + interval '1 hour') -> 'items') AS future,
       jsonb_array_length(ex7.list_deliveries(:'ua', p_to => now() - interval '1 hour') -> 'items') AS past;
SELECT ex7_test.err(q) AS list_errors
  FROM unnest(ARRAY[
    format('SELECT ex7.list_deliveries(%L, p_status => %L)', :'ua', 'lost'),
    format('SELECT ex7.list_deliveries(%L, p_limit => 0)', :'ua'),
    format('SELECT ex7.list_deliveries(%L, p_cursor => %L)', :'ua', 'garbage'),
    format('SELECT ex7.list_deliveries(%L, p_cursor => %L)', :'ub', ex7.list_deliveries(:'ua', p_limit => 1) ->> 'next_cursor')
  ]) AS q;
SELECT ex7.get_delivery(:'ua', :'d_email') - ARRAY['id', 'subscription_id', 'channel_id', 'strategy_id', 'created_at', 'sent_at', 'updated_at'] AS delivery;
SELECT ex7_test.err(format('SELECT ex7.get_delivery(%L, %L)', :'ub', :'d_email')) AS bola_delivery;
-- verification messages are listed without their code
SELECT count(*) AS verification_items, bool_and(NOT x ? 'message' AND NOT x ? 'code' AND NOT x ? 'text') AS codes_hidden
  FROM jsonb_array_elements(ex7.list_deliveries(:'ua', p_limit => 200) -> 'items') x WHERE x ->> 'event' = 'verification';

-- ===================================================================================================
-- Deleting a channel removes its subscriptions, keeps the history
-- ===================================================================================================
SELECT ex7.delete_channel(:'ua', :'ch_hook');
SELECT count(*) AS hook_subs FROM ex7.alert_subscriptions WHERE id = :'sub_hook';
SELECT count(*) AS history, count(*) FILTER (WHERE c.id IS NULL) AS channel_gone
  FROM ex7.alert_deliveries d LEFT JOIN ex7.alert_channels c ON c.id = d.channel_id WHERE d.channel_type = 'webhook';
-- a queued delivery of a deleted channel is suppressed when claimed
INSERT INTO ex7.alert_deliveries (user_id, subscription_id, channel_id, channel_type, event, event_key, message)
VALUES (:'ua', :'sub_hook', :'ch_hook', 'webhook', 'signal', 'signal:orphan', '{"title": "t", "text": "x"}');
SELECT ex7.outbox_claim('w1', 100) AS nothing_to_send;
SELECT status, reason FROM ex7.alert_deliveries WHERE event_key = 'signal:orphan';
SELECT ex7_test.err(format('SELECT ex7.delete_channel(%L, %L)', :'ua', :'ch_hook')) AS deleted_again;
