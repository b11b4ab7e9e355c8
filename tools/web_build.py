#!/usr/bin/env python3
"""tools/web_build.py: builds the web console's served files (make web; docs/console.md).

No bundler: the browser loads ES modules. This script
  1. copies the libraries' ESM files from web/node_modules (pinned by web/package-lock.json) into
     web/assets/vendor/ under content-hashed names, each library's LICENSE next to it;
  2. copies the app's modules (web/src/**/*.js that main.js imports, directly or not) and stylesheet (web/src/app.css) into web/assets/ under
     content-hashed names, rewriting every import: a bare specifier ('preact', 'preact/hooks', 'htm') to
     its vendored file, a relative one to the hashed name of that module (a module's hash covers its
     rewritten text, so a change anywhere renames every module that imports it, up to main.js);
     A dynamic import('...') is rewritten the same way; a library in LAZY may only be imported so (uPlot:
     the backtest screen loads it), and new URL('<library file>', import.meta.url) names a library's other
     vendored file (uPlot's stylesheet);
  3. writes web/index.html from web/src/index.html, with the hashed names of the stylesheet, the entry
     module and a modulepreload of every module (one round trip instead of a waterfall of imports) but
     the LAZY libraries;
  4. removes the hashed files of earlier builds.
The served page needs no import map (an inline script, which the Content-Security-Policy forbids).
Run it again after any change in web/src/ and commit web/assets/ and web/index.html with the sources.
"""
import hashlib
import json
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(TOP, 'web')
SRC = os.path.join(WEB, 'src')
NM = os.path.join(WEB, 'node_modules')
ASSETS = os.path.join(WEB, 'assets')
VENDOR = os.path.join(ASSETS, 'vendor')

# bare specifier -> (package, file inside the package, served base name); in dependency order
LIBS = [
    ('preact', 'preact', 'dist/preact.module.js', 'preact'),
    ('preact/hooks', 'preact', 'hooks/dist/hooks.module.js', 'preact-hooks'),
    ('htm', 'htm', 'dist/htm.module.js', 'htm'),
    ('uplot', 'uplot', 'dist/uPlot.esm.js', 'uplot'),
]
# libraries the app may only import() (dynamic): vendored, not preloaded; the screen that needs one loads it
LAZY = {'uplot'}
# other files of a library, named in a module as new URL('<name>', import.meta.url) (a stylesheet the module
# links when it loads the library): name -> (package, file inside the package, served base name)
LIB_FILES = [
    ('uplot/uPlot.min.css', 'uplot', 'dist/uPlot.min.css', 'uplot'),
]
HASHED = re.compile(r'^[\w-]+\.[0-9a-f]{10}\.(js|css|svg)$')
# (the keyword not after a dot, slash or hyphen: '/api/strategies/import' in a string is no import)
IMPORT = re.compile(r'''((?<![\w$./-])import\s*(?:[\w*{}\s,$]+?\s*from\s*)?|(?<![\w$./-])export\s*[\w*{}\s,$]+?\s*from\s*|(?<![\w$./-])import\s*\()(['"])([^'"]+)\2''')
ASSET_URL = re.compile(r'''(\bnew\s+URL\(\s*)(['"])([^'"]+)\2(\s*,\s*import\.meta\.url\s*\))''')
MAP = re.compile(r'\n?//# sourceMappingURL=\S+\s*$')


def digest(data):
    return hashlib.sha256(data).hexdigest()[:10]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = None
    if os.path.exists(path):
        with open(path, 'rb') as f:
            old = f.read()
    if old != data:
        with open(path, 'wb') as f:
            f.write(data)


def rewrite(text, resolve):
    # resolve(specifier, dynamic): dynamic is True for import('...')
    return IMPORT.sub(lambda m: m.group(1) + m.group(2) + resolve(m.group(3), m.group(1).rstrip().endswith('(')) + m.group(2), text)


