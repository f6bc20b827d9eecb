#!/usr/bin/env bash
# TURN over TLS (RFC 8656 §3.2) on a tls listener, port 5350, in a private
# network namespace when lib.sh can make one.
#
#   tls.sh RELAY_BINARY
#
#  1. Start-up refuses a missing certificate and a key that does not match
#     it, naming the problem.
#  2. With a test CA's server certificate: turnutils_uclient -t -S relays
#     (UDP allocations, TLS to the relay) with every message back; openssl
#     s_client -tls1_1 gets a protocol_version alert, a TLS 1.2 client with
#     only AES128-SHA a handshake_failure one; -alpn stun.turn
#     negotiates stun.turn and verifies against the CA; a connection that
#     never completes its handshake is closed at the request deadline and
#     counted as an incomplete handshake.
#  3. SIGHUP with a new certificate serves it to new connections; SIGHUP
#     with a broken one keeps the running one.
#  4. Without tls.cert: the throwaway self-signed certificate, announced in
#     the log, with the loopback names in its subjectAltName; uclient again.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=tls
TWIST_TEST_PORT=${TWIST_TEST_PORT:-5350}
TWIST_TEST_PEER_PORT=${TWIST_TEST_PEER_PORT:-5351}
TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9652}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DEADLINE_MS=1500 # limits.tcp_request_deadline_ms: the stalled handshake's end
TLS_KIND=tls TLS_PROTO=tcp TLS_UCLIENT="-t -S" TLS_PORTS="53000 53999"
TLS_EXTRA="limits: { tcp_request_deadline_ms: $DEADLINE_MS }"
# shellcheck source=tls_lib.sh
. "$(dirname "$0")/tls_lib.sh"

# --- 1. start-up refusals ---
refused_start() { # TAG CERT KEY WANT
	config "$T/$1.yaml" "$2" "$3"
	timeout -k 5 60 "$BIN" --config "$T/$1.yaml" >"$T/$1.log" 2>&1 &&
		tw_fail "$1: the relay started"
	grep -q "$4" "$T/$1.log" || tw_fail "$1: no '$4' in: $(tail -n3 "$T/$1.log")"
	tw_log "$1: refused at start: $(grep -m1 "$4" "$T/$1.log")"
}
refused_start missing "$T/nonexistent.pem" "$T/one.key" "tls.cert: cannot load"
refused_start mismatch "$T/one.pem" "$T/two.key" "tls.key does not match tls.cert"

# --- 2. the test CA's certificate ---
cp "$T/one.pem" "$T/live.pem"
cp "$T/one.key" "$T/live.key"
config "$T/relay.yaml" "$T/live.pem" "$T/live.key"
start_relay "$T/relay.yaml"
uclient ca
ok=$(metric twist_tls_handshakes_total 'result="ok"') || tw_fail "no handshake counter"
[ "$ok" -ge 2 ] || tw_fail "twist_tls_handshakes_total{result=\"ok\"} is $ok after uclient"

s_client tls11 -tls1_1
[ $S_RC -ne 0 ] || tw_fail "TLS 1.1 handshake succeeded"
grep -q "alert protocol version" "$T/s_client-tls11.out" ||
	tw_fail "TLS 1.1 refused without a protocol_version alert: $(grep -m2 -i error "$T/s_client-tls11.out")"
v=$(metric twist_tls_handshakes_total 'result="version"') || tw_fail "no version counter"
[ "$v" -ge 1 ] || tw_fail "the TLS 1.1 refusal was not counted (version=$v)"
tw_log "TLS 1.1: protocol_version alert, counted (version=$v)"

# TLS 1.2 with only a non-forward-secret, non-AEAD suite: no shared cipher.
s_client rsa -tls1_2 -cipher AES128-SHA
[ $S_RC -ne 0 ] || tw_fail "a TLS 1.2 handshake with AES128-SHA succeeded"
grep -q "alert handshake failure" "$T/s_client-rsa.out" ||
	tw_fail "AES128-SHA refused without a handshake_failure alert"
v=$(metric twist_tls_handshakes_total 'result="no_cipher"') || tw_fail "no no_cipher counter"
[ "$v" -eq 1 ] || tw_fail "twist_tls_handshakes_total{result=\"no_cipher\"} is $v, want 1"
tw_log "TLS 1.2 AES128-SHA: handshake_failure alert, counted (no_cipher=$v)"

