#!/usr/bin/env python3
"""The TWIST vectors exist three times: the dumps in docs/twist-protocol.md
section 8, the arrays in tests/proto/test_twist.c (which the codec must
reproduce) and the seed generator tests/fuzz/gen_twist_seeds.py. This
fails when any copy drifts from the others.

Usage: twist_vectors_doc.py SOURCE_DIR
"""
import importlib.util
import os
import re
import sys

ORDER = ["alloc_req", "alloc_resp", "listen_resp", "udp4", "tcp4", "udp6", "tcp6", "udp4_ones"]


def doc_vectors(path):
    text = open(path, encoding="utf-8").read()
    sec = text.split("\n## 8. Test vectors", 1)
    if len(sec) != 2:
        sys.exit("%s: no section 8" % path)
    blocks = re.findall(r"```\n(.*?)```", sec[1], re.S)
    out = []
    for b in blocks:
        data = bytearray()
        for line in b.splitlines():
            m = re.match(r"\s+((?:[0-9a-f]{2} ?){1,4})", line)
            if not m:
                sys.exit("%s: a dump line without bytes: %r" % (path, line))
            data += bytes.fromhex(m.group(1).replace(" ", ""))
        out.append(bytes(data))
    return out


def c_vectors(path):
    text = open(path, encoding="utf-8").read()
    out = {}
    for name, body in re.findall(r"static const uint8_t v_(\w+)\[\] = \{(.*?)\};", text, re.S):
        out[name] = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))
    return out


def main():
    src = sys.argv[1]
    spec = importlib.util.spec_from_file_location(
        "gen", os.path.join(src, "tests/fuzz/gen_twist_seeds.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    seeds = {k: bytes.fromhex("".join(v)) for k, v in gen.VECTORS.items()}
    doc = doc_vectors(os.path.join(src, "docs/twist-protocol.md"))
    c = c_vectors(os.path.join(src, "tests/proto/test_twist.c"))
    bad = 0
    if len(doc) != len(ORDER):
        print("docs: %d dumps in section 8, want %d" % (len(doc), len(ORDER)))
        bad += 1
    for i, name in enumerate(ORDER):
        want = c.get(name)
        if want is None:
            print("test_twist.c: no v_%s" % name)
            bad += 1
            continue
        if i < len(doc) and doc[i] != want:
            print("docs dump %d differs from v_%s" % (i + 1, name))
            bad += 1
        if name in seeds and seeds[name] != want:
            print("gen_twist_seeds.py %s differs from v_%s" % (name, name))
            bad += 1
    print("%d vectors compared, %d differences" % (len(ORDER), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
