#!/usr/bin/env bash
# bench/bench_console.sh: the web console's first load (docs/console.md; run by bench/run.sh;
# docs/performance.md, "Web console first load"). One ex7d serving web/ (EX7_WEB_DIR) on loopback; headless
# Chromium (bench/console_load.mjs, puppeteer-core from test/e2e/node_modules) opens the dashboard signed
# in (a token in sessionStorage, as the sign-in screen leaves it), 5 times, each in a fresh browser context
# (an empty cache), and each measure's best of the loads counts:
#   bytes:     everything transferred until the dashboard is settled, headers included, gzip as served
#                                                                                      (goal <= 250 kB)
#   dashboard: when the main panel's trading status is in the DOM, ms from the navigation's start
#                                                                                      (goal <= 1,000 ms)
# with Chromium's Navigation Timing (domInteractive, DOMContentLoaded, load) and the time every panel had its
# data and the stream was live. A console error, an uncaught exception, a failed request or an error answer
# fails the run, as does a dashboard that does not say trading is allowed (its user may trade).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
LOADS=${BENCH_LOADS:-$(smoke 5 1)}
U=00000000-0000-4000-8000-0000000bc001
if [ ! -d test/e2e/node_modules/puppeteer-core ] || [ test/e2e/package-lock.json -nt test/e2e/node_modules/.package-lock.json ]; then
	(cd test/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || bench_fail "npm ci in test/e2e failed"
fi
{ [ -x /usr/bin/chromium ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; } || { echo "install chromium (tools/deps.sh)"; exit 1; }
bench_begin console

# one user who may trade and stream (the stream answers 412 until the compliance documents are accepted)
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.ensure_user('$U');
SELECT ex7.accept_compliance('$U', NULL, 'bench');
SELECT ex7.set_risk_limits('$U', 'paper', '{"max_trades_per_day": 100, "max_open_positions": 10,
                                           "max_consecutive_losses": 5, "daily_loss_limit": "1000"}');
SQL

SECRET=bench-secret-bench-secret-bench-secret-0123
PORT=$(free_tcp_port)
start_ex7d "$W/ex7d.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$PORT EX7_WEB_DIR="$PWD/web" || exit 1
TOKEN=$(ex7d_exec EX7_JWT_SECRET=$SECRET -- token --sub "$U") || bench_fail "ex7d token failed"

node bench/console_load.mjs "http://127.0.0.1:$PORT" "$TOKEN" "$LOADS" >"$W/result.json" ||
	{ cat "$W/result.json" >&2; tail -5 "$W/ex7d.log" >&2; bench_fail "the console's first load had problems (above)"; }
python3 - "$W/result.json" "$W/values" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for i, l in enumerate(r['loads'], 1):
    if 'Trading allowed' not in (l['trading_status'] or ''):
        print(f"load {i}: the dashboard does not say trading is allowed ({l['trading_status']!r})", file=sys.stderr)
        sys.exit(1)
    print(f"load {i}: {l['bytes']:,} bytes ({l['body_bytes']:,} of bodies) in {l['requests']} responses, "
          f"{l['gzipped']} of {l['text_files']} files gzipped; domInteractive {l['dom_interactive_ms']:.0f} ms, "
          f"DOMContentLoaded {l['dom_content_loaded_ms']:.0f} ms, load {l['load_ms']:.0f} ms, "
          f"dashboard {l['dashboard_ms']:.0f} ms, settled {l['settled_ms']:.0f} ms")
b = r['best']
print(f"best of {len(r['loads'])}: {b['bytes']:,} bytes transferred ({b['bytes'] / 1000:.1f} kB; "
      f"{b['body_bytes']:,} of bodies), domInteractive {b['dom_interactive_ms']:.0f} ms, DOMContentLoaded "
      f"{b['dom_content_loaded_ms']:.0f} ms, load {b['load_ms']:.0f} ms, dashboard {b['dashboard_ms']:.0f} ms, "
      f"settled {b['settled_ms']:.0f} ms")
open(sys.argv[2], 'w').write(f"{b['bytes']} {b['dashboard_ms']:.0f} {b['dom_content_loaded_ms']:.0f}\n")
PY
[ -s "$W/values" ] || bench_fail "no result"
read -r bytes dash dcl <"$W/values"
bench_goal "console first load $((bytes / 1000)) kB transferred (<= 250 kB)" 'b <= 250000' b="$bytes"
bench_goal "console dashboard rendered in $dash ms, DOMContentLoaded $dcl ms (<= 1000 ms)" 'd <= 1000' d="$dash"