def main():
    if not os.path.isdir(NM):
        sys.exit('web/node_modules is missing: run npm ci in web/ (make web does)')
    keep = set()
    served = {}  # bare specifier -> path under /assets/
    sizes = []

    # 1. the libraries
    for spec, pkg, rel, base in LIBS:
        with open(os.path.join(NM, pkg, rel), encoding='utf-8') as f:
            text = MAP.sub('\n', f.read())

        def lib_resolve(s, dynamic=False):
            if s in served:
                return './' + os.path.basename(served[s])
            sys.exit(f'{pkg}/{rel} imports {s}, which is not vendored before it')
        data = rewrite(text, lib_resolve).encode()
        name = f'{base}.{digest(data)}.js'
        write(os.path.join(VENDOR, name), data)
        keep.add(os.path.join(VENDOR, name))
        served[spec] = 'vendor/' + name
        sizes.append(('vendor/' + name, len(data)))
        with open(os.path.join(NM, pkg, 'package.json'), encoding='utf-8') as f:
            version = json.load(f)['version']
        lic = os.path.join(VENDOR, f'{pkg}.LICENSE.txt')
        with open(os.path.join(NM, pkg, 'LICENSE'), 'rb') as f:
            write(lic, f'{pkg} {version} ({pkg} on npm)\n\n'.encode() + f.read())
        keep.add(lic)

    # a library's other files (a stylesheet), for new URL(name, import.meta.url) in the app's modules
    for spec, pkg, rel, base in LIB_FILES:
        with open(os.path.join(NM, pkg, rel), 'rb') as f:
            data = f.read()
        ext = os.path.splitext(rel)[1]
        name = f'{base}.{digest(data)}{ext}'
        write(os.path.join(VENDOR, name), data)
        keep.add(os.path.join(VENDOR, name))
        served[spec] = 'vendor/' + name
        sizes.append(('vendor/' + name, len(data)))

    # 2. the app's modules, dependencies first (a module's name depends on its imports' names)
    modules = {}
    for d, _, files in os.walk(SRC):
        for fn in files:
            if fn.endswith('.js'):
                p = os.path.join(d, fn)
                modules[os.path.relpath(p, SRC)] = p
    done = {}  # relpath -> hashed relpath under assets/
    visiting = set()

    def build(rel):
        if rel in done:
            return done[rel]
        if rel in visiting:
            sys.exit(f'import cycle through web/src/{rel}')
        visiting.add(rel)
        with open(modules[rel], encoding='utf-8') as f:
            text = f.read()

        def app_resolve(s, dynamic=False):
            if s in LAZY and not dynamic:
                sys.exit(f'web/src/{rel} imports {s} statically: it is loaded with import() only (LAZY in tools/web_build.py)')
            if s in served:
                r = os.path.relpath(os.path.join(ASSETS, served[s]), os.path.join(ASSETS, os.path.dirname(rel)))
                return r if r.startswith('.') else './' + r
            if s.startswith('./') or s.startswith('../'):
                target = os.path.normpath(os.path.join(os.path.dirname(rel), s))
                if target not in modules:
                    sys.exit(f'web/src/{rel} imports {s}: no such module')
                out = build(target)
                r = os.path.relpath(out, os.path.dirname(rel) or '.')
                return r if r.startswith('.') else './' + r
            sys.exit(f'web/src/{rel} imports {s}: not a vendored library (LIBS in tools/web_build.py)')
        text = ASSET_URL.sub(lambda m: m.group(1) + m.group(2) + app_resolve(m.group(3)) + m.group(2) + m.group(4), text)
        data = rewrite(text, app_resolve).encode()
        stem, _ = os.path.splitext(rel)
        out = f'{stem}.{digest(data)}.js'
        write(os.path.join(ASSETS, out), data)
        keep.add(os.path.join(ASSETS, out))
        sizes.append((out, len(data)))
        visiting.discard(rel)
        done[rel] = out
        return out

    if 'main.js' not in modules:
        sys.exit('web/src/main.js is missing')
    # from main.js through its imports: a module nothing imports is neither served nor preloaded
    build('main.js')
    for rel in sorted(set(modules) - set(done)):
        print(f'  (web/src/{rel}: not imported from main.js, left out)')

    # the stylesheet and the icon
    statics = {}
    for fn in ('app.css', 'icon.svg'):
        with open(os.path.join(SRC, fn), 'rb') as f:
            data = f.read()
        stem, ext = os.path.splitext(fn)
        out = f'{stem}.{digest(data)}{ext}'
        write(os.path.join(ASSETS, out), data)
        keep.add(os.path.join(ASSETS, out))
        statics[fn] = out
        sizes.append((out, len(data)))

    # 3. index.html
    with open(os.path.join(SRC, 'index.html'), encoding='utf-8') as f:
        html = f.read()
    preload = '\n'.join(f'  <link rel="modulepreload" href="/assets/{p}">'
                        for p in sorted(set(done.values()) | {served[s] for s, *_ in LIBS if s not in LAZY})
                        if p != done['main.js'])
    html = (html.replace('{{css}}', '/assets/' + statics['app.css'])
                .replace('{{icon}}', '/assets/' + statics['icon.svg'])
                .replace('{{main}}', '/assets/' + done['main.js'])
                .replace('{{preload}}', preload))
    if '{{' in html:
        sys.exit('web/src/index.html: a placeholder is left')
    write(os.path.join(WEB, 'index.html'), html.encode())
    sizes.append(('../index.html', len(html.encode())))

    # 4. the files of earlier builds
    for d, _, files in os.walk(ASSETS):
        for fn in files:
            p = os.path.join(d, fn)
            if p not in keep and (HASHED.match(fn) or fn.endswith('.LICENSE.txt')):
                os.remove(p)
    for d, dirs, files in sorted(os.walk(ASSETS), reverse=True):
        if d != ASSETS and not os.listdir(d):
            os.rmdir(d)

    total = sum(n for _, n in sizes)
    for p, n in sorted(sizes):
        print(f'  {n:7d}  web/assets/{p}' if not p.startswith('..') else f'  {n:7d}  web/index.html')
    print(f'  {total:7d}  in all (uncompressed)')
    lazy = {served[s] for s, *_ in LIBS if s in LAZY} | {served[s] for s, *_ in LIB_FILES}
    print(f'  {sum(n for p, n in sizes if p not in lazy):7d}  the first load: all but the libraries loaded with import() and their files')


if __name__ == '__main__':
    main()
