#!/usr/bin/env bash
# test/checks/backup.sh: a pg_dump of an ex7 database keeps every row (docs/operations.md, "Backup and
# restore"). Run by tools/test.sh with the test cluster's PGHOST/PGPORT/PGUSER exported and its temporary
# directory as $1 (tools/try.sh backup.check runs it alone).
#
# A database is filled with rows in every table of the extension (test/checks/backup_fill.sql, through
# the public SQL functions), then dumped in plain and custom format and restored: the plain dump with psql
# into a new database, the custom one with pg_restore into a new database and into a new cluster (roles
# first, from pg_dumpall --globals-only). Every table and sequence must compare equal, row count and a
# hash of its rows (test/checks/backup_tables.sql), and no restore may print an error. The same again for
# a database that started at 0.1.0 and was upgraded. ex7.bar_blocks is dumped like every table (no trigger
# rebuilds it on restore); after a restore ex7.bar_blocks_check finds it equal to the bars, and a rebuild from
# the bars (ex7.bar_blocks_rebuild) gives the same blocks.
#
# A table of the extension that is neither registered for pg_dump nor named below as not dumped fails
# the check, and so does one the fill script leaves empty.
set -uo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
. tools/cluster.sh
WORK=${1:-$(mktemp -d /tmp/ex7-backup.XXXXXX)}/backup
rm -rf "$WORK"
mkdir -p "$WORK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"

# Not dumped, on purpose: ex7.seed_rows (the install's own digests, made by the restore's CREATE EXTENSION).
NOT_DUMPED="seed_rows"

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
say() { echo "# $*"; }
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }

new_db() {
	psql_q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
		-c "CREATE DATABASE $1" >/dev/null
}

# compare SRC_LABEL SRC_FILE DST_LABEL DST_FILE: one verdict for "every table equal".
compare() {
	if diff -u "$2" "$4" >"$WORK/diff"; then
		ok "$3: every table and sequence equals $1's ($(wc -l <"$2") compared: row counts and row hashes)"
	else
		notok "$3 differs from $1 (- $1, + restored):"
		sed 's/^/#   /' "$WORK/diff"
	fi
}

# no_errors LABEL LOG: the restore's own output has no error or warning line.
no_errors() {
	if grep -qiE 'error|warning|fatal' "$2"; then
		notok "$1 printed errors:"; sed 's/^/#   /' "$2" | head -n 20
		return 1
	fi
	return 0
}

