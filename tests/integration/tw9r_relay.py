#!/usr/bin/env python3
"""
TWIST flows against twist-relay, in tw9r_relay.sh's namespaces.

    tw9r_relay.py CLIENT_NS RELAY_NS PEER_NS

Runs in the client namespace; sockets for the peer side and the metrics
scrape are made in the other namespaces with setns(2) and used from here.
The STUN encoder is turn_conformance.py's (written from the RFCs, sharing
nothing with proto/); segments are built by hand, checksums over the
relayed and peer addresses. Every wait is bounded; nothing judges speed.
"""

import ctypes
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_conformance import (  # noqa: E402
    A_DATA, A_ERROR_CODE, A_LIFETIME, A_NONCE, A_REALM, A_REQUESTED_ADDRESS_FAMILY,
    A_XOR_PEER_ADDRESS, A_XOR_RELAYED_ADDRESS, ALLOCATE, BINDING, DATA, ERROR, FAM_V4, FAM_V6,
    INDICATION, REFRESH, REQUEST, SUCCESS, Auth, Fail, Msg, Parsed, check, family_attr,
    requested_transport, u32)

A_CAPS, A_TYPE, A_ENCAP, A_COOKIE, A_SPI = 0x5457, 0x5458, 0x5459, 0x545A, 0x545B
CONNECT, LISTEN = 1, 2
UDP, TCP = 17, 6
RELAY_A = ("203.0.113.10", 3478)
RELAY_B = ("203.0.113.10", 3479)
TW_A, TW_B = "203.0.113.200", "203.0.113.201"
PEER, PEER2 = "198.51.100.2", "198.51.100.3"
METRICS = {RELAY_A: 9751, RELAY_B: 9752}
WAIT = 10.0   # a response that must come
QUIET = 1.0   # silence that must hold
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL("libc.so.6", use_errno=True)
NS = {}


