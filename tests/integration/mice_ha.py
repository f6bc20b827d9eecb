#!/usr/bin/env python3
"""A mobile node and a correspondent node against twist-relay's home agent.

  mice_ha.py HOST MICE_PORT METRICS_URL [--again]

METRICS_URL "" skips the counter checks; --again uses sequence numbers
above the first run's (the home agent remembers the last one per key).
Exits non-zero with a message on the first thing that is wrong.
"""
import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import sys
import urllib.request
import zlib

import mice_mh as mm

MN_SPI, MN_KEY, MN_HOME = 4096, b"mobile-node-shared-key-1", "2001:db8:1::10"
CN_SPI, CN_KEY, CN_HOME = 8192, b"correspondent-shared-key", "2001:db8:1::20"
MAX_LIFETIME = 600 // 4
TRIES = 5
retransmitted = False


def fail(msg):
    sys.exit("mice_ha.py: " + msg)


def sock(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


def recv(s, timeout=2.0):
    s.settimeout(timeout)
    try:
        return s.recv(4096)
    except socket.timeout:
        return None


def exchange(s, dst, msg):
    """Sends msg until something comes back (bounded); returns it."""
    global retransmitted
    for i in range(TRIES):
        if i:
            retransmitted = True
        s.sendto(msg, dst)
        r = recv(s)
        if r is not None:
            return r
    fail("no answer after %d tries" % TRIES)


def ba(raw, status, seq, key=None):
    m = mm.mh_parse(raw)
    if m["type"] != mm.MH_BA:
        fail("expected a Binding Acknowledgement, got MH type %d" % m["type"])
    if m["status"] != status or m["seq"] != seq:
        fail("BA status %d seq %d, expected status %d seq %d" % (m["status"], m["seq"], status, seq))
    if key is not None and not mm.mh_auth_ok(raw, m, key):
        fail("BA (status %d) not signed with the node's key" % status)
    if key is None and m["spi"] is not None:
        fail("a refusal of an unauthenticated BU carries an authenticator")
    return m


def offer():
    cands = [mm.cand(0, 1, 0, 2130706431 - i, "h%d" % i, a, 50000 + i)
             for i, a in enumerate(["192.0.2.10", "2001:db8:5::10"])]
    cands += [mm.cand(1, 1, 0, 1694498815, "s1", "203.0.113.5", 61000, "192.0.2.10", 50000),
              mm.cand(3, 1, 0, 16777215, "r1", "198.51.100.7", 49200, "203.0.113.5", 61000),
              mm.cand(1, 2, 2, 1694498814, "s2", "2001:db8:6::5", 9, "2001:db8:5::10", 9)]
    # Credentials at their longest: the description takes several options.
    return mm.desc_encode("U" * 256, "p" * 256, cands, options="trickle")


def answer():
    return mm.desc_encode("cn01", "CorrespondentPassword+x", [
        mm.cand(0, 1, 0, 2130706431, "1", "198.51.100.20", 40000)])


def stun_answer(r, tid):
    """(type, {attribute type: value}) of a STUN answer to our transaction."""
    t, ln, cookie = struct.unpack("!HHI", r[:8])
    if cookie != mm.STUN_COOKIE or r[8:20] != tid:
        fail("not a STUN answer to our transaction (type 0x%04x)" % t)
    body, attrs = r[20:20 + ln], {}
    while len(body) >= 4:
        at, al = struct.unpack("!HH", body[:4])
        attrs.setdefault(at, body[4:4 + al])
        body = body[4 + ((al + 3) & ~3):]
    return t, attrs


def stun(s, dst):
    req, tid = mm.stun_binding(True)
    t, attrs = stun_answer(exchange(s, dst, req), tid)
    if t != 0x0101:
        fail("STUN Binding with FINGERPRINT: type 0x%04x, not a success" % t)
    if 0x0020 not in attrs:
        fail("STUN Binding success without XOR-MAPPED-ADDRESS")
    if 0x8028 not in attrs:
        fail("STUN Binding success without FINGERPRINT: a node could not demux it")
    # TURN on the same port: an Allocate without credentials gets 401.
    req, tid = mm.stun_request(0x0003, struct.pack("!HHI", 0x0019, 4, 17 << 24))
    t, attrs = stun_answer(exchange(s, dst, req), tid)
    err = attrs.get(0x0009, b"\0\0\0\0")
    if t != 0x0113 or err[2] * 100 + err[3] != 401:
        fail("Allocate on the encapsulation port: type 0x%04x error %d, expected 401"
             % (t, err[2] * 100 + err[3]))
    req, _ = mm.stun_binding(False)
    s.sendto(req, dst)
    r = recv(s, 1.5)
    if r is not None and r[:2] == b"\x01\x01":
        fail("STUN without FINGERPRINT was answered as STUN on the encapsulation port")
    print("STUN Binding answered with FINGERPRINT, TURN Allocate with 401; "
          "without FINGERPRINT, not taken as STUN")


def stun_attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def ice_check(username, pwd):
    """An RFC 8445 §7.2.4 check, short-term MESSAGE-INTEGRITY then FINGERPRINT; and its tid."""
    tid = os.urandom(12)
    attrs = (stun_attr(0x0006, username.encode()) + stun_attr(0x0024, struct.pack("!I", 1862270975))
             + stun_attr(0x802A, struct.pack("!Q", 0x5eed)) + stun_attr(0x0025, b""))
    hdr = struct.pack("!HHI", 0x0001, len(attrs) + 24, mm.STUN_COOKIE) + tid
    mi = hmac.new(pwd.encode(), hdr + attrs, hashlib.sha1).digest()
    body = attrs + stun_attr(0x0008, mi)
    hdr = struct.pack("!HHI", 0x0001, len(body) + 8, mm.STUN_COOKIE) + tid
    crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xffffffff
    body += stun_attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", 0x0001, len(body), mm.STUN_COOKIE) + tid + body, tid


def integrity_ok(r, pwd):
    """Whether r's MESSAGE-INTEGRITY is right for pwd (False without one)."""
    at = 20
    while at + 4 <= len(r):
        t, ln = struct.unpack("!HH", r[at:at + 4])
        if t == 0x0008:
            hdr = r[:2] + struct.pack("!H", at + 24 - 20) + r[4:20]
            want = hmac.new(pwd.encode(), hdr + r[20:at], hashlib.sha1).digest()
            return hmac.compare_digest(want, r[at + 4:at + 24])
        at += 4 + ((ln + 3) & ~3)
    return False


def check_ha(s, dst, ha_desc, mn_ufrag):
    """The HA as the node's remote candidate: its checks with the HA's credentials."""
    c = ha_desc["cands"]
    if len(c) != 1 or c[0]["type"] != 0 or (c[0]["addr"], c[0]["port"]) != dst[:2] or \
            ipaddress.ip_address(c[0]["addr"]) != ipaddress.ip_address(dst[0]):
        fail("the HA's BA offers candidates %r, expected its host address %r" % (c, dst[:2]))
    user, pwd = ha_desc["ufrag"] + ":" + mn_ufrag, ha_desc["pwd"]
    req, tid = ice_check(user, pwd)
    r = exchange(s, dst, req)
    t, attrs = stun_answer(r, tid)
    if t != 0x0101 or 0x0020 not in attrs or 0x8028 not in attrs:
        fail("ICE check to the HA: type 0x%04x, attributes %s" % (t, sorted(attrs)))
    if not integrity_ok(r, pwd):
        fail("the check's success is not signed with the HA's short-term password")
    req, tid = ice_check(user, "x" + pwd[1:])
    r = exchange(s, dst, req)
    t, attrs = stun_answer(r, tid)
    err = attrs.get(0x0009, b"\0\0\0\0")
    if t != 0x0111 or err[2] * 100 + err[3] != 401 or 0x0008 in attrs:
        fail("a check with a wrong password: type 0x%04x error %d, integrity %s; expected an "
             "unsigned 401" % (t, err[2] * 100 + err[3], 0x0008 in attrs))
    print("ICE check to the HA answered 200 with short-term integrity; a wrong password 401")


def metrics(url):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    vals = {}
    for line in text.splitlines():
        if line.startswith("twist_mice_") or line.startswith("twist_ice_checks_total"):
            k, v = line.rsplit(" ", 1)
            vals[k] = int(v)
    want = {
        'twist_mice_binding_updates_total{result="accepted"}': 2,
        'twist_mice_binding_updates_total{result="auth_failed"}': 2,
        'twist_mice_binding_updates_total{result="sequence"}': 1,
        'twist_mice_binding_updates_total{result="not_home_agent"}': 1,
        'twist_mice_relayed_total{kind="binding_update"}': 1,
        'twist_mice_relayed_total{kind="binding_ack"}': 1,
        'twist_mice_bindings': 2,
    }
    for k, v in want.items():
        got = vals.get(k)
        if got is None:
            fail("%s not exported" % k)
        if got != v and not (retransmitted and got > v):
            fail("%s is %d, expected %d" % (k, got, v))
    for k in ('twist_mice_messages_total{kind="stun"}',
              'twist_ice_checks_total{result="ok"}',
              'twist_ice_checks_total{result="bad_integrity"}',
              'twist_mice_dropped_total{reason="malformed"}'):
        if vals.get(k, 0) < 1:
            fail("%s is %s, expected at least 1" % (k, vals.get(k)))
    print("twist_mice_* counters as expected")


def main():
    host, port, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    base = 1000 if "--again" in sys.argv[4:] else 1
    ha = (host, port)
    mn, cn = sock(host), sock(host)

    # The correspondent registers.
    bu = mm.mh_build(mm.MH_BU, base, 100, mm.BU_A | mm.BU_H, home=CN_HOME, spi=CN_SPI, key=CN_KEY)
    m = ba(exchange(cn, ha, bu), 0, base, CN_KEY)
    if m["lifetime"] != 100 or m["home"] != CN_HOME:
        fail("CN registration: lifetime %d home %s" % (m["lifetime"], m["home"]))

    # The mobile node's offer: registered, cut to max_lifetime, relayed.
    off = offer()
    bu = mm.mh_build(mm.MH_BU, base, 1000, mm.BU_A | mm.BU_H, home=MN_HOME, peer=CN_HOME,
                     desc=off, spi=MN_SPI, key=MN_KEY)
    m = ba(exchange(mn, ha, bu), 0, base, MN_KEY)
    if m["lifetime"] != MAX_LIFETIME:
        fail("MN registration granted lifetime %d, expected %d" % (m["lifetime"], MAX_LIFETIME))
    if m["desc"] is None:
        fail("the HA's BA carries no ICE credentials of its own")
    ha_desc = m["desc"]
    raw = recv(cn)
    if raw is None:
        fail("the correspondent got no relayed Binding Update")
    r = mm.mh_parse(raw)
    if r["type"] != mm.MH_BU or r["seq"] != base or r["home"] != MN_HOME or r["peer"] != CN_HOME:
        fail("relayed BU: %r" % {k: r[k] for k in ("type", "seq", "home", "peer")})
    if r["spi"] != CN_SPI or not mm.mh_auth_ok(raw, r, CN_KEY):
        fail("the relayed BU is not signed with the correspondent's key")
    if r["desc"] != mm.desc_decode(off):
        fail("the relayed offer differs from the one sent")
    print("offer relayed to the correspondent (%d bytes, signed with its key)" % len(raw))

    # The correspondent's answer travels back in its BA.
    ans = answer()
    cn.sendto(mm.mh_build(mm.MH_BA, base, MAX_LIFETIME, status=0, home=CN_HOME, peer=MN_HOME,
                          desc=ans, spi=CN_SPI, key=CN_KEY), ha)
    raw = recv(mn)
    if raw is None:
        fail("the mobile node got no relayed Binding Acknowledgement")
    m = ba(raw, 0, base, MN_KEY)
    if m["home"] != CN_HOME or m["peer"] != MN_HOME or m["desc"] != mm.desc_decode(ans):
        fail("relayed BA: home %s peer %s, answer intact: %s" %
             (m["home"], m["peer"], m["desc"] == mm.desc_decode(ans)))
    print("answer relayed back to the mobile node in the BA")

    # Refusals, each with its status.
    unauth = mm.mh_build(mm.MH_BU, base + 1, 10, mm.BU_A | mm.BU_H, home=MN_HOME, peer=CN_HOME,
                         desc=off)
    ba(exchange(mn, ha, unauth), 144, base + 1)
    wrong = mm.mh_build(mm.MH_BU, base + 1, 10, mm.BU_A | mm.BU_H, home=MN_HOME, peer=CN_HOME,
                        desc=off, spi=MN_SPI, key=b"not-the-shared-key-at-all")
    ba(exchange(mn, ha, wrong), 144, base + 1)
    ba(exchange(mn, ha, bu), 135, base, MN_KEY)  # the offer's BU replayed
    other = mm.mh_build(mm.MH_BU, base + 2, 10, mm.BU_A | mm.BU_H, home=CN_HOME, spi=MN_SPI,
                        key=MN_KEY)
    ba(exchange(mn, ha, other), 133, base + 2, MN_KEY)
    print("unauthenticated and wrongly keyed BUs refused (144), replay (135), "
          "another's home (133)")

    stun(mn, ha)
    check_ha(mn, ha, ha_desc, mm.desc_decode(off)["ufrag"])
    if url:
        metrics(url)


if __name__ == "__main__":
    main()
