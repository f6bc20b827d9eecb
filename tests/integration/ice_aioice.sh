#!/usr/bin/env bash
# The ICE agent (client/ice, through tests/client/ice_peer) against Debian's
# python3-aioice (ice_aioice.py), in a private network namespace:
#
#   ice_aioice.sh TWIST-RELAY ICE_PEER CASE [NICE_PEER]
#
#   direct-controlling, direct-controlled   host candidates on a veth pair
#       (veth ice13a-v0/v1: 192.0.2.1, 192.0.2.2; aioice skips loopback)
#   relay-udp-*, relay-tcp-*   relay-only on both sides through twist-relay
#       (TURN over UDP or TCP, user demo/demo, 127.0.0.1:3697)
#   conflict-487-recv   both controlling; ours has the smaller tie-breaker
#       and checks first: aioice answers 487, we switch
#   conflict-487-sent   both controlling; ours has the larger one and
#       aioice checks first: we answer 487, aioice switches
#   nice-direct, nice-relay   the other side is libnice (tests/client/
#       nice_peer.c, the 4th argument) instead of aioice: direct, and
#       relayed through twist-relay over TURN UDP (libnice force-relay)
#   srflx-controlling, srflx-controlled   each side behind its own NAT
#       (namespaces ice13a-a, -na, -b, -nb, -s; nft masquerade), twist-relay
#       as the STUN server: host candidates fail, server-reflexive succeed
#   restart   ice_peer against ice_peer (no aioice): both restart ICE
#       half-way through the stream; the old pair carries the data until a
#       new one is selected, and no datagram is lost
#   badpwd   aioice checks us with a wrong password: every check gets 401,
#       no candidate, no pair
#   unreachable60   no aioice: 60 remote candidates nobody answers, two
#       local addresses (120 pairs): at most 100 checks, one per Ta tick
#       (the agent's own tick numbers, from its debug log)
#
# Every connecting case sends 1,000 datagrams each way and wants all back.
set -u
RELAY=${1:?usage: ice_aioice.sh TWIST-RELAY ICE_PEER CASE [NICE_PEER]}
PEER=${2:?}
CASE=${3:?}
NICE_PEER=${4:-}
TW_NAME=ice_aioice_$CASE
TW_PORT=3697
TW_METRICS_PORT=9697
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import aioice' 2>/dev/null || tw_fail "aioice missing: apt-get install python3-aioice"
[ -x "$PEER" ] || tw_fail "ice_peer '$PEER' not built"
tw_need ip iproute2
[ "${TW_IN_NETNS:-}" = 1 ] || tw_fail "needs a private network namespace (root, unshare -n)"
tw_tmpdir
tw_trap

# Both ends of one veth pair in this namespace (no dummy module needed).
ip link add ice13a-v0 type veth peer name ice13a-v1 && ip addr add 192.0.2.1/24 dev ice13a-v0 &&
	ip addr add 192.0.2.2/24 dev ice13a-v1 && ip link set ice13a-v0 up &&
	ip link set ice13a-v1 up || tw_fail "veth pair ice13a-v0/ice13a-v1"

COUNT=1000
TURN=127.0.0.1:$TW_PORT
C_ARGS=(--dir "$TW_TMP" --name c --peer py --count $COUNT --timeout 90)
P_ARGS=(--dir "$TW_TMP" --name py --peer c --count $COUNT --timeout 90)
# Commands that put a side into a namespace of its own (empty: this one).
C_WRAP=()
P_WRAP=()

# run_pair: both sides; each must exit 0 within the bound.
run_pair() {
	local cpid ppid i
	if [ "$CASE" = restart ]; then
		tw_start ice_peer2 "$TW_TMP/py.log" "$PEER" "${P_ARGS[@]}"
	elif [[ $CASE == nice-* ]]; then
		[ -x "$NICE_PEER" ] || tw_fail "nice_peer '$NICE_PEER' not built (libnice-dev)"
		tw_start libnice "$TW_TMP/py.log" "${P_WRAP[@]}" env ${NICE_ENV:-} "$NICE_PEER" "${P_ARGS[@]}"
	else
		tw_start aioice "$TW_TMP/py.log" "${P_WRAP[@]}" "$PY" "$(dirname "$0")/ice_aioice.py" "${P_ARGS[@]}"
	fi
	ppid=$TW_LAST_PID
	tw_start ice_peer "$TW_TMP/c.log" "${C_WRAP[@]}" "$PEER" "${C_ARGS[@]}"
	cpid=$TW_LAST_PID
	for ((i = 0; i < 1200; i++)); do
		tw_running $cpid || tw_running $ppid || break
		sleep 0.1
	done
	tw_stop $cpid
	C_RC=$TW_STOP_STATUS
	tw_forget $cpid
	tw_stop $ppid
	P_RC=$TW_STOP_STATUS
	tw_forget $ppid
	C_RES=$(grep '^RESULT' "$TW_TMP/c.log" | tail -n 1)
	P_RES=$(grep '^RESULT' "$TW_TMP/py.log" | tail -n 1)
	tw_log "ice_peer: ${C_RES:-no RESULT} (exit $C_RC)"
	tw_log "peer:     ${P_RES:-no RESULT} (exit $P_RC)"
	[ "$C_RC" = 0 ] || tw_fail "ice_peer exited with $C_RC"
	[ "$P_RC" = 0 ] || tw_fail "the other side exited with $P_RC"
}

