#!/usr/bin/env python3
"""
Bulk users for a twist user database, shared by tests/integration/
userdb_big.sh and tests/bench/userdb.sh:

    userdb_fill.py DB COUNT [REALM]

Adds COUNT users to the users table of DB, which twistctl must have made
already (any twistctl command creates the schema; this script never does,
so a schema change shows up here as an error rather than a silent drift).
Row i is named "user%07d" % i with password "pw%07d" % i, so a caller can
pick any row and know its password. REALM defaults to twist.local.

The keys are the long-term keys of RFC 8489 §9.2.2, MD5 and SHA-256 of
"name:realm:password", computed with hashlib: the values `twistctl user
add` stores, made in one transaction instead of COUNT control round trips.
Prints one line "users=COUNT first=NAME last=NAME". Exit status 0 on
success, 1 with a message otherwise.
"""
import hashlib
import sqlite3
import sys
import time


def rows(count, realm, now):
    for i in range(count):
        name, pw = "user%07d" % i, "pw%07d" % i
        s = ("%s:%s:%s" % (name, realm, pw)).encode()
        yield (name, realm, hashlib.md5(s).digest(),
               hashlib.sha256(s).digest(), now)


def main(argv):
    if len(argv) not in (3, 4) or not argv[2].isdigit() or int(argv[2]) < 1:
        sys.stderr.write("usage: userdb_fill.py DB COUNT [REALM]\n")
        return 1
    db, count = argv[1], int(argv[2])
    realm = argv[3] if len(argv) == 4 else "twist.local"
    try:
        # uri mode=rw: a missing file is an error, not a new empty database
        c = sqlite3.connect("file:%s?mode=rw" % db, uri=True)
        with c:
            c.executemany(
                "INSERT INTO users (name, realm, key_md5, key_sha256,"
                " created) VALUES (?,?,?,?,?)",
                rows(count, realm, int(time.time())))
        c.close()
    except sqlite3.Error as e:
        sys.stderr.write("userdb_fill.py: %s: %s\n" % (db, e))
        return 1
    print("users=%d first=user%07d last=user%07d" % (count, 0, count - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
