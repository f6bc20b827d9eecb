#!/usr/bin/env python3
"""TURN over WebSocket (docs/websocket.md) against a running twist-relay.

    ws_turn.py RELAY_BINARY WS_PORT

The relay is started by turn_conformance.Relay with a ws listener on
WS_PORT. A python3-websockets client does a Binding; a raw client (which
can also break the rules on purpose) does the TURN work and the hostile
cases, since the library refuses to send unmasked or broken frames.
"""
import asyncio
import base64
import os
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402

try:
    import websockets  # noqa: E402
except ImportError:
    sys.exit("FAIL: python3-websockets is not installed (Debian package python3-websockets)")

WS_PORT = int(sys.argv[2])
ORIGIN_OK = "https://app.example"


class WsRelay(tc.Relay):
    def config_text(self):
        text = super().config_text()
        text = text.replace(
            "transports: [udp, tcp] }\n",
            "transports: [udp, tcp] }\n  - { address: 127.0.0.1, port: %d, transports: [ws] }\n"
            % WS_PORT, 1)
        text = text.replace("limits: { ", "limits: { tcp_request_deadline_ms: 1500, ", 1)
        return text + ("websocket: { path: /turn, origins: [\"%s\"], max_message: 16384 }\n"
                       % ORIGIN_OK)


