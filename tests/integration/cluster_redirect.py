#!/usr/bin/env python3
"""
Sibling reports and ALTERNATE-SERVER redirection (docs/cluster-protocol.md)
between twist-relays on loopback.

    cluster_redirect.py TWIST-RELAY TWISTCTL CASE

CASE is one of:
  redirect  an overloaded node answers a new Allocate 300 with integrity,
            naming a sibling in the client's family (IPv4 and IPv6); a
            Refresh and a CreatePermission on an existing allocation are
            served; hysteresis; drain and undrain (twistctl, /serving);
            never a draining sibling; with none left the node serves and
            counts it; a sibling with the wrong secret is counted and
            ignored.
  spread    1,000 allocations aimed at node A, clients following 300s:
            every node ends within its high water, 1,000 established. Then
            node C is killed (SIGKILL): once A's twist_cluster_sibling_up
            says C is down, no 300 names C.
  uclient   coturn's turnutils_uclient aimed at an overloaded node: it
            follows the 300 (its probe Allocate, integrity checked), and every
            message is relayed by the sibling.
  chromium  headless Chromium, relay-only ICE, pointed at an overloaded
            node (webrtc/webrtc.mjs): redirected to the sibling, every
            data-channel message delivered.
  twistctl  every subcommand against a running relay, plain and --json
            (python3 -m json.tool); a missing socket and one the caller may
            not open give exit 3 with the path; control.group.

It reuses turn_conformance.py's own STUN/TURN encoder (written from the
RFCs, sharing no code with proto/). Every wait is bounded by count and
time; nothing compares a duration. Exit 0 when every check passed.
"""

import json
import os
import grp
import re
import resource
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402

A_ALTERNATE_SERVER = 0x8023


def _poll_select(r, w, x, timeout):
    """select.select for turn_conformance's clients, with poll: the spread
    case holds over 1,000 sockets, past select's FD_SETSIZE."""
    p = select.poll()
    for s in r:
        p.register(s, select.POLLIN)
    ready = {fd for fd, _ in p.poll(max(0, int(timeout * 1000)))}
    return [s for s in r if s.fileno() in ready], [], []


class _Select:
    select = staticmethod(_poll_select)


tc.select = _Select
SECRET = "cluster-redirect-test-secret-01"
INTERVAL_MS = 300
check = tc.check


def addr_decode(value):
    """ALTERNATE-SERVER: the MAPPED-ADDRESS encoding (RFC 8489 §14.1)."""
    fam, port = value[1], struct.unpack("!H", value[2:4])[0]
    if fam == tc.FAM_V4:
        return socket.inet_ntop(socket.AF_INET, value[4:8]), port
    return socket.inet_ntop(socket.AF_INET6, value[4:20]), port


