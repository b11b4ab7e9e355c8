/* ext/sql/77_notifications.sql: in-app notifications and their preferences (after
 * peer-capandex-api.txt "Notifications" and "Profile & Preferences"; docs/alerts.md). Every
 * delivery-worthy event lands here through ex7._alert_event (76_alerts.sql). Tables: 75_alerts_schema.sql. */

CREATE OR REPLACE FUNCTION ex7._notification_types()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._alert_events() || ARRAY['system'];
$$;
COMMENT ON FUNCTION ex7._notification_types() IS 'Returns the notification types: the alert events and system.';

CREATE OR REPLACE FUNCTION ex7._notification_json(n ex7.notifications)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- the item shape of peer-capandex-api.txt (id, type, title, message, read_at, action_url, created_at) and data
    SELECT pg_catalog.jsonb_build_object('id', n.id, 'type', n.type, 'title', n.title, 'message', n.message,
                                         'read_at', n.read_at, 'action_url', n.action_url,
                                         'created_at', n.created_at, 'data', n.data);
$$;
COMMENT ON FUNCTION ex7._notification_json(ex7.notifications) IS
'Returns a notification {id, type, title, message, read_at, action_url, created_at, data}.';

/*
 * _notify: the one writer; a type the user turned off is not written. The preference is read first and
 * the row written with INSERT ... VALUES: two statements on the user's rows, where an INSERT ... SELECT
 * without a table of the user in its FROM would go through the coordinator on Citus
 * (docs/citus-statements.md).
 */
CREATE OR REPLACE FUNCTION ex7._notify(p_user uuid, p_type text, p_title text, p_message text, p_action_url text,
                            p_data jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ex7.notification_preferences np
                    WHERE np.user_id = p_user AND np.preferences -> p_type = 'false'::jsonb) THEN
        INSERT INTO ex7.notifications (user_id, type, title, message, action_url, data)
        VALUES (p_user, p_type, coalesce(p_title, ''), coalesce(p_message, ''), p_action_url, coalesce(p_data, '{}'));
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._notify(uuid, text, text, text, text, jsonb) IS
'Returns nothing; adds an in-app notification for the user unless the user''s preferences turned its type off.';

CREATE OR REPLACE FUNCTION ex7.list_notifications(p_user uuid, p_type text DEFAULT NULL, p_unread_only text DEFAULT NULL,
                                       p_limit integer DEFAULT 50, p_offset integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_unread boolean;
BEGIN
    PERFORM ex7._check_limit(p_limit);
    IF p_offset IS NULL OR p_offset < 0 THEN
        PERFORM ex7._invalid('["query","offset"]', 'offset must be at least 0', 'value_error.number.range');
    END IF;
    IF p_type IS NOT NULL AND NOT p_type = ANY (ex7._notification_types()) THEN
        PERFORM ex7._invalid('["query","type"]',
                             'type must be one of ' || pg_catalog.array_to_string(ex7._notification_types(), ', '),
                             'value_error.const');
    END IF;
    -- "unreadOnly: Set to "true" to return only unread notifications"
    v_unread := pg_catalog.lower(coalesce(p_unread_only, 'false')) IN ('true', '1', 'yes');
    IF NOT v_unread AND pg_catalog.lower(coalesce(p_unread_only, 'false')) NOT IN ('false', '0', 'no', '') THEN
        PERFORM ex7._invalid('["query","unreadOnly"]', 'unreadOnly must be true or false', 'type_error.bool');
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'notifications', coalesce((
            SELECT pg_catalog.jsonb_agg(ex7._notification_json(n) ORDER BY n.created_at DESC, n.id DESC)
              FROM (SELECT * FROM ex7.notifications x
                     WHERE x.user_id = p_user AND (p_type IS NULL OR x.type = p_type)
                       AND (NOT v_unread OR x.read_at IS NULL)
                     ORDER BY x.created_at DESC, x.id DESC
                     LIMIT p_limit OFFSET p_offset) n), '[]'),
        'total', (SELECT pg_catalog.count(*) FROM ex7.notifications x
                   WHERE x.user_id = p_user AND (p_type IS NULL OR x.type = p_type)
                     AND (NOT v_unread OR x.read_at IS NULL)));
