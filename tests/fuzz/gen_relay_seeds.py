#!/usr/bin/env python3
"""Writes the seeds of fuzz_relay (format in tests/fuzz/fuzz_relay.c), and
the Binding-compatibility seeds of fuzz_stun (CHANGE-REQUEST, RFC 5780
answers, classic RFC 3489 messages).

Run from the repository root: python3 tests/fuzz/gen_relay_seeds.py
"""
import os
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
OUT = os.path.join(CORPUS, "fuzz_relay")
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
TCP = attr(0x0019, bytes([6, 0, 0, 0]))
CID = attr(0x002A, b"\x12\x34\x56\x78")
# RFC 6062 on a stream connection: TCP Allocate, Connect (its answer waits
# for the event loop, which the harness does not run), a second Connect
# (446), ConnectionBind with an unknown id, a ConnectionAttempt
# indication the relay never takes from a client, then delete.
TCP_SESSION = [
    rec(1, method(0x003, TCP)),
    rec(1, method(0x00A, PEER)),
    rec(1, method(0x00A, PEER)),
    rec(1, method(0x00B, CID)),
    rec(3, method(0x00C, CID + PEER)),
    rec(1, method(0x009, attr(0x000C, b"\x40\x00\x00\x00") + PEER)),
    rec(1, method(0x004, attr(0x000D, b"\x00\x00\x00\x00"))),
]
SEEDS = {
    "tcp-relay": b"\x01" + b"".join(TCP_SESSION),
    "tcp-relay-dgram": b"\x00" + rec(1, method(0x003, TCP)) + rec(1, method(0x00B, CID)),
    "session-dgram": b"\x00" + b"".join(SESSION),
    "session-stream": b"\x01" + b"".join(SESSION),
    "binding": b"\x00" + rec(2, method(0x001)) + rec(3, method(0x001)),
    "even-port": b"\x00" + rec(1, method(0x003, UDP + attr(0x0018, b"\x80\x00\x00\x00")))
    + rec(1, method(0x004, attr(0x000D, b"\x00\x00\x00\x00"))),
    "dual-stack": b"\x00" + rec(1, method(0x003, UDP + attr(0x8000, b"\x02\x00\x00\x00"))),
    "garbage": b"\x00" + rec(0, b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12),
}


def change(flags):
    return attr(0x0003, struct.pack("!I", flags))


def classic(mtype, attrs=b"", tid=bytes(range(0xa0, 0xb0))):
    """An RFC 3489 message: no cookie, a 16-byte transaction id."""
    return struct.pack("!HH", mtype, len(attrs)) + tid + attrs


def modern(mtype, attrs=b"", tid=bytes(range(1, 13))):
    return struct.pack("!HHI", mtype, len(attrs), COOKIE) + tid + attrs


def addr4(t, ip, port):
    return attr(t, struct.pack("!BBH", 0, 1, port) + bytes(int(x) for x in ip.split(".")))


CHANGES = b"".join(rec(2, method(0x001, change(f))) for f in (0, 2, 4, 6, 1))
# mode bit 1: an RFC 5780 alternate set; bit 2: an alternate socket.
SEEDS.update({
    "change-request": b"\x00" + CHANGES,
    "rfc5780": b"\x02" + CHANGES + rec(2, method(0x001, attr(0x0003, b"\x00\x06")))
    + rec(2, method(0x001, attr(0x0027, b"\x9c\x40\x00\x00") + change(6)))
    + rec(2, method(0x001, attr(0x0026, b"\x00" * 64) + attr(0x0027, b"\x00\x00\x00\x00"))),
    "rfc5780-alt-socket": b"\x06" + CHANGES + rec(1, method(0x003, UDP)),
    "classic": b"\x02" + rec(0, classic(0x0001)) + rec(0, classic(0x0001, change(6)))
    + rec(0, classic(0x0001, change(4) + attr(0x0002, b"\x00" * 8)))
    + rec(0, classic(0x0003, UDP)) + rec(0, classic(0x0111)),
})

STUN_SEEDS = {
    "binding-change.bin": modern(0x0001, change(0)),
    "rfc5780-answer.bin": modern(0x0101, addr4(0x0001, "192.0.2.1", 5000)
                                 + addr4(0x802B, "203.0.113.2", 3479)
                                 + addr4(0x802C, "203.0.113.3", 3479)),
    "classic-binding.bin": classic(0x0001, change(6)),
    "classic-answer.bin": classic(0x0101, addr4(0x0001, "192.0.2.1", 5000)
                                  + addr4(0x0004, "203.0.113.2", 3478)
                                  + addr4(0x0005, "203.0.113.3", 3479)),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {OUT}")
for name, data in STUN_SEEDS.items():
    with open(os.path.join(CORPUS, "fuzz_stun", name), "wb") as f:
        f.write(data)
print(f"{len(STUN_SEEDS)} seeds in {os.path.join(CORPUS, 'fuzz_stun')}")
