#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/fuzz_import/: packed twist.Local messages (proto/flow.proto)
for fuzz_import's limits (relay 192.0.2.1 and 2001:db8::1, ports 49152-65535, peers in
198.51.100.0/24 and 2001:db8:1::/48). Encoded by hand: the schema is small."""
import ipaddress
import os
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def addr(s, port=None):
    b = ipaddress.ip_address(s).packed
    return b if port is None else b + port.to_bytes(2, "big")


def flow(client, local, relayed, lifetime=600, perms=(), chans=(), deleted=False, user="demo"):
    f = field(1, 2, addr(*client)) + field(2, 2, addr(*local))
    if deleted:
        return f + field(12, 0, 1)
    for r in relayed:
        f += field(4, 2, addr(*r))
    f += field(5, 0, lifetime) + field(6, 2, user.encode())
    for ip, life in perms:
        f += field(8, 2, field(1, 2, addr(ip)) + field(2, 0, life))
    for num, peer, life in chans:
        f += field(9, 2, field(1, 0, num) + field(2, 2, addr(*peer)) + field(3, 0, life))
    return f


def local(*flows):
    return b"".join(field(1, 2, f) for f in flows)


C4, L4 = ("203.0.113.10", 40000), ("203.0.113.1", 3478)
C6, L6 = ("2001:db8:2::10", 40000), ("2001:db8:2::1", 3478)
R4, R6 = ("192.0.2.1", 50000), ("2001:db8::1", 50001)
P4, P6 = "198.51.100.10", "2001:db8:1::10"

SEEDS = {
    "v4-1perm-1chan": local(flow(C4, L4, [R4], perms=[(P4, 300)], chans=[(0x4000, (P4, 5000), 600)])),
    "dual-stack": local(flow(C4, L4, [R4, R6], perms=[(P4, 300), (P6, 200)],
                             chans=[(0x4000, (P4, 5000), 600), (0x4001, (P6, 5000), 0)])),
    "v6-client": local(flow(C6, L6, [R6], perms=[(P6, 300)], chans=[(0x4FFF, (P6, 9), 60)])),
    "long-lifetimes": local(flow(C4, L4, [R4], lifetime=86400, perms=[(P4, 9999)],
                                 chans=[(0x4002, (P4, 1), 99999)])),
    "delete": local(flow(C4, L4, [], deleted=True)),
    "many-perms": local(flow(C4, L4, [R4], perms=[("198.51.100.%d" % i, 300) for i in range(1, 65)])),
    "denied-peer": local(flow(C4, L4, [R4], perms=[("10.0.0.1", 300)])),
    "dup-chan": local(flow(C4, L4, [R4], chans=[(0x4000, (P4, 1), 600), (0x4000, (P4, 2), 600)])),
    "foreign-relayed": local(flow(C4, L4, [("192.0.2.9", 50000)])),
    "three-flows": local(flow(C4, L4, [R4]), flow(C6, L6, [R6]), flow(C4, L4, [], deleted=True)),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_import")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name + ".bin"), "wb") as fh:
        fh.write(data)
