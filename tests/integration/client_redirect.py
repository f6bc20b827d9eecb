#!/usr/bin/env python3
"""
twist-client and 300 Try Alternate (RFC 8489 §10), against a fake server.

    client_redirect.py PATH/TO/twist-client
    client_redirect.py --ice PATH/TO/twist-ice

With --ice, the same fake serves the ICE agent's TURN client (twist-ice
gathering a relayed candidate): the same two forged 300s must be ignored
and the genuine one followed (issue 14).

In a network namespace of its own (tw14r-cli, loopback only), a fake STUN
server written here (turn_conformance.py's encoder) plays the relay:
Binding success, 401 with realm and nonce, then to the authenticated
Allocate a 300 without MESSAGE-INTEGRITY and one signed with another
key, both naming an alternate the fake also listens on. twist-client must
ignore both (log, no datagram to the alternate) and keep waiting; then a
genuine 300, signed with the user's long-term key, must send the flow's
Allocate to the alternate. The flow is started by a UDP datagram to a
documentation address routed into twist-client's TUN.

Every wait is bounded; nothing compares a duration. Needs root (namespace,
TUN). Exit 0 when every check passed.
"""

import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402

NS = "tw14r-cli"
A_ALTERNATE_SERVER = 0x8023
USER, PASSWORD, REALM, NONCE = "alice", "s3cret", "twist.test", "nonce-14"
SERVER_PORT, ALT_PORT = 3478, 3479
check = tc.check


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def error_attr(code, reason):
    return struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode()


def alt_attr(port):
    return struct.pack("!BBH", 0, tc.FAM_V4, port) + socket.inet_aton("127.0.0.1")


def fake_server(log_path):
    """Runs inside the namespace: the relay's part, then the verdict on stdout."""
    key = hashlib.md5(("%s:%s:%s" % (USER, REALM, PASSWORD)).encode()).digest()
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", SERVER_PORT))
    alt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    alt.bind(("127.0.0.1", ALT_PORT))
    srv.settimeout(0.2)
    alt.settimeout(0.2)
    log = open(log_path, "a", buffering=1)
    stage, forged_at, alt_early = "wait", None, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            raw, peer = alt.recvfrom(4096)
            if stage != "genuine":
                alt_early += 1
                log.write("alternate got a datagram before the genuine 300\n")
                continue
            m = tc.Parsed(raw)
            log.write("alternate got %s\n" % m.describe())
            if m.method == tc.ALLOCATE:
                print("FOLLOWED alt_early=%d" % alt_early, flush=True)
                return
        except socket.timeout:
            pass
        try:
            raw, peer = srv.recvfrom(4096)
        except socket.timeout:
            if stage == "forged" and time.monotonic() - forged_at > 1.5:
                # The forged answers were ignored: the client still waits
                # (its retransmissions come here). Now the genuine one.
                stage = "genuine"
                m = tc.Msg(tc.ALLOCATE, tc.ERROR, last_txid)
                m.add(tc.A_ERROR_CODE, error_attr(300, "Try Alternate"))
                m.add(A_ALTERNATE_SERVER, alt_attr(ALT_PORT))
                srv.sendto(m.encode(key=key), last_peer)
                log.write("sent the genuine 300\n")
            continue
        m = tc.Parsed(raw)
        log.write("server got %s\n" % m.describe())
        if m.method == tc.BINDING:
            srv.sendto(tc.Msg(tc.BINDING, tc.SUCCESS, m.txid).encode(), peer)
        elif m.method == tc.ALLOCATE and not m.has(tc.A_MESSAGE_INTEGRITY):
            r = tc.Msg(tc.ALLOCATE, tc.ERROR, m.txid)
            r.add(tc.A_ERROR_CODE, error_attr(401, "Unauthorized"))
            r.add(tc.A_REALM, REALM.encode()).add(tc.A_NONCE, NONCE.encode())
            srv.sendto(r.encode(), peer)
        elif m.method == tc.ALLOCATE and stage == "wait":
            check(m.integrity(key, False) is True, "the Allocate's integrity does not verify")
            for k in (None, hashlib.md5(b"mallory").digest()):
                r = tc.Msg(tc.ALLOCATE, tc.ERROR, m.txid)
                r.add(tc.A_ERROR_CODE, error_attr(300, "Try Alternate"))
                r.add(A_ALTERNATE_SERVER, alt_attr(ALT_PORT))
                srv.sendto(r.encode(key=k), peer)
            log.write("sent two forged 300s\n")
            stage, forged_at = "forged", time.monotonic()
            last_txid, last_peer = m.txid, peer
        elif m.method == tc.ALLOCATE and m.txid == last_txid:
            log.write("retransmission of the Allocate after the forged 300s\n")
    print("TIMEOUT stage=%s alt_early=%d" % (stage, alt_early), flush=True)


