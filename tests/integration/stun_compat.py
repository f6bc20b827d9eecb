"""
Binding compatibility against the real twist-relay: a blank CHANGE-REQUEST
(as stuntman's stunclient sends with every Binding), set flags with and
without stun.rfc5780, the RFC 5780 alternate sockets (RESPONSE-ORIGIN,
OTHER-ADDRESS, answers from the changed IP and/or port), and classic RFC
3489 requests (no magic cookie). Cases for turn_conformance.py, which
imports this module and calls its register() on it: its encoder, Relay
and metrics helpers are used; the classic header is built here, from RFC
3489 §11.1.

UDP sockets here are not connected: an answer from another address than
the one asked must still be read, and where it came from is checked.
"""

import os
import select
import socket
import struct
import time

t = None        # the turn_conformance module, set by its register()
_CASES = []

A_CHANGE_REQUEST = 0x0003
A_SOURCE_ADDRESS = 0x0004
A_CHANGED_ADDRESS = 0x0005
A_RESPONSE_ORIGIN = 0x802B
A_OTHER_ADDRESS = 0x802C
CHANGE_IP, CHANGE_PORT = 0x4, 0x2
OTHER_IP = "127.0.0.2"


def case(instance):
    def deco(f):
        _CASES.append((instance, f))
        return f
    return deco


def rfc5780_yaml(relay):
    """stun.rfc5780 with an other port picked once per relay object."""
    if not getattr(relay, "other_port", None):
        relay.other_port = t.free_port(True)
    return "stun: { rfc5780: { other_address: %s, other_port: %d } }\n" % (OTHER_IP,
                                                                           relay.other_port)


INSTANCES = [
    ("rfc5780", dict(extra=rfc5780_yaml)),
    ("no3489", dict(extra="compat: { rfc3489: false }\n")),
]


def plain_addr(v):
    """MAPPED-ADDRESS-shaped value (RFC 8489 §14.1), IPv4 only here."""
    t.check(v is not None and len(v) == 8 and v[1] == 1, "bad address attribute %r" % v)
    return (socket.inet_ntoa(v[4:8]), struct.unpack("!H", v[2:4])[0])


def change(flags):
    return (A_CHANGE_REQUEST, struct.pack("!I", flags))


