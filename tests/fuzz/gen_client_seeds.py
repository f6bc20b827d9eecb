#!/usr/bin/env python3
"""Seeds for fuzz_client (tests/fuzz/corpus/fuzz_client), one per path of
fuzz_client.c's selector byte. Written apart from the C code: the STUN
messages and checksums are built here from the RFCs.

    gen_client_seeds.py OUTDIR
"""
import ipaddress
import os
import struct
import sys

MAGIC = 0x2112A442
TID = b"twist-client"


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def stun(mtype, attrs):
    body = b"".join(attrs)
    return struct.pack("!HHI", mtype, len(body), MAGIC) + TID + body


def xaddr4(ip, port):
    a = int(ipaddress.IPv4Address(ip)) ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), a)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(src, dst, proto, length):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def udp(src, sport, dst, dport, payload):
    n = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, n, 0) + payload
    c = csum(pseudo(src, dst, 17, n) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp_syn(src, sport, dst, dport, mss):
    opts = b"\x01\x01\x02\x04" + struct.pack("!H", mss) + b"\0\0"
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 7 << 4, 0x02, 64240, 0, 0) + opts
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ip4(src, dst, proto, seg):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, proto, 0,
                    ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + seg


def ip6(src, dst, proto, seg):
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), proto, 64,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed) + seg


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    err401 = stun(0x0113, [attr(0x0009, b"\0\0\x04\x01Unauthenticated"),
                           attr(0x0014, b"example.org"), attr(0x0015, b"nonce-1")])
    err420 = stun(0x0113, [attr(0x0009, b"\0\0\x04\x14Unknown Attribute"),
                           attr(0x000A, b"\x54\x58\x54\x59")])
    ok = stun(0x0103, [attr(0x0016, xaddr4("203.0.113.200", 50000)),
                       attr(0x000D, struct.pack("!I", 600)),
                       attr(0x5459, b"\x01\x01\x00\x14"), attr(0x545A, b"cookie!!")])
    data_ind = stun(0x0017, [attr(0x0012, xaddr4("198.51.100.2", 80)),
                             attr(0x0013, udp("198.51.100.2", 80, "203.0.113.200", 50000, b"hi"))])
    seeds = {
        "stun-401": b"\x00" + err401,
        "stun-420": b"\x00" + err420,
        "stun-ok": b"\x00" + ok,
        "stun-data-ind": b"\x00" + data_ind,
        "in-udp4": b"\x01" + udp("198.51.100.2", 80, "203.0.113.200", 50000, b"answer"),
        "in-tcp-syn": bytes([1 | (2 << 2) | (4 << 2)])
        + tcp_syn("198.51.100.2", 80, "203.0.113.200", 50000, 1460),
        "mss": b"\x02" + tcp_syn("192.0.2.2", 40000, "198.51.100.2", 80, 1460),
        "out-udp4": b"\x03" + ip4("192.0.2.2", "198.51.100.2", 17,
                                  udp("192.0.2.2", 40000, "198.51.100.2", 7, b"echo")),
        "out-tcp6-nat64": b"\x03" + ip6("2001:db8:1::2", "64:ff9b::c633:6402", 6,
                                        tcp_syn("2001:db8:1::2", 40000, "64:ff9b::c633:6402",
                                                80, 1440)),
        "out-udp4-map": b"\x03" + ip4("192.0.2.2", "192.0.2.66", 17,
                                      udp("192.0.2.2", 40000, "192.0.2.66", 53, b"q")),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
