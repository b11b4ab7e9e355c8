/* ext/sql/76_alerts.sql: alert channels, subscriptions and deliveries (ex7-api-reference.txt, section
 * Alerts; docs/alerts.md). The outbox: events write delivery rows in their own transaction
 * (ex7._alert_event), the worker of ex7d claims and records them (ex7.outbox_claim, ex7.outbox_record),
 * the providers' webhooks move them on (ex7.alerts_resend_event, ex7.alerts_telegram_update,
 * ex7.alerts_twilio_event). Tables: 75_alerts_schema.sql. */

/* ---------------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._alert_token(p_kind text, p_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'alert_token'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7._alert_token(text, uuid) IS
'Returns the unsubscribe token of one subscription (p_kind subscription) or channel (p_kind channel): base64url of the kind, the id and an HMAC-SHA256 with ex7.secrets[alerts] (ext/alerts.c).';

CREATE OR REPLACE FUNCTION ex7._alert_token_parse(p_token text, OUT kind text, OUT id uuid)
RETURNS record
AS 'MODULE_PATHNAME', 'alert_token_parse'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7._alert_token_parse(text) IS
'Returns (kind, id) of a valid unsubscribe token; raises X7422 at ["query","token"] for a malformed, edited or forged one (constant-time MAC check).';

/* Alert channels and subscriptions answer 412 until the user accepted the current compliance
 * documents (docs/billing.md, "The gate"; ex7._require_compliance, 73_billing.sql). */
CREATE OR REPLACE FUNCTION ex7._alerts_require_compliance(p_user uuid)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT ex7._require_compliance(p_user);
$$;
COMMENT ON FUNCTION ex7._alerts_require_compliance(uuid) IS
'Returns nothing; raises X7412 (ex7._require_compliance) when the user has not accepted the current documents.';

