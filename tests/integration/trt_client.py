#!/usr/bin/env python3
"""Traffic drivers for trt_must.sh, run in the TRT lab's client namespace.

  udp-echo HOST PORT COUNT [--max 1472]
      COUNT datagrams, one at a time, sizes 1..MAX (every tenth MAX), each
      waiting up to 2 s for its echo. Prints "sent N received M bad B".
  udp-filter HOST ECHO_PORT WHOAMI_PORT SERVER_IP SERVER_NS
      One client socket: asks the who-am-i service for its IPv4 mapping
      (Y4:q), has one echo answered, then a socket in SERVER_NS (entered
      with setns) sends from another port to Y4:q. Prints "mapping Y4 q
      echo E rogue R control C": R must be 0 (address-and-port-dependent
      filtering), E and C 1.
  udp-unreach HOST PORT
      A datagram to a closed port; prints the ICMPv6 error that comes back
      (IPV6_RECVERR): "errno N origin O type T code C from ADDR".
  udp-load HOST PORT N
      N sockets (N distinct source ports), one datagram each, up to three
      rounds for the unanswered. Prints "udp N answered M".
  tcp-load HOST PORT N --release FILE [--hold S]
      N TCP connections open at once, each echoing one line; prints
      "tcp open N echoed M", holds them until FILE exists (at most S s),
      closes them and prints "closed".
  ftp-split HOST MODE [--file pub/file.bin]
      An FTP client whose commands go out one byte per write (TCP_NODELAY,
      a short pause between bytes), so the server side reads each command
      in pieces. MODE epsv or eprt. Prints the SHA-256 of the file.

Every wait is bounded; nothing here judges a duration.
"""
import argparse
import asyncio
import ctypes
import hashlib
import os
import resource
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
SO_EE_ORIGIN_ICMP6 = 3
IPV6_RECVERR = 25  # linux/in6.h; not in Python's socket module


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n + 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))


def wait_readable(s, secs):
    r, _, _ = select.select([s], [], [], secs)
    return bool(r)


