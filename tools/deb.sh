#!/usr/bin/env bash
# tools/deb.sh [OUTDIR]: `make deb`. Builds the Debian packages postgresql-15-ex7 and ex7d with
# dpkg-buildpackage (debian/, docs/packaging.md) from a copy of the working tree, so that the build's
# `make clean` never touches the tree others build and test in, then runs lintian over them.
# OUTDIR (default dist/) receives the .deb files, build.log and lintian.txt. Exit status non-zero when
# the build fails or lintian reports an error (warnings are listed, not fatal).
# Build dependencies are installed with apt-get when missing (as root; otherwise it prints the line).
# DEB_BUILD_OPTIONS defaults to "nocheck": make test runs the regression suites on the same tree.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

version=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" ex7.control)

# --- build dependencies: the tools, then debian/control's Build-Depends --------------------------
apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deb: missing $*; install them with: sudo apt-get install -y $*" >&2
		exit 1
	fi
	echo "deb: installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=120 "$@" >/dev/null ||
		{ apt-get update -qq -o DPkg::Lock::Timeout=120 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=120 "$@" >/dev/null; }
}
missing=()
for p in dpkg-dev debhelper lintian postgresql-server-dev-all; do
	case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)" in ii*) ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
if ! unmet=$(dpkg-checkbuilddeps 2>&1); then
	# "dpkg-checkbuilddeps: error: Unmet build dependencies: a (>= 1) b" -> a b
	pkgs=$(echo "$unmet" | sed -n 's/.*Unmet build dependencies: //p' | sed 's/([^)]*)//g; s/|[^ ]*//g')
	[ -n "$pkgs" ] || { echo "$unmet" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt_install $pkgs
fi

# --- the version: debian/changelog is kept in step with ex7.control (the one version source) ------
changelog=$(dpkg-parsechangelog -S Version)
# a packaging-only change may add +debN to the same upstream version
if [ "${changelog%%+*}" != "$version" ]; then
	echo "deb: debian/changelog is at $changelog but ex7.control's default_version is $version:" >&2
	echo "     add an entry first: dch -v $version 'ex7 $version' (or edit debian/changelog)" >&2
	exit 1
fi
# debian/control is debian/control.in for the versions in debian/pgversions (pg_buildext updatecontrol);
# the build's `pg_buildext checkcontrol` stops when the two disagree

# --- a copy of the working tree: tracked and new (not ignored) files, as they are on disk ----------
WORK=$(mktemp -d /tmp/ex7-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/ex7-$version
mkdir -p "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
		tar -cf - --null -T - | tar -xf - -C "$SRC"
else
	# not a git checkout (an unpacked tarball): everything; the build starts with debian/rules clean
	tar -cf - --exclude=./.git --exclude=./dist --exclude='./.pgdata' --exclude=node_modules . | tar -xf - -C "$SRC"
fi

rm -f "$OUT"/*.deb "$OUT"/*.ddeb "$OUT"/*.changes "$OUT"/*.buildinfo "$OUT"/lintian.txt
echo "deb: building ex7 $changelog in $SRC (log: $OUT/build.log)"
if ! (cd "$SRC" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck parallel=2} \
	dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1; then
	tail -40 "$OUT/build.log"
	echo "deb: dpkg-buildpackage failed (whole log: $OUT/build.log)" >&2
	exit 1
fi
mv "$WORK"/*.deb "$WORK"/*.changes "$WORK"/*.buildinfo "$OUT"/
mv "$WORK"/*.ddeb "$OUT"/ 2>/dev/null || true
ls -1 "$OUT"/*.deb

# --- lintian: the .changes names the packages and the .buildinfo --------------------------------
echo "deb: lintian"
rc=0
lintian --fail-on error "$OUT"/*.changes >"$OUT/lintian.txt" 2>&1 || rc=$?
cat "$OUT/lintian.txt"
echo "deb: lintian: $(grep -c '^E: ' "$OUT/lintian.txt" || true) errors, $(grep -c '^W: ' "$OUT/lintian.txt" || true) warnings"
exit $rc
