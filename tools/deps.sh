#!/usr/bin/env bash
# tools/deps.sh: install whatever is missing from Debian's packages. Idempotent and fast when nothing is
# missing (one dpkg-query). As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

PKGS=(
	make gcc
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libpq-dev libevent-dev libjson-c-dev libssl-dev
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
	# pg_cron: runs ex7's jobs on a clock every minute (docs/jobs.md, tools/cron_setup.sh)
	postgresql-15-cron
	# headless Chromium: the browser end-to-end test of the signal stream (test/e2e/sse.test.mjs)
	chromium
	# promtool (Debian ships it in prometheus): test/e2e/observability.test.mjs checks ex7d's /metrics
	prometheus
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
# the end-to-end tests run on Node.js (node:test, fetch) with npm packages (jose, eventsource); a node
# that is already there (from any source) is used as it is
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v curl >/dev/null 2>&1 || missing+=(curl)
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