# dump_and_restore SRC LABEL: dumps SRC both ways, restores into three places, compares each with SRC.
dump_and_restore() {
	local src=$1 label=$2 plain=${1}_plain custom=${1}_custom
	tables() { psql_q "$@" -f test/checks/backup_tables.sql; }
	tables -d "$src" >"$WORK/$src.tables" || { notok "$label: cannot read the tables of $src"; return; }

	say "$label: pg_dump (plain) | psql into a new database"
	pg_dump -d "$src" -f "$WORK/$src.sql" 2>"$WORK/dump.log" || { notok "$label: pg_dump failed"; cat "$WORK/dump.log"; return; }
	new_db "$plain"
	psql -X -q -v ON_ERROR_STOP=1 -d "$plain" -f "$WORK/$src.sql" >"$WORK/restore-plain.log" 2>&1 ||
		{ notok "$label: restoring the plain dump failed"; sed 's/^/#   /' "$WORK/restore-plain.log" | head -n 20; }
	no_errors "$label: psql of the plain dump" "$WORK/restore-plain.log" &&
		{ tables -d "$plain" >"$WORK/$plain.tables"; compare "$label" "$WORK/$src.tables" "$label, plain dump restored by psql" "$WORK/$plain.tables"; }

	say "$label: pg_dump -Fc | pg_restore into a new database"
	pg_dump -Fc -d "$src" -f "$WORK/$src.dump" 2>"$WORK/dump.log" || { notok "$label: pg_dump -Fc failed"; cat "$WORK/dump.log"; return; }
	new_db "$custom"
	pg_restore --exit-on-error -d "$custom" "$WORK/$src.dump" >"$WORK/restore-custom.log" 2>&1 ||
		{ notok "$label: pg_restore failed"; sed 's/^/#   /' "$WORK/restore-custom.log" | head -n 20; }
	no_errors "$label: pg_restore" "$WORK/restore-custom.log" &&
		{ tables -d "$custom" >"$WORK/$custom.tables"; compare "$label" "$WORK/$src.tables" "$label, custom dump restored by pg_restore" "$WORK/$custom.tables"; }

	say "$label: pg_restore into a new cluster (roles from pg_dumpall --globals-only first)"
	local dir=$WORK/cluster
	cluster_stop "$dir"; rm -rf "$dir"
	if cluster_init "$dir" && cluster_start_any "$dir" 59432 "-c fsync=off" >"$WORK/cluster.log" 2>&1; then
		pg_dumpall --globals-only -f "$WORK/globals.sql" &&
		psql -X -q -h "$dir" -p "$CLUSTER_PORT" -d postgres -f "$WORK/globals.sql" >"$WORK/globals.log" 2>&1
		# the new cluster's own superuser already exists: the one line that may complain
		grep -v 'role "postgres" already exists' "$WORK/globals.log" >"$WORK/globals-errors.log"
		psql_q -h "$dir" -p "$CLUSTER_PORT" -d postgres -c "CREATE DATABASE ex7_restored" >/dev/null
		pg_restore --exit-on-error -h "$dir" -p "$CLUSTER_PORT" -d ex7_restored "$WORK/$src.dump" >"$WORK/restore-cluster.log" 2>&1 ||
			{ notok "$label: pg_restore into a new cluster failed"; sed 's/^/#   /' "$WORK/restore-cluster.log" | head -n 20; }
		cat "$WORK/globals-errors.log" >>"$WORK/restore-cluster.log"
		no_errors "$label: pg_restore into a new cluster" "$WORK/restore-cluster.log" &&
			{ tables -h "$dir" -p "$CLUSTER_PORT" -d ex7_restored >"$WORK/cluster.tables"
			  compare "$label" "$WORK/$src.tables" "$label, custom dump restored into a new cluster" "$WORK/cluster.tables"; }
	else
		notok "$label: cannot start a second cluster"; cat "$WORK/cluster.log"
	fi
	cluster_stop "$dir"

	say "$label: the restored ex7.bar_blocks equal the bars; emptied and rebuilt by ex7.bar_blocks_rebuild(), the same blocks"
	blocks_ok=$(psql_q -d "$custom" -tAc "SELECT ex7.bar_blocks_check() ->> 'ok'")
	if [ "$blocks_ok" = true ]; then ok "$label: restored bar blocks equal the bars (ex7.bar_blocks_check)"
	else notok "$label: restored bar blocks differ from the bars: $(psql_q -d "$custom" -tAc "SELECT ex7.bar_blocks_check()")"; fi
	psql_q -d "$custom" -c "TRUNCATE ex7.bar_blocks" -c "SELECT ex7.bar_blocks_rebuild()" >/dev/null &&
		tables -d "$custom" >"$WORK/$custom.rebuilt" &&
		grep '^bar_blocks ' "$WORK/$src.tables" >"$WORK/src.blocks" && grep '^bar_blocks ' "$WORK/$custom.rebuilt" >"$WORK/dst.blocks" &&
		compare "$label" "$WORK/src.blocks" "$label, bar blocks rebuilt after a restore" "$WORK/dst.blocks"
	psql_q -d postgres -c "DROP DATABASE $plain WITH (FORCE)" -c "DROP DATABASE $custom WITH (FORCE)" >/dev/null
}

