#!/usr/bin/env bash
# wss and shared ports (docs/websocket.md §3): wss_turn.py against twist-relay
# with [wss] on 8444, [tls, wss] on 8445 and [tcp, ws] on 8083, certificates
# from a test CA made here, in a private network namespace when lib.sh can
# make one (no relay on 3478, so no lock). Then openssl s_client shows the
# ALPN switch on the shared TLS port: stun.turn answers a STUN Binding as
# TURN over TLS, http/1.1 gets the WebSocket handshake.
#
#   wss_turn.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=wss_turn
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
WSS_PORT=8444
TLS_WSS_PORT=8445
TCP_WS_PORT=8083
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need python3 python3
tw_need openssl openssl
tw_need timeout coreutils
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import websockets' 2>/dev/null ||
	tw_fail "python3-websockets is not installed for $PY (apt-get install python3-websockets)"
tw_trap
tw_tmpdir
T=$TW_TMP

tw_test_ca "$T"

for p in $WSS_PORT $TLS_WSS_PORT $TCP_WS_PORT; do tw_port_free tcp 127.0.0.1 "$p"; done
timeout 240 "$PY" "$(dirname "$0")/wss_turn.py" "$BIN" "$WSS_PORT" "$TLS_WSS_PORT" "$TCP_WS_PORT" \
	"$T/ca.pem" "$T/server.pem" "$T/server.key" || tw_fail "wss_turn.py failed"

# --- the ALPN switch, seen by openssl s_client ---
cat >"$T/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp] }
  - { address: 127.0.0.1, port: $TLS_WSS_PORT, transports: [tls, wss] }
relay: { addresses: [127.0.0.1], port_min: 52000, port_max: 52999 }
auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
tls: { cert: "$T/server.pem", key: "$T/server.key" }
YAML
tw_port_free tcp 127.0.0.1 "$TLS_WSS_PORT"
tw_start twist-relay "$T/relay.log" "$BIN" --config "$T/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
tw_wait_port tcp 127.0.0.1 "$TLS_WSS_PORT" "$TW_RELAY_PID" 30

# s_client TAG INPUT ARGS...: INPUT written after the handshake; the
# client waits for the answer (-ign_eof) within a bounded time.
s_client() {
	local tag=$1 input=$2
	shift 2
	{
		printf '%b' "$input"
		sleep 2
	} | timeout -k 5 20 openssl s_client -connect "127.0.0.1:$TLS_WSS_PORT" -CAfile "$T/ca.pem" \
		-verify_return_error -verify_ip 127.0.0.1 -ign_eof -quiet "$@" >"$T/s_client-$tag.out" 2>"$T/s_client-$tag.err"
}
# A Binding request: type 0x0001, length 0, the magic cookie, a transaction ID.
BINDING='\x00\x01\x00\x00\x21\x12\xa4\x42twistalpn123'
s_client stun "$BINDING" -alpn stun.turn
# The success response starts 0x0101; the XOR'd transaction ID comes back whole.
od -An -c "$T/s_client-stun.out" | tr -d ' \n' | grep -q 'twistalpn123' ||
	tw_fail "ALPN stun.turn: no Binding response over TLS: $(od -An -c "$T/s_client-stun.out" | head -n3)"
head -c2 "$T/s_client-stun.out" | od -An -tx1 | grep -q '01 01' ||
	tw_fail "ALPN stun.turn: the answer is not a Binding success"
REQ='GET /turn HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
s_client http "$REQ" -alpn http/1.1
grep -q '^HTTP/1.1 101 ' "$T/s_client-http.out" ||
	tw_fail "ALPN http/1.1: no WebSocket handshake: $(head -n3 "$T/s_client-http.out")"
# RFC 6455 §1.3's own example key and accept value.
grep -q 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' "$T/s_client-http.out" || tw_fail "ALPN http/1.1: wrong accept key"
tw_stop_relay

tw_pass "wss, the ALPN switch and the first-byte switch"
