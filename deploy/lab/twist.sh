#!/bin/bash
# The TWIST lab (issue 9): a client behind a NAT whose firewall lets out only
# UDP to the relay's STUN port, one relay, and a peer network with ordinary
# servers. Network namespaces and documentation addresses only. Needs root.
#
#   twist.sh up          build the lab and start the peer's servers
#   twist.sh down        stop the servers by PID, remove every namespace
#   twist.sh env         shell assignments (eval "$(twist.sh env)")
#   twist.sh tcp-drops   TCP packets the NAT dropped toward the peer so far
#   twist.sh allow-tcp on|off
#                        let TCP through the NAT (benchmark baselines only)
#
# The relay and the client are not started here: the tests and the benchmark
# start twist-relay in $RELAY_NS and twist-client in $CLIENT_NS themselves,
# with the configuration each needs (see tests/integration/twist_e2e.sh).
#
#   tw9-cli  192.0.2.2/28    2001:db8:1::2/64 \
#   tw9-cli6                 2001:db8:1::3/64  +-[tw9br] tw9-nat  192.0.2.1/28 2001:db8:1::1/64
#                                                         203.0.113.1/28 2001:db8:2::1/64 (masquerade v4)
#   tw9-rly  203.0.113.10/28 2001:db8:2::10/64   toward the NAT
#            198.51.100.1/28 2001:db8:3::1/64    toward the peer; forwarding on
#            TWIST relayed 203.0.113.200, 2001:db8:4::200 (routed into the
#            relay's TUN by twist-relay; the peer reaches them by its default
#            route)
#   tw9-peer 198.51.100.2/28 2001:db8:3::2/64
#            http.server 198.51.100.2:8080 (IPv4 only; /big.bin, 100 MB random,
#            SHA-256 in /big.sha256), http.server [2001:db8:3::2]:8081 (IPv6
#            only), socat UDP echo 198.51.100.2:7, unbound 198.51.100.2:53
#            (peer.twist.test A 198.51.100.2, AAAA 2001:db8:3::2)
#
# The NAT's forward chain (nft table inet tw9fw): TCP toward the peer network
# is counted (counter tcp_peer) and dropped before anything else; UDP from
# the inside to the relay's port 3478 and its replies pass; the rest is
# counted (counter other_drop) and dropped.
#
# Environment: TWIST_LAB_DIR (pids, logs, configs, the web root; default
# /run/tw9-lab), TWIST_LAB_BIG_MB (size of big.bin, default 100).
set -u

LAB_TOOL=twist.sh
# shellcheck source-path=SCRIPTDIR source=netns_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns_lib.sh"

P=tw9
LAB=${TWIST_LAB_DIR:-/run/$P-lab}
BIG_MB=${TWIST_LAB_BIG_MB:-100}

CLI=$P-cli
CLI6=$P-cli6
NAT=$P-nat
RLY=$P-rly
PEER=$P-peer
ALL_NS="$CLI $CLI6 $NAT $RLY $PEER"

RELAY_IP=203.0.113.10
RELAY_IP6=2001:db8:2::10
PEER_IP=198.51.100.2
PEER_IP6=2001:db8:3::2
TWIST_RELAY_IP=203.0.113.200
TWIST_RELAY_IP6=2001:db8:4::200
TUN_PREFIX4=198.51.100.0/28
TUN_PREFIX6=2001:db8:3::/64
# Every wait is bounded: tenths of a second.
WAIT_UP=100

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, nftables)"
	need ip iproute2
	need nft nftables
	need socat socat
	need unbound unbound
	need /usr/bin/python3 python3
	need sha256sum coreutils
}

cmd_env() {
	cat <<EOF
CLIENT_NS=$CLI
CLIENT6_NS=$CLI6
NAT_NS=$NAT
RELAY_NS=$RLY
PEER_NS=$PEER
RELAY_IP=$RELAY_IP
RELAY_IP6=$RELAY_IP6
PEER_IP=$PEER_IP
PEER_IP6=$PEER_IP6
TUN_PREFIX4=$TUN_PREFIX4
TUN_PREFIX6=$TUN_PREFIX6
TWIST_RELAY_IP=$TWIST_RELAY_IP
TWIST_RELAY_IP6=$TWIST_RELAY_IP6
LAB_DIR=$LAB
EOF
}