def in_ns(name, fn):
    """fn() with this thread in namespace name; sockets keep theirs after."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
        return fn()
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(fd)
        os.close(home)


def peer_udp(addr, port=0):
    def mk():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, port))
        s.settimeout(WAIT)
        return s
    return in_ns(NS["peer"], mk)


def metrics(relay):
    def fetch():
        s = socket.create_connection(("127.0.0.1", METRICS[relay]), timeout=WAIT)
        return s
    s = in_ns(NS["rly"], fetch)
    s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def metric(relay, line_start):
    for line in metrics(relay).splitlines():
        if line.startswith(line_start + " "):
            return int(line.split()[-1])
    raise Fail("metric %s not on the page" % line_start)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def l4_csum(src, dst, proto, seg):
    if ":" in src:
        ph = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
              + struct.pack("!IxxxB", len(seg), proto))
    else:
        ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(seg))
    c = csum(ph + seg)
    return 0xFFFF if c == 0 and proto == UDP else c


def udp_seg(src, sport, dst, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return seg[:6] + struct.pack("!H", l4_csum(src, dst, UDP, seg)) + seg[8:]


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def tcp_seg(src, sport, dst, dport, seq, ack, flags, payload=b""):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    return seg[:16] + struct.pack("!H", l4_csum(src, dst, TCP, seg)) + seg[18:]


def tcp_parse(seg):
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", seg[:14])
    return {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
            "data": seg[(off >> 4) * 4:]}


class Flow:
    """One client 5-tuple asking for one TWIST flow."""

    def __init__(self, relay=RELAY_A, user=("demo", "demo")):
        self.relay = relay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("203.0.113.2", 0))
        self.sock.connect(relay)
        self.auth = Auth(*user)
        self.realm = self.nonce = None
        self.relayed = None
        self.cookie = None

    def close(self):
        self.sock.close()

    def recv(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None

    def recv_seg(self, timeout=WAIT):
        """A segment from the peer. On a listen flow, until the client's first
        segment, it comes in a Data indication naming the peer
        (twist-protocol.md §6): unwrapped here, the peer kept in self.peer."""
        d = self.recv(timeout)
        if d is None or len(d) < 20 or d[0] >= 0x40 or d[:2] != b"\x00\x17":
            return d
        attrs, pos, end = {}, 20, 20 + struct.unpack("!H", d[2:4])[0]
        while pos + 4 <= end:
            t, n = struct.unpack("!HH", d[pos:pos + 4])
            attrs[t] = d[pos + 4:pos + 4 + n]
            pos += 4 + n + (-n % 4)
        xpa = attrs.get(0x0012, b"")
        check(len(xpa) == 8 and 0x0013 in attrs, "a Data indication without peer or data")
        port = struct.unpack("!H", xpa[2:4])[0] ^ 0x2112
        ip = bytes(a ^ b for a, b in zip(xpa[4:8], b"\x21\x12\xa4\x42"))
        self.peer = (socket.inet_ntoa(ip), port)
        return attrs[0x0013]

    def recv_stun(self, txid, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.recv(max(0.05, deadline - time.monotonic()))
            if d is None:
                break
            if len(d) >= 20 and d[0] < 0x40 and d[8:20] == txid:
                return Parsed(d)
            if len(d) >= 28 and d[16:28] == txid:   # encapsulated behind a UDP header
                return Parsed(d[8:])
        raise Fail("no answer to a STUN request on %s" % (self.sock.getsockname(),))

    def request(self, build, authed=True, wire=None):
        """Sends build(txid) (with credentials once a nonce is known) and returns
        the answer; a 401 with a nonce is answered once, with credentials and
        a new transaction id (XOR-PEER-ADDRESS of IPv6 depends on it)."""
        for _ in range(2):
            msg = build()
            key = None
            if authed and self.nonce:
                for t, v in self.auth.attrs(self.realm, self.nonce, None):
                    msg.add(t, v)
                key = self.auth.key(self.realm)
            raw = msg.encode(key=key)
            self.sock.send(wire(raw) if wire else raw)
            r = self.recv_stun(msg.txid)
            if r.cls == ERROR and r.error_code() in (401, 438) and authed and not self.nonce:
                self.realm = r.get(A_REALM).decode()
                self.nonce = r.get(A_NONCE)
                continue
            return r
        return r

    def allocate(self, typ, proto, peer=None, extra=()):
        def build():
            m = Msg(ALLOCATE)
            if typ is not None:
                m.add(A_TYPE, bytes([typ, 0, 0, 0]))
            if proto is not None:
                m.add(*requested_transport(proto))
            if peer:
                m.add_xor(A_XOR_PEER_ADDRESS, *peer)
            for t, v in extra:
                m.add(t, v)
            return m
        r = self.request(build)
        if r.cls == SUCCESS:
            self.relayed = r.xaddrs(A_XOR_RELAYED_ADDRESS)[0]
            self.cookie = r.get(A_COOKIE)
        return r

    def refresh(self, lifetime, wire=None):
        return self.request(lambda: Msg(REFRESH).add(A_LIFETIME, u32(lifetime)), wire=wire)

    def send_seg(self, seg):
        self.sock.send(seg)

    def recv_peer(self, timeout=WAIT):
        """A peer's segment: (segment, peer) from a Data indication (a listen
        flow before the client's first segment, twist-protocol.md §6), or
        (segment, None) bare; (None, None) on timeout."""
        d = self.recv(timeout)
        if d is None:
            return None, None
        if d[0] < 0x40 and len(d) >= 20 and d[4:8] == struct.pack("!I", 0x2112A442):
            m = Parsed(d)
            check(m.method == DATA and m.cls == INDICATION, "not a Data indication: %s" %
                  m.describe())
            return m.get(A_DATA), m.xaddrs(A_XOR_PEER_ADDRESS)[0]
        return d, None


def ok(r, what):
    check(r.cls == SUCCESS, "%s: got %s" % (what, r.describe()))
    return r


def err(r, code, what):
    check(r.cls == ERROR and r.error_code() == code,
          "%s: want %d, got %s" % (what, code, r.describe()))


def diagnose():
    """What the kernels and the relay counted, for a failure's log."""
    import subprocess
    for cmd in (["ip", "-n", NS["rly"], "-s", "link", "show", "tw9ra"],
                ["ip", "netns", "exec", NS["rly"], "cat", "/proc/net/snmp", "/proc/net/snmp6"],
                ["ip", "netns", "exec", NS["peer"], "cat", "/proc/net/snmp", "/proc/net/snmp6"],
                ["ip", "netns", "exec", NS["peer"], "ss", "-uan"],
                ["ip", "-n", NS["rly"], "-6", "neigh"]):
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        print(" ".join(cmd[-2:]) + ": " + " ".join(
            x.split()[0] + "=" + x.split()[1] for x in out.splitlines()
            if len(x.split()) == 2 and x.split()[1] != "0") if "snmp" in cmd[-1] else out)
    print("\n".join(x for x in metrics(RELAY_A).splitlines() if x.startswith("twist_twist_")))


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def binding_caps_and_plain_turn():
    f = Flow()
    m = Msg(BINDING).add(A_CAPS, u32(0x31))
    f.sock.send(m.encode())
    r = f.recv_stun(m.txid)
    ok(r, "Binding with TWIST-CAPS")
    check(r.get(A_CAPS) is not None and struct.unpack("!I", r.get(A_CAPS))[0] & 0x30 == 0x30,
          "no TWIST-CAPS with connect|listen in the Binding answer")
    r = ok(f.allocate(None, UDP), "plain TURN Allocate on the same port")
    check(f.relayed[0] == "203.0.113.10", "plain TURN relayed %s" % (f.relayed,))
    ok(f.refresh(0), "plain TURN Refresh 0")
    f.close()


