#!/usr/bin/env python3
"""
The fast path on a standby's imported flow, in fastpath.sh's lab.

    FP_CLI=.. FP_RLY=.. FP_PEER=.. FP_METRICS_PORT=.. FP_PERM_LIFETIME=.. \
        FP_TWISTCTL=.. FP_CONTROL_SOCK=.. fastpath.py

fastpath.sh has fed the relay one replicated flow through a twist-syncd
pair (tests/bench/standby_ready feed): client 203.0.113.2:40000 on the
listener 203.0.113.1:3478, relayed 198.51.100.1:50000, channel 0x4000 bound
to 198.51.100.2:40001, the permission with FP_PERM_LIFETIME seconds left.
No Allocate is ever sent: what forwards is what the standby built.

  1. the standby's maps hold the flow (twist_fastpath_entries), and data
     goes both ways through the program;
     The allocation's bytes_to_peer and bytes_to_client (twistctl
     sessions, fed by the program's per-channel counters) and the deltas
     of twist_bytes_total equal the data sent each way;
  2. hostile ChannelData (a length beyond the datagram, an unbound channel,
     a truncated header, an unknown client, trailing bytes) is never
     forwarded by the program: user space counts it, or relays what it
     itself accepts;
  3. once the permission expires nothing reaches the peer, neither by the
     program (its deadline is a guard earlier) nor by user space.

Sockets live in the namespaces through setns(2) (tw9r_relay.py's in_ns);
ChannelData is turn_conformance.py's. Waits are bounded; nothing here
judges speed.
"""

import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_conformance import Fail, channel_data, check  # noqa: E402
from tw9r_relay import in_ns  # noqa: E402

CLI, RLY, PEER = os.environ["FP_CLI"], os.environ["FP_RLY"], os.environ["FP_PEER"]
METRICS = int(os.environ["FP_METRICS_PORT"])
PERM_LIFETIME = int(os.environ["FP_PERM_LIFETIME"])
TWISTCTL, CONTROL = os.environ["FP_TWISTCTL"], os.environ["FP_CONTROL_SOCK"]
CLIENT = ("203.0.113.2", 40000)
LISTEN = ("203.0.113.1", 3478)
RELAYED = ("198.51.100.1", 50000)
PEER_ADDR = ("198.51.100.2", 40001)
CHAN = 0x4000
WAIT = 5.0    # a datagram that must come
QUIET = 1.0   # silence that must hold
SWEEP = 3.0   # the relay's once-a-second sweep, with room


def log(msg):
    print("[fastpath.py] " + msg, flush=True)


def udp(ns, addr):
    def mk():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(addr)
        return s
    return in_ns(ns, mk)


def metrics():
    def get():
        url = "http://127.0.0.1:%d/metrics" % METRICS
        return urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for line in in_ns(RLY, get).splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = int(float(v))
    return out


def fast(m, d):
    return m.get('twist_fastpath_packets_total{dir="%s"}' % d, 0)


def drops(m, reason):
    return m.get('twist_drops_total{reason="%s"}' % reason, 0)


def session_bytes():
    """(bytes_to_peer, bytes_to_client) of the one allocation."""
    out = subprocess.run([TWISTCTL, "--socket", CONTROL, "sessions"], capture_output=True,
                         text=True, timeout=30)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("user=")]
    check(out.returncode == 0 and len(lines) == 1,
          "twistctl sessions: rc %d, want one allocation: %r %r" %
          (out.returncode, out.stdout, out.stderr))
    f = dict(w.split("=", 1) for w in lines[0].split())
    return int(f["bytes_to_peer"]), int(f["bytes_to_client"])


