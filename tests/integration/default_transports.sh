#!/usr/bin/env bash
# The embedded default (no config) serves every client transport on
# loopback, as the README quick start says:
#
#   default_transports.sh RELAY_BINARY
#
#   TURN over TLS on TCP 5349    turnutils_uclient -t -S
#   TURN over DTLS on UDP 5349   turnutils_uclient -S
#   ws on 8080, wss on 8443      a Binding each (default_transports.py); wss
#                                trusts the relay's throwaway certificate
#                                as fetched from it, hostname checked
#
# Each uclient run: 4 clients x 50 messages to turnutils_peer, none lost.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=default_transports
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
CLIENTS=4
MESSAGES=50
[ "$TW_SERVER" = twist ] || tw_fail "default_transports tests twist's embedded default; TWIST_TEST_SERVER=$TW_SERVER has none"
[ "$TW_PORT" = 3478 ] && [ "$TW_METRICS_PORT" = 9641 ] ||
	tw_fail "the embedded default listens on 3478 and 9641; TWIST_TEST_PORT/TWIST_TEST_METRICS_PORT must not be set"
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need openssl openssl
tw_need python3 python3
tw_need timeout coreutils
tw_trap
tw_tmpdir

for p in "tcp 5349" "udp 5349" "tcp 8080" "tcp 8443"; do
	tw_port_free "${p%% *}" 127.0.0.1 "${p##* }"
done
tw_start_relay "$BIN"
for p in "tcp 5349" "udp 5349" "tcp 8080" "tcp 8443"; do
	tw_wait_port "${p%% *}" 127.0.0.1 "${p##* }" "$TW_RELAY_PID" 30
done
grep -q 'THROWAWAY SELF-SIGNED' "$TW_TMP/relay.log" ||
	tw_fail "the relay did not say its certificate is a throwaway self-signed one"

tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1
tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$TW_LAST_PID" 10

uclient() {
	local name=$1 ulog=$TW_TMP/uclient-$1.log rc why
	shift
	timeout -k 5 120 turnutils_uclient "$@" -m "$CLIENTS" -n "$MESSAGES" -u "$TW_USER" -w "$TW_PASS" \
		-e 127.0.0.1 -r "$TW_PEER_PORT" -p 5349 127.0.0.1 </dev/null >"$ulog" 2>&1
	rc=$?
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $ulog"
	why=$(tw_uclient_check "$ulog" "$rc" $((CLIENTS * MESSAGES))) || tw_fail "uclient $name on 5349: $why"
	tw_log "uclient $name on 5349: $why"
}
uclient tls -t -S
uclient dtls -S

# The certificate as the relay serves it: trusted as is, checked by name.
timeout 10 openssl s_client -connect 127.0.0.1:8443 -servername localhost </dev/null 2>/dev/null |
	sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' >"$TW_TMP/relay-cert.pem"
[ -s "$TW_TMP/relay-cert.pem" ] || tw_fail "could not fetch the relay's certificate from 8443"
# Debian's python3-websockets is on /usr/bin/python3, not on a python3
# another install may put first on PATH.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
timeout 60 "$PY" "$(dirname "$0")/default_transports.py" "$TW_TMP/relay-cert.pem" ||
	tw_fail "ws/wss Binding on the embedded default failed"
tw_stop_relay
tw_pass "the embedded default serves tls and dtls on 5349, ws on 8080 and wss on 8443"
