#!/usr/bin/env bash
# bench/bench_protections.sh: the dispatcher with protections and the trading state checked, beside the same
# dispatcher without those checks (run by bench/run.sh; docs/performance.md, "Protections and the trading
# state"). USERS x PER_USER running strategies on MES 5m (SMA crosses, long and short, 8-tick stop and target:
# many entries, stops, targets and reversals), BARS stored bars dispatched one after the other through
# ex7._dispatch_bar, in one session, each bar in a transaction of its own, as the ingest of each bar runs it. Side by side in one run, the same
# bars, five runs of each, alternating, the best of each counts:
#   without: the checks replaced by no-ops in this benchmark's database (ex7._trading_state, ex7._entry_lock,
#            ex7._hold_instrument, ex7._protections_after_close): the gate as it was before them
#   with:    the real functions, and every user with three protections of the mode (stoploss_guard,
#            max_drawdown, low_profit, all scoped to every strategy) and a service halt of another
#            instrument (GC): every fire reads the state and the locks, every close runs each protection's
#            decision over its lookback (ext/protect.c)
# The protections' thresholds are out of reach (1000 stop-outs, a drawdown of 1,000,000, a profit under
# -1,000,000), so both sides make the same decisions: the run fails when their decision counts differ.
# Goal: with >= 0.9x the speed of without, per strategy and bar.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
USERS=${BENCH_USERS:-$(smoke 40 3)}
PER_USER=$(smoke 5 2)
BARS=${BENCH_BARS:-$(smoke 120 12)}
NS=$((USERS * PER_USER))
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_begin protections

q >/dev/null <<SQL
-- 80 bars of history and BARS bars to dispatch: a seeded random walk on the tick grid, during the session
SELECT setseed(0.17);
CREATE TABLE walk AS
SELECT g, round((5000 + sum((random() - 0.5) * 6) OVER (ORDER BY g)) * 4) / 4 AS c
  FROM generate_series(1, 80 + $BARS) g;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'MES', '5m', timestamptz '2026-03-03 14:30+00' + g * interval '5 minutes',
       c, c + 1.25, c - 1.25, c, 100
  FROM walk;
SELECT ex7._bar_blocks_sync('MES', '5m', '-infinity', 'infinity');
CREATE TABLE dispatch_bars AS
SELECT ts FROM ex7.bars WHERE instrument = 'MES' AND timeframe = '5m' ORDER BY ts OFFSET 80;

DO \$\$
DECLARE
    u uuid;
    s uuid;
    k int := 0;
