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
    bad += esp_check(src)
    print("%d vectors compared, %d differences" % (len(ORDER) + len(ESP_ORDER), bad))
    return 1 if bad else 0


def esp_check(src):
    spec = importlib.util.spec_from_file_location(
        "gen_esp", os.path.join(src, "tests/fuzz/gen_twist_esp_seeds.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = os.path.join(src, "docs/twist-protocol.md")
    doc = dumps(path, open(path, encoding="utf-8").read(), "\n### 9.6 Test vectors")
    c = c_vectors(os.path.join(src, "tests/proto/test_twist_esp.c"))
    bad = 0
    if len(doc) != len(ESP_ORDER):
        print("docs: %d dumps in section 9.6, want %d" % (len(doc), len(ESP_ORDER)))
        bad += 1
    for i, name in enumerate(ESP_ORDER):
        want = c.get(name)
        if want is None:
            print("test_twist_esp.c: no v_%s" % name)
            bad += 1
            continue
        if i < len(doc) and doc[i] != want:
            print("docs 9.6 dump %d differs from v_%s" % (i + 1, name))
            bad += 1
        if bytes.fromhex(gen.VECTORS.get(name, "")) != want:
            print("gen_twist_esp_seeds.py %s differs from v_%s" % (name, name))
            bad += 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
