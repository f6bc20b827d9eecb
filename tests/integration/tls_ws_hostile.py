#!/usr/bin/env python3
"""Hostile clients on the TLS and WebSocket listeners (issue 11).

    tls_ws_hostile.py RELAY_BINARY

One relay (turn_conformance.Relay) with udp and tcp, a tls listener (the
throwaway self-signed certificate) and a ws listener, its limits.tcp_* caps
set so a flood hits them:

 1. 2,000 TLS connections from 20 sources that never finish a handshake:
    half silent, half sending the start of a ClientHello.
 2. While those are held, 2,000 WebSocket connections from 20 other
    sources: a quarter send half their HTTP request, then a byte every 2 s
    (slowloris; a TLS ClientHello is trickled the same way),
    a quarter are upgraded and silent, a quarter are upgraded and send one
    unauthenticated Binding, a quarter send garbage after the upgrade.
 3. Every one of the 4,000 must be refused at accept (per-source
    unauthenticated cap, total cap) or closed by the relay: garbage at once
    with close code 1002, the rest at the request or authentication
    deadline. Each is counted, and the counts add up to 4,000.
 4. Meanwhile a UDP client allocated before the flood relays to a peer and
    back at every step, and a new ws client works once the flood is gone.
 5. The relay's RSS (/proc/PID/status) before, at its peak and after every
    close: what remains is a small part of what the flood took.

No check compares a duration: every wait is bounded by a count and a
generous timeout, and only states and counters are checked.
"""
import base64
import os
import resource
import selectors
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402
from tcp_hostile import relay_rss_kib as rss_kib  # noqa: E402 (set up by tc)

N = 2000            # connections a flood (each of TLS and ws)
SOURCES = 20        # source addresses a flood, N / SOURCES each
UNAUTH_CAP = 90     # limits.tcp_unauth_per_source: 10 a source refused
PER_SOURCE = 95     # limits.tcp_per_source: above it, so unauthenticated ones meet the other first
TOTAL_CAP = 3000    # limits.tcp_connections: under the 3,600 the floods leave open
REQUEST_MS = 25000  # limits.tcp_request_deadline_ms
AUTH_MS = 35000     # limits.tcp_auth_deadline_ms
CONNECT_WAIT = 60.0  # bound on establishing one flood
CLOSE_WAIT = 120.0   # bound on the relay closing everything
ROUNDS = 2           # floods one after the other: the second must not grow more
RSS_BACK = 1 / 3     # after - before must be under this share of peak - before
RSS_CAP_KIB = 512 * 1024  # and the peak growth under this (sanity)


class HostileRelay(tc.Relay):
    def config_text(self):
        text = super().config_text()
        text = text.replace(
            "transports: [udp, tcp] }\n",
            "transports: [udp, tcp] }\n"
            "  - { address: 127.0.0.1, port: %d, transports: [tls] }\n"
            "  - { address: 127.0.0.1, port: %d, transports: [ws] }\n"
            % (self.tls_port, self.ws_port), 1)
        return text + "websocket: { path: /turn }\n"

    def start(self):
        self.tls_port = tc.free_port(False)
        self.ws_port = tc.free_port(False)
        super().start()


class Legit:
    """A UDP client allocated before the flood, relaying to a peer."""

    def __init__(self, relay):
        self.peer = tc.Peer()
        self.c = tc.Client(relay, "udp")
        self.c.allocate_ok()
        self.relayed = self.c.relayed[0]
        self.c.permit(self.peer.addr[0], self.peer.addr[1])
        self.rounds = 0

    def round_trip(self, when):
        payload = b"legit-%d" % self.rounds
        self.c.send_indication(self.peer.addr[0], self.peer.addr[1], payload)
        got = self.peer.recv()
        tc.check(got is not None and got[0] == payload,
                 "%s: the peer did not get the legitimate client's data (%r)" % (when, got))
        self.peer.send(payload[::-1], self.relayed)
        app = self.c.recv_app()
        tc.check(app is not None and app[0] == "data" and app[2] == payload[::-1],
                 "%s: the legitimate client did not get the peer's data (%r)" % (when, app))
        self.rounds += 1

    def close(self):
        self.c.close()
        self.peer.close()


class Conn:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind
        self.state = "connecting"
        self.rx = b""
        self.closed = False
        self.rest = b""  # trickled a byte at a time, never all of it


def ws_request():
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET /turn HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: turn\r\n\r\n" % key).encode()


def ws_frame(payload):
    key = os.urandom(4)
    return (struct.pack("!BBH", 0x82, 0x80 | 126, len(payload)) if len(payload) >= 126
            else struct.pack("!BB", 0x82, 0x80 | len(payload))) + key + \
        bytes(c ^ key[i % 4] for i, c in enumerate(payload))