@case
def connect_udp_1000():
    f = Flow()
    spy = peer_udp(PEER2, 7777)
    # First the peer's view: the source of the relayed segment.
    ok(f.allocate(CONNECT, UDP, (PEER2, 7777)), "connect UDP to the spy")
    rip, rport = f.relayed
    check(rip == TW_A and 50000 <= rport <= 50999, "relayed %s:%d" % (rip, rport))
    f.send_seg(udp_seg(rip, rport, PEER2, 7777, b"who am i"))
    data, src = spy.recvfrom(2048)
    check(data == b"who am i" and src == (rip, rport), "peer saw %r from %s" % (data, src))
    spy.sendto(b"you are", src)
    d = f.recv()
    check(d is not None and d[8:] == b"you are" and struct.unpack("!HH", d[:4]) == (7777, rport),
          "client got %r" % d)
    ok(f.refresh(0), "Refresh 0")
    f.close()
    spy.close()
    # 1,000 datagrams to the socat echo, a window of 20 at a time, none lost.
    f = Flow()
    ok(f.allocate(CONNECT, UDP, (PEER, 7)), "connect UDP to the echo")
    rip, rport = f.relayed
    got, sent = set(), 0
    deadline = time.monotonic() + 120
    while len(got) < 1000 and time.monotonic() < deadline:
        window = [i for i in range(sent, min(sent + 20, 1000))]
        for i in window:
            f.send_seg(udp_seg(rip, rport, PEER, 7, b"n%06d" % i))
        sent += len(window)
        for _ in window:
            d = f.recv(5.0)
            if d is None:
                break
            check(struct.unpack("!HH", d[:4]) == (7, rport), "echo segment ports")
            got.add(int(d[9:15]))
        if sent >= 1000:
            break
    if len(got) < 1000:
        diagnose()
    check(len(got) == 1000, "%d of 1000 datagrams came back" % len(got))
    ok(f.refresh(0), "Refresh 0")
    f.close()
    print("  1000 of 1000 datagrams echoed")


@case
def interworking_ipv4_client_ipv6_peer():
    # An IPv4 client, an IPv6 relayed address: UDP to the echo, TCP to a listener.
    f = Flow()
    ok(f.allocate(CONNECT, UDP, ("2001:db8:3::2", 7)), "connect UDP to an IPv6 peer")
    rip, rport = f.relayed
    check(rip == "2001:db8:4::200", "relayed %s" % rip)
    for i in range(50):
        f.send_seg(udp_seg(rip, rport, "2001:db8:3::2", 7, b"six%d" % i))
        d = f.recv()
        if d is None:
            diagnose()
        check(d is not None and d[8:] == b"six%d" % i, "IPv6 echo %d: %r" % (i, d))
        check(l4_csum("2001:db8:3::2", rip, UDP, d[:6] + b"\0\0" + d[8:]) ==
              struct.unpack("!H", d[6:8])[0], "IPv6 echo checksum not passed on as is")
    ok(f.refresh(0), "Refresh 0")
    f.close()
    srv = tcp_server("2001:db8:3::2", 8091)
    f = Flow()
    ok(f.allocate(CONNECT, TCP, ("2001:db8:3::2", 8091)), "connect TCP to an IPv6 peer")
    tcp_client_side(f, "2001:db8:3::2", 8091, 77)
    conn, src = srv.accept()
    check(src[0] == f.relayed[0] and src[1] == f.relayed[1], "IPv6 peer accepted from %s" % (src,))
    conn.settimeout(WAIT)
    check(conn.recv(100) == b"hello", "IPv6 peer did not get hello")
    conn.close()
    ok(f.refresh(0), "Refresh 0")
    f.close()
    srv.close()


def tcp_server(addr, port):
    def mk():
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(4)
        s.settimeout(WAIT)
        return s
    return in_ns(NS["peer"], mk)


def tcp_client_side(f, peer, pport, isn, handshake_first=None):
    """Client side of one TCP exchange over a flow: SYN, SYN-ACK, ACK, data, FIN."""
    rip, rport = f.relayed
    f.send_seg(tcp_seg(rip, rport, peer, pport, isn, 0, SYN))
    d = f.recv()
    check(d is not None, "no SYN-ACK came back")
    t = tcp_parse(d)
    check(t["flags"] & (SYN | ACK) == SYN | ACK and t["ack"] == isn + 1,
          "want SYN-ACK ack=%d, got flags %#x ack %d" % (isn + 1, t["flags"], t["ack"]))
    pseq = t["seq"] + 1
    f.send_seg(tcp_seg(rip, rport, peer, pport, isn + 1, pseq, ACK))
    f.send_seg(tcp_seg(rip, rport, peer, pport, isn + 1, pseq, ACK | PSH, b"hello"))
    return pseq


