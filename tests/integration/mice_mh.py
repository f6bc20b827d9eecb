"""An independent encoder/decoder for M-ICE signalling (docs/mice.md).

Written from docs/mice.md and RFC 6275/4285, not from proto/mice*.c, so the
integration test checks the C code against a second reading of the layout:
the MIP-ICE description and its fragments in experimental mobility options,
Binding Update and Acknowledgement with the RFC 6275 checksum and the MN-HA
authentication option (HMAC-SHA256), and STUN Binding with FINGERPRINT.
"""
import hashlib
import hmac
import ipaddress
import os
import struct
import zlib

OPT_EXP = 18
SUB_ICE, SUB_HOME, SUB_PEER = 1, 2, 3
MH_BU, MH_BA = 5, 6
OPT_PAD1, OPT_PADN, OPT_AUTH = 0, 1, 9
FRAG = 253
BU_A, BU_H = 0x8000, 0x4000
STUN_COOKIE = 0x2112A442


def _ip(s):
    return ipaddress.ip_address(s).packed


def _ver(packed):
    return {4: 4, 16: 6}[len(packed)]


def cand(ctype, comp, transport, prio, foundation, addr, port, rel=None, rport=0):
    return dict(type=ctype, comp=comp, transport=transport, prio=prio,
                foundation=foundation, addr=addr, port=port, rel=rel, rport=rport)


def desc_encode(ufrag, pwd, cands, options="", lite=False, mismatch=False):
    flags = (0x80 if lite else 0) | (0x40 if mismatch else 0)
    out = struct.pack("!BBHHH", len(cands), flags, len(pwd), len(ufrag), len(options))
    out += pwd.encode() + ufrag.encode() + options.encode()
    for c in cands:
        a = _ip(c["addr"])
        r = _ip(c["rel"]) if c["rel"] else b""
        f = c["foundation"].encode()
        n = 12 + len(a) + 4 + len(r) + len(f)
        rv = _ver(r) if r else 0
        out += struct.pack("!HBBBBBBI", _ver(a) << 12 | n, c["type"], c["comp"],
                           c["transport"], rv << 4, len(f), 0, c["prio"])
        out += a + struct.pack("!HH", c["port"], c["rport"]) + r + f
    return out


def desc_decode(b):
    n, flags, pl, ul, ol = struct.unpack("!BBHHH", b[:8])
    at = 8
    pwd = b[at:at + pl].decode(); at += pl
    ufrag = b[at:at + ul].decode(); at += ul
    options = b[at:at + ol].decode(); at += ol
    cands = []
    for _ in range(n):
        vl, ctype, comp, tr, rvb, fl, _r, prio = struct.unpack("!HBBBBBBI", b[at:at + 12])
        end = at + (vl & 0xfff)
        alen = 4 if vl >> 12 == 4 else 16
        rlen = {0: 0, 4: 4, 6: 16}[rvb >> 4]
        p = at + 12
        addr = str(ipaddress.ip_address(b[p:p + alen])); p += alen
        port, rport = struct.unpack("!HH", b[p:p + 4]); p += 4
        rel = str(ipaddress.ip_address(b[p:p + rlen])) if rlen else None; p += rlen
        f = b[p:p + fl].decode(); p += fl
        assert p == end, "candidate length mismatch"
        cands.append(cand(ctype, comp, tr, prio, f, addr, port, rel, rport))
        at = end
    assert at == len(b), "trailing bytes in the description"
    return dict(ufrag=ufrag, pwd=pwd, options=options, cands=cands,
                lite=bool(flags & 0x80), mismatch=bool(flags & 0x40))


def ice_options(desc, opt_type=OPT_EXP):
    frags = [desc[i:i + FRAG] for i in range(0, len(desc), FRAG)]
    return b"".join(struct.pack("!BBBB", opt_type, 2 + len(f), SUB_ICE, i << 4 | len(frags)) + f
                    for i, f in enumerate(frags))


def addr_option(sub, addr, opt_type=OPT_EXP):
    a = _ip(addr)
    return struct.pack("!BBB", opt_type, 1 + len(a), sub) + a


def csum(b):
    """RFC 6275 §6.1.1 over a pseudo-header with :: as both addresses."""
    data = bytes(32) + struct.pack("!I", len(b)) + bytes(3) + bytes([135]) + b
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _pad(n):
    if n == 0:
        return b""
    if n == 1:
        return b"\0"
    return bytes([OPT_PADN, n - 2]) + bytes(n - 2)


