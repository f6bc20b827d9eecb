#!/usr/bin/env python3
"""Writes the seeds of fuzz_ftp_alg (tests/fuzz/ftp.cmake).

A seed is [buffer size and listener failure, two piece sizes] + records,
each a control byte (bit 0: from the server, the rest: a length of 1..127,
0 for an overlong 600) and its bytes. The sessions are those of
tests/proto/test_ftp_alg.c.
"""
import os
import sys

HI = b"220 twist lab\r\n"
LONG = b"0123456789" * 60
PASV227 = b"227 Entering Passive Mode (198,51,100,10,19,137)\r\n"
SESSIONS = {
    "epsv-229": [("s", HI), ("c", b"EPSV\r\n"),
                 ("s", b"229 Entering Extended Passive Mode (|||5000|)\r\n")],
    "epsv-522": [("s", HI), ("c", b"EPSV\r\n"), ("s", b"522 use (1)\r\n"), ("s", PASV227),
                 ("c", b"EPSV 2\r\n"), ("s", PASV227)],
    "multiline": [("s", HI), ("c", b"EPSV\r\n"), ("s", b"522-no\r\n 522 x\r\n522 end\r\n"),
                  ("s", b"227-Entering\r\n227-(198,51,100,10,4,0)\r\n227 done\r\n")],
    "pipelined": [("s", HI), ("c", b"USER a\r\nPASS b\r\nEPSV\r\nRETR f\r\nQUIT\r\n"),
                  ("s", b"331 pw\r\n230 in\r\n522 no\r\n" + PASV227),
                  ("s", b"150 here\r\n226 done\r\n221 bye\r\n")],
    "epsv-all": [("s", HI), ("c", b"EPSV ALL\r\n"), ("s", b"500 no\r\n"), ("c", b"EPSV\r\n")],
    "eprt": [("s", HI), ("c", b"EPRT |2|2001:db8:12:1::2|40001|\r\n"), ("s", b"200 ok\r\n"),
             ("c", b"RETR f\r\n"), ("s", b"150 go\r\n226 done\r\n")],
    "eprt-refused": [("s", HI), ("c", b"EPRT |2|2001:db8:66::1|40001|\r\n"),
                     ("s", b"200 NOOP ok\r\n"),
                     ("c", b"EPRT |2|2001:db8:12:1::2|40001|\r\n"), ("s", b"500 no\r\n")],
    "lprt": [("s", HI), ("c", b"LPRT 6,16,32,1,13,184,0,18,0,1,0,0,0,0,0,0,0,2,2,156,65\r\n"),
             ("s", b"200 ok\r\n")],
    "lpsv": [("s", HI), ("c", b"LPSV\r\n"), ("s", PASV227)],
    "telnet": [("s", HI), ("c", b"\xff\xf4\xff\xf2ABOR\r\n\xff\xfb\x01EPSV\r\n"),
               ("s", b"226 ok\r\n522 no\r\n227 (198,51,100,10,0,80)\r\n")],
    "auth": [("s", HI), ("c", b"AUTH TLS\r\n"), ("s", b"234 go\r\n"),
             ("c", b"\x16\x03\x01EPSV\r\n")],
    "overlong": [("s", b"220-" + LONG + b"\r\n220 hi\r\n"), ("c", b"RETR " + LONG + b"\r\n"),
                 ("s", b"550 " + LONG + b"\r\n"), ("c", b"EPSV\r\n"), ("s", b"522 no\r\n")],
    "garbage": [("s", b"hello\r\n\x01\x02\r\n99 x\r\n" + HI), ("c", b"\x00junk\r\n")],
}


def records(steps):
    out = b""
    for d, data in steps:
        bit = 1 if d == "s" else 0
        while data:
            piece, data = data[:127], data[127:]
            out += bytes([len(piece) << 1 | bit]) + piece
    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(top, "corpus", "fuzz_ftp_alg")
    os.makedirs(d, exist_ok=True)
    for i, (name, steps) in enumerate(sorted(SESSIONS.items())):
        head = bytes([i * 37 % 256 & 0x7f, i % 16, 1 + i % 7])
        with open(os.path.join(d, name), "wb") as f:
            f.write(head + records(steps))
    with open(os.path.join(d, "eprt-no-listener"), "wb") as f:
        f.write(bytes([0x80, 3, 2]) + records(SESSIONS["eprt"]))


if __name__ == "__main__":
    main()