@case
def connect_tcp():
    srv = tcp_server(PEER, 8090)
    f = Flow()
    ok(f.allocate(CONNECT, TCP, (PEER, 8090)), "connect TCP")
    rip, rport = f.relayed
    isn = 1000
    pseq = tcp_client_side(f, PEER, 8090, isn)
    conn, src = srv.accept()
    check(src == (rip, rport), "peer accepted from %s" % (src,))
    conn.settimeout(WAIT)
    check(conn.recv(100) == b"hello", "peer did not get hello")
    conn.sendall(b"HELLO")
    # The peer's data (perhaps after a pure ACK).
    data = b""
    deadline = time.monotonic() + WAIT
    while not data and time.monotonic() < deadline:
        d = f.recv(2.0)
        if d:
            t = tcp_parse(d)
            data = t["data"]
    check(data == b"HELLO", "client got %r" % data)
    pseq += len(data)
    cseq = isn + 1 + 5
    f.send_seg(tcp_seg(rip, rport, PEER, 8090, cseq, pseq, ACK | FIN))
    check(conn.recv(100) == b"", "peer did not see the FIN")
    conn.close()
    fin = False
    deadline = time.monotonic() + WAIT
    while not fin and time.monotonic() < deadline:
        d = f.recv(2.0)
        if d:
            fin = bool(tcp_parse(d)["flags"] & FIN)
            check(not tcp_parse(d)["flags"] & RST, "an RST came back")
    check(fin, "no FIN from the peer")
    f.send_seg(tcp_seg(rip, rport, PEER, 8090, cseq + 1, pseq + 1, ACK))
    ok(f.refresh(0), "Refresh 0")
    f.close()
    srv.close()


@case
def listen_udp_latch_and_cookie():
    f = Flow()
    ok(f.allocate(LISTEN, UDP), "listen UDP")
    rip, rport = f.relayed
    check(f.cookie is not None and len(f.cookie) == 8, "no TWIST-COOKIE")
    p1, p2 = peer_udp(PEER, 7101), peer_udp(PEER2, 7102)
    p1.sendto(b"first", (rip, rport))
    d = f.recv_seg()
    check(d is not None and d[8:] == b"first" and struct.unpack("!HH", d[:4]) == (7101, rport),
          "listen: client got %r" % d)
    check(getattr(f, "peer", None) == (PEER, 7101), "listen: the Data indication named %r"
          % (getattr(f, "peer", None),))
    f.send_seg(udp_seg(rip, rport, PEER, 7101, b"back"))
    check(p1.recvfrom(100) == (b"back", (rip, rport)), "latched peer did not get the answer")
    before = metric(RELAY_A, 'twist_twist_dropped_total{reason="no_flow"}')
    p2.sendto(b"second", (rip, rport))
    check(f.recv(QUIET) is None, "a second peer reached a latched flow")
    after = metric(RELAY_A, 'twist_twist_dropped_total{reason="no_flow"}')
    # Earlier cases' peers may still retransmit to their ended flows: at least one more.
    check(after >= before + 1, "no_flow drops %d -> %d" % (before, after))
    g = Flow()
    ok(g.allocate(LISTEN, UDP, extra=[(A_COOKIE, f.cookie)]), "re-arm with the cookie")
    check(g.relayed == (rip, rport), "cookie gave %s, want %s" % (g.relayed, (rip, rport)))
    p2.sendto(b"third", (rip, rport))
    d = g.recv_seg()
    check(d is not None and d[8:] == b"third", "re-armed flow got %r" % d)
    check(f.recv(QUIET) is None, "the first flow got the second peer's datagram")
    h = Flow(user=("other", "other"))
    err(h.allocate(LISTEN, UDP, extra=[(A_COOKIE, f.cookie)]), 441, "cookie of another user")
    err(h.allocate(LISTEN, UDP, extra=[(A_COOKIE, b"\xc3" + f.cookie[1:2] + b"zzzzzz")]), 403,
        "unknown cookie")
    for x in (f, g):
        ok(x.refresh(0), "Refresh 0")
        x.close()
    h.close()
    p1.close()
    p2.close()


@case
def listen_restricted_peer():
    # XOR-PEER-ADDRESS with port 0 on a listen: only that IP, from any port.
    f = Flow()
    ok(f.allocate(LISTEN, UDP, (PEER, 0)), "listen UDP for one peer IP")
    rip, rport = f.relayed
    other, good = peer_udp(PEER2, 7201), peer_udp(PEER, 7202)
    other.sendto(b"not you", (rip, rport))
    check(f.recv(QUIET) is None, "a peer other than the named one reached the flow")
    good.sendto(b"you", (rip, rport))
    d, _ = f.recv_peer()
    check(d is not None and d[8:] == b"you" and struct.unpack("!H", d[:2])[0] == 7202,
          "the named peer did not reach the flow: %r" % d)
    ok(f.refresh(0), "Refresh 0")
    f.close()
    other.close()
    good.close()


