#!/usr/bin/env bash
# test/checks/deb.sh DIR: the Debian packages (docs/packaging.md) as an operator gets them. Builds them
# with `make deb`, requires lintian to report no error (warnings are printed), installs them with
# `apt-get install ./*.deb`, checks what the installation left (files, conffile, user, the generated
# secret, `ex7d --version`), verifies the systemd unit offline (`systemd-analyze verify` and `security
# --offline`: systemd is not PID 1 here), then starts the packaged ex7d the way the unit does (the unit's
# ExecStart, as its User and Group, with its EnvironmentFiles in its order, plus this test's database URL
# and port) against a new database of the test cluster with the packaged extension, and calls the API.
# Run by tools/test.sh (make test) and `tools/try.sh deb.check` with the test cluster's
# PGHOST/PGPORT/PGUSER exported. Needs root (apt-get, and starting ex7d as its user).
# The packages stay installed: they hold the same code `make install` put in the same server
# directories, so the tests that follow run the same extension either way.
set -uo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
DIR=${1:-$(mktemp -d)}/deb
mkdir -p "$DIR"
unset PGDATABASE

version=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" ex7.control)
unit=/lib/systemd/system/ex7d.service
secret_file=/etc/ex7/ex7d-secret.env
db=ex7_deb
ex7d_pid=

