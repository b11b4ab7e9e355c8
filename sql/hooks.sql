-- sql/hooks.sql: webhook intake (docs/webhooks.md). Hooks (create with the secret shown once, list, get,
-- pause, rotate, delete, the tier cap), the ticker forms TradingView writes, and the intake: bodies as
-- TradingView's placeholders and TradersPost write them, entries, reversals, exits and flattens through the
-- risk gate, a blocked entry, duplicates by order id and by body, stale alerts, wrong secrets (the 404 of
-- an unknown hook), a paused hook, a strategy not ready, invalid fields with their locators, the log.
-- Instruments: MYM, whose bars no other test stores (the mark price is not used: every alert has a price
-- but one).
\set ua '00000000-0000-4000-8000-7e0000000031'
\set ub '00000000-0000-4000-8000-7e0000000032'
SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;

-- one MYM 5m strategy per status
CREATE FUNCTION pg_temp.make(u uuid, name text, steps text[]) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    id uuid := (ex7.create_strategy(u, jsonb_build_object('name', name, 'instrument', 'MYM', 'timeframe', '5m')) ->> 'id')::uuid;
    s text;
BEGIN
    FOREACH s IN ARRAY steps LOOP
        EXECUTE format('SELECT ex7.%s_strategy($1, $2)', s) USING u, id;
    END LOOP;
    RETURN id;
END
$$;
SELECT pg_temp.make(:'ua', 'Hooked', '{promote}') AS s_ready,
       pg_temp.make(:'ua', 'Drafted', '{}') AS s_draft,
       pg_temp.make(:'ub', 'Theirs', '{promote}') AS s_theirs \gset

-- the shown hook without its ids and times
CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - ARRAY['id', 'path', 'url', 'created_at', 'updated_at', 'secret', 'secret_rotated_at', 'paused_at', 'strategy_id'];
$$;

-- creation: the documents first (412), then the checks
SELECT ex7_test.err(format('SELECT ex7.create_hook(%L, %L)', :'ua', jsonb_build_object('strategy_id', :'s_ready', 'label', 'tv'))) AS before_documents;
SELECT ex7_test.accept_compliance(ARRAY[:'ua', :'ub']::uuid[]) AS accepted;
SELECT ex7_test.err(format('SELECT ex7.create_hook(%L, %L)', :'ua', b)) AS create_errors
  FROM unnest(ARRAY[
    '{"label": "tv"}',
    jsonb_build_object('strategy_id', 'nope', 'label', 'tv')::text,
    jsonb_build_object('strategy_id', :'s_ready')::text,
    jsonb_build_object('strategy_id', :'s_ready', 'label', '  ')::text,
    jsonb_build_object('strategy_id', :'s_ready', 'label', 'tv', 'mode', 'real')::text,
    jsonb_build_object('strategy_id', :'s_ready', 'label', 'tv', 'max_age_seconds', 1)::text,
    jsonb_build_object('strategy_id', :'s_ready', 'label', 'tv', 'colour', 'red')::text,
    jsonb_build_object('strategy_id', :'s_theirs', 'label', 'tv')::text
  ]) AS b;
SELECT ex7.create_hook(:'ua', jsonb_build_object('strategy_id', :'s_ready', 'label', 'TradingView MYM'), 'https://api.example.com/') AS h \gset
SELECT :'h'::jsonb ->> 'id' AS hook, :'h'::jsonb ->> 'secret' AS secret \gset
SELECT pg_temp.shown(:'h'::jsonb) AS created,
       :'h'::jsonb ->> 'url' = 'https://api.example.com/api/hooks/' || :'hook' AS url_ok,
       :'secret' ~ '^whk_[0-9a-f]{64}$' AS secret_shape,
       (SELECT secret_hash = sha256(convert_to(:'secret', 'UTF8')) FROM ex7.hooks WHERE id = :'hook') AS stored_as_digest;
-- the secret is shown once: get and list never carry it
SELECT ex7.get_hook(:'ua', :'hook') ? 'secret' AS get_has_secret,
       jsonb_array_length(ex7.list_hooks(:'ua') -> 'items') AS listed,
       ex7.list_hooks(:'ua') #> '{items,0}' ? 'secret' AS list_has_secret;
