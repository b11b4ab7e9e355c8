-- tools/demo.sql: demo data for `make run`, loaded through the public SQL API (so it obeys every rule a
-- client would). Idempotent: does nothing when the demo user already has strategies.
\set demo '''de000000-0000-4000-8000-000000000001'''
DO $$
DECLARE
    u constant uuid := 'de000000-0000-4000-8000-000000000001';
    ema jsonb; rsi jsonb; orb jsonb;
    s1 uuid; s2 uuid; s3 uuid; sig jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM ex7.strategies WHERE user_id = u) THEN
        RAISE NOTICE 'demo data already loaded';
        RETURN;
    END IF;
    PERFORM ex7.ensure_user(u, 'demo@ex7.local');
    -- the demo user has accepted the ToS, risk disclosure and privacy policy (runtimes and closes answer
    -- 412 until then: docs/billing.md)
    PERFORM ex7.accept_compliance(u, NULL, 'demo');

    ema := ex7.create_strategy(u, $j${
        "name": "EMA 9/21 crossover", "instrument": "MNQ", "timeframe": "5m", "tags": ["trend", "demo"],
        "description": "Long when the 9 EMA of closes crosses above the 21 EMA; 20-tick stop, 40-tick target.",
        "graph": {"nodes": [{"id": "close", "type": "close"},
                            {"id": "fast", "type": "ema", "params": {"period": 9}},
                            {"id": "slow", "type": "ema", "params": {"period": 21}},
                            {"id": "cross", "type": "crosses_above"},
                            {"id": "entry", "type": "enter_long", "params": {"size": 1}},
                            {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 20}},
                            {"id": "target", "type": "take_profit_ticks", "params": {"ticks": 40}}],
                  "edges": [{"from": "close", "to": "fast", "port": "in"}, {"from": "close", "to": "slow", "port": "in"},
                            {"from": "fast", "to": "cross", "port": "a"}, {"from": "slow", "to": "cross", "port": "b"},
                            {"from": "cross", "to": "entry", "port": "when"}, {"from": "entry", "to": "stop", "port": "entry"},
                            {"from": "entry", "to": "target", "port": "entry"}],
                  "meta": {"author": "demo"}}}$j$);
    s1 := (ema->>'id')::uuid;
    rsi := ex7.create_strategy(u, $j${
        "name": "RSI(14) mean reversion", "instrument": "ES", "timeframe": "15m", "tags": ["mean-reversion", "demo"],
        "description": "Long below RSI 30, short above RSI 70 (Wilder smoothing).",
        "graph": {"nodes": [{"id": "close", "type": "close"}, {"id": "rsi", "type": "rsi", "params": {"period": 14}},
                            {"id": "lo", "type": "constant", "params": {"value": 30}},
                            {"id": "hi", "type": "constant", "params": {"value": 70}},
                            {"id": "oversold", "type": "lt"}, {"id": "overbought", "type": "gt"},
                            {"id": "long", "type": "enter_long", "params": {"size": 1}},
                            {"id": "short", "type": "enter_short", "params": {"size": 1}}],
                  "edges": [{"from": "close", "to": "rsi", "port": "in"},
                            {"from": "rsi", "to": "oversold", "port": "a"}, {"from": "lo", "to": "oversold", "port": "b"},
                            {"from": "rsi", "to": "overbought", "port": "a"}, {"from": "hi", "to": "overbought", "port": "b"},
                            {"from": "oversold", "to": "long", "port": "when"}, {"from": "overbought", "to": "short", "port": "when"}],
                  "meta": {}}}$j$);
    s2 := (rsi->>'id')::uuid;
    orb := ex7.create_strategy(u, $j${
        "name": "Opening range breakout", "instrument": "NQ", "timeframe": "5m", "tags": ["breakout", "demo"],
        "description": "Long when the close crosses above the high of the 30-minute opening range (the first six 5-minute bars from 09:30 New York), during the New York session.",
        "graph": {"nodes": [{"id": "close", "type": "close"},
                            {"id": "range_hi", "type": "opening_range", "params": {"start": "09:30", "bars": 6, "edge": "high", "tz": "America/New_York"}},
                            {"id": "session", "type": "session_filter", "params": {"start": "09:30", "end": "16:00", "tz": "America/New_York"}},
                            {"id": "breakout", "type": "crosses_above"}, {"id": "both", "type": "and"},
                            {"id": "entry", "type": "enter_long", "params": {"size": 1}}],
                  "edges": [{"from": "close", "to": "breakout", "port": "a"}, {"from": "range_hi", "to": "breakout", "port": "b"},
                            {"from": "breakout", "to": "both", "port": "a"}, {"from": "session", "to": "both", "port": "b"},
                            {"from": "both", "to": "entry", "port": "when"}],
                  "meta": {}}}$j$);
    s3 := (orb->>'id')::uuid;

    -- the EMA strategy is ready and runs on paper; the RSI one is ready; the breakout stays a draft
    PERFORM ex7.promote_strategy(u, s1);
    PERFORM ex7.promote_strategy(u, s2);
    PERFORM ex7.start_runtime(u, s1, 'paper');

    -- three paper signals on recent bars; the first is closed with a profit
    sig := ex7.fire_signal(u, s1, 'paper', 'long', 1, 18000.25, pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '45 minutes');
    PERFORM ex7.close_signal(u, (sig->'signal'->>'id')::uuid, 18012.75);
    PERFORM ex7.fire_signal(u, s1, 'paper', 'long', 2, 18020.50, pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '20 minutes');
    PERFORM ex7.fire_signal(u, s2, 'paper', 'short', 1, 5120.75, pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '15 minutes');
    RAISE NOTICE 'demo data loaded: 3 strategies, 3 signals for user %', u;
END
$$;
