#!/usr/bin/env python3
"""Writes the seeds of fuzz_twist_esp (tests/fuzz/twist_esp.cmake).

VECTORS are the ESP packets of docs/twist-protocol.md section 9.6 (tunnel
mode), built here with struct from RFC 4303's layout, apart from
proto/twist_esp.c: SPI, sequence number, the inner IP packet (the
transport-mode vectors of section 8, taken from gen_twist_seeds.py),
padding 1, 2, 3, ..., pad length, next header, no ICV.

Run from anywhere: python3 tests/fuzz/gen_twist_esp_seeds.py
"""
import importlib.util
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_twist_esp")


def transport_vectors():
    spec = importlib.util.spec_from_file_location("gen", os.path.join(HERE, "gen_twist_seeds.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return {k: bytes.fromhex("".join(v)) for k, v in gen.VECTORS.items()}


def esp(spi, seq, inner):
    nh = {4: 4, 6: 41}[inner[0] >> 4]
    pad = (4 - (len(inner) + 2) % 4) % 4
    return (struct.pack("!II", spi, seq) + inner + bytes(range(1, pad + 1)) +
            struct.pack("!BB", pad, nh))


def esp_vectors():
    t = transport_vectors()
    return {
        "esp_udp4": esp(0xC0DE0001, 1, t["udp4"]),
        "esp_tcp4": esp(0xC0DE0001, 2, t["tcp4"]),
        "esp_tcp6": esp(0xFE000002, 0xFFFFFFFF, t["tcp6"]),
    }


VECTORS = {k: v.hex() for k, v in esp_vectors().items()}


def main():
    v = esp_vectors()
    seeds = dict(v)
    seeds["keepalive"] = b"\xff"
    seeds["non_esp_marker"] = b"\x00\x00\x00\x00" + b"\x01" * 8
    seeds["dummy"] = struct.pack("!II", 0xC0DE0001, 3) + b"\x01\x02" + bytes([2, 59])
    seeds["esp_udp6"] = esp(0xC0DE0003, 4, transport_vectors()["udp6"])
    # More padding than alignment needs (RFC 4303 §2.4 allows up to 255).
    seeds["esp_long_pad"] = (struct.pack("!II", 0xC0F20001, 2) + bytes.fromhex("450000000240") +
                             bytes([1, 2, 3, 4, 4, 4]))
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