class Node(tc.Relay):
    """A relay with a cluster section; ports chosen before any node starts,
    since each one's config names the others'."""

    def __init__(self, binary, tmpdir, name, high_water, low_water=0, secret=SECRET,
                 relay_range=None, group="", ip="127.0.0.1"):
        super().__init__(binary, tmpdir, name, relay_addrs=(ip, "::1"), workers=1)
        self.ip = ip
        self.high_water, self.low_water, self.secret = high_water, low_water, secret
        self.fixed = [tc.free_port(True), tc.free_port(False)]
        self.port, self.metrics_port = self.fixed
        self.port6 = self.port
        self.report_port = tc.free_port(False)
        self.range = relay_range or (61000, 61999)
        self.siblings = []
        self.group = group
        self.sockdir = os.path.join(tmpdir, name + "-ctl")
        os.makedirs(self.sockdir, exist_ok=True)
        self.sock = os.path.join(self.sockdir, "relay.sock")

    def sibling_yaml(self):
        out = ""
        for s in self.siblings:
            out += ('    - {{ name: {n}, report: "tcp://127.0.0.1:{r}", '
                    'alternate: ["{ip}:{p}", "[::1]:{p6}"], domain: {n}.example }}\n'
                    .format(n=s.name, r=s.report_port, ip=s.ip, p=s.port, p6=s.port6))
        return out

    def config_text(self):
        return f"""\
listen:
  - {{ address: {self.ip}, port: {self.port}, transports: [udp, tcp] }}
  - {{ address: "::1", port: {self.port6}, transports: [udp] }}
relay: {{ addresses: ["{self.ip}", "::1"], port_min: {self.range[0]}, port_max: {self.range[1]} }}
workers: 1
auth:
  realm: twist.local
  users: [{{ name: demo, password: demo }}]
  # Shared by the siblings: a redirected client's nonce is good there too
  # (Chromium answers no 438 to an Allocate after a 300).
  nonce_secret: "cluster-redirect-nonce-secret-01"
  unauth_rate: 1000000
  unauth_burst: 1000000
  backoff_after: 0
peers: {{ allow_loopback: true, allow_self: true }}
compat: {{ rfc5766_channels: true }}
metrics: {{ enabled: true, listen: "127.0.0.1:{self.metrics_port}" }}
log: {{ level: info }}
control: {{ socket: "{self.sock}", group: "{self.group}" }}
cluster:
  node: {self.name}
  secret: "{self.secret}"
  listen: tcp://127.0.0.1:{self.report_port}
  interval_ms: {INTERVAL_MS}
  high_water: {self.high_water}
  low_water: {self.low_water}
  siblings:
{self.sibling_yaml() or "    []"}
"""

    def start(self):
        saved = tc.free_port, tc.relay_port_range
        ports = list(self.fixed)
        tc.free_port = lambda udp_too: ports.pop(0)
        tc.relay_port_range = lambda: self.range
        try:
            super().start()
        finally:
            tc.free_port, tc.relay_port_range = saved

    @property
    def addr(self):
        return (self.ip, self.port)

    @property
    def addr6(self):
        return ("::1", self.port6)

    def m(self, name, **labels):
        return tc.mval(self.metrics(), name, **labels)

    def serving(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/serving" % self.metrics_port,
                                        timeout=tc.WAIT) as r:
                return r.status, r.read().decode().strip()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode().strip()


class Client6(tc.Client):
    """A UDP client on ::1 (tc.Client speaks IPv4 only)."""

    def __init__(self, node):
        self.relay = node
        self.transport = "udp"
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind(("::1", 0))
        self.sock.connect(node.addr6)
        self.buf = b""
        self.pending = []
        self.auth = tc.Auth(*tc.DEMO)
        self.realm = self.nonce = self.server_algs = None
        self.last_sent = self.last_txid = None


class At:
    """A client aimed at an address, not at a Relay object (a followed 300)."""

    def __init__(self, host, port):
        self.addr = (host, port)


