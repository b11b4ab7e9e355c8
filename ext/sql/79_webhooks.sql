/* ext/sql/79_webhooks.sql: webhook intake (docs/webhooks.md). A user's hooks (create, list, get, change,
 * rotate the secret, delete, the log of calls) and the public intake, ex7.hook_intake, which turns a
 * TradingView alert or a TradersPost-style body into fires and closes of the hook's strategy through the
 * same risk gate as the dispatcher (ex7._fire_signal, 60_signals.sql).
 *
 * The intake is public: TradingView can neither sign a request nor set a header, so a hook is named by
 * its id in the path (122 random bits) and authenticated by the secret in the body's "passphrase",
 * compared in constant time (ex7._secret_equal over SHA-256 digests). A wrong secret and an unknown hook
 * answer the same 404. */

/* ---------------------------------------------------------------------------------------------------
 * Shapes and checks.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._hook_json(p_id uuid, p_strategy_id uuid, p_label text, p_mode text,
                                          p_max_age integer, p_dedupe integer, p_paused_at timestamptz,
                                          p_created_at timestamptz, p_updated_at timestamptz,
                                          p_rotated_at timestamptz, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', p_id,
        'strategy_id', p_strategy_id,
        'label', p_label,
        'mode', p_mode,
        'path', '/api/hooks/' || p_id,
        'url', coalesce(pg_catalog.rtrim(p_public_url, '/'), '') || '/api/hooks/' || p_id,
        'max_age_seconds', p_max_age,
        'dedupe_seconds', p_dedupe,
        'paused', p_paused_at IS NOT NULL,
        'paused_at', p_paused_at,
        'created_at', p_created_at,
        'updated_at', p_updated_at,
        'secret_rotated_at', p_rotated_at);
$$;
COMMENT ON FUNCTION ex7._hook_json(uuid, uuid, text, text, integer, integer, timestamptz, timestamptz, timestamptz, timestamptz, text) IS
'Returns a hook as the API shows it: {id, strategy_id, label, mode, path, url (the public URL when given, else the path), max_age_seconds, dedupe_seconds, paused, paused_at, created_at, updated_at, secret_rotated_at}; never the secret.';

/* the columns a bound role may read (99_grants.sql): every reader names them, never the secret's hash */
CREATE OR REPLACE FUNCTION ex7._hook_get(p_user uuid, p_id uuid, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
BEGIN
    SELECT ex7._hook_json(h.id, h.strategy_id, h.label, h.mode::text, h.max_age_seconds, h.dedupe_seconds,
                          h.paused_at, h.created_at, h.updated_at, h.secret_rotated_at, p_public_url)
      INTO v
      FROM ex7.hooks h WHERE h.user_id = p_user AND h.id = p_id;
    IF v IS NULL THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._hook_get(uuid, uuid, text) IS
'Returns the user''s hook as JSON (ex7._hook_json); X7404 when it is not the user''s.';

/* a new secret: 32 random bytes as hex behind a prefix that says what it is */
CREATE OR REPLACE FUNCTION ex7._hook_secret()
RETURNS text
LANGUAGE sql VOLATILE
AS $$
    SELECT 'whk_' || pg_catalog.encode(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                                       || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()), 'hex');
$$;
COMMENT ON FUNCTION ex7._hook_secret() IS 'Returns a new hook secret: "whk_" and 64 hex digits of random bytes (244 random bits).';

CREATE OR REPLACE FUNCTION ex7._hook_digest(p_secret text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(p_secret, 'UTF8'));
$$;
COMMENT ON FUNCTION ex7._hook_digest(text) IS 'Returns the SHA-256 digest of a hook secret, as ex7.hooks.secret_hash stores it.';