BEGIN
    FOR i IN 1..$USERS LOOP
        u := ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        PERFORM ex7.accept_compliance(u, NULL, 'bench');
        UPDATE ex7.users SET tier = 'strategist' WHERE id = u;
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000", "max_consecutive_losses": 100}');
        FOR j IN 1..$PER_USER LOOP
            k := k + 1;
            s := (ex7.create_strategy(u, jsonb_build_object('name', 'bench ' || k, 'instrument', 'MES', 'timeframe', '5m',
                'graph', jsonb_build_object('nodes', jsonb_build_array(
                    '{"id": "c", "type": "close"}'::jsonb,
                    jsonb_build_object('id', 'f', 'type', 'sma', 'params', jsonb_build_object('period', 3 + k % 5)),
                    jsonb_build_object('id', 's', 'type', 'sma', 'params', jsonb_build_object('period', 10 + k % 10)),
                    '{"id": "up", "type": "crosses_above"}'::jsonb, '{"id": "dn", "type": "crosses_below"}'::jsonb,
                    '{"id": "l", "type": "enter_long", "params": {"size": 1}}'::jsonb,
                    '{"id": "sh", "type": "enter_short", "params": {"size": 1}}'::jsonb,
                    '{"id": "sl1", "type": "stop_loss_ticks", "params": {"ticks": 8}}'::jsonb,
                    '{"id": "tp1", "type": "take_profit_ticks", "params": {"ticks": 8}}'::jsonb,
                    '{"id": "sl2", "type": "stop_loss_ticks", "params": {"ticks": 8}}'::jsonb,
                    '{"id": "tp2", "type": "take_profit_ticks", "params": {"ticks": 8}}'::jsonb),
                  'edges', '[{"from": "c", "to": "f", "port": "in"}, {"from": "c", "to": "s", "port": "in"},
                             {"from": "f", "to": "up", "port": "a"}, {"from": "s", "to": "up", "port": "b"},
                             {"from": "f", "to": "dn", "port": "a"}, {"from": "s", "to": "dn", "port": "b"},
                             {"from": "up", "to": "l", "port": "when"}, {"from": "dn", "to": "sh", "port": "when"},
                             {"from": "l", "to": "sl1", "port": "entry"}, {"from": "l", "to": "tp1", "port": "entry"},
                             {"from": "sh", "to": "sl2", "port": "entry"}, {"from": "sh", "to": "tp2", "port": "entry"}]'::jsonb)))
                 ->> 'id')::uuid;
            PERFORM ex7.promote_strategy(u, s);
            PERFORM ex7.start_runtime(u, s, 'paper');
        END LOOP;
    END LOOP;
END \$\$;

-- a history, as a running account has: 40 closed signals a strategy from February (outside every lookback
-- and trading day of the run), which the runs keep; the tables' statistics are then those of a populated
-- table, as in production, not of an empty one
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                         entry_price, bar_ts, fired_at, status, close_reason, close_price, closed_at, close_bar_ts,
                         pnl_points, pnl_ticks, gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl)
SELECT t.user_id, t.id, 1, 'MES', '5m', 'paper', 'long', 1, 5000, d, d, 'closed', 'take_profit', 5002, d + interval '5 minutes',
       d + interval '5 minutes', 2, 8, 10.00, 2.0, 5.00, 1.24, 3.76
  FROM ex7.strategies t, generate_series(1, 40) g,
       LATERAL (SELECT timestamptz '2026-02-02 15:00+00' + g * interval '1 hour' AS d) x;
ANALYZE;

-- the real checks, kept to be put back; their no-op stand-ins for the side without them
CREATE TABLE real_defs AS
SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'ex7' AND p.proname IN ('_trading_state', '_entry_lock', '_hold_instrument', '_protections_after_close');
CREATE FUNCTION checks_off() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
    CREATE OR REPLACE FUNCTION ex7._trading_state(p_user uuid, p_mode text, p_instrument text, OUT state text,
                                                  OUT source text, OUT reason text, OUT changed_at timestamptz)
    RETURNS record LANGUAGE sql STABLE AS \$s\$SELECT 'active'::text, NULL::text, NULL::text, NULL::timestamptz\$s\$;
    CREATE OR REPLACE FUNCTION ex7._entry_lock(p_user uuid, p_mode text, p_strategy_id uuid, p_instrument text, p_at timestamptz)
    RETURNS ex7.risk_locks LANGUAGE sql STABLE AS 'SELECT NULL::ex7.risk_locks';
    CREATE OR REPLACE FUNCTION ex7._hold_instrument(p_symbol text) RETURNS void LANGUAGE sql AS 'SELECT';
    CREATE OR REPLACE FUNCTION ex7._protections_after_close(s ex7.signals) RETURNS integer LANGUAGE sql AS 'SELECT 0';
END \$f\$;
CREATE FUNCTION checks_on() RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE d text;
BEGIN
    FOR d IN SELECT def FROM real_defs LOOP EXECUTE d; END LOOP;
END \$f\$;
-- the protections and the service's state of the side with them (out of reach: the same decisions)
CREATE FUNCTION protections_on() RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE u uuid;
BEGIN
    FOR u IN SELECT id FROM ex7.users LOOP
        PERFORM ex7.create_protection(u, '{"kind": "stoploss_guard", "trade_limit": 1000, "lookback_minutes": 1440}');
        PERFORM ex7.create_protection(u, '{"kind": "max_drawdown", "max_drawdown": 1000000, "lookback_minutes": 1440}');
        PERFORM ex7.create_protection(u, '{"kind": "low_profit", "min_profit": -1000000, "lookback_minutes": 1440}');
    END LOOP;
    PERFORM ex7.set_service_trading_state('{"scope": "GC", "state": "halted", "reason": "bench"}');
END \$f\$;
CREATE FUNCTION protections_off() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
    DELETE FROM ex7.risk_protections;
    DELETE FROM ex7.risk_locks;
    DELETE FROM ex7.trading_halts;
END \$f\$;
-- back to before the bars: no signal, no refusal, no audit, no event, the runtimes before their first bar
CREATE FUNCTION reset_run() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
    DELETE FROM ex7.alert_deliveries; DELETE FROM ex7.notifications;
    DELETE FROM ex7.signals_blocked; DELETE FROM ex7.signal_audit; DELETE FROM ex7.signal_events;
    DELETE FROM ex7.signals WHERE bar_ts >= (SELECT min(ts) FROM dispatch_bars);
    UPDATE ex7.strategy_runtimes SET last_bar_ts = NULL, status = 'running';
END \$f\$;
-- every bar in a transaction of its own, as each ingest is
CREATE PROCEDURE dispatch_all() LANGUAGE plpgsql AS \$f\$
DECLARE t timestamptz;
BEGIN
    FOR t IN SELECT ts FROM dispatch_bars ORDER BY ts LOOP
        PERFORM ex7._dispatch_bar('MES', '5m', t);
        COMMIT;
    END LOOP;
END \$f\$;
CREATE FUNCTION decisions() RETURNS text LANGUAGE sql AS \$f\$
    SELECT (SELECT string_agg(decision || ' ' || n, ', ' ORDER BY decision)
              FROM (SELECT decision, count(*) n FROM ex7.signal_audit GROUP BY decision) d)
           || '; closes ' || (SELECT count(*) FROM ex7.signals WHERE status <> 'open' AND bar_ts >= (SELECT min(ts) FROM dispatch_bars));
\$f\$;
SQL

# one session per side and run: reset, switch, then the timed dispatch of every bar
run() {
	local side=$1 out
	if [ "$side" = with ]; then
		out=$(q -tA -c "SELECT reset_run(), checks_on(), protections_off(), protections_on()" -c "VACUUM ANALYZE" \
			-c "SELECT pg_stat_reset()" -c '\timing on' -c "CALL dispatch_all()" -c '\timing off' -c "SELECT decisions()")
	else
		out=$(q -tA -c "SELECT reset_run(), protections_off(), checks_off()" -c "VACUUM ANALYZE" \
			-c "SELECT pg_stat_reset()" -c '\timing on' -c "CALL dispatch_all()" -c '\timing off' -c "SELECT decisions()")
	fi
	echo "$out" | tail -1 >"$W/$side.digest"
	[ -n "${BENCH_PROFILE:-}" ] && q -tA -c "SELECT error, count(*) FROM ex7.strategy_runtimes GROUP BY 1" \
		-c "SELECT funcname, calls, round(self_time) FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 12" >&2
	echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
declare -A best
for round in 1 2 3 4 5; do
	for side in without with; do
		t=$(run $side)
		echo "round $round $side: $t ms ($(cat "$W/$side.digest"))"
		if [ -z "${best[$side]:-}" ] || awk -v a="$t" -v b="${best[$side]}" 'BEGIN { exit !(a < b) }'; then best[$side]=$t; fi
	done
	[ "$(cat "$W/with.digest")" = "$(cat "$W/without.digest")" ] ||
		bench_fail "the two sides decided differently: with $(cat "$W/with.digest"), without $(cat "$W/without.digest")"
	[ "$BENCH_SMOKE" = 1 ] && break
done
locks=$(q -tA -c "SELECT count(*) FROM ex7.risk_locks")
[ "$locks" = 0 ] || bench_fail "the protections locked $locks times: their thresholds were meant to be out of reach"
per() { awk -v t="$1" -v n="$NS" -v b="$BARS" 'BEGIN { printf "%.1f", t * 1000 / (n * b) }'; }
ratio=$(awk -v w="${best[with]}" -v o="${best[without]}" 'BEGIN { printf "%.2f", o / w }')
echo "$NS strategies x $BARS bars dispatched ($(cat "$W/with.digest")):"
echo "  without the checks: ${best[without]} ms ($(per "${best[without]}") us per strategy and bar)"
echo "  with protections and the trading state: ${best[with]} ms ($(per "${best[with]}") us per strategy and bar): ${ratio}x"
bench_goal "with protections and the trading state ${ratio}x of without (>= 0.9x)" 'r >= 0.9' r="$ratio"
