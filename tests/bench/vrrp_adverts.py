#!/usr/bin/env python3
"""Records the VRRP adverts one node hears from its peer, with the kernel's
receive timestamps (SO_TIMESTAMPNS), so a busy recorder does not inflate the
intervals. Run it in the backup's namespace; it writes a JSON summary when
--duration ends or on SIGTERM:

  adverts, the interval between consecutive adverts (p50, p99, p99.9, max),
  how many intervals exceeded 2 and 3 advert periods (3 plus the skew is
  when the backup takes over), and the priorities seen.

  vrrp_adverts.py --src 203.0.113.2 --advert 0.02 --duration 600 --json F
"""
import argparse
import json
import signal
import socket
import struct
import sys
import time

IPPROTO_VRRP = 112
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def pct(xs, p):
    if not xs:
        return 0.0
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def parse(pkt):
    """(source, vrrp priority) of an IPv4 VRRP packet, or None."""
    if len(pkt) < 20:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    if ihl < 20 or len(pkt) < ihl + 8:
        return None
    return socket.inet_ntoa(pkt[12:16]), pkt[ihl + 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="the advertising node's address")
    ap.add_argument("--advert", type=float, required=True, help="advert_int, seconds")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(0.5)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    end = time.monotonic() + a.duration
    stamps, prios, other, bad = [], {}, 0, 0
    while not stop and time.monotonic() < end:
        try:
            pkt, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(16))
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        got = parse(pkt)
        if got is None:
            bad += 1
            continue
        src, prio = got
        if src != a.src:
            other += 1
            continue
        ts = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("@qq", data[:16])
                ts = sec + nsec / 1e9
        stamps.append(ts if ts is not None else time.time())
        prios[prio] = prios.get(prio, 0) + 1

    iv = sorted(y - x for x, y in zip(stamps, stamps[1:]))
    rep = {
        "src": a.src,
        "advert_s": a.advert,
        "adverts": len(stamps),
        "from_others": other,
        "malformed": bad,
        "priorities": {str(k): v for k, v in sorted(prios.items())},
        "interval_p50_ms": round(pct(iv, 50) * 1000, 2),
        "interval_p99_ms": round(pct(iv, 99) * 1000, 2),
        "interval_p999_ms": round(pct(iv, 99.9) * 1000, 2),
        "interval_max_ms": round((iv[-1] if iv else 0.0) * 1000, 2),
        "over_2_adverts": sum(1 for x in iv if x > 2 * a.advert),
        "over_3_adverts": sum(1 for x in iv if x > 3 * a.advert),
    }
    with open(a.json, "w") as f:
        json.dump(rep, f)
    print("adverts from %s: %d, interval p50 %.1f ms, p99.9 %.1f ms, max %.1f ms, "
          "> 2 periods %d, > 3 periods %d" % (a.src, rep["adverts"], rep["interval_p50_ms"],
                                               rep["interval_p999_ms"], rep["interval_max_ms"],
                                               rep["over_2_adverts"], rep["over_3_adverts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
