#!/usr/bin/env python3
"""anycast_turn: a small TURN client (RFC 8656 over UDP, long-term
credentials, MD5 keys) for the anycast lab, standard library only.

    anycast_turn.py alloc SERVER_IP [--port 3478] [--follow]
        One Allocate. Prints one JSON line: {"result": "ok", "relayed": IP}
        (the relayed address tells the site apart: each node relays from its
        own unicast address), {"result": "redirect", "alternate": "IP:PORT",
        "integrity": true} for a 300, {"result": "error", "code": N}, or
        {"result": "timeout"}. Exit 0 for ok or redirect, 1 otherwise.
        With --follow, a 300 that carries valid MESSAGE-INTEGRITY is
        followed once (a new socket to the alternate, a new nonce), and the
        line is the second answer with "redirect": {the 300's fields}; a 300
        without integrity is not followed: {"result": "unauthenticated 300"}.

    anycast_turn.py hold SERVER_IP PEER_IP PEER_PORT --ready-file F --until-file G
        Allocate, CreatePermission, then a Send indication to the UDP echo
        PEER every 100 ms, counting the Data indications that come back.
        Creates F once an echo came back, runs until G exists, then must get
        back an echo of a packet sent after that: exit 0 if it did. Prints
        one JSON line with the counts. --follow as for alloc.

Every wait is bounded (--timeout, default 3 s a transaction, 3 tries).
"""
import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import struct
import sys
import time

COOKIE = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, PERMISSION = 3, 4, 6, 7, 8
REQUEST, INDICATION, SUCCESS, ERROR = 0x000, 0x010, 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_LIFETIME, A_PEER, A_DATA = 0x06, 0x08, 0x09, 0x0D, 0x12, 0x13
A_REALM, A_NONCE, A_RELAYED, A_TRANSPORT, A_ALTERNATE = 0x14, 0x15, 0x16, 0x19, 0x8023
USER, PASSWORD = "demo", "demo"


def msg_type(method, cls):
    return (method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2) | cls


def xor_addr(ip, port):
    a = ipaddress.ip_address(ip)
    if a.version != 4:
        raise ValueError("IPv4 peers only")
    raw = struct.pack("!I", int(a) ^ COOKIE)
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + raw


def parse_addr(v, xor, tid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0]
    raw = v[4:]
    if xor:
        port ^= COOKIE >> 16
        mask = struct.pack("!I", COOKIE) + tid
        raw = bytes(a ^ b for a, b in zip(raw, mask))
    ip = ipaddress.ip_address(raw[:4] if fam == 1 else raw[:16])
    return str(ip), port


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def build(method, cls, tid, attrs, key=None):
    body = b"".join(attrs)
    if key is None:
        return struct.pack("!HHI", msg_type(method, cls), len(body), COOKIE) + tid + body
    hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 24, COOKIE) + tid
    mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
    return hdr + body + attr(A_MI, mac)


def parse(b):
    """(type, tid, {attr: value}, offset of MESSAGE-INTEGRITY or None), or None."""
    if len(b) < 20:
        return None
    t, length, cookie = struct.unpack("!HHI", b[:8])
    if cookie != COOKIE or len(b) < 20 + length:
        return None
    tid, attrs, off, mi = b[8:20], {}, 20, None
    while off + 4 <= 20 + length:
        at, al = struct.unpack("!HH", b[off:off + 4])
        if at == A_MI:
            mi = off
        attrs.setdefault(at, b[off + 4:off + 4 + al])
        off += 4 + al + (-al % 4)
    return t, tid, attrs, mi, b


def integrity_ok(m, key):
    t, tid, attrs, mi, raw = m
    if mi is None:
        return False
    hdr = struct.pack("!HHI", t, mi + 24 - 20, COOKIE) + tid
    mac = hmac.new(key, hdr + raw[20:mi], hashlib.sha1).digest()
    return hmac.compare_digest(mac, attrs[A_MI])