build_net() {
	local ns
	for ns in $ALL_NS; do
		ns_add "$ns"
	done
	# The NAT's inside is a bridge: the v4 client and the v6-only client.
	ip -n $NAT link add ${P}br type bridge forward_delay 0 || die "bridge"
	ip -n $NAT link set ${P}br up
	veth $CLI ${P}c $NAT ${P}nc
	veth $CLI6 ${P}c6 $NAT ${P}nc6
	ip -n $NAT link set ${P}nc master ${P}br
	ip -n $NAT link set ${P}nc6 master ${P}br
	veth $NAT ${P}no $RLY ${P}ro
	veth $RLY ${P}rp $PEER ${P}p

	addr $CLI ${P}c 192.0.2.2/28 2001:db8:1::2/64
	addr $CLI6 ${P}c6 2001:db8:1::3/64
	addr $NAT ${P}br 192.0.2.1/28 2001:db8:1::1/64
	addr $NAT ${P}no 203.0.113.1/28 2001:db8:2::1/64
	addr $RLY ${P}ro $RELAY_IP/28 $RELAY_IP6/64
	addr $RLY ${P}rp 198.51.100.1/28 2001:db8:3::1/64
	addr $PEER ${P}p $PEER_IP/28 $PEER_IP6/64

	ip -n $CLI route add default via 192.0.2.1 || die "client route"
	ip -n $CLI -6 route add default via 2001:db8:1::1 || die "client route v6"
	ip -n $CLI6 -6 route add default via 2001:db8:1::1 || die "client6 route"
	# The NAT reaches everything beyond through the relay (a baseline with
	# TCP allowed goes that way too); the relay reaches the inside's IPv6
	# through the NAT (IPv6 is routed, not translated).
	ip -n $NAT route add default via $RELAY_IP || die "nat route"
	ip -n $NAT -6 route add default via $RELAY_IP6 || die "nat route v6"
	ip -n $RLY -6 route add 2001:db8:1::/64 via 2001:db8:2::1 || die "relay route v6"
	ip -n $PEER route add default via 198.51.100.1 || die "peer route"
	ip -n $PEER -6 route add default via 2001:db8:3::1 || die "peer route v6"

	for ns in $NAT $RLY; do
		nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
			die "forwarding in $ns"
	done
	nat_firewall
}

nat_firewall() {
	nsx $NAT nft -f - <<EOF || die "nft in $NAT"
table inet ${P}fw {
	counter tcp_peer { }
	counter relay_udp { }
	counter other_drop { }
	chain forward {
		type filter hook forward priority filter; policy drop;
		ip daddr $TUN_PREFIX4 meta l4proto tcp counter name tcp_peer drop
		ip6 daddr $TUN_PREFIX6 meta l4proto tcp counter name tcp_peer drop
		ct state established,related accept
		iifname "${P}br" ip daddr $RELAY_IP udp dport 3478 counter name relay_udp accept
		iifname "${P}br" ip6 daddr $RELAY_IP6 udp dport 3478 counter name relay_udp accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		counter name other_drop drop
	}
}
table ip ${P}nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "${P}no" masquerade
	}
}
EOF
}

# ---- the peer's servers ----

write_unbound_conf() {
	cat >"$LAB/unbound.conf" <<EOF
# unbound for the twist lab's peer (generated by deploy/lab/twist.sh)
server:
	interface: $PEER_IP
	port: 53
	do-ip6: no
	access-control: 0.0.0.0/0 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$LAB"
	pidfile: "$LAB/unbound.pid"
	logfile: ""
	use-syslog: no
	verbosity: 1
	local-zone: "twist.test." static
	local-data: "peer.twist.test. A $PEER_IP"
	local-data: "peer.twist.test. AAAA $PEER_IP6"
remote-control:
	control-enable: no
EOF
}

make_webroot() {
	mkdir -p "$LAB/www" "$LAB/www6"
	head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$LAB/www/big.bin" || die "big.bin"
	(cd "$LAB/www" && sha256sum big.bin | cut -d' ' -f1 >big.sha256)
	echo "twist lab peer, IPv4 only" >"$LAB/www/index.txt"
	echo "twist lab peer, IPv6 only" >"$LAB/www6/index.txt"
}

start_servers() {
	make_webroot
	write_unbound_conf
	spawn http4 $PEER /usr/bin/python3 -m http.server 8080 --bind $PEER_IP --directory "$LAB/www"
	spawn http6 $PEER /usr/bin/python3 -m http.server 8081 --bind $PEER_IP6 --directory "$LAB/www6"
	# One child per peer 5-tuple (each TWIST flow is one), gone after 60 s idle.
	spawn echo $PEER socat -T 60 UDP4-LISTEN:7,bind=$PEER_IP,reuseaddr,fork PIPE
	spawn dns $PEER unbound -d -c "$LAB/unbound.conf"
}

wait_servers() {
	local want=("tcp 198.51.100.2:8080" "tcp [2001:db8:3::2]:8081"
		"udp 198.51.100.2:7" "udp 198.51.100.2:53") w
	for w in "${want[@]}"; do
		for ((i = 0; i < WAIT_UP; i++)); do
			# shellcheck disable=SC2086 # "proto addr" on purpose
			listening $PEER $w && break
			sleep 0.1
		done
		# shellcheck disable=SC2086
		listening $PEER $w || die "peer server $w did not start (see $LAB/logs/)"
	done
}

# ---- subcommands ----

cmd_up() {
	lab_up
}

cmd_down() {
	lab_remove
	rm -rf "$LAB"
	return 0
}

cmd_tcp_drops() {
	nsx $NAT nft list counter inet ${P}fw tcp_peer 2>/dev/null |
		awk '/packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}

cmd_allow_tcp() {
	local h
	case ${1:-} in
	on)
		nsx $NAT nft insert rule inet ${P}fw forward meta l4proto tcp accept comment '"allow-tcp"' ||
			die "nft insert"
		;;
	off)
		for h in $(nsx $NAT nft -a list chain inet ${P}fw forward |
			awk '/allow-tcp/ { print $NF }'); do
			nsx $NAT nft delete rule inet ${P}fw forward handle "$h" || die "nft delete"
		done
		;;
	*) die "usage: $0 allow-tcp on|off" ;;
	esac
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
tcp-drops) cmd_tcp_drops ;;
allow-tcp) cmd_allow_tcp "${2:-}" ;;
*)
	echo "usage: $0 up|down|env|tcp-drops|allow-tcp on|off" >&2
	exit 2
	;;
esac