@case
def listen_tcp():
    f = Flow()
    ok(f.allocate(LISTEN, TCP), "listen TCP")
    rip, rport = f.relayed

    def conn_from(addr):
        def mk():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((addr, 0))
            s.setblocking(False)
            try:
                s.connect((rip, rport))
            except BlockingIOError:
                pass
            return s
        return in_ns(NS["peer"], mk)
    a = conn_from(PEER)
    d = f.recv_seg()
    check(d is not None, "listen TCP: no SYN")
    t = tcp_parse(d)
    check(t["flags"] & (SYN | ACK) == SYN and t["dport"] == rport, "listen TCP: not a SYN")
    aport = t["sport"]
    f.send_seg(tcp_seg(rip, rport, PEER, aport, 5000, t["seq"] + 1, SYN | ACK))
    deadline = time.monotonic() + WAIT
    established = False
    while time.monotonic() < deadline and not established:
        established = a.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and \
            _connected(a)
        if not established:
            time.sleep(0.05)
    check(established, "the peer's connect did not complete")
    while f.recv(QUIET) is not None:   # the peer's handshake ACK
        pass
    b = conn_from(PEER2)
    d = f.recv(QUIET)
    check(d is None, "a second peer's segment reached the latched flow: %r" % d)
    g = Flow()
    ok(g.allocate(LISTEN, TCP, extra=[(A_COOKIE, f.cookie)]), "re-arm listen TCP")
    d = g.recv_seg(WAIT)   # the peer's SYN retransmission (about 1 s later)
    check(d is not None and tcp_parse(d)["flags"] & SYN, "the re-armed flow got no SYN")
    a.close()
    b.close()
    for x in (f, g):
        ok(x.refresh(0), "Refresh 0")
        x.close()


def _connected(s):
    try:
        s.getpeername()
        return True
    except OSError:
        return False


@case
def error_rows():
    f = Flow()
    # 401: no credentials at all (the first answer), then a wrong password.
    m = Msg(ALLOCATE).add(A_TYPE, bytes([1, 0, 0, 0])).add(*requested_transport(UDP))
    f.sock.send(m.encode())
    err(f.recv_stun(m.txid), 401, "Allocate without credentials")
    bad = Flow(user=("demo", "wrong"))
    err(bad.allocate(CONNECT, UDP, (PEER, 7)), 401, "wrong password")
    bad.close()
    err(f.allocate(CONNECT, UDP), 400, "connect without XOR-PEER-ADDRESS")
    err(f.allocate(None, UDP, (PEER, 7), extra=[(A_TYPE, b"\x01\x00")]), 400,
        "REQUESTED-TYPE of 2 bytes")
    err(f.allocate(9, UDP, (PEER, 7)), 400, "unknown REQUESTED-TYPE")
    err(f.allocate(CONNECT, UDP, (PEER, 7), extra=[(A_ENCAP, bytes([2, 1, 0, 20]))]), 400,
        "tunnel mode alone")
    err(f.allocate(CONNECT, UDP, (PEER, 7), extra=[(A_COOKIE, b"12345678")]), 400,
        "TWIST-COOKIE on a connect")
    err(f.allocate(CONNECT, UDP, ("127.0.0.1", 7)), 403, "loopback peer")
    err(f.allocate(CONNECT, UDP, ("203.0.113.10", 3478)), 403, "the server's own STUN port")
    err(f.allocate(CONNECT, UDP, ("2001:db8:3::2", 7),
                   extra=[family_attr(A_REQUESTED_ADDRESS_FAMILY, FAM_V4)]), 443,
        "IPv6 peer with an IPv4 relayed family")
    err(f.allocate(CONNECT, 50, (PEER, 7)), 442, "REQUESTED-TRANSPORT 50")
    ok(f.allocate(CONNECT, UDP, (PEER, 7)), "connect")
    err(f.allocate(CONNECT, UDP, (PEER, 7)), 437, "a second Allocate on the 5-tuple")
    o = Flow(user=("other", "other"))
    o.sock.close()
    o.sock = f.sock   # the same 5-tuple, another user
    err(o.refresh(600), 441, "Refresh by another user")
    ok(f.refresh(0), "Refresh 0")
    n = Flow()
    err(n.refresh(600), 437, "Refresh without a flow")
    n.close()
    # 486: max_flows_per_user is 6.
    flows = []
    for i in range(6):
        q = Flow(user=("quota", "quota"))
        ok(q.allocate(CONNECT, UDP, (PEER, 7)), "quota flow %d" % i)
        flows.append(q)
    q = Flow(user=("quota", "quota"))
    err(q.allocate(CONNECT, UDP, (PEER, 7)), 486, "seventh flow of one user")
    flows.append(q)
    for q in flows[:6]:
        ok(q.refresh(0), "Refresh 0")
    for q in flows:
        q.close()
    f.close()
    # 440: relay B serves no IPv6 relayed address.
    a, b = Flow(RELAY_B), Flow(RELAY_B)
    err(a.allocate(CONNECT, UDP, ("2001:db8:3::2", 7)), 440, "IPv6 relayed family not served")
    err(a.allocate(LISTEN, UDP, extra=[family_attr(A_REQUESTED_ADDRESS_FAMILY, FAM_V6)]), 440,
        "listen with an IPv6 relayed family not served")
    # 508: relay B has one relayed port.
    ok(a.allocate(CONNECT, UDP, (PEER, 7)), "B: the one port")
    err(b.allocate(CONNECT, UDP, (PEER, 7)), 508, "B: no port left")
    ok(a.refresh(0), "B: Refresh 0")
    a.close()
    ok(b.allocate(CONNECT, UDP, (PEER, 7)), "B: the port is free again after Refresh 0")
    ok(b.refresh(0), "B: Refresh 0")
    b.close()
    codes = metrics(RELAY_A) + metrics(RELAY_B)
    for c in (400, 401, 403, 437, 440, 441, 442, 443, 486, 508):
        n = sum(int(x.split()[-1]) for x in codes.splitlines()
                if x.startswith('twist_twist_allocate_errors_total{code="%d"}' % c))
        check(n > 0, "allocate error %d not counted" % c)


