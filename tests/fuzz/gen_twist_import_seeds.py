#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/fuzz_import/twist-*.bin: packed twist.Local messages carrying
TWIST flows (proto/flow.proto's Twist) for fuzz_import's limits (twist relayed
192.0.2.200 and 2001:db8::200, ports 49152-65535, peers in 198.51.100.0/24 and
2001:db8:1::/48, user "demo"): good flows of each kind, and some that break one rule."""
import ipaddress
import os
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def fld(num, payload):
    """A field: int -> varint, bytes -> length-delimited, (fmt, v) -> fixed32/64."""
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    if isinstance(payload, tuple):
        fmt, v = payload
        return varint(num << 3 | (5 if fmt == "<I" else 1)) + struct.pack(fmt, v)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def addr(ip, port):
    return ipaddress.ip_address(ip).packed + port.to_bytes(2, "big")


def twist(typ=2, proto=6, peer=None, want=None, mode=1, ka=1, spi=0, cookie=None, spoke=False):
    t = fld(1, typ) + fld(2, proto)
    if peer:
        t += fld(3, addr(*peer))
    if want:
        t += fld(4, addr(*want))
    t += fld(5, mode) + fld(6, ka)
    if spi:
        t += fld(7, ("<I", spi))
    if cookie is not None:
        t += fld(8, ("<Q", cookie))
    if spoke:
        t += fld(9, 1)
    return t


def flow(client, local, relayed, tw, lifetime=600, user="demo", deleted=False):
    f = fld(1, addr(*client)) + fld(2, addr(*local))
    if deleted:
        return f + fld(12, 1)
    return f + fld(4, addr(*relayed)) + fld(5, lifetime) + fld(6, user.encode()) + fld(14, tw)


def local(*flows):
    return b"".join(fld(1, f) for f in flows)


C4, L4 = ("203.0.113.20", 40000), ("203.0.113.1", 3478)
C6, L6 = ("2001:db8:2::20", 40000), ("2001:db8:2::1", 3478)
R4, R6 = ("192.0.2.200", 50000), ("2001:db8::200", 50001)
P4, P6 = ("198.51.100.10", 8080), ("2001:db8:1::10", 8081)
CK4 = 50000 << 48 | 0x0123456789AB

SEEDS = {
    "connect-tcp": local(flow(C4, L4, R4, twist(typ=1, peer=P4))),
    "connect-udp-v6": local(flow(C6, L6, R6, twist(typ=1, proto=17, peer=P6, ka=2))),
    "listen-armed": local(flow(C4, L4, R4, twist(cookie=CK4, want=("198.51.100.10", 0)))),
    "listen-latched": local(flow(C4, L4, R4, twist(cookie=CK4, peer=P4, spoke=True))),
    "tunnel": local(flow(C4, L4, R4, twist(typ=1, peer=P4, mode=2, spi=0x1000))),
    "long-lifetime": local(flow(C4, L4, R4, twist(typ=1, peer=P4), lifetime=86400)),
    "unknown-user": local(flow(C4, L4, R4, twist(typ=1, peer=P4), user="mallory")),
    "cookie-other-port": local(flow(C4, L4, R4, twist(cookie=50001 << 48))),
    "denied-peer": local(flow(C4, L4, R4, twist(typ=1, peer=("10.0.0.1", 80)))),
    "delete-and-two": local(flow(C4, L4, R4, twist(typ=1, peer=P4)),
                            flow(C6, L6, R6, twist(typ=1, peer=P6)),
                            flow(C4, L4, None, None, deleted=True)),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                         "fuzz_import")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, "twist-" + name + ".bin"), "wb") as fh:
        fh.write(data)
