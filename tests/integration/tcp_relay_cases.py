"""
RFC 6062 TCP relay allocations against the real twist-relay: Allocate with
REQUESTED-TRANSPORT TCP (only over a stream control connection), Connect
(success with CONNECTION-ID, 446 for a second one to the same peer, 447
for a closed port), ConnectionBind (unknown id, then a byte pipe both
ways), the passive side (ConnectionAttempt for a peer with a permission),
deleting the allocation closing the peer's connection, and backpressure
both ways (a side that does not read holds the other back, memory stays
bounded, every byte arrives). Cases for turn_conformance.py, which imports
this module and registers it: its encoder, Relay and Client are used.

Each case runs on relays with 2 and 4 workers: the kernel spreads the
data connections over the workers' listeners, so most ConnectionBinds are
read by a worker that does not own the id and move to the one that does.

The pipe, passive and backpressure cases run again over TLS (tlsrelay,
tlsrelay4, tlsbp): TLS control and data connections (RFC 6062 §4.3), whose
data connections move between workers with their TLS session; a data
connection of another transport than its control connection gets 400.

They run over WebSocket too (wsrelay, wsrelay4, wsbp; wssrelay, wssrelay4,
wssbp): ws (wss) control and data connections, the data connection's
bytes carried as binary messages both ways (ws_sock.py), moving between
workers with their framing state (and TLS session). A bound ws data
connection that sends a text or an unmasked frame is closed and counted.
"""

import hashlib
import os
import select
import socket
import ssl
import struct
import time

import ws_sock
from tcp_hostile import relay_rss_kib as rss_kib

t = None        # the turn_conformance module, set by its register()
_CASES = []

CONNECT = 0x00A
CONNECTION_BIND = 0x00B
CONNECTION_ATTEMPT = 0x00C
A_CONNECTION_ID = 0x002A

# tcprelay, tcprelay4: every case but backpressure with 2 and 4 workers
# (data connections move to their allocation's worker). tcpbp: the
# backpressure cases, with a small ASan quarantine (see there).
BP_ENV = dict(ASAN_OPTIONS="quarantine_size_mb=1")
INSTANCES = [("tcprelay", dict(workers=2)), ("tcprelay4", dict(workers=4)),
             ("tcpbp", dict(workers=1, env=BP_ENV)),
             ("tlsrelay", dict(workers=2, streams=("tls",))),
             ("tlsrelay4", dict(workers=4, streams=("tls",))),
             ("tlsbp", dict(workers=2, env=BP_ENV, streams=("tls",)))]
for _k in ("ws", "wss"):
    INSTANCES += [("%srelay" % _k, dict(workers=2, streams=(_k,))),
                  ("%srelay4" % _k, dict(workers=4, streams=(_k,))),
                  ("%sbp" % _k, dict(workers=2, env=BP_ENV, streams=(_k,)))]
FOUR = {"tcprelay": "tcprelay4", "tlsrelay": "tlsrelay4", "wsrelay": "wsrelay4",
        "wssrelay": "wssrelay4"}


def case(instance):
    """tcprelay (tlsrelay) cases run on tcprelay4 (tlsrelay4) as well."""
    def deco(f):
        _CASES.append((instance, f))
        if instance in FOUR:
            _CASES.append((FOUR[instance], f))
        return f
    return deco


def kind_case(instance, tls_instance):
    """A case f(relay, kind) over plain TCP on instance, over TLS on
    tls_instance and over ws and wss on their instances (wsrelay for
    tcprelay, wsbp for tcpbp), registered under four names."""
    ws = instance.replace("tcp", "ws")
    wss = instance.replace("tcp", "wss")

    def deco(f):
        for inst, kind in ((instance, "tcp"), (tls_instance, "tls"), (ws, "ws"), (wss, "wss")):
            g = (lambda k: lambda relay: f(relay, k))(kind)
            g.__name__ = "%s_%s" % (f.__name__, kind)
            case(inst)(g)
        return f
    return deco