# ---- tunnel mode (twist-protocol.md §9): RFC 4303 ESP, NULL/NULL, in the flow's UDP ----

TUNNEL_ASK = [(A_ENCAP, bytes([2, 1, 0, 20])), (A_CAPS, u32(0x7F))]


def ip4(src, dst, proto, seg, frag=0x4000, good_csum=True):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    c = csum(h) if good_csum else csum(h) ^ 0x0101
    return h[:10] + struct.pack("!H", c) + h[12:] + seg


def ip6(src, dst, proto, seg):
    return (struct.pack("!IHBB", 6 << 28, len(seg), proto, 64) +
            socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + seg)


def esp(spi, seq, inner, nh=None, pad=None):
    """RFC 4303 §2: SPI, sequence, payload, padding 1,2,3.. to 4 bytes, pad
    length, next header; no ICV (NULL integrity)."""
    if nh is None:
        nh = 4 if inner[0] >> 4 == 4 else 41
    n = (4 - (len(inner) + 2) % 4) % 4
    pad = bytes(range(1, n + 1)) if pad is None else pad
    return struct.pack("!II", spi, seq) + inner + pad + bytes([len(pad), nh])


def esp_open(d):
    """(spi, seq, inner) of the relay's ESP, every RFC 4303 rule checked."""
    check(d is not None and len(d) >= 12 and len(d) % 4 == 0, "ESP of %r" % (d,))
    spi, seq = struct.unpack("!II", d[:8])
    padlen, nh = d[-2], d[-1]
    inner = d[8:len(d) - 2 - padlen]
    check(d[len(d) - 2 - padlen:-2] == bytes(range(1, padlen + 1)), "ESP padding %r" % d[-6:])
    check(nh == {4: 4, 6: 41}[inner[0] >> 4], "next header %d for IPv%d" % (nh, inner[0] >> 4))
    return spi, seq, inner


def tunnel_flow(typ, proto, peer=None, extra=()):
    f = Flow()
    r = ok(f.allocate(typ, proto, peer, extra=TUNNEL_ASK + list(extra)), "tunnel Allocate")
    check(r.get(A_ENCAP)[:1] == b"\x02", "ENCAP-TYPE answered %r" % r.get(A_ENCAP))
    spi = r.get(A_SPI)
    check(spi is not None and len(spi) == 4, "no TWIST-SPI in the answer")
    f.spi = struct.unpack("!I", spi)[0]
    check(0xC0 <= spi[0] <= 0xFE, "SPI 0x%08x outside 0xC0-0xFE" % f.spi)
    return f


@case
def tunnel_connect_udp():
    f = Flow()
    err(f.allocate(CONNECT, UDP, (PEER, 7), extra=[(A_ENCAP, bytes([2, 1, 0, 20])),
                                                   (A_CAPS, u32(0x01))]), 400,
        "tunnel mode with caps that lack it")
    f.close()
    f = tunnel_flow(CONNECT, UDP, (PEER2, 7777))
    spy = peer_udp(PEER2, 7777)
    rip, rport = f.relayed
    f.send_seg(esp(f.spi, 1, ip4(rip, PEER2, UDP, udp_seg(rip, rport, PEER2, 7777, b"tunnel"))))
    data, src = spy.recvfrom(2048)
    check(data == b"tunnel" and src == (rip, rport), "peer saw %r from %s" % (data, src))
    for i in range(3):
        spy.sendto(b"back%d" % i + b"x" * i, src)
        spi, seq, inner = esp_open(f.recv())
        check(spi == f.spi and seq == i + 1, "SPI 0x%08x seq %d" % (spi, seq))
        check(inner[12:20] == socket.inet_aton(PEER2) + socket.inet_aton(rip),
              "inner addresses %r" % inner[12:20])
        check(inner[20:24] == struct.pack("!HH", 7777, rport) and inner[28:] == b"back%d" % i +
              b"x" * i, "inner segment %r" % inner[20:])
    # 1,000 through the echo, none lost.
    g = tunnel_flow(CONNECT, UDP, (PEER, 7))
    rip, rport = g.relayed
    got, seq = set(), 0
    deadline = time.monotonic() + 60
    for base in range(0, 1000, 20):
        if time.monotonic() > deadline:
            break
        for i in range(base, base + 20):
            seq += 1
            g.send_seg(esp(g.spi, seq, ip4(rip, PEER, UDP,
                                           udp_seg(rip, rport, PEER, 7, b"n%06d" % i))))
        for _ in range(20):
            d = g.recv(5.0)
            if d is None:
                break
            _, _, inner = esp_open(d)
            got.add(int(inner[29:35]))
    check(len(got) == 1000, "%d of 1000 datagrams came back in tunnel mode" % len(got))
    for x in (f, g):
        ok(x.refresh(0), "Refresh 0")
        x.close()
    spy.close()


