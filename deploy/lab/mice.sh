#!/bin/bash
# The M-ICE lab (issue 13): a mobile node that moves between two access
# networks, each behind its own NAT (nftables masquerade), a home agent
# running twist-relay with mice: enabled (STUN and TURN on the same
# address), and a correspondent node. Network namespaces and
# documentation addresses only. Needs root.
#
#   mice.sh up [RELAY_BIN]   build the lab, the MN on access A; with a
#                            twist-relay binary, start it as the home agent
#   mice.sh down             stop everything by PID, remove the namespaces
#   mice.sh env              shell assignments (eval "$(mice.sh env)")
#   mice.sh move             the MN leaves its access network for the other
#                            one, with a new address there
#   mice.sh config           the home agent's twist-relay config
#
#   mice13-mn   access A: mice13-mna 192.0.2.N/24, default via 192.0.2.1
#               access B: mice13-mnb 198.51.100.N/24, default via 198.51.100.1
#               one link up and addressed at a time; N = 10, 11, ... (a new
#               address on every move)
#   mice13-na   192.0.2.1/24 | 203.0.113.2/24, masquerade toward the core
#   mice13-nb   198.51.100.1/24 | 203.0.113.3/24, masquerade toward the core
#   mice13-ha   203.0.113.1/24 on bridge mice13-br (the core); twist-relay:
#               STUN/TURN udp and tcp :3478, M-ICE :4191, user demo/demo
#   mice13-cn   203.0.113.20/24, no NAT
#
# The NATs drop unsolicited datagrams from the core (ct state new), as a
# home router does: the CN's early checks then leave no conntrack entry that
# would make the masquerade pick another port for the MN's own flow.
#
# Environment: MICE_LAB_DIR (pids, logs, state; default /run/mice13-lab).
set -u

LAB_TOOL=mice.sh
# shellcheck source-path=SCRIPTDIR source=netns_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns_lib.sh"

P=mice13
LAB=${MICE_LAB_DIR:-/run/$P-lab}
MN=$P-mn
NA=$P-na
NB=$P-nb
HA=$P-ha
CN=$P-cn
ALL_NS="$MN $NA $NB $HA $CN"

HA_IP=203.0.113.1
CN_IP=203.0.113.20
NA_OUT=203.0.113.2
NB_OUT=203.0.113.3
STUN_PORT=3478
MICE_PORT=4191
MN_SPI=4096
MN_KEY=mice13-mobile-node-key
MN_HOME=2001:db8:13::10
CN_SPI=8192
MN_GW_A=192.0.2.1
MN_GW_B=198.51.100.1
CN_KEY=mice13-correspondent-key
CN_HOME=2001:db8:13::20

config() {
	cat <<-EOF
		listen:
		  - { address: $HA_IP, port: $STUN_PORT, transports: [udp, tcp] }
		relay: { addresses: [$HA_IP] }
		workers: 1
		auth: { realm: mice13.test, users: [{ name: demo, password: demo }] }
		metrics: { enabled: true, listen: "127.0.0.1:9913" }
		mice:
		  enabled: true
		  port: $MICE_PORT
		  keys:
		    - { spi: $MN_SPI, key: "$MN_KEY", home: "$MN_HOME" }
		    - { spi: $CN_SPI, key: "$CN_KEY", home: "$CN_HOME" }
		  max_lifetime: 600
		  rate: 50
		  burst: 100
	EOF
}

# nat NS INSIDE_IF INSIDE_ADDR OUTSIDE_IF OUTSIDE_ADDR CORE_PORT (the MN's veth exists)
nat() {
	local ns=$1
	ip link add "$4" netns "$ns" type veth peer name "$6" netns $HA || die "veth $4"
	addr "$ns" "$2" "$3/24"
	addr "$ns" "$4" "$5/24"
	ip -n "$ns" link set "$2" up
	ip -n "$ns" link set "$4" up
	ip -n $HA link set "$6" master $P-br up || die "$6 into the bridge"
	ip -n "$ns" route add default via $HA_IP || die "default route in $ns"
	nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward in $ns"
	nsx "$ns" nft -f - <<-EOF || die "nft in $ns"
		table ip $P {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "$4" masquerade
			}
			chain in {
				type filter hook input priority filter;
				iifname "$4" ct state new drop
			}
			chain through {
				type filter hook forward priority filter;
				iifname "$4" ct state new drop
			}
		}
	EOF
}

# The MN's address on access A or B for move number K.
mn_addr() {
	local host=$((10 + $2 % 200))
	if [ "$1" = a ]; then echo "192.0.2.$host"; else echo "198.51.100.$host"; fi
}

