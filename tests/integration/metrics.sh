#!/usr/bin/env bash
# Every daemon's /metrics through Prometheus's own checker, and the Grafana
# dashboard against what the daemons really export.
#
#   metrics.sh RELAY SYNCD HA DASHBOARD_JSON
#
# A small HA node on loopback: twist-relay with replication on, its
# twist-syncd in a session with a second twist-syncd, and twist-ha checking
# both and fed keepalived lines through its FIFO. coturn's turnutils_uclient
# makes allocations through the relay, so the labelled series (errors by
# code, requests by method, replicated flows) have samples. Then each
# /metrics page must pass `promtool check metrics` without one complaint,
# and dashboard_check.py must find every metric the dashboard's PromQL
# names in those same scrapes. Both checkers are first shown a bad input
# they must reject, so this test can fail.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=metrics
# Ports of their own (lib.sh runs us in a private namespace when it can).
export TWIST_TEST_PORT=${TWIST_TEST_PORT:-3578}
export TWIST_TEST_PEER_PORT=${TWIST_TEST_PEER_PORT:-3580}
export TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9741}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

RELAY=${1:-}
SYNCD=${2:-}
HA=${3:-}
DASHBOARD=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SYNCD1_METRICS=127.0.0.1:9742
SYNCD2_METRICS=127.0.0.1:9744
HA_METRICS=127.0.0.1:9743
SYNC1_URL=tcp://127.0.0.1:9750
SYNC2_URL=tcp://127.0.0.1:9751

for b in "$RELAY" "$SYNCD" "$HA"; do
	if [ -z "$b" ] || [ ! -x "$b" ]; then
		tw_fail "usage: metrics.sh RELAY SYNCD HA DASHBOARD ('$b' is not executable)"
	fi
done
[ -r "$DASHBOARD" ] || tw_fail "dashboard '$DASHBOARD' not readable"
tw_need promtool prometheus
tw_need curl curl
tw_need python3 python3
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need timeout coreutils
tw_need ss iproute2
tw_trap
tw_tmpdir

# promtool must reject what it exists to reject, or a clean verdict means nothing.
selftest_promtool() {
	local out
	printf '# HELP twist_bad_things bad\n# TYPE twist_bad_things counter\ntwist_bad_things 1\n' >"$TW_TMP/bad.prom"
	out=$(promtool check metrics <"$TW_TMP/bad.prom" 2>&1) &&
		tw_fail "promtool accepts a counter without _total: $out"
	grep -q '_total' <<<"$out" || tw_fail "promtool's complaint does not name _total: $out"
	tw_log "promtool rejects a counter without _total, as it should"
}

# metric_value FILE SERIES: the sample of one exact series ("name{labels}").
metric_value() {
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { exit !f }' "$1"
}

# wait_metric URL SERIES PRED SECONDS: until the series' value satisfies the
# awk predicate on v (e.g. "v > 0").
wait_metric() {
	local url=$1 series=$2 pred=$3 secs=$4 i v
	for ((i = 0; i < secs * 10; i++)); do
		if curl -fsS --max-time 2 -o "$TW_TMP/wait.prom" "$url" 2>/dev/null &&
			v=$(metric_value "$TW_TMP/wait.prom" "$series") &&
			awk -v v="$v" "BEGIN { exit !($pred) }"; then
			return 0
		fi
		sleep 0.1
	done
	tw_fail "$url: $series never satisfied '$pred' within ${secs}s (last: ${v:-absent})"
}

start_relay() {
	local cfg=$TW_TMP/relay.yaml
	mkdir -p "$TW_TMP/n1" "$TW_TMP/n2"
	tw_twist_config "$cfg"
	# Replication wants a nonce secret shared by the pair.
	sed -i "s|^auth: {|auth: { nonce_secret: \"metrics-test-nonce-secret-0123\",|" "$cfg"
	echo "ha: { enabled: true, ipc_dir: \"$TW_TMP/n1\", sync_deadline_ms: 50 }" >>"$cfg"
	sed 's/^/    /' "$cfg"
	tw_port_free udp 127.0.0.1 "$TW_PORT"
	tw_port_free tcp 127.0.0.1 "$TW_PORT"
	tw_start twist-relay "$TW_TMP/relay.log" "$RELAY" --config "$cfg"
	TW_RELAY_PID=$TW_LAST_PID
	tw_wait_port udp 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 30
	tw_wait_http "http://127.0.0.1:$TW_METRICS_PORT/health" "$TW_RELAY_PID" 30
}

start_syncds() {
	echo master >"$TW_TMP/n1/role"
	echo backup >"$TW_TMP/n2/role"
	tw_start twist-syncd-1 "$TW_TMP/syncd1.log" "$SYNCD" --node-id 1 --peer-id 2 \
		--listen "$SYNC1_URL" --peer "$SYNC2_URL" --ipc-dir "$TW_TMP/n1" \
		--role-file "$TW_TMP/n1/role" --metrics "$SYNCD1_METRICS" --load-ms 200
	SYNCD1_PID=$TW_LAST_PID
	tw_start twist-syncd-2 "$TW_TMP/syncd2.log" "$SYNCD" --node-id 2 --peer-id 1 \
		--listen "$SYNC2_URL" --peer "$SYNC1_URL" --ipc-dir "$TW_TMP/n2" \
		--role-file "$TW_TMP/n2/role" --metrics "$SYNCD2_METRICS" --load-ms 200
	SYNCD2_PID=$TW_LAST_PID
	tw_wait_http "http://$SYNCD1_METRICS/health" "$SYNCD1_PID" 30
	wait_metric "http://$SYNCD1_METRICS/metrics" twist_syncd_peer_up 'v == 1' 30
	tw_log "the two twist-syncd are in session"
}

