#!/usr/bin/env bash
# RFC 5780 NAT behaviour discovery through a real NAT, with third-party
# clients, against twist-relay and against coturn's turnserver:
#
#   tw5780-c (192.0.2.2) -- tw5780-r (nft masquerade) -- tw5780-s
#                                  203.0.113.1             203.0.113.10, .11
#
# twist listens on 203.0.113.10:3478 with stun.rfc5780 (other address
# 203.0.113.11, port 3479); coturn on the same two addresses, ports 3488 and
# 3489. From the client namespace, pion's stun-nat-behaviour (built here from
# Debian's golang-github-pion-stun-dev) and turnutils_stunclient -f run
# against both; they must agree, and say what Linux masquerade does:
# endpoint-independent mapping, address-and-port-dependent filtering (only
# the exact server address and port a datagram went to may answer through
# conntrack). From the router namespace (no NAT in between), Debian's
# RFC 3489 `stun` must report "Open" against both.
#
#   nat_behaviour.sh PATH/TO/twist-relay
#
# Namespaces, links and the nft table are this test's own (tw5780-*), and
# are removed by lib.sh's EXIT trap (tw_netns_new).
set -u
export TWIST_TEST_NETNS=0 # the namespaces are built here
TW_NAME=nat_behaviour
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: nat_behaviour.sh PATH/TO/twist-relay}
NS_C=tw5780-c
NS_R=tw5780-r
NS_S=tw5780-s
SRV=203.0.113.10
OTHER=203.0.113.11
NAT_IP=203.0.113.1
# How long a client waits for an answer that a filtering NAT drops.
TIMEOUT_S=2

tw_need ip iproute2
tw_need nft nftables
tw_need go golang-go
tw_need turnutils_stunclient coturn
tw_need turnserver coturn
tw_need stun stun-client
[ -d /usr/share/gocode/src/github.com/pion/stun/cmd/stun-nat-behaviour ] ||
	tw_fail "pion's stun-nat-behaviour source is missing: apt-get install golang-github-pion-stun-dev"
[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces)"

lab_up() {
	tw_netns_new $NS_C $NS_R $NS_S
	ip link add tw5780-c0 netns $NS_C type veth peer name tw5780-r0 netns $NS_R &&
		ip link add tw5780-r1 netns $NS_R type veth peer name tw5780-s0 netns $NS_S ||
		tw_fail "veth pairs"
	ip -n $NS_C addr add 192.0.2.2/24 dev tw5780-c0
	ip -n $NS_R addr add 192.0.2.1/24 dev tw5780-r0
	ip -n $NS_R addr add $NAT_IP/24 dev tw5780-r1
	ip -n $NS_S addr add $SRV/24 dev tw5780-s0
	ip -n $NS_S addr add $OTHER/24 dev tw5780-s0
	ip -n $NS_C link set tw5780-c0 up
	ip -n $NS_R link set tw5780-r0 up
	ip -n $NS_R link set tw5780-r1 up
	ip -n $NS_S link set tw5780-s0 up
	ip -n $NS_C route add default via 192.0.2.1 || tw_fail "client route"
	ip netns exec $NS_R sysctl -qw net.ipv4.ip_forward=1 || tw_fail "ip_forward"
	ip netns exec $NS_R nft -f - <<-EOF || tw_fail "nft masquerade"
		table ip tw5780 {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "tw5780-r1" masquerade
			}
		}
	EOF
	ip -n $NS_C route get $SRV >/dev/null || tw_fail "the client has no route to $SRV"
}

# pion's stun-nat-behaviour, built offline from Debian's sources (GOPATH
# mode), cached next to the test's working directory.
build_pion() {
	local cache=$PWD/nat_behaviour.cache
	PION=$cache/stun-nat-behaviour
	[ -x "$PION" ] && return 0
	mkdir -p "$cache" || tw_fail "mkdir $cache"
	tw_log "building stun-nat-behaviour from /usr/share/gocode"
	GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE=$cache/go-build \
		go build -o "$PION" github.com/pion/stun/cmd/stun-nat-behaviour >"$cache/build.log" 2>&1 ||
		tw_fail "go build stun-nat-behaviour: $(tail -n 5 "$cache/build.log")"
}

start_twist() {
	cat >"$TW_TMP/twist.yaml" <<-EOF
		listen:
		  - { address: $SRV, port: 3478, transports: [udp, tcp] }
		relay: { addresses: [$SRV] }
		workers: 1
		auth: { users: [{ name: demo, password: demo }] }
		metrics: { enabled: true, listen: "127.0.0.1:9641" }
		stun: { rfc5780: { other_address: $OTHER, other_port: 3479 } }
	EOF
	tw_start twist-relay "$TW_TMP/twist.log" ip netns exec $NS_S "$RELAY" --config "$TW_TMP/twist.yaml"
	TWIST_PID=$TW_LAST_PID
	wait_health
}

wait_health() {
	local i
	for ((i = 0; i < 300; i++)); do
		ip netns exec $NS_S curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:9641/health 2>/dev/null &&
			return 0
		tw_alive "$TWIST_PID" || tw_fail "twist-relay exited at start-up"
		sleep 0.1
	done
	tw_fail "twist-relay /health not ready after 30 s"
}

