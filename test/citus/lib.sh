# test/citus/lib.sh: sourced by test/citus/calls.sh and test/citus/alerts_calls.sh. Needs DIR (the folder of
# the cluster tools/citus.sh started) and CHECK_PREFIX (the words every verdict line starts with).
#   q ARGS...                  psql on the coordinator's database, errors on stdout
#   check NAME EXPECTED SQL    "ok - PREFIX: NAME" when the first line SQL prints (or its error's first line)
#                              equals EXPECTED, else "not ok - ..." with both
#   check_tx NAME EXPECTED SQL the same inside BEGIN ... COMMIT: Citus does not delegate a call in a
#                              transaction block, so the function runs on the coordinator statement by statement
. "$DIR/ports"
q() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$COORD_PORT" -U postgres -d "$DB" "$@" 2>&1; }

_verdict() { # NAME WANT GOT
	if [ "$3" = "$2" ]; then
		echo "ok - $CHECK_PREFIX: $1"
	else
		echo "not ok - $CHECK_PREFIX: $1: wanted \"$2\", got \"$3\""
	fi
}
check() { _verdict "$1" "$2" "$(q -c "$3" | head -1)"; }
check_tx() { _verdict "$1 (transaction block)" "$2" "$(q -c "BEGIN" -c "$3" -c "COMMIT" | head -1)"; }
