#!/usr/bin/env bash
# Clients aimed at the wrong port: a TLS ClientHello (openssl s_client) on
# the plain TCP port, a DTLS ClientHello (openssl s_client -dtls1_2) on the
# UDP port, and HTTP requests (curl) on the TCP port. Each must be counted
# in twist_misdirected_total{kind=...} and named in a rate-limited log line
# that says what the client probably is; and the relay must still answer a
# STUN Binding over UDP and TCP afterwards.
#
#   misdirect.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=misdirect
export TWIST_TEST_PORT=${TWIST_TEST_PORT:-3678}
export TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9841}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
HTTP_REQUESTS=5
METRICS=http://127.0.0.1:$TW_METRICS_PORT/metrics

tw_need openssl openssl
tw_need curl curl
tw_need python3 python3
tw_need timeout coreutils
tw_trap
tw_tmpdir

# counter KIND: twist_misdirected_total{kind="KIND"} now.
counter() {
	curl -fsS --max-time 5 "$METRICS" |
		awk -v s="twist_misdirected_total{kind=\"$1\"}" '$1 == s { print $2; f = 1 } END { exit !f }'
}

# wait_counter KIND N: until the counter reaches N (bounded).
wait_counter() {
	local i v=""
	for ((i = 0; i < 100; i++)); do
		v=$(counter "$1") && [ "$v" -ge "$2" ] && return 0
		sleep 0.1
	done
	tw_fail "twist_misdirected_total{kind=\"$1\"} is ${v:-absent}, expected at least $2"
}

# A STUN Binding request over udp or tcp; its success response, checked in Python.
binding() {
	python3 - "$1" 127.0.0.1 "$TW_PORT" <<'PY'
import os, socket, struct, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
tid = os.urandom(12)
req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for _ in range(5):
        s.sendto(req, (host, port))
        try:
            resp = s.recv(2048)
            break
        except socket.timeout:
            continue
    else:
        sys.exit("no answer to a UDP Binding")
else:
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(req)
    resp = b""
    while len(resp) < 20 or len(resp) < 20 + struct.unpack("!H", resp[2:4])[0]:
        chunk = s.recv(2048)
        if not chunk:
            sys.exit("TCP connection closed before a Binding answer")
        resp += chunk
mtype, mlen, cookie = struct.unpack("!HHI", resp[:8])
if mtype != 0x0101 or cookie != 0x2112A442 or resp[8:20] != tid:
    sys.exit("not a Binding success for our transaction: type 0x%04x" % mtype)
body, attrs = resp[20:20 + mlen], set()
while len(body) >= 4:
    t, l = struct.unpack("!HH", body[:4])
    attrs.add(t)
    body = body[4 + ((l + 3) & ~3):]
if 0x0020 not in attrs:
    sys.exit("Binding success without XOR-MAPPED-ADDRESS")
print("Binding over %s answered with XOR-MAPPED-ADDRESS" % proto)
PY
}

tw_start_relay "$BIN"
RELAY_LOG=$TW_TMP/relay.log

# Before anything is sent, nothing is counted: the counters can fail.
for k in tls dtls http; do
	v=$(counter $k) || tw_fail "twist_misdirected_total{kind=\"$k\"} is not exported"
	[ "$v" = 0 ] || tw_fail "twist_misdirected_total{kind=\"$k\"} is $v before any client"
done
binding udp || tw_fail "no Binding answer over UDP before the test"

tw_log "TLS ClientHello to tcp 127.0.0.1:$TW_PORT (openssl s_client)"
timeout -k 2 10 openssl s_client -connect "127.0.0.1:$TW_PORT" -servername turn.example.net \
	</dev/null >"$TW_TMP/s_client-tls.log" 2>&1
wait_counter tls 1

tw_log "DTLS ClientHello to udp 127.0.0.1:$TW_PORT (openssl s_client -dtls1_2)"
# Nothing answers: s_client retransmits until timeout ends it.
timeout -k 2 4 openssl s_client -dtls1_2 -connect "127.0.0.1:$TW_PORT" \
	</dev/null >"$TW_TMP/s_client-dtls.log" 2>&1
wait_counter dtls 1

tw_log "$HTTP_REQUESTS HTTP requests to tcp 127.0.0.1:$TW_PORT (curl)"
t0=$SECONDS
for ((i = 0; i < HTTP_REQUESTS; i++)); do
	curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$TW_PORT/" 2>>"$TW_TMP/curl.log"
	rc=$?
	# 52: empty reply (closed), 56: reset. Anything answering 200 is wrong.
	[ $rc -ne 0 ] || tw_fail "curl got an HTTP answer from a TURN port"
done
elapsed=$((SECONDS - t0))
wait_counter http "$HTTP_REQUESTS"

# The log lines, each naming the likely misconfiguration.
grep -q 'a TLS ClientHello from 127\.0\.0\.1:[0-9]* on tcp 127\.0\.0\.1:'"$TW_PORT"': a turns: (TLS) client aimed at a plain TURN port?' "$RELAY_LOG" ||
	tw_fail "no log line for the TLS ClientHello"
grep -q 'a DTLS record from 127\.0\.0\.1:[0-9]* on udp 127\.0\.0\.1:'"$TW_PORT"': a DTLS client' "$RELAY_LOG" ||
	tw_fail "no log line for the DTLS ClientHello"
grep -q 'an HTTP request from 127\.0\.0\.1:[0-9]* on tcp .*WebSocket.*(starts "GET / HTTP/1\.1\\x0d\\x0aHost' "$RELAY_LOG" ||
	tw_fail "no log line for the HTTP request, with its first bytes escaped"
# Rate-limited: once per worker per 10 s, whatever the number of requests.
workers=$(curl -fsS --max-time 5 "$METRICS" | awk '$1 == "twist_workers" { print $2 }')
lines=$(grep -c 'an HTTP request from' "$RELAY_LOG")
allowed=$((workers * (elapsed / 10 + 1)))
tw_log "$HTTP_REQUESTS HTTP requests in ${elapsed}s on $workers workers: $lines log lines (at most $allowed)"
if [ "$lines" -lt 1 ] || [ "$lines" -gt "$allowed" ]; then
	tw_fail "$lines log lines for $HTTP_REQUESTS HTTP requests: not rate-limited"
fi
grep 'aimed at' "$RELAY_LOG" | sed 's/^/    /'

binding udp || tw_fail "no Binding answer over UDP after the misdirected clients"
binding tcp || tw_fail "no Binding answer over TCP after the misdirected clients"
tw_stop_relay
tw_pass "TLS, DTLS and HTTP clients counted and named; the relay still serves Binding"
