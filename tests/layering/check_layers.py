#!/usr/bin/env python3
"""The layering check (docs/architecture.md, "Layers").

For every layer the build defines (src/meson.build), three things:

  includes  a one-line source including the main header of each layer
            ("core/core.h", "engines/engines.h", ...) is compiled with the
            layer's own include arguments: it must compile when that layer
            is allowed (or is the layer itself) and fail with "No such file
            or directory" when it is not;
  symbols   every symbol the layer's static library leaves undefined and
            another layer's library defines must come from an allowed layer
            (so the link dependencies follow the same graph);
  escapes   no source under src/ includes by a relative path out of its
            directory ("../"), which the include roots could not stop.

Exit status 0 when all hold; 1 with one line per breach otherwise.

Arguments (given by tests/layering/meson.build):
  --cc ARG ...          the compiler command, ending at --
  --cflag FLAG          repeated: the flags every layer compiles with
  --src DIR             the source tree's src/
  --layer NAME DIRS ALLOWED INCLUDE LIB
                        repeated, lowest layer first: DIRS and ALLOWED are
                        comma-separated (ALLOWED may be empty), INCLUDE the
                        layer's -I argument, LIB its static library
"""
import os
import re
import subprocess
import sys
import tempfile


def parse(argv):
    cc, cflags, src, layers = [], [], None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '--cc':
            i += 1
            while argv[i] != '--':
                cc.append(argv[i])
                i += 1
        elif a == '--cflag':
            i += 1
            cflags.append(argv[i])
        elif a == '--src':
            i += 1
            src = argv[i]
        elif a == '--layer':
            name, dirs, allowed, inc, lib = argv[i + 1:i + 6]
            layers.append({'name': name, 'dirs': dirs.split(','),
                           'allowed': [x for x in allowed.split(',') if x],
                           'inc': inc, 'lib': lib})
            i += 5
        else:
            sys.exit('check_layers: unknown argument %r' % a)
        i += 1
    if not cc or not src or not layers:
        sys.exit('check_layers: --cc, --src and --layer are required')
    return cc, cflags, src, layers


def main_header(src, d):
    """The header a probe includes for directory d: d/d.h, else the first."""
    names = sorted(n for n in os.listdir(os.path.join(src, d)) if n.endswith('.h'))
    if d + '.h' in names:
        return d + '/' + d + '.h'
    return d + '/' + names[0] if names else None


def compiles(cc, cflags, inc, header, tmp):
    probe = os.path.join(tmp, 'probe.c')
    with open(probe, 'w') as f:
        f.write('#include "%s"\n' % header)
    p = subprocess.run(cc + cflags + [inc, '-fsyntax-only', probe],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0, p.stdout


def check_includes(cc, cflags, src, layers, breaches):
    probes = []
    for l in layers:
        for d in l['dirs']:
            h = main_header(src, d)
            if h:
                probes.append((l['name'], h))
    with tempfile.TemporaryDirectory() as tmp:
        for l in layers:
            ok_layers = set(l['allowed']) | {l['name'], 'lib'}
            for owner, h in probes:
                want = owner in ok_layers
                got, out = compiles(cc, cflags, l['inc'], h, tmp)
                if want and not got:
                    breaches.append('includes: %s may include "%s" but cannot:\n%s' % (l['name'], h, out))
                elif not want and got:
                    breaches.append('includes: %s must not see "%s" (a %s header) but does'
                                    % (l['name'], h, owner))
                elif not want and 'No such file or directory' not in out:
                    breaches.append('includes: %s including "%s" failed for another reason:\n%s'
                                    % (l['name'], h, out))


def nm(args, lib):
    out = subprocess.run(['nm', '-g'] + args + [lib], stdout=subprocess.PIPE, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.endswith(':'):
            syms.add(parts[-1])
    return syms


def check_symbols(layers, breaches):
    defined = {l['name']: nm(['--defined-only'], l['lib']) for l in layers}
    for l in layers:
        ok_layers = set(l['allowed']) | {l['name']}
        for s in sorted(nm(['--undefined-only'], l['lib'])):
            owners = [n for n, syms in defined.items() if s in syms]
            if owners and not any(o in ok_layers for o in owners):
                breaches.append('symbols: %s uses %s, defined in %s' % (l['name'], s, ', '.join(owners)))


ESCAPE = re.compile(r'^\s*#\s*include\s*"\.\./', re.M)


def check_escapes(src, breaches):
    for root, _, files in os.walk(src):
        for n in files:
            if n.endswith(('.c', '.h')):
                path = os.path.join(root, n)
                with open(path, errors='replace') as f:
                    if ESCAPE.search(f.read()):
                        breaches.append('escapes: %s includes a path out of its directory' % path)


def main():
    cc, cflags, src, layers = parse(sys.argv[1:])
    breaches = []
    check_includes(cc, cflags, src, layers, breaches)
    check_symbols(layers, breaches)
    check_escapes(src, breaches)
    for b in breaches:
        print(b)
    n = sum(len(l['dirs']) for l in layers)
    print('%d layers, %d probes each: %s' % (len(layers), n, 'FAIL' if breaches else 'ok'))
    return 1 if breaches else 0


if __name__ == '__main__':
    sys.exit(main())
