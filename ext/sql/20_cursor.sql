/* ext/sql/20_cursor.sql: opaque keyset cursors (ext/cursor.c). Every list that pages by keyset encodes
 * the (sort key, id) of the last row it returned and decodes what the client sends back. */

CREATE OR REPLACE FUNCTION ex7.cursor_encode(p_kind text, p_user uuid, p_ts timestamptz, p_id text)
RETURNS text
AS 'MODULE_PATHNAME', 'cursor_encode'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7.cursor_encode(text, uuid, timestamptz, text) IS
'Returns an opaque, signed cursor for position (p_ts, p_id) of list p_kind as seen by user p_user.';

CREATE OR REPLACE FUNCTION ex7.cursor_decode(p_kind text, p_user uuid, p_cursor text, OUT ts timestamptz, OUT id text)
RETURNS record
AS 'MODULE_PATHNAME', 'cursor_decode'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7.cursor_decode(text, uuid, text) IS
'Returns the (ts, id) position a cursor of list p_kind for user p_user encodes. Raises X7422 (loc ["query","cursor"]) when the cursor is malformed, edited, or belongs to another list or user.';

/*
 * _keyset_page: the answer of a list paged by keyset, {items, next_cursor}, from the items of its query
 * (newest first, at most p_limit + 1: the one more says a next page exists) and their count p_n. The
 * next cursor is the position of the page's last item: its p_ts_key member and its id.
 */
CREATE OR REPLACE FUNCTION ex7._keyset_page(p_items jsonb, p_n integer, p_limit integer, p_kind text, p_user uuid,
                                            p_ts_key text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_last jsonb;
BEGIN
    IF p_n > p_limit THEN
        v_last := p_items -> (p_limit - 1);
        p_items := p_items - p_limit;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'items', coalesce(p_items, '[]'),
        'next_cursor', CASE WHEN v_last IS NOT NULL
                            THEN ex7.cursor_encode(p_kind, p_user, (v_last ->> p_ts_key)::timestamptz, v_last ->> 'id') END);
END
$$;
COMMENT ON FUNCTION ex7._keyset_page(jsonb, integer, integer, text, uuid, text) IS
'Returns {items, next_cursor} of a keyset page from the query''s p_items (at most p_limit + 1, the extra one meaning more) and their count p_n; next_cursor encodes the last item''s p_ts_key and id for list p_kind of p_user, NULL on the last page.';
