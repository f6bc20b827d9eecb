#!/bin/bash
# twist-ha --anycast on its own, in a private namespace (any14ha-*), with
# deploy/lab/serving.py standing in for twist-relay's and twist-syncd's
# pages: the routes in table 100 follow /serving (drain), the VRRP role
# and the standby's session, and vanish with the device when twist-ha is
# SIGKILLed. No BIRD here: tests/integration/anycast.sh has the whole path.
#
# usage: ha_anycast.sh TWIST_HA
set -u
HA=${1:?usage: ha_anycast.sh TWIST_HA}
SHIM=$(cd "$(dirname "$0")/../../deploy/lab" && pwd)/serving.py
NS=any14ha-$$
DIR=$(mktemp -d /tmp/ha_anycast.XXXXXX)
FAILS=0
PIDS=""

log() { printf '%s ha_anycast: %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
	log "FAIL: $*"
	FAILS=$((FAILS + 1))
}
cleanup() {
	local pid
	for pid in $PIDS; do
		[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	[ "$FAILS" = 0 ] && rm -rf "$DIR"
}
[ "$(id -u)" = 0 ] || {
	echo "ha_anycast: FAIL: needs root (namespace, TUN, routes)" >&2
	exit 1
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
# An address on a non-loopback link: the metrics listener resolves with
# AI_ADDRCONFIG.
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up
ip -n "$NS" addr add 198.51.100.11/24 dev v0
for port in 9641 9642; do
	ip netns exec "$NS" python3 "$SHIM" 127.0.0.1 $port "$DIR" &
	PIDS="$PIDS $!"
done

# routes: what table 100 holds, one line per family.
routes() {
	{
		ip -n "$NS" -4 route show table 100 2>/dev/null
		ip -n "$NS" -6 route show table 100 2>/dev/null
	} | awk '{ print $1, $2, $3 }'
}

# expect WHAT WANT: poll (5 s at most) until the routes are WANT.
expect() {
	local got
	for _ in $(seq 50); do
		got=$(routes | tr '\n' ';')
		[ "$got" = "$2" ] && {
			log "$1: ${got:-no routes}"
			return 0
		}
		sleep 0.1
	done
	fail "$1: routes '${got}', want '$2'"
}

BOTH="192.0.2.100 dev any14ha;2001:db8:14::100 dev any14ha;"
start_ha() {
	ip netns exec "$NS" "$HA" --fifo "$DIR/fifo" --role-file "$DIR/role" \
		--track-file "$DIR/track" --instance VI --relay 127.0.0.1:9641 \
		--anycast table:100 --anycast-prefix 192.0.2.100/32 \
		--anycast-prefix 2001:db8:14::100 --anycast-dev any14ha "$@" \
		>>"$DIR/ha.log" 2>&1 &
	HA_PID=$!
	PIDS="$PIDS $HA_PID"
}

log "a single node (no --syncd)"
start_ha
expect "relay up, ready, serving" "$BOTH"
: >"$DIR/draining"
expect "draining" ""
rm -f "$DIR/draining"
expect "undrained" "$BOTH"
: >"$DIR/ready-down"
expect "relay not ready" ""
rm -f "$DIR/ready-down"
expect "ready again" "$BOTH"
# A second twist-ha cannot take the device.
ip netns exec "$NS" "$HA" --fifo "$DIR/fifo2" --role-file "$DIR/role2" \
	--track-file "$DIR/track2" --anycast table:100 --anycast-prefix 192.0.2.100 \
	--anycast-dev any14ha >"$DIR/second.log" 2>&1 &
second=$!
PIDS="$PIDS $second"
for _ in $(seq 50); do
	[ -d "/proc/$second" ] || break
	sleep 0.1
done
if [ -d "/proc/$second" ]; then
	fail "a second twist-ha took the same device"
else
	log "second twist-ha refused: $(tail -1 "$DIR/second.log")"
fi
kill -KILL "$HA_PID"
wait "$HA_PID" 2>/dev/null
expect "twist-ha SIGKILLed" ""
ip -n "$NS" link show any14ha >/dev/null 2>&1 && fail "device any14ha outlived twist-ha"

log "a pair node (--syncd)"
start_ha --syncd 127.0.0.1:9642
expect "no VRRP event yet" ""
echo 'INSTANCE "VI" MASTER 150' >"$DIR/fifo"
expect "master" "$BOTH"
: >"$DIR/peer-down"
expect "standby's session down" ""
rm -f "$DIR/peer-down"
expect "standby back" "$BOTH"
echo 'INSTANCE "VI" BACKUP 150' >"$DIR/fifo"
expect "backup" ""
echo 'INSTANCE "VI" MASTER 150' >"$DIR/fifo"
expect "master again" "$BOTH"
kill -TERM "$HA_PID"
wait "$HA_PID" 2>/dev/null
expect "twist-ha stopped" ""
grep -q "anycast: withdrawn (not_master)" "$DIR/ha.log" || fail "no not_master withdrawal logged"

if [ "$FAILS" != 0 ]; then
	log "$FAILS check(s) failed; logs in $DIR"
	exit 1
fi
log "all checks passed"