CREATE OR REPLACE FUNCTION ex7._html(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
        p_text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;');
$$;
COMMENT ON FUNCTION ex7._html(text) IS 'Returns p_text escaped for HTML text and attribute values (& < > " '').';

CREATE OR REPLACE FUNCTION ex7._utc_text(p_ts timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.to_char(p_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"');
$$;
COMMENT ON FUNCTION ex7._utc_text(timestamptz) IS 'Returns the time as YYYY-MM-DD HH24:MI:SS UTC: how alert messages state times, whatever the session time zone.';

/* the kinds of event a subscription can ask for */
CREATE OR REPLACE FUNCTION ex7._alert_events()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY['signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert', 'risk_lock', 'trading_state'];
$$;
COMMENT ON FUNCTION ex7._alert_events() IS 'Returns the alert event types: signal, signal_closed, blocked, runtime_error, price_alert, risk_lock (a protection locked entries), trading_state (the kill switch changed).';

/* six decimal digits from pg_strong_random (through gen_random_uuid: its first 32 bits are random) */
CREATE OR REPLACE FUNCTION ex7._alert_code()
RETURNS text
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_catalog.lpad(((('x' || pg_catalog.left(pg_catalog.gen_random_uuid()::text, 8))::bit(32)::bigint
                             & 4294967295) % 1000000)::text, 6, '0');
$$;
COMMENT ON FUNCTION ex7._alert_code() IS 'Returns a random six-digit verification code.';

CREATE OR REPLACE FUNCTION ex7._alert_code_hash(p_channel uuid, p_code text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.sha256(pg_catalog.uuid_send(p_channel) || pg_catalog.convert_to(p_code, 'UTF8'));
$$;
COMMENT ON FUNCTION ex7._alert_code_hash(uuid, text) IS 'Returns sha256(channel id || code): what a channel stores instead of its verification code.';

/*
 * Verification windows (docs/alerts.md): a code lives 15 minutes and allows 5 tries; a telegram start
 * token lives 24 hours; resend waits 60 seconds between sends and allows 5 sends an hour.
 */
CREATE OR REPLACE FUNCTION ex7._alert_verify_rule(p_name text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE p_name WHEN 'code_seconds' THEN 900 WHEN 'code_tries' THEN 5 WHEN 'token_seconds' THEN 86400
                       WHEN 'resend_gap_seconds' THEN 60 WHEN 'sends_per_hour' THEN 5 END;
$$;
COMMENT ON FUNCTION ex7._alert_verify_rule(text) IS
'Returns a verification rule: code_seconds 900, code_tries 5, token_seconds 86400, resend_gap_seconds 60, sends_per_hour 5.';

CREATE OR REPLACE FUNCTION ex7._channel_json(c ex7.alert_channels)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', c.id,
        'type', c.type,
        'destination', c.destination,
        'label', c.label,
        'verified', c.verified_at IS NOT NULL,
        'verified_at', c.verified_at,
        'status', CASE WHEN c.disabled_at IS NOT NULL THEN 'disabled'
                       WHEN c.verified_at IS NOT NULL THEN 'verified' ELSE 'pending' END,
        'disabled_reason', c.disabled_reason,
        'verification', CASE
            WHEN c.verified_at IS NOT NULL OR c.disabled_at IS NOT NULL THEN NULL
            WHEN c.type = 'telegram' THEN pg_catalog.jsonb_build_object(
                'method', 'telegram_start', 'start_token', c.verify_token,
                'start_command', '/start ' || c.verify_token, 'expires_at', c.verify_expires_at)
            ELSE pg_catalog.jsonb_build_object(
                'method', 'code', 'sent_at', c.verify_sent_at, 'expires_at', c.verify_expires_at,
                'attempts_left', GREATEST(ex7._alert_verify_rule('code_tries') - c.verify_attempts, 0)) END,
        'signing_secret', c.signing_secret,
        'created_at', c.created_at,
        'updated_at', c.updated_at);
$$;
COMMENT ON FUNCTION ex7._channel_json(ex7.alert_channels) IS
'Returns a channel {id, type, destination, label, verified, verified_at, status pending|verified|disabled, disabled_reason, verification (pending only: {method code, sent_at, expires_at, attempts_left} or {method telegram_start, start_token, start_command, expires_at}), signing_secret (webhook), created_at, updated_at}.';

CREATE OR REPLACE FUNCTION ex7._subscription_json(s ex7.alert_subscriptions, p_channel_type text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', s.id, 'channel_id', s.channel_id, 'channel_type', p_channel_type, 'strategy_id', s.strategy_id,
        'events', pg_catalog.to_jsonb(s.events), 'enabled', s.enabled, 'unsubscribed_at', s.unsubscribed_at,
        'created_at', s.created_at, 'updated_at', s.updated_at);
$$;
COMMENT ON FUNCTION ex7._subscription_json(ex7.alert_subscriptions, text) IS
'Returns a subscription {id, channel_id, channel_type, strategy_id (null: every strategy), events, enabled, unsubscribed_at, created_at, updated_at}.';

/*
 * A delivery as the user sees it. The message body is left out: a verification message holds the code
 * that proves the destination belongs to the user, and the user must not be able to read it here.
 */
CREATE OR REPLACE FUNCTION ex7._delivery_json(d ex7.alert_deliveries)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', d.id, 'subscription_id', d.subscription_id, 'channel_id', d.channel_id,
        'channel_type', d.channel_type, 'strategy_id', d.strategy_id, 'event', d.event,
        'title', d.message OPERATOR(pg_catalog.->>) 'title', 'status', d.status, 'reason', d.reason,
        'attempts', d.attempts,
        'next_attempt_at',
            CASE WHEN d.status OPERATOR(pg_catalog.=) 'queued' THEN d.next_attempt_at END,
        'provider_message_id', d.provider_message_id, 'last_error', d.last_error,
        'created_at', d.created_at, 'sent_at', d.sent_at, 'updated_at', d.updated_at);
$$;
COMMENT ON FUNCTION ex7._delivery_json(ex7.alert_deliveries) IS
'Returns a delivery {id, subscription_id, channel_id, channel_type, strategy_id, event, title, status, reason, attempts, next_attempt_at (queued only), provider_message_id, last_error, created_at, sent_at, updated_at}; never the message body.';

/*
 * _alert_destination: the destination of a new channel, checked for its type (422 at
 * ["body","destination"]). Webhook URLs must be https and name a public host: a user's URL is fetched
 * by our server, so loopback, private and link-local literals are refused (server-side request
 * forgery), unless the operator sets ex7.alerts_allow_private_webhooks = on (tests, on-premises).
 */
CREATE OR REPLACE FUNCTION ex7._alert_destination(p_type text, p_destination text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    d text := pg_catalog.btrim(p_destination);
    v_host text;
    v_private boolean := coalesce(pg_catalog.current_setting('ex7.alerts_allow_private_webhooks', true), '') = 'on';
BEGIN
    IF p_type = 'telegram' THEN
        -- the chat becomes the destination at /start; a @username or chat id may be noted beforehand
        IF d IS NULL OR d = '' THEN
            RETURN NULL;
        ELSIF d ~ '^@?[A-Za-z][A-Za-z0-9_]{4,31}$' OR d ~ '^-?[0-9]{1,20}$' THEN
            RETURN d;
        END IF;
        PERFORM ex7._invalid('["body","destination"]', 'telegram destination must be a @username or a chat id');
    END IF;
    IF d IS NULL OR d = '' THEN
        PERFORM ex7._invalid('["body","destination"]', 'destination is required', 'value_error.missing');
    END IF;
    IF p_type = 'email' THEN
        -- RFC 5321: 64-octet local part, 254-octet path; one @, a dotted domain
        IF pg_catalog.length(d) > 254 OR d !~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$' THEN
            PERFORM ex7._invalid('["body","destination"]', 'value is not a valid email address', 'value_error.email');
        END IF;
        RETURN pg_catalog.split_part(d, '@', 1) || '@' || pg_catalog.lower(pg_catalog.split_part(d, '@', 2));
    ELSIF p_type = 'sms' THEN
        -- E.164 (what Twilio's To takes): +, country code, at most 15 digits
        IF d !~ '^\+[1-9][0-9]{6,14}$' THEN
            PERFORM ex7._invalid('["body","destination"]', 'phone number must be in E.164 form, like +14155550100',
                                 'value_error.phone');
        END IF;
        RETURN d;
    ELSIF p_type = 'webhook' THEN
        IF pg_catalog.length(d) > 2048 OR d !~ '^https?://[^\s/?#@]+(/[^\s]*)?$'
           OR (d ~ '^http://' AND NOT v_private) THEN
            PERFORM ex7._invalid('["body","destination"]', 'webhook URL must be an https:// URL', 'value_error.url');
        END IF;
        v_host := pg_catalog.lower(pg_catalog.substring(d, '^https?://([^/?#]+)'));
        v_host := pg_catalog.regexp_replace(v_host, ':[0-9]+$', '');
        IF NOT v_private AND (v_host IN ('localhost', '[::1]', '[::]', '0.0.0.0') OR v_host ~ '\.localhost$'
            OR v_host ~ '^(127|10|0)\.' OR v_host ~ '^192\.168\.' OR v_host ~ '^169\.254\.'
            OR v_host ~ '^172\.(1[6-9]|2[0-9]|3[01])\.' OR v_host ~ '^\[(fc|fd|fe8|fe9|fea|feb)') THEN
            PERFORM ex7._invalid('["body","destination"]', 'webhook URL must name a public host', 'value_error.url');
        END IF;
        RETURN d;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._alert_destination(text, text) IS
'Returns the normalized destination of a channel of type p_type (email with a lower-case domain, E.164 phone, https URL of a public host, telegram @username or chat id or null); raises X7422 at ["body","destination"] otherwise.';

/* ---------------------------------------------------------------------------------------------------
 * Channels
 * ------------------------------------------------------------------------------------------------- */

/*
 * _channel_send_verification: starts (or restarts) the verification of a channel and returns the row.
 * email, sms: a new code goes out through the outbox. webhook: the code goes out in a signed challenge
 * (the receiver checks the Svix signature and shows the code to its owner). telegram: a new start token;
 * nothing can be sent before the user has written to the bot.
 * The random token and secret and the time come into the UPDATEs as values: Citus refuses a VOLATILE
 * function in an UPDATE of a distributed table, and a STABLE one (now()) inside CASE
 * (docs/citus-statements.md).
 */
CREATE OR REPLACE FUNCTION ex7._channel_send_verification(p_user uuid, p_id uuid)
RETURNS ex7.alert_channels
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c ex7.alert_channels;
    v_code text;
    v_new_window boolean;
    v_now timestamptz := pg_catalog.now();
    v_token text;
    v_secret text;
BEGIN
    SELECT * INTO c FROM ex7.alert_channels WHERE user_id = p_user AND id = p_id;
    v_new_window := c.verify_window_start IS NULL OR c.verify_window_start <= v_now - interval '1 hour';
    IF c.type = 'telegram' THEN
        v_token := pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '');
        UPDATE ex7.alert_channels
           SET verify_token = v_token,
               verify_expires_at = v_now + ex7._alert_verify_rule('token_seconds') * interval '1 second',
               verify_sent_at = v_now,
               verify_window_start = CASE WHEN v_new_window THEN v_now ELSE verify_window_start END,
               verify_window_sends = CASE WHEN v_new_window THEN 1 ELSE verify_window_sends + 1 END,
               updated_at = v_now
         WHERE user_id = p_user AND id = p_id
        RETURNING * INTO c;
        RETURN c;
    END IF;
    v_code := ex7._alert_code();
    IF c.type = 'webhook' AND c.signing_secret IS NULL THEN
        v_secret := 'whsec_' || pg_catalog.encode(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                                                  || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()), 'base64');
    END IF;
    UPDATE ex7.alert_channels
       SET verify_hash = ex7._alert_code_hash(id, v_code),
           verify_expires_at = v_now + ex7._alert_verify_rule('code_seconds') * interval '1 second',
           verify_attempts = 0,
           verify_sent_at = v_now,
           verify_window_start = CASE WHEN v_new_window THEN v_now ELSE verify_window_start END,
           verify_window_sends = CASE WHEN v_new_window THEN 1 ELSE verify_window_sends + 1 END,
           signing_secret = coalesce(signing_secret, v_secret),
           updated_at = v_now
     WHERE user_id = p_user AND id = p_id
    RETURNING * INTO c;
    INSERT INTO ex7.alert_deliveries (user_id, channel_id, channel_type, event, event_key, message)
    VALUES (c.user_id, c.id, c.type, 'verification',
            'verify:' || pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS'),
            pg_catalog.jsonb_build_object(
                'title', 'Your ex7 verification code',
                'text', pg_catalog.format('Your ex7 verification code is %s. It expires in %s minutes. '
                                          'If you did not add this %s to ex7, ignore this message.',
                                          v_code, ex7._alert_verify_rule('code_seconds') / 60,
                                          CASE c.type WHEN 'email' THEN 'address' WHEN 'sms' THEN 'number'
                                                      ELSE 'endpoint' END),
                'code', v_code,
                'data', pg_catalog.jsonb_build_object('channel_id', c.id, 'code', v_code)));
    PERFORM pg_catalog.pg_notify('ex7_outbox', '');
    RETURN c;
END
$$;
COMMENT ON FUNCTION ex7._channel_send_verification(uuid, uuid) IS
'Returns user p_user''s channel p_id after starting its verification: a new code (hashed on the row) queued as a verification delivery for email, sms and webhook, a new start token for telegram; counts the send in the hourly window.';

/*
 * The list functions are PL/pgSQL and hand the item builders rows of a subquery: Citus plans no query of a
 * SQL function whose parameters it must know to route it, and on a shard a whole-row reference to the
 * table has the shard's row type, which ex7._channel_json does not take (docs/citus-statements.md).
 */
CREATE OR REPLACE FUNCTION ex7.list_channels(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(ex7._channel_json(c) ORDER BY c.created_at, c.id), '[]')
              FROM (SELECT * FROM ex7.alert_channels x WHERE x.user_id = p_user) c);
END
$$;
COMMENT ON FUNCTION ex7.list_channels(uuid) IS 'Returns the user''s alert channels, oldest first (List Channels).';

CREATE OR REPLACE FUNCTION ex7.create_channel(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_type text;
    v_dest text;
    v_label text;
    c ex7.alert_channels;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    PERFORM ex7._alerts_require_compliance(p_user);
    IF pg_catalog.jsonb_typeof(p_body -> 'type') IS DISTINCT FROM 'string'
       OR p_body ->> 'type' NOT IN ('email', 'telegram', 'sms', 'webhook') THEN
        PERFORM ex7._invalid('["body","type"]', 'type must be one of email, telegram, sms, webhook',
                             'value_error.const');
    END IF;
    v_type := p_body ->> 'type';
    IF p_body ? 'destination' AND pg_catalog.jsonb_typeof(p_body -> 'destination') NOT IN ('string', 'null') THEN
        PERFORM ex7._invalid('["body","destination"]', 'value is not a valid string', 'type_error.str');
    END IF;
    v_dest := ex7._alert_destination(v_type, p_body ->> 'destination');
    IF p_body ? 'label' AND pg_catalog.jsonb_typeof(p_body -> 'label') NOT IN ('string', 'null') THEN
        PERFORM ex7._invalid('["body","label"]', 'value is not a valid string', 'type_error.str');
    END IF;
    v_label := coalesce(p_body ->> 'label', '');
    IF pg_catalog.length(v_label) > 120 THEN
        PERFORM ex7._invalid('["body","label"]', 'label must be at most 120 characters',
                             'value_error.any_str.max_length');
    END IF;
    -- 20 channels a user: every channel can send verification messages to an address of the user's choosing
    IF (SELECT pg_catalog.count(*) FROM ex7.alert_channels x WHERE x.user_id = p_user) >= 20 THEN
        PERFORM ex7._raise(409, 'at most 20 alert channels per user',
                           '{"code": "channel_limit", "limit": 20}');
    END IF;
    IF v_dest IS NOT NULL AND EXISTS (SELECT 1 FROM ex7.alert_channels x
                                       WHERE x.user_id = p_user AND x.type = v_type AND x.destination = v_dest) THEN
        PERFORM ex7._raise(409, 'a channel with this destination exists',
            pg_catalog.jsonb_build_object('code', 'channel_exists',
                'channel_id', (SELECT x.id FROM ex7.alert_channels x
                                WHERE x.user_id = p_user AND x.type = v_type AND x.destination = v_dest LIMIT 1)));
    END IF;
    INSERT INTO ex7.alert_channels (user_id, type, destination, label)
    VALUES (p_user, v_type, v_dest, v_label)
    RETURNING * INTO c;
    c := ex7._channel_send_verification(p_user, c.id);
    RETURN ex7._channel_json(c);
END
$$;
COMMENT ON FUNCTION ex7.create_channel(uuid, jsonb) IS
'Returns the new channel (Create Channel, 201) after starting its verification. Body {type email|telegram|sms|webhook, destination, label}. X7422 for a bad type, destination or label; X7409 channel_exists (same type and destination) or channel_limit (20); X7412 before the documents are accepted.';

CREATE OR REPLACE FUNCTION ex7._own_channel(p_user uuid, p_channel_id uuid)
RETURNS ex7.alert_channels
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c ex7.alert_channels;
BEGIN
    SELECT * INTO c FROM ex7.alert_channels x WHERE x.id = p_channel_id AND x.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'channel not found');
    END IF;
    RETURN c;
END
$$;
COMMENT ON FUNCTION ex7._own_channel(uuid, uuid) IS 'Returns the user''s channel, locked; X7404 when it does not exist or belongs to another user.';

CREATE OR REPLACE FUNCTION ex7.delete_channel(p_user uuid, p_channel_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM ex7._own_channel(p_user, p_channel_id);
    -- its subscriptions go with it (ON DELETE CASCADE); past deliveries stay (they keep the ids; a queued one
    -- is suppressed when claimed)
    DELETE FROM ex7.alert_channels WHERE user_id = p_user AND id = p_channel_id;
END
$$;
COMMENT ON FUNCTION ex7.delete_channel(uuid, uuid) IS
'Returns nothing (Delete Channel, 204): removes the channel and its subscriptions; its deliveries stay in the history (queued ones are suppressed unsubscribed when claimed). X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.resend_channel_verification(p_user uuid, p_channel_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c ex7.alert_channels := ex7._own_channel(p_user, p_channel_id);
    v_wait integer;
BEGIN
    IF c.verified_at IS NOT NULL THEN
        PERFORM ex7._raise(409, 'channel is already verified', '{"code": "already_verified"}');
    END IF;
    IF c.disabled_at IS NOT NULL THEN
        PERFORM ex7._raise(409, 'channel is disabled',
                           pg_catalog.jsonb_build_object('code', 'channel_disabled', 'reason', c.disabled_reason));
    END IF;
    v_wait := pg_catalog.ceil(pg_catalog.date_part('epoch', c.verify_sent_at
                  + ex7._alert_verify_rule('resend_gap_seconds') * interval '1 second' - pg_catalog.now()))::integer;
    IF v_wait > 0 THEN
        PERFORM ex7._raise(429, 'verification was sent less than a minute ago',
                           pg_catalog.jsonb_build_object('code', 'resend_too_soon', 'retry_after', v_wait));
    END IF;
    IF c.verify_window_start > pg_catalog.now() - interval '1 hour'
       AND c.verify_window_sends >= ex7._alert_verify_rule('sends_per_hour') THEN
        PERFORM ex7._raise(429, 'too many verification messages this hour',
            pg_catalog.jsonb_build_object('code', 'resend_limit', 'retry_after',
                pg_catalog.ceil(pg_catalog.date_part('epoch', c.verify_window_start + interval '1 hour'
                                                     - pg_catalog.now()))::integer));
    END IF;
    RETURN ex7._channel_json(ex7._channel_send_verification(p_user, c.id));
END
$$;
COMMENT ON FUNCTION ex7.resend_channel_verification(uuid, uuid) IS
'Returns the channel after sending a new verification (Resend Verification): a new code (the old one stops working) or a new telegram start token. X7429 {code resend_too_soon|resend_limit, retry_after} within 60 s of the last send or after 5 sends in an hour; X7409 already_verified or channel_disabled; X7404 when not the user''s.';

/*
 * verify_channel: a wrong code must count as a try even though the request fails, so it cannot raise
 * (that would roll the count back): it returns {"_status": 422, "detail": [...]} instead, which ex7d
 * turns into the 422 (http/alerts.c). Every other refusal raises as usual.
 */
CREATE OR REPLACE FUNCTION ex7.verify_channel(p_user uuid, p_channel_id uuid, p_code text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c ex7.alert_channels := ex7._own_channel(p_user, p_channel_id);
    v_left integer;
BEGIN
    IF c.verified_at IS NOT NULL THEN
        RETURN ex7._channel_json(c);
    END IF;
    IF c.disabled_at IS NOT NULL THEN
        PERFORM ex7._raise(409, 'channel is disabled',
                           pg_catalog.jsonb_build_object('code', 'channel_disabled', 'reason', c.disabled_reason));
    END IF;
    IF c.type = 'telegram' THEN
        PERFORM ex7._invalid('["body","code"]', 'a telegram channel is verified by sending /start <token> to the bot',
                             'value_error.telegram');
    END IF;
    IF p_code IS NULL OR pg_catalog.btrim(p_code) !~ '^[0-9]{6}$' THEN
        PERFORM ex7._invalid('["body","code"]', 'code must be the 6 digits that were sent', 'value_error');
    END IF;
    IF c.verify_hash IS NULL OR c.verify_expires_at <= pg_catalog.now() THEN
        PERFORM ex7._invalid('["body","code"]', 'verification code expired: request a new one', 'value_error.expired');
    END IF;
    IF c.verify_attempts >= ex7._alert_verify_rule('code_tries') THEN
        PERFORM ex7._raise(429, 'too many wrong codes: request a new one',
                           '{"code": "too_many_attempts", "retry_after": 0}');
    END IF;
    IF ex7._alert_code_hash(c.id, pg_catalog.btrim(p_code)) <> c.verify_hash THEN
        UPDATE ex7.alert_channels SET verify_attempts = verify_attempts + 1, updated_at = pg_catalog.now()
         WHERE user_id = c.user_id AND id = c.id
        RETURNING ex7._alert_verify_rule('code_tries') - verify_attempts INTO v_left;
        RETURN pg_catalog.jsonb_build_object('_status', 422, 'detail', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('loc', '["body","code"]'::jsonb, 'msg', 'incorrect verification code',
                                          'type', 'value_error', 'attempts_left', v_left)));
    END IF;
    UPDATE ex7.alert_channels
       SET verified_at = pg_catalog.now(), verify_hash = NULL, verify_expires_at = NULL, verify_attempts = 0,
           updated_at = pg_catalog.now()
     WHERE user_id = c.user_id AND id = c.id
    RETURNING * INTO c;
    RETURN ex7._channel_json(c);
END
$$;
COMMENT ON FUNCTION ex7.verify_channel(uuid, uuid, text) IS
'Returns the verified channel (Verify Channel), or {_status: 422, detail: [{loc [body, code], msg, type, attempts_left}]} for a wrong code (the try is counted and committed). X7422 for a missing or expired code or a telegram channel, X7429 after 5 wrong codes, X7409 channel_disabled, X7404 when not the user''s. An already verified channel is returned as is.';

/* ---------------------------------------------------------------------------------------------------
 * Subscriptions
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._subscription_events(p_value jsonb)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v text[];
BEGIN
    IF pg_catalog.jsonb_typeof(p_value) IS DISTINCT FROM 'array' OR pg_catalog.jsonb_array_length(p_value) = 0
       OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(p_value) e
                   WHERE pg_catalog.jsonb_typeof(e) <> 'string' OR NOT (e #>> '{}') = ANY (ex7._alert_events())) THEN
        PERFORM ex7._invalid('["body","events"]',
                             'events must be a non-empty list of ' || pg_catalog.array_to_string(ex7._alert_events(), ', '),
                             'value_error.list');
    END IF;
    -- in the canonical order, each once
    SELECT pg_catalog.array_agg(k ORDER BY o) INTO v
      FROM pg_catalog.unnest(ex7._alert_events()) WITH ORDINALITY AS t(k, o)
     WHERE p_value ? k;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._subscription_events(jsonb) IS
'Returns the event list of a subscription body, deduplicated in canonical order; X7422 at ["body","events"] unless it is a non-empty list of known event types.';

CREATE OR REPLACE FUNCTION ex7.list_subscriptions(p_user uuid, p_strategy_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- PL/pgSQL, the rows from a subquery: see ex7.list_channels
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(ex7._subscription_json(s, c.type) ORDER BY s.created_at, s.id), '[]')
              FROM (SELECT * FROM ex7.alert_subscriptions x
                     WHERE x.user_id = p_user AND (p_strategy_id IS NULL OR x.strategy_id = p_strategy_id)) s
              JOIN ex7.alert_channels c ON c.user_id = s.user_id AND c.id = s.channel_id);
END
$$;
COMMENT ON FUNCTION ex7.list_subscriptions(uuid, uuid) IS
'Returns the user''s subscriptions, oldest first, optionally those of one strategy (List Subscriptions).';

CREATE OR REPLACE FUNCTION ex7.create_subscription(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_channel uuid;
    v_strategy uuid;
    v_events text[] := ex7._alert_events();
    v_enabled boolean := true;
    c ex7.alert_channels;
    s ex7.alert_subscriptions;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    PERFORM ex7._alerts_require_compliance(p_user);
    IF pg_catalog.jsonb_typeof(p_body -> 'channel_id') IS DISTINCT FROM 'string'
       OR p_body ->> 'channel_id' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM ex7._invalid('["body","channel_id"]', 'value is not a valid uuid', 'type_error.uuid');
    END IF;
    v_channel := (p_body ->> 'channel_id')::uuid;
    IF p_body ? 'strategy_id' AND pg_catalog.jsonb_typeof(p_body -> 'strategy_id') <> 'null' THEN
        IF pg_catalog.jsonb_typeof(p_body -> 'strategy_id') <> 'string'
           OR p_body ->> 'strategy_id' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            PERFORM ex7._invalid('["body","strategy_id"]', 'value is not a valid uuid', 'type_error.uuid');
        END IF;
        v_strategy := (p_body ->> 'strategy_id')::uuid;
    END IF;
    IF p_body ? 'events' THEN
        v_events := ex7._subscription_events(p_body -> 'events');
    END IF;
    IF p_body ? 'enabled' THEN
        IF pg_catalog.jsonb_typeof(p_body -> 'enabled') <> 'boolean' THEN
            PERFORM ex7._invalid('["body","enabled"]', 'value is not a valid boolean', 'type_error.bool');
        END IF;
        v_enabled := (p_body ->> 'enabled')::boolean;
    END IF;
    SELECT * INTO c FROM ex7.alert_channels x WHERE x.user_id = p_user AND x.id = v_channel;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'channel not found');
    END IF;
    IF v_strategy IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ex7.strategies st
                                               WHERE st.user_id = p_user AND st.id = v_strategy
                                                 AND st.deleted_at IS NULL) THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    -- no conflict target: the one unique key besides the id is (channel, strategy), with or without the
    -- user in front of it (the key of 0.2.0 and the distributable one of 0.3.0)
    INSERT INTO ex7.alert_subscriptions (user_id, channel_id, strategy_id, events, enabled)
    VALUES (p_user, v_channel, v_strategy, v_events, v_enabled)
    ON CONFLICT DO NOTHING
    RETURNING * INTO s;
    IF s.id IS NULL THEN
        PERFORM ex7._raise(409, 'this channel already has a subscription for this strategy',
            pg_catalog.jsonb_build_object('code', 'subscription_exists', 'subscription_id',
                (SELECT x.id FROM ex7.alert_subscriptions x
                  WHERE x.user_id = p_user AND x.channel_id = v_channel
                    AND x.strategy_id IS NOT DISTINCT FROM v_strategy)));
    END IF;
    RETURN ex7._subscription_json(s, c.type);
END
$$;
COMMENT ON FUNCTION ex7.create_subscription(uuid, jsonb) IS
'Returns the new subscription (Create Subscription, 201). Body {channel_id, strategy_id (null or absent: every strategy), events (default all), enabled (default true)}. X7404 when the channel or strategy is not the user''s, X7409 subscription_exists for the same (channel, strategy), X7422 for bad fields, X7412 before the documents are accepted.';

CREATE OR REPLACE FUNCTION ex7.update_subscription(p_user uuid, p_sub_id uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.alert_subscriptions;
    v_events text[];
    v_enabled boolean;
BEGIN
    SELECT * INTO s FROM ex7.alert_subscriptions x WHERE x.id = p_sub_id AND x.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'subscription not found');
    END IF;
    IF p_body ? 'events' THEN
        v_events := ex7._subscription_events(p_body -> 'events');
    END IF;
    IF p_body ? 'enabled' THEN
        IF pg_catalog.jsonb_typeof(p_body -> 'enabled') <> 'boolean' THEN
            PERFORM ex7._invalid('["body","enabled"]', 'value is not a valid boolean', 'type_error.bool');
        END IF;
        v_enabled := (p_body ->> 'enabled')::boolean;
    END IF;
    UPDATE ex7.alert_subscriptions
       SET events = coalesce(v_events, events),
           enabled = coalesce(v_enabled, enabled),
           -- enabling again is the user's answer to an unsubscribe link
           unsubscribed_at = CASE WHEN v_enabled THEN NULL ELSE unsubscribed_at END,
           updated_at = pg_catalog.now()
     WHERE user_id = s.user_id AND id = s.id
    RETURNING * INTO s;
    RETURN ex7._subscription_json(s, (SELECT c.type FROM ex7.alert_channels c
                                       WHERE c.user_id = s.user_id AND c.id = s.channel_id));
END
$$;
COMMENT ON FUNCTION ex7.update_subscription(uuid, uuid, jsonb) IS
'Returns the subscription after applying the given fields (Patch Subscription): events, enabled (true also clears unsubscribed_at). X7404 when not the user''s, X7422 for bad fields.';

CREATE OR REPLACE FUNCTION ex7.delete_subscription(p_user uuid, p_sub_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM ex7.alert_subscriptions x WHERE x.id = p_sub_id AND x.user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'subscription not found');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7.delete_subscription(uuid, uuid) IS 'Returns nothing (Delete Subscription, 204); X7404 when not the user''s.';

/* ---------------------------------------------------------------------------------------------------
 * Deliveries
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.list_deliveries(p_user uuid, p_strategy_id uuid DEFAULT NULL, p_status text DEFAULT NULL,
                                    p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
                                    p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_rows ex7.alert_deliveries[];
    v_n integer;
BEGIN
    PERFORM ex7._check_limit(p_limit);
    IF p_status IS NOT NULL AND p_status NOT IN ('queued', 'sent', 'delivered', 'bounced', 'complained', 'failed',
                                                 'suppressed') THEN
        PERFORM ex7._invalid('["query","status"]',
                             'status must be one of queued, sent, delivered, bounced, complained, failed, suppressed',
                             'value_error.const');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT d.ts, d.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('alert_deliveries', p_user, p_cursor) d;
    END IF;
    -- the same keyset scheme as list_signals (docs/signals.md): N+1 rows, one row comparison
    SELECT pg_catalog.array_agg(x.d ORDER BY (x.d).created_at DESC, (x.d).id DESC) INTO v_rows
      FROM (SELECT d FROM ex7.alert_deliveries d
             WHERE d.user_id = p_user AND (d.created_at, d.id) < (v_ts, v_id)
               AND (p_strategy_id IS NULL OR d.strategy_id = p_strategy_id)
               AND (p_status IS NULL OR d.status = p_status)
               AND (p_from IS NULL OR d.created_at >= p_from)
               AND (p_to IS NULL OR d.created_at < p_to)
             ORDER BY d.created_at DESC, d.id DESC
             LIMIT p_limit + 1) x;
    v_n := coalesce(pg_catalog.array_length(v_rows, 1), 0);
    RETURN pg_catalog.jsonb_build_object(
        'items', coalesce((SELECT pg_catalog.jsonb_agg(ex7._delivery_json(v_rows[i]) ORDER BY i)
                             FROM pg_catalog.generate_series(1, LEAST(v_n, p_limit)) AS i), '[]'),
        'next_cursor', CASE WHEN v_n > p_limit
                            THEN ex7.cursor_encode('alert_deliveries', p_user, (v_rows[p_limit]).created_at,
                                                   (v_rows[p_limit]).id::text) END);
END
$$;
COMMENT ON FUNCTION ex7.list_deliveries(uuid, uuid, text, timestamptz, timestamptz, text, integer) IS
'Returns {items, next_cursor}: the user''s deliveries newest first by (created_at, id), filtered by strategy, status, from (inclusive) and to (exclusive); keyset cursor kind alert_deliveries; limit 1..200. X7422 for a bad status, cursor or limit.';

CREATE OR REPLACE FUNCTION ex7.get_delivery(p_user uuid, p_delivery_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    d ex7.alert_deliveries;
BEGIN
    SELECT * INTO d FROM ex7.alert_deliveries x WHERE x.id = p_delivery_id AND x.user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'delivery not found');
    END IF;
    RETURN ex7._delivery_json(d);
END
$$;
COMMENT ON FUNCTION ex7.get_delivery(uuid, uuid) IS 'Returns one of the user''s deliveries (Get Delivery); X7404 otherwise.';

/* ---------------------------------------------------------------------------------------------------
 * Events into the outbox: the transaction that fires or closes a signal writes the delivery rows
 * (docs/alerts.md, "The outbox"). Every delivery-worthy event also becomes an in-app notification
 * (77_notifications.sql).
 * ------------------------------------------------------------------------------------------------- */

/*
 * _alert_event: the one writer. A notification (unless the user turned the type off), then one delivery
 * per enabled subscription of the user that asks for this kind of event of this strategy (or of every
 * strategy). A delivery to a channel that is not verified or was disabled is written as suppressed
 * (the user can see why nothing arrived); the quota is applied when the worker claims the row (it
 * counts what is handed to a provider). Costs on the signal path without subscriptions: the
 * notification insert and one index probe of alert_subscriptions_user_idx (docs/performance.md).
 */
CREATE OR REPLACE FUNCTION ex7._alert_event(p_user uuid, p_kind text, p_strategy_id uuid, p_key text, p_message jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_queued integer := 0;
    v_status text;
BEGIN
    PERFORM ex7._notify(p_user, p_kind, p_message ->> 'title', p_message ->> 'text', p_message ->> 'action_url',
                        coalesce(p_message -> 'data', '{}'));
    IF NOT EXISTS (SELECT 1 FROM ex7.alert_subscriptions s WHERE s.user_id = p_user AND s.enabled) THEN
        RETURN 0;
    END IF;
    -- one INSERT ... SELECT within the user's rows (the user_id of the subscription, channels joined on the
    -- user too), without a CTE around it: Citus runs that on the user's shard alone
    -- (docs/citus-statements.md). No
    -- conflict target: (subscription, event) is the one unique key besides the id, with or without the user.
    FOR v_status IN
        INSERT INTO ex7.alert_deliveries (user_id, subscription_id, channel_id, channel_type, strategy_id, event,
                                          event_key, message, status, reason)
        SELECT s.user_id, s.id, c.id, c.type, p_strategy_id, p_kind, p_key, p_message,
               CASE WHEN c.disabled_at IS NOT NULL OR c.verified_at IS NULL THEN 'suppressed' ELSE 'queued' END,
               CASE WHEN c.disabled_at IS NOT NULL THEN 'unsubscribed'
                    WHEN c.verified_at IS NULL THEN 'unverified' END
          FROM ex7.alert_subscriptions s
          JOIN ex7.alert_channels c ON c.user_id = s.user_id AND c.id = s.channel_id
         WHERE s.user_id = p_user AND s.enabled AND p_kind = ANY (s.events)
           AND (s.strategy_id IS NULL OR s.strategy_id = p_strategy_id)
        ON CONFLICT DO NOTHING
        RETURNING status
    LOOP
        IF v_status = 'queued' THEN
            v_queued := v_queued + 1;
        END IF;
    END LOOP;
    IF v_queued > 0 THEN
        -- wakes the workers on commit (facts.md: identical payloads of one transaction merge into one)
        PERFORM pg_catalog.pg_notify('ex7_outbox', '');
    END IF;
    RETURN v_queued;
END
$$;
COMMENT ON FUNCTION ex7._alert_event(uuid, text, uuid, text, jsonb) IS
'Returns how many deliveries were queued for an event: writes the in-app notification and one delivery per matching enabled subscription (suppressed unverified / unsubscribed when the channel cannot deliver), then notifies ex7_outbox on commit. p_message is {title, text, action_url, data}.';

CREATE OR REPLACE FUNCTION ex7._alert_strategy_name(p_user uuid, p_strategy_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    -- PL/pgSQL: Citus routes a query by its parameters only in a PL/pgSQL function
    -- (docs/citus-statements.md)
    RETURN coalesce((SELECT st.name FROM ex7.strategies st WHERE st.user_id = p_user AND st.id = p_strategy_id),
                    'a deleted strategy');
END
$$;
COMMENT ON FUNCTION ex7._alert_strategy_name(uuid, uuid) IS 'Returns the name of the user''s strategy for alert messages.';

/*
 * The message of a signal event: instrument, side, size, price, strategy, time, and the P&L on close
 * (docs/alerts.md, "The outbox"). p_signal is the signal JSON of the event (ex7._signal_json).
 */
CREATE OR REPLACE FUNCTION ex7._alert_signal_message(p_kind text, p_signal jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_name text := ex7._alert_strategy_name((p_signal ->> 'user_id')::uuid, (p_signal ->> 'strategy_id')::uuid);
    v_head text := pg_catalog.format('%s %s %s', p_signal ->> 'instrument', pg_catalog.upper(p_signal ->> 'side'),
                                     p_signal ->> 'size');
    v_title text;
    v_text text;
BEGIN
    IF p_kind = 'signal' THEN
        v_title := pg_catalog.format('%s @ %s', v_head, p_signal ->> 'entry_price');
        v_text := pg_catalog.format('%s: %s %s %s at %s (%s) on %s.%s%s', v_name, p_signal ->> 'side',
                      p_signal ->> 'size', p_signal ->> 'instrument', p_signal ->> 'entry_price', p_signal ->> 'mode',
                      ex7._utc_text((p_signal ->> 'fired_at')::timestamptz),
                      ' Stop ' || (p_signal ->> 'stop_price') || '.', ' Target ' || (p_signal ->> 'target_price') || '.');
    ELSE
        v_title := pg_catalog.format('%s closed @ %s, P&L %s', v_head, p_signal ->> 'close_price',
                                     p_signal ->> 'net_pnl');
        v_text := pg_catalog.format('%s: closed %s %s %s at %s (%s, %s) on %s. Entry %s, net P&L %s.', v_name,
                      p_signal ->> 'side', p_signal ->> 'size', p_signal ->> 'instrument', p_signal ->> 'close_price',
                      p_signal ->> 'close_reason', p_signal ->> 'mode',
                      ex7._utc_text((p_signal ->> 'closed_at')::timestamptz), p_signal ->> 'entry_price',
                      p_signal ->> 'net_pnl');
    END IF;
    RETURN pg_catalog.jsonb_build_object('title', v_title, 'text', v_text,
        'action_url', '/signals/' || (p_signal ->> 'id'),
        'data', pg_catalog.jsonb_build_object('strategy_name', v_name, 'signal', p_signal));
END
$$;
COMMENT ON FUNCTION ex7._alert_signal_message(text, jsonb) IS
'Returns the alert message {title, text, action_url, data {strategy_name, signal}} of a signal or signal_closed event: instrument, side, size, price, strategy, time (UTC), and the net P&L on close.';

/* the hook of ex7._emit_event (55_events.sql) */
CREATE OR REPLACE FUNCTION ex7._alert_signal_event(p_user uuid, p_kind text, p_seq bigint, p_strategy_id uuid,
                                        p_signal jsonb)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT ex7._alert_event(p_user, p_kind, p_strategy_id, 'signal:' || p_seq,
                            ex7._alert_signal_message(p_kind, p_signal));
$$;
COMMENT ON FUNCTION ex7._alert_signal_event(uuid, text, bigint, uuid, jsonb) IS
'Returns nothing: the alert event (notification and outbox rows) of signal event p_seq of the user, called by ex7._emit_event in the firing or closing transaction.';

CREATE OR REPLACE FUNCTION ex7._alert_blocked(b ex7.signals_blocked)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text := ex7._alert_strategy_name(b.user_id, b.strategy_id);
BEGIN
    PERFORM ex7._alert_event(b.user_id, 'blocked', b.strategy_id, 'blocked:' || b.id,
        pg_catalog.jsonb_build_object(
            'title', pg_catalog.format('Blocked: %s %s (%s)', b.instrument, pg_catalog.upper(coalesce(b.side, '')),
                                       b.triggered_limit),
            'text', pg_catalog.format('%s: the risk gate blocked a %s signal on %s (%s) at %s: %s (observed %s, limit %s).',
                                      v_name, coalesce(b.side, ''), b.instrument, b.mode, ex7._utc_text(b.blocked_at),
                                      b.reason, coalesce(b.observed, '-'), coalesce(b."limit", '-')),
            'action_url', '/risk',
            'data', pg_catalog.jsonb_build_object('strategy_name', v_name, 'blocked', ex7._blocked_json(b))));
END
$$;
COMMENT ON FUNCTION ex7._alert_blocked(ex7.signals_blocked) IS
'Returns nothing: the alert event of a refusal of the risk gate (trigger signals_blocked_alert).';

/* the user's trading state changed (docs/trading-state.md) */
CREATE OR REPLACE FUNCTION ex7._alert_trading_state(p_user uuid, p_state jsonb, p_seq bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM ex7._alert_event(p_user, 'trading_state', NULL, 'trading_state:' || p_seq,
        pg_catalog.jsonb_build_object(
            'title', pg_catalog.format('Trading %s (%s)', p_state ->> 'state', p_state ->> 'mode'),
            'text', pg_catalog.format('Your %s trading is now %s%s.', p_state ->> 'mode', p_state ->> 'state',
                                      coalesce(': ' || (p_state ->> 'reason'), '')),
            'action_url', '/risk',
            'data', p_state));
END
$$;
COMMENT ON FUNCTION ex7._alert_trading_state(uuid, jsonb, bigint) IS
'Returns nothing: the alert event of a change of the user''s trading state (event p_seq of the stream).';

CREATE OR REPLACE FUNCTION ex7._alert_runtime_error(r ex7.strategy_runtimes)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text := ex7._alert_strategy_name(r.user_id, r.strategy_id);
BEGIN
    PERFORM ex7._alert_event(r.user_id, 'runtime_error', r.strategy_id,
        'runtime_error:' || r.id || ':' || pg_catalog.to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS'),
        pg_catalog.jsonb_build_object(
            'title', pg_catalog.format('Runtime error: %s (%s)', v_name, r.mode),
            'text', pg_catalog.format('%s (%s) stopped with an error at %s: %s', v_name, r.mode,
                                      ex7._utc_text(r.updated_at), coalesce(r.error, 'unknown error')),
            'action_url', '/strategies/' || r.strategy_id,
            'data', pg_catalog.jsonb_build_object('strategy_name', v_name, 'runtime_id', r.id, 'strategy_id',
                                                  r.strategy_id, 'mode', r.mode, 'error', r.error,
                                                  'last_bar_ts', r.last_bar_ts)));
END
$$;
COMMENT ON FUNCTION ex7._alert_runtime_error(ex7.strategy_runtimes) IS
'Returns nothing: the alert event of a runtime that entered status error (trigger strategy_runtimes_error_alert).';

/* ---------------------------------------------------------------------------------------------------
 * The worker's side (service only; revoked from ex7_user in 99_grants.sql)
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._alert_mask(p_type text, p_destination text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_destination IS NULL THEN 'a Telegram chat'
        WHEN p_type = 'email' THEN pg_catalog.left(p_destination, 1) || '***@' || pg_catalog.split_part(p_destination, '@', 2)
        WHEN p_type = 'sms' THEN 'the number ending in ' || pg_catalog.right(p_destination, 4)
        WHEN p_type = 'webhook' THEN 'the endpoint at ' || pg_catalog.substring(p_destination, '^https?://([^/?#]+)')
        ELSE 'a Telegram chat' END;
$$;
COMMENT ON FUNCTION ex7._alert_mask(text, text) IS 'Returns a destination as an unsubscribe page names it: masked email, last 4 digits, webhook host.';

CREATE OR REPLACE FUNCTION ex7._alert_email_html(p_message jsonb, p_unsubscribe_url text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        || '<h2>' || ex7._html(p_message ->> 'title') || '</h2>'
        || '<p>' || ex7._html(p_message ->> 'text') || '</p>'
        || coalesce('<hr><p style="font-size:small;color:#666">You receive this because you subscribed to ex7 alerts. '
                    || '<a href="' || ex7._html(p_unsubscribe_url) || '">Unsubscribe</a></p>', '')
        || '</body></html>';
$$;
COMMENT ON FUNCTION ex7._alert_email_html(jsonb, text) IS 'Returns the HTML body of an alert email: title, text and (when given) the unsubscribe link, all escaped.';

/*
 * _outbox_job: what the worker sends for a claimed delivery: {id, provider, attempt, body, url (webhook),
 * secret (webhook)}. The provider's request body is built here; ex7d adds only what the database must
 * not hold (API keys) and the signature. p_options: base_url (the public URL of ex7d, for unsubscribe
 * links and Twilio status callbacks), email_from, sms_from.
 */
CREATE OR REPLACE FUNCTION ex7._outbox_job(d ex7.alert_deliveries, c ex7.alert_channels, p_options jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_base text := pg_catalog.rtrim(p_options ->> 'base_url', '/');
    v_unsub text;
    v_body jsonb;
    v_text text := d.message ->> 'text';
BEGIN
    IF d.subscription_id IS NOT NULL AND v_base IS NOT NULL THEN
        v_unsub := v_base || '/api/alerts/unsubscribe?token=' || ex7._alert_token('subscription', d.subscription_id);
    END IF;
    IF c.type = 'email' THEN
        v_body := pg_catalog.jsonb_build_object(
            'from', coalesce(p_options ->> 'email_from', 'ex7 alerts <alerts@ex7capital.com>'),
            'to', pg_catalog.jsonb_build_array(c.destination),
            'subject', d.message ->> 'title',
            'text', v_text || coalesce(E'\n\nUnsubscribe: ' || v_unsub, ''),
            'html', ex7._alert_email_html(d.message, v_unsub),
            'tags', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('name', 'delivery_id', 'value', d.id)));
        IF v_unsub IS NOT NULL THEN
            -- RFC 8058 one-click unsubscribe: mail clients POST to the link
            v_body := v_body || pg_catalog.jsonb_build_object('headers', pg_catalog.jsonb_build_object(
                'List-Unsubscribe', '<' || v_unsub || '>', 'List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'));
        END IF;
        RETURN pg_catalog.jsonb_build_object('id', d.id, 'provider', 'resend', 'attempt', d.attempts, 'body', v_body);
    ELSIF c.type = 'telegram' THEN
        RETURN pg_catalog.jsonb_build_object('id', d.id, 'provider', 'telegram', 'attempt', d.attempts,
            'body', pg_catalog.jsonb_build_object('chat_id', c.destination, 'text', v_text,
                                                  'disable_web_page_preview', true));
    ELSIF c.type = 'sms' THEN
        v_body := pg_catalog.jsonb_build_object('To', c.destination,
            'From', coalesce(p_options ->> 'sms_from', ''),
            -- Twilio concatenates at most 1600 characters into one message
            'Body', pg_catalog.left(v_text || CASE WHEN d.event <> 'verification' THEN ' Reply STOP to unsubscribe.' ELSE '' END, 1600));
        IF v_base IS NOT NULL THEN
            v_body := v_body || pg_catalog.jsonb_build_object('StatusCallback', v_base || '/api/alerts/webhooks/twilio');
        END IF;
        RETURN pg_catalog.jsonb_build_object('id', d.id, 'provider', 'twilio', 'attempt', d.attempts, 'body', v_body);
    END IF;
    RETURN pg_catalog.jsonb_build_object('id', d.id, 'provider', 'webhook', 'attempt', d.attempts,
        'url', c.destination, 'secret', c.signing_secret,
        'body', pg_catalog.jsonb_build_object(
            'type', CASE d.event WHEN 'verification' THEN 'channel.verification' ELSE 'alert.' || d.event END,
            'id', d.id, 'created_at', d.created_at,
            'data', pg_catalog.jsonb_build_object('title', d.message ->> 'title', 'text', v_text,
                                                  'strategy_id', d.strategy_id)
                    || coalesce(d.message -> 'data', '{}')));
END
$$;
COMMENT ON FUNCTION ex7._outbox_job(ex7.alert_deliveries, ex7.alert_channels, jsonb) IS
'Returns the job of a claimed delivery {id, provider resend|telegram|twilio|webhook, attempt, body (the provider request: Resend email JSON with unsubscribe link and List-Unsubscribe headers, Telegram sendMessage JSON, Twilio Messages form fields, webhook event JSON), url and secret (webhook)}.';

/*
 * outbox_claim: a worker takes up to p_limit due deliveries. FOR UPDATE SKIP LOCKED lets several
 * workers claim at once without waiting or taking the same row (specs/outbox_claim.spec); the claim is
 * a lease: next_attempt_at moves p_lease_seconds ahead, so a worker that dies leaves the row due again
 * after that, and only then is it sent a second time (the provider's idempotency key, the delivery id,
 * stops the duplicate where the provider has one). At claim time each row is checked again: a channel
 * deleted, disabled or unverified, or a subscription gone or disabled since the event, suppresses it;
 * on its first attempt a row counts against the tier's alerts_per_day (ex7.alert_usage, UTC day), and
 * over the quota it is suppressed with reason quota. Usage rows are locked in user order.
 *
 * The claim locks per user (docs/citus-statements.md): on Citus a SELECT ... FOR UPDATE may only
 * touch one
 * user's shard, so the oldest due rows are read without a lock, then each user's share of them is locked
 * (SKIP LOCKED) and leased in one statement per user. Rows another worker holds are skipped as before and
 * made up from the next due rows, until p_limit rows are claimed or no due row is left untried.
 */
CREATE OR REPLACE FUNCTION ex7.outbox_claim(p_worker text, p_limit integer DEFAULT 32, p_options jsonb DEFAULT '{}',
                                 p_lease_seconds integer DEFAULT 60)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    v_ids uuid[] := '{}';           -- the claimed deliveries, of the users in v_owners
    v_owners uuid[] := '{}';
    v_tried uuid[] := '{}';         -- the candidates offered to a claim so far
    v_owner uuid;
    v_cand uuid[];
    v_id uuid;
    v_more boolean;
    v_now timestamptz := pg_catalog.now();
    v_jobs jsonb := '[]';
    v_day date := (pg_catalog.now() AT TIME ZONE 'UTC')::date;
    v_reason text;
    v_user uuid;
    v_tier text;
    v_cap integer;
    v_sent integer;
BEGIN
    IF p_worker IS NULL OR p_worker = '' THEN
        PERFORM ex7._invalid('["worker"]', 'worker id is required');
    END IF;
    PERFORM ex7._check_limit(p_limit, '["limit"]', 1000);
    LOOP
        v_more := false;
        FOR v_owner, v_cand IN
            SELECT x.user_id, pg_catalog.array_agg(x.id)
              FROM (SELECT y.user_id, y.id, y.next_attempt_at FROM ex7.alert_deliveries y
                     WHERE y.status = 'queued' AND y.next_attempt_at <= v_now AND y.id <> ALL (v_tried)
                     ORDER BY y.next_attempt_at
                     LIMIT p_limit - pg_catalog.cardinality(v_ids)) x
             GROUP BY x.user_id
             ORDER BY pg_catalog.min(x.next_attempt_at)
        LOOP
            v_more := true;
            v_tried := v_tried || v_cand;
            FOR v_id IN
                WITH due AS (
                    SELECT x.user_id, x.id FROM ex7.alert_deliveries x
                     WHERE x.user_id = v_owner AND x.id = ANY (v_cand)
                       AND x.status = 'queued' AND x.next_attempt_at <= v_now
                       FOR UPDATE SKIP LOCKED)
                UPDATE ex7.alert_deliveries x
                   SET attempts = x.attempts + 1, leased_by = p_worker, updated_at = v_now,
                       next_attempt_at = v_now + p_lease_seconds * interval '1 second'
                  FROM due WHERE x.user_id = v_owner AND x.user_id = due.user_id AND x.id = due.id
                RETURNING x.id
            LOOP
                v_ids := v_ids || v_id;
                IF NOT v_owner = ANY (v_owners) THEN
                    v_owners := v_owners || v_owner;
                END IF;
            END LOOP;
        END LOOP;
        EXIT WHEN NOT v_more OR pg_catalog.cardinality(v_ids) >= p_limit;
    END LOOP;
    IF pg_catalog.cardinality(v_ids) = 0 THEN
        RETURN v_jobs;
    END IF;
    FOR r IN
        SELECT d, c, s.enabled AS sub_enabled, s.id AS sub_id
          FROM ex7.alert_deliveries d
          LEFT JOIN ex7.alert_channels c ON c.user_id = d.user_id AND c.id = d.channel_id
          LEFT JOIN ex7.alert_subscriptions s ON s.user_id = d.user_id AND s.id = d.subscription_id
         WHERE d.user_id = ANY (v_owners) AND d.id = ANY (v_ids)
         ORDER BY d.user_id, d.created_at, d.channel_type, d.id
    LOOP
        v_reason := CASE
            WHEN (r.c).id IS NULL OR (r.c).disabled_at IS NOT NULL THEN 'unsubscribed'
            WHEN (r.d).event <> 'verification' AND ((r.d).subscription_id IS NULL OR r.sub_id IS NULL
                                                    OR NOT r.sub_enabled) THEN 'unsubscribed'
            WHEN (r.d).event <> 'verification' AND (r.c).verified_at IS NULL THEN 'unverified'
            WHEN (r.c).type = 'telegram' AND (r.c).destination IS NULL THEN 'unverified' END;
        IF v_reason IS NULL AND (r.d).event <> 'verification' AND (r.d).attempts = 1 THEN
            IF v_user IS DISTINCT FROM (r.d).user_id THEN
                v_user := (r.d).user_id;
                -- the tier first: a function that reads the user's rows must not run inside a statement
                -- Citus sends to a shard (docs/citus-statements.md)
                v_tier := ex7._current_tier(v_user);
                SELECT t.alerts_per_day INTO v_cap FROM ex7.tiers t WHERE t.tier = v_tier;
            END IF;
            v_sent := NULL;
            IF coalesce(v_cap, 0) > 0 THEN
                INSERT INTO ex7.alert_usage AS a (user_id, day, sent) VALUES (v_user, v_day, 1)
                ON CONFLICT (user_id, day) DO UPDATE SET sent = a.sent + 1 WHERE a.sent < v_cap
                RETURNING a.sent INTO v_sent;
            END IF;
            IF v_sent IS NULL THEN
                v_reason := 'quota';
            END IF;
        END IF;
        IF v_reason IS NOT NULL THEN
            UPDATE ex7.alert_deliveries
               SET status = 'suppressed', reason = v_reason, leased_by = NULL, updated_at = pg_catalog.now()
             WHERE user_id = (r.d).user_id AND id = (r.d).id;
        ELSE
            v_jobs := v_jobs || ex7._outbox_job(r.d, r.c, coalesce(p_options, '{}'));
        END IF;
    END LOOP;
    RETURN v_jobs;
END
$$;
COMMENT ON FUNCTION ex7.outbox_claim(text, integer, jsonb, integer) IS
'Returns the jobs (ex7._outbox_job) of up to p_limit due deliveries now leased to worker p_worker for p_lease_seconds (FOR UPDATE SKIP LOCKED). Rows whose channel or subscription can no longer deliver, or over the tier''s alerts_per_day on their first attempt, are suppressed (unsubscribed, unverified, quota) instead. Service only.';

/*
 * The retry schedule: p_base_ms doubled per attempt, at most an hour, at most 8 attempts (about two
 * hours in all with the default 30 s base); a response that cannot improve on retry (a 4xx other than
 * 408, 425, 429) fails at once.
 */
CREATE OR REPLACE FUNCTION ex7._outbox_retry_delay(p_attempts integer, p_base_ms integer)
RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT LEAST(p_base_ms::double precision * pg_catalog.power(2, LEAST(p_attempts - 1, 20)), 3600000)
           * interval '1 millisecond';
$$;
COMMENT ON FUNCTION ex7._outbox_retry_delay(integer, integer) IS
'Returns the wait before the next attempt after p_attempts attempts: p_base_ms * 2^(attempts-1), capped at one hour.';

CREATE OR REPLACE FUNCTION ex7.outbox_record(p_worker text, p_id uuid, p_http_status integer, p_response text,
                                  p_error text DEFAULT NULL, p_retry_base_ms integer DEFAULT 30000)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    d ex7.alert_deliveries;
    v_user uuid;
    v_resp jsonb;
    v_mid text;
    v_status text;
    v_retry boolean;
    v_next timestamptz;
    v_error text;
BEGIN
    -- the worker names a delivery by its id: its user comes from a plain read, so that the locking read is
    -- a statement on one user's rows (docs/citus-statements.md). The key is (user_id, id): the row
    -- being recorded
    -- is queued, and alert_deliveries_due_idx holds only queued rows, so it is looked for among them first
    -- (205,000 deliveries of which 5,000 queued, one core: 2 ms, where a scan of the table took 100 to 200
    -- ms); a row recorded already or an unknown id (a stale or a 404 answer) is looked for among all.
    SELECT x.user_id INTO v_user FROM ex7.alert_deliveries x WHERE x.id = p_id AND x.status = 'queued';
    IF NOT FOUND THEN
        SELECT x.user_id INTO v_user FROM ex7.alert_deliveries x WHERE x.id = p_id;
    END IF;
    SELECT * INTO d FROM ex7.alert_deliveries x WHERE x.user_id = v_user AND x.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'delivery not found');
    END IF;
    IF d.status <> 'queued' OR d.leased_by IS DISTINCT FROM p_worker THEN
        -- the lease ran out and another worker took the row (or it was recorded already): keep its state
        RETURN pg_catalog.jsonb_build_object('id', d.id, 'status', d.status, 'stale', true);
    END IF;
    IF p_http_status BETWEEN 200 AND 299 THEN
        BEGIN
            v_resp := p_response::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
            v_resp := NULL;
        END;
        -- the provider's message id: Resend {id}, Twilio {sid}, Telegram {result: {message_id}} (unique per
        -- chat), a webhook the svix-id we sent (the delivery id)
        v_mid := CASE d.channel_type
            WHEN 'email' THEN v_resp ->> 'id'
            WHEN 'sms' THEN v_resp ->> 'sid'
            WHEN 'telegram' THEN (v_resp #>> '{result,chat,id}') || ':' || (v_resp #>> '{result,message_id}')
            ELSE 'msg_' || pg_catalog.replace(d.id::text, '-', '') END;
        -- Resend and Twilio report delivery later (webhooks); Telegram and a webhook's 2xx are the delivery
        v_status := CASE WHEN d.channel_type IN ('email', 'sms') THEN 'sent' ELSE 'delivered' END;
        UPDATE ex7.alert_deliveries
           SET status = v_status, provider_message_id = v_mid, sent_at = pg_catalog.now(), leased_by = NULL,
               last_error = NULL, updated_at = pg_catalog.now()
         WHERE user_id = d.user_id AND id = d.id
        RETURNING * INTO d;
        RETURN pg_catalog.jsonb_build_object('id', d.id, 'status', d.status, 'provider_message_id', v_mid);
    END IF;
    v_retry := coalesce(p_http_status, 0) = 0 OR p_http_status IN (408, 425, 429) OR p_http_status >= 500;
    -- computed first: Citus refuses a STABLE function (now(), text || integer) inside CASE or coalesce in an
    -- UPDATE of a distributed table (docs/citus-statements.md)
    IF v_retry AND d.attempts < 8 THEN
        v_status := 'queued';
        v_next := pg_catalog.now() + ex7._outbox_retry_delay(d.attempts, coalesce(p_retry_base_ms, 30000));
    ELSE
        v_status := 'failed';
        v_next := d.next_attempt_at;
    END IF;
    v_error := pg_catalog.left(coalesce(p_error, 'HTTP ' || p_http_status || ': ' || coalesce(p_response, '')), 500);
    UPDATE ex7.alert_deliveries
       SET status = v_status,
           next_attempt_at = v_next,
           leased_by = NULL,
           last_error = v_error,
           updated_at = pg_catalog.now()
     WHERE user_id = d.user_id AND id = d.id
    RETURNING * INTO d;
    RETURN pg_catalog.jsonb_build_object('id', d.id, 'status', d.status, 'attempts', d.attempts,
                                         'next_attempt_at', CASE WHEN d.status = 'queued' THEN d.next_attempt_at END);
END
$$;
COMMENT ON FUNCTION ex7.outbox_record(text, uuid, integer, text, text, integer) IS
'Returns {id, status, ...} after recording worker p_worker''s attempt: a 2xx marks the delivery sent (email, sms) or delivered (telegram, webhook) with the provider''s message id; no response (p_http_status null or 0), 408, 425, 429 or 5xx retries after ex7._outbox_retry_delay (at most 8 attempts), other statuses fail. {stale: true} and no change when the lease passed to another worker. X7404 for an unknown id. Service only.';

/* ---------------------------------------------------------------------------------------------------
 * Provider webhooks (service only: ex7d calls them after checking the provider's signature)
 * ------------------------------------------------------------------------------------------------- */

/* the order of delivery states: a late or repeated webhook never moves a delivery back */
CREATE OR REPLACE FUNCTION ex7._delivery_rank(p_status text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE p_status WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'failed' THEN 2 WHEN 'delivered' THEN 2
                         WHEN 'bounced' THEN 3 WHEN 'complained' THEN 4 ELSE 5 END;
$$;
COMMENT ON FUNCTION ex7._delivery_rank(text) IS 'Returns the rank of a delivery status (queued < sent < failed, delivered < bounced < complained; suppressed last): webhooks only move a delivery up.';

CREATE OR REPLACE FUNCTION ex7._delivery_provider_update(p_channel_type text, p_mid text, p_status text)
RETURNS ex7.alert_deliveries
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    d ex7.alert_deliveries;
    v_user uuid;
    v_id uuid;
BEGIN
    -- the provider names the delivery by its message id: (user, id) come from a plain read, the write is a
    -- statement on that user's rows (docs/citus-statements.md)
    SELECT x.user_id, x.id INTO v_user, v_id FROM ex7.alert_deliveries x
     WHERE x.provider_message_id = p_mid AND x.channel_type = p_channel_type;
    IF NOT FOUND THEN
        RETURN d;
    END IF;
    UPDATE ex7.alert_deliveries x
       SET status = p_status, updated_at = pg_catalog.now()
     WHERE x.user_id = v_user AND x.id = v_id
       AND x.provider_message_id = p_mid AND x.channel_type = p_channel_type
       AND ex7._delivery_rank(x.status) < ex7._delivery_rank(p_status)
    RETURNING * INTO d;
    IF NOT FOUND THEN
        SELECT * INTO d FROM ex7.alert_deliveries x WHERE x.user_id = v_user AND x.id = v_id;
    END IF;
    RETURN d;
END
$$;
COMMENT ON FUNCTION ex7._delivery_provider_update(text, text, text) IS
'Returns the delivery with provider message id p_mid after moving it to p_status when that is a later state (or unchanged; all nulls when there is none).';

CREATE OR REPLACE FUNCTION ex7._channel_disable(p_user uuid, p_channel_id uuid, p_reason text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    UPDATE ex7.alert_channels
       SET disabled_at = pg_catalog.now(), disabled_reason = p_reason, updated_at = pg_catalog.now()
     WHERE user_id = p_user AND id = p_channel_id AND disabled_at IS NULL;
$$;
COMMENT ON FUNCTION ex7._channel_disable(uuid, uuid, text) IS 'Returns nothing; disables the user''s channel for good (bounced, complained, stopped, unsubscribed) unless it already is.';

/*
 * Resend: "email.delivered | email.bounced | email.complained | ...", data.email_id is our
 * provider_message_id (ex7-api-reference.txt, Resend Webhook; facts.md). A hard bounce (data.bounce.type
 * other than Transient) or a complaint disables the channel. An unknown email id is acknowledged (200):
 * Resend would otherwise retry an event that can never match.
 */
CREATE OR REPLACE FUNCTION ex7.alerts_resend_event(p_event jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_type text := p_event ->> 'type';
    v_mid text := p_event #>> '{data,email_id}';
    v_status text;
    d ex7.alert_deliveries;
BEGIN
    v_status := CASE v_type WHEN 'email.delivered' THEN 'delivered' WHEN 'email.bounced' THEN 'bounced'
                            WHEN 'email.complained' THEN 'complained' WHEN 'email.failed' THEN 'failed' END;
    IF v_mid IS NULL OR v_status IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('ok', true, 'type', v_type, 'matched', false);
    END IF;
    d := ex7._delivery_provider_update('email', v_mid, v_status);
    IF d.id IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('ok', true, 'type', v_type, 'matched', false);
    END IF;
    IF v_type = 'email.complained'
       OR (v_type = 'email.bounced' AND coalesce(p_event #>> '{data,bounce,type}', 'Permanent') <> 'Transient') THEN
        PERFORM ex7._channel_disable(d.user_id, d.channel_id,
                                     CASE v_type WHEN 'email.complained' THEN 'complained' ELSE 'bounced' END);
    END IF;
    RETURN pg_catalog.jsonb_build_object('ok', true, 'type', v_type, 'matched', true, 'delivery_id', d.id,
                                         'status', d.status);
END
$$;
COMMENT ON FUNCTION ex7.alerts_resend_event(jsonb) IS
'Returns {ok, type, matched, delivery_id, status}: applies a verified Resend event to the delivery with that email id (delivered, bounced, complained, failed; never backwards); a hard bounce or a complaint disables the channel. Service only.';

/*
 * Telegram (ex7-api-reference.txt, Telegram Webhook): "/start <token> — verification handshake.
 * chat_id becomes the channel destination, verified=true. text messages — logged, no-op". The answer
 * is the webhook reply: Telegram runs a method given in it, so the confirmation is a sendMessage
 * without a call of our own.
 */
CREATE OR REPLACE FUNCTION ex7.alerts_telegram_update(p_update jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_msg jsonb := coalesce(p_update -> 'message', p_update -> 'edited_message');
    v_text text := pg_catalog.btrim(v_msg ->> 'text');
    v_chat text := v_msg #>> '{chat,id}';
    v_token text;
    v_user uuid;
    v_id uuid;
    c ex7.alert_channels;
BEGIN
    v_token := pg_catalog.substring(v_text, '^/start(?:@[A-Za-z0-9_]+)?\s+([A-Za-z0-9_-]{1,64})$');
    IF v_chat IS NULL OR v_token IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('action', 'ignored');
    END IF;
    -- the token names a channel of any user: (user, id) from a plain read, then a write on that user's rows
    -- (docs/citus-statements.md)
    SELECT x.user_id, x.id INTO v_user, v_id FROM ex7.alert_channels x
     WHERE x.verify_token = v_token AND x.type = 'telegram';
    UPDATE ex7.alert_channels x
       SET destination = v_chat, verified_at = pg_catalog.now(), verify_token = NULL, verify_expires_at = NULL,
           updated_at = pg_catalog.now()
     WHERE x.user_id = v_user AND x.id = v_id
       AND x.verify_token = v_token AND x.type = 'telegram' AND x.verify_expires_at > pg_catalog.now()
       AND x.disabled_at IS NULL
    RETURNING * INTO c;
    IF NOT FOUND THEN
        RETURN pg_catalog.jsonb_build_object('method', 'sendMessage', 'chat_id', v_chat,
            'text', 'This link has expired or was already used. Open ex7 and request a new Telegram link.');
    END IF;
    RETURN pg_catalog.jsonb_build_object('method', 'sendMessage', 'chat_id', v_chat,
        'text', 'ex7: this chat now receives your alerts' || coalesce(' (' || NULLIF(c.label, '') || ')', '') || '.');
END
$$;
COMMENT ON FUNCTION ex7.alerts_telegram_update(jsonb) IS
'Returns the webhook reply to a Telegram update: for "/start <token>" of a pending telegram channel, verifies it with the chat as destination and answers with a sendMessage confirmation (or an expired-link message); anything else {action: ignored}. Service only.';

/*
 * Twilio: status callbacks (MessageSid, MessageStatus) move deliveries; an inbound message (From, Body)
 * with an opt-out keyword disables the sms channels with that number, an opt-in keyword enables them
 * again, HELP is answered. Returns TwiML. Twilio's standard keywords (Twilio "Advanced Opt-Out").
 */
CREATE OR REPLACE FUNCTION ex7.alerts_twilio_event(p_params jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_status text := p_params ->> 'MessageStatus';
    v_word text := pg_catalog.upper(pg_catalog.btrim(p_params ->> 'Body'));
    v_from text := p_params ->> 'From';
    v_user uuid;
    v_id uuid;
    d ex7.alert_deliveries;
    v_empty constant text := '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
BEGIN
    IF v_status IS NOT NULL AND p_params ? 'MessageSid' THEN
        IF v_status IN ('delivered', 'read') THEN
            d := ex7._delivery_provider_update('sms', p_params ->> 'MessageSid', 'delivered');
        ELSIF v_status IN ('undelivered', 'failed') THEN
            d := ex7._delivery_provider_update('sms', p_params ->> 'MessageSid', 'failed');
            -- 21610: the recipient replied STOP to our number earlier
            IF p_params ->> 'ErrorCode' = '21610' AND d.channel_id IS NOT NULL THEN
                PERFORM ex7._channel_disable(d.user_id, d.channel_id, 'stopped');
            END IF;
        END IF;
        RETURN v_empty;
    END IF;
    IF v_from IS NULL OR v_word IS NULL THEN
        RETURN v_empty;
    END IF;
    -- a number may be a channel of several users: their channels are read first, then written one user's
    -- row at a time (docs/citus-statements.md)
    IF v_word IN ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE') THEN
        FOR v_user, v_id IN
            SELECT x.user_id, x.id FROM ex7.alert_channels x
             WHERE x.type = 'sms' AND x.destination = v_from AND x.disabled_at IS NULL
             ORDER BY x.user_id, x.id
        LOOP
            PERFORM ex7._channel_disable(v_user, v_id, 'stopped');
        END LOOP;
    ELSIF v_word IN ('START', 'UNSTOP', 'YES') THEN
        FOR v_user, v_id IN
            SELECT x.user_id, x.id FROM ex7.alert_channels x
             WHERE x.type = 'sms' AND x.destination = v_from AND x.disabled_reason = 'stopped'
             ORDER BY x.user_id, x.id
        LOOP
            UPDATE ex7.alert_channels
               SET disabled_at = NULL, disabled_reason = NULL, updated_at = pg_catalog.now()
             WHERE user_id = v_user AND id = v_id AND disabled_reason = 'stopped';
        END LOOP;
    ELSIF v_word IN ('HELP', 'INFO') THEN
        RETURN '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ex7 alerts: trading-signal alerts you '
            || 'subscribed to at ex7capital.com. Reply STOP to unsubscribe, START to resubscribe.</Message></Response>';
    END IF;
    RETURN v_empty;
END
$$;
COMMENT ON FUNCTION ex7.alerts_twilio_event(jsonb) IS
'Returns the TwiML answer to a Twilio webhook (the form fields as a JSON object): status callbacks move the delivery with that MessageSid (delivered, failed); inbound STOP-type keywords disable the sms channels of that number, START-type keywords enable them, HELP is answered. Service only.';

/* ---------------------------------------------------------------------------------------------------
 * Unsubscribe (public; the token is the authorization)
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._unsubscribe_target(p_token text, OUT kind text, OUT id uuid, OUT what text,
                                        OUT done boolean)
RETURNS record
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s ex7.alert_subscriptions;
    c ex7.alert_channels;
BEGIN
    IF p_token IS NULL OR p_token = '' THEN
        PERFORM ex7._invalid('["query","token"]', 'token is required', 'value_error.missing');
    END IF;
    SELECT t.kind, t.id INTO kind, id FROM ex7._alert_token_parse(p_token) t;
    -- the token names a subscription or channel by its id alone (ext/alerts.c): found with a plain read,
    -- the rest of the user's rows by the user it names
    IF kind = 'subscription' THEN
        SELECT * INTO s FROM ex7.alert_subscriptions x WHERE x.id = _unsubscribe_target.id;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'subscription not found');
        END IF;
        SELECT * INTO c FROM ex7.alert_channels x WHERE x.user_id = s.user_id AND x.id = s.channel_id;
        what := pg_catalog.format('%s alerts of %s sent to %s',
                    pg_catalog.array_to_string(s.events, ', '),
                    CASE WHEN s.strategy_id IS NULL THEN 'all your strategies'
                         ELSE 'the strategy "' || ex7._alert_strategy_name(s.user_id, s.strategy_id) || '"' END,
                    ex7._alert_mask(c.type, c.destination));
        done := NOT s.enabled;
    ELSE
        SELECT * INTO c FROM ex7.alert_channels x WHERE x.id = _unsubscribe_target.id;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'channel not found');
        END IF;
        what := 'every ex7 alert sent to ' || ex7._alert_mask(c.type, c.destination);
        done := c.disabled_at IS NOT NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._unsubscribe_target(text) IS
'Returns (kind, id, what, done) for an unsubscribe token: what it unsubscribes, in words, and whether that is already done. X7422 for a bad token, X7404 when its subscription or channel was deleted.';

CREATE OR REPLACE FUNCTION ex7._unsubscribe_html(p_heading text, p_body text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        || '<meta name="viewport" content="width=device-width, initial-scale=1"><title>ex7: '
        || ex7._html(p_heading) || '</title></head><body style="font-family:sans-serif;max-width:36em;margin:3em auto">'
        || '<h1>' || ex7._html(p_heading) || '</h1>' || p_body || '</body></html>';
$$;
COMMENT ON FUNCTION ex7._unsubscribe_html(text, text) IS 'Returns an unsubscribe page with the (escaped) heading and p_body, which the caller escaped.';

/*
 * GET shows what the link unsubscribes and a button; only the POST changes anything, so a mail
 * scanner that follows links does not unsubscribe anybody.
 */
CREATE OR REPLACE FUNCTION ex7.alerts_unsubscribe_page(p_token text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    t record;
BEGIN
    SELECT * INTO t FROM ex7._unsubscribe_target(p_token);
    IF t.done THEN
        RETURN ex7._unsubscribe_html('Already unsubscribed',
            '<p>You no longer receive ' || ex7._html(t.what) || '.</p>');
    END IF;
    RETURN ex7._unsubscribe_html('Unsubscribe',
        '<p>Stop ' || ex7._html(t.what) || '?</p>'
        || '<form method="post" action="/api/alerts/unsubscribe?token=' || ex7._html(p_token) || '">'
        || '<button type="submit">Unsubscribe</button></form>');
END
$$;
COMMENT ON FUNCTION ex7.alerts_unsubscribe_page(text) IS
'Returns the HTML page of Unsubscribe Landing: what the token unsubscribes and a form that POSTs the confirmation. X7422 for a bad token, X7404 when its target was deleted.';

CREATE OR REPLACE FUNCTION ex7.alerts_unsubscribe(p_token text, p_body text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_token text := p_token;
    v_user uuid;
    v_now timestamptz := pg_catalog.now();
    t record;
BEGIN
    IF v_token IS NULL AND p_body IS NOT NULL THEN
        -- a JSON body {"token": ...} or a form field token=... (the token is base64url: no escapes)
        IF pg_catalog.ltrim(p_body) LIKE '{%' THEN
            BEGIN
                v_token := p_body::jsonb ->> 'token';
            EXCEPTION WHEN invalid_text_representation THEN
                v_token := NULL;
            END;
        ELSE
            v_token := pg_catalog.substring(p_body, '(?:^|&)token=([A-Za-z0-9_-]+)');
        END IF;
    END IF;
    SELECT * INTO t FROM ex7._unsubscribe_target(v_token);
    -- the target's user from a plain read (the token holds no user), then a write on that user's rows; the
    -- time as a value: Citus refuses now() inside coalesce in an UPDATE (docs/citus-statements.md)
    IF t.kind = 'subscription' THEN
        SELECT x.user_id INTO v_user FROM ex7.alert_subscriptions x WHERE x.id = t.id;
        UPDATE ex7.alert_subscriptions
           SET enabled = false, unsubscribed_at = coalesce(unsubscribed_at, v_now),
               updated_at = v_now
         WHERE user_id = v_user AND id = t.id AND enabled;
    ELSE
        SELECT x.user_id INTO v_user FROM ex7.alert_channels x WHERE x.id = t.id;
        PERFORM ex7._channel_disable(v_user, t.id, 'unsubscribed');
    END IF;
    RETURN ex7._unsubscribe_html('Unsubscribed', '<p>You will no longer receive ' || ex7._html(t.what) || '.</p>');
END
$$;
COMMENT ON FUNCTION ex7.alerts_unsubscribe(text, text) IS
'Returns the HTML confirmation of Unsubscribe Confirm after disabling the subscription (enabled false, unsubscribed_at) or the channel (disabled, reason unsubscribed) the token names. The token comes from the query, or from the body (JSON {token} or form token=...); an RFC 8058 one-click POST works. Idempotent. X7422 for a bad token, X7404 when its target was deleted.';
