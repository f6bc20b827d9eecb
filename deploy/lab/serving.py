#!/usr/bin/env python3
"""A stand-in for twist-relay's metrics pages, for twist-ha's anycast checks.

    serving.py IP PORT STATE_DIR [--only-serving]

GET /serving answers 200 "serving", or 503 "draining" while STATE_DIR/draining
exists. /health and /ready answer 200, or 503 while STATE_DIR/health-down or
STATE_DIR/ready-down exists. /metrics has "twist_syncd_peer_up 1", or 0 while
STATE_DIR/peer-down exists (a stand-in for twist-syncd, for --syncd). With --only-serving every other path is 404: the
lab then points twist-ha's --serving here and --relay at the real relay,
for a relay that has no /serving page of its own (deploy/lab/anycast.sh).
"""
import http.server
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def flag(self, name):
        return os.path.exists(os.path.join(STATE, name))

    def do_GET(self):
        if self.path == "/serving":
            if self.flag("draining"):
                self.answer(503, "draining\n")
            else:
                self.answer(200, "serving\n")
        elif ONLY_SERVING:
            self.answer(404, "not found\n")
        elif self.path == "/health":
            self.answer(503 if self.flag("health-down") else 200, "ok\n")
        elif self.path == "/ready":
            self.answer(503 if self.flag("ready-down") else 200, "ready\n")
        elif self.path == "/metrics":
            up = 0 if self.flag("peer-down") else 1
            self.answer(200, "# TYPE twist_syncd_peer_up gauge\ntwist_syncd_peer_up %d\n" % up)
        else:
            self.answer(404, "not found\n")

    def log_message(self, fmt, *args):
        pass


if len(sys.argv) < 4:
    sys.exit(__doc__)
STATE = sys.argv[3]
ONLY_SERVING = "--only-serving" in sys.argv[4:]
cls = http.server.ThreadingHTTPServer
if ":" in sys.argv[1]:
    import socket

    class V6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    cls = V6
cls((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