state() { cat "$LAB/$1" 2>/dev/null; }

# attach a|b K: the MN's link to that access network up, with its address and route.
attach() {
	local dev=$P-mn$1 gw=$MN_GW_A
	[ "$1" = b ] && gw=$MN_GW_B
	ip -n $MN link set "$dev" up || die "$dev up"
	addr $MN "$dev" "$(mn_addr "$1" "$2")/24"
	ip -n $MN route replace default via $gw dev "$dev" || die "default route via $gw"
	echo "$1" >"$LAB/at"
	echo "$2" >"$LAB/moves"
}

detach() {
	local dev=$P-mn$1
	ip -n $MN addr flush dev "$dev"
	ip -n $MN link set "$dev" down
}

up() {
	local relay=${1:-}
	need nft nftables
	lab_exists && die "the lab is up already ($LAB); mice.sh down first"
	mkdir -p "$LAB/pids" "$LAB/logs" || die "cannot create $LAB"
	# a lab half built (any die below) is removed again
	trap 'lab_remove; rm -rf "$LAB"' EXIT
	for ns in $ALL_NS; do ns_add "$ns"; done
	ip -n $HA link add $P-br type bridge || die "bridge"
	addr $HA $P-br $HA_IP/24
	ip -n $HA link set $P-br up
	ip link add $P-mna netns $MN type veth peer name $P-na0 netns $NA || die "veth $P-mna"
	ip link add $P-mnb netns $MN type veth peer name $P-nb0 netns $NB || die "veth $P-mnb"
	nat $NA $P-na0 $MN_GW_A $P-na1 $NA_OUT $P-hna
	nat $NB $P-nb0 $MN_GW_B $P-nb1 $NB_OUT $P-hnb
	ip link add $P-cn0 netns $CN type veth peer name $P-hcn netns $HA || die "veth $P-cn0"
	addr $CN $P-cn0 $CN_IP/24
	ip -n $CN link set $P-cn0 up
	ip -n $HA link set $P-hcn master $P-br up || die "$P-hcn into the bridge"
	# no IPv6 in the MN: its link-local addresses would only be noise
	nsx $MN sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	attach a 0
	config >"$LAB/relay.yaml"
	[ -n "$relay" ] && relay_start "$relay"
	trap - EXIT
}

relay_start() {
	local i
	[ -x "$1" ] || die "twist-relay binary '$1' not found"
	spawn relay $HA "$1" --config "$LAB/relay.yaml"
	for ((i = 0; i < 300; i++)); do
		listening $HA udp $HA_IP:$MICE_PORT && listening $HA udp $HA_IP:$STUN_PORT && return 0
		alive relay "$1" || die "twist-relay exited at start-up (see $LAB/logs/relay.log)"
		sleep 0.1
	done
	die "twist-relay not listening on $HA_IP:$MICE_PORT after 30 s"
}

move() {
	local at k to
	at=$(state at) || die "the lab is not up"
	k=$(($(state moves) + 1))
	to=b
	[ "$at" = b ] && to=a
	detach "$at"
	attach $to $k
	echo "moved to $to: $(mn_addr $to $k)"
}

env_print() {
	local at k
	at=$(state at) || die "the lab is not up"
	k=$(state moves)
	cat <<-EOF
		MICE_LAB=$LAB
		MICE_NS_MN=$MN MICE_NS_NA=$NA MICE_NS_NB=$NB MICE_NS_HA=$HA MICE_NS_CN=$CN
		MICE_HA=$HA_IP:$MICE_PORT
		MICE_STUN=$HA_IP:$STUN_PORT
		MICE_TURN_USER=demo MICE_TURN_PASS=demo
		MICE_MN_SPI=$MN_SPI MICE_MN_KEY=$MN_KEY MICE_MN_HOME=$MN_HOME
		MICE_CN_SPI=$CN_SPI MICE_CN_KEY=$CN_KEY MICE_CN_HOME=$CN_HOME
		MICE_CN_ADDR=$CN_IP
		MICE_NAT_A=$NA_OUT MICE_NAT_B=$NB_OUT
		MICE_MN_AT=$at MICE_MN_ADDR=$(mn_addr "$at" "$k") MICE_MOVES=$k
	EOF
}

case ${1:-} in
up) up "${2:-}" ;;
down) lab_remove && rm -rf "$LAB" ;;
env) env_print ;;
move) move ;;
config) config ;;
*)
	sed -n '2,/^set -u/p' "$0" | sed -n 's/^# \{0,1\}//p'
	exit 2
	;;
esac