CREATE OR REPLACE FUNCTION ex7._secret_equal(p_a bytea, p_b bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'secret_equal'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._secret_equal(bytea, bytea) IS
'True when the two byte strings are equal, compared in time that depends only on their length (CRYPTO_memcmp): for secrets and their digests.';

/* _hook_int: an integer member of a hook body in [p_lo, p_hi], or p_default when absent */
CREATE OR REPLACE FUNCTION ex7._hook_int(p_body jsonb, p_key text, p_lo integer, p_hi integer, p_default integer)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_body -> p_key;
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN p_default;
    END IF;
    IF pg_catalog.jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric <> pg_catalog.trunc((v #>> '{}')::numeric)
       OR (v #>> '{}')::numeric NOT BETWEEN p_lo AND p_hi THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', p_key),
                             pg_catalog.format('%s must be an integer from %s to %s', p_key, p_lo, p_hi),
                             'value_error.number.range');
    END IF;
    RETURN (v #>> '{}')::integer;
END
$$;
COMMENT ON FUNCTION ex7._hook_int(jsonb, text, integer, integer, integer) IS
'Returns the integer member p_key of a hook body when it lies in p_lo..p_hi, p_default when absent or null; raises X7422 at ["body", p_key] otherwise.';

CREATE OR REPLACE FUNCTION ex7._hook_label(p_body jsonb, p_required boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_body -> 'label';
BEGIN
    IF v IS NULL AND NOT p_required THEN
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'string' OR pg_catalog.btrim(v #>> '{}') = ''
       OR pg_catalog.length(v #>> '{}') > 100 THEN
        PERFORM ex7._invalid('["body","label"]', 'label must be a string of 1 to 100 characters',
                             CASE WHEN v IS NULL THEN 'value_error.missing' ELSE 'value_error.any_str' END);
    END IF;
    RETURN pg_catalog.btrim(v #>> '{}');
END
$$;
COMMENT ON FUNCTION ex7._hook_label(jsonb, boolean) IS
'Returns the trimmed label of a hook body (NULL when absent and not required); raises X7422 at ["body","label"] for a missing, empty or over-100-character label.';

/* ---------------------------------------------------------------------------------------------------
 * The user's hooks.
 * ------------------------------------------------------------------------------------------------- */

/*
 * create_hook: POST /api/hooks, {"strategy_id", "label", "mode" (paper, default, or live),
 * "max_age_seconds", "dedupe_seconds"}. 201 with the hook and its secret, shown this once. Counts against
 * the tier's hooks_max; trading needs the compliance documents accepted (docs/billing.md, "The gate").
 */
CREATE OR REPLACE FUNCTION ex7.create_hook(p_user uuid, p_body jsonb, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_strategy uuid;
    v_label text;
    v_mode text;
    v_max_age integer;
    v_dedupe integer;
    v_tier text;
    v_max integer;
    v_used bigint;
    v_secret text := ex7._hook_secret();
    v_id uuid := pg_catalog.gen_random_uuid();
BEGIN
    PERFORM ex7._lock_user(p_user);
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'body must be a JSON object', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(p_body, ARRAY['strategy_id', 'label', 'mode', 'max_age_seconds', 'dedupe_seconds']);
    IF pg_catalog.jsonb_typeof(p_body -> 'strategy_id') IS DISTINCT FROM 'string'
       OR (p_body ->> 'strategy_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM ex7._invalid('["body","strategy_id"]', 'strategy_id must be a uuid',
                             CASE WHEN p_body ? 'strategy_id' THEN 'type_error.uuid' ELSE 'value_error.missing' END);
    END IF;
    v_strategy := (p_body ->> 'strategy_id')::uuid;
    v_label := ex7._hook_label(p_body, true);
    v_mode := coalesce(p_body ->> 'mode', 'paper');
    PERFORM ex7._check_trade_mode(v_mode, '["body","mode"]');
    v_max_age := ex7._hook_int(p_body, 'max_age_seconds', 5, 86400, 120);
    v_dedupe := ex7._hook_int(p_body, 'dedupe_seconds', 0, 86400, 60);
    IF NOT EXISTS (SELECT 1 FROM ex7.strategies s
                    WHERE s.user_id = p_user AND s.id = v_strategy AND s.deleted_at IS NULL) THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    PERFORM ex7._require_compliance(p_user);
    -- the tier first: it reads the user's rows (docs/citus-statements.md)
    v_tier := ex7._current_tier(p_user);
    SELECT t.hooks_max INTO v_max FROM ex7.tiers t WHERE t.tier = v_tier;
    SELECT pg_catalog.count(*) INTO v_used FROM ex7.hooks h WHERE h.user_id = p_user;
    IF v_used >= coalesce(v_max, 0) THEN
        PERFORM ex7._tier_limit(p_user, 'hooks', coalesce(v_max, 0), v_used, v_tier);
    END IF;
    INSERT INTO ex7.hooks (id, user_id, strategy_id, label, mode, secret_hash, max_age_seconds, dedupe_seconds)
    VALUES (v_id, p_user, v_strategy, v_label, v_mode::ex7.trade_mode, ex7._hook_digest(v_secret), v_max_age,
            v_dedupe);
    RETURN ex7._hook_get(p_user, v_id, p_public_url) || pg_catalog.jsonb_build_object('secret', v_secret);
END
$$;
COMMENT ON FUNCTION ex7.create_hook(uuid, jsonb, text) IS
'Returns the new hook (ex7._hook_json) with its secret, shown this once (POST /api/hooks, 201). Body {strategy_id, label, mode paper|live (default paper), max_age_seconds 5..86400 (default 120), dedupe_seconds 0..86400 (default 60)}. X7404 for a strategy not the user''s; X7412 until the compliance documents are accepted; X7403 tier_limit_reached over the tier''s hooks_max; X7422 for bad input.';

CREATE OR REPLACE FUNCTION ex7.list_hooks(p_user uuid, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN pg_catalog.jsonb_build_object('items', coalesce((
        SELECT pg_catalog.jsonb_agg(ex7._hook_json(h.id, h.strategy_id, h.label, h.mode::text, h.max_age_seconds,
                                                   h.dedupe_seconds, h.paused_at, h.created_at, h.updated_at,
                                                   h.secret_rotated_at, p_public_url)
                                    ORDER BY h.created_at, h.id)
          FROM ex7.hooks h WHERE h.user_id = p_user), '[]'));
END
$$;
COMMENT ON FUNCTION ex7.list_hooks(uuid, text) IS 'Returns {items}: the user''s hooks, oldest first (GET /api/hooks).';

CREATE OR REPLACE FUNCTION ex7.get_hook(p_user uuid, p_id uuid, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ex7._hook_get(p_user, p_id, p_public_url);
END
$$;
COMMENT ON FUNCTION ex7.get_hook(uuid, uuid, text) IS 'Returns one of the user''s hooks (GET /api/hooks/{hook_id} with a token); X7404 when not the user''s.';

/*
 * update_hook: PATCH /api/hooks/{hook_id}, any of {"label", "paused", "max_age_seconds", "dedupe_seconds"}.
 * A paused hook answers every alert 409 hook_paused (recorded as rejected).
 */
CREATE OR REPLACE FUNCTION ex7.update_hook(p_user uuid, p_id uuid, p_body jsonb, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_label text;
    v_paused_at timestamptz;
    v_max_age integer;
    v_dedupe integer;
    v_now timestamptz := pg_catalog.now();
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'body must be a JSON object', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(p_body, ARRAY['label', 'paused', 'max_age_seconds', 'dedupe_seconds']);
    SELECT h.label, h.paused_at, h.max_age_seconds, h.dedupe_seconds INTO v_label, v_paused_at, v_max_age, v_dedupe
      FROM ex7.hooks h WHERE h.user_id = p_user AND h.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    v_label := coalesce(ex7._hook_label(p_body, false), v_label);
    IF p_body ? 'paused' THEN
        IF pg_catalog.jsonb_typeof(p_body -> 'paused') IS DISTINCT FROM 'boolean' THEN
            PERFORM ex7._invalid('["body","paused"]', 'value is not a valid boolean', 'type_error.bool');
        END IF;
        v_paused_at := CASE WHEN (p_body ->> 'paused')::boolean THEN coalesce(v_paused_at, v_now) END;
    END IF;
    v_max_age := ex7._hook_int(p_body, 'max_age_seconds', 5, 86400, v_max_age);
    v_dedupe := ex7._hook_int(p_body, 'dedupe_seconds', 0, 86400, v_dedupe);
    UPDATE ex7.hooks
       SET label = v_label, paused_at = v_paused_at, max_age_seconds = v_max_age, dedupe_seconds = v_dedupe,
           updated_at = v_now
     WHERE user_id = p_user AND id = p_id;
    RETURN ex7._hook_get(p_user, p_id, p_public_url);
END
$$;
COMMENT ON FUNCTION ex7.update_hook(uuid, uuid, jsonb, text) IS
'Returns the hook after changing any of label, paused (true pauses: alerts answer 409 hook_paused), max_age_seconds, dedupe_seconds (PATCH /api/hooks/{hook_id}). X7404 when not the user''s; X7422 for bad input.';

CREATE OR REPLACE FUNCTION ex7.rotate_hook_secret(p_user uuid, p_id uuid, p_public_url text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_secret text := ex7._hook_secret();
    v_now timestamptz := pg_catalog.now();
BEGIN
    UPDATE ex7.hooks SET secret_hash = ex7._hook_digest(v_secret), secret_rotated_at = v_now, updated_at = v_now
     WHERE user_id = p_user AND id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    RETURN ex7._hook_get(p_user, p_id, p_public_url) || pg_catalog.jsonb_build_object('secret', v_secret);
END
$$;
COMMENT ON FUNCTION ex7.rotate_hook_secret(uuid, uuid, text) IS
'Returns the hook with a new secret, shown this once (POST /api/hooks/{hook_id}/rotate); the old secret stops working at commit. X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.delete_hook(p_user uuid, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- its log goes with it (hook_events_hook_fkey ON DELETE CASCADE), deleted here first by (user, hook):
    -- on Citus a cascade is a statement of its own on the user's shard either way
    DELETE FROM ex7.hook_events e WHERE e.user_id = p_user AND e.hook_id = p_id;
    DELETE FROM ex7.hooks h WHERE h.user_id = p_user AND h.id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7.delete_hook(uuid, uuid) IS
'Returns nothing (204) after deleting the hook and its log; its URL answers 404 from then on. Signals it fired stay. X7404 when not the user''s.';

/*
 * list_hook_events: GET /api/hooks/{hook_id}/events, newest first by (received_at, id), keyset pages as
 * list_signals (docs/signals.md). Each call with its outcome, HTTP status, action, body (the passphrase
 * left out) and result.
 */
CREATE OR REPLACE FUNCTION ex7.list_hook_events(p_user uuid, p_id uuid, p_outcome text DEFAULT NULL,
                                                p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items jsonb;
    v_n integer;
BEGIN
    PERFORM ex7._hook_get(p_user, p_id);
    IF p_outcome IS NOT NULL AND p_outcome NOT IN ('accepted', 'duplicate', 'stale', 'blocked', 'invalid',
                                                   'rejected', 'rate_limited') THEN
        PERFORM ex7._invalid('["query","outcome"]',
                             'outcome must be one of accepted, duplicate, stale, blocked, invalid, rejected, rate_limited',
                             'value_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('hook_events', p_user, p_cursor) c;
    END IF;
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', e.id, 'received_at', e.received_at, 'outcome', e.outcome, 'http_status', e.http_status,
               'action', e.action, 'body', e.body, 'result', e.result) ORDER BY e.received_at DESC, e.id DESC),
           count(*)
      INTO v_items, v_n
      FROM (SELECT x.* FROM ex7.hook_events x
             WHERE x.user_id = p_user AND x.hook_id = p_id AND (x.received_at, x.id) < (v_ts, v_id)
               AND (p_outcome IS NULL OR x.outcome = p_outcome)
             ORDER BY x.received_at DESC, x.id DESC
             LIMIT v_limit + 1) e;
    RETURN ex7._keyset_page(v_items, v_n, v_limit, 'hook_events', p_user, 'received_at');
END
$$;
COMMENT ON FUNCTION ex7.list_hook_events(uuid, uuid, text, text, integer) IS
'Returns {items, next_cursor}: the hook''s calls, newest first, each {id, received_at, outcome, http_status, action, body (without the passphrase), result}; optionally of one outcome. X7404 when the hook is not the user''s; X7422 for a bad outcome, cursor or limit (1..200).';

/* ---------------------------------------------------------------------------------------------------
 * The intake.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _hook_ticker: the ex7 instrument of a futures ticker as TradingView writes it: the continuous contract
 * "MNQ1!" (front month; "MNQ2!" the next), a dated contract "MNQZ2026" or "MNQZ26" (CME month codes F G
 * H J K M N Q U V X Z), either behind an exchange prefix "CME_MINI:", or the bare root "MNQ". The prefix
 * is TradingView's name of the exchange: CME, CME_MINI (ES, NQ, RTY and their micros), CBOT, CBOT_MINI
 * (YM, MYM), NYMEX (CL, MCL), COMEX (GC, MGC), each optionally with _DL (delayed data). NULL when the
 * ticker names no instrument of ex7.instruments.
 */
CREATE OR REPLACE FUNCTION ex7._hook_ticker(p_ticker text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m text[];
    v_root text;
    v_prefix text;
    v_symbol text;
BEGIN
    m := pg_catalog.regexp_match(pg_catalog.upper(pg_catalog.btrim(p_ticker)),
                                 '^(?:([A-Z_]+):)?([A-Z0-9]+?)(?:[0-9]!|[FGHJKMNQUVXZ](?:20)?[0-9]{2})?$');
    IF m IS NULL THEN
        RETURN NULL;
    END IF;
    v_prefix := pg_catalog.regexp_replace(m[1], '_DL$', '');
    v_root := m[2];
    SELECT i.symbol INTO v_symbol FROM ex7.instruments i WHERE i.symbol = v_root;
    IF v_symbol IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_prefix IS NOT NULL AND v_prefix <> ALL (CASE
            WHEN v_symbol IN ('ES', 'MES', 'NQ', 'MNQ', 'RTY', 'M2K') THEN ARRAY['CME', 'CME_MINI']
            WHEN v_symbol IN ('YM', 'MYM') THEN ARRAY['CBOT', 'CBOT_MINI']
            WHEN v_symbol IN ('CL', 'MCL') THEN ARRAY['NYMEX']
            WHEN v_symbol IN ('GC', 'MGC') THEN ARRAY['COMEX']
            ELSE ARRAY[]::text[] END) THEN
        RETURN NULL;
    END IF;
    RETURN v_symbol;
END
$$;
COMMENT ON FUNCTION ex7._hook_ticker(text) IS
'Returns the ex7 instrument a TradingView futures ticker names ("MNQ1!", "MNQZ2026", "MNQZ26", "CME_MINI:MNQ1!", "MNQ"), NULL when it names none (an unknown root, or an exchange prefix that does not list it).';

/* _hook_number: a decimal member given as a JSON number or a numeric string (TradingView's placeholders
 * are text: "{{close}}" arrives as "5012.25" or 5012.25, as the alert's message was written) */
CREATE OR REPLACE FUNCTION ex7._hook_number(p_body jsonb, p_key text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_body -> p_key;
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(v) = 'number'
       OR (pg_catalog.jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^\s*[0-9]+(\.[0-9]+)?\s*$') THEN
        RETURN pg_catalog.btrim(v #>> '{}')::numeric;
    END IF;
    PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', p_key),
                         pg_catalog.format('%s must be a positive number', p_key), 'type_error.number');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._hook_number(jsonb, text) IS
'Returns the decimal member p_key of an alert (a JSON number or a numeric string), NULL when absent or null; raises X7422 at ["body", p_key] otherwise.';

/*
 * _hook_parse: the alert's fields, checked: {ticker, instrument, action, sentiment, quantity, price, time,
 * order_id, comment, intent, side}. intent is what the alert asks of the strategy's position:
 *   enter (side long or short): buy with sentiment long or none, sell with sentiment short or none; an
 *         open position of the other side is closed first (reverse);
 *   exit (side: the side to close): buy with sentiment short closes shorts, sell with sentiment long
 *         closes longs (TradingView's sentiment is the position after the order: still on that side, so
 *         the order reduced it; ex7 closes that side's open signals);
 *   flatten: action exit (TradersPost), or sentiment flat: close every open signal of the strategy;
 *   cancel:  TradersPost's cancel of working orders: ex7 keeps none, so nothing happens.
 * Raises X7422 with the field's locator (["body", name]).
 */
CREATE OR REPLACE FUNCTION ex7._hook_parse(p_body jsonb, p_instrument text, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_action text;
    v_sentiment text;
    v_instrument text;
    v_qty numeric;
    v_price numeric;
    v_time timestamptz;
    v_intent text;
    v_side text;
BEGIN
    IF pg_catalog.jsonb_typeof(p_body -> 'ticker') IS DISTINCT FROM 'string' THEN
        PERFORM ex7._invalid('["body","ticker"]', 'ticker is required (a futures ticker such as MNQ1!)',
                             CASE WHEN p_body ? 'ticker' THEN 'type_error.str' ELSE 'value_error.missing' END);
    END IF;
    v_instrument := ex7._hook_ticker(p_body ->> 'ticker');
    IF v_instrument IS NULL THEN
        PERFORM ex7._invalid('["body","ticker"]',
                             pg_catalog.format('ticker %s names no ex7 instrument', p_body ->> 'ticker'),
                             'value_error.ticker');
    END IF;
    IF v_instrument <> p_instrument THEN
        PERFORM ex7._invalid('["body","ticker"]',
                             pg_catalog.format('ticker %s is %s; this hook''s strategy trades %s',
                                               p_body ->> 'ticker', v_instrument, p_instrument),
                             'value_error.ticker');
    END IF;
    v_action := pg_catalog.lower(p_body ->> 'action');
    IF pg_catalog.jsonb_typeof(p_body -> 'action') IS DISTINCT FROM 'string'
       OR v_action NOT IN ('buy', 'sell', 'exit', 'cancel') THEN
        PERFORM ex7._invalid('["body","action"]', 'action must be one of buy, sell, exit, cancel',
                             CASE WHEN p_body ? 'action' THEN 'value_error.enum' ELSE 'value_error.missing' END);
    END IF;
    IF p_body ? 'sentiment' AND p_body -> 'sentiment' <> 'null' THEN
        v_sentiment := pg_catalog.lower(p_body ->> 'sentiment');
        IF pg_catalog.jsonb_typeof(p_body -> 'sentiment') <> 'string' OR v_sentiment NOT IN ('long', 'short', 'flat') THEN
            PERFORM ex7._invalid('["body","sentiment"]', 'sentiment must be one of long, short, flat', 'value_error.enum');
        END IF;
    END IF;
    -- contracts (TradingView's {{strategy.order.contracts}}) or quantity (TradersPost)
    IF p_body ? 'contracts' AND p_body -> 'contracts' <> 'null' THEN
        v_qty := ex7._hook_number(p_body, 'contracts');
        IF v_qty <> pg_catalog.trunc(v_qty) OR v_qty < 1 OR v_qty > 10000 THEN
            PERFORM ex7._invalid('["body","contracts"]', 'contracts must be a whole number from 1 to 10000',
                                 'value_error.number.range');
        END IF;
    ELSE
        v_qty := ex7._hook_number(p_body, 'quantity');
        IF v_qty IS NOT NULL AND (v_qty <> pg_catalog.trunc(v_qty) OR v_qty < 1 OR v_qty > 10000) THEN
            PERFORM ex7._invalid('["body","quantity"]', 'quantity must be a whole number from 1 to 10000',
                                 'value_error.number.range');
        END IF;
    END IF;
    v_price := ex7._hook_number(p_body, 'price');
    IF v_price IS NOT NULL THEN
        PERFORM ex7._check_price(v_price, (SELECT i.tick_size FROM ex7.instruments i WHERE i.symbol = v_instrument),
                                 '["body","price"]');
    END IF;
    IF p_body ? 'time' AND p_body -> 'time' <> 'null' THEN
        BEGIN
            IF pg_catalog.jsonb_typeof(p_body -> 'time') <> 'string'
               OR (p_body ->> 'time') !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$' THEN
                RAISE invalid_datetime_format;
            END IF;
            v_time := (p_body ->> 'time')::timestamptz;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
            PERFORM ex7._invalid('["body","time"]', 'time must be an ISO 8601 date-time with its offset',
                                 'value_error.datetime');
        END;
        IF v_time > p_now + interval '1 minute' THEN
            PERFORM ex7._invalid('["body","time"]', 'time is in the future', 'value_error.datetime');
        END IF;
    END IF;
    IF p_body ? 'id' AND p_body -> 'id' <> 'null' AND (pg_catalog.jsonb_typeof(p_body -> 'id') NOT IN ('string', 'number')
                                                       OR pg_catalog.length(p_body ->> 'id') NOT BETWEEN 1 AND 128) THEN
        PERFORM ex7._invalid('["body","id"]', 'id must be a string of 1 to 128 characters', 'type_error.str');
    END IF;
    IF p_body ? 'comment' AND p_body -> 'comment' <> 'null' AND (pg_catalog.jsonb_typeof(p_body -> 'comment') <> 'string'
                                                                 OR pg_catalog.length(p_body ->> 'comment') > 500) THEN
        PERFORM ex7._invalid('["body","comment"]', 'comment must be a string of at most 500 characters', 'type_error.str');
    END IF;

    IF v_action = 'cancel' THEN
        v_intent := 'cancel';
    ELSIF v_action = 'exit' OR v_sentiment = 'flat' THEN
        v_intent := 'flatten';
    ELSIF v_action = 'buy' AND v_sentiment = 'short' THEN
        v_intent := 'exit';
        v_side := 'short';
    ELSIF v_action = 'sell' AND v_sentiment = 'long' THEN
        v_intent := 'exit';
        v_side := 'long';
    ELSE
        v_intent := 'enter';
        v_side := CASE v_action WHEN 'buy' THEN 'long' ELSE 'short' END;
        IF v_qty IS NULL THEN
            PERFORM ex7._invalid(CASE WHEN p_body ? 'quantity' THEN '["body","quantity"]'::jsonb
                                      ELSE '["body","contracts"]'::jsonb END,
                                 'contracts (or quantity) is required to enter', 'value_error.missing');
        END IF;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'ticker', p_body ->> 'ticker', 'instrument', v_instrument, 'action', v_action, 'sentiment', v_sentiment,
        'quantity', v_qty, 'price', v_price::text, 'time', v_time, 'order_id', p_body ->> 'id',
        'comment', p_body ->> 'comment', 'intent', v_intent, 'side', v_side);
END
$$;
COMMENT ON FUNCTION ex7._hook_parse(jsonb, text, timestamptz) IS
'Returns the checked fields of an alert body and its intent (enter, exit, flatten, cancel) and side, for the hook''s strategy instrument p_instrument: TradingView members passphrase, ticker, action buy|sell, contracts, price, time, sentiment long|short|flat, id, comment; TradersPost action buy|sell|exit|cancel, quantity. Raises X7422 at the failing member.';

/* _hook_log: records one call and returns its answer (the result, with _status for ex7d when not 200) */
CREATE OR REPLACE FUNCTION ex7._hook_log(p_user uuid, p_hook uuid, p_now timestamptz, p_outcome text, p_status integer,
                                         p_dedupe text, p_action text, p_body jsonb, p_result jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO ex7.hook_events (user_id, hook_id, received_at, outcome, http_status, dedupe_key, action, body, result)
    VALUES (p_user, p_hook, p_now, p_outcome, p_status, p_dedupe, p_action, p_body - 'passphrase', p_result);
    IF p_status = 200 THEN
        RETURN p_result;
    END IF;
    -- an error answer is {"detail": ...} like every other (docs/errors.md); the outcome is in the log
    RETURN pg_catalog.jsonb_build_object('detail', p_result -> 'detail', '_status', p_status);
END
$$;
COMMENT ON FUNCTION ex7._hook_log(uuid, uuid, timestamptz, text, integer, text, text, jsonb, jsonb) IS
'Returns the answer to a hook call after recording it in ex7.hook_events (the body without its passphrase and the whole result): the result for a 200, else {detail, _status} (ex7d answers with that status and {detail}).';

/*
 * hook_intake: POST /api/hooks/{hook_id}, public. p_hook is the path segment, p_body the request body as
 * sent (TradingView posts the alert's message text, JSON when it is JSON). In order:
 *   1. the body must be a JSON object (422, "field required" when empty; recorded nowhere: no hook is
 *      known yet);
 *   2. the hook and its secret: "passphrase" compared in constant time with the hook's; an unknown hook,
 *      an id that is not a uuid (ex7d answers 422 before) and a wrong or missing secret are the same 404
 *      and are not recorded;
 *   3. the user row is locked, as every fire and close of the user takes it (60_signals.sql): two copies
 *      of one alert run one after the other, and the second finds the first in the log;
 *   4. per-hook rate limit, the owner's tier's hook_alerts_per_minute and hook_alerts_per_day (60 and 5,000
 *      as installed; 429, rate_limited);
 *   5. a paused hook, a strategy that is not ready or live (or not live for a live hook), or documents not
 *      accepted: rejected (409, or 412 for the documents);
 *   6. the fields (422 invalid, with the locator); an alert older than the hook's max_age_seconds by its
 *      own time: stale (422 at ["body","time"]);
 *   7. a repeat: the same order id ever, or the same body within dedupe_seconds, answers 200 with the
 *      first call's result and does nothing (duplicate);
 *   8. the intent: closes (at the alert's price, else the mark) and a fire through the risk gate; a fire
 *      the gate refuses is in the blocked log with its reason (blocked).
 * Every call from step 3 on is recorded in ex7.hook_events with its outcome. Answers {outcome, intent,
 * side, closed: [signals], signal | blocked, hook_event_id}, with "_status" for ex7d when not 200.
 */
CREATE OR REPLACE FUNCTION ex7.hook_intake(p_hook text, p_body text, p_now timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_body jsonb;
    v_id uuid;
    v_user uuid;
    v_hash bytea;
    v_strategy uuid;
    v_mode text;
    v_paused timestamptz;
    v_max_age integer;
    v_dedupe_s integer;
    st ex7.strategies;
    v_rate jsonb;
    v_tier text;
    v_per_minute integer;
    v_per_day integer;
    v_fields jsonb;
    v_err text;
    v_detail text;
    v_action text;
    v_key text;
    v_first jsonb;
    v_price numeric;
    v_closed jsonb := '[]';
    v_fire jsonb;
    v_result jsonb;
    v_mark record;
    s ex7.signals;
    v_close_ids uuid[];
    v_reason text;
BEGIN
    IF p_body IS NULL OR pg_catalog.btrim(p_body) = '' THEN
        PERFORM ex7._invalid('["body"]', 'field required', 'value_error.missing');
    END IF;
    BEGIN
        v_body := p_body::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        v_body := NULL;
    END;
    IF v_body IS NULL OR pg_catalog.jsonb_typeof(v_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'the alert must be a JSON object (TradingView: the alert''s message)',
                             'type_error.dict');
    END IF;
    IF p_hook !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    v_id := p_hook::uuid;
    -- the hook by its id alone (hooks_id_idx): its user, then everything by (user, id)
    SELECT h.user_id INTO v_user FROM ex7.hooks h WHERE h.id = v_id;
    IF v_user IS NULL THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    SELECT h.secret_hash INTO v_hash FROM ex7.hooks h WHERE h.user_id = v_user AND h.id = v_id;
    IF pg_catalog.jsonb_typeof(v_body -> 'passphrase') IS DISTINCT FROM 'string'
       OR NOT ex7._secret_equal(ex7._hook_digest(v_body ->> 'passphrase'), v_hash) THEN
        PERFORM ex7._raise(404, 'hook not found');
    END IF;

    PERFORM ex7._lock_user(v_user);
    SELECT h.strategy_id, h.mode::text, h.paused_at, h.max_age_seconds, h.dedupe_seconds
      INTO v_strategy, v_mode, v_paused, v_max_age, v_dedupe_s
      FROM ex7.hooks h WHERE h.user_id = v_user AND h.id = v_id;
    IF NOT FOUND THEN          -- deleted while this call waited for the lock
        PERFORM ex7._raise(404, 'hook not found');
    END IF;
    v_action := pg_catalog.lower(v_body ->> 'action');

    -- the owner's tier sets the hook's rate (tiers.hook_alerts_per_minute, hook_alerts_per_day); the tier
    -- first, on its own: it reads the user's rows (docs/citus-statements.md)
    v_tier := ex7._current_tier(v_user);
    SELECT t.hook_alerts_per_minute, t.hook_alerts_per_day INTO v_per_minute, v_per_day
      FROM ex7.tiers t WHERE t.tier = v_tier;
    v_rate := ex7.rate_take('hook:' || v_id, coalesce(v_per_minute, 60), coalesce(v_per_day, 5000), 1, 0, p_now);
    IF (v_rate ->> 'granted')::integer < 1 THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'rate_limited', 429, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'rate_limited',
                'detail', pg_catalog.format('too many alerts for this hook: at most %s a minute and %s a day',
                                            coalesce(v_per_minute, 60), coalesce(v_per_day, 5000)),
                'retry_after', v_rate -> 'retry_after'));
    END IF;

    SELECT * INTO st FROM ex7.strategies t WHERE t.user_id = v_user AND t.id = v_strategy;
    IF v_paused IS NOT NULL THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'rejected', 409, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'rejected', 'detail',
                pg_catalog.jsonb_build_object('code', 'hook_paused', 'message', 'the hook is paused')));
    END IF;
    IF st.deleted_at IS NOT NULL OR st.status NOT IN ('ready', 'live') OR (v_mode = 'live' AND st.status <> 'live') THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'rejected', 409, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'rejected', 'detail',
                pg_catalog.jsonb_build_object('code', 'strategy_not_active', 'status',
                    CASE WHEN st.deleted_at IS NOT NULL THEN 'deleted' ELSE st.status END,
                    'message', CASE WHEN v_mode = 'live'
                                    THEN 'a live hook fires only while its strategy is live'
                                    ELSE 'a hook fires only while its strategy is ready or live' END)));
    END IF;
    BEGIN
        PERFORM ex7._require_compliance(v_user);
    EXCEPTION WHEN SQLSTATE 'X7412' THEN
        GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
        RETURN ex7._hook_log(v_user, v_id, p_now, 'rejected', 412, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'rejected', 'detail', v_detail::jsonb));
    END;

    BEGIN
        v_fields := ex7._hook_parse(v_body, st.instrument, p_now);
    EXCEPTION WHEN SQLSTATE 'X7422' THEN
        GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
        RETURN ex7._hook_log(v_user, v_id, p_now, 'invalid', 422, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'invalid', 'detail', v_detail::jsonb));
    END;
    IF (v_fields ->> 'time')::timestamptz < p_now - v_max_age * interval '1 second' THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'stale', 422, NULL, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'stale', 'detail', pg_catalog.jsonb_build_array(
                pg_catalog.jsonb_build_object('loc', '["body","time"]'::jsonb,
                    'msg', pg_catalog.format('the alert is stale: its time is more than %s seconds ago', v_max_age),
                    'type', 'value_error.stale'))));
    END IF;

    -- a repeat: the order id whenever it came, else the same body (the passphrase aside) within the window
    v_key := CASE WHEN v_fields ->> 'order_id' IS NOT NULL THEN 'id:' || (v_fields ->> 'order_id')
                  ELSE 'body:' || pg_catalog.encode(pg_catalog.sha256(
                           pg_catalog.convert_to((v_body - 'passphrase')::text, 'UTF8')), 'hex') END;
    SELECT e.result INTO v_first FROM ex7.hook_events e
     WHERE e.user_id = v_user AND e.hook_id = v_id AND e.dedupe_key = v_key AND e.outcome IN ('accepted', 'blocked')
       AND (v_key LIKE 'id:%' OR e.received_at >= p_now - v_dedupe_s * interval '1 second')
     ORDER BY e.received_at DESC LIMIT 1;
    IF FOUND AND (v_key LIKE 'id:%' OR v_dedupe_s > 0) THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'duplicate', 200, v_key, v_action, v_body,
                             v_first || pg_catalog.jsonb_build_object('outcome', 'duplicate',
                                                                      'first_outcome', v_first -> 'outcome'));
    END IF;

    IF v_fields ->> 'intent' = 'cancel' THEN
        RETURN ex7._hook_log(v_user, v_id, p_now, 'accepted', 200, v_key, v_action, v_body,
            pg_catalog.jsonb_build_object('outcome', 'accepted', 'intent', 'cancel', 'side', NULL,
                                          'closed', '[]'::jsonb, 'signal', NULL,
                                          'note', 'ex7 keeps no working orders: nothing to cancel'));
    END IF;

    -- the price of the closes and of the entry: the alert's, else the mark (ex7._mark_price, as Close Signal)
    v_price := (v_fields ->> 'price')::numeric;
    IF v_price IS NULL THEN
        SELECT * INTO v_mark FROM ex7._mark_price(st.instrument, p_now);
        IF v_mark.price IS NULL OR NOT v_mark.fresh THEN
            RETURN ex7._hook_log(v_user, v_id, p_now, 'rejected', 409, v_key, v_action, v_body,
                pg_catalog.jsonb_build_object('outcome', 'rejected', 'detail', pg_catalog.jsonb_build_object(
                    'code', 'no_mark_price',
                    'message', 'the alert has no price and ' || st.instrument || ' has no recent bar to price it')));
        END IF;
        v_price := v_mark.price;
    END IF;

    -- closes: every open signal of the strategy in the hook's mode (flatten), of one side (exit), or of the
    -- side opposite the entry (reverse)
    v_reason := CASE v_fields ->> 'intent' WHEN 'enter' THEN 'reverse' ELSE 'exit_signal' END;
    SELECT pg_catalog.array_agg(x.id ORDER BY x.fired_at, x.id) INTO v_close_ids
      FROM ex7.signals x
     WHERE x.user_id = v_user AND x.strategy_id = v_strategy AND x.mode = v_mode::ex7.trade_mode AND x.status = 'open'
       AND CASE v_fields ->> 'intent'
               WHEN 'flatten' THEN true
               WHEN 'exit' THEN x.side = v_fields ->> 'side'
               ELSE x.side <> v_fields ->> 'side' END;
    FOR s IN SELECT * FROM ex7.signals x WHERE x.user_id = v_user AND x.id = ANY (coalesce(v_close_ids, '{}'))
                ORDER BY x.fired_at, x.id FOR UPDATE LOOP
        s := ex7._close_at(s, v_price, 'closed', v_reason, LEAST(coalesce((v_fields ->> 'time')::timestamptz, p_now), p_now));
        IF s.id IS NOT NULL THEN
            v_closed := v_closed || pg_catalog.jsonb_build_array(ex7._signal_json(s));
        END IF;
    END LOOP;

    IF v_fields ->> 'intent' = 'enter' THEN
        v_fire := ex7._fire_signal(v_user, v_strategy, v_mode, v_fields ->> 'side', (v_fields ->> 'quantity')::integer,
                                   v_price, coalesce((v_fields ->> 'time')::timestamptz, p_now),
                                   pg_catalog.left(v_fields ->> 'comment', 64), NULL, NULL, 'webhook', v_id);
    END IF;
    v_result := pg_catalog.jsonb_build_object(
        'outcome', CASE WHEN v_fire ->> 'decision' = 'blocked' THEN 'blocked' ELSE 'accepted' END,
        'intent', v_fields ->> 'intent', 'side', v_fields ->> 'side', 'closed', v_closed,
        'signal', v_fire -> 'signal', 'blocked', v_fire -> 'blocked');
    RETURN ex7._hook_log(v_user, v_id, p_now, v_result ->> 'outcome', 200, v_key, v_action, v_body, v_result);
END
$$;
COMMENT ON FUNCTION ex7.hook_intake(text, text, timestamptz) IS
'Returns the answer to an alert sent to hook p_hook (POST /api/hooks/{hook_id}, public; docs/webhooks.md): {outcome accepted|blocked|duplicate, intent enter|exit|flatten|cancel, side, closed, signal, blocked}, or {detail, _status 409|412|422|429} for a call logged as rejected, invalid, stale or rate_limited. X7404 for an unknown hook or a wrong passphrase (the same answer, not recorded); X7422 when the body is not a JSON object. Every authenticated call is recorded in ex7.hook_events. Service only: ex7d calls it.';
