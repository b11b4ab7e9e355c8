/* ext/sql/07_rate.sql: ex7.rate_take, how fronts share one count per rate-limit subject (docs/http.md,
 * "Rate limits"). A front takes quota in leases: a lease of n units counts n requests at once, and the
 * front serves them from memory. It keeps leases small near a cap (see ex7d's http/users.c), so a limit is
 * never exceeded, and gives back what it did not use. */

CREATE OR REPLACE FUNCTION ex7.rate_take(p_subject text, p_per_minute integer, p_per_day integer, p_want integer,
                                         p_give_back integer DEFAULT 0,
                                         p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- ex7-api-introduction.txt, "Rate limits + quotas": burst limits per minute, "daily quotas reset at
    -- 00:00 UTC"
    v_minute timestamptz := pg_catalog.date_trunc('minute', p_now);
    v_day timestamptz := pg_catalog.date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_row ex7.rate_counters;
    v_grant integer;
BEGIN
    IF p_subject IS NULL OR pg_catalog.length(p_subject) NOT BETWEEN 1 AND 100 THEN
        PERFORM ex7._invalid('["subject"]', 'subject must be 1 to 100 characters');
    END IF;
    IF p_per_minute IS NULL OR p_per_minute < 1 OR p_per_day IS NULL OR p_per_day < 1 THEN
        PERFORM ex7._invalid('["limits"]', 'per-minute and per-day caps must be positive');
    END IF;
    IF p_want IS NULL OR p_want < 0 OR p_want > 1000000 OR p_give_back IS NULL OR p_give_back < 0 THEN
        PERFORM ex7._invalid('["want"]', 'want must be 0..1000000 and give_back >= 0');
    END IF;

    INSERT INTO ex7.rate_counters AS c (subject, minute_start, minute_used, day_start, day_used)
    VALUES (p_subject, v_minute, 0, v_day, 0)
    ON CONFLICT (subject) DO UPDATE
       SET minute_start = v_minute,
           minute_used = CASE WHEN c.minute_start = v_minute THEN c.minute_used ELSE 0 END,
           day_start = v_day,
           -- give_back: units of an earlier minute's lease that went unused count no more against the day
           day_used = CASE WHEN c.day_start = v_day THEN GREATEST(c.day_used - p_give_back, 0) ELSE 0 END
    RETURNING c.* INTO v_row;

    v_grant := GREATEST(LEAST(p_want, p_per_minute - v_row.minute_used, p_per_day - v_row.day_used), 0);
    IF v_grant > 0 THEN
        UPDATE ex7.rate_counters
           SET minute_used = minute_used + v_grant, day_used = day_used + v_grant
         WHERE subject = p_subject;
    END IF;

    RETURN pg_catalog.jsonb_build_object(
        'granted', v_grant,
        'minute_remaining', GREATEST(p_per_minute - v_row.minute_used - v_grant, 0),
        'day_remaining', GREATEST(p_per_day - v_row.day_used - v_grant, 0),
        'minute_reset', pg_catalog.ceil(EXTRACT(epoch FROM v_minute + interval '1 minute' - p_now))::integer,
        'day_reset', pg_catalog.ceil(EXTRACT(epoch FROM v_day + interval '1 day' - p_now))::integer,
        'retry_after', CASE
            WHEN v_grant > 0 OR p_want = 0 THEN 0
            WHEN v_row.day_used >= p_per_day
                THEN pg_catalog.ceil(EXTRACT(epoch FROM v_day + interval '1 day' - p_now))::integer
            ELSE pg_catalog.ceil(EXTRACT(epoch FROM v_minute + interval '1 minute' - p_now))::integer END);
END
$$;
COMMENT ON FUNCTION ex7.rate_take(text, integer, integer, integer, integer, timestamptz) IS
'Returns {granted, minute_remaining, day_remaining, minute_reset, day_reset, retry_after}: takes up to p_want requests of quota for p_subject (user:<uuid> or addr:<ip>) under p_per_minute in the current minute and p_per_day in the current UTC day, counted once for every front sharing this database. granted 0 means the subject is over a cap; minute_reset and day_reset are the seconds until each window resets; retry_after is then the seconds until the window that refused resets (at least 1; the day when both are exhausted). p_give_back returns unused units of an earlier minute''s lease to today''s count. Windows are the database clock''s (p_now, default the statement time). Raises X7422 for a bad subject, caps or amounts.';
