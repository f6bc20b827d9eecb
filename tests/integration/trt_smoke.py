#!/usr/bin/env python3
"""Client and server sides of trt_smoke.sh (the translator in twist-relay).

  trt_smoke.py serve ADDR4          IPv4 helpers in the server namespace:
      TCP 9001  answers "oob:<byte>" once an urgent byte arrived
      TCP 9002  reads a line, then closes with SO_LINGER 0 (a RST)
      UDP 9003  replies from port 9004 first (must be filtered), then echoes
  trt_smoke.py CHECK DST6 [SRC6]    one check from the client namespace,
      exit 0 when it holds, a message and 1 when not.
"""
import errno
import os
import select
import socket
import struct
import sys
import threading
import time

TIMEOUT = 5


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def tcp_listener(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(16)
    return ls


def tcp_oob_server(addr):
    ls = tcp_listener(addr, 9001)
    while True:
        c, _ = ls.accept()
        # Blocking, each read after select(): Python's timeout mode polls
        # for POLLIN, which urgent data does not raise.
        got = b""
        try:
            for _ in range(50):
                r, _, x = select.select([c], [], [c], 0.2)
                if x:
                    got = c.recv(1, socket.MSG_OOB | socket.MSG_DONTWAIT)
                    break
                if r and c.recv(100, socket.MSG_DONTWAIT) == b"":
                    break
            c.sendall(b"oob:" + got)
            # Read past the urgent byte's place, so that close() is no RST.
            c.shutdown(socket.SHUT_WR)
            while select.select([c], [], [], TIMEOUT)[0] and c.recv(100):
                pass
        except OSError:
            pass
        c.close()


def tcp_rst_server(addr):
    ls = tcp_listener(addr, 9002)
    while True:
        c, _ = ls.accept()
        c.settimeout(TIMEOUT)
        try:
            c.recv(100)
        except OSError:
            pass
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def udp_spoof_server(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 9003))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((addr, 9004))
    while True:
        data, peer = s.recvfrom(2048)
        other.sendto(b"spoofed", peer)
        time.sleep(0.05)
        s.sendto(data, peer)


def run_or_die(fn, addr):
    try:
        fn(addr)
    except Exception as e:  # a helper that cannot serve fails the whole test
        print(f"{fn.__name__}: {e}", flush=True)
        os._exit(1)


def serve(addr):
    for fn in (tcp_oob_server, tcp_rst_server, udp_spoof_server):
        threading.Thread(target=run_or_die, args=(fn, addr), daemon=True).start()
    print("serving", flush=True)
    while True:
        time.sleep(3600)


def tcp(dst, port, src=None):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    if src:
        s.bind((src, 0))
    s.connect((dst, port))
    return s


def check_refused(dst, port, src=None):
    try:
        tcp(dst, int(port), src).close()
    except ConnectionRefusedError:
        return
    except OSError as e:
        fail(f"connect to [{dst}]:{port}: {e}, want Connection refused")
    fail(f"connect to [{dst}]:{port} succeeded, want Connection refused")


def check_unreachable(dst, port):
    """A host that does not answer ARP: the held SYN gets an ICMPv6 address unreachable."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect((dst, int(port)))
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return
        fail(f"connect to [{dst}]:{port}: {e}, want No route to host")
    fail(f"connect to [{dst}]:{port} succeeded")


def check_udp_echo(dst, n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.connect((dst, 7))
    lost = 0
    for i in range(int(n)):
        size = 1 + (i * 37) % 1472 if i % 10 else 1472
        msg = (b"%08d" % i + bytes(range(256)) * 6)[:size]
        s.send(msg)
        try:
            if s.recv(2048) != msg:
                fail(f"datagram {i} came back changed")
        except socket.timeout:
            lost += 1
    if lost:
        fail(f"{lost} of {n} datagrams lost")


def check_udp_unreach(dst):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.connect((dst, 9))
    for _ in range(3):
        s.send(b"x")
        try:
            s.recv(100)
        except ConnectionRefusedError:
            return  # the ICMPv6 port unreachable reached the socket
        except socket.timeout:
            continue
    fail("no ICMPv6 port unreachable for a closed UDP port")


def check_udp_port(dst, port):
    """One echo from a fixed client port (the mapping's identity)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.bind(("2001:db8:12:1::2", int(port)))
    s.sendto(b"mapping", (dst, 7))
    if s.recvfrom(100)[0] != b"mapping":
        fail("echo through the mapping changed")


def check_udp_filter(dst):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.bind(("::", 0))
    s.sendto(b"hello", (dst, 9003))
    data, peer = s.recvfrom(100)
    if data != b"hello" or peer[1] != 9003:
        fail(f"got {data!r} from port {peer[1]}: the reply from 9004 was not filtered")


def check_oob(dst):
    s = tcp(dst, 9001)
    s.sendall(b"abc")
    time.sleep(0.2)
    s.send(b"!", socket.MSG_OOB)
    got = s.recv(100)
    s.close()
    if got != b"oob:!":
        fail(f"urgent byte: server saw {got!r}, want b'oob:!'")


def check_rst(dst):
    s = tcp(dst, 9002)
    s.sendall(b"go\n")
    try:
        data = s.recv(100)
    except ConnectionResetError:
        return
    fail(f"server's RST: got {data!r}, want Connection reset")


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {
        "serve": serve,
        "refused": check_refused,
        "unreachable": check_unreachable,
        "udp_echo": check_udp_echo,
        "udp_unreach": check_udp_unreach,
        "udp_filter": check_udp_filter,
        "udp_port": check_udp_port,
        "oob": check_oob,
        "rst": check_rst,
    }
    if cmd not in table:
        fail(f"unknown check {cmd}")
    table[cmd](*args)


if __name__ == "__main__":
    main()