SELECT ex7_test.err(format('SELECT ex7.get_hook(%L, %L)', :'ub', :'hook')) AS others_hook;
SELECT ex7.create_hook(:'ua', jsonb_build_object('strategy_id', :'s_draft', 'label', 'draft one', 'dedupe_seconds', 0)) ->> 'id' AS hook_draft \gset
-- the free tier allows 2 hooks (ex7.tiers.hooks_max): a third is 403 tier_limit_reached
SELECT ex7_test.err(format('SELECT ex7.create_hook(%L, %L)', :'ua', jsonb_build_object('strategy_id', :'s_ready', 'label', 'one more'))) AS over_the_cap;

-- tickers as TradingView writes them
SELECT t, ex7._hook_ticker(t) AS instrument
  FROM unnest(ARRAY['MYM1!', 'mym1!', 'MYMZ2026', 'MYMH27', 'CBOT_MINI:MYM1!', 'CBOT_MINI_DL:MYMZ2026', 'MYM',
                    'CME_MINI:MNQ1!', 'MNQZ2026', 'NYMEX:CL1!', 'COMEX:MGC2!', 'CME_MINI:MYM1!', 'XYZ1!', 'MYM1',
                    'BINANCE:BTCUSDT', '']) AS t;

-- the intake. A TradingView alert as its placeholders write it ({{ticker}}, {{strategy.order.action}}, ...)
CREATE FUNCTION pg_temp.tv(action text, contracts text, price text, sentiment text, id text,
                           at timestamptz DEFAULT '2026-03-04 15:00+00', pass text DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('passphrase', coalesce(pass, current_setting('ex7_test.secret')),
        'ticker', 'MYM1!', 'action', action, 'contracts', contracts, 'price', price, 'sentiment', sentiment,
        'time', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'id', id,
        'comment', 'from TradingView'))::text;