# libnice sends to a local address out of its bound interface (and ARP
# for an address of this host never resolves), so it gets a namespace of
# its own behind the veth pair: ice13a-n holds ice13a-v1 (192.0.2.2).
NS_NICE=ice13a-n
nice_netns() {
	tw_netns_new $NS_NICE
	ip link set ice13a-v1 netns $NS_NICE && ip -n $NS_NICE addr add 192.0.2.2/24 dev ice13a-v1 &&
		ip -n $NS_NICE link set ice13a-v1 up || tw_fail "ice13a-v1 into $NS_NICE"
	P_WRAP=(ip netns exec $NS_NICE)
}

# relay_on ADDR [NS]: twist-relay (STUN and TURN) on ADDR, in NS if given.
relay_on() {
	local addr=$1 ns=${2:-} run=() i
	[ -n "$ns" ] && run=(ip netns exec "$ns")
	cat >"$TW_TMP/relay.yaml" <<-EOF
		listen:
		  - { address: $addr, port: $TW_PORT, transports: [udp, tcp] }
		relay: { addresses: [$addr] }
		workers: 1
		auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }
		metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
	EOF
	tw_start twist-relay "$TW_TMP/relay.log" "${run[@]}" "$RELAY" --config "$TW_TMP/relay.yaml"
	TW_RELAY_PID=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		"${run[@]}" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$TW_METRICS_PORT/health" \
			2>/dev/null && return 0
		tw_alive $TW_RELAY_PID || tw_fail "twist-relay exited at start-up"
		sleep 0.1
	done
	tw_fail "twist-relay /health not ready after 30 s"
}

# The server-reflexive lab: each side behind its own NAT (nftables
# masquerade); the server namespace routes between the NATs and runs
# twist-relay as the STUN server. Host candidates cannot reach each other.
#
#   ice13a-a 192.0.2.2/25 -- ice13a-na 198.51.100.2 --+
#                                                     ice13a-s 198.51.100.1, 203.0.113.1
#   ice13a-b 192.0.2.130/25 -- ice13a-nb 203.0.113.2 -+
nat_side() { # NS NAT LANADDR LANGW OUTADDR OUTGW SRVIF
	local ns=$1 nat=$2
	ip link add "$ns-0" netns "$ns" type veth peer name "$nat-0" netns "$nat" &&
		ip link add "$nat-1" netns "$nat" type veth peer name "$7" netns ice13a-s ||
		tw_fail "veth pairs for $ns"
	ip -n "$ns" addr add "$3" dev "$ns-0"
	ip -n "$nat" addr add "$4" dev "$nat-0"
	ip -n "$nat" addr add "$5" dev "$nat-1"
	ip -n ice13a-s addr add "$6" dev "$7"
	for l in "$ns:$ns-0" "$nat:$nat-0" "$nat:$nat-1" "ice13a-s:$7"; do
		ip -n "${l%%:*}" link set "${l#*:}" up || tw_fail "link ${l#*:} up"
	done
	ip -n "$ns" route add default via "${4%/*}" || tw_fail "default route in $ns"
	ip -n "$nat" route add default via "${6%/*}" || tw_fail "default route in $nat"
	ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1 || tw_fail "ip_forward in $nat"
	ip netns exec "$nat" nft -f - <<-EOF || tw_fail "nft masquerade in $nat"
		table ip ice13a {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "$nat-1" masquerade
			}
			# as a home router does: an unsolicited datagram from outside
			# is dropped, so it leaves no conntrack entry that would make
			# the masquerade pick another port for the inside's own flow
			chain in {
				type filter hook input priority filter;
				iifname "$nat-1" ct state new drop
			}
		}
	EOF
}

nat_lab() {
	tw_need nft nftables
	tw_netns_new ice13a-a ice13a-na ice13a-b ice13a-nb ice13a-s
	ip netns exec ice13a-s sysctl -qw net.ipv4.ip_forward=1 || tw_fail "ip_forward in ice13a-s"
	nat_side ice13a-a ice13a-na 192.0.2.2/25 192.0.2.1/25 198.51.100.2/24 198.51.100.1/24 ice13a-sa
	nat_side ice13a-b ice13a-nb 192.0.2.130/25 192.0.2.129/25 203.0.113.2/24 203.0.113.1/24 ice13a-sb
	C_WRAP=(ip netns exec ice13a-a)
	P_WRAP=(ip netns exec ice13a-b)
}

