#!/usr/bin/env python3
"""turnmon: TURN clients that measure a failover.

An independent, minimal TURN client (RFC 8656 over UDP, RFC 8489 long-term
credentials with MD5 keys), standard library only, so the relay is checked
by code that shares nothing with it.

Each client: Allocate (401, then again with REALM/NONCE/MESSAGE-INTEGRITY),
CreatePermission and ChannelBind towards a UDP echo, then ChannelData at a
fixed rate. Every echoed packet's arrival time is recorded, as the kernel
stamped it (SO_TIMESTAMPNS): a monitor that the machine's load keeps off
the CPU for a moment does not see a gap that the packets did not have. The
report gives,
per client and overall, the gap (the longest time with no packet delivered,
including a gap still open at the end), the loss, and the error responses
seen. After the traffic each client performs Refresh, CreatePermission and
ChannelBind and must succeed; it asks the peer's "whoami" port which address
the packets come from, which must be the relayed address of the original
Allocate (no re-allocation). A 437 or 438 response at any time after set-up
is a failure (a 438 is retried with the new nonce, and still counted).

Phases: set-up (bounded by --setup-timeout), "READY" printed on stdout (and
--ready-file created) for the harness to start its event, traffic for
--duration seconds (optionally refreshing state every --churn seconds) and,
with --until-file, on until the harness creates that file (after its event);
then traffic must resume: every client must get back a packet sent after
that point (bounded by --resume-timeout). Then the checks, JSON report
(--json) and a summary. The gap is measured and reported, never judged: the
machine may be loaded, and the distribution is what failover_runs.sh is
for. Every timeout only bounds a wait. Exit status 0 when every check
passed, 1 otherwise, 2 on usage.
"""
import argparse
import hashlib
import hmac
import json
import os
import selectors
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TS_SPACE = socket.CMSG_SPACE(16)


