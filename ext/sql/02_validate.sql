/* ext/sql/02_validate.sql: helpers shared by the body validators of the ex7 functions. Every body a
 * function accepts is a closed set of fields: an unknown one (a typo such as "form" for "from") is refused
 * with X7422 value_error.extra, the way the contract's FastAPI models refuse it, rather than ignored. */

CREATE OR REPLACE FUNCTION ex7._refuse_extra(p_body jsonb, p_allowed text[], p_path jsonb DEFAULT '["body"]')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_key text;
BEGIN
    -- the first unknown field in name order, so that the same body always names the same field
    SELECT k INTO v_key FROM pg_catalog.jsonb_object_keys(p_body) AS k WHERE k <> ALL (p_allowed) ORDER BY k LIMIT 1;
    IF v_key IS NOT NULL THEN
        PERFORM ex7._invalid(p_path || pg_catalog.to_jsonb(v_key), 'extra fields not permitted', 'value_error.extra');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._refuse_extra(jsonb, text[], jsonb) IS
'Returns nothing when every field of the object p_body is in p_allowed (a NULL body has none); raises X7422 value_error.extra at p_path + [field] for the first other field in name order.';
