#!/usr/bin/env python3
"""wss and shared ports (docs/websocket.md §3) against a running twist-relay.

    wss_turn.py RELAY_BINARY WSS_PORT TLS_WSS_PORT TCP_WS_PORT CA CERT KEY

The relay (turn_conformance.Relay) gets three more listeners on 127.0.0.1:
[wss] on WSS_PORT, [tls, wss] on TLS_WSS_PORT and [tcp, ws] on TCP_WS_PORT,
with CERT/KEY signed by the test CA in CA, which every client trusts.
"""
import asyncio
import os
import socket
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402
import ws_turn  # noqa: E402  (its WS_PORT, argv[2], is unused here)

try:
    import websockets  # noqa: E402
except ImportError:
    sys.exit("FAIL: python3-websockets is not installed (Debian package python3-websockets)")

WSS_PORT, TLS_WSS_PORT, TCP_WS_PORT = (int(a) for a in sys.argv[2:5])
CA, CERT, KEY = sys.argv[5:8]


class WssRelay(tc.Relay):
    def config_text(self):
        text = super().config_text()
        more = "".join("  - { address: 127.0.0.1, port: %d, transports: [%s] }\n" % pt
                       for pt in ((WSS_PORT, "wss"), (TLS_WSS_PORT, "tls, wss"),
                                  (TCP_WS_PORT, "tcp, ws")))
        text = text.replace("transports: [udp, tcp] }\n", "transports: [udp, tcp] }\n" + more, 1)
        return text + ("websocket: { path: /turn }\ntls: { cert: \"%s\", key: \"%s\" }\n"
                       % (CERT, KEY))


def tls_sock(port, alpn=None):
    """A TLS client socket that verifies the relay against the test CA."""
    ctx = ssl.create_default_context(cafile=CA)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    s = socket.create_connection(("127.0.0.1", port), timeout=tc.RESP_TIMEOUT)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def plain_sock(port):
    return socket.create_connection(("127.0.0.1", port), timeout=tc.RESP_TIMEOUT)


class SockClient(ws_turn.WsClient):
    """turn_conformance's client on a given stream socket, framed in
    WebSocket messages when ws, as plain TURN over TCP/TLS otherwise."""

    def __init__(self, relay, sock, ws=True):
        tc.Client.__init__(self, relay, transport="tcp")
        self.sock.close()
        self.ws = ws
        self.sock = ws_turn.upgraded(s=sock) if ws else sock
        self.wsbuf = b""

    def send_raw(self, data):
        if self.ws:
            return super().send_raw(data)
        return self.sock.sendall(data)

    def recv_raw(self, timeout):
        if self.ws:
            return super().recv_raw(timeout)
        return tc.Client.recv_raw(self, timeout)


def binding(c):
    m = tc.Msg(tc.BINDING)
    c.send_raw(m.encode())
    r = tc.Parsed(c.recv_raw(tc.RESP_TIMEOUT))
    tc.check(r.cls == tc.SUCCESS and r.txid == m.txid, "Binding: %s" % r.describe())


def turn_round_trip(relay, c, what):
    """Allocate, permit, Send indication out, Data indication back."""
    peer = tc.Peer()
    c.allocate_ok()
    c.permit(peer.addr[0], peer.addr[1])
    c.send_indication(peer.addr[0], peer.addr[1], what.encode())
    got = peer.recv()
    tc.check(got and got[0] == what.encode(), "%s: peer got %r" % (what, got))
    peer.send(b"back-" + what.encode(), c.relayed[0])
    app = c.recv_app()
    tc.check(app and app[0] == "data" and app[2] == b"back-" + what.encode(),
             "%s: client got %r" % (what, app))
    c.close()
    peer.close()


async def library_binding(port):
    ctx = ssl.create_default_context(cafile=CA)
    uri = "wss://127.0.0.1:%d/turn" % port
    async with websockets.connect(uri, ssl=ctx, subprotocols=["turn"], compression=None) as ws:
        tc.check(ws.subprotocol == "turn", "subprotocol %r" % ws.subprotocol)
        m = tc.Msg(tc.BINDING)
        await ws.send(m.encode())
        r = tc.Parsed(await asyncio.wait_for(ws.recv(), tc.RESP_TIMEOUT))
        tc.check(r.cls == tc.SUCCESS and r.txid == m.txid, "Binding over wss: %s" % r.describe())


def case_wss_library(relay):
    """python3-websockets (no ALPN) on the wss port and on the shared TLS port."""
    before = ws_turn.metric(relay, "twist_ws_upgraded_total")
    asyncio.run(library_binding(WSS_PORT))
    asyncio.run(library_binding(TLS_WSS_PORT))
    ws_turn.wait_metric(relay, "twist_ws_upgraded_total", before + 2)


def case_wss_turn(relay):
    turn_round_trip(relay, SockClient(relay, tls_sock(WSS_PORT)), "wss")
    ws_turn.wait_metric(relay, "twist_ws_allocations", 0)


def case_alpn_switch(relay):
    """ALPN stun.turn is TURN over TLS, http/1.1 is wss, on one port."""
    s = tls_sock(TLS_WSS_PORT, ["stun.turn"])
    tc.check(s.selected_alpn_protocol() == "stun.turn", "selected %r" % s.selected_alpn_protocol())
    turn_round_trip(relay, SockClient(relay, s, ws=False), "alpn-stun")
    s = tls_sock(TLS_WSS_PORT, ["h2", "http/1.1"])
    tc.check(s.selected_alpn_protocol() == "http/1.1", "selected %r" % s.selected_alpn_protocol())
    turn_round_trip(relay, SockClient(relay, s), "alpn-http")
    # Both offered: stun.turn is preferred.
    s = tls_sock(TLS_WSS_PORT, ["http/1.1", "stun.turn"])
    tc.check(s.selected_alpn_protocol() == "stun.turn", "selected %r" % s.selected_alpn_protocol())
    binding(SockClient(relay, s, ws=False))
    # No ALPN: the first byte inside TLS decides.
    binding(SockClient(relay, tls_sock(TLS_WSS_PORT), ws=False))
    binding(SockClient(relay, tls_sock(TLS_WSS_PORT)))
    # The wss-only port never claims stun.turn; the tls-only one never http/1.1.
    s = tls_sock(WSS_PORT, ["stun.turn", "http/1.1"])
    tc.check(s.selected_alpn_protocol() == "http/1.1", "wss port selected %r" %
             s.selected_alpn_protocol())
    s.close()


def case_plain_switch(relay):
    """tcp and ws on one plain port: STUN and the upgrade, then a bad first byte."""
    turn_round_trip(relay, SockClient(relay, plain_sock(TCP_WS_PORT), ws=False), "plain-stun")
    turn_round_trip(relay, SockClient(relay, plain_sock(TCP_WS_PORT)), "plain-ws")
    before = ws_turn.metric(relay, "twist_tcp_closed_total", reason="bad_frame")
    s = plain_sock(TCP_WS_PORT)
    s.sendall(b"\x80" + b"\0" * 19)
    out = ws_turn.read_until_closed(s)
    tc.check(out == b"", "a bad first byte got %r" % out[:80])
    s.close()
    ws_turn.wait_metric(relay, "twist_tcp_closed_total", before + 1, reason="bad_frame")


def main():
    relay = WssRelay(sys.argv[1], tempfile.mkdtemp(prefix="wss_turn."), "wss")
    ws_turn.run_cases(relay, (case_wss_library, case_wss_turn, case_alpn_switch, case_plain_switch),
                      "wss and shared-port")


if __name__ == "__main__":
    main()
