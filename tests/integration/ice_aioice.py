#!/usr/bin/python3
"""The aioice side of ice_aioice.sh: the same offer files and ping/pong
stream as tests/client/ice_peer.c (see there). Prints one RESULT line and
exits 0 when all COUNT pongs came back and the peer is done too."""
import argparse
import asyncio
import os
import sys

try:
    import aioice
except ImportError:
    sys.exit("aioice missing: apt-get install python3-aioice")


def write_offer(conn, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(conn.local_username + "\n" + conn.local_password + "\n")
        for c in conn.local_candidates:
            f.write(c.to_sdp() + "\n")
        f.write("end\n")
    os.rename(tmp, path)


async def read_offer(path, deadline):
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        if os.path.exists(path):
            lines = open(path).read().splitlines()
            if lines and lines[-1] == "end":
                return lines[0], lines[1], lines[2:-1]
        await asyncio.sleep(0.05)
    raise TimeoutError("no offer at " + path)


async def main(a):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + a.timeout
    kw = {}
    if a.stun:
        h, p = a.stun.rsplit(":", 1)
        kw["stun_server"] = (h, int(p))
    if a.turn:
        h, p = a.turn.rsplit(":", 1)
        kw.update(turn_server=(h, int(p)), turn_username=a.turn_user,
                  turn_password=a.turn_pass, turn_transport=a.turn_transport)
    if a.relay_only:
        kw["transport_policy"] = aioice.TransportPolicy.RELAY
    conn = aioice.Connection(ice_controlling=a.role == "controlling", components=1,
                             use_ipv6=False, **kw)
    if a.tie_breaker is not None:
        conn._tie_breaker = a.tie_breaker
    await conn.gather_candidates()
    write_offer(conn, os.path.join(a.dir, a.name + ".offer"))
    ufrag, pwd, cands = await read_offer(os.path.join(a.dir, a.peer + ".offer"), deadline)
    if a.bad_pwd:
        # the peer's checks then fail its integrity: it must answer 401
        pwd = pwd[:-1] + ("a" if pwd[-1] != "a" else "b")
    conn.remote_username, conn.remote_password = ufrag, pwd
    for line in cands:
        await conn.add_remote_candidate(aioice.Candidate.from_sdp(line))
    await conn.add_remote_candidate(None)
    if a.delay_ms:
        await asyncio.sleep(a.delay_ms / 1000)
    await asyncio.wait_for(conn.connect(), deadline - loop.time())
    print("CONNECTED", flush=True)

    got, pings_in = set(), 0
    done_path = os.path.join(a.dir, a.name + ".done")
    peer_done = os.path.join(a.dir, a.peer + ".done")

    async def receiver():
        nonlocal pings_in
        while True:
            data = (await conn.recv()).decode(errors="replace")
            if data.startswith("ping "):
                pings_in += 1
                await conn.send(("pong " + data[5:]).encode())
            elif data.startswith("pong "):
                n = int(data[5:])
                if 0 <= n < a.count:
                    got.add(n)

    rx = asyncio.ensure_future(receiver())
    for i in range(a.count):
        await conn.send(("ping %d" % i).encode())
        if i % 4 == 3:
            await asyncio.sleep(0.01)
    ok = False
    while loop.time() < deadline:
        if len(got) == a.count and not os.path.exists(done_path):
            open(done_path, "w").close()
        if len(got) == a.count and os.path.exists(peer_done):
            ok = True
            break
        await asyncio.sleep(0.05)
    rx.cancel()
    pair = conn._nominated.get(1)
    sel = "%s:%s" % (pair.local_candidate.type, pair.remote_candidate.type) if pair else "none"
    print("RESULT name=%s role=%s sent=%d pongs=%d pings_in=%d selected=%s" % (
        a.name, "controlling" if conn.ice_controlling else "controlled", a.count, len(got),
        pings_in, sel), flush=True)
    await conn.close()
    return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--role", choices=["controlling", "controlled"], required=True)
    p.add_argument("--stun")
    p.add_argument("--turn")
    p.add_argument("--turn-user", default="demo")
    p.add_argument("--turn-pass", default="demo")
    p.add_argument("--turn-transport", default="udp")
    p.add_argument("--relay-only", action="store_true")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--tie-breaker", type=int)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--bad-pwd", action="store_true", help="use a wrong remote password")
    args = p.parse_args()
    try:
        sys.exit(asyncio.run(main(args)))
    except (TimeoutError, asyncio.TimeoutError, ConnectionError) as e:
        print("RESULT name=%s error=%r" % (args.name, e), flush=True)
        sys.exit(1)