def recv(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recvfrom(4096)
    except socket.timeout:
        return None, None


def wait_import():
    end = time.monotonic() + 30
    while time.monotonic() < end:
        m = metrics()
        if m.get("twist_fastpath_entries") == 1 and m.get("twist_sync_imported_total", 0) >= 1:
            return time.monotonic()
        time.sleep(0.1)
    raise Fail("the standby did not import the flow into its maps within 30 s: %s" %
               {k: v for k, v in m.items() if "fastpath" in k or "sync" in k})


def bytes_in(m, d):
    return m.get('twist_bytes_total{dir="%s"}' % d, 0)


def both_ways(cli, peer, n=20):
    m0 = metrics()
    s0 = session_bytes()
    sent_c2p = sent_p2c = 0
    for i in range(n):
        sent_c2p += len(b"fast-%d" % i)
        sent_p2c += len(b"back-%d" % i)
        data = b"fast-%d" % i
        cli.sendto(channel_data(CHAN, data), LISTEN)
        got, src = recv(peer, WAIT)
        check(got == data, "message %d: the peer got %r, want %r" % (i, got, data))
        check(src == RELAYED, "message %d came from %s, not the relayed address" % (i, src))
        peer.sendto(b"back-%d" % i, RELAYED)
        got, src = recv(cli, WAIT)
        check(got == channel_data(CHAN, b"back-%d" % i),
              "answer %d: the client got %r" % (i, got))
        check(src == LISTEN, "answer %d came from %s, not the listener" % (i, src))
    m1 = metrics()
    c2p, p2c = fast(m1, "client_to_peer") - fast(m0, "client_to_peer"), \
        fast(m1, "peer_to_client") - fast(m0, "peer_to_client")
    # The first of each may go up while the relay learns a neighbour.
    check(c2p >= n - 2 and p2c >= n - 2,
          "the program carried %d and %d of %d each way" % (c2p, p2c, n))
    log("%d messages each way, %d and %d by the program" % (n, c2p, p2c))
    s1 = session_bytes()
    got = (s1[0] - s0[0], s1[1] - s0[1])
    check(got == (sent_c2p, sent_p2c),
          "twistctl sessions: the allocation relayed %d and %d bytes, the client and the "
          "peer sent %d and %d" % (got + (sent_c2p, sent_p2c)))
    tot = (bytes_in(m1, "client_in") - bytes_in(m0, "client_in"),
           bytes_in(m1, "peer_in") - bytes_in(m0, "peer_in"))
    check(tot == (sent_c2p, sent_p2c),
          "twist_bytes_total grew by %d and %d, the client and the peer sent %d and %d" %
          (tot + (sent_c2p, sent_p2c)))
    log("per allocation and in total: %d bytes to the peer, %d to the client" % got)


def hostile(cli, peer):
    stranger = udp(CLI, (CLIENT[0], CLIENT[1] + 7))
    cases = [
        ("a length beyond the datagram", cli, struct.pack("!HH", CHAN, 100) + b"x" * 10,
         "malformed", None),
        ("an unbound channel", cli, channel_data(CHAN + 1, b"unbound"), "no_channel", None),
        ("a truncated header", cli, b"\x40\x00\x00", "malformed", None),
        ("an unknown client", stranger, channel_data(CHAN, b"stranger"), "no_allocation", None),
        # Over UDP user space takes the message and ignores what follows
        # (RFC 8656 §12.5 pads only streams); the program leaves it to it.
        ("trailing bytes", cli, channel_data(CHAN, b"trail") + b"\0" * 8, None, b"trail"),
    ]
    for what, sock, wire, reason, relayed in cases:
        m0 = metrics()
        sock.sendto(wire, LISTEN)
        got, _ = recv(peer, WAIT if relayed else QUIET)
        check(got == relayed, "%s: the peer got %r, want %r" % (what, got, relayed))
        m1 = metrics()
        check(fast(m1, "client_to_peer") == fast(m0, "client_to_peer"),
              "%s: the program forwarded it" % what)
        if reason:
            check(drops(m1, reason) == drops(m0, reason) + 1,
                  "%s: twist_drops_total{reason=\"%s\"} did not count it" % (what, reason))
        log("%s: %s" % (what, "dropped in user space (%s)" % reason if reason
                        else "relayed by user space only"))
    stranger.close()


def expiry(cli, peer, t_import):
    """Pings until the permission has certainly expired, then silence."""
    m0 = metrics()
    end = t_import + PERM_LIFETIME + SWEEP
    arrived, i = 0, 0
    while time.monotonic() < end:
        cli.sendto(channel_data(CHAN, b"ping-%d" % i), LISTEN)
        i += 1
        got, _ = recv(peer, 0.2)
        arrived += got is not None
        while got is not None:
            got, _ = recv(peer, 0.01)
    check(arrived > 0, "no ping arrived before the permission expired")
    for j in range(5):
        cli.sendto(channel_data(CHAN, b"late-%d" % j), LISTEN)
        peer.sendto(b"late-%d" % j, RELAYED)
    got, _ = recv(peer, QUIET)
    check(got is None, "after expiry the peer still got %r" % (got,))
    got, _ = recv(cli, QUIET)
    check(got is None, "after expiry the client still got %r" % (got,))
    m1 = metrics()
    late = fast(m1, "client_to_peer") - fast(m0, "client_to_peer")
    exp = m1.get('twist_fastpath_fallbacks_total{reason="expiring"}', 0)
    check(exp > 0, "no packet went up for an entry past its deadline")
    check(drops(m1, "no_permission") >= drops(m0, "no_permission") + 5,
          "user space did not refuse the late data for want of a permission")
    check(m1.get("twist_fastpath_entries") == 0, "the expired entry is still in the maps")
    log("%d pings, %d arrived (%d by the program), %d went up past the deadline; "
        "nothing after expiry" % (i, arrived, late, exp))


def main():
    cli = udp(CLI, CLIENT)
    peer = udp(PEER, PEER_ADDR)
    try:
        t = wait_import()
        log("the standby holds the flow in its maps")
        both_ways(cli, peer)
        hostile(cli, peer)
        expiry(cli, peer, t)
    except Fail as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        cli.close()
        peer.close()
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
