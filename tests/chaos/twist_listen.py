#!/usr/bin/env python3
"""The two ends of the listen-flow chaos case (tests/chaos/twist_failover.sh).

  twist_listen.py serve PORT              a TCP echo server on the client host
  twist_listen.py peer HOST PORT SECONDS  a peer that connects to a client's
        relayed address, sends a numbered line every 20 ms for SECONDS and
        reads every echo back on the same connection; prints
        "sent N received M longest_gap_ms G error E" and exits 0 only if
        every line came back in order with no error.
"""
import socket
import sys
import time


def serve(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)


def peer(host, port, seconds):
    sent = received = 0
    gap = 0.0
    err = "none"
    buf = b""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(0.02)
    start = last = next_send = time.monotonic()
    end = start + seconds
    try:
        while time.monotonic() < end or (received < sent and time.monotonic() < end + 10):
            if next_send <= time.monotonic() < end:
                sock.sendall(b"%08d\n" % sent)
                sent += 1
                next_send += 0.02
            try:
                data = sock.recv(65536)
                if not data:
                    err = "closed by the other side"
                    break
                buf += data
            except socket.timeout:
                continue
            now = time.monotonic()
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line != b"%08d" % received:
                    raise ValueError("out of order: %r after %d" % (line, received))
                received += 1
                gap = max(gap, now - last)
                last = now
    except (OSError, ValueError) as e:
        err = "%s: %s" % (type(e).__name__, e)
    sock.close()
    print("sent %d received %d longest_gap_ms %d error %s" % (sent, received, gap * 1000, err))
    return 0 if err == "none" and sent == received and sent > 0 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "peer":
        sys.exit(peer(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    else:
        sys.exit(__doc__)