def run_ice(ice, tmp):
    """twist-ice's ICE agent (client/ice/ice_turn.c) gathering a relayed
    candidate from the fake: the same forged 300s, the same verdict."""
    flog, ilog = os.path.join(tmp, "fake.log"), os.path.join(tmp, "ice.log")
    fake = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, __file__, "--fake", flog],
                            stdout=subprocess.PIPE, text=True)
    procs = [fake]
    try:
        time.sleep(0.5)
        # no home agent answers on 4191: the CN registers only after gathering anyway
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, ice, "--role", "cn", "--ha", "127.0.0.1:4191",
             "--spi", "1", "--key", "k", "--home", "2001:db8::1",
             "--turn", "127.0.0.1:%d" % SERVER_PORT, "--user", USER, "--password", PASSWORD,
             "--duration", "60"], stdout=open(ilog, "w"), stderr=subprocess.STDOUT))
        out, _ = fake.communicate(timeout=90)
        text = open(ilog).read()
        check(out.startswith("FOLLOWED"), "fake server: %s\nfake log:\n%s\ntwist-ice log:\n%s"
              % (out.strip(), open(flog).read(), text[-2000:]))
        check("alt_early=0" in out, "the ICE agent went to the alternate on a forged 300: " + out)
        check("a 300 without valid MESSAGE-INTEGRITY ignored" in text,
              "no warning about the forged 300:\n" + text[-1500:])
        check("redirected by 300 to 127.0.0.1:%d" % ALT_PORT in text,
              "no log of the followed 300:\n" + text[-1500:])
        print("ok   the ICE agent ignored two forged 300s (no integrity, wrong key) and "
              "followed the genuine one to the alternate")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def main_ice(ice):
    global NS
    NS = "tw14r-ice"  # a namespace of its own: it may run beside client_redirect
    check(os.geteuid() == 0, "needs root (network namespace)")
    check(os.access(ice, os.X_OK), "twist-ice '%s' not built" % ice)
    tmp = tempfile.mkdtemp(prefix="twist-ice-redirect-")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        run_ice(ice, tmp)
    except tc.Fail as e:
        print("FAIL ice_redirect: %s" % e)
        return 1
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    print("PASS ice_redirect")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--fake":
        fake_server(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--ice":
        return main_ice(sys.argv[2])
    check(len(sys.argv) == 2, "usage: client_redirect.py PATH/TO/twist-client")
    client = sys.argv[1]
    check(os.geteuid() == 0, "needs root (network namespace, TUN device)")
    check(os.access(client, os.X_OK), "twist-client '%s' not built" % client)
    tmp = tempfile.mkdtemp(prefix="twist-client-redirect-")
    flog, clog = os.path.join(tmp, "fake.log"), os.path.join(tmp, "client.log")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    sh("ip", "netns", "add", NS)
    procs = []
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        fake = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, __file__, "--fake", flog],
                                stdout=subprocess.PIPE, text=True)
        procs.append(fake)
        time.sleep(0.5)
        cl = subprocess.Popen(["ip", "netns", "exec", NS, client, "--server",
                               "127.0.0.1:%d" % SERVER_PORT, "--user", USER, "--password", PASSWORD,
                               "--route", "198.51.100.0/24", "--tun", "tw14r0",
                               "--log-level", "debug"],
                              stdout=open(clog, "w"), stderr=subprocess.STDOUT)
        procs.append(cl)
        ok = False
        for _ in range(100):  # the TUN and its route, bounded
            r = subprocess.run(["ip", "-n", NS, "route", "get", "198.51.100.7"],
                               capture_output=True, text=True)
            if r.returncode == 0 and "tw14r0" in r.stdout:
                ok = True
                break
            check(cl.poll() is None, "twist-client exited:\n" + open(clog).read()[-1500:])
            time.sleep(0.1)
        check(ok, "twist-client's route never appeared")
        # One datagram into the TUN starts a connect flow.
        sh("ip", "netns", "exec", NS, sys.executable, "-c",
           "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
           "s.sendto(b'hello', ('198.51.100.7', 7))")
        out, _ = fake.communicate(timeout=90)
        text = open(clog).read()
        check(out.startswith("FOLLOWED"), "fake server: %s\nfake log:\n%s\nclient log:\n%s"
              % (out.strip(), open(flog).read(), text[-2000:]))
        check("alt_early=0" in out, "the client went to the alternate on a forged 300: " + out)
        check("ignored a 300 Try Alternate without valid MESSAGE-INTEGRITY" in text,
              "no warning about the forged 300:\n" + text[-1500:])
        check("redirected by 300 to 127.0.0.1:%d" % ALT_PORT in text,
              "no log of the followed 300:\n" + text[-1500:])
        print("ok   twist-client ignored two forged 300s (no integrity, wrong key) and "
              "followed the genuine one to the alternate")
    except tc.Fail as e:
        print("FAIL client_redirect: %s" % e)
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    print("PASS client_redirect")
    return 0


if __name__ == "__main__":
    sys.exit(main())
