#!/usr/bin/env python3
"""The TWIST vectors exist three times: the dumps in docs/twist-protocol.md
section 8 (and 9.6 for tunnel mode), the arrays in tests/proto/test_twist.c (which the codec must
reproduce) and the seed generator tests/fuzz/gen_twist_seeds.py. This
fails when any copy drifts from the others.

Usage: twist_vectors_doc.py SOURCE_DIR
"""
import importlib.util
import os
import re
import sys

ORDER = ["alloc_req", "alloc_resp", "listen_resp", "udp4", "tcp4", "udp6", "tcp6", "udp4_ones"]
# Tunnel mode (section 9.6): the dumps, tests/proto/test_twist_esp.c and
# tests/fuzz/gen_twist_esp_seeds.py.
ESP_ORDER = ["esp_udp4", "esp_tcp4", "esp_tcp6"]


def doc_vectors(path):
    text = open(path, encoding="utf-8").read()
    return dumps(path, text, "\n## 8. Test vectors")


def dumps(path, text, heading):
    """The hex dumps between heading and the next section."""
    sec = text.split(heading, 1)
    if len(sec) != 2:
        sys.exit("%s: no %r" % (path, heading))
    body = re.split(r"\n## ", sec[1], 1)[0]
    blocks = re.findall(r"```\n(.*?)```", body, re.S)
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


def load(src, rel):
    spec = importlib.util.spec_from_file_location(os.path.basename(rel)[:-3], os.path.join(src, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compare(order, doc, c, seeds, where):
    """where: (doc section, C file, seed file) for the messages."""
    bad = 0
    if len(doc) != len(order):
        print("docs: %d dumps in section %s, want %d" % (len(doc), where[0], len(order)))
        bad += 1
    for i, name in enumerate(order):
        want = c.get(name)
        if want is None:
            print("%s: no v_%s" % (where[1], name))
            bad += 1
            continue
        if i < len(doc) and doc[i] != want:
            print("docs section %s dump %d differs from v_%s" % (where[0], i + 1, name))
            bad += 1
        if seeds.get(name, want) != want:
            print("%s %s differs from v_%s" % (where[2], name, name))
            bad += 1
    return bad


def main():
    src = sys.argv[1]
    path = os.path.join(src, "docs/twist-protocol.md")
    text = open(path, encoding="utf-8").read()
    gen = load(src, "tests/fuzz/gen_twist_seeds.py")
    seeds = {k: bytes.fromhex("".join(v)) for k, v in gen.VECTORS.items()}
    bad = compare(ORDER, doc_vectors(path), c_vectors(os.path.join(src, "tests/proto/test_twist.c")),
                  seeds, ("8", "test_twist.c", "gen_twist_seeds.py"))
    gen = load(src, "tests/fuzz/gen_twist_esp_seeds.py")
    # Every ESP vector must be in the generator too.
    seeds = {k: bytes.fromhex(gen.VECTORS.get(k, "")) for k in ESP_ORDER}
    bad += compare(ESP_ORDER, dumps(path, text, "\n### 9.6 Test vectors"),
                   c_vectors(os.path.join(src, "tests/proto/test_twist_esp.c")), seeds,
                   ("9.6", "test_twist_esp.c", "gen_twist_esp_seeds.py"))
    print("%d vectors compared, %d differences" % (len(ORDER) + len(ESP_ORDER), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