def payload(i, size):
    head = b"trt %06d " % i
    body = (head * (size // len(head) + 1))[:size]
    return body


def udp_echo(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    received = 0
    lost = []
    for i in range(a.count):
        size = a.max if i % 10 == 0 else 1 + (i * 131) % a.max
        msg = payload(i, size)
        s.send(msg)
        # The first one also sets up the translator's mapping and the echo
        # server's forked child: on a loaded machine that took over 2 s once.
        if echoed(s, msg, 10 if i == 0 else 2):
            received += 1
        elif len(lost) < 5:
            lost.append("#%d (%d bytes)" % (i, size))
    if lost:
        print("first lost: " + ", ".join(lost), flush=True)
    print("sent %d received %d" % (a.count, received), flush=True)
    return 0 if received == a.count else 1


def echoed(s, msg, secs):
    """Waits up to secs for msg to come back; anything else is ignored."""
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not wait_readable(s, left):
            return False
        try:
            if s.recv(65536) == msg:
                return True
        except ConnectionRefusedError:
            continue


def enter_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
    finally:
        os.close(fd)


def recv_until(s, secs):
    """Every datagram that arrives within secs."""
    got = []
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not wait_readable(s, left):
            return got
        try:
            got.append(s.recvfrom(65536))
        except ConnectionRefusedError:
            continue


def udp_filter(a):
    c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    c.bind(("::", 0))
    c.sendto(b"who", (a.host, a.whoami_port))
    ans = recv_until(c, 2)
    if not ans:
        print("no answer from the who-am-i service", flush=True)
        return 1
    y4, q = ans[0][0].split()
    c.sendto(b"echo-1", (a.host, a.echo_port))
    echo = sum(1 for d, _ in recv_until(c, 2) if d == b"echo-1")
    # Sockets keep the namespace they were made in: c stays in the client's.
    enter_netns(a.server_ns)
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind((a.server_ip, 0))
    for _ in range(3):
        r.sendto(b"rogue", (y4.decode(), int(q)))
    rogue = sum(1 for d, _ in recv_until(c, 2) if d == b"rogue")
    c.sendto(b"echo-2", (a.host, a.echo_port))
    got = recv_until(c, 2)
    control = sum(1 for d, _ in got if d == b"echo-2")
    rogue += sum(1 for d, _ in got if d == b"rogue")
    print("mapping %s %s echo %d rogue %d control %d" % (y4.decode(), q.decode(), echo, rogue, control),
          flush=True)
    return 0 if echo == 1 and rogue == 0 and control == 1 else 1


def udp_unreach(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    s.connect((a.host, a.port))
    for _ in range(3):
        s.send(b"anyone there?")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            r, _, x = select.select([s], [], [s], max(0, deadline - time.monotonic()))
            if not r and not x:
                break
            try:
                _, anc, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
            except BlockingIOError:
                continue
            for level, typ, data in anc:
                if level != socket.IPPROTO_IPV6 or typ != IPV6_RECVERR or len(data) < 16:
                    continue
                eno, origin, itype, code = struct.unpack_from("=IBBB", data)
                frm = "?"
                if len(data) >= 16 + 24:
                    frm = socket.inet_ntop(socket.AF_INET6, data[16 + 8:16 + 24])
                print("errno %d origin %d type %d code %d from %s" % (eno, origin, itype, code, frm),
                      flush=True)
                return 0 if origin == SO_EE_ORIGIN_ICMP6 and itype == 1 and code == 4 else 1
    print("no ICMPv6 error within 3 tries", flush=True)
    return 1


def udp_load(a):
    raise_nofile(a.n)
    socks = []
    for _ in range(a.n):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.bind(("::", 0))
        socks.append(s)
    ports = {s.getsockname()[1] for s in socks}
    answered = set()
    ep = select.epoll()
    for i, s in enumerate(socks):
        ep.register(s.fileno(), select.EPOLLIN)
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    for _ in range(3):
        todo = [i for i in range(a.n) if i not in answered]
        if not todo:
            break
        for k, i in enumerate(todo):
            try:
                socks[i].sendto(b"map %d" % i, (a.host, a.port))
            except (BlockingIOError, ConnectionRefusedError):
                pass
            if k % 200 == 199:
                drain(ep, socks, by_fd, answered, 0.02)
        deadline = time.monotonic() + 5
        while len(answered) < a.n and time.monotonic() < deadline:
            drain(ep, socks, by_fd, answered, 0.2)
    print("udp %d ports %d answered %d" % (a.n, len(ports), len(answered)), flush=True)
    for s in socks:
        s.close()
    return 0 if len(answered) == a.n and len(ports) == a.n else 1


def drain(ep, socks, by_fd, answered, secs):
    for fd, _ in ep.poll(secs):
        i = by_fd[fd]
        try:
            while True:
                d = socks[i].recv(64)
                if d == b"map %d" % i:
                    answered.add(i)
        except (BlockingIOError, ConnectionRefusedError):
            pass


async def tcp_one(host, port, i, conns):
    r, w = await asyncio.open_connection(host, port)
    conns.append(w)
    line = b"flow %d\n" % i
    w.write(line)
    await w.drain()
    return await r.readline() == line


async def tcp_load_main(a):
    conns = []
    ok = 0
    tasks = []
    for start in range(0, a.n, 250):
        batch = [asyncio.create_task(asyncio.wait_for(tcp_one(a.host, a.port, i, conns), 30))
                 for i in range(start, min(a.n, start + 250))]
        done = await asyncio.gather(*batch, return_exceptions=True)
        tasks.extend(done)
    errs = [d for d in tasks if isinstance(d, BaseException)]
    ok = sum(1 for d in tasks if d is True)
    print("tcp open %d echoed %d" % (len(conns), ok), flush=True)
    if errs:
        print("first error: %r (%d errors)" % (errs[0], len(errs)), flush=True)
    deadline = time.monotonic() + a.hold
    while not os.path.exists(a.release) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for w in conns), return_exceptions=True)
    print("closed", flush=True)
    return 0 if ok == a.n else 1


def tcp_load(a):
    raise_nofile(a.n)
    return asyncio.run(tcp_load_main(a))


class Ftp:
    def __init__(self, host, delay):
        self.c = socket.create_connection((host, 21), timeout=20)
        self.c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.c.makefile("rb")
        self.delay = delay

    def reply(self):
        line = self.f.readline(4096)
        code = line[:3]
        if line[3:4] == b"-":
            while True:
                more = self.f.readline(4096)
                if not more or (more[:3] == code and more[3:4] == b" "):
                    break
        print("<", line.decode(errors="replace").rstrip(), file=sys.stderr, flush=True)
        return int(code) if code.isdigit() else 0, line.decode(errors="replace")

    def cmd(self, text):
        """One byte per write: the relay's reader sees the command in pieces."""
        print(">", text, file=sys.stderr, flush=True)
        for b in (text + "\r\n").encode():
            self.c.sendall(bytes([b]))
            time.sleep(self.delay)
        return self.reply()


def ftp_split(a):
    ftp = Ftp(a.host, a.delay)
    code, line = ftp.reply()
    if code != 220:
        print("greeting: %s" % line.strip(), flush=True)
        return 1
    code, line = ftp.cmd("USER anonymous")
    if code == 331:
        code, line = ftp.cmd("PASS trt@lab")
    if code != 230:
        print("login: %s" % line.strip(), flush=True)
        return 1
    code, line = ftp.cmd("TYPE I")
    if code != 200:
        print("TYPE I: %s" % line.strip(), flush=True)
        return 1
    lst = None
    if a.mode == "epsv":
        code, line = ftp.cmd("EPSV")
        if code != 229:
            print("EPSV: %s" % line.strip(), flush=True)
            return 1
        port = int(line.split("(")[1].split("|")[3])
        data = socket.create_connection((a.host, port), timeout=20)
    else:
        lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        lst.bind((ftp.c.getsockname()[0], 0))
        lst.listen(1)
        lst.settimeout(20)
        code, line = ftp.cmd("EPRT |2|%s|%d|" % (ftp.c.getsockname()[0], lst.getsockname()[1]))
        if code != 200:
            print("EPRT: %s" % line.strip(), flush=True)
            return 1
    code, line = ftp.cmd("RETR " + a.file)
    if code not in (125, 150):
        print("RETR: %s" % line.strip(), flush=True)
        return 1
    if lst is not None:
        data, _ = lst.accept()
    data.settimeout(30)
    h = hashlib.sha256()
    while True:
        b = data.recv(65536)
        if not b:
            break
        h.update(b)
    data.close()
    code, line = ftp.reply()
    ftp.cmd("QUIT")
    if code != 226:
        print("after RETR: %s" % line.strip(), flush=True)
        return 1
    print(h.hexdigest(), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description="TRT lab traffic drivers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udp-echo")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--max", type=int, default=1472)
    p = sub.add_parser("udp-filter")
    p.add_argument("host")
    p.add_argument("echo_port", type=int)
    p.add_argument("whoami_port", type=int)
    p.add_argument("server_ip")
    p.add_argument("server_ns")
    p = sub.add_parser("udp-unreach")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p = sub.add_parser("udp-load")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p = sub.add_parser("tcp-load")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("--release", required=True)
    p.add_argument("--hold", type=float, default=60)
    p = sub.add_parser("ftp-split")
    p.add_argument("host")
    p.add_argument("mode", choices=("epsv", "eprt"))
    p.add_argument("--file", default="pub/file.bin")
    p.add_argument("--delay", type=float, default=0.005)
    a = ap.parse_args()
    fn = {"udp-echo": udp_echo, "udp-filter": udp_filter, "udp-unreach": udp_unreach,
          "udp-load": udp_load, "tcp-load": tcp_load, "ftp-split": ftp_split}[a.cmd]
    return fn(a)


if __name__ == "__main__":
    sys.exit(main())
