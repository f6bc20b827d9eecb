#!/bin/bash
# A failover keeps ChannelData on the fast path (docs/fastpath.md, "HA"):
# the pair lab (deploy/lab/pair.sh) under a prefix of its own (fp15p...)
# with fastpath.enabled on for both relays, turnmon.py clients relaying
# ChannelData to the UDP echo through the VIP.
#
#   1. both nodes attach the program; the active's program carries the
#      clients' channels (twist_fastpath_packets_total grows);
#   2. before the failover the standby's maps already hold every channel
#      the active's hold (twist_fastpath_entries, filled from the
#      replicated tuples), and its program has carried nothing;
#   3. SIGKILL of everything on the active (pair.sh fail-active kill);
#      the clients' traffic resumes through the standby, keeping its
#      relayed addresses, with no 437 or 438 (turnmon.py's checks);
#   4. the new active's twist_fastpath_packets_total grows in both
#      directions: its maps, built before it held the VIP, carried it.
#
# The gap is printed, never judged. Needs root; TWIST_BIN names the binaries.
set -u
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=fastpath_failover
# Its own lab: the other chaos tests' labs may be up at the same time.
export TWIST_LAB=${TWIST_LAB:-fp15p$(printf '%s' "${TWIST_BIN:-}" | cksum | cut -c1-5)}
export TWIST_LAB_FASTPATH=on
. "$(dirname "$0")/lib.sh"

CLIENTS=${TWIST_CHAOS_CLIENTS:-4}
RATE=${TWIST_CHAOS_RATE:-100}

fast() { # NODE DIR
	local v
	v=$(metric "$1" "$RELAY_METRICS" "twist_fastpath_packets_total{dir=\"$2\"}")
	echo "${v:-0}"
}

entries() {
	local v
	v=$(metric "$1" "$RELAY_METRICS" twist_fastpath_entries)
	echo "${v:-0}"
}

chaos_require
command -v bpftool >/dev/null || {
	echo "chaos: FAIL: bpftool not found (apt-get install bpftool)" >&2
	exit 1
}
lab_up
for n in a b; do
	[ "$(metric "$n" "$RELAY_METRICS" twist_fastpath_enabled)" = 1 ] || {
		fail "node $n: twist_fastpath_enabled is not 1 (see $LAB_DIR/$n/relay.log)"
		exit 1
	}
done
log "both relays attached the program"

traffic main --clients "$CLIENTS" --rate "$RATE" --duration 8
expect_synced b a
_fast_on_a() { [ "$(fast a client_to_peer)" -gt 0 ] && [ "$(fast a peer_to_client)" -gt 0 ]; }
wait_for 300 _fast_on_a || fail "the active's program carried nothing: client_to_peer" \
	"$(fast a client_to_peer), peer_to_client $(fast a peer_to_client)"
# Every client binds one channel; the standby's maps fill from the tuples.
_maps_ready() { [ "$(entries a)" -ge "$CLIENTS" ] && [ "$(entries b)" = "$(entries a)" ]; }
wait_for 300 _maps_ready
ea=$(entries a)
eb=$(entries b)
if [ "$ea" -lt "$CLIENTS" ] || [ "$eb" != "$ea" ]; then
	fail "before the failover: the active's maps hold $ea channels, the standby's $eb" \
		"(want $CLIENTS or more, and the same)"
fi
b_c2p=$(fast b client_to_peer)
b_p2c=$(fast b peer_to_client)
log "before the failover: active a carried $(fast a client_to_peer) + $(fast a peer_to_client)" \
	"packets by its program; maps hold $ea channels on a, $eb on the standby b," \
	"whose program carried $b_c2p + $b_p2c"

event "$PAIR" fail-active kill
expect_master b
# Traffic after the failover, still running: the new active's program.
_fast_on_b() {
	[ "$(fast b client_to_peer)" -gt "$b_c2p" ] && [ "$(fast b peer_to_client)" -gt "$b_p2c" ]
}
wait_for 600 _fast_on_b ||
	fail "after the failover b's program carried nothing: client_to_peer $b_c2p ->" \
		"$(fast b client_to_peer), peer_to_client $b_p2c -> $(fast b peer_to_client)" \
		"(fallbacks: $(ip netns exec "$NODE_B_NS" curl -s -m 10 "http://$RELAY_METRICS/metrics" |
			grep '^twist_fastpath_fallbacks_total' | tr '\n' ' '))"
traffic_wait main
log "after the failover: b's program carried $(($(fast b client_to_peer) - b_c2p)) +" \
	"$(($(fast b peer_to_client) - b_p2c)) packets; maps hold $(entries b) channels"
chaos_done
