/* ext/sql/78_price_alerts.sql: price alerts and their log (after peer-broker-rest-api.txt "Price
 * Alerts": get, create, update, delete alert; get alert logs, delete one log, delete all logs;
 * docs/alerts.md). Bar ingestion evaluates them in its own transaction: ex7._store_bar (63_market.sql)
 * calls ex7._price_alerts_bars on every new bar of a series an active alert watches. */

CREATE OR REPLACE FUNCTION ex7._price_alert_json(a ex7.price_alerts)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', a.id, 'instrument', a.instrument, 'timeframe', a.timeframe, 'condition', a.condition,
        'level', a.level::pg_catalog.text, 'repeat', a.repeat, 'active', a.active, 'note', a.note,
        'last_price', a.last_price::pg_catalog.text, 'last_bar_ts', a.last_ts,
        'triggered_count', a.triggered_count,
        'last_triggered_at', a.last_triggered_at, 'created_at', a.created_at, 'updated_at', a.updated_at);
$$;
COMMENT ON FUNCTION ex7._price_alert_json(ex7.price_alerts) IS
'Returns a price alert {id, instrument, timeframe, condition, level, repeat, active, note, last_price, last_bar_ts, triggered_count, last_triggered_at, created_at, updated_at}; prices as decimal strings.';

CREATE OR REPLACE FUNCTION ex7._price_alert_log_json(l ex7.price_alert_logs)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', l.id, 'alert_id', l.alert_id, 'instrument', l.instrument, 'condition', l.condition,
        'level', l.level::pg_catalog.text, 'price', l.price::pg_catalog.text,
        'timeframe', l.timeframe, 'bar_ts', l.bar_ts,
        'created_at', l.created_at);
$$;
COMMENT ON FUNCTION ex7._price_alert_log_json(ex7.price_alert_logs) IS
'Returns an alert log entry {id, alert_id, instrument, condition, level, price (the bar''s close), timeframe, bar_ts, created_at}.';

