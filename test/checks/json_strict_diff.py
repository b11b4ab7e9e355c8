#!/usr/bin/env python3
"""test/checks/json_strict_diff.py BINARY [SEED]: http/json_strict.c against a second implementation.

Python's json module (strict=True, its default) reads exactly RFC 8259 once NaN/Infinity are refused
(parse_constant) and the bytes are decoded as UTF-8 first (Python's codec refuses what RFC 3629 refuses:
overlong forms, encoded surrogates, anything above U+10FFFF). It does accept a lone \\u surrogate and \\u0000,
so those are looked for in what it parsed. 200,000 random and mutated texts go to BINARY (json_strict_test
--hex); every verdict must match:
  Python parses it, no bad string, depth <= 64  -> JSON_STRICT_OK, with the same top-level type
  Python parses it, a lone surrogate or a NUL   -> a string error (or too deep)
  Python refuses it as JSON                     -> a grammar error (or too deep)
  Python cannot decode it as UTF-8              -> a grammar error or a string error (or too deep)
Prints one "ok - ..." or "not ok - ..." line with the first mismatches."""
import json, random, subprocess, sys

OK, STRING_UTF8, SURROGATE, NUL, TOO_DEEP = 0, 9, 10, 11, 12
MALFORMED = range(1, 9)
MAX_DEPTH = 64

binary = sys.argv[1]
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 8259)
seeds = [b'{"a": [1, -0.5e+3, true, false, null, {}, []], "b": "x\\u00e9\\ud83d\\ude00\xc3\xa9", "c": {"d": "\\n\\t\\/"}}',
         b'[0, 10, -0, 1E5, 1e-5, "\\"", "\\\\", {"": ""}]', b'"abc"', b'123', b' true ', b'{"k": "\\uDBFF\\uDFFF"}',
         b'{"n": "a\\u0000b"}', b'[' * 63 + b'{"x": 1}' + b']' * 63, b'[' * 64 + b'1' + b']' * 64]
alpha = b'{}[],:"\\ u0123456789abcdefABCDEF-+.eEtrufalsnNI\t\n\r\x00\x1f\x7f\x80\xbf\xc2\xdf\xe0\xed\xef\xf0\xf4\xff\x0b\x0c'
texts = []
for i in range(200000):
    if i % 3 == 0:
        t = bytes(random.choice(alpha) for _ in range(random.randint(0, 24)))
    else:
        t = bytearray(random.choice(seeds))
        for _ in range(random.randint(1, 3)):
            if not t:
                break
            p = random.randrange(len(t))
            op = random.randrange(3)
            if op == 0:
                t[p] = random.choice(alpha)
            elif op == 1:
                t.insert(p, random.choice(alpha))
            else:
                del t[p]
        t = bytes(t)
    texts.append(t)
run = subprocess.run([binary, '--hex'], input=b''.join(t.hex().encode() + b'\n' for t in texts), capture_output=True)
answers = run.stdout.decode().split('\n')
if run.returncode != 0 or len(answers) < len(texts):
    print(f'not ok - json_strict_test --hex failed (status {run.returncode}): {run.stderr.decode()[:300]}')
    sys.exit(0)


def bad_string(o):
    if isinstance(o, str):
        return any(c == '\0' or 0xD800 <= ord(c) <= 0xDFFF for c in o)
    if isinstance(o, list):
        return any(bad_string(x) for x in o)
    if isinstance(o, dict):
        return any(bad_string(k) or bad_string(v) for k, v in o.items())
    return False


def depth(o):
    if isinstance(o, list):
        return 1 + max([depth(x) for x in o] or [0])
    if isinstance(o, dict):
        return 1 + max([depth(x) for x in o.values()] or [0])
    return 0


def top(o):
    return 1 if isinstance(o, dict) else 2 if isinstance(o, list) else 3 if isinstance(o, str) else \
        5 if o is None or isinstance(o, bool) else 4


def refuse_constant(name):
    raise ValueError(name)


mismatches = []
seen = {}
for t, line in zip(texts, answers):
    kind, ttype = (int(x) for x in line.split())
    could_be_deep = t.count(b'[') + t.count(b'{') > MAX_DEPTH
    try:
        o = json.loads(t.decode('utf-8'), parse_constant=refuse_constant)
        if depth(o) > MAX_DEPTH:
            py, good = 'too deep', kind == TOO_DEEP
        elif bad_string(o):
            py, good = 'bad string', kind in (SURROGATE, NUL)
        else:
            py, good = 'valid', kind == OK and ttype == top(o)
    except UnicodeDecodeError:
        py, good = 'not UTF-8', kind in MALFORMED or kind in (STRING_UTF8, SURROGATE, NUL) or (kind == TOO_DEEP and could_be_deep)
    except (ValueError, RecursionError):
        py, good = 'not JSON', kind in MALFORMED or (kind == TOO_DEEP and could_be_deep)
    seen[py] = seen.get(py, 0) + 1
    if not good:
        mismatches.append(f'{t!r}: Python {py}, json_strict kind {kind}')
summary = ', '.join(f'{n} {k}' for k, n in sorted(seen.items()))
if mismatches:
    print(f'not ok - json_strict disagrees with Python json on {len(mismatches)} of {len(texts)} texts: ' + '; '.join(mismatches[:5]))
else:
    print(f'ok - json_strict agrees with Python json on {len(texts)} texts ({summary})')
