# Makefile: the top-level build. Drives PGXS for the extension (ext/, sql/, expected/, specs/) and the
# project commands: deps, test, run, bench. The version has one source: default_version in ex7.control.

EXTENSION  = ex7
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" ex7.control)

MODULE_big = ex7
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard ext/*.c)))

# The install script is assembled from ext/sql/NN_*.sql, one concern a file, in name order.
# Upgrades (docs/extending.md): 00_base.sql and *_schema.sql hold DDL that runs once; every other file
# holds only CREATE OR REPLACE FUNCTION, COMMENT and GRANT and is re-run whole by the upgrade script.
# ext/ex7--PREV--CUR.sql = ext/upgrade/PREV--CUR.sql (the hand-written DDL delta, in which a line
# "-- include ext/sql/F.sql" stands for the whole of a schema file new in CUR) + those files.
# Released scripts (the old full script, older upgrades) are frozen, byte for byte, in ext/frozen/.
SQL_ALL    = $(sort $(wildcard ext/sql/*.sql))
SQL_RERUN  = $(filter-out ext/sql/00_base.sql %_schema.sql,$(SQL_ALL))
UPGRADES   = $(patsubst ext/upgrade/%.sql,ext/ex7--%.sql,$(wildcard ext/upgrade/*--*.sql))
DATA_built = ext/ex7--$(EXTVERSION).sql $(UPGRADES)
DATA       = $(wildcard ext/frozen/ex7--*.sql)

# pg_regress: init first (creates the extension and the test helpers), then one file per feature.
REGRESS      = init $(filter-out init,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=.
ISOLATION    = $(sort $(basename $(notdir $(wildcard specs/*.spec))))
ISOLATION_OPTS = --inputdir=. --outputdir=output_iso

# -Wno-unused-parameter: every V1 function receives fcinfo whether or not it reads it (PostgreSQL's own
# build uses the same flag set through pg_config).
PG_CPPFLAGS = -Iext -DEX7_VERSION='"$(EXTVERSION)"'
# libcrypto (OpenSSL, which the server itself links): scrypt password hashes, HMAC tokens (docs/account.md)
SHLIB_LINK  = -lcrypto
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = ext/ex7--$(EXTVERSION).sql $(UPGRADES) results output_iso regression.diffs regression.out http/ex7d http/ex7d-asan test/fuzz/fuzz_edge

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# a failed rule leaves no half-built script behind
.DELETE_ON_ERROR:

ext/ex7--$(EXTVERSION).sql: $(SQL_ALL)
	cat $^ > $@

$(UPGRADES): ext/ex7--%.sql: ext/upgrade/%.sql $(SQL_RERUN) $(filter %_schema.sql,$(SQL_ALL))
	awk '/^-- include ext\/sql\/[0-9A-Za-z_]+\.sql$$/ { f = $$3; n = 0; \
	     while ((getline line < f) > 0) { print line; n++ } close(f); \
	     if (n == 0) { print "missing " f > "/dev/stderr"; exit 1 } next } { print }' $< > $@
	cat $(SQL_RERUN) >> $@

# http/ex7d: the HTTP front (libevent, libpq, json-c, OpenSSL), same warnings as the extension (route
# tables leave trailing fields to their zero default, hence -Wno-missing-field-initializers).
HTTP_SRCS   = $(sort $(wildcard http/*.c))
HTTP_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-missing-field-initializers -D_GNU_SOURCE -I/usr/include/json-c \
              -I$(shell $(PG_CONFIG) --includedir) -DEX7_VERSION='"$(EXTVERSION)"' $(HTTP_EXTRA_CFLAGS)
HTTP_LIBS   = -L$(shell $(PG_CONFIG) --libdir) -lpq -levent -levent_openssl -ljson-c -lssl -lcrypto -lz
all: http/ex7d
http/ex7d: $(HTTP_SRCS) $(wildcard http/*.h)
	$(CC) $(HTTP_CFLAGS) -o $@ $(HTTP_SRCS) $(HTTP_LIBS)

# the same server built with AddressSanitizer and UndefinedBehaviorSanitizer (any finding aborts it):
# make test runs the end-to-end suite against this build (docs/http.md, "Sanitizers and fuzzing")
SAN_CFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
http/ex7d-asan: $(HTTP_SRCS) $(wildcard http/*.h)
	$(CC) $(filter-out -O2,$(HTTP_CFLAGS)) -O1 $(SAN_CFLAGS) -o $@ $(HTTP_SRCS) $(HTTP_LIBS)

# libFuzzer over the request path (test/fuzz/fuzz_edge.c includes router.c and conn.c for their static
# functions; every other http/*.c but main.c is linked); make fuzz runs it (tools/fuzz.sh, FUZZ_SECONDS)
FUZZ_SRCS = $(filter-out http/main.c http/router.c http/conn.c,$(HTTP_SRCS))
test/fuzz/fuzz_edge: test/fuzz/fuzz_edge.c $(HTTP_SRCS) $(wildcard http/*.h) ext/base64url.h
	clang $(filter-out -O2,$(HTTP_CFLAGS)) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ test/fuzz/fuzz_edge.c $(FUZZ_SRCS) $(HTTP_LIBS)

# ext/base64url.h, the one base64url of both builds, is included by http/jwt.c, ext/cursor.c, ext/alerts.c
http/ex7d http/ex7d-asan ext/cursor.o ext/alerts.o ext/cursor.bc ext/alerts.bc: ext/base64url.h

.PHONY: deps test run stop bench deb chaos fuzz test-citus web
deps:
	@bash tools/deps.sh

test:
	@bash tools/test.sh

run:
	@bash tools/run.sh

# the web console's served files (web/assets/, web/index.html) from web/src/ and the npm libraries pinned by
# web/package-lock.json; the built files are committed, so make run needs no npm (docs/console.md)
web:
	@[ -d web/node_modules/preact ] && [ web/node_modules/.package-lock.json -nt web/package-lock.json ] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
	@python3 tools/web_build.py

stop:
	@bash tools/run.sh stop

bench:
	@bash bench/run.sh

# ex7 distributed on a three-node Citus cluster on this machine: the end-to-end suites, shard placement and
# router plans, apart from make test (docs/scale-out.md)
test-citus:
	@bash tools/test_citus.sh

# failover under load with pg_auto_failover on this machine, apart from make test (docs/ha.md)
chaos:
	@bash tools/chaos.sh

# libFuzzer over ex7d's request path for FUZZ_SECONDS (default 600), apart from make test (docs/http.md)
fuzz:
	@bash tools/fuzz.sh

# Debian packages postgresql-15-ex7 and ex7d into DEB_OUT (docs/packaging.md)
DEB_OUT ?= dist
deb:
	@bash tools/deb.sh $(DEB_OUT)

