#!/usr/bin/env bash
# The M-ICE home agent (docs/mice.md §4) on loopback, driven by a Python
# mobile node and correspondent node (mice_ha.py) whose encoder is written
# independently of proto/mice*.c (mice_mh.py): registrations, an offer in
# an authenticated Binding Update relayed to the correspondent, its answer
# relayed back in the Binding Acknowledgement, refusals (unauthenticated,
# wrong key, replayed sequence number), STUN Binding with FINGERPRINT
# answered on the same port and STUN without it not taken as STUN; then
# the twist_mice_* counters.
#
#   mice_ha.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=mice_ha
export TWIST_TEST_PORT=${TWIST_TEST_PORT:-3702}
export TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9842}
MICE_PORT=${TWIST_TEST_MICE_PORT:-14191}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
tw_need python3 python3
tw_need curl curl
tw_need ss iproute2
tw_trap
tw_tmpdir

[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found or not executable (build first)"
for a in 127.0.0.1 ::1; do
	tw_port_free udp $a "$TW_PORT"
	tw_port_free udp $a "$MICE_PORT"
done
cat >"$TW_TMP/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp] }
  - { address: "::1", port: $TW_PORT, transports: [udp] }
relay: { addresses: [127.0.0.1, "::1"] }
auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
workers: 2
mice:
  enabled: true
  port: $MICE_PORT
  keys:
    - { spi: 4096, key: "mobile-node-shared-key-1", home: "2001:db8:1::10" }
    - { spi: 8192, key: "correspondent-shared-key", home: "2001:db8:1::20" }
  max_lifetime: 600
  rate: 50
  burst: 100
YAML
sed 's/^/    /' "$TW_TMP/relay.yaml"
tw_start twist-relay "$TW_TMP/relay.log" "$BIN" --config "$TW_TMP/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
for a in 127.0.0.1 ::1; do tw_wait_port udp $a "$MICE_PORT" "$TW_RELAY_PID" 30; done
tw_wait_http "http://127.0.0.1:$TW_METRICS_PORT/health" "$TW_RELAY_PID" 30

python3 "$(dirname "$0")/mice_ha.py" 127.0.0.1 "$MICE_PORT" "http://127.0.0.1:$TW_METRICS_PORT/metrics" ||
	tw_fail "mice_ha.py failed over IPv4"
python3 "$(dirname "$0")/mice_ha.py" ::1 "$MICE_PORT" "" --again ||
	tw_fail "mice_ha.py failed over IPv6"
grep -q "mice: home agent on udp port $MICE_PORT" "$TW_TMP/relay.log" ||
	tw_fail "no start-up line for the home agent"
tw_stop_relay
tw_pass "home agent: offer and answer relayed, refusals with status, STUN by FINGERPRINT"
