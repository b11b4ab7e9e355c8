-- sql/signal_close_price.sql: the close price of a manual close (docs/signals.md, "The close price").
-- The reference's Close Signal sample sends no body, so close_price is optional: without it the close
-- is at the mark (the close of the instrument's latest bar, if recent enough; else 409 no_mark_price);
-- with it, it must lie in a plausible band (else 422 at ["body","close_price"]).
-- Data of this file: MES bars of 2018 (no other test uses that year) and MES bars of the last half hour
-- (no other regression file writes bars relative to now()); all removed at the end.
\set u '00000000-0000-4000-8000-00000000e401'
SELECT ex7.ensure_user(:'u') ->> 'tier' AS tier;
SELECT ex7_test.accept_compliance(ARRAY[:'u']::uuid[]) AS accepted;
SELECT ex7.set_risk_limits(:'u', 'paper', '{"max_open_positions": 100, "max_trades_per_day": 1000, "max_consecutive_losses": 100, "daily_loss_limit": 1000000}') IS NOT NULL AS roomy;
SELECT ex7.create_strategy(:'u', '{"name": "marks", "instrument": "MES", "timeframe": "1m"}') ->> 'id' AS s \gset

-- ===================================================================================================
-- The mark: the latest bar at or before an instant, over every timeframe; fresh for two bar lengths,
-- at most an hour (the staleness threshold of docs/market.md)
-- ===================================================================================================
SELECT tf, ex7._mark_max_age(tf) AS max_age FROM unnest(ex7._timeframes()) AS tf;

-- 1m bars 2018-03-06 15:01 .. 15:10 on a ramp 2700.00 + 0.25 a minute (low 1.00 under, high 1.00 over),
-- a 5m bar closing at 15:10 too (a tie: the 1m bar is the mark) and a 1d bar of the day before
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'MES', '1m', '2018-03-06 15:00Z'::timestamptz + g * interval '1 minute', c, c + 1, c - 1, c, 10
  FROM generate_series(1, 10) AS g, LATERAL (SELECT 2700.00 + g * 0.25 AS c) AS p;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume) VALUES
    ('MES', '5m', '2018-03-06 15:10Z', 2701.00, 2705.00, 2695.00, 2702.00, 50),
    ('MES', '1d', '2018-03-05 22:00Z', 2650.00, 2720.00, 2640.00, 2690.00, 900);
-- direct writes: their blocks follow by a sync of the range written (docs/market.md, "Bar blocks")
SELECT tf, ex7._bar_blocks_sync('MES', tf, '2018-03-05', '2018-03-07') AS synced FROM unnest(ARRAY['1m', '5m', '1d']) tf;
SELECT at, m.price, ex7._iso(m.bar_ts) AS bar_ts, m.timeframe, m.fresh
  FROM unnest(ARRAY['2018-03-05 21:59Z', '2018-03-05 22:30Z', '2018-03-06 15:05:30Z', '2018-03-06 15:10:00Z',
                    '2018-03-06 15:12:00Z', '2018-03-06 15:12:01Z']::timestamptz[]) WITH ORDINALITY AS a (at, n),
       LATERAL ex7._mark_price('MES', a.at) AS m
 ORDER BY n;

-- ===================================================================================================
-- The band: entry, the bars since the signal's bar and the mark, widened by 7% of the largest price
-- when the mark is fresh, 20% otherwise, rounded outwards to the tick
-- ===================================================================================================
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 2700.50, '2018-03-06 15:02Z', 'b1') #>> '{signal,id}' AS b1 \gset
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 2705.00, '2018-03-06 15:30Z', 'b2') #>> '{signal,id}' AS b2 \gset
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 2600.00, '2018-03-01 15:00Z', 'b3') #>> '{signal,id}' AS b3 \gset
-- b1 at 15:10:30 (fresh): the bars closing 15:02..15:10 span 2695.00 .. 2705.00 (the 5m bar's low and
-- high); 7% of 2705.00 is 189.35: [2505.65, 2894.35] -> [2505.50, 2894.50]
-- b1 at 18:00 (stale): the same range widened by 20% (541.00): [2154.00, 3246.00]
-- b2 (its bar after every bar) at 15:10:30: no bar since the entry; the mark 2702.50 and the entry 2705.00,
-- 7% of 2705.00: [2513.15, 2894.35] -> [2513.00, 2894.50], basis mark
-- b3 at 2018-03-05 12:00 (before any bar): the entry alone, 20%: [2080.00, 3120.00], basis entry
SELECT x.tag, x.at, b.low, b.high, b.basis
  FROM (VALUES (1, 'b1', :'b1'::uuid, '2018-03-06 15:10:30Z'::timestamptz), (2, 'b1', :'b1', '2018-03-06 18:00Z'),
               (3, 'b2', :'b2', '2018-03-06 15:10:30Z'), (4, 'b3', :'b3', '2018-03-05 12:00Z')) AS x (n, tag, id, at),
       LATERAL (SELECT * FROM ex7.signals WHERE id = x.id) AS s,
       LATERAL ex7._close_band(s, x.at) AS b
 ORDER BY x.n;
SELECT ex7.force_close_all(:'u', :'s') AS cleared;

