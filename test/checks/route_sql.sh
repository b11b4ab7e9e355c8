#!/usr/bin/env bash
# test/checks/route_sql.sh: every statement ex7d sends to a function of the extension has a form Citus can
# delegate to the worker holding the acting user's shard (docs/http.md, "Adding an endpoint"). Citus
# delegates a call only when the statement is `SELECT f(args)` (one function call as the whole target list)
# or `SELECT columns FROM f(args)` (Citus, src/backend/distributed/planner/function_call_delegation.c,
# TryToDelegateFunctionCall); a cast or an expression around the call (`SELECT ex7.f($1::uuid)::text`) runs
# it on the coordinator instead, where its pg_notify is not heard by the user's worker's listeners and every
# statement it makes is a distributed query. Casts on the arguments are fine.
# Reads the C string literals of http/*.c and http/*.h (adjacent literals joined, as the compiler does);
# a statement with "..." in it is a placeholder the route's handler replaces (http/keys.c). Needs no
# cluster ($1 is ignored).
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 - <<'PY'
import pathlib, re

lits = re.compile(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+')
one = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
call = re.compile(r'^SELECT (?:[A-Za-z_][A-Za-z_0-9, ]*|\*) FROM (ex7\.[a-z_0-9]+)\(|^SELECT (ex7\.[a-z_0-9]+)\(')


def delegable(sql):
    """True when sql is SELECT ex7.f(...) or SELECT cols FROM ex7.f(...) with nothing after the call."""
    m = call.match(sql)
    if not m:
        return False
    depth, i = 1, m.end()
    while i < len(sql) and depth:
        depth += {'(': 1, ')': -1}.get(sql[i], 0)
        i += 1
    return depth == 0 and i == len(sql)


seen, bad = 0, []
for f in sorted(pathlib.Path('http').glob('*.[ch]')):
    for m in lits.finditer(f.read_text()):
        sql = ''.join(one.findall(m.group(0))).strip()
        if not sql.startswith('SELECT') or 'ex7.' not in sql or '...' in sql:
            continue
        seen += 1
        if not delegable(sql):
            bad.append(f'{f}: {sql}')
for b in bad:
    print(f'not ok - not of a form Citus delegates: {b}')
if seen < 50:
    print(f'not ok - only {seen} statements found in http/: the scan is broken')
elif not bad:
    print(f'ok - all {seen} statements of http/ that call ex7 are SELECT ex7.f(args) or SELECT ... FROM ex7.f(args)')
PY