# A TLS record announcing a 512-byte handshake message: a ClientHello's
# start (type 1, version 3.3, random), never the rest.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" + b"\x5a" * 32
# Garbage after the upgrade: RSV bits and a reserved opcode (1002 whatever follows).
GARBAGE = b"\xff\xff" + bytes(range(64))


def first_bytes(kind):
    """What a connection of kind sends once connected (before any upgrade),
    and what it trickles later (slowloris; the last bytes never)."""
    if kind == "tls_hello":
        return PARTIAL_HELLO, b"\x5a" * 200
    if kind == "ws_half":
        req = ws_request()
        return req[:len(req) // 2], req[len(req) // 2:-4]
    if kind.startswith("ws_"):
        return ws_request(), b""
    return b"", b""


def trickle(conns):
    """One more byte on every slowloris connection still open."""
    for c in conns:
        if c.rest and not c.closed and c.state == "open":
            try:
                c.sock.send(c.rest[:1])
                c.rest = c.rest[1:]
            except OSError:
                pass


def open_flood(port, base, kinds, sel, legit):
    """N connections to port from SOURCES addresses base.1..; kinds cycles.
    Returns the Conns once each is connected, refused or closed."""
    conns = []
    for i in range(N):
        src = "%s.%d" % (base, 1 + i // (N // SOURCES))
        s = socket.socket()
        s.setblocking(False)
        s.bind((src, 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        c = Conn(s, kinds[i % len(kinds)])
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)
    pending = len(conns)
    deadline = time.monotonic() + CONNECT_WAIT
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            c = key.data
            if c.state != "connecting":
                continue
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            pending -= 1
            if err:
                c.state, c.closed = "error", True
                sel.unregister(c.sock)
                continue
            c.state = "open"
            sel.modify(c.sock, selectors.EVENT_READ, c)
            data, c.rest = first_bytes(c.kind)
            try:
                if data:
                    c.sock.send(data)
            except OSError:
                c.closed = True
                sel.unregister(c.sock)
    tc.check(pending == 0, "%d connections to port %d not connected after %.0f s"
             % (pending, port, CONNECT_WAIT))
    legit.round_trip("while %d connections to port %d are opened" % (N, port))
    return conns


def read_some(sel, timeout):
    """Reads what arrived; marks closed connections. Upgraded ws
    connections send their Binding or garbage on the 101."""
    for key, _ in sel.select(timeout):
        c = key.data
        try:
            data = c.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            continue
        if not data:
            c.closed = True
            sel.unregister(c.sock)
            continue
        c.rx += data
        if c.state == "open" and c.kind in ("ws_binding", "ws_garbage") and b"\r\n\r\n" in c.rx:
            head, _, rest = c.rx.partition(b"\r\n\r\n")
            tc.check(head.startswith(b"HTTP/1.1 101 "), "no 101 for a ws client: %r" % head[:80])
            c.rx, c.state = rest, "upgraded"
            msg = ws_frame(tc.Msg(tc.BINDING).encode()) if c.kind == "ws_binding" else GARBAGE
            try:
                c.sock.send(msg)
            except OSError:
                pass


def close_code(rx):
    """The code of the close frame in rx (after any binary frames)."""
    while len(rx) >= 2:
        op, n, off = rx[0] & 0x0F, rx[1] & 0x7F, 2
        if n == 126:
            n, off = struct.unpack("!H", rx[2:4])[0], 4
        if op == 8:
            return struct.unpack("!H", rx[off:off + 2])[0] if n >= 2 else 1005
        rx = rx[off + n:]
    return None


def m(snap, name, **labels):
    return tc.mval(snap, name, **labels)


def refused_sum(snap):
    return sum(m(snap, "twist_tcp_refused_total", reason=r)
               for r in ("total", "per_source", "unauth_per_source", "nofile"))


def accepted_sum(snap):
    return sum(m(snap, "twist_stream_accepted_total", transport=t) for t in ("tcp", "tls"))


CLOSE_REASONS = ("peer", "idle", "bad_frame", "unauth_frame_too_long", "frame_deadline",
                 "request_deadline", "auth_deadline", "ws_refused", "ws_error", "ws_closed")


def delta(a, b, name, **labels):
    return int(m(b, name, **labels) - m(a, name, **labels))


def settle_accepts(relay, before, n):
    """Wait until the relay has accepted or refused all n new connections."""
    snap = tc.wait_metric(relay, lambda x: accepted_sum(x) - accepted_sum(before)
                          + refused_sum(x) - refused_sum(before) >= n, timeout=CONNECT_WAIT)
    got = accepted_sum(snap) - accepted_sum(before) + refused_sum(snap) - refused_sum(before)
    tc.check(got == n, "%d connections, but the relay accepted or refused %d" % (n, got))
    return snap


def run(relay):
    legit = Legit(relay)
    try:
        warm_up(relay)
        legit.round_trip("before the flood")
        time.sleep(1.0)
        rss0 = rss_kib(relay)
        peaks = []
        for r in range(ROUNDS):
            peak, after = flood(relay, legit, rss0)
            grew, left = peak - rss0, after - rss0
            print("     round %d: relay RSS %d KiB before, %d at the peak (+%d), %d after (+%d)"
                  % (r + 1, rss0, peak, grew, after, left), flush=True)
            tc.check(grew < RSS_CAP_KIB, "the flood grew the relay by %d KiB" % grew)
            tc.check(left < RSS_BACK * grew, "after the flood the relay keeps %d of the %d KiB "
                     "it took" % (left, grew))
            peaks.append(grew)
        # the same flood again reuses what the first freed: no creeping growth
        tc.check(peaks[-1] < peaks[0] * (1 + RSS_BACK),
                 "the second flood grew the relay by %d KiB, the first by %d" % (peaks[-1], peaks[0]))
        ws_client_works(relay, "after the floods")
        legit.round_trip("after the floods")
    finally:
        legit.close()


def warm_up(relay):
    """One real TLS handshake and one ws upgrade, so libraries' one-time
    allocations are in the baseline, not in the flood."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", relay.tls_port), timeout=tc.RESP_TIMEOUT) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(tc.Msg(tc.BINDING).encode())
            tc.check(s.recv(4096), "no Binding answer over TLS")
    ws_client_works(relay, "before the flood")


def ws_client_works(relay, when):
    s = socket.create_connection(("127.0.0.1", relay.ws_port), timeout=tc.RESP_TIMEOUT)
    try:
        s.sendall(ws_request())
        got = b""
        while b"\r\n\r\n" not in got and len(got) < 4096:
            c = s.recv(4096)
            tc.check(c, "%s: the relay closed a legitimate ws client (%r)" % (when, got[:80]))
            got += c
        tc.check(got.startswith(b"HTTP/1.1 101 "), "%s: no 101: %r" % (when, got[:80]))
        s.sendall(ws_frame(tc.Msg(tc.BINDING).encode()))
        got = got.partition(b"\r\n\r\n")[2]
        while len(got) < 2 + 20:
            c = s.recv(4096)
            tc.check(c, "%s: no Binding answer over ws" % when)
            got += c
        tc.check(got[0] == 0x82, "%s: answer over ws is not a binary frame" % when)
    finally:
        s.close()


def flood(relay, legit, rss0):
    """One TLS flood and one ws flood on top; returns RSS at the peak and after."""
    peak = rss0
    s0 = relay.metrics()
    sel = selectors.DefaultSelector()

    tls = open_flood(relay.tls_port, "127.0.1", ("tls_silent", "tls_hello"), sel, legit)
    s1 = settle_accepts(relay, s0, N)
    tls_acc = int(accepted_sum(s1) - accepted_sum(s0))
    tls_ref = N - tls_acc
    tc.check(delta(s0, s1, "twist_tcp_refused_total", reason="unauth_per_source") > 0,
             "the TLS flood did not hit limits.tcp_unauth_per_source")
    read_some(sel, 0.5)
    peak = max(peak, rss_kib(relay))

    ws = open_flood(relay.ws_port, "127.0.2", ("ws_half", "ws_silent", "ws_binding", "ws_garbage"),
                    sel, legit)
    s2 = settle_accepts(relay, s1, N)
    tc.check(delta(s1, s2, "twist_tcp_refused_total", reason="total") > 0,
             "the ws flood on top of the TLS one did not hit limits.tcp_connections")
    ws_acc = int(accepted_sum(s2) - accepted_sum(s1))
    every = tls + ws
    # until every connection is closed: read, sample RSS, relay the legit client
    deadline = time.monotonic() + CLOSE_WAIT
    last_rt = time.monotonic()
    while time.monotonic() < deadline and not all(c.closed for c in every):
        read_some(sel, 0.2)
        peak = max(peak, rss_kib(relay))
        if time.monotonic() - last_rt >= 2.0:  # a pace, not a check
            legit.round_trip("while the flood is held")
            trickle(every)
            last_rt = time.monotonic()
    still = [c for c in every if not c.closed]
    tc.check(not still, "%d connections still open after %.0f s (kinds %s)"
             % (len(still), CLOSE_WAIT, sorted({c.kind for c in still})))
    legit.round_trip("once the flood is closed")

    garbage = [c for c in ws if c.kind == "ws_garbage" and c.state == "upgraded"]
    tc.check(garbage, "no garbage connection was upgraded")
    bad = [close_code(c.rx) for c in garbage if close_code(c.rx) != 1002]
    tc.check(not bad, "%d of %d garbage connections closed without 1002 (%r)"
             % (len(bad), len(garbage), bad[:5]))
    upgraded_binding = [c for c in ws if c.kind == "ws_binding" and c.state == "upgraded"]
    tc.check(upgraded_binding, "no unauthenticated ws connection was upgraded")

    s3 = tc.wait_metric(relay, lambda x: m(x, "twist_tcp_connections") == 0, timeout=10)
    tc.check(m(s3, "twist_tcp_connections") == 0, "stream connections left open")
    for c in every:
        c.sock.close()
    sel.close()
    refused = refused_sum(s3) - refused_sum(s0)
    closes = {r: delta(s0, s3, "twist_tcp_closed_total", reason=r) for r in CLOSE_REASONS}
    incomplete = delta(s0, s3, "twist_tls_handshakes_total", result="incomplete")
    e1002 = delta(s0, s3, "twist_ws_errors_total", code="1002")
    print("     TLS: %d accepted, %d refused; ws: %d accepted, %d refused "
          "(unauth_per_source %d, total %d)"
          % (tls_acc, tls_ref, ws_acc, N - ws_acc,
             delta(s0, s3, "twist_tcp_refused_total", reason="unauth_per_source"),
             delta(s0, s3, "twist_tcp_refused_total", reason="total")), flush=True)
    print("     closes %s; TLS incomplete %d; ws 1002 %d; legit round trips %d"
          % ({k: v for k, v in closes.items() if v}, incomplete, e1002, legit.rounds), flush=True)
    tc.check(refused + sum(closes.values()) == 2 * N,
             "refusals %d + closes %d != %d connections" % (refused, sum(closes.values()), 2 * N))
    tc.check(closes["peer"] == 0, "%d connections counted as closed by the client" % closes["peer"])
    tc.check(incomplete == tls_acc, "%d TLS connections accepted, %d incomplete handshakes counted"
             % (tls_acc, incomplete))
    tc.check(e1002 >= len(garbage) and closes["ws_error"] >= len(garbage),
             "%d garbage connections, %d 1002 errors, %d ws_error closes"
             % (len(garbage), e1002, closes["ws_error"]))
    tc.check(closes["auth_deadline"] >= len(upgraded_binding),
             "%d upgraded connections sent a Binding, %d auth_deadline closes"
             % (len(upgraded_binding), closes["auth_deadline"]))
    tc.check(closes["request_deadline"] > 0, "nothing closed at the request deadline")

    return peak, settle_rss(relay, rss0, peak)


def settle_rss(relay, rss0, peak):
    """RSS once freed memory went back to the system: polled, bounded."""
    want = rss0 + RSS_BACK * (peak - rss0)
    rss = rss_kib(relay)
    deadline = time.monotonic() + 30
    while rss >= want and time.monotonic() < deadline:
        time.sleep(0.5)
        rss = rss_kib(relay)
    return rss


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * N + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print("FAIL: RLIMIT_NOFILE hard limit %d is under the %d descriptors this test holds"
                  % (hard, need))
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    tmp = tempfile.mkdtemp(prefix="tls_ws_hostile.")
    relay = HostileRelay(
        os.path.abspath(sys.argv[1]), tmp, "hostile", nofile=2 * N + 2000,
        tcp_limits=dict(tcp_connections=TOTAL_CAP, tcp_per_source=PER_SOURCE,
                        tcp_unauth_per_source=UNAUTH_CAP, tcp_request_deadline_ms=REQUEST_MS,
                        tcp_auth_deadline_ms=AUTH_MS),
        # ASan's quarantine keeps freed memory, and its allocator gives free
        # pages back to the system only every 5 s, and seldom: both off, so
        # RSS shows what is held
        env=dict(ASAN_OPTIONS="quarantine_size_mb=0:allocator_release_to_os_interval_ms=0"))
    relay.start()
    err = None
    try:
        run(relay)
    except tc.Fail as e:
        err = str(e)
    except OSError as e:
        err = "%s: %s" % (type(e).__name__, e)
    finally:
        problems = relay.stop()
    for p in problems:
        print("FAIL relay: %s" % p)
    if err:
        print("FAIL: %s" % err)
    if err or problems:
        print(relay.stderr_tail())
        print("relay logs in %s" % tmp)
        return 1
    print("ok: TLS and WebSocket floods refused or closed, counted; RSS back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