start_ha() {
	local i
	tw_start twist-ha "$TW_TMP/ha.log" "$HA" --fifo "$TW_TMP/fifo" \
		--role-file "$TW_TMP/n1/role" --track-file "$TW_TMP/track" --instance VI_METRICS \
		--relay "127.0.0.1:$TW_METRICS_PORT" --syncd "$SYNCD1_METRICS" \
		--metrics "$HA_METRICS" --interval-ms 100 --timeout-ms 80
	HA_PID=$TW_LAST_PID
	tw_wait_http "http://$HA_METRICS/health" "$HA_PID" 30
	for ((i = 0; i < 100; i++)); do
		[ -p "$TW_TMP/fifo" ] && break
		sleep 0.1
	done
	[ -p "$TW_TMP/fifo" ] || tw_fail "twist-ha did not create its FIFO"
	# What keepalived would write: a line for us, one for another instance,
	# and one that is garbage (a counted parse error).
	printf '%s\n' 'INSTANCE "VI_OTHER" BACKUP 100' 'this is not keepalived' \
		'INSTANCE "VI_METRICS" MASTER 150' >"$TW_TMP/fifo"
	wait_metric "http://$HA_METRICS/metrics" 'twist_ha_state{state="master"}' 'v == 1' 20
	wait_metric "http://$HA_METRICS/metrics" 'twist_ha_health{verdict="healthy"}' 'v == 1' 30
	tw_log "twist-ha is master and healthy"
}

make_traffic() {
	local ulog=$TW_TMP/uclient.log rc
	tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1
	tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$TW_LAST_PID" 10
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $ulog"
	timeout -k 5 60 turnutils_uclient -m 2 -n 20 -u "$TW_USER" -w "$TW_PASS" \
		-e 127.0.0.1 -r "$TW_PEER_PORT" -p "$TW_PORT" 127.0.0.1 </dev/null >"$ulog" 2>&1
	rc=$?
	[ $rc -eq 0 ] || tw_fail "turnutils_uclient exited with status $rc"
	wait_metric "http://127.0.0.1:$TW_METRICS_PORT/metrics" twist_allocations_created_total 'v > 0' 10
	wait_metric "http://$SYNCD1_METRICS/metrics" 'twist_syncd_flows_total{dir="tx"}' 'v > 0' 20
	tw_log "allocations made and replicated"
}

# scrape NAME URL: into $TW_TMP/NAME.prom, then promtool must say nothing.
scrape_check() {
	local name=$1 url=$2 f=$TW_TMP/$1.prom out
	curl -fsS --max-time 5 -o "$f" "$url" || tw_fail "cannot scrape $url"
	[ -s "$f" ] || tw_fail "$url: empty page"
	if ! out=$(promtool check metrics <"$f" 2>&1) || [ -n "$out" ]; then
		tw_fail "promtool check metrics on $name ($url): $out"
	fi
	tw_log "promtool check metrics: $name clean ($(grep -c '^# TYPE' "$f") metrics, $(grep -vc '^#' "$f") samples)"
}

selftest_promtool
start_relay
start_syncds
start_ha
make_traffic

scrape_check relay "http://127.0.0.1:$TW_METRICS_PORT/metrics"
scrape_check syncd-1 "http://$SYNCD1_METRICS/metrics"
scrape_check syncd-2 "http://$SYNCD2_METRICS/metrics"
scrape_check ha "http://$HA_METRICS/metrics"

# What the scrapes must show, beyond being well-formed.
v=$(metric_value "$TW_TMP/ha.prom" 'twist_ha_notify_lines_total{result="malformed"}') ||
	tw_fail "twist-ha does not count malformed FIFO lines"
[ "$v" = 1 ] || tw_fail "twist-ha counted $v malformed FIFO lines, expected 1"
metric_value "$TW_TMP/relay.prom" 'twist_error_responses_total{code="401"}' >/dev/null ||
	tw_fail "the relay shows no 401 answers after uclient authenticated"

python3 "$HERE/dashboard_check.py" --self-test "$DASHBOARD" ||
	tw_fail "dashboard_check.py's self-test failed"
python3 "$HERE/dashboard_check.py" "$DASHBOARD" "$TW_TMP/relay.prom" "$TW_TMP/syncd-1.prom" \
	"$TW_TMP/ha.prom" || tw_fail "the dashboard names metrics no daemon exports"

# Each daemon must stop cleanly on SIGTERM: an ASan leak report fails here.
stop_clean() {
	tw_stop "$2" || tw_fail "$1 (pid $2) did not stop within ${TW_STOP_GRACE}s of SIGTERM"
	tw_forget "$2"
	[ "$TW_STOP_STATUS" = 0 ] || tw_fail "$1 exited with status $TW_STOP_STATUS on SIGTERM (expected 0)"
}
stop_clean twist-ha "$HA_PID"
stop_clean twist-syncd-1 "$SYNCD1_PID"
stop_clean twist-syncd-2 "$SYNCD2_PID"
tw_stop_relay
tw_pass "promtool clean on twist-relay, twist-syncd (x2) and twist-ha; dashboard matches"
