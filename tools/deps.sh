#!/usr/bin/env bash
# tools/deps.sh [run|test]: install whatever is missing from Debian's packages. Idempotent and fast when
# nothing is missing (one dpkg-query). As root it runs apt-get; otherwise it prints the exact command to run.
#   run   what building and running ex7 needs (make run): compiler, PostgreSQL and its headers, the
#         libraries of ex7d, pg_cron, curl
#   test  (the default: make test, make bench, make fuzz) all of that plus the test tools: pgTAP, Chromium,
#         promtool, clang with libFuzzer, Node.js and npm
set -euo pipefail
what=${1:-test}
case "$what" in run|test) ;; *) echo "usage: tools/deps.sh [run|test]" >&2; exit 2 ;; esac

PKGS=(
	make gcc
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libpq-dev libevent-dev libjson-c-dev libssl-dev
	# pg_cron: runs ex7's jobs on a clock every minute (docs/jobs.md, tools/cron_setup.sh)
	postgresql-15-cron
	curl
)
if [ "$what" = test ]; then
	PKGS+=(
		postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
		# headless Chromium: the browser end-to-end test of the signal stream (test/e2e/sse.test.mjs)
		chromium
		# promtool (Debian ships it in prometheus): test/e2e/observability.test.mjs checks ex7d's /metrics
		prometheus
		# clang with libFuzzer's runtime: the fuzz target of ex7d's request path (test/checks/fuzz.sh, make fuzz)
		clang libclang-rt-14-dev
	)
fi

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
# the end-to-end tests run on Node.js (node:test, fetch) with npm packages (jose, eventsource); a node
# that is already there (from any source) is used as it is
if [ "$what" = test ]; then
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: missing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=sudo
	else
		echo "deps: not root; install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# The postgresql-common postinst would create a default 'main' cluster that nobody uses; skip it.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	$SUDO mkdir -p /etc/postgresql-common
	echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
# The prometheus package is here for its promtool only: keep its postinst from starting a Prometheus
# server (invoke-rc.d and deb-systemd-invoke ask policy-rc.d; 101 = action forbidden). A policy the machine
# already has is left alone.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# written by ex7 tools/deps.sh for the duration of one apt-get run\n[ "$1" = prometheus ] && exit 101\nexit 0\n' |
		$SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
echo "deps: apt-get update"
$SUDO apt-get update -qq
echo "deps: apt-get install ${missing[*]} (a minute or more on a bare machine)"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
