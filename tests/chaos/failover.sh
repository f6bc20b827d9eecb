#!/bin/bash
# Failover chaos tests in the namespace lab (deploy/lab/pair.sh), with
# turnmon.py clients relaying ChannelData to a UDP echo through the VIP.
#
#   failover.sh kill       (a) SIGKILL keepalived, syncd, relay, twist-ha on the active
#   failover.sh link       (b) take the active node's links down
#   failover.sh relay      (c) SIGKILL only the active relay; restart it; it re-imports
#   failover.sh synclink   (d) cut the sync link under churn, heal, then fail over
#   failover.sh standby    (e) restart the standby under load: bulk resync, ready again
#   failover.sh failback   (f) fail over, restore, fail back to the original node
#
# Every client's traffic must flow again after the event (the gap is printed,
# never judged), keep its relayed address, and get Refresh, CreatePermission
# and ChannelBind through afterwards with no 437 or 438. Every wait is bounded
# but generous: nothing here judges how fast the machine is. Needs root;
# TWIST_BIN names the binaries.
set -u
TEST_NAME=${1:-}
. "$(dirname "$0")/lib.sh"

CLIENTS=${TWIST_CHAOS_CLIENTS:-4}
RATE=${TWIST_CHAOS_RATE:-100}

restore_expect_standby() {
	local failed=$1 master=$2 t0 t1
	t0=$(date +%s.%N)
	"$PAIR" restore || fail "restore failed"
	expect_master "$master"
	expect_synced "$failed" "$master"
	t1=$(date +%s.%N)
	log "node $failed back as standby and in sync after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
	# Decision 7 and nopreempt: the restored node does not take the VIP back.
	sleep 1
	expect_master "$master"
}

t_kill_or_link() {
	local how=$1
	lab_up
	traffic main --clients "$CLIENTS" --rate "$RATE" --duration 6
	sleep 1.5
	expect_synced b a
	event "$PAIR" fail-active "$how"
	traffic_wait main
	expect_master b
	restore_expect_standby a b
}

t_relay() {
	local pid m
	lab_up
	traffic main --clients "$CLIENTS" --rate "$RATE" --duration 6
	sleep 1.5
	expect_synced b a
	m=$(master)
	pid=$(cat "$LAB_DIR/$m/relay.pid")
	log "SIGKILL relay $pid on node $m, then restart it"
	event kill -KILL "$pid"
	# What systemd's Restart=always does, without its 100 ms delay. If the
	# restart is slower than twist-ha's health checks (a loaded machine),
	# the pair fails over to the standby while the relay is down: that is
	# the HA doing its job, not a failure. pair.sh restore then refuses the
	# VIP move (it guards against preemption), so the lab's state decides.
	if ! out=$("$PAIR" restore 2>&1); then
		printf '%s\n' "$out"
		s=$(master)
		if [ -n "$s" ] && [ "$s" != "$m" ] && printf '%s' "$out" | grep -q "VIP moved from $m to $s"; then
			log "twist-ha failed over to $s while the relay on $m was down; $m is standby now"
			expect_synced "$m" "$s"
		else
			fail "restore failed"
		fi
	else
		printf '%s\n' "$out"
	fi
	traffic_wait main
	log "master now $(master); node $m relay imported" \
		"$(metric "$m" "$RELAY_METRICS" twist_sync_imported_total) flows," \
		"holds $(allocations "$m") allocations"
	_all_back() { [ "$(allocations "$m")" = "$CLIENTS" ]; }
	wait_for 600 _all_back ||
		fail "restarted relay on $m holds $(allocations "$m") allocations, want $CLIENTS"
}

t_synclink() {
	local s
	lab_up
	traffic main --clients "$CLIENTS" --rate "$RATE" --duration 12 --churn 0.5
	sleep 1
	expect_synced b a
	log "cut the sync link of node b"
	event ip -n "$SWITCH_NS" link set b-s down
	sleep 1.5
	# New allocations while the standby cannot hear about them.
	traffic late --clients 2 --rate "$RATE" --duration 8 --churn 0.5
	# Decision 7: an out-of-sync standby is demoted (twist-ha -> track file).
	_demoted() { [ "$(cat "$LAB_DIR/b/track")" != 0 ]; }
	wait_for 600 _demoted
	s=$(cat "$LAB_DIR/b/track")
	if [ "$s" = 0 ]; then
		fail "standby with its sync link cut still has track value 0 after 60 s (not" \
			"demoted): its syncd says /ready $(ready_code b)"
	else
		log "standby demoted while cut: track $s, /ready $(ready_code b)"
	fi
	log "VRRP still works over the client LAN: master $(master)"
	expect_master a
	sleep 1
	log "heal the sync link"
	ip -n "$SWITCH_NS" link set b-s up
	expect_synced b a
	log "fail-active kill after the heal"
	event "$PAIR" fail-active kill
	traffic_wait main
	traffic_wait late
	expect_master b
}

t_standby() {
	local t0 t1
	lab_up
	traffic main --clients "$CLIENTS" --rate "$RATE" --duration 9 --churn 1
	sleep 1.5
	expect_synced b a
	log "SIGKILL everything on the standby (b) and start it again"
	event kill_node_procs b
	sleep 0.3
	t0=$(date +%s.%N)
	"$PAIR" restore || fail "restore failed"
	expect_synced b a
	t1=$(date +%s.%N)
	log "standby bulk resync: ready again $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s after its restart"
	expect_master a
	log "fail over to the resynced standby"
	event "$PAIR" fail-active kill
	traffic_wait main
	expect_master b
}

t_failback() {
	lab_up
	traffic main --clients "$CLIENTS" --rate "$RATE" --duration 10 --churn 1
	sleep 1.5
	log "fail over a -> b"
	event "$PAIR" fail-active kill
	sleep 1
	expect_master b
	"$PAIR" restore || fail "restore failed"
	expect_synced a b
	expect_master b
	sleep 1
	log "fail back b -> a"
	event "$PAIR" fail-active kill
	traffic_wait main
	expect_master a
}

chaos_require
case $TEST_NAME in
kill) t_kill_or_link kill ;;
link) t_kill_or_link link ;;
relay) t_relay ;;
synclink) t_synclink ;;
standby) t_standby ;;
failback) t_failback ;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
chaos_done
