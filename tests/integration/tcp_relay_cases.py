"""
RFC 6062 TCP relay allocations against the real twist-relay: Allocate with
REQUESTED-TRANSPORT TCP (only over a stream control connection), Connect
(success with CONNECTION-ID, 446 for a second one to the same peer, 447
for a closed port), ConnectionBind (unknown id, then a byte pipe both
ways), the passive side (ConnectionAttempt for a peer with a permission)
and deleting the allocation closing the peer's connection. Cases for
turn_conformance.py, which imports this module and registers it: its
encoder, Relay and Client are used.

Each case runs on relays with 2 and 4 workers: the kernel spreads the
data connections over the workers' listeners, so most ConnectionBinds are
read by a worker that does not own the id and move to the one that does.
"""

import socket
import struct
import time

t = None        # the turn_conformance module, set by its register()
_CASES = []

CONNECT = 0x00A
CONNECTION_BIND = 0x00B
CONNECTION_ATTEMPT = 0x00C
A_CONNECTION_ID = 0x002A

INSTANCES = [("tcprelay", dict(workers=2)), ("tcprelay4", dict(workers=4))]


def case(instance):
    def deco(f):
        _CASES.append((instance, f))
        _CASES.append((instance + "4", f))
        return f
    return deco


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    s.settimeout(t.RESP_TIMEOUT)
    return s


def closed_port():
    """A loopback port nothing listens on (bound, never listening)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def tcp_alloc(relay):
    c = t.Client(relay, "tcp")
    c.allocate_ok(transport=t.PROTO_TCP)
    return c


def connect(c, port, expect=None):
    r = c.request(CONNECT, [lambda x: (t.A_XOR_PEER_ADDRESS, t.xor_addr("127.0.0.1", port, x))])
    if expect is not None:
        t.expect_error(r, expect, "Connect to :%d" % port)
        return None
    t.expect_success(r, "Connect to :%d" % port)
    cid = r.get(A_CONNECTION_ID)
    t.check(cid is not None and len(cid) == 4, "Connect success without CONNECTION-ID")
    return cid


def bind_data(relay, cid, expect=None, control=None):
    """A data connection bound to cid. With control, it signs with the
    control connection's nonce, as turnutils_uclient does (RFC 6062 §5.4),
    instead of learning one of its own."""
    d = t.Client(relay, "tcp")
    if control is not None:
        d.realm, d.nonce, d.server_algs = control.realm, control.nonce, control.server_algs
    r = d.request(CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    if expect is not None:
        t.expect_error(r, expect, "ConnectionBind")
        d.close()
        return None
    t.expect_success(r, "ConnectionBind")
    t.check(d.buf == b"", "bytes after the ConnectionBind answer: %r" % d.buf[:40])
    d.sock.settimeout(t.RESP_TIMEOUT)
    return d


def recv_exact(s, n):
    out = b""
    deadline = time.monotonic() + t.RESP_TIMEOUT
    while len(out) < n and time.monotonic() < deadline:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def pipe_both_ways(data_sock, peer_sock, size):
    blob = bytes(range(256)) * (size // 256)
    data_sock.sendall(blob)
    got = recv_exact(peer_sock, len(blob))
    t.check(got == blob, "peer got %d of %d bytes (or changed)" % (len(got), len(blob)))
    peer_sock.sendall(blob[::-1])
    got = recv_exact(data_sock, len(blob))
    t.check(got == blob[::-1], "client got %d of %d bytes (or changed)" % (len(got), len(blob)))


def wait_closed(s, what):
    s.settimeout(t.RESP_TIMEOUT)
    try:
        left = s.recv(1)
    except ConnectionResetError:
        left = b""
    except socket.timeout:
        raise t.Fail("%s still open" % what)
    t.check(left == b"", "%s: unexpected bytes %r" % (what, left))


@case("tcprelay")
def rfc6062_allocate_needs_stream(relay):
    c = t.Client(relay, "udp")
    try:
        t.expect_error(c.allocate(transport=t.PROTO_TCP), 442, "TCP Allocate over UDP")
    finally:
        c.close()


@case("tcprelay")
def rfc6062_connect_bind_pipe(relay):
    ls = listener()
    c = tcp_alloc(relay)
    try:
        cid = connect(c, ls.getsockname()[1])
        peer, frm = ls.accept()
        t.check(frm[1] == c.relayed[0][1],
                "peer connection from port %d, relayed port is %d" % (frm[1], c.relayed[0][1]))
        connect(c, ls.getsockname()[1], expect=446)
        d = bind_data(relay, cid, control=c)
        pipe_both_ways(d.sock, peer, 1 << 20)
        bind_data(relay, cid, expect=400)  # bound already
        # The peer's last bytes before its FIN still reach the client.
        tail = b"z" * (512 << 10)
        peer.sendall(tail)
        peer.close()
        got = recv_exact(d.sock, len(tail))
        t.check(got == tail, "client got %d of the peer's last %d bytes" % (len(got), len(tail)))
        wait_closed(d.sock, "data connection after the peer closed")
        d.close()
    finally:
        c.close()
        ls.close()


@case("tcprelay")
def rfc6062_connect_refused_447(relay):
    hold, port = closed_port()
    c = tcp_alloc(relay)
    try:
        connect(c, port, expect=447)
    finally:
        c.close()
        hold.close()


@case("tcprelay")
def rfc6062_bind_unknown_id(relay):
    bind_data(relay, struct.pack("!I", 0x5a5a5a5a), expect=400)
    # Another connection's nonce is good only for an id of its allocation.
    c = tcp_alloc(relay)
    try:
        bind_data(relay, struct.pack("!I", 0x5a5a5a5a), expect=438, control=c)
    finally:
        c.close()


@case("tcprelay")
def rfc6062_passive_attempt(relay):
    c = tcp_alloc(relay)
    try:
        c.permit("127.0.0.1")
        peer = socket.create_connection(c.relayed[0], timeout=t.RESP_TIMEOUT)
        raw = None
        for m in c.pending:
            if t.Parsed(m).method == CONNECTION_ATTEMPT:
                raw = m
        raw = raw or c.recv_raw(t.RESP_TIMEOUT)
        t.check(raw is not None, "no ConnectionAttempt indication")
        p = t.Parsed(raw)
        t.check(p.method == CONNECTION_ATTEMPT and p.cls == t.INDICATION,
                "expected ConnectionAttempt, got %s" % p.describe())
        t.check(p.xaddrs(t.A_XOR_PEER_ADDRESS) == [tuple(peer.getsockname()[:2])],
                "ConnectionAttempt names %s, peer is %s"
                % (p.xaddrs(t.A_XOR_PEER_ADDRESS), peer.getsockname()))
        d = bind_data(relay, p.get(A_CONNECTION_ID))
        pipe_both_ways(d.sock, peer, 64 << 10)
        c.delete()
        wait_closed(peer, "peer connection after the allocation was deleted")
        d.close()
        peer.close()
    finally:
        c.close()


@case("tcprelay")
def rfc6062_metrics(relay):
    snap = relay.metrics()
    t.check(t.mval(snap, "twist_tcp_relay_bytes_total", dir="to_peer") >= (1 << 20),
            "twist_tcp_relay_bytes_total{dir=to_peer} below what was piped")
    t.check(t.mval(snap, "twist_tcp_relay_events_total", event="connect_failed") >= 1,
            "no connect_failed counted")
