#!/usr/bin/env python3
"""docs/mice.md §5's dump, tests/proto/mice_example.h (what test_mice.c
builds and parses) and the integration test's independent Python encoder
(tests/integration/mice_mh.py) must be the same bytes.

  mice_example_doc.py SOURCE_DIR
"""
import os
import re
import sys


def main():
    src = sys.argv[1]
    sys.path.insert(0, os.path.join(src, "tests", "integration"))
    import mice_mh

    doc = open(os.path.join(src, "docs", "mice.md")).read()
    m = re.search(r"<!-- mice-example: begin -->\n```\n(.*?)```\n<!-- mice-example: end -->",
                  doc, re.S)
    if not m:
        sys.exit("docs/mice.md: no mice-example block")
    dumped = bytearray()
    for line in m.group(1).splitlines():
        f = line.split()
        if int(f[0], 16) != len(dumped):
            sys.exit("docs/mice.md: offset %s, expected %04x" % (f[0], len(dumped)))
        dumped += bytes(int(x, 16) for x in f[1:9])
    header = open(os.path.join(src, "tests", "proto", "mice_example.h")).read()
    arr = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", header))
    py = mice_mh.example()
    if not (bytes(dumped) == arr == py):
        sys.exit("differ: doc %d bytes, mice_example.h %d, mice_mh.py %d; doc==h %s, h==py %s"
                 % (len(dumped), len(arr), len(py), bytes(dumped) == arr, arr == py))
    print("docs/mice.md §5, mice_example.h and mice_mh.py agree (%d bytes)" % len(py))


if __name__ == "__main__":
    main()
