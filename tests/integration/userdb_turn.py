#!/usr/bin/env python3
"""
The STUN side of userdb.sh, with turn_conformance.py's own encoder (no code
shared with proto/):

    userdb_turn.py PORT PORT_MIN PORT_MAX USER PASSWORD STATEFILE allocate
        Allocate as USER on 127.0.0.1:PORT and keep the client's socket open;
        then wait (at most 120 s) until STATEFILE holds "deleted", Refresh
        that allocation, and require 401. Then a new client's Allocate as
        USER must get 401 too. Writes "allocated" to STATEFILE once it holds
        its allocation.

Exit status 0 when every check held, 1 otherwise.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402


class Target:
    def __init__(self, port, pmin, pmax):
        self.addr = ("127.0.0.1", port)
        self.port_min = pmin
        self.port_max = pmax


def wait_for(path, word, secs):
    for _ in range(int(secs * 10)):
        try:
            with open(path) as f:
                if f.read().strip() == word:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def main():
    port, pmin, pmax = (int(x) for x in sys.argv[1:4])
    user, password, state = sys.argv[4:7]
    relay = Target(port, pmin, pmax)
    c = tc.Client(relay, cred=(user, password))
    c.allocate_ok()
    c.refresh(600)
    print("allocated %s as %s; refresh ok" % (c.relayed, user), flush=True)
    with open(state, "w") as f:
        f.write("allocated\n")
    tc.check(wait_for(state, "deleted", 120), "the shell never wrote 'deleted'")
    r = c.refresh(600, expect=401)
    print("refresh after user del: %s" % r.describe(), flush=True)
    c.close()
    d = tc.Client(relay, cred=(user, password))
    r = d.allocate()
    tc.expect_error(r, 401, "Allocate after user del")
    print("allocate after user del: %s" % r.describe(), flush=True)
    d.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tc.Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