def dropped(reason):
    return metric(RELAY_A, 'twist_twist_dropped_total{reason="%s"}' % reason)


@case
def tunnel_hostile_inner():
    """Every inner packet the relay would not send itself is dropped and
    counted by its reason; the peer sees none of them."""
    f = tunnel_flow(CONNECT, UDP, (PEER2, 7777))
    spy = peer_udp(PEER2, 7777)
    spy.settimeout(QUIET)
    rip, rport = f.relayed

    def seg(src=rip, sport=rport, dst=PEER2, dport=7777):
        return udp_seg(src, sport, dst, dport, b"bad")
    good = ip4(rip, PEER2, UDP, seg())
    tcp = tcp_seg(rip, rport, PEER2, 7777, 1, 0, SYN)
    rows = [
        ("wrong_spi", esp(f.spi ^ 1, 1, good)),
        ("esp_malformed", esp(f.spi, 1, good)[:-1]),
        ("esp_malformed", esp(f.spi, 1, good, pad=b"\x01\x03\x02")),
        ("esp_dummy", esp(f.spi, 1, good, nh=59)),
        ("inner_protocol", esp(f.spi, 1, good, nh=41)),
        ("inner_protocol", esp(f.spi, 1, ip4(rip, PEER2, TCP, tcp))),
        ("inner_malformed", esp(f.spi, 1, ip4(rip, PEER2, UDP, seg(), good_csum=False))),
        ("inner_malformed", esp(f.spi, 1, ip4(rip, PEER2, UDP, seg(), frag=0x2000))),
        ("inner_malformed", esp(f.spi, 1, good + b"\0\0\0\0")),
        ("inner_source", esp(f.spi, 1, ip4("198.51.100.9", PEER2, UDP, seg(src="198.51.100.9")))),
        ("inner_source", esp(f.spi, 1, ip4(rip, PEER2, UDP, seg(sport=rport ^ 1)))),
        ("inner_destination", esp(f.spi, 1, ip4(rip, PEER, UDP, seg(dst=PEER)))),
        ("inner_destination", esp(f.spi, 1, ip4(rip, PEER2, UDP, seg(dport=7778)))),
        ("bad_datagram", b"\x00\x00\x00\x00" + good),
        ("bad_datagram", b"\x80" + bytes(15)),   # first byte of no tunnel-mode kind
    ]
    before = {r: dropped(r) for r, _ in rows}
    want = {}
    for reason, pkt in rows:
        f.send_seg(pkt)
        want[reason] = want.get(reason, 0) + 1
    try:
        data, src = spy.recvfrom(2048)
        raise Fail("the peer got %r from %s" % (data, src))
    except socket.timeout:
        pass
    for reason, n in want.items():
        got = dropped(reason) - before[reason]
        check(got == n, "%s: %d counted, want %d" % (reason, got, n))
    # The flow still works.
    f.send_seg(esp(f.spi, 9, good))
    spy.settimeout(WAIT)
    data, _ = spy.recvfrom(2048)
    check(data == b"bad", "the good packet after the bad ones: %r" % data)
    ok(f.refresh(0), "Refresh 0")
    f.close()
    spy.close()


