#!/usr/bin/env bash
# The browser page docs/examples/turn-ws.html, in headless Chromium
# (webrtc/turnws_page.mjs), allocates through twist over wss and reaches a
# UDP peer: Allocate with the long-term credential, CreatePermission, a Send
# indication to a Python UDP echo peer, its answer in a Data indication.
# Chromium trusts the relay's certificate because the test CA made here is
# in the NSS database of a temporary HOME (certutil, libnss3-tools); no
# certificate check is switched off. wss on 8449, in a private network
# namespace when lib.sh can make one (no relay on 3478, so no lock).
#
#   turn_ws_page.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=turn_ws_page
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PAGE=$(cd "$HERE/../../docs/examples" && pwd)/turn-ws.html
WSS_PORT=8449
PEER_PORT=3597
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
[ -f "$PAGE" ] || tw_fail "$PAGE is missing"
tw_need node "nodejs (any node >= 18)"
tw_need openssl openssl
tw_need certutil libnss3-tools
tw_need python3 python3
tw_need timeout coreutils
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
	tw_fail "${CHROMIUM:-/usr/bin/chromium} not found: apt-get install chromium (scripts/setup.sh does)"
[ -d "$HERE/webrtc/node_modules/playwright-core" ] ||
	tw_fail "playwright-core is not installed: run scripts/setup.sh, or (cd $HERE/webrtc && npm ci)"
tw_trap
tw_tmpdir
T=$TW_TMP
tw_test_ca "$T"

# Chromium on Linux reads user-added trust from $HOME/.pki/nssdb.
mkdir -p "$T/home/.pki/nssdb"
certutil -d "sql:$T/home/.pki/nssdb" -N --empty-password >>"$T/certutil.log" 2>&1 ||
	tw_fail "certutil -N failed (see $T/certutil.log)"
certutil -d "sql:$T/home/.pki/nssdb" -A -n "twist test CA" -t "C,," -i "$T/ca.pem" \
	>>"$T/certutil.log" 2>&1 || tw_fail "certutil -A failed (see $T/certutil.log)"

cat >"$T/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp] }
  - { address: 127.0.0.1, port: $WSS_PORT, transports: [wss] }
relay: { addresses: [127.0.0.1], port_min: 52000, port_max: 52999 }
auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }
peers: { allow_loopback: true, allow_self: true }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
websocket: { path: /turn }
tls: { cert: "$T/server.pem", key: "$T/server.key" }
YAML
tw_port_free tcp 127.0.0.1 "$WSS_PORT"
tw_port_free udp 127.0.0.1 "$PEER_PORT"
tw_start twist-relay "$T/relay.log" "$BIN" --config "$T/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
tw_wait_port tcp 127.0.0.1 "$WSS_PORT" "$TW_RELAY_PID" 30

# The UDP peer: answers every datagram with "echo:" and the datagram
# (bounded: 120 s, 100 datagrams).
tw_start udp-echo "$T/echo.log" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(1)
end = time.monotonic() + 120
for _ in range(100):
    if time.monotonic() > end:
        break
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    print("from %s:%d: %r" % (a[0], a[1], d), flush=True)
    s.sendto(b"echo:" + d, a)
' "$PEER_PORT"
tw_wait_port udp 127.0.0.1 "$PEER_PORT" "$TW_LAST_PID" 30

MSG=from-the-page
URL="file://$PAGE?url=wss://127.0.0.1:$WSS_PORT/turn&user=$TW_USER&pass=$TW_PASS&peer=127.0.0.1:$PEER_PORT&msg=$MSG"
out=$(cd "$HERE/webrtc" && HOME="$T/home" timeout 150 node turnws_page.mjs "$URL" 2>&1)
rc=$?
printf '%s\n' "$out"
[ $rc -eq 0 ] || tw_fail "the page did not complete its TURN exchange (exit $rc)"
grep -q "\"got\":\"echo:$MSG\"" <<<"$out" || tw_fail "the page did not get the peer's echo"
grep -q "\"protocol\":\"turn\"" <<<"$out" || tw_fail "the page's WebSocket has no subprotocol turn"
grep -q "from 127.0.0.1:5[0-9]*: b'$MSG'" "$T/echo.log" || tw_fail "the peer saw no datagram from the relayed address"
tw_stop_relay
tw_pass "docs/examples/turn-ws.html in Chromium: Allocate over wss, the peer's echo came back"