-- ===================================================================================================
-- close_signal now: bars of the last half hour (1m, 5000.00 + 0.25 a minute), the newest one minute old.
-- One transaction, so every statement sees the same now() (a minute boundary cannot age the mark).
-- ===================================================================================================
BEGIN;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'MES', '1m', date_trunc('minute', now()) - g * interval '1 minute', c, c + 2, c - 2, c, 10
  FROM generate_series(1, 30) AS g, LATERAL (SELECT 5000.00 + (30 - g) * 0.25 AS c) AS p;
SELECT ex7._bar_blocks_sync('MES', '1m', date_trunc('minute', now()) - interval '30 minutes', now()) AS synced;
SELECT date_trunc('minute', now()) - interval '1 minute' AS mark_ts \gset
\set fire 'SELECT ex7.fire_signal(:''u'', :''s'', ''paper'', ''long'', 1, 5000.00, date_trunc(''minute'', now()) - interval ''30 minutes'', :''tag'') #>> ''{signal,id}'' AS '
\set tag n1
:fire n1 \gset
\set tag n2
:fire n2 \gset
\set tag n3
:fire n3 \gset
\set tag n4
:fire n4 \gset

-- the reference's own request: no body, no close_price -> the mark, the close of the bar one minute old
-- (5007.25); the answer says so. 1 MES long 5000.00 -> 5007.25: 29 ticks * 1.25 = 36.25 gross, less 4
-- ticks of slippage (5.00) and 2 * 0.62 commission: 30.01
SELECT r ->> 'status' AS status, r ->> 'close_reason' AS reason, r ->> 'close_price' AS close_price,
       r ->> 'net_pnl' AS net_pnl, r ->> 'close_price_source' AS source, r ->> 'mark_timeframe' AS mark_timeframe,
       (r ->> 'mark_bar_time')::timestamptz = :'mark_ts' AS mark_is_latest_bar
  FROM ex7.close_signal(:'u', :'n1') AS r;
-- the stored row and the event carry the price, not the source (it describes this answer only)
SELECT close_price, (SELECT payload ? 'close_price_source' FROM ex7.signal_events
                      WHERE signal_id = :'n1' AND kind = 'signal_closed') AS in_event
  FROM ex7.signals WHERE id = :'n1';

-- an explicit price: the band is the range since the entry (lows 4998.00 .. highs 5009.25) and 7% of
-- 5009.25 (350.6475): [4647.3525, 5359.8975] -> [4647.25, 5360.00]. Outside it, 422 at
-- ["body","close_price"] with the band in ctx; nothing changes and no event is written. 1e15, 0 and -5
-- were accepted before (1e15 on an MES long: net P&L 4999999999985491.26).
SELECT ex7.last_event_id(:'u') AS events_before \gset
SELECT p, ex7_test.err(format('SELECT ex7.close_signal(%L, %L, %s)', :'u', :'n2', p)) AS err
  FROM unnest(ARRAY['1e15', '0', '-5', '4647.00', '5360.25']) AS p;
SELECT status, ex7.last_event_id(:'u') - :events_before AS new_events FROM ex7.signals WHERE id = :'n2';
-- the edges are in; the tick check still applies inside the band (compute_pnl's 422)
SELECT r ->> 'close_price' AS close_price, r ->> 'close_price_source' AS source
  FROM ex7.close_signal(:'u', :'n2', 4647.25) AS r;
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 5010.10)', :'u', :'n3')) AS off_grid;
SELECT r ->> 'close_price' AS close_price, r ->> 'close_price_source' AS source, r ? 'mark_bar_time' AS has_mark
  FROM ex7.close_signal(:'u', :'n3', 5360.00) AS r;
COMMIT;

-- no recent bar: the mark is stale (the newest MES bar is an old one), so a close without a price is
-- 409 no_mark_price; with a price the wider band (20%) applies
DELETE FROM ex7.bars WHERE instrument = 'MES' AND ts > now() - interval '1 hour';
SELECT sum(ex7._bar_blocks_sync('MES', tf, now() - interval '1 hour' + interval '1 microsecond', 'infinity')) AS bars_left
  FROM unnest(ex7._timeframes()) tf;
SELECT t.detail ->> 'code' AS code, t.state, t.detail ->> 'instrument' AS instrument,
       t.detail ->> 'last_bar_time' IS NOT NULL AS names_last_bar
  FROM (SELECT e[1] AS state, e[2]::jsonb AS detail
          FROM regexp_match(ex7_test.err(format('SELECT ex7.close_signal(%L, %L)', :'u', :'n4')),
                            '^(\w+): .* \| (.*)$') AS e) AS t;
SELECT r ->> 'close_price' AS close_price FROM ex7.close_signal(:'u', :'n4', 5400.00) AS r;

-- the machine's closes are not banded: the dispatcher and the backtest close at bar prices through
-- ex7._close_at (a stop, a target, an exit), which close_signal's band does not guard
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 5000.00, now(), 'm1') #>> '{signal,id}' AS m1 \gset
SELECT (ex7._close_at(s, 9000.00, 'closed', 'take_profit', now())).close_price AS machine_close
  FROM ex7.signals s WHERE s.id = :'m1';

DELETE FROM ex7.bars WHERE instrument = 'MES' AND ts < '2019-01-01';
SELECT sum(ex7._bar_blocks_sync('MES', tf, '-infinity', timestamptz '2019-01-01' - interval '1 microsecond')) AS bars_left
  FROM unnest(ex7._timeframes()) tf;
