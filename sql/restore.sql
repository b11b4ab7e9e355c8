-- sql/restore.sql: what a restore's COPY does to ex7's tables (ext/restore.c, ext/sql/01_backup_schema.sql;
-- docs/operations.md, "Backup and restore"). test/checks/backup.sh restores whole dumps; this file pins
-- the rules one by one.

-- ex7._in_copy(table): only a COPY FROM into that very table
SELECT ex7._in_copy('ex7.tiers') AS in_select;
CREATE TEMP TABLE copied (rel regclass, seen boolean);
CREATE TEMP TABLE staging (n integer);
CREATE FUNCTION pg_temp.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO copied VALUES ('ex7.tiers', ex7._in_copy('ex7.tiers')), (TG_RELID, ex7._in_copy(TG_RELID));
    RETURN NEW;
END $$;
CREATE TRIGGER note BEFORE INSERT ON staging FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
COPY staging FROM stdin;
1
\.
INSERT INTO staging VALUES (2);
SELECT rel::text, seen FROM copied ORDER BY seen DESC, rel::text;
COPY (SELECT ex7._in_copy('ex7.tiers')) TO stdout;

-- seeded tables: every row is install-made until it is changed
SELECT count(*) FILTER (WHERE ex7._seed_row('tiers', t)) AS pristine_tiers, count(*) AS tiers FROM ex7.tiers t;
SELECT count(*) FILTER (WHERE ex7._seed_row('instruments', i)) AS pristine_instruments FROM ex7.instruments i;
BEGIN;
UPDATE ex7.tiers SET alerts_per_day = 21 WHERE tier = 'free';
SELECT tier, ex7._seed_row('tiers', t) AS pristine FROM ex7.tiers t ORDER BY rank;
-- a COPY of a key whose row is still as seeded replaces it (a restore of the operator's change)...
COPY ex7.tiers (tier, rank, requests_per_minute, requests_per_day, alerts_per_day) FROM stdin;
operator	1	120	10000	150
\.
SELECT tier, alerts_per_day, ex7._seed_row('tiers', t) AS pristine FROM ex7.tiers t ORDER BY rank;
-- ... an INSERT of it stays a duplicate key, and so does a COPY over a row that is no longer as seeded
SAVEPOINT s;
INSERT INTO ex7.tiers (tier, rank, requests_per_minute, requests_per_day, alerts_per_day) VALUES ('strategist', 2, 1, 1, 1);
ROLLBACK TO s;
COPY ex7.tiers (tier, rank, requests_per_minute, requests_per_day, alerts_per_day) FROM stdin;
free	0	30	500	22
\.
ROLLBACK;

-- a refused signal restored by COPY queues no alert and no notification again; the risk gate's path
-- (ex7._record_blocked) does
SELECT ex7.ensure_user('00000000-0000-4000-8000-5e0000000001') IS NOT NULL AS ready;
COPY ex7.signals_blocked (user_id, mode, instrument, side, triggered_limit, reason, reason_json) FROM stdin;
00000000-0000-4000-8000-5e0000000001	paper	MES	long	max_open_positions	restored	{}
\.
SELECT count(*) AS notifications_after_copy FROM ex7.notifications WHERE user_id = '00000000-0000-4000-8000-5e0000000001';
SELECT (ex7._record_blocked('00000000-0000-4000-8000-5e0000000001', NULL, NULL, 'MES', NULL, NULL, 'paper', 'long',
        '{"blocked_reason": {"breaker": "max_open_positions", "reason": "refused"}}')).id IS NOT NULL AS recorded;
SELECT count(*) AS notifications_after_insert FROM ex7.notifications WHERE user_id = '00000000-0000-4000-8000-5e0000000001';
DELETE FROM ex7.signals_blocked WHERE user_id = '00000000-0000-4000-8000-5e0000000001';
DELETE FROM ex7.users WHERE id = '00000000-0000-4000-8000-5e0000000001';