/* the body fields shared by create and update; returns the validated value or raises 422 */
CREATE OR REPLACE FUNCTION ex7._price_alert_field(p_body jsonb, p_field text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_body -> p_field;
    v_loc jsonb := pg_catalog.jsonb_build_array('body', p_field);
    v_num numeric;
BEGIN
    IF p_field = 'condition' THEN
        -- "above" / "below" are accepted for the crossing conditions
        IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'string'
           OR v #>> '{}' NOT IN ('crosses_above', 'crosses_below', 'above', 'below') THEN
            PERFORM ex7._invalid(v_loc, 'condition must be crosses_above or crosses_below', 'value_error.const');
        END IF;
        RETURN CASE v #>> '{}' WHEN 'above' THEN 'crosses_above' WHEN 'below' THEN 'crosses_below' ELSE v #>> '{}' END;
    ELSIF p_field = 'level' THEN
        IF pg_catalog.jsonb_typeof(v) = 'number' OR (pg_catalog.jsonb_typeof(v) = 'string'
                                                      AND v #>> '{}' ~ '^\s*[0-9]+(\.[0-9]+)?\s*$') THEN
            v_num := (v #>> '{}')::numeric;
        END IF;
        IF v_num IS NULL OR v_num <= 0 OR v_num >= 1e12 THEN
            PERFORM ex7._invalid(v_loc, 'level must be a positive decimal', 'value_error.decimal');
        END IF;
        RETURN v_num::text;
    ELSIF p_field IN ('repeat', 'active') THEN
        IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'boolean' THEN
            PERFORM ex7._invalid(v_loc, 'value is not a valid boolean', 'type_error.bool');
        END IF;
        RETURN v #>> '{}';
    ELSIF p_field = 'note' THEN
        IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'string' THEN
            PERFORM ex7._invalid(v_loc, 'value is not a valid string', 'type_error.str');
        ELSIF pg_catalog.length(v #>> '{}') > 200 THEN
            PERFORM ex7._invalid(v_loc, 'note must be at most 200 characters', 'value_error.any_str.max_length');
        END IF;
        RETURN v #>> '{}';
    END IF;
    RAISE EXCEPTION 'ex7._price_alert_field: unknown field %', p_field;
END
$$;
COMMENT ON FUNCTION ex7._price_alert_field(jsonb, text) IS
'Returns body field p_field (condition, level, repeat, active, note) of a price alert as text, validated; X7422 at ["body", p_field] otherwise.';

-- PL/pgSQL handing the builder ROW(a.*): Citus plans no query of a SQL function whose parameters it must
-- know to route it, and on a shard the whole row a has the shard's type (docs/citus-statements.md)
CREATE OR REPLACE FUNCTION ex7.list_price_alerts(p_user uuid, p_instrument text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(ex7._price_alert_json(ROW(a.*)::ex7.price_alerts)
                                                 ORDER BY a.created_at DESC, a.id DESC), '[]')
              FROM ex7.price_alerts a
             WHERE a.user_id = p_user AND (p_instrument IS NULL OR a.instrument = pg_catalog.upper(p_instrument)));
END
$$;
COMMENT ON FUNCTION ex7.list_price_alerts(uuid, text) IS 'Returns the user''s price alerts, newest first, optionally of one instrument (case-insensitive).';

CREATE OR REPLACE FUNCTION ex7.create_price_alert(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_instrument text;
    v_timeframe text;
    v_close numeric;
    v_ts timestamptz;
    v_condition text;
    v_level numeric;
    v_repeat boolean := false;
    v_note text := '';
    a ex7.price_alerts;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    v_instrument := pg_catalog.upper(p_body ->> 'instrument');
    IF pg_catalog.jsonb_typeof(p_body -> 'instrument') IS DISTINCT FROM 'string'
       OR NOT EXISTS (SELECT 1 FROM ex7.instruments i WHERE i.symbol = v_instrument) THEN
        PERFORM ex7._invalid('["body","instrument"]', 'unknown instrument', 'value_error.instrument');
    END IF;
    IF p_body ? 'timeframe' AND pg_catalog.jsonb_typeof(p_body -> 'timeframe') <> 'null' THEN
        v_timeframe := p_body ->> 'timeframe';
        IF pg_catalog.jsonb_typeof(p_body -> 'timeframe') <> 'string' OR NOT v_timeframe = ANY (ex7._timeframes()) THEN
            PERFORM ex7._invalid('["body","timeframe"]', 'timeframe must be one of 1m 2m 5m 15m 30m 1h 4h 1d',
                                 'value_error.const');
        END IF;
    ELSE
        -- the finest series the instrument has bars of (each is probed once, newest bar first), else 1m
        SELECT t INTO v_timeframe
          FROM pg_catalog.unnest(ex7._timeframes()) WITH ORDINALITY AS u(t, o)
         WHERE EXISTS (SELECT 1 FROM ex7.bars b WHERE b.instrument = v_instrument AND b.timeframe = u.t)
         ORDER BY o LIMIT 1;
        v_timeframe := coalesce(v_timeframe, '1m');
    END IF;
    -- the reference a first bar is compared with: the newest close of the series
    SELECT b.close, b.ts INTO v_close, v_ts FROM ex7.bars b
     WHERE b.instrument = v_instrument AND b.timeframe = v_timeframe
     ORDER BY b.ts DESC LIMIT 1;
    -- 100 alerts a user: each is evaluated on every bar of its series
    IF (SELECT pg_catalog.count(*) FROM ex7.price_alerts x WHERE x.user_id = p_user) >= 100 THEN
        PERFORM ex7._raise(409, 'at most 100 price alerts per user', '{"code": "price_alert_limit", "limit": 100}');
    END IF;
    -- the fields into variables first, in this order: Citus evaluates every branch of a CASE in an INSERT's
    -- VALUES (an absent repeat was refused as not a boolean on a three-node cluster)
    v_condition := ex7._price_alert_field(p_body, 'condition');
    v_level := ex7._price_alert_field(p_body, 'level')::numeric;
    IF p_body ? 'repeat' THEN
        v_repeat := ex7._price_alert_field(p_body, 'repeat')::boolean;
    END IF;
    IF p_body ? 'note' THEN
        v_note := ex7._price_alert_field(p_body, 'note');
    END IF;
    INSERT INTO ex7.price_alerts (user_id, instrument, timeframe, condition, level, repeat, note, last_price, last_ts)
    VALUES (p_user, v_instrument, v_timeframe, v_condition, v_level, v_repeat, v_note, v_close, v_ts)
    RETURNING * INTO a;
    RETURN ex7._price_alert_json(a);
END
$$;
COMMENT ON FUNCTION ex7.create_price_alert(uuid, jsonb) IS
'Returns the new price alert (201). Body {instrument, condition crosses_above|crosses_below (or above|below), level (positive decimal), repeat (default false: once), timeframe (default: the finest series with bars, else 1m), note}. The newest close of the series is the first reference. X7422 for bad fields, X7409 price_alert_limit (100).';

CREATE OR REPLACE FUNCTION ex7.update_price_alert(p_user uuid, p_id uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a ex7.price_alerts;
BEGIN
    SELECT * INTO a FROM ex7.price_alerts x WHERE x.id = p_id AND x.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'price alert not found');
    END IF;
    -- a re-armed alert, or a new level or condition, is compared with the newest close from now on: the
    -- reference an inactive alert kept may be long out of date
    IF (p_body ? 'active' AND NOT a.active) OR p_body ? 'level' OR p_body ? 'condition' THEN
        SELECT b.close, b.ts INTO a.last_price, a.last_ts FROM ex7.bars b
         WHERE b.instrument = a.instrument AND b.timeframe = a.timeframe
         ORDER BY b.ts DESC LIMIT 1;
    END IF;
    -- each field checked and taken here, not in a CASE of the UPDATE: Citus evaluates a function call over
    -- parameters before it sends a statement to the shard, on every branch of a CASE (docs/citus-statements.md)
    IF p_body ? 'condition' THEN
        a.condition := ex7._price_alert_field(p_body, 'condition');
    END IF;
    IF p_body ? 'level' THEN
        a.level := ex7._price_alert_field(p_body, 'level')::numeric;
    END IF;
    IF p_body ? 'repeat' THEN
        a.repeat := ex7._price_alert_field(p_body, 'repeat')::boolean;
    END IF;
    IF p_body ? 'active' THEN
        a.active := ex7._price_alert_field(p_body, 'active')::boolean;
    END IF;
    IF p_body ? 'note' THEN
        a.note := ex7._price_alert_field(p_body, 'note');
    END IF;
    UPDATE ex7.price_alerts
       SET last_price = a.last_price, last_ts = a.last_ts, condition = a.condition, level = a.level,
           repeat = a.repeat, active = a.active, note = a.note, updated_at = pg_catalog.now()
     WHERE user_id = a.user_id AND id = a.id
    RETURNING * INTO a;
    RETURN ex7._price_alert_json(a);
END
$$;
COMMENT ON FUNCTION ex7.update_price_alert(uuid, uuid, jsonb) IS
'Returns the price alert after applying the given fields (condition, level, repeat, active: true re-arms a triggered one-shot alert, note); re-arming or a new level or condition takes the newest close of the series as the reference. X7404 when not the user''s, X7422 for bad fields.';

CREATE OR REPLACE FUNCTION ex7.delete_price_alert(p_user uuid, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM ex7.price_alerts WHERE user_id = p_user AND id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'price alert not found');
    END IF;
    -- the alert's log stays, no longer pointing at it (no foreign key does it: 75_alerts_schema.sql)
    UPDATE ex7.price_alert_logs SET alert_id = NULL WHERE user_id = p_user AND alert_id = p_id;
END
$$;
COMMENT ON FUNCTION ex7.delete_price_alert(uuid, uuid) IS 'Returns nothing (204) after deleting the price alert (its log entries stay, alert_id null); X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.list_price_alert_logs(p_user uuid, p_alert_id uuid DEFAULT NULL, p_limit integer DEFAULT 50,
                                          p_offset integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM ex7._check_limit(p_limit);
    IF p_offset IS NULL OR p_offset < 0 THEN
        PERFORM ex7._invalid('["query","offset"]', 'offset must be at least 0', 'value_error.number.range');
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'logs', coalesce((SELECT pg_catalog.jsonb_agg(ex7._price_alert_log_json(l) ORDER BY l.id DESC)
                            FROM (SELECT * FROM ex7.price_alert_logs x
                                   WHERE x.user_id = p_user AND (p_alert_id IS NULL OR x.alert_id = p_alert_id)
                                   ORDER BY x.id DESC LIMIT p_limit OFFSET p_offset) l), '[]'),
        'total', (SELECT pg_catalog.count(*) FROM ex7.price_alert_logs x
                   WHERE x.user_id = p_user AND (p_alert_id IS NULL OR x.alert_id = p_alert_id)));
END
$$;
COMMENT ON FUNCTION ex7.list_price_alert_logs(uuid, uuid, integer, integer) IS
'Returns {logs, total}: the user''s price alert log, newest first, optionally of one alert; limit 1..200, offset >= 0.';

CREATE OR REPLACE FUNCTION ex7.delete_price_alert_log(p_user uuid, p_log_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM ex7.price_alert_logs WHERE id = p_log_id AND user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'alert log entry not found');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7.delete_price_alert_log(uuid, bigint) IS 'Returns nothing (204) after deleting one log entry; X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.delete_price_alert_logs(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM ex7.price_alert_logs WHERE user_id = p_user;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object('deleted', v_n);
END
$$;
COMMENT ON FUNCTION ex7.delete_price_alert_logs(uuid) IS 'Returns {deleted: n} after deleting every log entry of the user.';

/*
 * _price_alerts_bars: new bars just stored in ex7.bars, oldest first (ex7._store_bar passes each bar it
 * inserts, after its block and before the dispatcher; a restore of bars by COPY evaluates none). For every active alert of
 * their series, user by user and in id order within a user (on Citus a statement that locks rows names one
 * user, docs/citus-statements.md; the row locks of two ingests cannot cross: a series is ingested by one
 * transaction at a time), each bar newer than the alert's last one is compared with the reference
 * price (the previous bar's close, or the bar's open when there is none):
 *   crosses_above: reference < level <= high;   crosses_below: reference > level >= low.
 * So a level already beyond the reference fires only after the price came back and crossed it again.
 * A trigger writes a log row (price = the bar's close) and the alert event price_alert (notification and
 * deliveries to subscriptions asking for price_alert); a one-shot alert goes inactive, a repeating one
 * fires again on the next crossing. Late bars (not newer than last_ts) are skipped.
 */
CREATE OR REPLACE FUNCTION ex7._price_alerts_bars(p_bars ex7.bars[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a ex7.price_alerts;
    b ex7.bars;
    v_user uuid;
    v_now timestamptz := pg_catalog.now();
    v_ref numeric;
    v_last timestamptz;
    v_active boolean;
    v_count integer;
    v_fired_at timestamptz;
    v_log ex7.price_alert_logs;
    v_fired integer := 0;
    v_verb text;
BEGIN
    FOR v_user IN
        SELECT DISTINCT x.user_id FROM ex7.price_alerts x
         WHERE x.active AND (x.instrument, x.timeframe) IN (SELECT n.instrument, n.timeframe FROM pg_catalog.unnest(p_bars) n)
         ORDER BY 1
    LOOP
        FOR a IN
            SELECT x.* FROM ex7.price_alerts x
             WHERE x.user_id = v_user AND x.active
               AND (x.instrument, x.timeframe) IN (SELECT n.instrument, n.timeframe FROM pg_catalog.unnest(p_bars) n)
             ORDER BY x.id
               FOR UPDATE
        LOOP
            v_ref := a.last_price;
            v_last := a.last_ts;
            v_active := true;
            v_count := a.triggered_count;
            v_fired_at := a.last_triggered_at;
            FOREACH b IN ARRAY p_bars LOOP
                CONTINUE WHEN b.instrument <> a.instrument OR b.timeframe <> a.timeframe
                              OR (v_last IS NOT NULL AND b.ts <= v_last);
                v_ref := coalesce(v_ref, b.open);
                IF (a.condition = 'crosses_above' AND v_ref < a.level AND b.high >= a.level)
                   OR (a.condition = 'crosses_below' AND v_ref > a.level AND b.low <= a.level) THEN
                    INSERT INTO ex7.price_alert_logs (user_id, alert_id, instrument, condition, level, price, timeframe, bar_ts)
                    VALUES (a.user_id, a.id, a.instrument, a.condition, a.level, b.close, b.timeframe, b.ts)
                    RETURNING * INTO v_log;
                    v_verb := CASE a.condition WHEN 'crosses_above' THEN 'crossed above' ELSE 'crossed below' END;
                    PERFORM ex7._alert_event(a.user_id, 'price_alert', NULL, 'price_alert:' || v_log.id,
                        pg_catalog.jsonb_build_object(
                            'title', pg_catalog.format('%s %s %s', a.instrument, v_verb, a.level),
                            'text', pg_catalog.format('%s %s %s on the %s bar closing %s (close %s).%s', a.instrument,
                                                      v_verb, a.level, b.timeframe, ex7._utc_text(b.ts), b.close,
                                                      coalesce(' ' || NULLIF(a.note, ''), '')),
                            'action_url', '/alerts/price',
                            'data', pg_catalog.jsonb_build_object('alert', ex7._price_alert_json(a),
                                                                  'log', ex7._price_alert_log_json(v_log))));
                    v_fired := v_fired + 1;
                    v_count := v_count + 1;
                    v_fired_at := v_now;
                    v_ref := b.close;
                    v_last := b.ts;
                    IF NOT a.repeat THEN
                        v_active := false;
                        EXIT;
                    END IF;
                    CONTINUE;
                END IF;
                v_ref := b.close;
                v_last := b.ts;
            END LOOP;
            UPDATE ex7.price_alerts
               SET last_price = v_ref, last_ts = v_last, active = v_active, triggered_count = v_count,
                   last_triggered_at = v_fired_at, updated_at = CASE WHEN v_active THEN updated_at ELSE v_now END
             WHERE user_id = a.user_id AND id = a.id;
        END LOOP;
    END LOOP;
    RETURN v_fired;
END
$$;
COMMENT ON FUNCTION ex7._price_alerts_bars(ex7.bars[]) IS
'Returns how many price alerts triggered on the given new bars (oldest first): evaluates every active alert of their series against each bar newer than its last one, writes the log row and the price_alert event (notification, deliveries) of each trigger and moves the reference price on; one-shot alerts go inactive.';