$$;
SELECT set_config('ex7_test.secret', :'secret', false) IS NOT NULL AS secret_set;
-- the answer without ids and times
CREATE FUNCTION pg_temp.ans(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(j - ARRAY['signal', 'closed', 'blocked'])
           || jsonb_build_object('signal', CASE WHEN jsonb_typeof(j -> 'signal') = 'object'
                                                THEN (j -> 'signal') - ARRAY['id', 'user_id', 'strategy_id', 'hook_id', 'fired_at'] END,
                                 'closed', (SELECT jsonb_agg(c ->> 'side' || ' ' || (c ->> 'close_reason') || ' at ' || (c ->> 'close_price'))
                                              FROM jsonb_array_elements(j -> 'closed') c),
                                 'blocked', (j -> 'blocked') ->> 'reason');
$$;
\set now '''2026-03-04 15:00:30+00'''
-- buy, sentiment long: enter long 2 at 43001
SELECT pg_temp.ans(ex7.hook_intake(:'hook', pg_temp.tv('buy', '2', '43001', 'long', 'o-1'), :now)) AS buy_long;
-- the same order id again: the first result, nothing fired
SELECT ex7.hook_intake(:'hook', pg_temp.tv('buy', '2', '43001', 'long', 'o-1'), :now) ->> 'outcome' AS repeat_outcome,
       (SELECT count(*) FROM ex7.signals WHERE hook_id = :'hook') AS signals_after_repeat;
-- sell, sentiment short: the long is closed (reverse) and a short entered
SELECT pg_temp.ans(ex7.hook_intake(:'hook', pg_temp.tv('sell', '1', '43010', 'short', 'o-2'), :now)) AS reverse_to_short;
-- buy, sentiment short (still short after the order): the shorts are closed
SELECT pg_temp.ans(ex7.hook_intake(:'hook', pg_temp.tv('buy', '1', '43005', 'short', 'o-3'), :now)) AS reduce_short;
-- sentiment flat with nothing open: accepted, nothing to close
SELECT pg_temp.ans(ex7.hook_intake(:'hook', pg_temp.tv('sell', '1', '43005', 'flat', 'o-4'), :now)) AS flat_nothing_open;
-- a TradersPost body: buy then exit (flatten), no time, no order id (a repeat within a minute is a duplicate)
SELECT pg_temp.ans(ex7.hook_intake(:'hook', jsonb_build_object('passphrase', :'secret', 'ticker', 'MYM', 'action', 'buy', 'quantity', 1, 'price', 43020)::text, :now)) AS traderspost_buy;
SELECT ex7.hook_intake(:'hook', jsonb_build_object('passphrase', :'secret', 'ticker', 'MYM', 'action', 'buy', 'quantity', 1, 'price', 43020)::text,
                       '2026-03-04 15:00:50+00') ->> 'outcome' AS same_body_20s_later,
       ex7.hook_intake(:'hook', jsonb_build_object('passphrase', :'secret', 'ticker', 'MYM', 'action', 'buy', 'quantity', 1, 'price', 43020)::text,
                       '2026-03-04 15:02:00+00') ->> 'outcome' AS same_body_90s_later;
SELECT pg_temp.ans(ex7.hook_intake(:'hook', jsonb_build_object('passphrase', :'secret', 'ticker', 'CBOT_MINI:MYM1!', 'action', 'exit', 'price', '43030')::text, '2026-03-04 15:02:10+00')) AS traderspost_exit;
SELECT pg_temp.ans(ex7.hook_intake(:'hook', jsonb_build_object('passphrase', :'secret', 'ticker', 'MYM', 'action', 'cancel')::text, '2026-03-04 15:02:20+00')) AS traderspost_cancel;
-- the signals the hook fired: source webhook, its id, the comment as the tag
SELECT side, size, entry_price, status, close_reason, close_price, source, hook_id = :'hook' AS by_hook, tag
  FROM ex7.signals WHERE user_id = :'ua' ORDER BY fired_at, id;

-- the risk gate: one trade a day allowed, the next entry is blocked and in the blocked log
SELECT ex7.set_risk_limits(:'ua', 'paper', '{"max_trades_per_day": 1}') ->> 'max_trades_per_day' AS limit_set;
SELECT pg_temp.ans(ex7.hook_intake(:'hook', pg_temp.tv('buy', '1', '43040', 'long', 'o-9', now()), now())) AS gate_blocks;
SELECT reason, side FROM ex7.signals_blocked WHERE user_id = :'ua' ORDER BY blocked_at DESC LIMIT 1;
SELECT ex7.set_risk_limits(:'ua', 'paper', '{"max_trades_per_day": 1000}') IS NOT NULL AS limit_lifted;

-- refusals: stale, invalid fields (each recorded with its locator), a wrong secret and unknown hooks (404,
-- not recorded), a body that is not JSON (422), a paused hook, a strategy not ready
SELECT ex7.hook_intake(:'hook', pg_temp.tv('buy', '1', '43001', 'long', 'old', '2026-03-04 14:50+00'), :now) AS stale;
SELECT b ->> 'ticker' AS ticker, b ->> 'action' AS action,
       (SELECT string_agg(format('%s %s: %s', r ->> '_status', d -> 'loc', d ->> 'msg'), '; ')
          FROM jsonb_array_elements(r -> 'detail') d) AS invalid
  FROM unnest(ARRAY[
    '{"ticker": "MYM1!", "action": "hold", "contracts": 1, "price": 43001}',
    '{"ticker": "MNQ1!", "action": "buy", "contracts": 1, "price": 43001}',
    '{"ticker": "XYZ1!", "action": "buy", "contracts": 1, "price": 43001}',
    '{"action": "buy", "contracts": 1, "price": 43001}',
    '{"ticker": "MYM1!", "action": "buy", "price": 43001}',
    '{"ticker": "MYM1!", "action": "buy", "contracts": 1.5, "price": 43001}',
    '{"ticker": "MYM1!", "action": "buy", "contracts": 1, "price": 43001.5}',
    '{"ticker": "MYM1!", "action": "buy", "contracts": 1, "price": "n/a"}',
    '{"ticker": "MYM1!", "action": "buy", "contracts": 1, "price": 43001, "sentiment": "bullish"}',
    '{"ticker": "MYM1!", "action": "buy", "contracts": 1, "price": 43001, "time": "yesterday"}'
  ]::jsonb[]) AS b,
  LATERAL (SELECT ex7.hook_intake(:'hook', (b || jsonb_build_object('passphrase', :'secret'))::text, :now) AS r) x;
SELECT ex7_test.err(format('SELECT ex7.hook_intake(%L, %L, %L)', h, body, :now)) AS not_found
  FROM (VALUES (:'hook', pg_temp.tv('buy', '1', '43001', 'long', 'w-1', :now, 'whk_wrong')),
               (:'hook', '{"ticker": "MYM1!", "action": "buy", "contracts": 1}'),
               ('00000000-0000-4000-8000-000000000000', pg_temp.tv('buy', '1', '43001', 'long', 'w-2')),
               ('not-a-uuid', pg_temp.tv('buy', '1', '43001', 'long', 'w-3'))) AS v (h, body);
SELECT ex7_test.err(format('SELECT ex7.hook_intake(%L, %L)', :'hook', 'buy MYM now')) AS not_json;
SELECT ex7.update_hook(:'ua', :'hook', '{"paused": true}') ->> 'paused' AS paused;
SELECT ex7.hook_intake(:'hook', pg_temp.tv('buy', '1', '43001', 'long', 'p-1', :now), :now) AS while_paused;
SELECT ex7.update_hook(:'ua', :'hook', '{"paused": false, "label": "renamed"}') ->> 'label' AS resumed;
SELECT ex7.hook_intake(:'hook_draft', pg_temp.tv('buy', '1', '43001', 'long', 'd-1', :now,
                       (SELECT ex7.rotate_hook_secret(:'ua', :'hook_draft') ->> 'secret')), :now) AS draft_strategy;

-- a paused and a deleted strategy (hooks made directly, past the tier cap): rejected the same way
SELECT pg_temp.make(:'ua', 'Paused', '{promote,promote,pause}') AS s_paused,
       pg_temp.make(:'ua', 'Gone', '{promote}') AS s_gone \gset
SELECT ex7.delete_strategy(:'ua', :'s_gone') IS NOT NULL AS gone;
INSERT INTO ex7.hooks (user_id, strategy_id, label, secret_hash)
SELECT :'ua', s, 'direct', ex7._hook_digest('whk_direct') FROM unnest(ARRAY[:'s_paused', :'s_gone']::uuid[]) s;
SELECT h.strategy_id = :'s_paused' AS paused_strategy,
       ex7.hook_intake(h.id::text, pg_temp.tv('buy', '1', '43001', 'long', 'g-1', :now, 'whk_direct'), :now) AS answer
  FROM ex7.hooks h WHERE h.label = 'direct' ORDER BY 1;

-- rotation: the old secret is a 404 from then on, the new one works
SELECT ex7.rotate_hook_secret(:'ua', :'hook') ->> 'secret' AS secret2 \gset
SELECT ex7_test.err(format('SELECT ex7.hook_intake(%L, %L, %L)', :'hook', pg_temp.tv('sell', '1', '43001', 'flat', 'r-1'), :now)) AS old_secret;
SELECT ex7.hook_intake(:'hook', pg_temp.tv('sell', '1', '43001', 'flat', 'r-2', :now, :'secret2'), :now) ->> 'outcome' AS new_secret;

-- the log: newest first, with outcomes, never the passphrase; pages by cursor
SELECT outcome, http_status, action FROM ex7.hook_events WHERE hook_id = :'hook' ORDER BY received_at, 1, 2, 3;
SELECT count(*) FILTER (WHERE body ? 'passphrase') AS with_passphrase FROM ex7.hook_events;
SELECT jsonb_array_length(ex7.list_hook_events(:'ua', :'hook', p_limit => 3) -> 'items') AS page1,
       ex7.list_hook_events(:'ua', :'hook', p_limit => 3) ->> 'next_cursor' IS NOT NULL AS has_next,
       jsonb_array_length(ex7.list_hook_events(:'ua', :'hook', p_outcome => 'duplicate') -> 'items') AS duplicates;
SELECT ex7_test.err(format('SELECT ex7.list_hook_events(%L, %L)', :'ub', :'hook')) AS others_log,
       ex7_test.err(format('SELECT ex7.list_hook_events(%L, %L, %L)', :'ua', :'hook', 'lost')) AS bad_outcome;

-- delete: its URL is a 404, its log gone, its signals kept
SELECT ex7.delete_hook(:'ua', :'hook')::text = '' AS deleted;
SELECT ex7_test.err(format('SELECT ex7.hook_intake(%L, %L, %L)', :'hook', pg_temp.tv('buy', '1', '43001', 'long', 'x-1', :now, :'secret2'), :now)) AS after_delete,
       (SELECT count(*) FROM ex7.hook_events WHERE hook_id = :'hook') AS log_rows,
       (SELECT count(*) FROM ex7.signals WHERE hook_id = :'hook') > 0 AS signals_kept;
SELECT ex7_test.err(format('SELECT ex7.delete_hook(%L, %L)', :'ua', :'hook')) AS again;
