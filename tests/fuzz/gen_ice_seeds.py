#!/usr/bin/env python3
"""Seeds for fuzz_ice (tests/fuzz/corpus/fuzz_ice), one or more per path of
fuzz_ice.c's selector byte. Written apart from the C code: the checks, their
MESSAGE-INTEGRITY and FINGERPRINT are built here from RFC 8489 and RFC 8445.

    gen_ice_seeds.py OUTDIR
"""
import hmac
import ipaddress
import os
import struct
import sys
import zlib

MAGIC = 0x2112A442
LPWD = b"fuzzpassword0123456789"


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def msg(mtype, tid, attrs, key=None, fingerprint=True):
    body = b"".join(attrs)
    if key is not None:
        # RFC 8489 §14.5: the length covers MESSAGE-INTEGRITY itself
        head = struct.pack("!HHI", mtype, len(body) + 24, MAGIC) + tid
        mac = hmac.new(key, head + body, "sha1").digest()
        body += attr(0x0008, mac)
    if fingerprint:
        head = struct.pack("!HHI", mtype, len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body


def xaddr4(ip, port):
    a = int(ipaddress.IPv4Address(ip)) ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), a)


def check(key, use_cand=True, controlling=True):
    attrs = [attr(0x0006, b"fuzzufrag:peer"), attr(0x0024, struct.pack("!I", 1853817087)),
             attr(0x802A if controlling else 0x8029, struct.pack("!Q", 7))]
    if use_cand:
        attrs.append(attr(0x0025, b""))
    return msg(0x0001, b"ice-check-01", attrs, key)


def frames(*dgrams):
    return b"".join(struct.pack("!H", len(d)) + d for d in dgrams)


SEEDS = {
    "cand-host": b"\0" + b"1 1 udp 2130706431 192.0.2.1 5000 typ host",
    "cand-srflx": b"\0" + b"candidate:abc+/ 1 UDP 1694498815 203.0.113.5 40000 typ srflx "
                  b"raddr 192.0.2.1 rport 5000 generation 0",
    "cand-v6": b"\0" + b"7 2 udp 16777215 2001:db8::7 3478 typ relay raddr 2001:db8::1 rport 9",
    "check-ok": b"\1" + frames(check(LPWD), b"ping 1"),
    "check-badpwd": b"\1" + frames(check(b"wrong-password-0123456")),
    "check-role": b"\1" + frames(check(LPWD, False, False)),
    "check-nofp": b"\1" + frames(msg(0x0001, b"ice-check-02", [attr(0x0006, b"fuzzufrag:peer")],
                                      LPWD, False)),
    "turn-401": b"\2" + frames(msg(0x0113, b"turn-alloc-1", [
        attr(0x0009, struct.pack("!HBB", 0, 4, 1) + b"Unauthorized"),
        attr(0x0014, b"twist.local"), attr(0x0015, b"nonce123")])),
    "turn-data": b"\2" + frames(
        msg(0x0017, b"turn-data-01", [attr(0x0012, xaddr4("198.51.100.7", 4000)),
                                       attr(0x0013, b"ping 2")], None, False),
        struct.pack("!HH", 0x4000, 6) + b"ping 3"),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
