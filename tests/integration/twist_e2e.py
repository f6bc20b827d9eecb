#!/usr/bin/env python3
"""Small traffic drivers for twist_e2e.sh, run inside the lab's namespaces.

  twist_e2e.py udp-echo HOST PORT COUNT [--sport P] [--wait S]
      COUNT datagrams, one at a time, each waiting up to S seconds (default 1)
      for its echo. Prints "sent N received M" and exits 0 when M == N.
  twist_e2e.py hold-tcp HOST PORT N SECS
      N TCP connections opened at once; prints "ready N" when all are up,
      then holds them SECS seconds (or until stdin closes) and closes them.
  twist_e2e.py udp-trickle HOST PORT SECS [--sport P]
      one datagram every 0.5 s for SECS seconds, answers ignored: traffic
      from the peer's side only.

Every wait is bounded; nothing here measures time for a verdict.
"""
import argparse
import select
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_socket(host, sport):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if ":" in host else "0.0.0.0", sport))
    return s


def udp_echo(a):
    s = udp_socket(a.host, a.sport)
    s.connect((a.host, a.port))
    received = 0
    for i in range(a.count):
        msg = b"twist-e2e %06d " % i + bytes(range(64))
        s.send(msg)
        deadline = time.monotonic() + a.wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            try:
                got = s.recv(2048)
            except ConnectionRefusedError:
                continue
            if got == msg:
                received += 1
                break
    print("sent %d received %d" % (a.count, received), flush=True)
    return 0 if received == a.count else 1


def hold_tcp(a):
    socks = []
    for _ in range(a.n):
        s = socket.socket(family(a.host), socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((a.host, a.port))
        socks.append(s)
    pending = list(socks)
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        _, w, _ = select.select([], pending, [], 1)
        for s in w:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                print("connect failed: errno %d" % err, flush=True)
                return 1
            pending.remove(s)
    if pending:
        print("%d of %d connections not up after 30 s" % (len(pending), a.n), flush=True)
        return 1
    print("ready %d" % a.n, flush=True)
    end = time.monotonic() + a.secs
    while time.monotonic() < end:
        r, _, _ = select.select([sys.stdin], [], [], 1)
        if r and not sys.stdin.read(1):
            break
    for s in socks:
        s.close()
    return 0


def udp_trickle(a):
    s = udp_socket(a.host, a.sport)
    s.connect((a.host, a.port))
    sent = 0
    for _ in range(int(a.secs * 2)):
        try:
            s.send(b"peer only %d" % sent)
            sent += 1
        except OSError:
            pass
        time.sleep(0.5)
    print("sent %d" % sent, flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("udp-echo")
    e.add_argument("host")
    e.add_argument("port", type=int)
    e.add_argument("count", type=int)
    e.add_argument("--sport", type=int, default=0)
    e.add_argument("--wait", type=float, default=1.0)
    h = sub.add_parser("hold-tcp")
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("n", type=int)
    h.add_argument("secs", type=float)
    t = sub.add_parser("udp-trickle")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("secs", type=float)
    t.add_argument("--sport", type=int, default=0)
    a = p.parse_args()
    return {"udp-echo": udp_echo, "hold-tcp": hold_tcp, "udp-trickle": udp_trickle}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