# field LINE KEY: the value of KEY=... in a RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

check_stream() {
	[ "$(field "$C_RES" pongs)" = $COUNT ] || tw_fail "ice_peer got $(field "$C_RES" pongs) of $COUNT pongs"
	[ "$(field "$P_RES" pongs)" = $COUNT ] || tw_fail "aioice got $(field "$P_RES" pongs) of $COUNT pongs"
	[ "$(field "$C_RES" pings_in)" -ge $COUNT ] || tw_fail "ice_peer answered $(field "$C_RES" pings_in) pings"
	[ "$(field "$C_RES" checks_same_tick)" = 0 ] || tw_fail "two checks in one Ta tick"
}

# want_selected RESULT LOCALTYPE REMOTETYPE_REGEX
want_selected() {
	local s
	s=$(field "$1" selected)
	[[ $s =~ ^$2:($3)$ ]] || tw_fail "selected pair $s, expected $2:$3"
}

case $CASE in
direct-controlling | direct-controlled)
	role=${CASE#direct-}
	other=controlled
	[ "$role" = controlled ] && other=controlling
	C_ARGS+=(--role "$role" --host 192.0.2.1)
	P_ARGS+=(--role $other)
	run_pair
	check_stream
	want_selected "$C_RES" host 'host|prflx'
	[ "$(field "$C_RES" role)" = "$role" ] || tw_fail "ice_peer ended $(field "$C_RES" role)"
	;;
relay-udp-* | relay-tcp-*)
	role=${CASE##*-}
	other=controlled
	[ "$role" = controlled ] && other=controlling
	tr=udp
	[[ $CASE == relay-tcp-* ]] && tr=tcp
	tw_start_relay "$RELAY"
	C_ARGS+=(--role "$role" --relay-only --turn $TURN --turn-user demo --turn-pass demo)
	[ $tr = tcp ] && C_ARGS+=(--turn-tcp)
	P_ARGS+=(--role $other --relay-only --turn $TURN --turn-transport $tr)
	run_pair
	check_stream
	want_selected "$C_RES" relay 'relay|prflx'
	tw_stop_relay
	;;
conflict-487-recv)
	C_ARGS+=(--role controlling --host 192.0.2.1 --tie-breaker 1)
	P_ARGS+=(--role controlling --delay-ms 2000)
	run_pair
	check_stream
	[ "$(field "$C_RES" resp_487_recv)" -ge 1 ] || tw_fail "no 487 reached ice_peer"
	[ "$(field "$C_RES" role)" = controlled ] || tw_fail "ice_peer did not switch to controlled"
	;;
conflict-487-sent)
	C_ARGS+=(--role controlling --host 192.0.2.1 --tie-breaker 18446744073709551615 --delay-ms 2000)
	P_ARGS+=(--role controlling)
	run_pair
	check_stream
	[ "$(field "$C_RES" resp_487_sent)" -ge 1 ] || tw_fail "ice_peer sent no 487"
	[ "$(field "$C_RES" role)" = controlling ] || tw_fail "ice_peer lost its role"
	[ "$(field "$P_RES" role)" = controlled ] || tw_fail "aioice did not switch to controlled"
	;;
nice-direct)
	nice_netns
	C_ARGS+=(--role controlling --host 192.0.2.1)
	P_ARGS+=(--role controlled --host 192.0.2.2)
	run_pair
	check_stream
	want_selected "$C_RES" host 'host|prflx'
	;;
nice-relay)
	nice_netns
	relay_on 192.0.2.1
	C_ARGS+=(--role controlled --relay-only --turn 192.0.2.1:$TW_PORT --turn-user demo --turn-pass demo)
	P_ARGS+=(--role controlling --turn 192.0.2.1 --turn-port $TW_PORT)
	run_pair
	check_stream
	want_selected "$C_RES" relay 'relay|prflx'
	[ "$(field "$P_RES" selected)" = relay:relay ] || tw_fail "libnice selected $(field "$P_RES" selected)"
	tw_stop_relay
	;;
