#!/usr/bin/env bash
# tools/upgrade_check.sh: proves every upgrade path. For each released version R (ext/frozen/ex7--R.sql):
# install R, add a user and a strategy, ALTER EXTENSION ex7 UPDATE to the current version, then require
# (1) the catalog fingerprint (tools/schema_fingerprint.sql) equals a fresh install's, and (2) the rows
# made under R are still there. Needs PGHOST/PGPORT/PGUSER of a running cluster with ex7 installed.
# Prints one "ok - ..." or "not ok - ..." line per path (tools/test.sh counts them).
set -uo pipefail
cd "$(dirname "$0")/.."
cur=$(sed -n "s/^default_version = '\(.*\)'/\1/p" ex7.control)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ex7_upg_fresh" -c "CREATE DATABASE ex7_upg_fresh" >/dev/null
psql_q -d ex7_upg_fresh -c "CREATE EXTENSION ex7" >/dev/null
psql_q -d ex7_upg_fresh -f tools/schema_fingerprint.sql >"$work/fresh.txt" ||
	{ echo "not ok - catalog fingerprint of a fresh install fails"; exit 1; }
rc=0
for f in ext/frozen/ex7--*.sql; do
	from=$(basename "$f" .sql); from=${from#ex7--}
	case "$from" in *--*) continue ;; esac
	[ "$from" = "$cur" ] && continue
	db=ex7_upg_$(echo "$from" | tr . _)
	psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
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
done
psql_q -d postgres -c "DROP DATABASE ex7_upg_fresh" >/dev/null
exit $rc
