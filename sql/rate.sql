-- sql/rate.sql: ex7.rate_take, the shared rate-limit counters (ext/sql/07_rate.sql). Windows: the minute
-- and the UTC day of p_now. Free tier caps from ex7-api-introduction.txt: 30/min and 500/day.
\set t0 '''2026-03-02 14:05:10+00'''
-- thirty single requests in one minute: each granted; the 31st is refused until the minute ends (50 s)
SELECT count(*) FILTER (WHERE (ex7.rate_take('user:a', 30, 500, 1, 0, :t0::timestamptz + g * interval '0.1 s'))->>'granted' = '1') AS granted
  FROM generate_series(1, 30) g;
SELECT ex7.rate_take('user:a', 30, 500, 1, 0, :t0::timestamptz + interval '3 s');
-- the next minute starts afresh; the day keeps counting (30 + 1)
SELECT ex7.rate_take('user:a', 30, 500, 1, 0, '2026-03-02 14:06:00+00');
-- a lease is cut to what is left: 29 left this minute
SELECT ex7.rate_take('user:a', 30, 500, 100, 0, '2026-03-02 14:06:01+00');
-- want 0 only reads the counters
SELECT ex7.rate_take('user:a', 30, 500, 0, 0, '2026-03-02 14:06:02+00');
-- the daily quota: 60 used today, so a big lease gets the other 440; then refused until 00:00 UTC
-- (14:09:02 to 24:00 is 9 h 50 min 58 s = 35458 s)
SELECT (ex7.rate_take('user:a', 1000, 500, 1000, 0, '2026-03-02 14:07:00+00'))->'granted' AS rest_of_day;
SELECT ex7.rate_take('user:a', 1000, 500, 1, 0, '2026-03-02 14:09:02+00');
-- giving back unused units of an earlier minute's lease frees them for today
SELECT ex7.rate_take('user:a', 1000, 500, 5, 3, '2026-03-02 14:10:00+00');
-- a new UTC day
SELECT ex7.rate_take('user:a', 30, 500, 1, 0, '2026-03-03 00:00:00+00');
-- subjects are independent
SELECT ex7.rate_take('addr:127.0.0.1', 2, 10, 5, 0, '2026-03-03 00:00:00+00');
-- bad arguments: 422
SELECT ex7_test.err($$SELECT ex7.rate_take('', 30, 500, 1)$$);
SELECT ex7_test.err($$SELECT ex7.rate_take('user:a', 0, 500, 1)$$);
SELECT ex7_test.err($$SELECT ex7.rate_take('user:a', 30, 500, -1)$$);
SELECT ex7_test.err($$SELECT ex7.rate_take('user:a', 30, 500, 1, -2)$$);
