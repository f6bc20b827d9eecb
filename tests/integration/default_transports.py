#!/usr/bin/env python3
"""The embedded default's WebSocket listeners: a Binding over
ws://127.0.0.1:8080/turn, and over wss://127.0.0.1:8443/turn trusting the
relay's throwaway self-signed certificate as fetched from the relay itself
(with hostname checking on, so its subjectAltName must name 127.0.0.1).

    default_transports.py CERT_PEM
"""
import asyncio
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_conformance as tc  # noqa: E402

try:
    import websockets  # noqa: E402
except ImportError:
    sys.exit("FAIL: python3-websockets is not installed (Debian package python3-websockets)")


async def binding(url, ctx):
    m = tc.Msg(tc.BINDING)
    async with websockets.connect(url, subprotocols=["turn"], ssl=ctx, open_timeout=10) as ws:
        await ws.send(m.encode())
        r = tc.Parsed(await asyncio.wait_for(ws.recv(), 10))
    tc.check(r.txid == m.txid and r.cls == tc.SUCCESS, "%s: no Binding success" % url)
    print("default_transports: Binding success over %s" % url, flush=True)


def main():
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    ctx.check_hostname = True
    asyncio.run(binding("ws://127.0.0.1:8080/turn", None))
    asyncio.run(binding("wss://127.0.0.1:8443/turn", ctx))


if __name__ == "__main__":
    main()