@case
def tunnel_ipv6_inner():
    """An IPv6 relayed address over the IPv4 client 5-tuple: next header 41."""
    f = tunnel_flow(CONNECT, UDP, ("2001:db8:3::2", 7))
    rip, rport = f.relayed
    check(rip == "2001:db8:4::200", "relayed %s" % rip)
    f.send_seg(esp(f.spi, 1, ip6(rip, "2001:db8:3::2", UDP,
                                 udp_seg(rip, rport, "2001:db8:3::2", 7, b"six"))))
    spi, _, inner = esp_open(f.recv())
    check(spi == f.spi and inner[0] >> 4 == 6 and inner[6] == UDP, "inner %r" % inner[:8])
    check(inner[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8:3::2") and
          inner[48:] == b"six", "IPv6 echo %r" % inner)
    ok(f.refresh(0), "Refresh 0")
    f.close()


@case
def tunnel_listen_udp():
    """A listen flow in tunnel mode: the peer's first packet comes as ESP,
    its address in the inner header; no Data indication."""
    f = tunnel_flow(LISTEN, UDP)
    rip, rport = f.relayed
    spy = peer_udp(PEER2, 7779)
    spy.sendto(b"hello listener", (rip, rport))
    spi, seq, inner = esp_open(f.recv())
    check(spi == f.spi and seq == 1, "SPI/seq of the first peer packet")
    check(inner[12:16] == socket.inet_aton(PEER2) and inner[20:22] == struct.pack("!H", 7779),
          "inner source of the latching packet")
    f.send_seg(esp(f.spi, 1, ip4(rip, PEER2, UDP, udp_seg(rip, rport, PEER2, 7779, b"hi"))))
    data, src = spy.recvfrom(2048)
    check(data == b"hi" and src == (rip, rport), "peer got %r from %s" % (data, src))
    ok(f.refresh(0), "Refresh 0")
    f.close()
    spy.close()


def gauge(relay):
    return metric(relay, 'twist_twist_flows{type="connect",proto="udp"}')


@case
def keepalive_and_expiry():
    # Relay B: idle_timeout 3 s, one port. Keepalives (0xFF and an
    # encapsulated Binding) every second keep the flow for 12 s.
    f = Flow(RELAY_B)
    ok(f.allocate(CONNECT, UDP, (PEER, 7)), "B: connect")
    rip, rport = f.relayed
    for i in range(12):
        if i == 5:
            m = Msg(BINDING)
            f.send_seg(udp_seg(rip, rport, "203.0.113.10", 3479, m.encode()))
            d = f.recv()
            check(d is not None and struct.unpack("!HH", d[:4]) == (3479, rport),
                  "encapsulated Binding: answer %r" % d)
            check(Parsed(d[8:]).cls == SUCCESS, "encapsulated Binding not a success")
            check(l4_csum("203.0.113.10", rip, UDP, d[:6] + b"\0\0" + d[8:]) ==
                  struct.unpack("!H", d[6:8])[0], "encapsulated answer's checksum")
        else:
            f.send_seg(b"\xff")
        time.sleep(1.0)
    check(gauge(RELAY_B) == 1, "the flow died with keepalives")
    f.send_seg(udp_seg(rip, rport, PEER, 7, b"alive"))
    d = f.recv()
    check(d is not None and d[8:] == b"alive", "no echo after 12 s of keepalives")
    # Without them it expires; the one port is free again.
    deadline = time.monotonic() + 30
    while gauge(RELAY_B) != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    check(gauge(RELAY_B) == 0, "the flow did not expire without keepalives")
    f.close()
    g = Flow(RELAY_B)
    ok(g.allocate(CONNECT, UDP, (PEER, 7777)), "B: the expired flow's port again")
    check(g.relayed == (rip, rport), "new flow on %s" % (g.relayed,))
    # Peer traffic alone does not keep it.
    spy = peer_udp(PEER, 7777)
    deadline = time.monotonic() + 30
    while gauge(RELAY_B) != 0 and time.monotonic() < deadline:
        spy.sendto(b"x", (rip, rport))
        time.sleep(0.5)
    check(gauge(RELAY_B) == 0, "peer traffic kept the flow")
    spy.close()
    g.close()
    # Refresh 0 sent encapsulated deletes, and is answered encapsulated.
    h = Flow(RELAY_B)
    ok(h.allocate(CONNECT, UDP, (PEER, 7)), "B: connect for an encapsulated Refresh")
    rip, rport = h.relayed
    r = h.refresh(0, wire=lambda raw: udp_seg(rip, rport, "203.0.113.10", 3479, raw))
    ok(r, "encapsulated Refresh 0")
    check(gauge(RELAY_B) == 0, "encapsulated Refresh 0 did not delete")
    h.close()


@case
def armed_cap_on_one_port():
    # Last: afterwards B's one port stays held for 30 s by the cookie.
    # 486: at most 8 armed listen flows wait on one port (cookies share B's one port).
    armed = [Flow(RELAY_B)]
    ok(armed[0].allocate(LISTEN, UDP), "B: listen")
    for i in range(7):
        g = Flow(RELAY_B)
        ok(g.allocate(LISTEN, UDP, extra=[(A_COOKIE, armed[0].cookie)]), "B: armed %d" % (i + 2))
        armed.append(g)
    g = Flow(RELAY_B)
    err(g.allocate(LISTEN, UDP, extra=[(A_COOKIE, armed[0].cookie)]), 486, "B: ninth armed flow")
    err(g.allocate(CONNECT, UDP, (PEER, 7)), 508, "B: the port is held by the listen flows")
    for x in armed:
        ok(x.refresh(0), "B: Refresh 0")
        x.close()
    # The cookie outlives its flows by 30 s, and keeps the port meanwhile.
    err(g.allocate(CONNECT, UDP, (PEER, 7)), 508, "B: the port is held for the cookie")
    ok(g.allocate(LISTEN, UDP, extra=[(A_COOKIE, armed[0].cookie)]),
       "B: the cookie re-arms the port after its last flow ended")
    ok(g.refresh(0), "B: Refresh 0")
    g.close()


def main():
    NS["cli"], NS["rly"], NS["peer"] = sys.argv[1:4]
    failed = 0
    only = sys.argv[4:]
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print("ok   %s" % fn.__name__, flush=True)
        except Exception as e:  # noqa: BLE001 - report every case
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e), flush=True)
    print("%d of %d cases failed" % (failed, len(CASES)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
