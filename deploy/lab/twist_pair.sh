#!/bin/bash
# The HA pair (deploy/lab/pair.sh) with TWIST on top, for the chaos tests
# that show TCP surviving a failover (tests/chaos/twist_failover.sh): both
# nodes run twist.enabled with the same relayed address behind their TUN, a
# twist-client host sits behind a NAT on the client side, and the peer
# serves HTTP. Namespaces tw10h-* only, documentation addresses. Needs root.
#
#   twist_pair.sh up            the pair (master A), the NAT, the client host,
#                               the peer's web server with big.bin
#   twist_pair.sh down          everything stopped by PID, namespaces removed
#   twist_pair.sh env           shell assignments (eval "$(twist_pair.sh env)")
#   twist_pair.sh kill-active   SIGKILL keepalived, relay, syncd and twist-ha
#                               of the node that holds the VIP
#   twist_pair.sh cut-active    take that node's links down
#   twist_pair.sh restore       links up, dead daemons restarted (as standby)
#
# Added to pair.sh's topology:
#
#   tw10h-tcli 192.0.2.130/28 -- tw10h-nat 192.0.2.129/28 | 203.0.113.20/24 --br-c-- VIP 203.0.113.1
#              (twist-client runs here)    (masquerade; only UDP to VIP:3478 passes)
#   TWIST relayed 192.0.2.200 on both nodes, routed into each node's TUN
#   (twist0); the peer 198.51.100.10 reaches it via the relay-side VIP
#   198.51.100.1, so it follows the VIP. http.server 198.51.100.10:8080
#   serves big.bin (TWIST_PAIR_BIG_MB, default 200 MB; SHA-256 in big.sha256).
#
# The relay is the tree's build/bin unless TWIST_BIN says otherwise (as pair.sh).
set -u

P=tw10h
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PAIR=$HERE/pair.sh
LAB=${TWIST_LAB_DIR:-/run/$P-lab}
BIG_MB=${TWIST_PAIR_BIG_MB:-200}
NAT=$P-nat
TCLI=$P-tcli
SW=$P-sw
PE=$P-peer
VIP=203.0.113.1
RVIP=198.51.100.1
PEER_IP=198.51.100.10
TWIST_RELAY_IP=192.0.2.200
NAT_OUT=203.0.113.20
TCLI_IP=192.0.2.130
NAT_IN=192.0.2.129
HTTP_PORT=8080
WAIT_UP=100

export TWIST_LAB=$P TWIST_LAB_DIR=$LAB TWIST_LAB_HA=1 TWIST_LAB_FORWARD=1

die() {
	echo "twist_pair.sh: $*" >&2
	exit 1
}

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices)"
	command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
	command -v python3 >/dev/null || die "python3 not found"
}

cmd_env() {
	"$PAIR" env
	cat <<EOF
NAT_NS=$NAT
TWIST_CLIENT_NS=$TCLI
TWIST_CLIENT_IP=$TCLI_IP
TWIST_RELAY_IP=$TWIST_RELAY_IP
HTTP_PORT=$HTTP_PORT
BIG_SHA256_FILE=$LAB/www/big.sha256
EOF
}

twist_yaml() {
	cat >"$LAB.twist.yaml" <<EOF
twist:
  enabled: true
  relay_ipv4: $TWIST_RELAY_IP
  ports: 49152-65535
  tun: twist0
  idle_timeout: 60
EOF
}

# The NAT between the client host and the client-side bridge.
build_nat() {
	ip netns add $NAT || die "namespace $NAT"
	ip netns add $TCLI || die "namespace $TCLI"
	# IPv6 stays on in the client host: twist-client gives its TUN an IPv6 address.
	ip -n $NAT link set lo up
	ip -n $TCLI link set lo up
	nsx $NAT sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n $SW link add $P-nc type veth peer name eth-c netns $NAT || die "veth to br-c"
	ip -n $SW link set $P-nc master br-c up
	ip -n $NAT link add eth-i type veth peer name eth-n netns $TCLI || die "veth nat-client"
	ip -n $NAT link set eth-c up
	ip -n $NAT link set eth-i up
	ip -n $TCLI link set eth-n up
	ip -n $NAT addr add $NAT_OUT/24 dev eth-c
	ip -n $NAT addr add $NAT_IN/28 dev eth-i
	ip -n $TCLI addr add $TCLI_IP/28 dev eth-n
	ip -n $TCLI route add default via $NAT_IN
	ip -n $NAT route add default via $VIP
	nsx $NAT sysctl -qw net.ipv4.ip_forward=1 net.ipv4.neigh.eth-c.locktime=0
	nsx $NAT nft -f - <<EOF || die "nft in $NAT"
table inet ${P}fw {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "eth-i" ip daddr $VIP udp dport 3478 accept
	}
}
table ip ${P}nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "eth-c" masquerade
	}
}
EOF
}

# Both nodes forward between their TUN and the peer side (pair.sh with
# TWIST_LAB_FORWARD); the peer reaches the relayed address through whichever
# node holds the relay-side VIP.
route_twist() {
	ip -n $PE route add $TWIST_RELAY_IP/32 via $RVIP || die "peer route"
}

start_http() {
	mkdir -p "$LAB/www" "$LAB/peer"
	head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$LAB/www/big.bin" || die "big.bin"
	(cd "$LAB/www" && sha256sum big.bin | cut -d' ' -f1 >big.sha256)
	(exec ip netns exec $PE setsid python3 -m http.server $HTTP_PORT --bind $PEER_IP \
		--directory "$LAB/www" </dev/null >>"$LAB/peer/http.log" 2>&1) &
	echo $! >"$LAB/peer/http.pid"
	for _ in $(seq $WAIT_UP); do
		nsx $PE ss -Hltn "sport = :$HTTP_PORT" | grep -q LISTEN && return 0
		sleep 0.1
	done
	die "http.server did not start (see $LAB/peer/http.log)"
}

wait_tun() {
	local n
	for n in a b; do
		for _ in $(seq $WAIT_UP); do
			ip -n "$P-$n" link show twist0 >/dev/null 2>&1 && break
			sleep 0.1
		done
		ip -n "$P-$n" link show twist0 >/dev/null 2>&1 || die "node $n has no twist0"
	done
}

lab_exists() {
	ip netns list 2>/dev/null | grep -qw -e "$NAT" -e "$TCLI" -e "$SW"
}

cmd_up() {
	need_root
	lab_exists && die "lab $P exists: run '$0 down' first"
	twist_yaml
	TWIST_LAB_RELAY_EXTRA=$LAB.twist.yaml "$PAIR" up || die "pair.sh up failed"
	wait_tun
	build_nat
	route_twist
	start_http
	echo "twist_pair.sh: up (master a, big.bin ${BIG_MB} MB)"
}

cmd_down() {
	local ns pid
	for ns in $TCLI $NAT; do
		ip netns list 2>/dev/null | grep -qw "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns"
	done
	"$PAIR" down
	rm -f "$LAB.twist.yaml"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
kill-active) "$PAIR" fail-active kill ;;
cut-active) "$PAIR" fail-active link ;;
restore) "$PAIR" restore ;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
