-- bench/pnl_reference.sql: the baseline of bench/bench_pnl.sh, not part of the extension. The P&L
-- formula of ex7.compute_pnl (ext/pnl.c, docs/pnl.md) written the straightforward way: PL/pgSQL on
-- numeric, reading the instrument with a SELECT on every call. Same checks in the same order, same
-- results to the last digit of scale (the benchmark compares the two row by row as text).
CREATE SCHEMA bench_pnl;

CREATE FUNCTION bench_pnl.compute_pnl_plpgsql(p_instrument text, p_side text, p_size integer,
    p_entry_price numeric, p_close_price numeric, OUT points numeric, OUT ticks numeric,
    OUT gross_pnl numeric, OUT slippage_ticks numeric, OUT slippage_cost numeric,
    OUT commission numeric, OUT net_pnl numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    i   record;
    dir integer;
BEGIN
    SELECT tick_size, tick_value, commission_per_side INTO i
      FROM ex7.instruments WHERE symbol = p_instrument;
    IF NOT FOUND THEN
        PERFORM ex7._invalid('["body","instrument"]', format('unknown instrument "%s"', p_instrument));
    END IF;
    dir := CASE p_side WHEN 'long' THEN 1 WHEN 'short' THEN -1 END;
    IF dir IS NULL THEN
        PERFORM ex7._invalid('["body","side"]', 'side must be long or short', 'value_error.const');
    END IF;
    IF p_size <= 0 OR p_size > 100000 THEN
        PERFORM ex7._invalid('["body","size"]', 'size must be between 1 and 100000');
    END IF;
    IF p_entry_price % i.tick_size <> 0 THEN
        PERFORM ex7._invalid('["body","entry_price"]', 'entry_price is off the tick grid');
    END IF;
    IF p_close_price % i.tick_size <> 0 THEN
        PERFORM ex7._invalid('["body","close_price"]', 'close_price is off the tick grid');
    END IF;

    ticks := div((p_close_price - p_entry_price) * dir, i.tick_size);
    points := ticks * i.tick_size;
    gross_pnl := ticks * i.tick_value * p_size;
    slippage_ticks := 2.0;
    slippage_cost := (2 + 2) * i.tick_value * p_size;
    commission := i.commission_per_side * 2 * p_size;
    net_pnl := gross_pnl - slippage_cost - commission;
END
$$;

-- time_ms: runs the fixed benchmark query q and returns its wall time and its one-line result
CREATE FUNCTION bench_pnl.time_ms(q text, OUT ms numeric, OUT result text)
LANGUAGE plpgsql
AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q INTO result;
    ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END
$$;
