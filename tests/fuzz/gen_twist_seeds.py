#!/usr/bin/env python3
"""Writes the seeds of fuzz_twist (tests/fuzz/twist.cmake).

The bytes are the vectors of docs/twist-protocol.md section 8 (computed
with scapy and Python's hmac/hashlib/zlib when the spec was written;
tests/proto/test_twist.c holds the same bytes). Each is written as it is
and in the shapes a flow's client 5-tuple carries: the bare segment, the
whole IP packet, a STUN message encapsulated to the STUN port, and the
keepalive byte.

Run from anywhere: python3 tests/fuzz/gen_twist_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_twist")
STUN_PORT = 3478

VECTORS = {
    "alloc_req": (
        "000300742112a44274776973742d766563746f72001900041100000054580004"
        "010000000012000800012115e721c040545900040101001400060005616c6963"
        "650000000014000b6578616d706c652e6f726700001500106638646463306433"
        "613965313262623400080014a587c33ec9ee1dec2a490e65b83f1fb7fac435dd"
        "80280004fbed60a8"
    ),
    "alloc_resp": (
        "010300482112a44274776973742d766563746f72001600080001e242ea12d58a"
        "002000080001bd52ea12d543000d000400000258545900040101001400080014"
        "70fff8c5339078ad22d457e8b6b247c080f75d5c80280004235ff2ec"
    ),
    "listen_resp": (
        "010300602112a44274776973742d766563746f72001600140002e2430113a9fa"
        "74736973742d766563746d72002000080001bd50ea12d543000d000400000258"
        "5459000401020014545a0008c0ffee012345678900080014d604328f1a9708c8"
        "80eff0ade78b49782bab54ea80280004a8f3c0eb"
    ),
    "udp4": (
        "45000021000040004011d3cdcb0071c8c6336402c3500007000d839274776973"
        "74"
    ),
    "tcp4": (
        "4500002c000040004006d3cdcb0071c8c6336402c3501f901234567800000000"
        "6002faf0eb0d000002040550"
    ),
    "udp6": (
        "60000000000d114020010db800040000000000000000020020010db800030000"
        "0000000000000002c3500007000d8d167477697374"
    ),
    "tcp6": (
        "600000000014064020010db800030000000000000000000220010db800040000"
        "00000000000002001f91c3510a0b0c0d123456795012fffff0af0000"
    ),
}


def encap(sport, dport, payload):
    """An inner UDP header, checksum 0, in front of payload."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def main():
    v = {k: bytes.fromhex("".join(h)) for k, h in VECTORS.items()}
    seeds = {
        "alloc-req.bin": v["alloc_req"],
        "alloc-resp.bin": v["alloc_resp"],
        "listen-resp.bin": v["listen_resp"],
        "alloc-req-encap.bin": encap(50000, STUN_PORT, v["alloc_req"]),
        "ip4-udp.bin": v["udp4"],
        "ip4-tcp-syn.bin": v["tcp4"],
        "ip6-udp.bin": v["udp6"],
        "ip6-tcp-synack.bin": v["tcp6"],
        "seg-udp.bin": v["udp4"][20:],
        "seg-tcp-syn.bin": v["tcp4"][20:],
        "seg-tcp-synack.bin": v["tcp6"][40:],
        "seg-udp-ones.bin": bytes.fromhex("c3500007000cffff74776108"),
        "keepalive.bin": b"\xff",
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