def mh_build(mh_type, seq, lifetime, flags=0, status=0, home=None, peer=None, desc=None,
             spi=None, key=None, opt_type=OPT_EXP):
    if mh_type == MH_BU:
        body = struct.pack("!HHH", seq, flags, lifetime)
    else:
        body = struct.pack("!BBHH", status, flags, seq, lifetime)
    opts = b""
    if home:
        opts += addr_option(SUB_HOME, home, opt_type)
    if peer:
        opts += addr_option(SUB_PEER, peer, opt_type)
    if desc is not None:
        opts += ice_options(desc, opt_type)
    n = 6 + len(body) + len(opts)
    if key is not None:
        opts += _pad((1 - n) % 8)  # the 39-byte option then ends on 8
        total = n + len(_pad((1 - n) % 8)) + 39
    else:
        opts += _pad((-n) % 8)
        total = n + len(_pad((-n) % 8))
    hdr = struct.pack("!BBBBH", 59, total // 8 - 1, mh_type, 0, 0)
    msg = hdr + body + opts
    if key is not None:
        msg += struct.pack("!BBBI", OPT_AUTH, 37, 1, spi)
        msg += hmac.new(key, msg, hashlib.sha256).digest()
    assert len(msg) == total and total % 8 == 0
    return msg[:4] + struct.pack("!H", csum(msg)) + msg[6:]


def mh_parse(b, opt_type=OPT_EXP):
    """A dict, or raises ValueError."""
    if len(b) < 16 or len(b) % 8 or (b[1] + 1) * 8 != len(b) or b[0] != 59:
        raise ValueError("not a mobility header")
    if csum(b) != 0:
        raise ValueError("bad checksum")
    m = dict(type=b[2], home=None, peer=None, desc=None, spi=None)
    if b[2] == MH_BU:
        m["seq"], m["flags"], m["lifetime"] = struct.unpack("!HHH", b[6:12])
    elif b[2] == MH_BA:
        m["status"], m["flags"], m["seq"], m["lifetime"] = struct.unpack("!BBHH", b[6:12])
    else:
        raise ValueError("MH type %d" % b[2])
    at, frags = 12, []
    while at < len(b):
        t = b[at]
        if t == OPT_PAD1:
            at += 1
            continue
        ln = b[at + 1]
        v = b[at + 2:at + 2 + ln]
        if t == OPT_AUTH:
            m["spi"] = struct.unpack("!I", v[1:5])[0]
            m["auth_at"] = at + 7
        elif t == opt_type and v[0] == SUB_ICE:
            frags.append((v[1] >> 4, v[1] & 15, v[2:]))
        elif t == opt_type and v[0] in (SUB_HOME, SUB_PEER):
            m["home" if v[0] == SUB_HOME else "peer"] = str(ipaddress.ip_address(v[1:]))
        at += 2 + ln
    if frags:
        assert [f[0] for f in frags] == list(range(frags[0][1])), "fragments out of order"
        m["desc"] = desc_decode(b"".join(f[2] for f in frags))
    return m


def mh_auth_ok(b, m, key):
    if m.get("spi") is None:
        return False
    at = m["auth_at"]
    data = b[:4] + b"\0\0" + b[6:at]
    return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), b[at:])


def stun_request(mtype, attrs=b"", fingerprint=True, tid=None):
    """A STUN request of type mtype with attrs (already encoded), and its tid."""
    tid = tid or os.urandom(12)
    body = attrs
    if fingerprint:
        hdr = struct.pack("!HHI", mtype, len(attrs) + 8, STUN_COOKIE) + tid
        crc = (zlib.crc32(hdr + attrs) ^ 0x5354554E) & 0xffffffff
        body += struct.pack("!HHI", 0x8028, 4, crc)
    return struct.pack("!HHI", mtype, len(body), STUN_COOKIE) + tid + body, tid


def stun_binding(fingerprint=True, tid=None):
    return stun_request(0x0001, b"", fingerprint, tid)


def example():
    """docs/mice.md §5: the worked example's Binding Update."""
    d = desc_encode("mn01", "M1ceExamplePassword+22", [
        cand(0, 1, 0, 2130706431, "1", "192.0.2.10", 50000),
        cand(1, 1, 0, 1694498815, "2", "203.0.113.5", 61000, "192.0.2.10", 50000),
    ])
    return mh_build(MH_BU, 0x0102, 150, BU_A | BU_H, home="2001:db8:1::10",
                    peer="2001:db8:1::20", desc=d, spi=0x100, key=b"twist-mice-example-key")
