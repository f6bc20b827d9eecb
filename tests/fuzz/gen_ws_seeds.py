#!/usr/bin/env python3
"""Writes the seeds of fuzz_ws_handshake and fuzz_ws_frame (tests/fuzz/ws.cmake).

Handshake seeds: [configuration, piece size] + a request, from the unit
tests. Frame seeds: [buffer size, three piece sizes] + client frames, the
RFC 6455 section 5.7 examples among them.
"""
import os
import struct
import sys

KEY = b"\x37\xfa\x21\x3d"  # RFC 6455 section 5.7's mask key


def frame(b0, payload, key=KEY, lenform=0):
    n = len(payload)
    if not lenform:
        lenform = 0 if n < 126 else 126 if n <= 0xFFFF else 127
    mbit = 0x80 if key else 0
    if lenform == 126:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    elif lenform == 127:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    else:
        head = bytes([b0, mbit | n])
    if not key:
        return head + payload
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def request(extra=b"", line=b"GET /turn HTTP/1.1"):
    return (line + b"\r\nHost: relay.example.org\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n")


STUN = bytes([0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42]) + bytes(range(1, 13))
CHDATA = bytes([0x40, 0, 0, 3]) + b"abc\0"

HANDSHAKES = {
    "minimal": (0, 255, request()),
    "browser": (2, 0, request(b"Origin: https://app.example.org\r\n"
                              b"Sec-WebSocket-Protocol: chat, turn\r\n"
                              b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
                              b"X-Forwarded-For: 192.0.2.1, 198.51.100.7\r\n")),
    "version-8": (0, 7, request().replace(b"Version: 13", b"Version: 8")),
    "bad-key": (0, 3, request().replace(b"Q==", b"QAA")),
    "wrong-path": (0, 15, request(line=b"GET /chat?x=1 HTTP/1.1")),
    "post": (0, 255, request(line=b"POST /turn HTTP/1.1")),
    "small-caps": (1, 1, request(line=b"GET / HTTP/1.1")),
    "body": (0, 31, request(b"Content-Length: 3\r\n") + b"abc"),
    "bare-lf": (0, 255, request().replace(b"\r\n", b"\n", 2)),
    "folded": (0, 255, request(b"X-A: a\r\n b\r\n")),
    "tls-hello": (0, 255, bytes([0x16, 3, 1, 2, 0, 1, 0, 1, 0xFC, 3, 3]) + b"a" * 64),
}

FRAMES = {
    "rfc-masked-text": bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]),
    "rfc-masked-pong": bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]),
    "rfc-unmasked": bytes([0x81, 0x05]) + b"Hello",
    "binary-hello": frame(0x82, b"Hello"),
    "fragments": frame(0x02, b"Hel") + frame(0x80, b"lo"),
    "ping": frame(0x89, b"Hello"),
    "len-256": frame(0x82, bytes(range(256))),
    "len-64k": frame(0x82, bytes(i * 7 & 0xFF for i in range(65536))),
    "two-turn": frame(0x82, STUN + CHDATA),
    "three-frames": frame(0x02, STUN[:7]) + frame(0x00, STUN[7:13]) + frame(0x80, STUN[13:]),
    "interleaved": (frame(0x02, STUN[:10]) + frame(0x89, b"Hello") + frame(0x8A, b"He")
                    + frame(0x80, STUN[10:]) + frame(0x88, b"\x03\xe8bye")),
    "close-empty": frame(0x88, b""),
    "close-bad-utf8": frame(0x88, b"\x03\xe8\xed\xa0\x80"),
    "close-1005": frame(0x88, b"\x03\xed"),
    "non-minimal": frame(0x82, b"x" * 5, lenform=126) + frame(0x82, b"x" * 5, lenform=127),
    "msb-64": bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5]) + KEY + b"xxxxx",
    "rsv": frame(0xC2, b"x"),
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for name, (cfg, chunk, req) in HANDSHAKES.items():
        d = os.path.join(root, "fuzz_ws_handshake")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([cfg, chunk]) + req)
    for i, (name, data) in enumerate(FRAMES.items()):
        d = os.path.join(root, "fuzz_ws_frame")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([5, i * 13 & 0xFF, 1, 6]) + data)


if __name__ == "__main__":
    main()
