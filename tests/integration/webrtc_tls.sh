# shellcheck shell=bash
# The tls mode of webrtc.sh (sourced from it, after tw_trap and tw_tmpdir):
# Chromium over turns: with a test CA it is honestly told about. See the
# header of webrtc.sh for the three runs.

tw_need openssl openssl
tw_need certutil libnss3-tools
tw_need curl curl
T=$TW_TMP
METRICS=http://127.0.0.1:$TW_METRICS_PORT/metrics
# A refusal ends as soon as ICE gathering does; 5 messages are plenty there.
REFUSED_COUNT=5

# --- a test CA and a server certificate for the relay's address ---
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || tw_fail "openssl $1 failed (see $T/openssl.log)"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=twist webrtc test CA" -keyout "$T/ca.key" -out "$T/ca.pem"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=twist webrtc test" \
	-keyout "$T/server.key" -out "$T/server.csr"
# Chromium checks TURN-TLS names like HTTPS ones: the SAN must hold the IP
# in the turns: URL; serverAuth as a browser expects of a leaf.
ossl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	-extfile <(printf 'subjectAltName=IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n') \
	-out "$T/server.pem"

# nss_home DIR [CA]: a HOME with an NSS database, holding CA trusted for TLS
# servers when given. Chromium on Linux reads $HOME/.pki/nssdb.
nss_home() {
	local db=$1/.pki/nssdb
	mkdir -p "$db" || tw_fail "mkdir $db"
	certutil -N -d "sql:$db" --empty-password >>"$T/certutil.log" 2>&1 ||
		tw_fail "certutil -N failed (see $T/certutil.log)"
	[ $# -lt 2 ] && return 0
	certutil -A -d "sql:$db" -n "twist webrtc test CA" -t "C,," -i "$2" >>"$T/certutil.log" 2>&1 ||
		tw_fail "certutil -A failed (see $T/certutil.log)"
	certutil -L -d "sql:$db" | grep -q "twist webrtc test CA *C,," ||
		tw_fail "the CA is not in $db as trusted: $(certutil -L -d "sql:$db")"
}
nss_home "$T/home-noca"
nss_home "$T/home-ca" "$T/ca.pem"

# tls_config FILE [CERT KEY]: a tls listener only; no tls.cert means the
# relay's throwaway self-signed certificate.
tls_config() {
	{
		echo "listen: [{ address: 127.0.0.1, port: $TW_PORT, transports: [tls] }]"
		echo "relay: { addresses: [127.0.0.1], port_min: 49152, port_max: 65535 }"
		echo "auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }"
		echo "peers: { allow_loopback: true, allow_self: false }"
		echo "metrics: { enabled: true, listen: \"127.0.0.1:$TW_METRICS_PORT\" }"
		echo "control: { socket: \"\" }"
		[ $# -lt 3 ] || echo "tls: { cert: \"$2\", key: \"$3\" }"
	} >"$1"
}

start_tls_relay() { # YAML
	tw_log "config $1:"
	sed 's/^/    /' "$1"
	tw_port_free tcp 127.0.0.1 "$TW_PORT"
	tw_start twist-relay "$T/relay-$(basename "$1" .yaml).log" "$BIN" --config "$1"
	TW_RELAY_PID=$TW_LAST_PID
	tw_wait_port tcp 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 30
	tw_wait_http "$METRICS" "$TW_RELAY_PID" 30
}

# hs RESULT: twist_tls_handshakes_total{result=RESULT} now.
hs() {
	curl -fsS --max-time 5 "$METRICS" |
		awk -v s="twist_tls_handshakes_total{result=\"$1\"}" '$1 == s { print $2; f = 1 } END { exit !f }' ||
		tw_fail "no twist_tls_handshakes_total{result=\"$1\"} in $METRICS"
}

# refused WHAT: Chromium without the CA must fail, at the certificate: an
# ICE candidate error on the turns: URL, and no handshake the relay saw
# complete, though it saw some fail.
refused() {
	local ok0 ok1 bad
	ok0=$(hs ok)
	run_webrtc "$REFUSED_COUNT" HOME="$T/home-noca"
	[ "$RC" -eq 1 ] || tw_fail "$1: webrtc.mjs status $RC, expected 1 (a refusal)"
	grep -q "icecandidateerror turns:" "$T/webrtc.out" ||
		tw_fail "$1: Chromium failed, but without an ICE candidate error on the turns: URL"
	ok1=$(hs ok)
	bad=$(hs other)
	[ "$ok1" -eq "$ok0" ] || tw_fail "$1: $((ok1 - ok0)) TLS handshakes completed without the CA"
	[ "$bad" -ge 1 ] || tw_fail "$1: the relay counted no failed TLS handshake"
	tw_log "$1: refused by Chromium (handshakes ok $ok0 -> $ok1, failed $bad)"
}

# --- 1 and 2: the CA's certificate, first untrusted, then trusted ---
tls_config "$T/ca.yaml" "$T/server.pem" "$T/server.key"
start_tls_relay "$T/ca.yaml"
refused "CA-signed certificate, CA not installed"
run_webrtc "$COUNT" HOME="$T/home-ca"
[ "$RC" -eq 0 ] || tw_fail "Chromium over turns: with the CA installed failed (webrtc.mjs status $RC)"
[ "$(hs ok)" -ge 1 ] || tw_fail "no completed TLS handshake counted"
tw_stop_relay

# --- 3: the throwaway self-signed certificate, CA not installed ---
tls_config "$T/self.yaml"
start_tls_relay "$T/self.yaml"
grep -q "THROWAWAY SELF-SIGNED" "$T/relay-self.log" || tw_fail "no self-signed certificate announced"
refused "self-signed certificate"
tw_stop_relay
tw_pass "$COUNT data-channel messages over turns: with the test CA trusted; refused without it and with the self-signed certificate"