start_coturn() {
	tw_start turnserver "$TW_TMP/coturn.log" ip netns exec $NS_S turnserver -n --no-cli --stun-only \
		-L $SRV -L $OTHER -p 3488 --alt-listening-port 3489 --no-tls --no-dtls \
		--pidfile "$TW_TMP/coturn.pid" --log-file stdout
	COTURN_PID=$TW_LAST_PID
	local i
	for ((i = 0; i < 300; i++)); do
		ip netns exec $NS_S ss -H -l -n -u | grep -q "$OTHER:3489" && return 0
		tw_alive "$COTURN_PID" || tw_fail "turnserver exited at start-up"
		sleep 0.1
	done
	tw_fail "turnserver does not listen on $OTHER:3489 after 30 s"
}

# pion NAME PORT: stun-nat-behaviour's two verdicts, "mapping|filtering".
pion() {
	local out=$TW_TMP/pion-$1.log map filt
	timeout -k 5 120 ip netns exec $NS_C "$PION" -server $SRV:$2 -timeout $TIMEOUT_S >"$out" 2>&1
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $out"
	map=$(sed -n 's/.*=> NAT mapping behavior: //p' "$out" | tail -n 1)
	filt=$(sed -n 's/.*=> NAT filtering behavior: //p' "$out" | tail -n 1)
	[ -n "$map" ] && [ -n "$filt" ] || tw_fail "stun-nat-behaviour against $1 gave no verdict ($out)"
	grep -q "not supported" "$out" && tw_fail "stun-nat-behaviour: $1 has no RFC 5780 support"
	echo "$map|$filt"
}

# stunclient NAME PORT: what turnutils_stunclient -f learns, normalised:
# the reflexive IP, the origin and other address of response 1, and how
# many RFC 5780 responses came. Through a filtering NAT the answer to its
# RESPONSE-PORT request is dropped and it waits forever: timeout ends it.
stunclient() {
	local out=$TW_TMP/stunclient-$1.log refl origin other n
	timeout -k 2 10 ip netns exec $NS_C turnutils_stunclient -f -p "$2" $SRV >"$out" 2>&1
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $out"
	refl=$(sed -n 's/.*UDP reflexive addr: \([0-9.]*\):.*/\1/p' "$out" | head -n 1)
	origin=$(sed -n 's/.*Response origin: : \([0-9.:]*\).*/\1/p' "$out" | head -n 1)
	other=$(sed -n 's/.*Other addr: : \([0-9.:]*\).*/\1/p' "$out" | head -n 1)
	n=$(grep -c '^RFC 5780 response' "$out")
	echo "$refl|${origin%:*}|${other%:*}|$n"
}

# classic NAME PORT: Debian's RFC 3489 client, from the router (no NAT).
classic() {
	local out=$TW_TMP/stun-$1.log
	timeout -k 2 60 ip netns exec $NS_R stun $SRV:"$2" >"$out" 2>&1
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $out"
	sed -n 's/^Primary: \([A-Za-z ]*\).*/\1/p' "$out" | head -n 1
}

tw_trap
tw_tmpdir
build_pion
lab_up

start_twist
start_coturn

P_TWIST=$(pion twist 3478) || exit 1
P_COTURN=$(pion coturn 3488) || exit 1
tw_log "stun-nat-behaviour: twist '$P_TWIST', coturn '$P_COTURN'"
[ "$P_TWIST" = "$P_COTURN" ] || tw_fail "stun-nat-behaviour: twist says '$P_TWIST', coturn '$P_COTURN'"
[ "$P_TWIST" = "endpoint independent|address and port dependent" ] ||
	tw_fail "stun-nat-behaviour says '$P_TWIST'; the lab's masquerade is endpoint-independent" \
		"mapping with address-and-port-dependent filtering"

S_TWIST=$(stunclient twist 3478)
S_COTURN=$(stunclient coturn 3488)
tw_log "turnutils_stunclient -f: twist '$S_TWIST', coturn '$S_COTURN'"
[ "$S_TWIST" = "$NAT_IP|$SRV|$OTHER|1" ] ||
	tw_fail "turnutils_stunclient -f against twist: '$S_TWIST', want '$NAT_IP|$SRV|$OTHER|1'" \
		"(mapped through the NAT; the changed-address answer filtered)"
[ "$S_COTURN" = "$NAT_IP|$SRV|$OTHER|1" ] ||
	tw_fail "turnutils_stunclient -f against coturn: '$S_COTURN'"

C_TWIST=$(classic twist 3478)
C_COTURN=$(classic coturn 3488)
tw_log "stun (RFC 3489): twist '$C_TWIST', coturn '$C_COTURN'"
[ "$C_TWIST" = "Open" ] || tw_fail "stun against twist without a NAT: '$C_TWIST', want 'Open'"
[ "$C_COTURN" = "Open" ] || tw_fail "stun against coturn without a NAT: '$C_COTURN', want 'Open'"

# twist counted what it did: changed answers and classic requests.
M=$(ip netns exec $NS_S curl -fsS --max-time 5 http://127.0.0.1:9641/metrics) || tw_fail "metrics"
for l in 'twist_binding_changed_total{change="ip_port"}' 'twist_binding_changed_total{change="port"}' \
	twist_classic_binding_requests_total; do
	v=$(printf '%s\n' "$M" | awk -v k="$l" '$1 == k { print $2 }')
	[ -n "$v" ] && [ "$v" -gt 0 ] || tw_fail "$l is '${v:-absent}' after the runs"
done
tw_stop "$TWIST_PID"
tw_forget "$TWIST_PID"
[ "$TW_STOP_STATUS" = 0 ] || tw_fail "twist-relay exit status $TW_STOP_STATUS"
grep -q "ERROR: AddressSanitizer\|runtime error:" "$TW_TMP/twist.log" && tw_fail "sanitizer report"
tw_pass "both servers agree: $P_TWIST; stunclient $S_TWIST; stun: $C_TWIST"
