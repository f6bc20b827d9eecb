#!/usr/bin/env python3
"""Writes the seeds of fuzz_relay (format in tests/fuzz/fuzz_relay.c).

Run from the repository root: python3 tests/fuzz/gen_relay_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_relay")
COOKIE = 0x2112A442


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v


def xpeer(ip, port):
    a = bytes(int(x) for x in ip.split("."))
    x = struct.unpack("!I", a)[0] ^ COOKIE
    return attr(0x0012, struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), x))


def rec(kind, payload):
    return struct.pack("!BH", kind, len(payload)) + payload


def method(m, attrs=b""):
    return struct.pack("!H", m) + attrs


UDP = attr(0x0019, bytes([17, 0, 0, 0]))
PEER = xpeer("127.0.0.1", 9)
SESSION = [
    rec(2, method(0x003, UDP)),                               # 401
    rec(1, method(0x003, UDP)),                               # Allocate
    rec(1, method(0x008, PEER)),                              # CreatePermission
    rec(1, method(0x009, attr(0x000C, b"\x40\x00\x00\x00") + PEER)),  # ChannelBind
    rec(0, b"\x40\x00\x00\x04ping"),                          # ChannelData
    rec(3, method(0x006, PEER + attr(0x0013, b"hello"))),     # Send
    rec(1, method(0x004, attr(0x000D, b"\x00\x00\x02\x58"))), # Refresh 600
    rec(1, method(0x004, attr(0x000D, b"\x00\x00\x00\x00"))), # Refresh 0
]
SEEDS = {
    "session-dgram": b"\x00" + b"".join(SESSION),
    "session-stream": b"\x01" + b"".join(SESSION),
    "binding": b"\x00" + rec(2, method(0x001)) + rec(3, method(0x001)),
    "even-port": b"\x00" + rec(1, method(0x003, UDP + attr(0x0018, b"\x80\x00\x00\x00")))
    + rec(1, method(0x004, attr(0x000D, b"\x00\x00\x00\x00"))),
    "dual-stack": b"\x00" + rec(1, method(0x003, UDP + attr(0x8000, b"\x02\x00\x00\x00"))),
    "garbage": b"\x00" + rec(0, b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {OUT}")