# ---------------------------------------------------------------------------------------------------
say "filling a fresh database through the SQL API (test/checks/backup_fill.sql)"
new_db ex7_backup
psql_q -d ex7_backup -c "CREATE EXTENSION ex7" >/dev/null
if ! psql_q -d ex7_backup -f test/checks/backup_fill.sql >"$WORK/fill.log" 2>&1; then
	notok "the fill script fails:"; sed 's/^/#   /' "$WORK/fill.log" | tail -n 20
	exit 0
fi

# every table and sequence of the extension is registered for pg_dump, or named in NOT_DUMPED
unregistered=$(psql_q -d ex7_backup -tAc "
	SELECT string_agg(c.relname, ' ' ORDER BY c.relname)
	  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'ex7'
	 WHERE d.deptype = 'e' AND c.relkind IN ('r', 'p', 'u', 'S')
	   AND c.oid <> ALL (coalesce(e.extconfig, '{}'))
	   AND c.relname <> ALL (string_to_array('$NOT_DUMPED', ' '))")
if [ -z "$unregistered" ]; then
	ok "every table and sequence of ex7 is registered with pg_extension_config_dump (not dumped, on purpose: $NOT_DUMPED)"
else
	notok "tables or sequences of ex7 that pg_dump would leave out (register them with pg_extension_config_dump): $unregistered"
fi

psql_q -d ex7_backup -f test/checks/backup_tables.sql >"$WORK/filled.tables"
empty=$(awk '$2 == 0 { printf "%s ", $1 }' "$WORK/filled.tables")
if [ -z "$empty" ]; then
	ok "the fill script leaves rows in every table of ex7 ($(wc -l <"$WORK/filled.tables") tables and sequences)"
else
	notok "tables the fill script (test/checks/backup_fill.sql) leaves empty: $empty"
fi

dump_and_restore ex7_backup "fresh install"

# copy_rows TABLE: how many rows the plain dump of the fresh database holds for ex7.TABLE
copy_rows() { awk -v t="COPY ex7.$1 " 'index($0, t) == 1 { on = 1; next } on && $0 == "\\." { on = 0 } on { n++ } END { print n + 0 }' "$WORK/ex7_backup.sql"; }
seeded="tiers=$(copy_rows tiers) instruments=$(copy_rows instruments) compliance_documents=$(copy_rows compliance_documents) validation_policy=$(copy_rows validation_policy) secrets=$(copy_rows secrets)"
# the fill changed one tier, one instrument and the policy, added an instrument and a document
if [ "$seeded" = "tiers=1 instruments=2 compliance_documents=1 validation_policy=1 secrets=2" ]; then
	ok "the dump holds only the seeded rows changed or added since the install, and every key ($seeded)"
else
	notok "rows of seeded tables in the dump: $seeded (want tiers=1 instruments=2 compliance_documents=1 validation_policy=1 secrets=2)"
fi

# ---------------------------------------------------------------------------------------------------
say "the same for a database made at 0.1.0 and upgraded"
new_db ex7_backup_upg
if psql_q -d ex7_backup_upg >"$WORK/upgrade.log" 2>&1 <<-SQL
	CREATE EXTENSION ex7 VERSION '0.1.0';
	SELECT ex7.ensure_user('b0000000-0000-4000-8000-0000000000c1', 'before-upgrade@example.com');
	SELECT ex7.create_strategy('b0000000-0000-4000-8000-0000000000c1',
	    '{"name": "made under 0.1.0", "instrument": "MES", "timeframe": "5m"}');
	ALTER EXTENSION ex7 UPDATE;
	\i test/checks/backup_fill.sql
SQL
then
	dump_and_restore ex7_backup_upg "upgraded from 0.1.0"
else
	notok "0.1.0, upgrade and fill fail:"; sed 's/^/#   /' "$WORK/upgrade.log" | tail -n 20
fi

psql_q -d postgres -c "DROP DATABASE ex7_backup WITH (FORCE)" -c "DROP DATABASE ex7_backup_upg WITH (FORCE)" \
	-c "DROP ROLE IF EXISTS ex7_backup_check" >/dev/null
exit 0
