#!/usr/bin/env bash
# RFC 6062 TCP relay allocations with coturn's turnutils_uclient -T: each
# client pair makes two TCP allocations over TCP control connections; one
# side Connects to the other's relayed address (Connect, ConnectionAttempt
# on the other, ConnectionBind on both data connections) and the messages
# go through the byte pipes. Debian's turnutils_peer has no TCP mode, so
# the peers are the uclient pairs themselves (-T implies -y).
# Pass = uclient exits 0, sent == received == CLIENTS*MESSAGES, 0 lost,
# bytes counted in twist_tcp_relay_bytes_total, and a clean relay exit.
#
# Port 3632 (metrics 9652) in a private network namespace (lib.sh), with
# TWIST_UCLIENT_WORKERS workers (2 unless set): most data connections are
# accepted by a worker that does not own their CONNECTION-ID and are handed
# over, counted in twist_tcp_relay_events_total{event="handed_over"}.
#
# With MODE tls (uclient -T -S): the control and data connections are
# TLS (RFC 6062 §4.3), on port 3633 (metrics 9653) of its own namespace;
# TLS data connections move between workers with their TLS session.
#
#   tcp_relay_uclient.sh RELAY_BINARY [tcp|tls]
set -uo pipefail
MODE=${2:-tcp}
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=tcp_relay_uclient$([ "$MODE" = tls ] && echo _tls)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
TW_PORT=3632
TW_METRICS_PORT=9652
UC_PORT=$TW_PORT
UC_TLS=()
TLS_LISTEN=
case $MODE in
tcp) ;;
tls)
	TW_PORT=3634
	TW_METRICS_PORT=9653
	UC_PORT=3633
	UC_TLS=(-S)
	TLS_LISTEN="  - { address: 127.0.0.1, port: $UC_PORT, transports: [tls] }"
	;;
*) tw_fail "mode '$MODE': tcp or tls" ;;
esac
CLIENTS=${TWIST_UCLIENT_CLIENTS:-10}
MESSAGES=${TWIST_UCLIENT_MESSAGES:-200}
WORKERS=${TWIST_UCLIENT_WORKERS:-2}
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need turnutils_uclient coturn
tw_need timeout coreutils
tw_need curl curl
tw_need ss iproute2
tw_trap
tw_tmpdir

tw_port_free tcp 127.0.0.1 "$TW_PORT"
[ "$MODE" = tls ] && tw_port_free tcp 127.0.0.1 "$UC_PORT"
# Every data connection is a new TCP connection from 127.0.0.1, before it
# authenticates: the per-source caps are raised for them.
cat >"$TW_TMP/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp, tcp] }
$TLS_LISTEN
relay: { addresses: [127.0.0.1], port_min: 49152, port_max: 65535 }
workers: $WORKERS
auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }
peers: { allow_loopback: true, allow_self: true }
limits: { tcp_per_source: 1000, tcp_unauth_per_source: 1000 }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
YAML
tw_start twist-relay "$TW_TMP/relay.log" "$BIN" --config "$TW_TMP/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
tw_wait_port tcp 127.0.0.1 "$UC_PORT" "$TW_RELAY_PID" 30
tw_wait_http "http://127.0.0.1:$TW_METRICS_PORT/health" "$TW_RELAY_PID" 30

# -m N makes N sessions in pairs (N even), each sending MESSAGES.
[ $((CLIENTS % 2)) -eq 0 ] || tw_fail "TWIST_UCLIENT_CLIENTS must be even (uclient -T pairs them)"
expected=$((CLIENTS * MESSAGES))
ulog=$TW_TMP/uclient.log
TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $ulog"
cmd=(turnutils_uclient -T "${UC_TLS[@]}" -m "$CLIENTS" -n "$MESSAGES" -u "$TW_USER"
	-w "$TW_PASS" -p "$UC_PORT" 127.0.0.1)
tw_log "running (at most 120s): ${cmd[*]}"
timeout -k 5 120 "${cmd[@]}" </dev/null >"$ulog" 2>&1
rc=$?
[ $rc -eq 124 ] && tw_fail "turnutils_uclient did not finish within 120s"
why=$(tw_uclient_check "$ulog" "$rc" "$expected") || tw_fail "$why"
tw_log "$why"

metrics=$(curl -sf "http://127.0.0.1:$TW_METRICS_PORT/metrics") || tw_fail "no /metrics"
bytes=$(sed -n 's/^twist_tcp_relay_bytes_total{dir="to_peer"} \([0-9]*\)$/\1/p' <<<"$metrics")
bound=$(sed -n 's/^twist_tcp_relay_events_total{event="bound"} \([0-9]*\)$/\1/p' <<<"$metrics")
moved=$(sed -n 's/^twist_tcp_relay_events_total{event="handed_over"} \([0-9]*\)$/\1/p' <<<"$metrics")
tw_log "twist_tcp_relay_bytes_total{dir=to_peer} ${bytes:-none}, bound ${bound:-none}, handed over ${moved:-none} ($WORKERS workers)"
[ "${bytes:-0}" -gt 0 ] || tw_fail "no bytes counted in twist_tcp_relay_bytes_total"
[ "${bound:-0}" -ge "$CLIENTS" ] || tw_fail "only ${bound:-0} data connections bound, expected $CLIENTS"
# With W workers each of the 2*CLIENTS data connections stays put with
# probability 1/W: none moving at all (2^-20 for the defaults) means the
# handover path was not taken.
if [ "$WORKERS" -gt 1 ]; then
	[ "${moved:-0}" -gt 0 ] || tw_fail "no data connection handed over with $WORKERS workers"
fi
tw_stop_relay
tw_pass "uclient -T over $MODE: $expected messages over RFC 6062 connections, none lost"
