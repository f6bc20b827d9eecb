#!/usr/bin/env python3
"""Writes the seeds of fuzz_tso (tests/fuzz/tso.cmake): a 2-byte MSS, then a
TCP super-packet as a TUN with TSO hands it up, built with struct.

Run from anywhere: python3 tests/fuzz/gen_tso_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_tso")


def tcp(payload, flags=0x10, opts=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", 40000, 80, 0xFFFFF000, 1, off << 4, flags, 65535, 0, 0) + opts + payload


def ip4(seg):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0xFFFE, 0x4000, 64, 6, 0,
                       bytes([203, 0, 113, 7]), bytes([198, 51, 100, 2])) + seg


def ip6(seg):
    src = bytes.fromhex("20010db8000000000000000000000007")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    return struct.pack("!IHBB", 0x60000000, len(seg), 6, 64) + src + dst + seg


def main():
    os.makedirs(OUT, exist_ok=True)
    data = bytes((i * 7 + 3) & 0xFF for i in range(4000))
    seeds = {
        "v4_3seg": (1400, ip4(tcp(data[:3000], 0x99))),
        "v6_3seg": (1400, ip6(tcp(data[:3000], 0x18))),
        "v4_ts_opts": (1388, ip4(tcp(data[:2800], 0x10, bytes([1, 1, 8, 10]) + bytes(8)))),
        "v4_no_payload": (1400, ip4(tcp(b"", 0x10))),
        "v6_one": (1440, ip6(tcp(data[:100], 0x10))),
    }
    for name, (mss, pkt) in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(struct.pack("!H", mss) + pkt)


if __name__ == "__main__":
    main()