def wait_for(what, fn, timeout=tc.WAIT, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        check(time.monotonic() < deadline, "after %.0f s still not: %s" % (timeout, what))
        time.sleep(step)


def wait_up(node, sib, up=1):
    wait_for("%s sees %s %s" % (node.name, sib, "up" if up else "down"),
             lambda: node.m("twist_cluster_sibling_up", sibling=sib) == up)


def wait_flag(node, sib, key, value):
    """node's view of sib (twistctl status --json) has key == value."""
    def seen():
        st = ctl_json(node, "status")
        return any(s["name"] == sib and s[key] == value for s in st["sibling_list"])
    wait_for("%s sees %s %s=%s" % (node.name, sib, key, value), seen)


def stop_all(nodes):
    """SIGTERM each node; its exit status and sanitizer reports are checks."""
    problems = []
    for n in nodes:
        problems += ["%s: %s" % (n.name, p) for p in n.stop()]
    check(not problems, "; ".join(problems))


def start_pair(a, b):
    """a and b as each other's only sibling, started, a hearing b."""
    a.siblings, b.siblings = [b], [a]
    a.start()
    b.start()
    wait_up(a, "b")


CTL = None


def ctl(node, *args, user=None, check_rc=0):
    cmd = [CTL, "--socket", node.sock] + list(args)
    if user:
        cmd = ["setpriv"] + user + ["--"] + cmd
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    if check_rc is not None:
        check(p.returncode == check_rc, "twistctl %s: exit %d, want %d\nstdout: %s\nstderr: %s"
              % (" ".join(args), p.returncode, check_rc, p.stdout, p.stderr))
    return p


def ctl_json(node, *args, check_rc=0):
    p = ctl(node, *(list(args) + ["--json"]), check_rc=check_rc)
    v = subprocess.run([sys.executable, "-m", "json.tool"], input=p.stdout, capture_output=True,
                       text=True, timeout=30)
    check(v.returncode == 0, "twistctl %s --json is not JSON: %r (%s)" % (args, p.stdout, v.stderr))
    check(p.stdout.count("\n") == 1, "twistctl %s --json: not one line: %r" % (args, p.stdout))
    return json.loads(p.stdout)


def allocate(client):
    """One Allocate with credentials: ('ok', None) or ('300', (ip, port))."""
    r = client.allocate()
    check(r is not None, "no answer to Allocate")
    if r.cls == tc.SUCCESS:
        return "ok", None
    code = r.error_code()
    check(code == 300, "Allocate: %s" % r.describe())
    alt = r.get(A_ALTERNATE_SERVER)
    check(alt is not None, "300 without ALTERNATE-SERVER")
    return "300", addr_decode(alt)


# --------------------------------------------------------------------------
# redirect
# --------------------------------------------------------------------------

def case_redirect(relay_bin, tmp):
    a = Node(relay_bin, tmp, "a", high_water=3, low_water=1, relay_range=(61000, 61399))
    b = Node(relay_bin, tmp, "b", high_water=1000, relay_range=(61400, 61799))
    c = Node(relay_bin, tmp, "c", high_water=1000, relay_range=(61800, 62199))
    # d holds the wrong secret: a subscribes to it and must count and ignore it.
    d = Node(relay_bin, tmp, "d", high_water=1000, secret="not-the-cluster-secret",
             relay_range=(62200, 62599))
    a.siblings, b.siblings, c.siblings, d.siblings = [b, c, d], [a, c], [a, b], [a]
    nodes = [a, b, c, d]
    try:
        for n in nodes:
            n.start()
        wait_up(a, "b")
        wait_up(a, "c")
        sib4 = {("127.0.0.1", b.port): "b", ("127.0.0.1", c.port): "c"}
        sib6 = {("::1", b.port6): "b", ("::1", c.port6): "c"}

        # forged reports: counted as bad_hmac, the sibling never up, never named
        wait_for("a counts d's reports as bad_hmac",
                 lambda: a.m("twist_cluster_reports_total", result="bad_hmac") >= 3)
        check(a.m("twist_cluster_sibling_up", sibling="d") == 0, "d (wrong secret) is up on a")
        print("ok   forged reports: %d bad_hmac, d never up"
              % a.m("twist_cluster_reports_total", result="bad_hmac"), flush=True)

        held = []
        for _ in range(3):
            cl = tc.Client(a)
            check(allocate(cl)[0] == "ok", "a below high water refused an allocation")
            held.append(cl)
        # over high water: the 401 first (no 300 before authentication), then 300
        cl = tc.Client(a)
        cl.learn_nonce()
        kind, alt = allocate(cl)  # check_response verified MESSAGE-INTEGRITY and FINGERPRINT
        check(kind == "300" and alt in sib4, "a at high water: %s %s, want 300 to b or c"
              % (kind, alt))
        print("ok   at high water: 300 with integrity naming %s %s" % (sib4[alt], alt), flush=True)
        # the client follows it
        f = tc.Client(At(*alt))
        check(allocate(f)[0] == "ok", "the alternate %s refused the allocation" % (alt,))
        held.append(f)
        # existing allocations are never redirected
        held[0].refresh()
        held[1].permit("127.0.0.1")
        print("ok   Refresh and CreatePermission on a's allocations served", flush=True)
        # IPv6 client: an IPv6 alternate
        c6 = Client6(a)
        kind, alt6 = allocate(c6)
        check(kind == "300" and alt6 in sib6, "IPv6 client: %s %s, want 300 to [::1]" % (kind, alt6))
        print("ok   IPv6 client sent to %s %s" % (sib6[alt6], alt6), flush=True)
        c6.close()

        # hysteresis: 2 allocations (above low water 1) still redirect, 1 does not
        held[2].delete()
        check(allocate(tc.Client(a))[0] == "300", "a left redirecting above low water")
        held[1].delete()
        check(allocate(tc.Client(a))[0] == "ok", "a still redirecting at low water")
        print("ok   hysteresis: 300 at 2 allocations, served again at 1 (low water)", flush=True)
        check(a.m("twist_redirects_total", reason="high_water") >= 3, "redirects not counted")

        # drain: new Allocates leave, /serving says so; undrain reverses it
        check(a.serving() == (200, "serving"), "/serving before drain: %s" % (a.serving(),))
        p = ctl(a, "drain")
        check("draining=true" in p.stdout, "drain: %s" % p.stdout)
        check(a.serving() == (503, "draining"), "/serving while draining: %s" % (a.serving(),))
        check(allocate(tc.Client(a))[0] == "300", "a draining served a new allocation")
        check(a.m("twist_redirects_total", reason="draining") == 1, "draining redirect not counted")
        check(a.m("twist_draining") == 1, "twist_draining not 1")
        held[0].refresh()  # an existing allocation keeps going while draining
        ctl(a, "undrain")
        check(a.serving() == (200, "serving"), "/serving after undrain: %s" % (a.serving(),))
        check(allocate(tc.Client(a))[0] == "ok", "a undrained still redirects")
        print("ok   drain: 300 and /serving 503, Refresh served; undrain: served, 200", flush=True)

        # never a draining sibling: b drains, a drains, every 300 names c
        ctl(b, "drain")
        wait_flag(a, "b", "draining", True)
        ctl(a, "drain")
        for _ in range(5):
            kind, alt = allocate(tc.Client(a))
            check(kind == "300" and sib4.get(alt) == "c", "b drains, a sent a client to %s" % (alt,))
        print("ok   with b draining, every 300 names c", flush=True)
        # and with no sibling left: served here, counted; drain says so
        ctl(c, "drain")
        wait_flag(a, "c", "draining", True)
        before = a.m("twist_redirects_unavailable_total")
        check(allocate(tc.Client(a))[0] == "ok", "no sibling can take it, yet a refused")
        check(a.m("twist_redirects_unavailable_total") == before + 1, "unavailable not counted")
        p = ctl(a, "drain")
        check("warning=no_healthy_sibling" in p.stdout and "no healthy sibling" in p.stderr,
              "drain with no sibling left did not say so: %s / %s" % (p.stdout, p.stderr))
        print("ok   no sibling left: served here, counted, drain warns", flush=True)
        check(a.m("twist_cluster_sibling_up", sibling="d") == 0, "d came up")
    finally:
        stop_all(nodes)


# --------------------------------------------------------------------------
# spread
# --------------------------------------------------------------------------

def follow(start, budget=4):
    """Allocate at start and follow 300s: (node address, [300 targets])."""
    addr, seen = start, []
    for _ in range(budget):
        cl = tc.Client(At(*addr))
        kind, alt = allocate(cl)
        if kind == "ok":
            return cl, addr, seen
        cl.close()
        seen.append(alt)
        addr = alt
    raise tc.Fail("still redirected after %d answers: %s" % (budget, seen))


def case_spread(relay_bin, tmp):
    n_alloc, hw = 1000, 400
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    a = Node(relay_bin, tmp, "a", high_water=hw, relay_range=(61000, 62299))
    b = Node(relay_bin, tmp, "b", high_water=hw, relay_range=(62300, 63599))
    c = Node(relay_bin, tmp, "c", high_water=hw, relay_range=(63600, 64899))
    a.siblings, b.siblings, c.siblings = [b, c], [a, c], [a, b]
    nodes = [a, b, c]
    clients = []
    try:
        for n in nodes:
            n.start()
        for x in nodes:
            for y in nodes:
                if x is not y:
                    wait_up(x, y.name)
        where = {}
        for i in range(n_alloc):
            cl, addr, _ = follow(a.addr)
            clients.append(cl)
            where[addr[1]] = where.get(addr[1], 0) + 1
        counts = {n.name: int(n.m("twist_allocations")) for n in nodes}
        print("ok   %d allocations: %s (client view %s)" % (n_alloc, counts, where), flush=True)
        check(sum(counts.values()) == n_alloc, "established %d, want %d" % (sum(counts.values()), n_alloc))
        for n in nodes:
            check(counts[n.name] <= hw, "%s holds %d, above high water %d" % (n.name, counts[n.name], hw))

        # B gets room again (below its low water), then C dies
        on_b = [cl for cl in clients if cl.relay.addr == b.addr]
        for cl in on_b[:max(0, len(on_b) - 300)]:
            cl.delete()
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait(tc.WAIT)
        c.stop()  # exit status -9 is ours; its log is still searched below
        nodes.remove(c)
        kill_t = time.monotonic()
        down_seen = False
        after_down, before_down, served = 0, 0, 0
        # Keep allocating while a notices; each answer is classed by whether
        # a's metrics had already shown c down when the request was sent.
        for i in range(400):
            if not down_seen:
                down_seen = a.m("twist_cluster_sibling_up", sibling="c") == 0
            cl = tc.Client(a)
            kind, alt = allocate(cl)
            if kind == "300" and alt == ("127.0.0.1", c.port):
                if down_seen:
                    after_down += 1
                else:
                    before_down += 1
            elif kind == "300":
                cl2 = tc.Client(At(*alt))
                k2, _ = allocate(cl2)
                served += k2 == "ok"
                clients.append(cl2)
            clients.append(cl)
            if down_seen and i >= 100:
                break
        check(down_seen, "a never declared c down")
        check(after_down == 0, "%d redirects named c after a showed it down" % after_down)
        print("ok   c killed: %d 300s named it before a declared it down, 0 after; "
              "%d clients went to b (%.1f s of test bookkeeping)"
              % (before_down, served, time.monotonic() - kill_t), flush=True)
    finally:
        for cl in clients:
            cl.close()
        stop_all(nodes)


# --------------------------------------------------------------------------
# twistctl
# --------------------------------------------------------------------------

def case_twistctl(relay_bin, tmp):
    a = Node(relay_bin, tmp, "a", high_water=1000, group="daemon", relay_range=(63000, 63399))
    b = Node(relay_bin, tmp, "b", high_water=1000, relay_range=(63400, 63799))
    os.chmod(tmp, 0o755)
    os.chmod(a.sockdir, 0o755)
    try:
        start_pair(a, b)
        cl = tc.Client(a)
        check(allocate(cl)[0] == "ok", "allocation refused")
        st = os.stat(a.sock)
        check(stat.S_IMODE(st.st_mode) == 0o660, "socket mode %o, want 660" % stat.S_IMODE(st.st_mode))
        check(st.st_gid == grp.getgrnam("daemon").gr_gid, "socket group %d, want daemon" % st.st_gid)

        s = ctl_json(a, "status")
        for k in ("role", "sync", "allocations", "capacity", "high_water", "draining", "sibling_list"):
            check(k in s, "status --json lacks %s: %s" % (k, s))
        check(s["ok"] is True and s["role"] == "standalone" and s["allocations"] == 1, "status: %s" % s)
        check(s["sibling_list"][0]["name"] == "b" and s["sibling_list"][0]["up"] is True, "siblings: %s" % s)
        p = ctl(a, "status")
        check(re.search(r"^node=a role=standalone ", p.stdout, re.M), "status: %s" % p.stdout)
        check(re.search(r"^sibling name=b up=true ", p.stdout, re.M), "status: %s" % p.stdout)

        ss = ctl_json(a, "sessions")
        check(ss["count"] == 1 and ss["sessions"][0]["user"] == "demo"
              and ss["sessions"][0]["transport"] == "udp"
              and ss["sessions"][0]["client"] == "%s:%d" % cl.local(), "sessions: %s" % ss)
        for k in ("age_s", "bytes_to_peer", "bytes_to_client", "relayed", "expires_s"):
            check(k in ss["sessions"][0], "sessions lacks %s" % k)
        check(ctl_json(a, "sessions", "--user", "nobody")["count"] == 0, "sessions --user filter")
        check("user=demo transport=udp" in ctl(a, "sessions", "--user", "demo").stdout, "plain sessions")

        d = ctl_json(a, "drain")
        check(d["draining"] is True and d["siblings_available"] == 1, "drain: %s" % d)
        check(ctl_json(a, "status")["draining"] is True, "status after drain")
        check(ctl_json(a, "undrain")["draining"] is False, "undrain")
        r = ctl_json(a, "role")
        check(r == {"ok": True, "role": "standalone", "sync": "none"}, "role: %s" % r)
        check(ctl(a, "role").stdout.strip() == "role=standalone sync=none", "plain role")
        # reload: this relay has no user database, so the relay says no: exit 1
        rl = ctl_json(a, "reload", check_rc=1)
        check(rl["ok"] is False and "no user database" in rl["error"], "reload: %s" % rl)
        ctl(a, "reload", check_rc=1)
        ctl(a, "frobnicate", check_rc=2)
        ctl(a, "sessions", "--bogus", check_rc=2)

        # unreachable: a missing socket, then one this user may not open
        missing = os.path.join(tmp, "no-such.sock")
        p = subprocess.run([CTL, "--socket", missing, "status"], capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 3 and missing in p.stderr, "missing socket: %d %s" % (p.returncode, p.stderr))
        nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"]
        p = ctl(a, "status", user=nobody, check_rc=3)
        check(a.sock in p.stderr and "Permission denied" in p.stderr and p.stdout == "",
              "not permitted: %s" % p.stderr)
        p = ctl(a, "role", "--json", user=nobody, check_rc=3)
        # a member of control.group may
        ctl(a, "role", user=["--reuid=65534", "--regid=65534", "--groups=daemon"], check_rc=0)
        print("ok   twistctl: status, sessions, drain, undrain, role, reload (plain and --json); "
              "exit 3 missing and not permitted; control.group lets its members in", flush=True)
        cl.close()
    finally:
        stop_all((a, b))


# --------------------------------------------------------------------------
# uclient
# --------------------------------------------------------------------------

def case_uclient(relay_bin, tmp):
    for tool in ("turnutils_uclient", "turnutils_peer"):
        check(subprocess.run(["which", tool], capture_output=True).returncode == 0,
              "%s not found: install the coturn package (scripts/setup.sh)" % tool)
    a = Node(relay_bin, tmp, "a", high_water=1, relay_range=(64000, 64399))
    b = Node(relay_bin, tmp, "b", high_water=1000, relay_range=(64400, 64799))
    peer_port = tc.free_port(True)
    peer = None
    try:
        start_pair(a, b)
        held = tc.Client(a)
        check(allocate(held)[0] == "ok", "a refused its one allocation")
        peer = subprocess.Popen(["turnutils_peer", "-p", str(peer_port), "-L", "127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        clients, msgs = 2, 20
        p = subprocess.run(["turnutils_uclient", "-m", str(clients), "-n", str(msgs), "-u", "demo",
                            "-w", "demo", "-e", "127.0.0.1", "-r", str(peer_port), "-p",
                            str(a.port), "127.0.0.1"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        m = re.search(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
        check(p.returncode == 0 and m and int(m.group(1)) == int(m.group(2)) == clients * msgs,
              "turnutils_uclient against an overloaded node: exit %d\n%s"
              % (p.returncode, out[-1500:]))
        check("error 300" in out, "uclient never saw the 300:\n%s" % out[-800:])
        check(a.m("twist_allocations") == 1, "a holds %d allocations" % a.m("twist_allocations"))
        check(b.m("twist_allocations_created_total") >= clients,
              "b created %d allocations" % b.m("twist_allocations_created_total"))
        check(a.m("twist_redirects_total", reason="high_water") >= 1, "no redirect counted")
        print("ok   turnutils_uclient followed the 300 to b: %s messages each way"
              % m.group(2), flush=True)
        held.close()
    finally:
        if peer:
            peer.terminate()
            peer.wait(10)
        stop_all((a, b))


# --------------------------------------------------------------------------
# chromium
# --------------------------------------------------------------------------

CHROME_NS = "tw14c-chr"
CHROME_IPS = ("198.51.100.10", "198.51.100.11")


def case_chromium(relay_bin, tmp):
    """Chromium refuses a redirect to a loopback address (libwebrtc's
    TurnPort::SetAlternateServer), so the relays listen on documentation
    addresses of a veth pair in a namespace of this test's own, and the
    case runs again inside it."""
    check(os.geteuid() == 0, "needs root (a network namespace)")
    subprocess.run(["ip", "netns", "del", CHROME_NS], capture_output=True)
    try:
        for cmd in (["ip", "netns", "add", CHROME_NS],
                    ["ip", "-n", CHROME_NS, "link", "set", "lo", "up"],
                    ["ip", "-n", CHROME_NS, "link", "add", "tw14c0", "type", "veth", "peer",
                     "name", "tw14c1"],
                    ["ip", "-n", CHROME_NS, "link", "set", "tw14c1", "up"],
                    ["ip", "-n", CHROME_NS, "addr", "add", CHROME_IPS[0] + "/24", "dev", "tw14c0"],
                    ["ip", "-n", CHROME_NS, "addr", "add", CHROME_IPS[1] + "/24", "dev", "tw14c0"],
                    ["ip", "-n", CHROME_NS, "link", "set", "tw14c0", "up"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            check(r.returncode == 0, "%s: %s" % (" ".join(cmd), r.stderr))
        p = subprocess.run(["ip", "netns", "exec", CHROME_NS, sys.executable,
                            os.path.abspath(__file__), relay_bin, CTL, "chromium-ns"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=280)
        sys.stdout.write(p.stdout)
        check(p.returncode == 0, "chromium case in %s failed:\n%s" % (CHROME_NS, p.stderr[-3000:]))
    finally:
        subprocess.run(["ip", "netns", "del", CHROME_NS], capture_output=True)


def case_chromium_ns(relay_bin, tmp):
    here = os.path.dirname(os.path.abspath(__file__))
    mjs = os.path.join(here, "webrtc", "webrtc.mjs")
    check(subprocess.run(["which", "node"], capture_output=True).returncode == 0,
          "node not found: install nodejs (scripts/setup.sh)")
    check(os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")),
          "/usr/bin/chromium not found: install chromium (scripts/setup.sh)")
    check(os.path.exists(os.path.join(here, "webrtc", "node_modules", "playwright-core")),
          "playwright-core missing: run 'npm ci' in %s/webrtc (scripts/setup.sh does)" % here)
    a = Node(relay_bin, tmp, "a", high_water=1, relay_range=(64800, 64999), ip=CHROME_IPS[0])
    b = Node(relay_bin, tmp, "b", high_water=1000, relay_range=(65000, 65199), ip=CHROME_IPS[1])
    count = 200
    try:
        start_pair(a, b)
        held = tc.Client(a, source=CHROME_IPS[0])
        check(allocate(held)[0] == "ok", "a refused its one allocation")
        env = dict(os.environ, HOME=tmp)
        p = subprocess.run(["node", mjs, "--host", a.ip, "--port", str(a.port),
                            "--transport", "udp", "--user", "demo", "--password", "demo",
                            "--count", str(count), "--timeout", "120"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=240, env=env)
        out = p.stdout + p.stderr
        check(p.returncode == 0, "Chromium through an overloaded node: webrtc.mjs exit %d\n%s"
              % (p.returncode, out[-2500:]))
        check(a.m("twist_allocations") == 1, "a holds %d allocations" % a.m("twist_allocations"))
        check(a.m("twist_redirects_total", reason="high_water") >= 2,
              "a redirected %d Allocates" % a.m("twist_redirects_total", reason="high_water"))
        check(b.m("twist_allocations_created_total") >= 2,
              "b created %d allocations" % b.m("twist_allocations_created_total"))
        print("ok   Chromium (relay-only) redirected from a %s to b %s: %d of %d messages, "
              "%d redirects" % (a.ip, b.ip, count, count,
                                a.m("twist_redirects_total", reason="high_water")), flush=True)
        held.close()
    finally:
        stop_all((a, b))


CASES = {"chromium": case_chromium, "chromium-ns": case_chromium_ns, "redirect": case_redirect, "spread": case_spread, "twistctl": case_twistctl,
         "uclient": case_uclient}


def main():
    global CTL
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print(__doc__, file=sys.stderr)
        return 2
    relay_bin, CTL, case = sys.argv[1], sys.argv[2], sys.argv[3]
    tmp = tempfile.mkdtemp(prefix="twist-cluster-")
    try:
        CASES[case](relay_bin, tmp)
    except tc.Fail as e:
        print("FAIL %s: %s" % (case, e), flush=True)
        for f in sorted(os.listdir(tmp)):
            if f.endswith(".stderr"):
                print("---- %s (tail)\n%s" % (f, "\n".join(open(os.path.join(tmp, f), errors="replace")
                                                          .read().splitlines()[-15:])))
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    print("PASS %s" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