class Udp:
    """An unconnected UDP client: answers are taken with their source."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def close(self):
        self.sock.close()

    def local(self):
        return self.sock.getsockname()

    def ask(self, dst, data, txid_at, txid, timeout=None):
        """Send data; return (raw answer, its source) for txid, or (None, None)."""
        self.sock.sendto(data, dst)
        deadline = time.monotonic() + (timeout or t.RESP_TIMEOUT)
        for _ in range(100):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            raw, src = self.sock.recvfrom(65535)
            if raw[txid_at:txid_at + len(txid)] == txid:
                return raw, src
        return None, None

    def binding(self, dst, attrs=(), timeout=None):
        m = t.Msg(t.BINDING)
        for a in attrs:
            m.add(*a)
        raw, src = self.ask(dst, m.encode(), 8, m.txid, timeout)
        return (t.Parsed(raw) if raw else None), src


def classic_msg(mtype, attrs=(), tid=None):
    """RFC 3489 §11.1: type, length, a 16-byte transaction id, no cookie."""
    tid = tid or os.urandom(16)
    if tid[:4] == t.MAGIC_BYTES:
        tid = b"\0" + tid[1:]
    body = b"".join(t.attr_bytes(a, v) for a, v in attrs)
    return struct.pack("!HH", mtype, len(body)) + tid + body, tid


def classic_parse(raw):
    """(type, tid, {attr: value}) of a classic answer, checked strictly."""
    t.check(len(raw) >= 20, "classic answer of %d bytes" % len(raw))
    mtype, blen = struct.unpack("!HH", raw[:4])
    t.check(20 + blen == len(raw), "classic length %d but %d bytes" % (blen, len(raw) - 20))
    attrs, off = {}, 20
    while off < len(raw):
        at, al = struct.unpack("!HH", raw[off:off + 4])
        t.check(off + 4 + al <= len(raw), "classic attribute %#06x past the end" % at)
        attrs.setdefault(at, raw[off + 4:off + 4 + al])
        off += 4 + al + t.pad4(al)
    return mtype, raw[4:20], attrs


def silent(u, dst, data):
    """Nothing comes back for data within QUIET."""
    raw, _ = u.ask(dst, data, 4, data[4:20], timeout=t.QUIET)
    return raw is None


@case("main")
def blank_change_request_accepted(relay):
    """stuntman's stunclient sends CHANGE-REQUEST 0 with every Binding: a
    success, over UDP and TCP, with nothing about RFC 5780 when it is off."""
    u = Udp()
    r, _ = u.binding(relay.addr, [change(0)])
    t.expect_success(r, "Binding with a blank CHANGE-REQUEST")
    t.check(r.xaddrs(t.A_XOR_MAPPED_ADDRESS) == [u.local()], "XOR-MAPPED-ADDRESS is not us")
    t.check(not r.has(A_OTHER_ADDRESS) and not r.has(A_RESPONSE_ORIGIN),
            "RFC 5780 attributes without stun.rfc5780")
    u.close()
    c = t.Client(relay, transport="tcp", cred=None)
    t.expect_success(c.request(t.BINDING, [change(0)]), "TCP Binding with a blank CHANGE-REQUEST")
    c.close()


@case("main")
def change_flags_420_without_rfc5780(relay):
    """RFC 5780 §7.2: flags the server cannot honour get 420 with
    UNKNOWN-ATTRIBUTES 0x0003, as coturn answers."""
    before = relay.metrics()
    u = Udp()
    for flags in (CHANGE_IP, CHANGE_PORT, CHANGE_IP | CHANGE_PORT):
        r, src = u.binding(relay.addr, [change(flags)])
        t.expect_error(r, 420, "Binding with CHANGE-REQUEST %#x" % flags)
        t.check(r.get(t.A_UNKNOWN_ATTRIBUTES) == b"\x00\x03",
                "UNKNOWN-ATTRIBUTES %r, want 0x0003" % r.get(t.A_UNKNOWN_ATTRIBUTES))
        t.check(src == relay.addr, "420 from %s, not the listener" % (src,))
    u.close()
    after = relay.metrics()
    t.check(t.mval(after, "twist_error_responses_total", code="420")
            - t.mval(before, "twist_error_responses_total", code="420") == 3,
            "three 420s not counted")


@case("main")
def classic_binding_answered(relay):
    """RFC 8489 §12.2: a request without the magic cookie gets MAPPED-ADDRESS
    and its whole 16-byte transaction id back, and no XOR attributes."""
    before = relay.metrics()
    u = Udp()
    data, tid = classic_msg(0x0001)
    raw, src = u.ask(relay.addr, data, 4, tid)
    t.check(raw is not None, "no answer to a classic Binding request")
    mtype, rtid, attrs = classic_parse(raw)
    t.check(mtype == 0x0101 and rtid == tid, "classic answer type %#x / id mismatch" % mtype)
    t.check(plain_addr(attrs.get(t.A_MAPPED_ADDRESS)) == u.local(), "MAPPED-ADDRESS is not us")
    t.check(t.A_XOR_MAPPED_ADDRESS not in attrs and t.A_FINGERPRINT not in attrs,
            "XOR-MAPPED-ADDRESS or FINGERPRINT in a classic answer")
    t.check(A_SOURCE_ADDRESS not in attrs, "SOURCE-ADDRESS without stun.rfc5780")
    # A set flag without an alternate address: 420 (0x0111) with 0x0003.
    data, tid = classic_msg(0x0001, [change(CHANGE_PORT)])
    raw, _ = u.ask(relay.addr, data, 4, tid)
    t.check(raw is not None, "no answer to a classic Binding with change-port")
    mtype, _, attrs = classic_parse(raw)
    t.check(mtype == 0x0111 and attrs.get(t.A_UNKNOWN_ATTRIBUTES) == b"\x00\x03",
            "classic change-port: type %#x, want a 420 naming 0x0003" % mtype)
    # Other classic messages are counted drops.
    for mtype in (0x0002, 0x0003, 0x0101):
        data, _ = classic_msg(mtype)
        t.check(silent(u, relay.addr, data), "classic type %#x answered" % mtype)
    u.close()
    after = t.wait_metric(relay, lambda s: t.drops(s, "classic_refused")
                          - t.drops(before, "classic_refused") >= 3)
    t.check(t.drops(after, "classic_refused") - t.drops(before, "classic_refused") == 3,
            "classic non-Binding drops not counted")
    t.check(t.mval(after, "twist_classic_binding_requests_total")
            - t.mval(before, "twist_classic_binding_requests_total") == 2,
            "classic Binding requests not counted")


@case("no3489")
def classic_off_dropped(relay):
    """compat.rfc3489: false: a classic request is not STUN at all."""
    before = relay.metrics()
    u = Udp()
    data, _ = classic_msg(0x0001)
    t.check(silent(u, relay.addr, data), "classic Binding answered with compat.rfc3489 off")
    u.close()
    after = t.wait_metric(relay, lambda s: t.drops(s, "not_stun") > t.drops(before, "not_stun"))
    t.check(t.drops(after, "not_stun") - t.drops(before, "not_stun") == 1, "not_stun not counted")


def corner(relay, ip_changed, port_changed):
    return (OTHER_IP if ip_changed else "127.0.0.1",
            relay.other_port if port_changed else relay.port)


@case("rfc5780")
def rfc5780_changed_answers(relay):
    """RFC 5780 §7.3: the answer leaves from the socket the flags name, says
    so in RESPONSE-ORIGIN, and names the diagonal in OTHER-ADDRESS."""
    before = relay.metrics()
    u = Udp()
    for flags in (None, 0, CHANGE_PORT, CHANGE_IP, CHANGE_IP | CHANGE_PORT):
        r, src = u.binding(relay.addr, [] if flags is None else [change(flags)])
        t.expect_success(r, "Binding with CHANGE-REQUEST %s" % flags)
        f = flags or 0
        want = corner(relay, f & CHANGE_IP, f & CHANGE_PORT)
        t.check(src == want, "flags %s: answer from %s, want %s" % (flags, src, want))
        t.check(plain_addr(r.get(A_RESPONSE_ORIGIN)) == want, "RESPONSE-ORIGIN is not the source")
        t.check(plain_addr(r.get(A_OTHER_ADDRESS)) == corner(relay, True, True),
                "OTHER-ADDRESS %s" % (plain_addr(r.get(A_OTHER_ADDRESS)),))
        t.check(r.xaddrs(t.A_XOR_MAPPED_ADDRESS) == [u.local()], "XOR-MAPPED-ADDRESS is not us")
    u.close()
    after = relay.metrics()
    for label in ("ip", "port", "ip_port"):
        n = t.mval(after, "twist_binding_changed_total", change=label) \
            - t.mval(before, "twist_binding_changed_total", change=label)
        t.check(n == 1, "twist_binding_changed_total{change=%s} rose by %d" % (label, n))


@case("rfc5780")
def rfc5780_alternate_sockets(relay):
    """Each alternate socket answers Binding, relative to itself (OTHER-ADDRESS
    is its own diagonal), and refuses Allocate with 403."""
    u = Udp()
    for ip_c, port_c in ((False, True), (True, False), (True, True)):
        dst = corner(relay, ip_c, port_c)
        r, src = u.binding(dst)
        t.expect_success(r, "Binding to %s" % (dst,))
        t.check(src == dst, "answer from %s, asked %s" % (src, dst))
        t.check(plain_addr(r.get(A_OTHER_ADDRESS)) == corner(relay, not ip_c, not port_c),
                "OTHER-ADDRESS on %s" % (dst,))
        r, src = u.binding(dst, [change(CHANGE_IP)])
        t.expect_success(r, "change-IP Binding to %s" % (dst,))
        t.check(src == corner(relay, not ip_c, port_c), "change-IP from %s: %s" % (dst, src))
        m = t.Msg(t.ALLOCATE).add(*t.requested_transport())
        raw, _ = u.ask(dst, m.encode(), 8, m.txid)
        t.expect_error(t.Parsed(raw) if raw else None, 403, "Allocate on %s" % (dst,))
    u.close()


@case("rfc5780")
def rfc5780_tcp_has_no_alternate(relay):
    """Over TCP an answer cannot leave from another address: 420."""
    c = t.Client(relay, transport="tcp", cred=None)
    r = c.request(t.BINDING, [change(CHANGE_PORT)])
    t.expect_error(r, 420, "TCP Binding with change-port")
    r = c.request(t.BINDING, [change(0)])
    t.expect_success(r, "TCP Binding with a blank CHANGE-REQUEST")
    c.close()


@case("rfc5780")
def rfc5780_classic(relay):
    """RFC 3489 §11.2: SOURCE-ADDRESS and CHANGED-ADDRESS, and the change."""
    u = Udp()
    data, tid = classic_msg(0x0001, [change(CHANGE_IP | CHANGE_PORT)])
    raw, src = u.ask(relay.addr, data, 4, tid)
    t.check(raw is not None, "no answer to a classic change-IP-and-port Binding")
    mtype, rtid, attrs = classic_parse(raw)
    diag = corner(relay, True, True)
    t.check(mtype == 0x0101 and rtid == tid, "classic answer type %#x" % mtype)
    t.check(src == diag, "classic answer from %s, want %s" % (src, diag))
    t.check(plain_addr(attrs.get(t.A_MAPPED_ADDRESS)) == u.local(), "MAPPED-ADDRESS is not us")
    t.check(plain_addr(attrs.get(A_SOURCE_ADDRESS)) == diag, "SOURCE-ADDRESS")
    t.check(plain_addr(attrs.get(A_CHANGED_ADDRESS)) == diag, "CHANGED-ADDRESS")
    u.close()


@case("rfc5780")
def rfc5780_response_port_and_padding(relay):
    """RFC 5780 §7.5, §7.6, as turnutils_stunclient -f asks: the answer goes
    to RESPONSE-PORT on our IP, and PADDING never makes it larger than the
    request (no amplification)."""
    u, other = Udp(), Udp()
    port = other.local()[1]
    m = t.Msg(t.BINDING).add(0x0027, struct.pack("!HH", port, 0)).add(*change(CHANGE_IP))
    u.sock.sendto(m.encode(), relay.addr)
    r, _, _ = select.select([other.sock], [], [], t.RESP_TIMEOUT)
    t.check(r, "no answer on the RESPONSE-PORT socket")
    raw, src = other.sock.recvfrom(65535)
    p = t.Parsed(raw)
    t.check(p.txid == m.txid and p.cls == t.SUCCESS, "RESPONSE-PORT answer: %s" % p.describe())
    t.check(src == corner(relay, True, False), "RESPONSE-PORT answer from %s" % (src,))
    t.check(p.xaddrs(t.A_XOR_MAPPED_ADDRESS) == [u.local()], "mapped address is not the asker")
    m = t.Msg(t.BINDING).add(0x0026, b"\0" * 1500)
    data = m.encode()
    raw, _ = u.ask(relay.addr, data, 8, m.txid)
    t.check(raw is not None, "no answer to a padded Binding")
    p = t.Parsed(raw)
    t.expect_success(p, "padded Binding")
    t.check(p.has(0x0026) and len(raw) <= len(data) and len(raw) > 1400,
            "padded answer of %d bytes for a %d-byte request" % (len(raw), len(data)))
    u.close()
    other.close()