def tls_wrap(raw, alpn="stun.turn"):
    """The relay's generated certificate is self-signed: not verified here
    (tls.sh checks it against a CA); what is tested is the RFC 6062 path."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    return ctx.wrap_socket(raw)


def stream_client(relay, kind, rcvbuf=None):
    """A Client over a stream connection of this kind ("tcp", "tls", "ws" or "wss")."""
    c = t.Client(relay, "tcp")
    if kind == "tcp" and rcvbuf is None:
        return c
    c.sock.close()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        set_rcvbuf(raw, rcvbuf)  # before connecting: the window is small from the start
    raw.settimeout(t.RESP_TIMEOUT)
    port = relay.port if kind == "tcp" else relay.stream_port[kind]
    raw.connect(("127.0.0.1", port))
    if kind in ("tls", "wss"):
        raw = tls_wrap(raw, "stun.turn" if kind == "tls" else "http/1.1")
    if kind in ("ws", "wss"):
        ws_sock.upgrade(raw)
        raw = ws_sock.WsSock(raw)
    c.sock = raw
    return c


def set_rcvbuf(s, n):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, n)


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


def tcp_alloc(relay, kind="tcp"):
    c = stream_client(relay, kind)
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


def bind_data(relay, cid, expect=None, control=None, rcvbuf=None, kind="tcp", reason=None):
    """A data connection of this kind bound to cid. With control, it signs
    with the control connection's nonce, as turnutils_uclient does (RFC
    6062 §5.4), instead of learning one of its own. rcvbuf is set before
    connecting, so that the window is small from the start. reason: a
    word the error's reason phrase must hold."""
    d = stream_client(relay, kind, rcvbuf)
    if control is not None:
        d.realm, d.nonce, d.server_algs = control.realm, control.nonce, control.server_algs
    r = d.request(CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    if expect is not None:
        t.expect_error(r, expect, "ConnectionBind")
        if reason is not None:
            phrase = r.get(t.A_ERROR_CODE)[4:].decode(errors="replace")
            t.check(reason in phrase, "ConnectionBind refused with %r, not naming %r" % (phrase, reason))
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


@kind_case("tcprelay", "tlsrelay")
def rfc6062_connect_bind_pipe(relay, kind):
    ls = listener()
    c = tcp_alloc(relay, kind)
    try:
        cid = connect(c, ls.getsockname()[1])
        peer, frm = ls.accept()
        t.check(frm[1] == c.relayed[0][1],
                "peer connection from port %d, relayed port is %d" % (frm[1], c.relayed[0][1]))
        connect(c, ls.getsockname()[1], expect=446)
        d = bind_data(relay, cid, control=c, kind=kind)
        pipe_both_ways(d.sock, peer, 1 << 20)
        bind_data(relay, cid, expect=400, kind=kind)  # bound already
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


@kind_case("tcprelay", "tlsrelay")
def rfc6062_passive_attempt(relay, kind):
    c = tcp_alloc(relay, kind)
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
        d = bind_data(relay, p.get(A_CONNECTION_ID), kind=kind)
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


# ---- backpressure: one side floods, the other does not read ----------------
#
# The relay holds at most TCPR_HIGH (256 KiB) of output for one side, plus
# the one read (16 KiB, libevent's default) that crossed it, before it stops
# reading the other side; the rest waits in kernel socket buffers, which are
# not the relay's RSS, and the sender's send() gets EAGAIN. The instance
# runs with a 1 MiB ASan quarantine (plus ASan's 1 MiB per thread), so that
# freed buffers are reused as in a release build instead of staying
# resident. The RSS bound is then HELD + QUARANTINE + 2 MiB for the
# allocator's own growth, about 4.3 MiB; without the pause the relay reads
# all of FLOOD (64 MiB) into memory.

FLOOD = 64 << 20
HELD = (256 + 16) << 10
QUARANTINE = 2 << 20
SLACK = 2 << 20
RSS_BOUND_KIB = (HELD + QUARANTINE + SLACK) >> 10
STALL_POLLS = 3       # consecutive unwritable polls that mean "blocked"
STALL_POLL_S = 0.5
FLOOD_S = 60.0        # each phase's wait, whatever the machine's load
CHUNK = 256 << 10


def flood_until_blocked(relay, src, blob, rss0):
    """Sends blob on non-blocking src until its send buffer stays full
    through STALL_POLLS polls. Returns (bytes sent, peak RSS growth in KiB,
    whether it blocked)."""
    view = memoryview(blob)
    sent, stalls, peak = 0, 0, 0
    deadline = time.monotonic() + FLOOD_S
    src.setblocking(False)
    while sent < len(blob) and stalls < STALL_POLLS and time.monotonic() < deadline:
        try:
            sent += src.send(view[sent:sent + CHUNK])
            stalls = 0
            continue
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass  # TLS: the same bytes are offered again, as OpenSSL wants
        peak = max(peak, rss_kib(relay) - rss0)
        _, w, _ = select.select([], [src], [], STALL_POLL_S)
        stalls = 0 if w else stalls + 1
    peak = max(peak, rss_kib(relay) - rss0)
    return sent, peak, stalls >= STALL_POLLS


def drain(relay, src, dst, blob, sent, rss0):
    """The rest of blob from src while dst reads everything. Returns (bytes
    read, their sha256, peak RSS growth in KiB)."""
    view, h, got, peak = memoryview(blob), hashlib.sha256(), 0, 0
    set_rcvbuf(dst, 1 << 20)  # the rest at full speed, not 4 KiB at a time
    dst.setblocking(False)
    deadline = time.monotonic() + FLOOD_S
    for i in range(4 * len(blob) // 4096):
        if got >= len(blob) or time.monotonic() >= deadline:
            break
        if i % 64 == 0:
            peak = max(peak, rss_kib(relay) - rss0)
        r, w, _ = select.select([dst], [src] if sent < len(blob) else [], [], 1.0)
        if w:
            try:
                sent += src.send(view[sent:sent + CHUNK])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
        if r or (hasattr(dst, "pending") and dst.pending()):
            try:
                chunk = dst.recv(1 << 20)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue  # a TLS record or a WebSocket frame not complete yet
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
    return got, h.hexdigest(), peak


def backpressure(relay, src, dst, what):
    """src floods FLOOD bytes towards dst, which reads nothing at first,
    then everything."""
    blob = os.urandom(FLOOD)
    rss0 = rss_kib(relay)
    sent, grew, blocked = flood_until_blocked(relay, src, blob, rss0)
    print("     %s: %d KiB sent before the sender blocked, relay RSS +%d KiB (bound %d KiB)"
          % (what, sent >> 10, grew, RSS_BOUND_KIB), flush=True)
    t.check(grew < RSS_BOUND_KIB, "%s: relay RSS grew by %d KiB with the reader stalled (bound %d KiB)"
            % (what, grew, RSS_BOUND_KIB))
    t.check(blocked and sent < len(blob),
            "%s: the sender was never held back (%d of %d bytes sent)" % (what, sent, len(blob)))
    got, digest, grew = drain(relay, src, dst, blob, sent, rss0)
    print("     %s: reader got %d KiB, relay RSS +%d KiB at most meanwhile" % (what, got >> 10, grew),
          flush=True)
    t.check(got == len(blob) and digest == hashlib.sha256(blob).hexdigest(),
            "%s: reader got %d of %d bytes%s" % (what, got, len(blob),
                                                 " (changed or reordered)" if got == len(blob) else ""))
    t.check(grew < RSS_BOUND_KIB, "%s: relay RSS grew by %d KiB while the reader drained (bound %d KiB)"
            % (what, grew, RSS_BOUND_KIB))


def pipe_pair(relay, ls, rcvbuf=None, kind="tcp"):
    """A control connection, its data connection and the peer's socket."""
    c = tcp_alloc(relay, kind)
    cid = connect(c, ls.getsockname()[1])
    peer, _ = ls.accept()
    d = bind_data(relay, cid, control=c, rcvbuf=rcvbuf, kind=kind)
    return c, d, peer


@kind_case("tcpbp", "tlsbp")
def rfc6062_backpressure_to_client(relay, kind):
    ls = listener()
    c, d, peer = pipe_pair(relay, ls, rcvbuf=4096, kind=kind)
    try:
        backpressure(relay, peer, d.sock, "peer -> client")
    finally:
        peer.close()
        d.close()
        c.close()
        ls.close()


@kind_case("tcpbp", "tlsbp")
def rfc6062_backpressure_to_peer(relay, kind):
    ls = listener()
    set_rcvbuf(ls, 4096)  # accepted sockets inherit it, before the window opens
    c, d, peer = pipe_pair(relay, ls, kind=kind)
    try:
        backpressure(relay, d.sock, peer, "client -> peer")
    finally:
        peer.close()
        d.close()
        c.close()
        ls.close()


def stream_kind(relay):
    """The extra listener's kind of a tls, ws or wss instance."""
    return relay.streams[0]


def other_transport_400(relay):
    """RFC 6062 §4.3: the data connection uses the control connection's
    transport; either way round, another one is refused with 400."""
    ls = listener()
    k = stream_kind(relay)
    for control, data in ((k, "tcp"), ("tcp", k)):
        c = tcp_alloc(relay, control)
        try:
            cid = connect(c, ls.getsockname()[1])
            peer, _ = ls.accept()
            bind_data(relay, cid, expect=400, control=c, kind=data, reason="transport")
            # Still unbound: the right transport binds it.
            d = bind_data(relay, cid, control=c, kind=control)
            pipe_both_ways(d.sock, peer, 64 << 10)
            d.close()
            peer.close()
        finally:
            c.close()
    ls.close()


def binds_cross_workers(relay):
    """TLS (ws, wss) data connections read by a worker that does not own
    their id move there with their TLS session (framing state) and still
    pipe. With W workers a connection stays put with probability 1/W: 16
    that all stay put (2^-16 with 2 workers) mean the handover path was
    not taken."""
    def moved():
        return t.mval(relay.metrics(), "twist_tcp_relay_events_total", event="handed_over") or 0
    before = moved()
    ls = listener()
    k = stream_kind(relay)
    c = tcp_alloc(relay, k)
    try:
        for i in range(16):
            cid = connect(c, ls.getsockname()[1])
            peer, _ = ls.accept()
            d = bind_data(relay, cid, control=c, kind=k)
            pipe_both_ways(d.sock, peer, 4096)
            d.close()
            wait_closed(peer, "peer after data connection %d closed" % i)
            peer.close()
    finally:
        c.close()
        ls.close()
    t.check(moved() > before, "no %s data connection handed over in 16 binds (%d workers)"
            % (k, relay.workers))


for _inst in ("tlsrelay", "wsrelay", "wssrelay"):
    for _f in (other_transport_400, binds_cross_workers):
        _g = (lambda f: lambda relay: f(relay))(_f)
        _g.__name__ = "rfc6062_%s_%s" % (_inst[:-5], _f.__name__)
        case(_inst)(_g)


def ws_errors(relay, code):
    return t.mval(relay.metrics(), "twist_ws_errors_total", code=code) or 0


def bad_frame_closes(relay, raw_frame, close, label):
    """A bound ws data connection that sends raw_frame is closed with the
    close code `close`, counted under label; what it sent before still
    reaches the peer, and the peer's connection closes too."""
    k = stream_kind(relay)
    before = ws_errors(relay, label)
    ls = listener()
    c, d, peer = pipe_pair(relay, ls, kind=k)
    try:
        pipe_both_ways(d.sock, peer, 4096)
        d.sock.send_frame(ws_sock.frame(2, b"last words") + raw_frame)
        got = recv_exact(peer, 10)
        t.check(got == b"last words", "peer got %r before the bad frame" % got)
        wait_closed(d.sock, "ws data connection after a bad frame")
        t.check(d.sock.close_code == close, "closed with %r, not %d" % (d.sock.close_code, close))
        wait_closed(peer, "peer connection after its data connection failed")
        for _ in range(50):  # bounded: the counter is read, not awaited forever
            if ws_errors(relay, label) > before:
                break
            time.sleep(0.1)
        t.check(ws_errors(relay, label) > before, "twist_ws_errors_total{code=%s} not counted" % label)
    finally:
        peer.close()
        d.close()
        c.close()
        ls.close()


def ws_text_frame_closes(relay):
    bad_frame_closes(relay, ws_sock.frame(1, b"text"), 1003, "1003")


def ws_unmasked_frame_closes(relay):
    bad_frame_closes(relay, ws_sock.frame(2, b"unmasked", mask=False), 1002, "1002")


def ws_ping_and_close(relay):
    """Pings on a bound data connection get pongs; a close frame is echoed
    and closes the pipe, the peer's connection with it."""
    ls = listener()
    c, d, peer = pipe_pair(relay, ls, kind=stream_kind(relay))
    try:
        d.sock.send_frame(ws_sock.frame(9, b"hi"))
        peer.sendall(b"after the ping")
        got = recv_exact(d.sock, 14)
        t.check(got == b"after the ping", "client got %r" % got)
        t.check(10 in d.sock.ops, "no pong on the data connection (opcodes %r)" % d.sock.ops)
        d.sock.send_frame(ws_sock.frame(8, struct.pack("!H", 1000)))
        wait_closed(d.sock, "ws data connection after its close frame")
        t.check(d.sock.close_code == 1000, "close echoed with %r" % d.sock.close_code)
        wait_closed(peer, "peer connection after the client's close frame")
    finally:
        peer.close()
        d.close()
        c.close()
        ls.close()


for _inst in ("wsrelay", "wssrelay"):
    for _f in (ws_text_frame_closes, ws_unmasked_frame_closes, ws_ping_and_close):
        _g = (lambda f: lambda relay: f(relay))(_f)
        _g.__name__ = "rfc6062_%s_%s" % (_inst[:-5], _f.__name__)
        case(_inst)(_g)
