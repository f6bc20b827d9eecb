# shellcheck shell=bash
# What tls.sh and dtls.sh share, sourced after lib.sh. The caller sets:
#   TLS_KIND     tls or dtls (the listen transport, and the log's word)
#   TLS_PROTO    tcp or udp (what the listener binds)
#   TLS_UCLIENT  turnutils_uclient's flags for it: "-t -S" or "-S"
#   TLS_PORTS    the relay port range, "MIN MAX"
#   TLS_EXTRA    optional: one more YAML line for config()
# and gets BIN, METRICS, T (the scratch directory with a test CA and the
# certificates one and two), config, metric, start_relay, uclient, s_client
# and a running turnutils_peer.

BIN=${1:-}
METRICS=http://127.0.0.1:$TW_METRICS_PORT/metrics
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need openssl openssl
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need python3 python3
tw_need curl curl
tw_need timeout coreutils
tw_need ss iproute2
tw_trap
tw_tmpdir
T=$TW_TMP

# --- certificates: a test CA and two server certificates it signs ---
tw_test_ca "$T" one two

# config FILE [CERT KEY]: the listener, plus TLS keys when given.
config() {
	local ports
	read -r -a ports <<<"$TLS_PORTS"
	{
		echo "listen: [{ address: 127.0.0.1, port: $TW_PORT, transports: [$TLS_KIND] }]"
		echo "relay: { addresses: [127.0.0.1], port_min: ${ports[0]}, port_max: ${ports[1]} }"
		echo "auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }"
		echo "peers: { allow_loopback: true, allow_self: true }"
		echo "metrics: { enabled: true, listen: \"127.0.0.1:$TW_METRICS_PORT\" }"
		echo "control: { socket: \"\" }"
		echo "compat: { rfc5766_channels: true }"
		[ -z "${TLS_EXTRA:-}" ] || echo "$TLS_EXTRA"
		[ $# -lt 3 ] || echo "tls: { cert: \"$2\", key: \"$3\" }"
	} >"$1"
}

# metric NAME [LABELS]: its value now, e.g. metric twist_tls_handshakes_total 'result="ok"'.
metric() {
	local s=$1
	[ $# -lt 2 ] || s="$1{$2}"
	curl -fsS --max-time 5 "$METRICS" | awk -v s="$s" '$1 == s { print $2; f = 1 } END { exit !f }'
}

start_relay() { # YAML
	tw_port_free "$TLS_PROTO" 127.0.0.1 "$TW_PORT"
	tw_start twist-relay "$T/relay.log" "$BIN" --config "$1"
	TW_RELAY_PID=$TW_LAST_PID
	tw_wait_port "$TLS_PROTO" 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 30
	tw_wait_http "$METRICS" "$TW_RELAY_PID" 30
}

# uclient TAG: 2 clients x 20 messages over TLS_KIND, UDP relayed; all back.
uclient() {
	local logf=$T/uclient-$1.log rc why
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $logf"
	# shellcheck disable=SC2086 # TLS_UCLIENT is a list of flags
	timeout -k 5 120 turnutils_uclient $TLS_UCLIENT -m 2 -n 20 -u "$TW_USER" -w "$TW_PASS" \
		-e 127.0.0.1 -r "$TW_PEER_PORT" -p "$TW_PORT" 127.0.0.1 </dev/null >"$logf" 2>&1
	rc=$?
	[ $rc -ne 124 ] || tw_fail "turnutils_uclient ($1) did not finish within 120 s"
	why=$(tw_uclient_check "$logf" "$rc" 40) || tw_fail "uclient over $TLS_KIND ($1): $why"
	tw_log "uclient over $TLS_KIND ($1): $why"
}

# s_client TAG [ARGS...]: one connection or DTLS session, output in $T/s_client-TAG.out.
s_client() {
	local tag=$1
	shift
	echo Q | timeout -k 5 20 openssl s_client -connect "127.0.0.1:$TW_PORT" "$@" \
		>"$T/s_client-$tag.out" 2>&1
	# shellcheck disable=SC2034 # read by the caller
	S_RC=$?
}

tw_start turnutils_peer "$T/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1
tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$TW_LAST_PID" 10
