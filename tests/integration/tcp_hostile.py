"""
Hostile TCP clients against twist-relay: the connection caps, the
deadlines a trickling client cannot extend, memory held for clients that
never read, and running out of descriptors (docs/operations.md, "Hostile
clients: TCP"). Cases for turn_conformance.py, which imports this module
and calls its register() on this module: the codec, Client and Relay live there.

No check compares a duration with a threshold: closes are waited for with
generous timeouts, and resources (RSS, kernel queues, CPU seconds) are
bounded, not timed.
"""

import os
import select
import socket
import struct
import time

t = None        # the turn_conformance module, set by its register()
_CASES = []

CLOSE_WAIT = 20.0   # seconds to wait for a close that must come


def case(instance):
    def deco(f):
        _CASES.append((instance, f))
        return f
    return deco


def closed(sock, timeout=CLOSE_WAIT):
    """Whether the relay closes sock within timeout (answers are read and ignored)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            continue
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def refused(relay, source, reason):
    """Connect from source; require the relay to close at once, counted as reason."""
    before = relay.metrics()
    s = socket.create_connection(relay.addr, timeout=t.RESP_TIMEOUT, source_address=(source, 0))
    try:
        t.check(closed(s), "a connection from %s over the %s cap stayed open" % (source, reason))
    finally:
        s.close()
    key = ("twist_tcp_refused_total", (("reason", reason),))
    after = t.wait_metric(relay, lambda x: x.get(key, 0) > before.get(key, 0))
    t.check(after.get(key, 0) > before.get(key, 0),
            "a connection over the %s cap was not counted" % reason)


def alive(c, what):
    t.expect_success(c.request(t.BINDING, auth=False), what)


def closed_count(snap, reason):
    return t.mval(snap, "twist_tcp_closed_total", reason=reason)


def wait_no_conns(relay):
    snap = t.wait_metric(relay, lambda x: t.mval(x, "twist_tcp_connections") == 0, timeout=10)
    t.check(t.mval(snap, "twist_tcp_connections") == 0, "TCP connections left open")


# ---- caps (limits.tcp_connections, tcp_per_source, tcp_unauth_per_source) --

@case("tcpcaps")
def tcp_caps_per_source(relay):
    src = "127.0.0.2"
    held = []
    try:
        a = t.Client(relay, "tcp", source=src)
        b = t.Client(relay, "tcp", source=src, cred=None)
        held += [a, b]
        alive(a, "first unauthenticated connection")
        alive(b, "second unauthenticated connection")
        refused(relay, src, "unauth_per_source")
        a.allocate_ok()      # authenticated: no longer counts as unauthenticated
        d = t.Client(relay, "tcp", source=src)
        held.append(d)
        alive(d, "a connection once another authenticated")
        refused(relay, src, "unauth_per_source")
        d.allocate_ok()
        e = t.Client(relay, "tcp", source=src, cred=None)
        held.append(e)
        alive(e, "fourth connection from one source")
        refused(relay, src, "per_source")
        other = t.Client(relay, "tcp", source="127.0.0.3", cred=None)
        held.append(other)
        alive(other, "another source while the first is full")
    finally:
        for c in held:
            c.close()
    wait_no_conns(relay)


@case("tcpcaps")
def tcp_caps_total(relay):
    held = []
    try:
        for i in range(10):
            c = t.Client(relay, "tcp", source="127.0.0.%d" % (10 + i), cred=None)
            held.append(c)
            alive(c, "connection %d of 10" % (i + 1))
        refused(relay, "127.0.0.30", "total")
    finally:
        for c in held:
            c.close()
    wait_no_conns(relay)
    c = t.Client(relay, "tcp", source="127.0.0.30", cred=None)
    alive(c, "a connection once the others closed")
    c.close()


# ---- frames before authentication -------------------------------------------

@case("main")
def tcp_unauth_long_frame_closed(relay):
    before = relay.metrics()
    s = socket.create_connection(relay.addr, timeout=t.RESP_TIMEOUT)
    try:
        # a Binding announcing 3000 bytes of attributes: only the header is sent
        s.sendall(struct.pack("!HHI", t.stun_type(t.BINDING, t.REQUEST), 2980, t.MAGIC) + os.urandom(12))
        t.check(closed(s), "a 3000-byte frame announced before authentication left the "
                           "connection open")
    finally:
        s.close()
    after = t.wait_metric(relay, lambda x: closed_count(x, "unauth_frame_too_long")
                          > closed_count(before, "unauth_frame_too_long"))
    t.check(closed_count(after, "unauth_frame_too_long") > closed_count(before, "unauth_frame_too_long"),
            "the long unauthenticated frame was not counted")
    # after authentication the same connection kind carries large frames
    peer = t.Peer()
    c = t.Client(relay, "tcp")
    try:
        c.allocate_ok()
        c.permit("127.0.0.1")
        c.send_indication(*peer.addr, b"y" * 3000)
        got = peer.recv()
        t.check(got is not None and got[0] == b"y" * 3000,
                "a 3000-byte Send indication after authentication was not relayed")
    finally:
        c.close()
        peer.close()


# ---- deadlines (limits.tcp_*_deadline_ms, small in this instance) -----------

def _closed_by(relay, reason, sock, feed=None):
    """Wait until the relay closes sock (calling feed() meanwhile) and
    require it counted as reason."""
    before = relay.metrics()
    deadline = time.monotonic() + CLOSE_WAIT
    gone = False
    while not gone and time.monotonic() < deadline:
        if feed is not None:
            try:
                feed()
            except (BrokenPipeError, ConnectionResetError):
                gone = True
                break
        gone = closed(sock, 0.2)
    t.check(gone, "the relay kept the connection open (expected %s)" % reason)
    after = t.wait_metric(relay, lambda x: closed_count(x, reason) > closed_count(before, reason))
    t.check(closed_count(after, reason) > closed_count(before, reason),
            "the close was not counted as %s" % reason)


@case("tcpslow")
def tcp_silent_closed(relay):
    s = socket.create_connection(relay.addr, timeout=t.RESP_TIMEOUT)
    try:
        _closed_by(relay, "request_deadline", s)
    finally:
        s.close()


@case("tcpslow")
def tcp_unauthenticated_closed(relay):
    """Valid Binding requests keep coming, answered, but never authentication."""
    s = socket.create_connection(relay.addr, timeout=t.RESP_TIMEOUT)
    try:
        _closed_by(relay, "auth_deadline", s,
                   lambda: s.sendall(t.Msg(t.BINDING).encode()))
    finally:
        s.close()


@case("tcpslow")
def tcp_trickle_closed(relay):
    """One byte at a time of a frame, on an authenticated connection (no
    handshake deadline left to catch it): the frame deadline does."""
    c = t.Client(relay, "tcp")
    try:
        c.allocate_ok()
        frame = iter(t.Msg(t.BINDING).encode())
        _closed_by(relay, "frame_deadline", c.sock,
                   lambda: c.sock.sendall(bytes([next(frame)])))
    except StopIteration:
        raise t.Fail("the whole frame trickled in and the connection is still open")
    finally:
        c.close()


# ---- memory: clients that send and never read -------------------------------

def relay_rss_kib(relay):
    with open("/proc/%d/status" % relay.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise t.Fail("no VmRSS for the relay")


def relay_kernel_queues(port):
    """Bytes in the send and receive queues of the relay's side of its TCP
    connections (/proc/net/tcp: local port = the listener's)."""
    tx_total = rx_total = 0
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == port and cols[3] == "01":
                tx, rx = cols[4].split(":")
                tx_total += int(tx, 16)
                rx_total += int(rx, 16)
    return tx_total, rx_total


def flood_without_reading(relay, n, rounds=40):
    """n connections each sending Binding requests until its socket is full;
    none reads. Returns the sockets."""
    req = t.Msg(t.BINDING, txid=b"\x33" * 12).encode(fingerprint=False) * 400
    socks = []
    for _ in range(n):
        s = socket.create_connection(relay.addr, timeout=t.RESP_TIMEOUT)
        s.setblocking(False)
        socks.append(s)
    for _ in range(rounds):
        busy = 0
        for s in socks:
            try:
                s.send(req)
                busy += 1
            except BlockingIOError:
                pass
            except OSError:
                pass
        if not busy:
            break
        time.sleep(0.05)
    return socks


@case("tcpmem")
def tcp_never_reading_clients_bounded(relay):
    n = 50
    rss0 = relay_rss_kib(relay)
    before = relay.metrics()
    socks = flood_without_reading(relay, n)
    try:
        # settle: the relay answers what it read until it pauses each one
        snap = t.wait_metric(relay, lambda x: t.mval(x, "twist_tcp_read_paused_total")
                             - t.mval(before, "twist_tcp_read_paused_total") >= n, timeout=10)
        paused = t.mval(snap, "twist_tcp_read_paused_total") - t.mval(before, "twist_tcp_read_paused_total")
        rss = relay_rss_kib(relay) - rss0
        tx, rx = relay_kernel_queues(relay.port)
        kq = (tx + rx) // 1024
        print("     %d clients that never read: relay RSS +%d KiB, relay-side kernel queues %d KiB "
              "(send %d, receive %d), %d KiB a connection; reads paused %d times"
              % (n, rss, kq, tx // 1024, rx // 1024, (rss + kq) // n, paused), flush=True)
        t.check(paused >= n, "reading was paused %d times for %d clients that never read" % (paused, n))
        # ~3 MiB a connection before reads paused; the bound is generous
        t.check(rss + kq < n * 512, "%d clients that never read hold %d KiB (RSS +%d, kernel %d)"
                % (n, rss + kq, rss, kq))
        c = t.Client(relay, "tcp", cred=None)
        alive(c, "Binding while clients flood without reading")
        c.close()
    finally:
        for s in socks:
            s.close()
    wait_no_conns(relay)


# ---- out of descriptors ----------------------------------------------------

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@case("nofile")
def tcp_out_of_descriptors(relay):
    pid = relay.proc.pid
    nfd = len(os.listdir("/proc/%d/fd" % pid))
    over = relay.nofile - nfd + 40
    socks = []
    try:
        for _ in range(over):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(relay.addr)
            except BlockingIOError:
                pass
            socks.append(s)
        # the metrics listener out of descriptors too: it once spun and
        # logged libevent's "Error from accept() call" for each retry
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((relay.metrics_ip, relay.metrics_port))
            except BlockingIOError:
                pass
            socks.append(s)
        time.sleep(0.5)
        cpu0 = cpu_seconds(pid)
        time.sleep(3.0)
        cpu = cpu_seconds(pid) - cpu0
        print("     %d connections at a limit of %d descriptors: relay CPU %.2f s over 3 s"
              % (over, relay.nofile, cpu), flush=True)
        t.check(cpu < 0.5, "relay used %.2f CPU-seconds in 3 s out of descriptors" % cpu)
    finally:
        for s in socks:
            s.close()
    wait_no_conns(relay)
    snap = relay.metrics()
    t.check(t.mval(snap, "twist_tcp_accept_paused_total") > 0, "accepting was never paused")
    t.check(t.mval(snap, "twist_tcp_refused_total", reason="nofile") > 0,
            "no connection was refused on the spare descriptor")
    lines = [x for x in relay.stderr_text().splitlines() if "accept" in x]
    t.check(len(lines) < 20, "%d log lines about accept, the first: %s" % (len(lines), lines[:3]))
    t.check(not any("Error from accept" in x for x in lines),
            "a listener without the pause: %s" % [x for x in lines if "Error from accept" in x][:1])
    c = t.Client(relay, "tcp", cred=None)
    alive(c, "Binding over TCP once descriptors are free again")
    c.close()


INSTANCES = [
    ("tcpcaps", dict(tcp_limits=dict(tcp_connections=10, tcp_per_source=4,
                                     tcp_unauth_per_source=2))),
    ("tcpslow", dict(tcp_limits=dict(tcp_frame_deadline_ms=500, tcp_request_deadline_ms=1000,
                                     tcp_auth_deadline_ms=2000))),
    # ASan's quarantine keeps freed memory resident: off, so RSS shows what is held
    ("tcpmem", dict(tcp_limits=dict(tcp_per_source=1000, tcp_unauth_per_source=1000),
                    env=dict(ASAN_OPTIONS="quarantine_size_mb=0"))),
    ("nofile", dict(nofile=64, tcp_limits=dict(tcp_per_source=1000, tcp_unauth_per_source=1000))),
]
