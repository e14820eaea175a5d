#!/usr/bin/env python3
"""Each code block of the docs marked `<!-- example: PATH -->` must be the
file at PATH, byte for byte, so the examples the docs show are the ones
the build compiles and the tests run.

    check_examples.py SOURCE_ROOT DOC.md...
"""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
bad = 0
found = 0
for doc in sys.argv[2:]:
    text = (root / doc).read_text()
    for m in re.finditer(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```\n", text, re.S):
        found += 1
        path, shown = m.group(1), m.group(2)
        actual = (root / path).read_text()
        if shown != actual:
            print(f"{doc}: the example of {path} differs from the file")
            bad += 1
if found == 0:
    print("no marked example found")
    bad += 1
sys.exit(1 if bad else 0)