class Client:
    def __init__(self, server, port, timeout):
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.connect((server, port))
        self.timeout = timeout
        self.key = None
        self.realm = self.nonce = b""
        self.indications = []

    def received(self, wait):
        """The STUN messages that arrive within wait seconds (others dropped)."""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                m = parse(self.sock.recv(4096))
            except socket.timeout:
                return
            if m is not None:
                yield m

    def auth(self):
        return [attr(A_USERNAME, USER.encode()), attr(A_REALM, self.realm),
                attr(A_NONCE, self.nonce)]

    def transact(self, method, attrs, signed=True):
        """Answer (parsed) or None; Data indications met meanwhile are kept."""
        for _ in range(3):
            tid = os.urandom(12)
            a = attrs + (self.auth() if signed and self.key else [])
            self.sock.send(build(method, REQUEST, tid, a, self.key if signed else None))
            for m in self.received(self.timeout):
                if m[0] == msg_type(DATA, INDICATION):
                    self.indications.append(m)
                elif m[1] == tid:
                    return m
        return None

    def allocate(self):
        req = [attr(A_TRANSPORT, b"\x11\0\0\0"), attr(A_LIFETIME, struct.pack("!I", 600))]
        m = self.transact(ALLOCATE, req, signed=False)
        if m is None:
            return {"result": "timeout"}
        if m[0] == msg_type(ALLOCATE, ERROR) and A_NONCE in m[2]:
            self.realm, self.nonce = m[2].get(A_REALM, b""), m[2][A_NONCE]
            self.key = hashlib.md5(b"%s:%s:%s" % (USER.encode(), self.realm,
                                                    PASSWORD.encode())).digest()
            m = self.transact(ALLOCATE, req)
            if m is None:
                return {"result": "timeout"}
        t, tid, attrs = m[0], m[1], m[2]
        if t == msg_type(ALLOCATE, SUCCESS):
            ip, port = parse_addr(attrs[A_RELAYED], True, tid)
            return {"result": "ok", "relayed": ip, "port": port}
        code = 0
        if A_ERROR in attrs and len(attrs[A_ERROR]) >= 4:
            code = attrs[A_ERROR][2] * 100 + attrs[A_ERROR][3]
        if code == 300 and A_ALTERNATE in attrs:
            ip, port = parse_addr(attrs[A_ALTERNATE], False, tid)
            alt = "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)
            return {"result": "redirect", "alternate": alt,
                    "integrity": integrity_ok(m, self.key)}
        return {"result": "error", "code": code}

    def permission(self, peer):
        m = self.transact(PERMISSION, [attr(A_PEER, xor_addr(peer, 0))])
        return m is not None and m[0] == msg_type(PERMISSION, SUCCESS)

    def send(self, peer, port, payload):
        self.sock.send(build(SEND, INDICATION, os.urandom(12),
                             [attr(A_PEER, xor_addr(peer, port)), attr(A_DATA, payload)]))

    def echoes(self, wait):
        """Payloads of the Data indications received within wait seconds."""
        out = [m[2].get(A_DATA, b"") for m in self.indications]
        self.indications = []
        for m in self.received(wait):
            if m[0] == msg_type(DATA, INDICATION):
                out.append(m[2].get(A_DATA, b""))
        return out


def allocate(a):
    """(client, answer): with --follow, through one authenticated 300."""
    c = Client(a.server, a.port, a.timeout)
    r = c.allocate()
    if not a.follow or r["result"] != "redirect":
        return c, r
    if not r["integrity"]:
        return c, {"result": "unauthenticated 300", "redirect": r}
    host, port = r["alternate"].rsplit(":", 1)
    c = Client(host.strip("[]"), int(port), a.timeout)
    r2 = c.allocate()
    r2["redirect"] = r
    return c, r2


def hold(a):
    c, r = allocate(a)
    if r["result"] != "ok" or not c.permission(a.peer):
        print(json.dumps({"result": "setup failed", "allocate": r}))
        return 1
    sent = got = 0
    after_mark, ready, marked = None, False, False
    end = time.monotonic() + a.max_seconds
    seq = 0
    while time.monotonic() < end:
        if not marked and os.path.exists(a.until_file):
            marked, after_mark = True, seq + 1
        seq += 1
        c.send(a.peer, a.peer_port, b"seq %d" % seq)
        sent += 1
        for p in c.echoes(0.1):
            got += 1
            n = int(p.split()[1]) if p.startswith(b"seq ") else 0
            if not ready:
                ready = True
                open(a.ready_file, "w").close()
            if after_mark is not None and n >= after_mark:
                print(json.dumps({"result": "ok", "relayed": r["relayed"], "sent": sent,
                                  "echoed": got, "resumed_at_seq": n,
                                  "redirect": r.get("redirect")}))
                return 0
    print(json.dumps({"result": "no echo after the mark" if marked else "never marked",
                      "relayed": r["relayed"], "sent": sent, "echoed": got}))
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["alloc", "hold"])
    ap.add_argument("server")
    ap.add_argument("peer", nargs="?")
    ap.add_argument("peer_port", nargs="?", type=int)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--ready-file")
    ap.add_argument("--until-file")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--follow", action="store_true")
    a = ap.parse_args()
    if a.cmd == "alloc":
        r = allocate(a)[1]
        print(json.dumps(r))
        return 0 if r["result"] in ("ok", "redirect") else 1
    if not (a.peer and a.peer_port and a.ready_file and a.until_file):
        ap.error("hold needs PEER_IP PEER_PORT --ready-file --until-file")
    return hold(a)


if __name__ == "__main__":
    sys.exit(main())
