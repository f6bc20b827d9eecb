#!/usr/bin/env python3
"""
Memory held for TCP clients that send Binding requests and never read
(docs/operations.md, "Hostile clients: TCP").

    tcp_noread.py PATH/TO/twist-relay [CONNECTIONS]   (default 1000)

Starts the relay (the conformance test's Relay, on free loopback ports),
opens CONNECTIONS unauthenticated connections that each send until their
socket is full, and prints the relay's RSS growth and the bytes queued in
the kernel on the relay's side of those connections. Needs
`ulimit -n` above CONNECTIONS + 100. A measurement, not a test.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import turn_conformance as t  # noqa: E402
import tcp_hostile as h  # noqa: E402

h.t = t


def main():
    binary = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    relay = t.Relay(binary, tempfile.mkdtemp(prefix="twist-noread-"), "noread",
                    tcp_limits=dict(tcp_connections=n + 100, tcp_per_source=n + 100,
                                    tcp_unauth_per_source=n + 100),
                    env=dict(ASAN_OPTIONS="quarantine_size_mb=0"))
    relay.start()
    try:
        rss0 = h.relay_rss_kib(relay)
        socks = h.flood_without_reading(relay, n)
        t.wait_metric(relay, lambda x: t.mval(x, "twist_tcp_read_paused_total") >= n, timeout=30)
        rss = h.relay_rss_kib(relay) - rss0
        tx, rx = h.relay_kernel_queues(relay.port)
        print("%d connections: relay RSS +%d KiB (%.1f KiB each); kernel, relay side: send %d KiB, "
              "receive %d KiB (%.1f KiB each)"
              % (n, rss, rss / n, tx // 1024, rx // 1024, (tx + rx) / 1024 / n))
        for s in socks:
            s.close()
    finally:
        print("; ".join(relay.stop()) or "relay stopped cleanly")


if __name__ == "__main__":
    main()
