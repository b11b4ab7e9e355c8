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
