-- sql/cursor.sql: opaque keyset cursors (ext/cursor.c). Round trip, and X7422 for every way a cursor
-- can be wrong: garbage, truncated, edited, another list's, another user's.
\set alice '00000000-0000-4000-8000-00000000000a'
\set bob '00000000-0000-4000-8000-00000000000b'

SELECT ex7.cursor_encode('signals', :'alice', '2026-04-20 13:30:00+00', 'b7a0c6a2-4a4f-4c55-9b43-3e4f2f5e2a11') AS c \gset
SELECT :'c' ~ '^[A-Za-z0-9_-]+$' AS url_safe, length(:'c') < 120 AS short;
SELECT * FROM ex7.cursor_decode('signals', :'alice', :'c');

-- the same position encodes to the same cursor (deterministic), microseconds survive
SELECT ex7.cursor_encode('signals', :'alice', '2026-04-20 13:30:00+00', 'b7a0c6a2-4a4f-4c55-9b43-3e4f2f5e2a11') = :'c' AS stable;
SELECT ts FROM ex7.cursor_decode('audit', :'alice', ex7.cursor_encode('audit', :'alice', '1999-12-31 23:59:59.999999+00', '42'));
SELECT ts, id FROM ex7.cursor_decode('audit', :'alice', ex7.cursor_encode('audit', :'alice', '1970-01-01 00:00:00+00', ''));

-- wrong: another list, another user
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'strategies', :'alice', :'c'));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'bob', :'c'));
-- wrong: garbage, empty, padded, too long, truncated, one character changed
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice', 'not a cursor!'));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice', ''));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice', :'c' || '=='));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice', repeat('A', 600)));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice', left(:'c', 20)));
SELECT ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice',
    left(:'c', 5) || CASE substr(:'c', 6, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(:'c', 7)));
-- every single-character edit is refused
SELECT count(*) AS accepted_edits
  FROM generate_series(1, length(:'c')) AS i
 WHERE ex7_test.err(format('SELECT ex7.cursor_decode(%L, %L, %L)', 'signals', :'alice',
        overlay(:'c' placing CASE substr(:'c', i, 1) WHEN 'x' THEN 'y' ELSE 'x' END from i for 1))) = 'ok';