# verdict COND_STATUS DESCRIPTION: one ok / not ok line; returns COND_STATUS.
verdict() {
	if [ "$1" -eq 0 ]; then echo "ok - deb: $2"; else echo "not ok - deb: $2"; fi
	return "$1"
}
cleanup() {
	[ -n "$ex7d_pid" ] && kill "$ex7d_pid" 2>/dev/null
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${db}_up WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	verdict 1 "needs root (apt-get install, ex7d started as its own user)"
	exit 1
fi

# --- build and lintian ------------------------------------------------------------------------------
echo "# make deb (log: $DIR/out/build.log)"
start=$SECONDS
make -s deb DEB_OUT="$DIR/out" >"$DIR/make-deb.log" 2>&1
make_rc=$?
debs=("$DIR"/out/postgresql-15-ex7_*.deb "$DIR"/out/ex7d_*.deb)
if [ ! -f "${debs[0]}" ] || [ ! -f "${debs[1]}" ]; then
	sed 's/^/# /' "$DIR/make-deb.log"
	verdict 1 "make deb builds postgresql-15-ex7 and ex7d"
	exit 1
fi
verdict 0 "make deb builds postgresql-15-ex7 and ex7d ($((SECONDS - start)) s)"
bad=0
for f in "${debs[@]}"; do
	v=$(dpkg-deb -f "$f" Version)
	[ "${v%%+*}" = "$version" ] || { echo "# $(basename "$f"): version $v"; bad=1; }
done
verdict $bad "package versions follow ex7.control's default_version $version"
errors=$(grep -c '^E: ' "$DIR/out/lintian.txt" 2>/dev/null || true)
[ -f "$DIR/out/lintian.txt" ] || errors=unknown
sed 's/^/# lintian: /' "$DIR/out/lintian.txt" 2>/dev/null
[ "$errors" = 0 ] && [ $make_rc -eq 0 ]
verdict $? "lintian reports 0 errors ($errors errors, $(grep -c '^W: ' "$DIR/out/lintian.txt" 2>/dev/null || true) warnings)"

# --- install --------------------------------------------------------------------------------------
echo "# apt-get install ./*.deb"
# --reinstall: the version stays the same while a version is in progress, the code does not;
# --force-confnew: this machine's /etc/ex7/ex7d.env is the package's (checked below), never a prompt
(cd "$DIR/out" && DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall --no-install-recommends \
	-o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confnew ./*.deb) >"$DIR/apt.log" 2>&1
st=$?
[ $st -eq 0 ] || sed 's/^/# /' "$DIR/apt.log"
verdict $st "apt-get install ./*.deb" || exit 1

bad=0
for p in postgresql-15-ex7 ex7d; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$p" 2>/dev/null)
	[ "$s" = "ii  $(dpkg-deb -f "$DIR"/out/${p}_*.deb Version)" ] || { echo "# $p: $s"; bad=1; }
done
verdict $bad "both packages installed at the built version"

# the installed server files are the package's, byte for byte (dpkg --verify prints nothing then)
libdir=$(pg_config --pkglibdir)
sharedir=$(pg_config --sharedir)
out=$(dpkg --verify postgresql-15-ex7 2>&1)
[ -z "$out" ] && [ "$(dpkg -S "$libdir/ex7.so" 2>/dev/null)" = "postgresql-15-ex7: $libdir/ex7.so" ] &&
	[ "$(dpkg -S "$sharedir/extension/ex7--$version.sql" 2>/dev/null | cut -d: -f1)" = postgresql-15-ex7 ] &&
	[ "$(dpkg -S "$sharedir/extension/ex7.control" 2>/dev/null | cut -d: -f1)" = postgresql-15-ex7 ]
st=$?
[ -n "$out" ] && echo "# dpkg --verify: $out"
verdict $st "postgresql-15-ex7 owns ex7.so, ex7.control and ex7--$version.sql in the server's directories"

bad=0
[ -x /usr/bin/ex7d ] || { echo "# /usr/bin/ex7d missing"; bad=1; }
cmp -s /usr/share/ex7/openapi.json http/openapi.json || { echo "# /usr/share/ex7/openapi.json differs"; bad=1; }
cmp -s /etc/ex7/ex7d.env debian/ex7d.env || { echo "# /etc/ex7/ex7d.env is not debian/ex7d.env"; bad=1; }
out=$(dpkg --verify ex7d 2>&1)
[ -z "$out" ] || { echo "# dpkg --verify ex7d: $out"; bad=1; }
dpkg-query -W -f='${Conffiles}\n' ex7d | grep -q '^ /etc/ex7/ex7d.env ' || { echo "# ex7d.env is no conffile"; bad=1; }
[ "$(stat -c '%a %U' /etc/ex7/ex7d.env)" = "600 root" ] || { echo "# ex7d.env: $(stat -c '%a %U' /etc/ex7/ex7d.env)"; bad=1; }
[ -f "$unit" ] || { echo "# $unit missing"; bad=1; }
man -w ex7d >/dev/null 2>&1 || [ -f /usr/share/man/man1/ex7d.1.gz ] || { echo "# no man page"; bad=1; }
verdict $bad "ex7d installs /usr/bin/ex7d, /etc/ex7/ex7d.env (conffile, 0600), the unit, openapi.json, ex7d(1)"

# the web console and the API reference (debian/ex7d.install; docs/console.md, "Serving"): index.html and the
# folders assets/ and docs/ under /usr/share/ex7/web, nothing else there (no src/, node_modules/ or
# package.json), the API reference's page in docs/, and every file index.html names (the stylesheet, the
# icon, the preloaded modules, the entry) in the package. Judged on the package itself, not on web/, which
# another developer's `make web` may have rebuilt since; dpkg --verify above compared the installed bytes.
bad=0
listed=$(dpkg -L ex7d 2>/dev/null)
for f in /usr/share/ex7/web/index.html /usr/share/ex7/web/assets /usr/share/ex7/web/docs /usr/share/ex7/web/docs/index.html; do
	grep -qxF "$f" <<<"$listed" || { echo "# $f is not in the ex7d package"; bad=1; }
done
web=$(dpkg-deb -c "$DIR"/out/ex7d_*.deb | awk '$1 !~ /^d/ { print $NF }' | sed -n 's|^\./usr/share/ex7/web/||p' | sort)
other=$(grep -vE '^(index\.html|assets/.+|docs/.+)$' <<<"$web")
[ -z "$other" ] || { echo "# not the console's, under /usr/share/ex7/web:" $other; bad=1; }
refs=$(grep -oE '(href|src)="/assets/[^"]+"' /usr/share/ex7/web/index.html 2>/dev/null | sed -E 's|^[a-z]+="/||; s|"$||')
[ -n "$refs" ] || { echo "# /usr/share/ex7/web/index.html names no /assets/ file"; bad=1; }
for f in $refs; do
	grep -qxF "$f" <<<"$web" || { echo "# index.html names /$f, which is not in the package"; bad=1; }
done
verdict $bad "ex7d installs the web console under /usr/share/ex7/web: index.html, assets/, docs/ ($(grep -c . <<<"$web") files; the $(wc -w <<<"$refs") that index.html names among them)"

st=1
v=$(/usr/bin/ex7d --version 2>&1) && [ "$v" = "ex7d $version" ] && st=0
verdict $st "ex7d --version prints \"ex7d $version\" (got \"$v\")"

user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
pw=$(getent passwd "$user")
uid=$(echo "$pw" | cut -d: -f3)
shell=$(echo "$pw" | cut -d: -f7)
[ -n "$pw" ] && getent group "$group" >/dev/null && [ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ]
verdict $? "the unit's user $user:$group is a system user without login (uid $uid, $shell)"

# the secret: generated at installation, root only, in no package
st=1
if [ "$(stat -c '%a %U' "$secret_file" 2>/dev/null)" = "600 root" ] &&
	grep -qE '^EX7_JWT_SECRET=[0-9a-f]{64}$' "$secret_file" && ! dpkg -S "$secret_file" >/dev/null 2>&1 &&
	! dpkg-deb -c "$DIR"/out/ex7d_*.deb | grep -q 'ex7d-secret'; then
	st=0
fi
verdict $st "install generated a random 256-bit EX7_JWT_SECRET in $secret_file (0600 root, not in the package)"

# every setting ex7d knows (ex7d --help) is documented in the packaged ex7d.env
missing=()
for name in $(/usr/bin/ex7d --help | sed -n '/^environment:/,$p' | grep -oE '\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b' | sort -u); do
	grep -qE "^#?$name=" /etc/ex7/ex7d.env || missing+=("$name")
done
[ ${#missing[@]} -eq 0 ]
verdict $? "/etc/ex7/ex7d.env documents every setting of ex7d --help${missing:+ (missing: ${missing[*]})}"

# --- the unit, offline -------------------------------------------------------------------------------
command -v systemd-analyze >/dev/null 2>&1 ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1
out=$(systemd-analyze verify "$unit" 2>&1)
st=$?
[ -n "$out" ] && echo "$out" | sed 's/^/# systemd-analyze verify: /'
[ $st -eq 0 ] && [ -z "$out" ]
verdict $? "systemd-analyze verify $unit: no complaint"
# exposure 0 (locked down) .. 10 (unconfined); systemd rates up to 3.9 "OK", 4.0-6.9 "MEDIUM"
systemd-analyze security --offline=true "$unit" >"$DIR/security.txt" 2>&1
score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$DIR/security.txt")
grep -E '^✗' "$DIR/security.txt" | sed 's/^/# exposed: /' | cut -c1-120
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 4.0) }'
verdict $? "systemd-analyze security rates the unit's exposure ${score:-unknown} (below 4.0, \"OK\")"

# --- the packaged ex7d, run as the unit runs it --------------------------------------------------
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null &&
	psql -X -q -d "$db" -c "CREATE EXTENSION ex7" >/dev/null
st=$?
ext=$(psql -X -qAt -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'ex7'" 2>/dev/null)
[ $st -eq 0 ] && [ "$ext" = "$version" ]
verdict $? "CREATE EXTENSION ex7 from the package in a new database ($ext)" || exit 1

# an operator's upgrade (docs/packaging.md, "Upgrading"): a database at each older released version
# the package ships (its full scripts, ext/frozen/) reaches this one with ALTER EXTENSION ex7 UPDATE
for old in $(dpkg -L postgresql-15-ex7 | sed -n "s|^$sharedir/extension/ex7--\([0-9.]*\)\.sql$|\1|p" | sort -V); do
	[ "$old" = "$version" ] && continue
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ${db}_up WITH (FORCE)" >/dev/null 2>&1
	psql -X -q -d postgres -c "CREATE DATABASE ${db}_up" >/dev/null &&
		psql -X -q -d "${db}_up" -c "CREATE EXTENSION ex7 VERSION '$old'" -c "ALTER EXTENSION ex7 UPDATE" >"$DIR/update.log" 2>&1
	st=$?
	got=$(psql -X -qAt -d "${db}_up" -c "SELECT extversion FROM pg_extension WHERE extname = 'ex7'" 2>/dev/null)
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ${db}_up WITH (FORCE)" >/dev/null 2>&1
	[ $st -eq 0 ] || sed 's/^/# /' "$DIR/update.log"
	[ $st -eq 0 ] && [ "$got" = "$version" ]
	verdict $? "the packaged scripts update a database from $old: ALTER EXTENSION ex7 UPDATE gives $got"
done

. tools/cluster.sh
port=$(free_port 58100)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# EnvironmentFile= lines in the unit's order ("-" = optional), a later file overriding an earlier one
envs=()
while read -r f; do
	f=${f#-}
	[ -r "$f" ] || continue
	while IFS= read -r line; do envs+=("$line"); done < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$f")
done < <(sed -n 's/^EnvironmentFile=//p' "$unit")
overrides=("DATABASE_URL=postgresql://$PGUSER@127.0.0.1:$PGPORT/$db" "EX7_LISTEN=127.0.0.1:$port")
# as the unit's user and group, no supplementary groups, no new privileges, only its environment
as_unit=(setpriv --reuid="$user" --regid="$group" --clear-groups --no-new-privs --
	env -i PATH=/usr/bin:/bin "${envs[@]}" "${overrides[@]}")
"${as_unit[@]}" $exec_start >"$DIR/ex7d.out" 2>"$DIR/ex7d.err" &
ex7d_pid=$!
code=000
for _ in $(seq 1 100); do
	code=$(curl -s -o "$DIR/health.json" -w '%{http_code}' "http://127.0.0.1:$port/api/health" 2>/dev/null)
	[ "$code" = 200 ] && break
	kill -0 "$ex7d_pid" 2>/dev/null || break
	sleep 0.1
done
[ "$code" = 200 ] || sed 's/^/# ex7d: /' "$DIR/ex7d.err"
[ "$code" = 200 ] && grep -q "\"extension_version\": *\"$version\"" "$DIR/health.json" &&
	grep -q '"status": *"ok"' "$DIR/health.json"
verdict $? "packaged ex7d as $user: GET /api/health 200 $(head -c 200 "$DIR/health.json" 2>/dev/null)"
st=1
[ "$(ps -o user= -p "$ex7d_pid" 2>/dev/null | tr -d ' ')" = "$user" ] && st=0
verdict $st "ex7d runs as $user"

code=$(curl -s -o "$DIR/openapi.json" -w '%{http_code}' "http://127.0.0.1:$port/openapi.json")
[ "$code" = 200 ] && cmp -s "$DIR/openapi.json" /usr/share/ex7/openapi.json
verdict $? "GET /openapi.json serves /usr/share/ex7/openapi.json ($code)"

# the packaged ex7d serves the packaged console (no EX7_WEB_DIR: its default, /usr/share/ex7/web)
code=$(curl -s -o "$DIR/index.html" -w '%{http_code}' "http://127.0.0.1:$port/")
docs=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/docs")
[ "$code" = 200 ] && cmp -s "$DIR/index.html" /usr/share/ex7/web/index.html && [ "$docs" = 200 ]
verdict $? "GET / serves /usr/share/ex7/web/index.html ($code), GET /docs the API reference ($docs)"

# the generated secret verifies tokens: one minted with it (ex7d token, same environment) is accepted
sub=$(cat /proc/sys/kernel/random/uuid)
tok=$("${as_unit[@]}" /usr/bin/ex7d token --sub "$sub" 2>/dev/null)
anon=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/engines")
code=$(curl -s -o "$DIR/engines.json" -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/engines")
[ "$anon" = 401 ] && [ "$code" = 200 ]
verdict $? "a token signed with the generated secret is accepted (GET /api/engines: $code, without it $anon)"

kill -TERM "$ex7d_pid"
st=124
for _ in $(seq 1 100); do
	kill -0 "$ex7d_pid" 2>/dev/null || { wait "$ex7d_pid"; st=$?; break; }
	sleep 0.1
done
[ $st -ne 0 ] && sed 's/^/# ex7d: /' "$DIR/ex7d.err"
[ $st -eq 124 ] && kill -KILL "$ex7d_pid" 2>/dev/null
ex7d_pid=
verdict $st "ex7d stops on SIGTERM (the unit's KillSignal) with status 0 (got $st)"
echo "# deb check: $SECONDS s"
