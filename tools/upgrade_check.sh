#!/usr/bin/env bash
# tools/upgrade_check.sh: proves every upgrade path. For each released version R (ext/frozen/ex7--R.sql):
#   1. install R, add a user and a strategy, ALTER EXTENSION ex7 UPDATE to the current version, and require
#      the catalog fingerprint (tools/schema_fingerprint.sql) to equal a fresh install's and the strategy made
#      under R to be there;
#   2. when test/upgrade/fill-R.sql exists (rows in every table of R, through R's own functions): in a second
#      database, install R, fill it, upgrade, and require every table of R to hold the same rows afterwards:
#      the same count and the same md5 of the rows' text forms over R's columns (an upgrade that rebuilds keys
#      or adds columns keeps every row).
# Needs PGHOST/PGPORT/PGUSER of a running cluster with ex7 installed.
# Prints one "ok - ..." or "not ok - ..." line per check (tools/test.sh counts them).
set -uo pipefail
cd "$(dirname "$0")/.."
cur=$(sed -n "s/^default_version = '\(.*\)'/\1/p" ex7.control)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
newdb() { psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; }

# row_queries DB: one query per table of ex7 in DB, printing the table's name, its row count and the md5 of
# its rows' text forms over the columns the table has now; run again after the upgrade, the same queries
# read the same columns
row_queries() {
	psql_q -d "$1" -tA <<-'SQL'
		SELECT pg_catalog.format(
		         $q$SELECT %L || ' ' || count(*) || ' ' || md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (SELECT ROW(%s)::text AS r FROM ex7.%I x) s;$q$,
		         c.relname, pg_catalog.string_agg('x.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum), c.relname)
		  FROM pg_catalog.pg_class c
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		 WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind = 'r' AND c.relname <> 'seed_rows'
		 GROUP BY c.relname ORDER BY c.relname
	SQL
	# ex7.seed_rows is the install's record of the rows it seeded (01_backup_schema.sql): an upgrade that
	# adds a column to a seeded table records the new digest of each row still as seeded. What must hold
	# is that the rows which were seed before are seed after (pg_dump still leaves them out), per table.
	cat <<-'SQL'
		SELECT 'seed_rows ' || pg_catalog.string_agg(t || '=' || n, ',' ORDER BY t) FROM (
		    SELECT 'tiers' AS t, count(*) FILTER (WHERE ex7._seed_row('tiers', x)) AS n FROM ex7.tiers x
		    UNION ALL SELECT 'instruments', count(*) FILTER (WHERE ex7._seed_row('instruments', x)) FROM ex7.instruments x
		    UNION ALL SELECT 'secrets', count(*) FILTER (WHERE ex7._seed_row('secrets', x)) FROM ex7.secrets x
		    UNION ALL SELECT 'compliance_documents', count(*) FILTER (WHERE ex7._seed_row('compliance_documents', x))
		                FROM ex7.compliance_documents x
		    UNION ALL SELECT 'validation_policy', count(*) FILTER (WHERE ex7._seed_row('validation_policy', x))
		                FROM ex7.validation_policy x) s;
	SQL
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
newdb ex7_upg_fresh
psql_q -d ex7_upg_fresh -c "CREATE EXTENSION ex7" >/dev/null
psql_q -d ex7_upg_fresh -f tools/schema_fingerprint.sql >"$work/fresh.txt" ||
	{ echo "not ok - catalog fingerprint of a fresh install fails"; exit 1; }
rc=0
for f in ext/frozen/ex7--*.sql; do
	from=$(basename "$f" .sql); from=${from#ex7--}
	case "$from" in *--*) continue ;; esac
	[ "$from" = "$cur" ] && continue
	db=ex7_upg_$(echo "$from" | tr . _)

	# 1. the catalog
	newdb "$db"
	if ! psql_q -d "$db" >"$work/log" 2>&1 <<-SQL
		CREATE EXTENSION ex7 VERSION '$from';
		SELECT ex7.ensure_user('0b000000-0000-4000-8000-000000000001', 'upgrade@example.com');
		SELECT ex7.create_strategy('0b000000-0000-4000-8000-000000000001',
		    '{"name": "kept across the upgrade", "instrument": "MES", "timeframe": "5m"}');
		ALTER EXTENSION ex7 UPDATE TO '$cur';
	SQL
	then
		echo "not ok - upgrade $from -> $cur fails:"; cat "$work/log"; rc=1; continue
	fi
	psql_q -d "$db" -f tools/schema_fingerprint.sql >"$work/up.txt" ||
		{ echo "not ok - catalog fingerprint after upgrade $from -> $cur fails"; rc=1; continue; }
	if ! diff -u "$work/fresh.txt" "$work/up.txt" >"$work/diff"; then
		echo "not ok - upgrade $from -> $cur: catalog differs from a fresh $cur (- fresh, + upgraded):"
		cat "$work/diff"; rc=1; continue
	fi
	kept=$(psql_q -d "$db" -tAc "SELECT count(*) FROM ex7.strategies WHERE name = 'kept across the upgrade'")
	if [ "$kept" != 1 ]; then
		echo "not ok - upgrade $from -> $cur lost the strategy made under $from"; rc=1; continue
	fi
	echo "ok - upgrade $from -> $cur: same catalog as a fresh install ($(wc -l <"$work/fresh.txt") facts), data kept"
	psql_q -d postgres -c "DROP DATABASE $db" >/dev/null

	# 2. every row, in every table
	fill=test/upgrade/fill-$from.sql
	[ -f "$fill" ] || continue
	newdb "$db"
	if ! { psql_q -d "$db" -c "CREATE EXTENSION ex7 VERSION '$from'" && psql_q -d "$db" -f "$fill"; } >"$work/log" 2>&1; then
		echo "not ok - $fill fails on $from:"; cat "$work/log"; rc=1; continue
	fi
	row_queries "$db" >"$work/rows.sql"
	psql_q -d "$db" -tA -f "$work/rows.sql" >"$work/rows-before.txt"
	if ! psql_q -d "$db" -c "ALTER EXTENSION ex7 UPDATE TO '$cur'" >"$work/log" 2>&1; then
		echo "not ok - upgrade $from -> $cur with rows in every table fails:"; cat "$work/log"; rc=1; continue
	fi
	psql_q -d "$db" -tA -f "$work/rows.sql" >"$work/rows-after.txt"
	empty=$(awk '$2 == 0 { printf "%s ", $1 }' "$work/rows-before.txt")
	if ! diff -u "$work/rows-before.txt" "$work/rows-after.txt" >"$work/diff"; then
		echo "not ok - upgrade $from -> $cur changed rows (- before, + after: table, count, digest):"; cat "$work/diff"; rc=1
	elif [ -n "$empty" ]; then
		echo "not ok - $fill leaves tables of $from empty: $empty"; rc=1
	else
		echo "ok - upgrade $from -> $cur keeps every row: $(wc -l <"$work/rows-before.txt") tables, $(awk '{ n += $2 } END { print n }' "$work/rows-before.txt") rows, the same after as before"
	fi
	psql_q -d postgres -c "DROP DATABASE $db" >/dev/null
done
psql_q -d postgres -c "DROP DATABASE ex7_upg_fresh" >/dev/null
exit $rc
