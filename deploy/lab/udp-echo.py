#!/usr/bin/env python3
"""UDP echo for the lab's peer host.

usage: udp-echo.py ADDRESS ECHO_PORT [WHOAMI_PORT]

ECHO_PORT sends every datagram back to its sender. WHOAMI_PORT answers
every datagram with the payload followed by b"|ip:port", the source address
it came from: through a TURN relay that is the relayed transport address,
so a client can check that it did not change across a failover.
Counts are printed on SIGTERM/SIGINT.
"""
import selectors
import signal
import socket
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    addr = sys.argv[1]
    sel = selectors.DefaultSelector()
    for i, p in enumerate(sys.argv[2:]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((addr, int(p)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, data=(i == 1))
    count = [0]
    stop = [False]

    def on_stop(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    while not stop[0]:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            for _ in range(256):
                try:
                    data, src = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if key.data:
                    data = data + ("|%s:%d" % src).encode()
                try:
                    s.sendto(data, src)
                    count[0] += 1
                except OSError:
                    pass
    print("udp-echo: answered %d datagrams" % count[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