def kernel_stamp(anc):
    """The packet's arrival on the monotonic clock, from the kernel's
    wall-clock stamp; None without one."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("@qq", data[:16])
            return sec + nsec / 1e9 - (time.time() - time.monotonic())
    return None

COOKIE = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 3, 4, 6, 7, 8, 9
REQUEST, INDICATION, SUCCESS, ERROR = 0x000, 0x010, 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_CHANNEL, A_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000C, 0x000D
A_PEER, A_DATA, A_REALM, A_NONCE, A_RELAYED = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
A_TRANSPORT, A_MAPPED, A_FINGERPRINT = 0x0019, 0x0020, 0x8028
METHOD_NAMES = {ALLOCATE: "Allocate", REFRESH: "Refresh", CREATE_PERMISSION: "CreatePermission",
                CHANNEL_BIND: "ChannelBind"}
PAYLOAD_HDR = struct.Struct("!IId")  # client id, sequence, send time


def msg_type(method, cls):
    m = method & 0xFFF
    return (m & 0xF) | ((m & 0x70) << 1) | ((m & 0xF80) << 2) | cls


def split_type(t):
    cls = t & 0x110
    method = (t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80)
    return method, cls


def xor_addr(ip, port):
    a = struct.unpack("!I", socket.inet_aton(ip))[0] ^ COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), a)


def parse_xor_addr(v):
    """Cursor-style: every length checked before use; None when malformed."""
    if len(v) < 8 or v[1] != 1:
        return None
    port = struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    a = struct.unpack("!I", v[4:8])[0] ^ COOKIE
    return (socket.inet_ntoa(struct.pack("!I", a)), port)


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


class Msg:
    def __init__(self, method, cls, tid, attrs, raw, mi_off):
        self.method, self.cls, self.tid, self.attrs, self.raw = method, cls, tid, attrs, raw
        self.mi_off = mi_off

    def get(self, t):
        for at, v in self.attrs:
            if at == t:
                return v
        return None

    def error_code(self):
        v = self.get(A_ERROR)
        if v is None or len(v) < 4:
            return None
        return (v[2] & 7) * 100 + v[3]


def parse_stun(b):
    if len(b) < 20:
        return None
    t, ln, cookie = struct.unpack("!HHI", b[:8])
    if cookie != COOKIE or t & 0xC000 or ln % 4 or 20 + ln > len(b):
        return None
    method, cls = split_type(t)
    attrs, off, mi_off = [], 20, None
    end = 20 + ln
    while off + 4 <= end:
        at, al = struct.unpack("!HH", b[off:off + 4])
        if off + 4 + al > end:
            return None
        if at == A_MI:
            mi_off = off
        attrs.append((at, b[off + 4:off + 4 + al]))
        off += 4 + al + (4 - al % 4) % 4
    return Msg(method, cls, b[8:20], attrs, b[:end], mi_off)


def build(method, cls, tid, attrs, key=None):
    body = b"".join(attrs)
    if key is None:
        return struct.pack("!HHI", msg_type(method, cls), len(body), COOKIE) + tid + body
    hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 24, COOKIE) + tid
    mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
    return hdr + body + attr(A_MI, mac)


def integrity_ok(m, key):
    if m.mi_off is None:
        return False
    raw = bytearray(m.raw[:m.mi_off])
    struct.pack_into("!H", raw, 2, m.mi_off - 20 + 24)
    mac = hmac.new(key, bytes(raw), hashlib.sha1).digest()
    return hmac.compare_digest(mac, m.get(A_MI) or b"")


class Txn:
    def __init__(self, client, method, attrs, cb, now, tag):
        self.client, self.method, self.attrs, self.cb, self.tag = client, method, attrs, cb, tag
        self.tid = os.urandom(12)
        self.first = now
        self.rto = 0.1
        self.next = now
        self.stale_retries = 0


class Client:
    def __init__(self, idx, mon):
        self.idx, self.mon = idx, mon
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind((mon.args.bind, 0))
        self.sock.connect(mon.server)
        self.sock.setblocking(False)
        self.local = self.sock.getsockname()
        self.channel = 0x4000 + idx
        self.realm = self.nonce = self.key = None
        self.relayed = None
        self.whoami = {}
        self.state = "new"
        self.seq = 0
        self.sent_at = []
        self.arrivals = []
        self.seen = set()
        self.next_send = 0.0
        self.failures = []
        self.check = {}

    def fail(self, what):
        self.failures.append(what)

    def auth_attrs(self):
        return [attr(A_USERNAME, self.mon.args.user.encode()), attr(A_REALM, self.realm),
                attr(A_NONCE, self.nonce)]

    def send_data(self, now):
        p = PAYLOAD_HDR.pack(self.idx, self.seq, now)
        p += b"\xa5" * max(0, self.mon.args.size - len(p))
        try:
            self.sock.send(struct.pack("!HH", self.channel, len(p)) + p)
        except OSError:
            pass  # ICMP unreachable while the VIP moves: counted as loss
        self.sent_at.append(now)
        self.seq += 1


class Monitor:
    def __init__(self, args):
        self.args = args
        host, port = args.server.rsplit(":", 1)
        self.server = (host, int(port))
        host, port = args.peer.rsplit(":", 1)
        self.peer = (host, int(port))
        self.whoami = (host, args.whoami_port)
        self.sel = selectors.DefaultSelector()
        self.txns = {}
        self.errors = {}
        self.timeouts = 0
        self.bad_integrity = 0
        self.stale = 0
        self.phase = "setup"
        self.clients = [Client(i, self) for i in range(args.clients)]
        for c in self.clients:
            self.sel.register(c.sock, selectors.EVENT_READ, c)

    # -- transactions --

    def request(self, c, method, attrs, cb, tag=""):
        t = Txn(c, method, attrs, cb, time.monotonic(), tag)
        self.txns[t.tid] = t
        self.transmit(t)

    def transmit(self, t):
        c = t.client
        attrs = list(t.attrs)
        if c.key is not None:
            attrs += c.auth_attrs()
        try:
            c.sock.send(build(t.method, REQUEST, t.tid, attrs, c.key))
        except OSError:
            pass
        t.next = time.monotonic() + t.rto
        t.rto = min(t.rto * 2, 0.4)

    def retry(self, t):
        del self.txns[t.tid]
        t.tid = os.urandom(12)
        t.rto = 0.1
        self.txns[t.tid] = t
        self.transmit(t)

    def on_stun(self, c, m):
        if m.cls == INDICATION and m.method == DATA:
            self.on_data_ind(c, m)
            return
        t = self.txns.get(m.tid)
        if t is None or m.cls not in (SUCCESS, ERROR):
            return
        code = m.error_code() if m.cls == ERROR else None
        if code is not None:
            key = "%s %d" % (METHOD_NAMES.get(t.method, t.method), code)
            self.errors[key] = self.errors.get(key, 0) + 1
            if code in (401, 438) and m.get(A_NONCE) and t.stale_retries < 3:
                authed = c.key is not None
                c.realm = m.get(A_REALM) or c.realm
                c.nonce = m.get(A_NONCE)
                if c.key is None and c.realm:
                    c.key = hashlib.md5(b"%s:%s:%s" % (self.args.user.encode(), c.realm,
                                                       self.args.password.encode())).digest()
                if code == 438:
                    self.stale += 1
                    c.fail("438 Stale Nonce on %s (%s)" % (METHOD_NAMES[t.method], t.tag))
                elif authed:
                    c.fail("401 on an authenticated %s (%s)" % (METHOD_NAMES[t.method], t.tag))
                t.stale_retries += 1
                self.retry(t)
                return
        elif c.key is not None and not integrity_ok(m, c.key):
            self.bad_integrity += 1
            c.fail("bad MESSAGE-INTEGRITY in %s response" % METHOD_NAMES[t.method])
        del self.txns[m.tid]
        t.cb(c, m, code)

    def on_data_ind(self, c, m):
        data, peer = m.get(A_DATA), parse_xor_addr(m.get(A_PEER) or b"")
        if data is None or peer != self.whoami or b"|" not in data:
            return
        tag, _, seen = data.partition(b"|")
        c.whoami[tag.decode(errors="replace")] = seen.decode(errors="replace")

    def expire(self, now):
        for t in list(self.txns.values()):
            if now - t.first > self.args.txn_timeout:
                del self.txns[t.tid]
                self.timeouts += 1
                t.cb(t.client, None, "timeout")
            elif now >= t.next:
                self.transmit(t)

    # -- the client's steps --

    def start(self, c):
        c.state = "allocating"
        self.request(c, ALLOCATE, [attr(A_TRANSPORT, b"\x11\0\0\0"), attr(A_LIFETIME,
                     struct.pack("!I", 600))], self.allocated, "setup")

    def allocated(self, c, m, code):
        if code is not None:
            c.fail("Allocate failed: %s" % code)
            c.state = "failed"
            return
        c.relayed = parse_xor_addr(m.get(A_RELAYED) or b"")
        if c.relayed is None:
            c.fail("Allocate success without XOR-RELAYED-ADDRESS")
            c.state = "failed"
            return
        c.state = "permitting"
        self.request(c, CREATE_PERMISSION, [attr(A_PEER, xor_addr(*self.peer))], self.permitted,
                     "setup")

    def permitted(self, c, m, code):
        if code is not None:
            c.fail("CreatePermission failed: %s" % code)
            c.state = "failed"
            return
        c.state = "binding"
        self.request(c, CHANNEL_BIND, [attr(A_CHANNEL, struct.pack("!HH", c.channel, 0)),
                     attr(A_PEER, xor_addr(*self.peer))], self.bound, "setup")

    def bound(self, c, m, code):
        if code is not None:
            c.fail("ChannelBind failed: %s" % code)
            c.state = "failed"
            return
        c.state = "ready"
        self.ask_whoami(c, "before")

    def ask_whoami(self, c, tag):
        ind = build(SEND, INDICATION, os.urandom(12), [attr(A_PEER, xor_addr(*self.whoami)),
                    attr(A_DATA, tag.encode())])
        try:
            c.sock.send(ind)
        except OSError:
            pass

    def churn(self, c):
        def done(cl, m, code, what):
            if code is not None:
                cl.fail("%s during traffic: %s" % (what, code))
        self.request(c, REFRESH, [attr(A_LIFETIME, struct.pack("!I", 600))],
                     lambda cl, m, code: done(cl, m, code, "Refresh"), "churn")
        self.request(c, CREATE_PERMISSION, [attr(A_PEER, xor_addr(*self.peer))],
                     lambda cl, m, code: done(cl, m, code, "CreatePermission"), "churn")
        self.request(c, CHANNEL_BIND, [attr(A_CHANNEL, struct.pack("!HH", c.channel, 0)),
                     attr(A_PEER, xor_addr(*self.peer))],
                     lambda cl, m, code: done(cl, m, code, "ChannelBind"), "churn")

    def post_check(self, c):
        def done(cl, m, code, what):
            cl.check[what] = "ok" if code is None else str(code)
            if code is not None:
                cl.fail("%s after the event: %s" % (what, code))
        self.request(c, REFRESH, [attr(A_LIFETIME, struct.pack("!I", 600))],
                     lambda cl, m, code: done(cl, m, code, "Refresh"), "check")
        self.request(c, CREATE_PERMISSION, [attr(A_PEER, xor_addr(*self.peer))],
                     lambda cl, m, code: done(cl, m, code, "CreatePermission"), "check")
        self.request(c, CHANNEL_BIND, [attr(A_CHANNEL, struct.pack("!HH", c.channel, 0)),
                     attr(A_PEER, xor_addr(*self.peer))],
                     lambda cl, m, code: done(cl, m, code, "ChannelBind"), "check")
        self.ask_whoami(c, "after")

    # -- the loop --

    def pump(self, until, sending=False, churn_every=0.0):
        interval = 1.0 / self.args.rate
        next_churn = time.monotonic() + churn_every if churn_every else None
        while True:
            now = time.monotonic()
            if now >= until:
                return
            if sending:
                for c in self.clients:
                    # At most a few packets of catch-up after a stall.
                    if c.next_send < now - 0.05:
                        c.next_send = now
                    while c.next_send <= now:
                        c.send_data(now)
                        c.next_send += interval
            if next_churn and now >= next_churn:
                for c in self.clients:
                    self.churn(c)
                next_churn += churn_every
            self.expire(now)
            wake = until
            if sending:
                wake = min(wake, min(c.next_send for c in self.clients))
            if self.txns:
                wake = min(wake, min(t.next for t in self.txns.values()))
            for key, _ in self.sel.select(timeout=max(0.0, min(wake - now, 0.05))):
                self.drain(key.data)

    def drain(self, c):
        for _ in range(512):
            try:
                b, anc, _, _ = c.sock.recvmsg(65535, TS_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # ICMP errors surface here; the gap counts them
            now = kernel_stamp(anc) or time.monotonic()
            if not b:
                continue
            if 0x40 <= b[0] <= 0x7F:
                self.on_chdata(c, b, now)
            elif b[0] < 4:
                m = parse_stun(b)
                if m is not None:
                    self.on_stun(c, m)

    def on_chdata(self, c, b, now):
        if len(b) < 4 + PAYLOAD_HDR.size:
            return
        ch, ln = struct.unpack("!HH", b[:4])
        if ch != c.channel or ln < PAYLOAD_HDR.size or 4 + ln > len(b):
            return
        idx, seq, _ = PAYLOAD_HDR.unpack(b[4:4 + PAYLOAD_HDR.size])
        if idx != c.idx or seq >= c.seq or seq in c.seen:
            return
        c.seen.add(seq)
        c.arrivals.append(now)

    def run(self):
        a = self.args
        t0 = time.monotonic()
        for c in self.clients:
            self.start(c)
        deadline = t0 + a.setup_timeout
        n = 0
        while time.monotonic() < deadline:
            self.pump(time.monotonic() + 0.05)
            n += 1
            if n % 6 == 0:  # a lost whoami is asked again
                for c in self.clients:
                    if c.state == "ready" and "before" not in c.whoami:
                        self.ask_whoami(c, "before")
            if all(c.state in ("ready", "failed") for c in self.clients) and \
                    all("before" in c.whoami for c in self.clients if c.state == "ready"):
                break
        for c in self.clients:
            if c.state != "ready":
                c.fail("set-up did not finish (state %s)" % c.state)
            elif c.whoami.get("before") != "%s:%d" % c.relayed:
                c.fail("whoami before: peer saw %s, relayed address is %s:%d" %
                       ((c.whoami.get("before"),) + c.relayed))
        ready = [c for c in self.clients if c.state == "ready"]
        self.setup_errors = dict(self.errors)
        self.errors = {}
        self.phase = "traffic"
        if a.ready_file:
            with open(a.ready_file, "w") as f:
                f.write("%f\n" % time.time())
        print("READY %d/%d clients" % (len(ready), len(self.clients)), flush=True)
        self.clients = ready
        if not ready:
            return self.report(0.0, 0.0)
        start = time.monotonic()
        self.wall_start = time.time()
        for c in ready:
            c.next_send = start + c.idx * (1.0 / a.rate) / max(1, len(ready))
        self.pump(start + a.duration, sending=True, churn_every=a.churn)
        if a.until_file:
            # On until the harness says its event is over (bounded).
            stop = start + a.max_duration
            while not os.path.exists(a.until_file) and time.monotonic() < stop:
                self.pump(time.monotonic() + 0.1, sending=True, churn_every=a.churn)
            if not os.path.exists(a.until_file):
                for c in ready:
                    c.fail("the harness never ended the traffic (%s), %.0f s" % (a.until_file, a.max_duration))
        self.resume_check(ready, churn_every=a.churn)
        end = time.monotonic()
        # Late echoes, then the checks after the event.
        self.pump(end + 0.3)
        self.phase = "check"
        for c in ready:
            self.post_check(c)
        deadline = time.monotonic() + a.txn_timeout + 0.5
        n = 0
        while time.monotonic() < deadline:
            self.pump(time.monotonic() + 0.05)
            n += 1
            if n % 6 == 0:
                for c in ready:
                    if "after" not in c.whoami:
                        self.ask_whoami(c, "after")
            if not self.txns and all("after" in c.whoami for c in ready):
                break
        for c in ready:
            if "after" not in c.whoami:
                c.fail("whoami after: no answer from the peer")
            elif c.whoami["after"] != "%s:%d" % c.relayed:
                c.fail("relayed address changed: was %s:%d, peer now sees %s" %
                       (c.relayed + (c.whoami["after"],)))
            for what in ("Refresh", "CreatePermission", "ChannelBind"):
                if what not in c.check:
                    c.fail("%s after the event: no answer" % what)
        return self.report(start, end)

    def resume_check(self, ready, churn_every):
        """Traffic flows again: each client gets back a packet sent from now
        on. Sends until it does, for at most --resume-timeout seconds."""
        first = {c.idx: c.seq for c in ready}
        stop = time.monotonic() + self.args.resume_timeout
        while time.monotonic() < stop:
            if all(any(s >= first[c.idx] for s in c.seen) for c in ready):
                return
            self.pump(time.monotonic() + 0.1, sending=True, churn_every=churn_every)
        for c in ready:
            if not any(s >= first[c.idx] for s in c.seen):
                c.fail("traffic did not resume: no packet sent after the event came back "
                       "within %.0f s" % self.args.resume_timeout)

    def report(self, start, end):
        a = self.args
        per = []
        for c in self.clients:
            times = [start] + sorted(c.arrivals) + [end]
            gap, at = 0.0, start
            for x, y in zip(times, times[1:]):
                if y - x > gap:
                    gap, at = y - x, x
            lost_in_gap = sum(1 for s in c.sent_at
                              if at - 0.2 <= s <= at + gap) if c.sent_at else 0
            lost = c.seq - len(c.seen)
            # The monitor's own stalls: a sender kept off the CPU sends
            # nothing, and that silence is in the gap too.
            stall = max((y - x for x, y in zip(c.sent_at, c.sent_at[1:])), default=0.0)
            per.append({"send_stall_s": round(stall, 4), "client": c.idx, "local": "%s:%d" % c.local,
                        "relayed": "%s:%d" % c.relayed if c.relayed else None,
                        "sent": c.seq, "received": len(c.seen), "lost": lost,
                        "lost_outside_gap": max(0, lost - lost_in_gap),
                        "gap_s": round(gap, 4), "gap_at_s": round(at - start, 3),
                        "checks": c.check, "failures": c.failures})
        gaps = sorted(p["gap_s"] for p in per) or [0.0]
        failures = [("client %d: %s" % (p["client"], f)) for p in per for f in p["failures"]]
        n_437 = sum(v for k, v in self.errors.items() if k.endswith(" 437"))
        n_438 = sum(v for k, v in self.errors.items() if k.endswith(" 438"))
        if n_437:
            failures.append("%d responses 437 Allocation Mismatch" % n_437)
        gap_max = gaps[-1]
        rep = {"label": a.label, "clients": len(self.clients), "rate_pps": a.rate,
               "duration_s": a.duration,
               "wall_start": getattr(self, "wall_start", None),
               "sent": sum(p["sent"] for p in per), "received": sum(p["received"] for p in per),
               "lost": sum(p["lost"] for p in per),
               "lost_outside_gap": sum(p["lost_outside_gap"] for p in per),
               "gap_max_s": gap_max, "gap_p50_s": gaps[len(gaps) // 2],
               "send_stall_max_s": max((p["send_stall_s"] for p in per), default=0.0),
               "errors": self.errors, "setup_errors": getattr(self, "setup_errors", {}),
               "n_437": n_437, "n_438": n_438, "timeouts": self.timeouts,
               "bad_integrity": self.bad_integrity,
               "allocations_lost": sum(1 for p in per if any(
                   "437" in f or "changed" in f or "Refresh after" in f for f in p["failures"])),
               "ok": not failures, "failures": failures, "per_client": per}
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rep, f, indent=1)
        print("turnmon%s: %d clients x %d pps, %d sent, %d lost (%d outside the gap), "
              "gap max %.3f s (p50 %.3f s), 437: %d, 438: %d, timeouts %d: %s" %
              (" " + a.label if a.label else "", len(self.clients), a.rate, rep["sent"],
               rep["lost"], rep["lost_outside_gap"], gap_max, rep["gap_p50_s"], n_437, n_438,
               self.timeouts, "OK" if rep["ok"] else "FAILED"), flush=True)
        for f in failures[:40]:
            print("  " + f, flush=True)
        return 0 if rep["ok"] else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="203.0.113.1:3478")
    ap.add_argument("--peer", default="198.51.100.10:9000", help="UDP echo")
    ap.add_argument("--whoami-port", type=int, default=9001)
    ap.add_argument("--bind", default="0.0.0.0", help="local address")
    ap.add_argument("--user", default="demo")
    ap.add_argument("--password", default="demo")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=int, default=100, help="packets per second per client")
    ap.add_argument("--size", type=int, default=100, help="ChannelData payload bytes")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of traffic")
    ap.add_argument("--churn", type=float, default=0.0,
                    help="refresh allocation, permission and channel every S seconds")
    # Bounds on waits, generous for a loaded machine; none judges speed.
    ap.add_argument("--setup-timeout", type=float, default=60.0)
    ap.add_argument("--txn-timeout", type=float, default=30.0,
                    help="how long a request is retransmitted before it counts as unanswered")
    ap.add_argument("--until-file", help="after --duration, send on until this file exists")
    ap.add_argument("--max-duration", type=float, default=300.0, help="bound for --until-file")
    ap.add_argument("--resume-timeout", type=float, default=60.0,
                    help="how long traffic may take to flow again after the event")
    ap.add_argument("--ready-file")
    ap.add_argument("--json")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    if not (1 <= a.clients <= 256 and 1 <= a.rate <= 5000 and 0 < a.duration <= 3600
            and PAYLOAD_HDR.size <= a.size <= 1200):
        ap.error("clients 1-256, rate 1-5000, duration 0-3600 s, size 16-1200")
    return Monitor(a).run()


if __name__ == "__main__":
    sys.exit(main())
