#!/usr/bin/env bash
# TURN over WebSocket with a client nobody here wrote: the TURN client of the
# npm package turn-server (pinned in turnws/package-lock.json, installed by
# scripts/setup.sh with npm ci), driven by turnws/turnws.mjs.
#
#   turnws.sh RELAY_BINARY
#
# The relay has a ws listener on 127.0.0.1:8082 (path /turn), in a private
# network namespace when lib.sh can make one (no relay on 3478, no lock).
#  1. auth.sha256: false. The client as shipped (no subprotocol), then the
#     same offering subprotocol `turn` as a browser would: Allocate,
#     CreatePermission, 100 Send/Data indications, ChannelBind, 1,000
#     ChannelData messages echoed by a UDP peer, Refresh 0; none lost.
#     The metrics must show both upgrades, no refusal, no close error, and
#     neither connection nor allocation left afterwards.
#  2. The default auth (SHA-256 offered, RFC 8489 §9.2.4): turn-server
#     0.6.6 answers the 401 with PASSWORD-ALGORITHM but without
#     PASSWORD-ALGORITHMS, which the RFC says a server must refuse with
#     400. The run checks that twist does exactly that.
#  3. The same exchange as 1 over wss (127.0.0.1:8447, certificate from a
#     test CA made here, given to the client with --ca), and over wss on a
#     port shared with TURN over TLS (8448, [tls, wss]).
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=turnws
TWIST_TEST_PORT=${TWIST_TEST_PORT:-3596}
TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9696}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
JS=$HERE/turnws
WS_PORT=8082
URL=ws://127.0.0.1:$WS_PORT/turn
WSS_PORT=8447
SHARED_PORT=8448
METRICS=http://127.0.0.1:$TW_METRICS_PORT/metrics
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need node nodejs
tw_need ss iproute2
tw_need curl curl
tw_need timeout coreutils
tw_need openssl openssl
want=$(sed -n 's/.*"turn-server": *"\([^"]*\)".*/\1/p' "$JS/package.json" | head -n1)
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$JS/node_modules/turn-server/package.json" 2>/dev/null | head -n1)
if [ -z "$want" ] || [ "$have" != "$want" ] || [ ! -f "$JS/node_modules/ws/package.json" ]; then
	tw_fail "turn-server $want is not installed in $JS (have '${have:-none}'):" \
		"run scripts/setup.sh, or (cd $JS && npm ci --omit=optional --ignore-scripts)"
fi
tw_trap
tw_tmpdir
tw_test_ca "$TW_TMP"

# start_relay SHA256: a relay with UDP on TW_PORT and ws on WS_PORT.
start_relay() {
	cat >"$TW_TMP/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp] }
  - { address: 127.0.0.1, port: $WS_PORT, transports: [ws] }
  - { address: 127.0.0.1, port: $WSS_PORT, transports: [wss] }
  - { address: 127.0.0.1, port: $SHARED_PORT, transports: [tls, wss] }
relay: { addresses: [127.0.0.1], port_min: 52000, port_max: 52999 }
auth: { realm: $TW_REALM, sha256: $1, users: [{ name: $TW_USER, password: $TW_PASS }] }
peers: { allow_loopback: true }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
websocket: { path: /turn }
tls: { cert: "$TW_TMP/server.pem", key: "$TW_TMP/server.key" }
YAML
	tw_port_free udp 127.0.0.1 "$TW_PORT"
	tw_port_free tcp 127.0.0.1 "$WS_PORT"
	tw_port_free tcp 127.0.0.1 "$WSS_PORT"
	tw_port_free tcp 127.0.0.1 "$SHARED_PORT"
	tw_start twist-relay "$TW_TMP/relay-$1.log" "$BIN" --config "$TW_TMP/relay.yaml"
	TW_RELAY_PID=$TW_LAST_PID
	tw_wait_port tcp 127.0.0.1 "$WS_PORT" "$TW_RELAY_PID" 30
	tw_wait_http "http://127.0.0.1:$TW_METRICS_PORT/health" "$TW_RELAY_PID" 30
}

# run_client LABEL ARGS...: turnws.mjs must exit 0 (its own bounds: 120 s).
run_client() {
	local label=$1
	shift
	tw_log "turn-server client: $label"
	(cd "$JS" && timeout 180 node turnws.mjs "$@") || tw_fail "turn-server client: $label"
}

# metric NAME: the sum of every sample of NAME (0 when it has none); fails
# when the scrape fails or the relay does not export NAME at all.
metric() {
	local page
	page=$(curl -fsS --max-time 5 "$METRICS") || tw_fail "cannot scrape $METRICS"
	grep -q "^# TYPE $1 " <<<"$page" || tw_fail "$METRICS has no $1"
	awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }' <<<"$page"
}

# metric_is NAME VALUE: wait (bounded) until NAME sums to VALUE.
metric_is() {
	local i v
	for ((i = 0; i < 50; i++)); do
		v=$(metric "$1") || exit 1
		[ "$v" = "$2" ] && return 0
		sleep 0.2
	done
	tw_fail "$1 is $v, expected $2"
}

# 1. the full exchange, twice
start_relay false
run_client "as shipped (no subprotocol)" "$URL" --count 1000 --indications 100
run_client "offering subprotocol turn" "$URL" --count 1000 --indications 100 --subprotocol turn
run_client "wss" "wss://127.0.0.1:$WSS_PORT/turn" --count 1000 --indications 100 \
	--ca "$TW_TMP/ca.pem"
run_client "wss on the port shared with tls" "wss://127.0.0.1:$SHARED_PORT/turn" --count 1000 \
	--indications 100 --subprotocol turn --ca "$TW_TMP/ca.pem"
metric_is twist_ws_upgraded_total 4
metric_is twist_ws_refused_total 0
metric_is twist_ws_errors_total 0
metric_is twist_ws_connections 0
metric_is twist_ws_allocations 0
tw_stop_relay

# 2. SHA-256 offered: the client's answer to the 401 is refused with 400
start_relay true
run_client "SHA-256 offered: 400 expected" "$URL" --expect-refusal 400
metric_is twist_ws_upgraded_total 1
tw_stop_relay

tw_pass "turn-server $have over ws and wss: 4 x (100 indications + 1000 ChannelData), none lost; its SHA-256 answer refused with 400"