s_client alpn -alpn stun.turn -CAfile "$T/ca.pem" -verify_return_error -verify_ip 127.0.0.1
[ $S_RC -eq 0 ] || tw_fail "s_client -alpn stun.turn failed: $(tail -n3 "$T/s_client-alpn.out")"
grep -q "^ALPN protocol: stun.turn" "$T/s_client-alpn.out" || tw_fail "stun.turn not negotiated"
grep -q "Verify return code: 0 (ok)" "$T/s_client-alpn.out" || tw_fail "certificate not verified"
grep -q "subject=CN = twist $TW_NAME one" "$T/s_client-alpn.out" || tw_fail "not certificate one"
s_client alpnh2 -alpn h2
grep -q "No ALPN negotiated" "$T/s_client-alpnh2.out" ||
	tw_fail "ALPN without stun.turn: expected the handshake to go on without ALPN"
tw_log "ALPN: stun.turn negotiated, verified against the test CA; h2 alone: none chosen"

# A TCP connection that never sends its ClientHello: closed by the relay at
# the request deadline (the handshake counts against it), and counted.
inc0=$(metric twist_tls_handshakes_total 'result="incomplete"') || tw_fail "no incomplete counter"
dl0=$(metric twist_tcp_closed_total 'reason="request_deadline"') || tw_fail "no close counter"
out=$(timeout -k 5 30 python3 - "$TW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"\x16\x03\x01")  # the first bytes of a record, then nothing
try:
    data = s.recv(100)
    print("closed" if data == b"" else "data %r" % data)
except ConnectionResetError:
    print("closed")
except socket.timeout:
    print("open after 20 s")
PY
)
[ "$out" = closed ] || tw_fail "stalled handshake: $out (expected the relay to close it)"
inc1=$(metric twist_tls_handshakes_total 'result="incomplete"')
dl1=$(metric twist_tcp_closed_total 'reason="request_deadline"')
[ "$inc1" -eq $((inc0 + 1)) ] || tw_fail "incomplete handshakes $inc0 -> $inc1 (expected +1)"
[ "$dl1" -eq $((dl0 + 1)) ] || tw_fail "request_deadline closes $dl0 -> $dl1 (expected +1)"
tw_log "stalled handshake closed at the deadline; incomplete $inc0 -> $inc1"

# --- 3. SIGHUP: a new certificate, then a broken one ---
# wait_subject CN: until new connections see it (the reload is asynchronous).
wait_subject() {
	local i
	for ((i = 0; i < 50; i++)); do
		s_client hup -CAfile "$T/ca.pem"
		grep -q "subject=CN = $1" "$T/s_client-hup.out" && return 0
		sleep 0.2
	done
	tw_fail "after SIGHUP new connections do not see '$1'"
}
cp "$T/two.pem" "$T/live.pem"
cp "$T/two.key" "$T/live.key"
kill -HUP "$TW_RELAY_PID"
wait_subject "twist $TW_NAME two"
echo "not a certificate" >"$T/live.pem"
kill -HUP "$TW_RELAY_PID"
for ((i = 0; i < 50; i++)); do
	grep -q "keeping the running certificate" "$T/relay.log" && break
	sleep 0.2
done
grep -q "keeping the running certificate" "$T/relay.log" || tw_fail "broken certificate: nothing logged"
wait_subject "twist $TW_NAME two"
tw_log "SIGHUP: certificate two served; a broken file kept it"
tw_stop_relay

# --- 4. no tls.cert: the throwaway self-signed certificate ---
: >"$T/relay.log"
config "$T/self.yaml"
start_relay "$T/self.yaml"
grep -q "THROWAWAY SELF-SIGNED" "$T/relay.log" || tw_fail "the self-signed certificate was not announced"
uclient self-signed
s_client self -alpn stun.turn -showcerts
grep -q "^ALPN protocol: stun.turn" "$T/s_client-self.out" || tw_fail "self-signed: no stun.turn"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/s_client-self.out" >"$T/self.pem"
san=$(openssl x509 -in "$T/self.pem" -noout -ext subjectAltName 2>&1) || tw_fail "no certificate: $san"
for want in "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1" "DNS:localhost"; do
	grep -q "$want" <<<"$san" || tw_fail "self-signed SAN lacks $want: $san"
done
tw_log "self-signed: $(tr -s ' \n' ' ' <<<"$san")"
tw_stop_relay
tw_pass "TLS relaying with a CA and a self-signed certificate, old versions alerted, ALPN, deadline, reload"