def frame(op, payload, mask=True, fin=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def request(path="/turn", version="13", key=None, origin=None, extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
             "Sec-WebSocket-Version: " + version, "Sec-WebSocket-Protocol: turn"]
    if origin:
        lines.append("Origin: " + origin)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_until_closed(s, limit=1 << 16):
    """Everything the relay sends until it closes (bounded by time and size)."""
    out = b""
    s.settimeout(tc.RESP_TIMEOUT)
    while len(out) < limit:
        try:
            c = s.recv(4096)
        except socket.timeout:
            raise tc.Fail("the relay did not close the connection; got %r" % out[:200])
        except ConnectionResetError:
            break
        if not c:
            break
        out += c
    return out


def raw_conn():
    return socket.create_connection(("127.0.0.1", WS_PORT), timeout=tc.RESP_TIMEOUT)


def upgraded(origin=None, s=None):
    """A WebSocket on s (default: a new plain connection), after its 101."""
    s = s or raw_conn()
    s.sendall(request(origin=origin))
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        c = s.recv(1)
        tc.check(c, "closed during the handshake: %r" % head)
        head += c
    tc.check(head.startswith(b"HTTP/1.1 101 "), "no 101: %r" % head)
    tc.check(b"Sec-WebSocket-Protocol: turn" in head, "101 without the turn subprotocol")
    return s


LEFTOVER = {}


def server_frames(s, want, timeout=tc.RESP_TIMEOUT):
    """Reads server frames until `want` of them arrived: [(op, payload)].
    Bytes past them wait in LEFTOVER for the next call on the socket."""
    buf, out = LEFTOVER.pop(id(s), b""), []
    deadline = time.monotonic() + timeout
    s.settimeout(0.2)
    while len(out) < want and time.monotonic() < deadline:
        while len(buf) >= 2 and len(out) < want:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            tc.check(not buf[1] & 0x80, "masked server frame")
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            tc.check(buf[0] & 0x80, "server frame without FIN")
            out.append((op, buf[off:off + n]))
            buf = buf[off + n:]
        if len(out) >= want:
            break
        try:
            c = s.recv(65536)
        except socket.timeout:
            continue
        if not c:
            break
        buf += c
    LEFTOVER[id(s)] = buf
    return out


def close_code(s):
    fr = server_frames(s, 1)
    tc.check(fr and fr[0][0] == 8, "expected a close frame, got %r" % fr)
    return struct.unpack("!H", fr[0][1][:2])[0] if len(fr[0][1]) >= 2 else 1005


class WsClient(tc.Client):
    """turn_conformance's client, its stream carried in WebSocket frames."""

    def __init__(self, relay):
        super().__init__(relay, transport="tcp")
        self.sock.close()
        self.sock = upgraded()
        self.wsbuf = b""

    def send_raw(self, data):
        self.sock.sendall(frame(2, data))

    def recv_raw(self, timeout):
        f = self._tcp_take()
        if f is not None:
            return f
        for op, payload in server_frames(self.sock, 1, timeout):
            tc.check(op == 2, "server sent opcode %d, not binary" % op)
            # docs/websocket.md §2: one TURN message per WebSocket message.
            self.buf += payload
            f = self._tcp_take()
            tc.check(f is not None and not self.buf, "a WebSocket message that is not one TURN message")
            return f
        return None


def metric(relay, name, **labels):
    return tc.mval(relay.metrics(), name, **labels)


def wait_metric(relay, name, want, **labels):
    snap = tc.wait_metric(relay, lambda m: tc.mval(m, name, **labels) == want)
    got = tc.mval(snap, name, **labels)
    tc.check(got == want, "%s%r is %s, expected %s" % (name, labels, got, want))


def binding_msg():
    return tc.Msg(tc.BINDING).encode()


async def library_binding():
    uri = "ws://127.0.0.1:%d/turn" % WS_PORT
    async with websockets.connect(uri, subprotocols=["turn"], compression=None) as ws:
        tc.check(ws.subprotocol == "turn", "subprotocol %r" % ws.subprotocol)
        m = tc.Msg(tc.BINDING)
        await ws.send(m.encode())
        r = tc.Parsed(await asyncio.wait_for(ws.recv(), tc.RESP_TIMEOUT))
        tc.check(r.cls == tc.SUCCESS and r.txid == m.txid, "Binding over websockets: %s" % r.describe())
        pong = await ws.ping(b"twist")
        await asyncio.wait_for(pong, tc.RESP_TIMEOUT)


def case_library(relay):
    asyncio.run(library_binding())
    tc.check(metric(relay, "twist_ws_pings_total") >= 1, "ping not counted")


def case_turn(relay):
    peer = tc.Peer()
    c = WsClient(relay)
    c.allocate_ok()
    relayed = c.relayed[0]
    tc.check(metric(relay, "twist_ws_allocations") == 1, "twist_ws_allocations is not 1")
    c.permit(peer.addr[0], peer.addr[1])
    c.send_indication(peer.addr[0], peer.addr[1], b"via-send")
    got = peer.recv()
    tc.check(got and got[0] == b"via-send", "peer got %r" % (got,))
    peer.send(b"back", relayed)
    app = c.recv_app()
    tc.check(app and app[0] == "data" and app[2] == b"back", "client got %r" % (app,))
    c.bind(0x4001, peer.addr[0], peer.addr[1])
    c.send_channel(0x4001, b"chan-odd")
    got = peer.recv()
    tc.check(got and got[0] == b"chan-odd", "peer got %r over the channel" % (got,))
    # An unpadded ChannelData at the end of its message (docs/websocket.md §2).
    c.send_raw(struct.pack("!HH", 0x4001, 3) + b"abc")
    got = peer.recv()
    tc.check(got and got[0] == b"abc", "unpadded ChannelData: peer got %r" % (got,))
    peer.send(b"xyz12", relayed)
    app = c.recv_app()
    tc.check(app == ("chan", 0x4001, b"xyz12"), "client got %r" % (app,))
    # After authentication the reassembly buffer grows from 4 KiB to
    # max_message: a 6000-byte ChannelData in one WebSocket message.
    c.send_channel(0x4001, b"L" * 6000)
    got = peer.recv()
    tc.check(got and got[0] == b"L" * 6000, "6000-byte ChannelData after auth: peer got %r"
             % (len(got[0]) if got else None,))
    # Before authentication a message over 4 KiB is refused (1009): an
    # unauthenticated client never makes the relay hold max_message.
    before = metric(relay, "twist_ws_errors_total", code="1009")
    s = upgraded()
    s.sendall(frame(2, b"\0" * 6000))
    tc.check(close_code(s) == 1009, "a 6000-byte message before auth was not refused with 1009")
    read_until_closed(s)
    s.close()
    tc.check(metric(relay, "twist_ws_errors_total", code="1009") == before + 1, "1009 not counted")
    # Two STUN messages in one WebSocket message.
    m1, m2 = tc.Msg(tc.BINDING), tc.Msg(tc.BINDING)
    c.send_raw(m1.encode() + m2.encode())
    ids = {tc.Parsed(c.recv_raw(tc.RESP_TIMEOUT)).txid for _ in range(2)}
    tc.check(ids == {m1.txid, m2.txid}, "two in one message: answers to %r" % ids)
    # One STUN message split over three frames of one message, and over two messages.
    m3 = tc.Msg(tc.BINDING)
    b = m3.encode()
    c.sock.sendall(frame(2, b[:5], fin=False) + frame(0, b[5:11], fin=False) + frame(0, b[11:]))
    r = tc.Parsed(c.recv_raw(tc.RESP_TIMEOUT))
    tc.check(r.txid == m3.txid, "three frames: wrong answer")
    m4 = tc.Msg(tc.BINDING)
    b = m4.encode()
    c.sock.sendall(frame(2, b[:9]) + frame(2, b[9:]))
    r = tc.Parsed(c.recv_raw(tc.RESP_TIMEOUT))
    tc.check(r.txid == m4.txid, "two messages: wrong answer")
    # Closing the WebSocket deletes the allocation.
    c.sock.sendall(frame(8, struct.pack("!H", 1000)))
    tc.check(close_code(c.sock) == 1000, "close not echoed with 1000")
    c.close()
    wait_metric(relay, "twist_ws_allocations", 0)
    wait_metric(relay, "twist_allocations", 0)
    # The relayed port is gone: a datagram to it gets ICMP port unreachable.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(tuple(relayed))
    probe.settimeout(tc.RESP_TIMEOUT)
    refused = False
    for _ in range(20):
        probe.send(b"late")
        try:
            probe.recv(100)
        except ConnectionRefusedError:
            refused = True
            break
        except socket.timeout:
            break
    probe.close()
    tc.check(refused, "the relayed port %s still takes datagrams" % (relayed,))
    tc.check(metric(relay, "twist_tcp_closed_total", reason="ws_closed") >= 1, "ws_closed not counted")
    peer.close()


def case_refusals(relay):
    good = base64.b64encode(os.urandom(16)).decode()
    for req, status, reason in (
            (request(version="8"), b"426", "version"),
            (request(key="short"), b"400", "key"),
            (request(path="/other"), b"404", "path"),
            (request(origin="https://evil.example"), b"403", "origin"),
            (request(key=good, extra="X-Pad: " + "a" * 9000 + "\r\n"), b"431", "header_too_large")):
        before = metric(relay, "twist_ws_refused_total", reason=reason)
        s = raw_conn()
        try:
            s.sendall(req)
        except OSError:
            pass
        out = read_until_closed(s)
        s.close()
        tc.check(out.startswith(b"HTTP/1.1 " + status), "%s: expected %s, got %r" % (reason, status, out[:80]))
        tc.check(metric(relay, "twist_ws_refused_total", reason=reason) == before + 1,
                 "refusal %s not counted" % reason)
    s = upgraded(origin=ORIGIN_OK)  # an allowed Origin
    s.close()


def case_frame_errors(relay):
    big = 20000  # over websocket.max_message (16384)
    for data, code, label in (
            (frame(2, binding_msg(), mask=False), 1002, "1002"),
            (frame(1, b"hello"), 1003, "1003"),
            (frame(2, b"\0" * big), 1009, "1009"),
            # Garbage after the upgrade; its 64-bit length has the top bit set
            # (1002 whatever follows: random bytes there made it 1009 half the time).
            (b"\x82\xff\x80" + os.urandom(39), 1002, "1002"),
            (frame(2, binding_msg(), rsv=0x40), 1002, "1002")):
        before = metric(relay, "twist_ws_errors_total", code=label)
        s = upgraded()
        s.sendall(data)
        tc.check(close_code(s) == code, "expected close %d" % code)
        read_until_closed(s)
        s.close()
        tc.check(metric(relay, "twist_ws_errors_total", code=label) == before + 1, "%s not counted" % label)


def case_slowloris(relay):
    before = metric(relay, "twist_tcp_closed_total", reason="request_deadline")
    s = raw_conn()
    req = request()
    t_end = time.monotonic() + 20
    closed = False
    for i in range(len(req) - 2):  # never completes the head
        try:
            s.sendall(req[i:i + 1])
        except OSError:
            closed = True
            break
        s.settimeout(0.1)
        try:
            if s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
        if time.monotonic() > t_end:
            break
    if not closed:
        read_until_closed(s)
    s.close()
    wait_metric(relay, "twist_tcp_closed_total", before + 1, reason="request_deadline")


def run_cases(relay, cases, what):
    """Starts relay, runs each case (a function of it), and exits 1 on any
    failure; wss_turn.py shares it."""
    relay.start()
    failed = 0
    try:
        for f in cases:
            try:
                f(relay)
                print("PASS %s" % f.__name__, flush=True)
            except (tc.Fail, OSError, AssertionError, asyncio.TimeoutError) as e:
                failed += 1
                print("FAIL %s: %s" % (f.__name__, e), flush=True)
    finally:
        problems = relay.stop()
    for p in problems:
        print("FAIL relay: %s" % p)
    if problems or failed:
        print(relay.stderr_tail())
        sys.exit(1)
    print("ok: all %s cases passed" % what)


def main():
    relay = WsRelay(sys.argv[1], tempfile.mkdtemp(prefix="ws_turn."), "ws")
    run_cases(relay, (case_library, case_turn, case_refusals, case_frame_errors, case_slowloris),
              "WebSocket")


if __name__ == "__main__":
    main()
