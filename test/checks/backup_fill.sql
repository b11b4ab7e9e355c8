-- test/checks/backup_fill.sql: fills a database with rows in every table of the ex7 extension, through
-- the public SQL functions (the acting-user API of docs/sql-api.md) wherever a function writes the table.
-- test/checks/backup.sh runs it, dumps the database, restores it and compares every table; a table left
-- empty here fails that check, so a new table gets its rows here in the same change that adds it.
-- One section per area, each ending in the tables it fills.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