END
$$;
COMMENT ON FUNCTION ex7.list_notifications(uuid, text, text, integer, integer) IS
'Returns {notifications, total}: the user''s notifications newest first, filtered by type and unreadOnly (true/false), limit 1..200 (default 50) from offset (default 0); total counts every match. X7422 for a bad type, unreadOnly, limit or offset.';

CREATE OR REPLACE FUNCTION ex7.mark_all_notifications_read(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_n integer;
BEGIN
    UPDATE ex7.notifications SET read_at = pg_catalog.now() WHERE user_id = p_user AND read_at IS NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object('success', true, 'updated', v_n);
END
$$;
COMMENT ON FUNCTION ex7.mark_all_notifications_read(uuid) IS 'Returns {success: true, updated: n} after marking every unread notification of the user read.';

CREATE OR REPLACE FUNCTION ex7.mark_notification_read(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- a value: Citus refuses now() inside coalesce in an UPDATE of a distributed table
    -- (docs/citus-statements.md)
    v_now timestamptz := pg_catalog.now();
BEGIN
    UPDATE ex7.notifications SET read_at = coalesce(read_at, v_now) WHERE user_id = p_user AND id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'notification not found');
    END IF;
    RETURN '{"success": true}';
END
$$;
COMMENT ON FUNCTION ex7.mark_notification_read(uuid, uuid) IS 'Returns {success: true} after marking the notification read (kept when already read); X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.delete_notification(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    DELETE FROM ex7.notifications WHERE user_id = p_user AND id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'notification not found');
    END IF;
    RETURN '{"success": true}';
END
$$;
COMMENT ON FUNCTION ex7.delete_notification(uuid, uuid) IS 'Returns {success: true} after deleting the notification for good; X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.get_notification_preferences(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_prefs jsonb;
BEGIN
    -- the user's row first, then the list of types: a subquery on a distributed table correlated with a
    -- function's rows is not something Citus plans (docs/citus-statements.md)
    SELECT np.preferences INTO v_prefs FROM ex7.notification_preferences np WHERE np.user_id = p_user;
    -- every type, on unless turned off
    RETURN (SELECT pg_catalog.jsonb_build_object('notification_preferences', pg_catalog.jsonb_object_agg(t,
                       coalesce(v_prefs -> t, 'true'::jsonb) ORDER BY o))
              FROM pg_catalog.unnest(ex7._notification_types()) WITH ORDINALITY AS u(t, o));
END
$$;
COMMENT ON FUNCTION ex7.get_notification_preferences(uuid) IS
'Returns {notification_preferences: {type: boolean}} for every notification type (on unless turned off).';

CREATE OR REPLACE FUNCTION ex7.set_notification_preferences(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_prefs jsonb := p_body -> 'notification_preferences';
    v_key text;
    -- a value: Citus takes only IMMUTABLE functions in ON CONFLICT DO UPDATE SET
    -- (docs/citus-statements.md)
    v_now timestamptz := pg_catalog.now();
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF pg_catalog.jsonb_typeof(v_prefs) IS DISTINCT FROM 'object' THEN
        PERFORM ex7._invalid('["body","notification_preferences"]',
                             'notification_preferences must be an object of type: boolean', 'type_error.dict');
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(v_prefs) k ORDER BY k LOOP
        IF NOT v_key = ANY (ex7._notification_types()) THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'notification_preferences', v_key),
                                 'unknown notification type', 'value_error.const');
        END IF;
        IF pg_catalog.jsonb_typeof(v_prefs -> v_key) <> 'boolean' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'notification_preferences', v_key),
                                 'value is not a valid boolean', 'type_error.bool');
        END IF;
    END LOOP;
    INSERT INTO ex7.notification_preferences AS np (user_id, preferences) VALUES (p_user, v_prefs)
    ON CONFLICT (user_id) DO UPDATE SET preferences = np.preferences || EXCLUDED.preferences,
                                        updated_at = v_now;
    RETURN pg_catalog.jsonb_build_object('success', true) || ex7.get_notification_preferences(p_user);
END
$$;
COMMENT ON FUNCTION ex7.set_notification_preferences(uuid, jsonb) IS
'Returns {success: true, notification_preferences} after merging body {notification_preferences: {type: boolean}} into the user''s preferences. X7422 for a non-object, an unknown type or a non-boolean value.';
