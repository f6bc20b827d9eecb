#!/usr/bin/env python3
"""The TRT lab's second FTP server (deploy/lab/trt.sh runs it in trt12-srv).

An IPv4-only FTP server of the kind RFC 6384 has in mind: it refuses EPSV
with 522, so a client behind the translator gets a data connection only if
the ALG retries the EPSV as PASV. vsftpd on :21 answers EPSV over IPv4
itself, and there the ALG must pass EPSV through untouched.

  --bind ADDR --port 2121 --root DIR   anonymous, read-only, serves DIR
"""
import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class NoEpsvHandler(FTPHandler):
    """PASV and PORT only, as an old IPv4 server."""

    def ftp_EPSV(self, line):
        self.respond("522 Network protocol not supported, use (1).")

    def ftp_EPRT(self, line):
        self.respond("522 Network protocol not supported, use (1).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=2121)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    auth = DummyAuthorizer()
    auth.add_anonymous(a.root, perm="elr")
    NoEpsvHandler.authorizer = auth
    NoEpsvHandler.banner = "trt lab FTP server without EPSV"
    srv = FTPServer((a.bind, a.port), NoEpsvHandler)
    srv.max_cons = 256
    srv.serve_forever()


if __name__ == "__main__":
    main()
