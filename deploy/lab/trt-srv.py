#!/usr/bin/env python3
"""The TRT lab's IPv4 server (deploy/lab/trt.sh runs it in trt12-srv).

  HTTP  :80    GET/HEAD files from --www; PUT and POST answer the hex SHA-256
               of the body (Content-Length or chunked)
  TCP   :7     echo (the load test holds thousands of these open)
  TCP   :8007  reads to EOF, then answers "got N sha256 HEX\\n" and closes
               (the half-close test: the answer only comes after the EOF)
  UDP   :8007  echo from one socket (the load test's 5,000 mappings; the
               socat echo on :7 forks a child per mapping)
  UDP   :8009  answers "IP PORT\\n": the source the server sees (the
               translator's IPv4 mapping of the client)
"""
import argparse
import asyncio
import hashlib
import http.server
import os
import socketserver
import sys
import threading

CHUNK = 65536


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))

    def _body_chunks(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("EOF in a chunk header")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    b = self.rfile.read(min(left, CHUNK))
                    if not b:
                        raise ValueError("EOF in a chunk")
                    left -= len(b)
                    yield b
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                b = self.rfile.read(min(left, CHUNK))
                if not b:
                    raise ValueError("EOF in the body")
                left -= len(b)
                yield b

    def do_PUT(self):
        h = hashlib.sha256()
        n = 0
        try:
            for b in self._body_chunks():
                h.update(b)
                n += len(b)
        except ValueError as e:
            self.send_error(400, str(e))
            return
        out = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Body-Bytes", str(n))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT


class HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self):
        # http.server's own asks the resolver for our name (getfqdn): the
        # server namespace has none to ask, and that costs a 10 s timeout.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


async def tcp_echo(reader, writer):
    try:
        while True:
            b = await reader.read(CHUNK)
            if not b:
                break
            writer.write(b)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def eof_reply(reader, writer):
    h = hashlib.sha256()
    n = 0
    try:
        while True:
            b = await reader.read(CHUNK)
            if not b:
                break
            h.update(b)
            n += len(b)
        writer.write(b"got %d sha256 %s\n" % (n, h.hexdigest().encode()))
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class UDPEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)


class WhoAmI(UDPEcho):
    def datagram_received(self, data, addr):
        self.t.sendto(b"%s %d\n" % (addr[0].encode(), addr[1]), addr)


async def serve(ip):
    loop = asyncio.get_running_loop()
    await asyncio.start_server(tcp_echo, ip, 7, backlog=4096, reuse_address=True)
    await asyncio.start_server(eof_reply, ip, 8007, backlog=256, reuse_address=True)
    await loop.create_datagram_endpoint(UDPEcho, local_addr=(ip, 8007))
    await loop.create_datagram_endpoint(WhoAmI, local_addr=(ip, 8009))
    await asyncio.Event().wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--www", required=True)
    a = ap.parse_args()
    os.chdir(a.www)
    httpd = HTTPServer((a.bind, 80), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    asyncio.run(serve(a.bind))


if __name__ == "__main__":
    main()
