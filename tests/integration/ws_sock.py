"""
A client WebSocket (RFC 6455) over a connected socket or TLS socket, shaped
like a stream socket so that the RFC 6062 cases (tcp_relay_cases.py) run
unchanged over ws and wss: sendall/send put bytes out as masked binary
messages, recv returns the payloads of the server's binary messages, and
a close frame from the server reads as the end of the stream (its code
kept in close_code). Non-blocking send keeps the OpenSSL contract: a call
that could not finish its frame raises, and the caller offers the same
bytes again.
"""

import base64
import os
import socket
import ssl
import struct

FRAME = 16 << 10   # payload per client message: under websocket.max_message


def header(op, n, mask):
    m = 0x80 if mask else 0
    if n < 126:
        return struct.pack("!BB", 0x80 | op, m | n)
    if n < 65536:
        return struct.pack("!BBH", 0x80 | op, m | 126, n)
    return struct.pack("!BBQ", 0x80 | op, m | 127, n)


def frame(op, payload, mask=True):
    """A client frame; mask=False makes the unmasked frame a server must refuse."""
    if not mask:
        return header(op, len(payload), False) + payload
    key = os.urandom(4)
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big") if n else b""
    return header(op, n, True) + key + body


def upgrade(raw, host="127.0.0.1", path="/turn"):
    """The opening handshake on raw; raises unless the answer is 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: turn\r\n\r\n"
                 % (path, host, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        c = raw.recv(1)
        if not c:
            break
        head += c
    if not head.startswith(b"HTTP/1.1 101 "):
        raise OSError("WebSocket upgrade refused: %r" % head[:80])


class WsSock:
    def __init__(self, raw):
        self.raw = raw
        self.rx = b""          # raw bytes not yet parsed
        self.data = b""        # payload bytes not yet returned
        self.out = b""         # the frame being written (non-blocking)
        self.out_len = 0       # its payload length
        self.eof = False
        self.close_code = None
        self.ops = []          # opcodes received, for the tests

    # -- what a socket offers ------------------------------------------------
    def fileno(self):
        return self.raw.fileno()

    def settimeout(self, v):
        self.raw.settimeout(v)

    def setblocking(self, v):
        self.raw.setblocking(v)

    def setsockopt(self, *a):
        self.raw.setsockopt(*a)

    def getsockname(self):
        return self.raw.getsockname()

    def close(self):
        self.raw.close()

    def pending(self):
        """Payload (or TLS plaintext) already here, which select does not see."""
        while self._parse():
            pass
        more = self.raw.pending() if isinstance(self.raw, ssl.SSLSocket) else 0
        return len(self.data) + more

    def sendall(self, data):
        view = memoryview(data)
        for off in range(0, len(data), FRAME):
            self.raw.sendall(frame(2, bytes(view[off:off + FRAME])))
        if not data:
            self.raw.sendall(frame(2, b""))

    def send_frame(self, raw_bytes):
        self.raw.sendall(raw_bytes)

    def send(self, data):
        """Up to FRAME bytes of data as one message: their count once the
        whole frame is out; until then BlockingIOError (or OpenSSL's
        want-write) and the same data again next time."""
        if not self.out:
            chunk = bytes(memoryview(data)[:FRAME])
            self.out, self.out_len = frame(2, chunk), len(chunk)
        n = self.raw.send(self.out)
        self.out = self.out[n:]
        if self.out:
            raise BlockingIOError("frame partly written")
        return self.out_len

    def recv(self, n):
        while not self.data and not self.eof:
            if self._parse():
                continue
            try:
                c = self.raw.recv(1 << 16)
            except ConnectionResetError:
                c = b""
            if not c:
                self.eof = True
                break
            self.rx += c
        out, self.data = self.data[:n], self.data[n:]
        return out

    def _parse(self):
        """One whole server frame out of rx, if there; True if one was."""
        b = self.rx
        if len(b) < 2:
            return False
        op, n, off = b[0] & 0x0F, b[1] & 0x7F, 2
        if b[1] & 0x80:
            raise OSError("masked server frame")
        if n == 126:
            if len(b) < 4:
                return False
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return False
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < off + n:
            return False
        payload, self.rx = b[off:off + n], b[off + n:]
        self.ops.append(op)
        if op == 2:
            self.data += payload
        elif op == 8:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.eof = True
        elif op != 10:
            raise OSError("server sent opcode %d" % op)
        return True