srflx-controlling | srflx-controlled)
	role=${CASE#srflx-}
	other=controlled
	[ "$role" = controlled ] && other=controlling
	nat_lab
	relay_on 198.51.100.1 ice13a-s
	C_ARGS+=(--role "$role" --stun 198.51.100.1:$TW_PORT)
	P_ARGS+=(--role $other --stun 198.51.100.1:$TW_PORT)
	run_pair
	check_stream
	# the pair is sent from the host base; the peer is its NAT's mapping
	want_selected "$C_RES" host 'srflx|prflx'
	grep -q 'typ srflx raddr 192.0.2.2 ' "$TW_TMP/c.offer" || tw_fail "ice_peer offered no srflx candidate"
	grep -q 'typ srflx raddr 192.0.2.130 ' "$TW_TMP/py.offer" || tw_fail "aioice offered no srflx candidate"
	tw_stop_relay
	;;
restart)
	# two of our agents; each restarts half-way through its stream
	C_ARGS+=(--role controlling --host 192.0.2.1 --restart)
	P_ARGS+=(--role controlled --host 192.0.2.2 --restart)
	run_pair
	check_stream
	[ "$(field "$P_RES" pongs)" = $COUNT ] || tw_fail "the second agent lost pongs across the restart"
	for r in "$C_RES" "$P_RES"; do
		[ "$(field "$r" selections)" -ge 2 ] || tw_fail "no pair selected after the restart: $r"
		[ "$(field "$r" state)" = completed ] || [ "$(field "$r" state)" = connected ] ||
			tw_fail "ended in state $(field "$r" state)"
	done
	grep -q 'ice: restart' "$TW_TMP/c.log" || tw_fail "ice_peer did not restart"
	;;
badpwd)
	# aioice checks our candidates with a wrong password for us; we know
	# no candidate of aioice (its offer to us is empty), so every pair we
	# could form would come from those checks: there must be none
	printf 'abcd\n0123456789012345678901\nend\n' >"$TW_TMP/py.offer"
	P_ARGS=(--dir "$TW_TMP" --name pyx --peer c --count 1 --timeout 8 --role controlling --bad-pwd)
	tw_start aioice "$TW_TMP/pyx.log" "$PY" "$(dirname "$0")/ice_aioice.py" "${P_ARGS[@]}"
	timeout -k 5 60 "$PEER" "${C_ARGS[@]}" --role controlled --host 192.0.2.1 --no-data 6 \
		>"$TW_TMP/c.log" 2>&1 || tw_fail "ice_peer failed: $(tail -n 5 "$TW_TMP/c.log")"
	C_RES=$(grep '^RESULT' "$TW_TMP/c.log" | tail -n 1)
	tw_log "ice_peer: $C_RES"
	[ "$(field "$C_RES" checks_in)" -ge 1 ] || tw_fail "no check from aioice arrived"
	[ "$(field "$C_RES" resp_401)" = "$(field "$C_RES" checks_in)" ] ||
		tw_fail "$(field "$C_RES" checks_in) checks in, only $(field "$C_RES" resp_401) answered 401"
	[ "$(field "$C_RES" prflx_remote)" = 0 ] || tw_fail "a wrong-password check made a candidate"
	[ "$(field "$C_RES" checks_sent)" = 0 ] || tw_fail "a wrong-password check made a pair to check"
	[ "$(field "$C_RES" selected)" = none:none ] || tw_fail "a pair was selected"
	;;
unreachable60)
	ip route add 203.0.113.0/24 dev ice13a-v0 || tw_fail "route to 203.0.113.0/24"
	{
		echo abcd
		echo 0123456789012345678901
		for i in $(seq 1 60); do echo "f$i 1 udp $((2130706431 - i)) 203.0.113.$i $((5000 + i)) typ host"; done
		echo end
	} >"$TW_TMP/py.offer"
	timeout -k 5 60 "$PEER" "${C_ARGS[@]}" --role controlling --host 192.0.2.1 --host 192.0.2.2 \
		--no-data 10 -v >"$TW_TMP/c.log" 2>&1 || tw_fail "ice_peer failed: $(tail -n 5 "$TW_TMP/c.log")"
	C_RES=$(grep '^RESULT' "$TW_TMP/c.log" | tail -n 1)
	tw_log "ice_peer: $C_RES"
	checks=$(field "$C_RES" checks_sent)
	lines=$(grep -c 'ice: check [0-9]* tick [0-9]*' "$TW_TMP/c.log")
	ticks=$(sed -n 's/.*ice: check [0-9]* tick \([0-9]*\) .*/\1/p' "$TW_TMP/c.log" | sort -u | wc -l)
	tw_log "checks sent $checks, logged $lines, in $ticks distinct Ta ticks"
	[ "$checks" -le 100 ] || tw_fail "$checks checks for 60 unreachable candidates (cap 100)"
	[ "$checks" -ge 60 ] || tw_fail "only $checks checks in 10 s (the list was not worked through)"
	[ "$lines" = "$checks" ] || tw_fail "the log shows $lines checks, the counter $checks"
	[ "$ticks" = "$lines" ] || tw_fail "$lines checks in only $ticks Ta ticks: not paced"
	[ "$(field "$C_RES" checks_same_tick)" = 0 ] || tw_fail "checks_same_tick is not 0"
	;;
*) tw_fail "unknown case $CASE" ;;
esac
tw_pass "$CASE"
