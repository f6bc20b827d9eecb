#!/bin/bash
# Two twist sites behind one anycast address, with BIRD 2 and BGP, in
# network namespaces (issue 14). Needs root and bird2.
#
#   anycast.sh up                  build the lab, start everything, wait
#                                  until each router reaches its own site
#   anycast.sh down                stop every process, remove the namespaces
#   anycast.sh env                 shell assignments (eval "$(anycast.sh env)")
#   anycast.sh status              processes, BGP sessions, routes
#   anycast.sh fail-site A|B [kill|links]
#                                  kill: SIGKILL the site's relay (default);
#                                  links: drop every packet on the site's
#                                  uplink (nftables), so BFD finds it dead
#   anycast.sh restore A|B         uplink back, restart what is dead
#   anycast.sh drain A|B           twistctl drain (or the /serving stand-in)
#   anycast.sh undrain A|B
#   anycast.sh wait-route R S [T0 [MAX]]
#                                  wait (MAX s, default 30) until router R
#                                  sends both anycast addresses to site S;
#                                  print the seconds since T0 (date +%s.%N)
#
# Topology (ASCII; docs/operations.md "Multi-site" has it with the ASes):
#
#   client A ---- router A ========= router B ---- client B
#   any14-ca      any14-ra           any14-rb      any14-cb
#                    |                  |
#                 site A             site B
#                 any14-a            any14-b
#   anycast 192.0.2.100/32, 2001:db8:14::100/128 on both sites;
#   unicast 198.51.100.11, 2001:db8:14:a::11 (A); 198.51.100.21,
#   2001:db8:14:b::21 (B). Each site is ONE node (relay, twist-ha, BIRD),
#   not an HA pair: two pairs, two routers and two clients are too many
#   processes for a 2-core test machine; pair.sh covers the pair.
#
# Environment: TWIST_ANY_LAB (namespace prefix, default any14),
# TWIST_ANY_LAB_DIR (state; default /run/$TWIST_ANY_LAB-lab), TWIST_BIN
# (twist-relay, twist-ha, twistctl; default build/bin of this tree),
# TWIST_LAB_LOG (info|debug).
set -u

P=${TWIST_ANY_LAB:-any14}
LAB=${TWIST_ANY_LAB_DIR:-/run/$P-lab}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${TWIST_BIN:-$ROOT/build/bin}
BIRD_DIR=$ROOT/deploy/bird
LOGLEVEL=${TWIST_LAB_LOG:-info}

ANYCAST_IP=192.0.2.100
ANYCAST_IP6=2001:db8:14::100
ANY_TABLE=100
RELAY_METRICS=127.0.0.1:9641
HA_METRICS=127.0.0.1:9643
SHIM_METRICS=127.0.0.1:9644
ECHO_PORT=9000
WHOAMI_PORT=9001
NONCE_SECRET=any14-lab-shared-nonce-secret-0123456789
CLUSTER_SECRET=any14-lab-cluster-secret-0123456789abcdef
WAIT_UP=600 # tenths of a second

die() {
	echo "anycast.sh: $*" >&2
	exit 1
}

ns() { echo "$P-$1"; }
nsx() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

# Per site: its AS, its router, its addresses.
site_as() { [ "$1" = a ] && echo 64500 || echo 64501; }
router_as() { [ "$1" = a ] && echo 64496 || echo 64497; }
unicast() { [ "$1" = a ] && echo 198.51.100.11 || echo 198.51.100.21; }
unicast6() { [ "$1" = a ] && echo 2001:db8:14:a::11 || echo 2001:db8:14:b::21; }
# The site's uplink: 203.0.113.0/30 (A) or .4/30 (B); router .1/.5, site .2/.6.
up_net() { [ "$1" = a ] && echo 0 || echo 4; }
up_router() { echo "203.0.113.$(($(up_net "$1") + 1))"; }
up_site() { echo "203.0.113.$(($(up_net "$1") + 2))"; }
up6_router() { [ "$1" = a ] && echo 2001:db8:14:1::1 || echo 2001:db8:14:2::1; }
up6_site() { [ "$1" = a ] && echo 2001:db8:14:1::2 || echo 2001:db8:14:2::2; }
# Router to router: 203.0.113.8/30, A .9, B .10; 2001:db8:14:3::/64.
rr() { [ "$1" = a ] && echo 203.0.113.9 || echo 203.0.113.10; }
rr6() { [ "$1" = a ] && echo 2001:db8:14:3::1 || echo 2001:db8:14:3::2; }
# Clients: 192.0.2.0/27 (A) and 192.0.2.32/27 (B), clear of the anycast /32.
cl_net() { [ "$1" = a ] && echo 0 || echo 32; }
cl_router() { echo "192.0.2.$(($(cl_net "$1") + 1))"; }
cl_ip() { echo "192.0.2.$(($(cl_net "$1") + 10))"; }
cl6_net() { [ "$1" = a ] && echo 2001:db8:14:c1 || echo 2001:db8:14:c2; }
other() { [ "$1" = a ] && echo b || echo a; }
upper() { echo "$1" | tr ab AB; }
site_arg() {
	case ${1:-} in
	A | a) echo a ;;
	B | b) echo b ;;
	*) die "which site? A or B" ;;
	esac
}

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, routes, TUN)"
	command -v bird >/dev/null || die "bird not found (apt-get install bird2)"
	command -v birdc >/dev/null || die "birdc not found (apt-get install bird2)"
	command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
	command -v curl >/dev/null || die "curl not found (apt-get install curl)"
	command -v python3 >/dev/null || die "python3 not found"
	for b in twist-relay twist-ha; do
		[ -x "$BIN/$b" ] || die "$BIN/$b not found: build first or set TWIST_BIN"
	done
}

# ---- processes: started in a namespace, recorded by PID, stopped by PID ----

# shellcheck source=deploy/lab/proc.sh
. "$HERE/proc.sh"

# run NODE NAME CMD...: spawn in NODE's namespace.
run() {
	local n=$1 name=$2
	shift 2
	spawn "$n" "$name" "$(ns "$n")" "$@"
}

# ---- namespaces and links ----

ns_new() {
	local n=$1
	ip netns add "$(ns "$n")" || die "cannot create namespace $(ns "$n")"
	ip -n "$(ns "$n")" link set lo up
	# Addresses usable at once: no duplicate address detection.
	nsx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# veth N1 IF1 N2 IF2
veth() {
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$4" netns "$(ns "$3")" ||
		die "veth $1:$2 - $3:$4"
	ip -n "$(ns "$1")" link set "$2" up
	ip -n "$(ns "$3")" link set "$4" up
}

addr() {
	ip -n "$(ns "$1")" addr add "$2" dev "$3" nodad 2>/dev/null ||
		ip -n "$(ns "$1")" addr add "$2" dev "$3" || die "address $2 on $1:$3"
}

lab_exists() {
	local n
	for n in a b ra rb ca cb; do
		ip netns list 2>/dev/null | grep -qw "$(ns "$n")" && return 0
	done
	return 1
}

build_net() {
	local s r o
	for n in a b ra rb ca cb; do
		ns_new "$n"
	done
	for r in ra rb; do
		nsx "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	veth ra eth-rb rb eth-ra
	addr ra "$(rr a)/30" eth-rb
	addr rb "$(rr b)/30" eth-ra
	addr ra "$(rr6 a)/64" eth-rb
	addr rb "$(rr6 b)/64" eth-ra
	for s in a b; do
		r=r$s
		o=$(other "$s")
		veth "$r" eth-site "$s" eth0
		addr "$r" "$(up_router "$s")/30" eth-site
		addr "$s" "$(up_site "$s")/30" eth0
		addr "$r" "$(up6_router "$s")/64" eth-site
		addr "$s" "$(up6_site "$s")/64" eth0
		veth "$r" eth-client "c$s" eth0
		addr "$r" "$(cl_router "$s")/27" eth-client
		addr "c$s" "$(cl_ip "$s")/27" eth0
		addr "$r" "$(cl6_net "$s")::1/64" eth-client
		addr "c$s" "$(cl6_net "$s")::10/64" eth0
		ip -n "$(ns "c$s")" route add default via "$(cl_router "$s")"
		ip -n "$(ns "c$s")" -6 route add default via "$(cl6_net "$s")::1"
		# The node: anycast and unicast addresses on lo (no dummy module
		# needed), default route to its router.
		for a in $ANYCAST_IP/32 "$(unicast "$s")/32"; do
			addr "$s" "$a" lo
		done
		for a in $ANYCAST_IP6/128 "$(unicast6 "$s")/128"; do
			addr "$s" "$a" lo
		done
		# From the unicast address, not the uplink's: the other router
		# knows the way back only to that (sibling reports, peers).
		ip -n "$(ns "$s")" route add default via "$(up_router "$s")" src "$(unicast "$s")"
		ip -n "$(ns "$s")" -6 route add default via "$(up6_router "$s")" src "$(unicast6 "$s")"
		# Unicast routing is static: BGP carries only the service.
		ip -n "$(ns "$r")" route add "$(unicast "$s")/32" via "$(up_site "$s")"
		ip -n "$(ns "$r")" -6 route add "$(unicast6 "$s")/128" via "$(up6_site "$s")"
		ip -n "$(ns "$r")" route add "$(unicast "$o")/32" via "$(rr "$o")"
		ip -n "$(ns "$r")" -6 route add "$(unicast6 "$o")/128" via "$(rr6 "$o")"
		ip -n "$(ns "$r")" route add "192.0.2.$(cl_net "$o")/27" via "$(rr "$o")"
		ip -n "$(ns "$r")" -6 route add "$(cl6_net "$o")::/64" via "$(rr6 "$o")"
	done
}

# ---- configuration ----

write_bird_site() {
	local s=$1
	cat >"$LAB/$s/bird.conf" <<EOF
# BIRD, lab site $s (generated by deploy/lab/anycast.sh)
log "$LAB/$s/bird.log" all;
define ROUTER_ID = $(unicast "$s");
define LOCAL_AS = $(site_as "$s");
define UPSTREAM_AS = $(router_as "$s");
define UPSTREAM4 = $(up_router "$s");
define UPSTREAM6 = $(up6_router "$s");
define ANYCAST4 = $ANYCAST_IP/32;
define ANYCAST6 = $ANYCAST_IP6/128;
define ANYCAST_TABLE = $ANY_TABLE;
include "$BIRD_DIR/site.conf";
EOF
}

write_bird_router() {
	local s=$1 o
	o=$(other "$s")
	cat >"$LAB/r$s/bird.conf" <<EOF
# BIRD, lab router $s (generated by deploy/lab/anycast.sh)
log "$LAB/r$s/bird.log" all;
define ROUTER_ID = $(up_router "$s");
define LOCAL_AS = $(router_as "$s");
define SITE_AS = $(site_as "$s");
define SITE4 = $(up_site "$s");
define SITE6 = $(up6_site "$s");
define PEER_AS = $(router_as "$o");
define PEER4 = $(rr "$o");
define PEER6 = $(rr6 "$o");
define ANYCAST4 = $ANYCAST_IP/32;
define ANYCAST6 = $ANYCAST_IP6/128;
include "$BIRD_DIR/router.conf";
EOF
}

# The cluster section of the shared contract (issue 14): the other site
# is this node's sibling, named by its unicast addresses. A new Allocate
# on the anycast address is sent (300) to this node's own unicast address,
# so that the allocation stays here when BGP moves the anycast route.
cluster_yaml() {
	local s=$1 o
	o=$(other "$s")
	cat <<EOF
cluster:
  node: ${s}1
  secret: "$CLUSTER_SECRET"
  listen: tcp://$(unicast "$s"):3491
  interval_ms: 1000
  capacity: 1000
  high_water: 800
  anycast: [$ANYCAST_IP, "$ANYCAST_IP6"]
  unicast: [$(unicast "$s"):3478, "[$(unicast6 "$s")]:3478"]
  siblings:
    - name: ${o}1
      report: tcp://$(unicast "$o"):3491
      alternate: [$(unicast "$o"):3478, "[$(unicast6 "$o")]:3478"]
EOF
}

relay_yaml() {
	local s=$1
	cat <<EOF
# twist-relay, lab site $s (generated by deploy/lab/anycast.sh)
listen:
  - { address: $ANYCAST_IP, port: 3478, transports: [udp, tcp] }
  - { address: "$ANYCAST_IP6", port: 3478, transports: [udp, tcp] }
  - { address: $(unicast "$s"), port: 3478, transports: [udp, tcp] }
  - { address: "$(unicast6 "$s")", port: 3478, transports: [udp, tcp] }
relay:
  addresses: [$(unicast "$s"), "$(unicast6 "$s")"]
  port_min: 49152
  port_max: 65535
workers: 1
auth:
  realm: twist.local
  users:
    - { name: demo, password: demo }
  nonce_secret: "$NONCE_SECRET"
peers:
  allow: [192.0.2.0/24, "2001:db8:14::/48"]
metrics:
  enabled: true
  listen: $RELAY_METRICS
control:
  socket: $LAB/$s/control.sock
log:
  level: $LOGLEVEL
EOF
}

# With the cluster section when this twist-relay knows it; without it a
# relay from before issue 14 still runs the lab (anycast and withdrawal
# only, no redirection). $LAB/$s/cluster says which.
write_relay_yaml() {
	local s=$1 f=$LAB/$1/relay.yaml
	{
		relay_yaml "$s"
		cluster_yaml "$s"
	} >"$f"
	if "$BIN/twist-relay" --check-config "$f" >"$LAB/$s/check-config.log" 2>&1; then
		echo 1 >"$LAB/$s/cluster"
		return
	fi
	relay_yaml "$s" >"$f"
	"$BIN/twist-relay" --check-config "$f" >>"$LAB/$s/check-config.log" 2>&1 ||
		die "relay config for site $s refused (see $LAB/$s/check-config.log)"
	echo 0 >"$LAB/$s/cluster"
	echo "anycast.sh: site $s: this twist-relay has no cluster section (see" \
		"$LAB/$s/check-config.log): no sibling redirection" >&2
}

# ---- daemons ----

http_code() {
	nsx "$1" curl -s -o /dev/null -m 1 -w '%{http_code}' "http://$2" 2>/dev/null
}

start_bird() {
	local n=$1
	rm -f "$LAB/$n/bird.ctl"
	run "$n" bird bird -f -c "$LAB/$n/bird.conf" -s "$LAB/$n/bird.ctl"
}

birdc_() {
	local n=$1
	shift
	birdc -s "$LAB/$n/bird.ctl" "$@" 2>/dev/null
}

start_relay() {
	run "$1" relay "$BIN/twist-relay" --config "$LAB/$1/relay.yaml"
}

wait_relay() {
	for _ in $(seq $WAIT_UP); do
		[ "$(http_code "$1" $RELAY_METRICS/health)" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# Where twist-ha reads /serving: the relay's own page, or (a relay from
# before issue 14 answers 404) the stand-in, deploy/lab/serving.py, which
# the drain subcommand then flips. $LAB/$s/serving_mode says which.
serving_mode() {
	local s=$1
	[ -f "$LAB/$s/serving_mode" ] && cat "$LAB/$s/serving_mode" && return
	case $(http_code "$s" $RELAY_METRICS/serving) in
	404) echo shim >"$LAB/$s/serving_mode" ;;
	*) echo relay >"$LAB/$s/serving_mode" ;;
	esac
	cat "$LAB/$s/serving_mode"
}

start_shim() {
	local s=$1
	mkdir -p "$LAB/$s/serving"
	run "$s" shim python3 "$HERE/serving.py" "${SHIM_METRICS%:*}" "${SHIM_METRICS#*:}" \
		"$LAB/$s/serving" --only-serving
}

start_ha() {
	local s=$1 args
	args=(--fifo "$LAB/$s/notify.fifo" --role-file "$LAB/$s/role"
		--track-file "$LAB/$s/track" --relay "$RELAY_METRICS"
		--anycast "table:$ANY_TABLE" --anycast-prefix "$ANYCAST_IP/32"
		--anycast-prefix "$ANYCAST_IP6/128" --anycast-dev "$P-any"
		--metrics "$HA_METRICS" --log-level "$LOGLEVEL")
	if [ "$(serving_mode "$s")" = shim ]; then
		alive "$s" shim || start_shim "$s"
		args+=(--serving "$SHIM_METRICS")
	fi
	run "$s" ha "$BIN/twist-ha" "${args[@]}"
}

start_echo() {
	local c=$1
	alive "$c" echo && return 0
	run "$c" echo python3 "$HERE/udp-echo.py" "$(cl_ip "${c#c}")" $ECHO_PORT $WHOAMI_PORT
}

start_site() {
	local s=$1
	alive "$s" bird || start_bird "$s"
	alive "$s" relay || start_relay "$s"
	wait_relay "$s" || die "relay at site $s not healthy (see $LAB/$s/relay.log)"
	alive "$s" ha || start_ha "$s"
}

# ---- observation ----

# The next hop router N's kernel uses for the anycast address, or "".
route_via() {
	ip -n "$(ns "$1")" -4 route show "$ANYCAST_IP/32" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "via") { print $(i + 1); exit } }'
}

route6_via() {
	ip -n "$(ns "$1")" -6 route show "$ANYCAST_IP6/128" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "via") { print $(i + 1); exit } }'
}

# Router r$1 sends the service to its own site (both families).
router_to_own_site() {
	[ "$(route_via "r$1")" = "$(up_site "$1")" ] && [ "$(route6_via "r$1")" = "$(up6_site "$1")" ]
}

# The next hops router r$1 uses to reach site $2: its uplink, or router $2.
hops_to() {
	if [ "$1" = "$2" ]; then
		echo "$(up_site "$1") $(up6_site "$1")"
	else
		echo "$(rr "$2") $(rr6 "$2")"
	fi
}

cmd_wait_route() {
	local r s t0=${3:-} max=${4:-30} want got end
	r=$(site_arg "${1:-}")
	s=$(site_arg "${2:-}")
	[ -n "$t0" ] || t0=$(date +%s.%N)
	want=$(hops_to "$r" "$s")
	end=$(($(date +%s) + max))
	# Polled every 10 ms at most; bounded by count and by time.
	for _ in $(seq $((max * 100))); do
		got="$(route_via "r$r") $(route6_via "r$r")"
		if [ "$got" = "$want" ]; then
			awk -v now="$(date +%s.%N)" -v t0="$t0" 'BEGIN { printf "%.3f\n", now - t0 }'
			return 0
		fi
		[ "$(date +%s)" -gt "$end" ] && break
		sleep 0.01
	done
	echo "anycast.sh: router $(upper "$r") still sends the service to ${got:-nowhere}," \
		"not site $(upper "$s") ($want), after ${max}s" >&2
	return 1
}

wait_converged() {
	for _ in $(seq $WAIT_UP); do
		router_to_own_site a && router_to_own_site b && return 0
		sleep 0.1
	done
	return 1
}

# With the cluster section: the other site's reports arrive (sibling up),
# so that a drain has somewhere to redirect to.
wait_sibling() {
	local s=$1 o
	o=$(other "$s")
	[ "$(cat "$LAB/$s/cluster" 2>/dev/null)" = 1 ] || return 0
	for _ in $(seq $WAIT_UP); do
		[ "$(metric "$s" $RELAY_METRICS "twist_cluster_sibling_up{sibling=\"${o}1\"}")" = 1 ] &&
			return 0
		sleep 0.1
	done
	return 1
}

metric() {
	nsx "$1" curl -s -m 1 "http://$2/metrics" 2>/dev/null |
		awk -v k="$3" '$1 == k { print $2; exit }'
}

# ---- subcommands ----

cmd_up() {
	need_root
	lab_exists && die "lab '$P' exists: run '$0 down' first"
	rm -rf "$LAB"
	for n in a b ra rb ca cb; do
		mkdir -p "$LAB/$n"
	done
	echo "anycast.sh: lab '$P' in $LAB, binaries from $BIN"
	build_net
	for s in a b; do
		write_bird_site "$s"
		write_bird_router "$s"
		write_relay_yaml "$s"
		bird -p -c "$LAB/$s/bird.conf" >"$LAB/$s/bird-check.log" 2>&1 ||
			die "site $s: BIRD refuses its config: $(cat "$LAB/$s/bird-check.log")"
		bird -p -c "$LAB/r$s/bird.conf" >"$LAB/r$s/bird-check.log" 2>&1 ||
			die "router $s: BIRD refuses its config: $(cat "$LAB/r$s/bird-check.log")"
	done
	for s in a b; do
		start_bird "r$s"
		start_echo "c$s"
		start_site "$s"
	done
	wait_converged || die "routers do not reach their own sites (see $LAB/*/bird.log, $0 status)"
	for s in a b; do
		wait_sibling "$s" || die "site $s does not hear its sibling's reports (see $LAB/$s/relay.log)"
	done
	echo "anycast.sh: up; /serving from: A $(serving_mode a), B $(serving_mode b);" \
		"cluster section: A $(cat "$LAB/a/cluster"), B $(cat "$LAB/b/cluster")"
}

cmd_down() {
	local n name pids ns
	pids=""
	for n in a b ra rb ca cb; do
		for name in ha relay shim bird echo; do
			alive "$n" "$name" && pids="$pids $(pid_of "$n" "$name")" &&
				stop_pid TERM "$(pid_of "$n" "$name")"
		done
	done
	for _ in $(seq 30); do
		local left=""
		for pid in $pids; do
			[ -d "/proc/$pid" ] && left="$left $pid"
		done
		pids=$left
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for pid in $pids; do
		stop_pid KILL "$pid"
	done
	# Whatever else runs in our namespaces was started there by a test.
	for n in a b ra rb ca cb; do
		ns=$(ns "$n")
		ip netns list 2>/dev/null | grep -qw "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			stop_pid KILL "$pid"
		done
	done
	for n in a b ra rb ca cb; do
		ns=$(ns "$n")
		ip netns list 2>/dev/null | grep -qw "$ns" && ip netns del "$ns"
	done
	rm -rf "$LAB"
	return 0
}

cmd_env() {
	cat <<EOF
ANY_LAB=$P
ANY_LAB_DIR=$LAB
SITE_A_NS=$(ns a)
SITE_B_NS=$(ns b)
ROUTER_A_NS=$(ns ra)
ROUTER_B_NS=$(ns rb)
CLIENT_A_NS=$(ns ca)
CLIENT_B_NS=$(ns cb)
ANYCAST_IP=$ANYCAST_IP
ANYCAST_IP6=$ANYCAST_IP6
UNICAST_A=$(unicast a)
UNICAST_B=$(unicast b)
UNICAST6_A=$(unicast6 a)
UNICAST6_B=$(unicast6 b)
UPLINK_A=$(up_site a)
UPLINK_B=$(up_site b)
UPLINK6_A=$(up6_site a)
UPLINK6_B=$(up6_site b)
CLIENT_A_IP=$(cl_ip a)
CLIENT_B_IP=$(cl_ip b)
ECHO_PORT=$ECHO_PORT
RELAY_METRICS=$RELAY_METRICS
HA_METRICS=$HA_METRICS
EOF
}

cmd_status() {
	local s name st
	lab_exists || {
		echo "lab '$P': down"
		return 1
	}
	for s in a b; do
		printf 'site %s (%s): announced %s, reason %s, serving from %s, cluster %s\n' \
			"$(upper "$s")" "$(ns "$s")" \
			"$(metric "$s" $HA_METRICS twist_ha_anycast_announced)" \
			"$(nsx "$s" curl -s -m 1 "http://$HA_METRICS/metrics" 2>/dev/null |
				sed -n 's/^twist_ha_anycast_reason{reason="\(.*\)"} 1$/\1/p')" \
			"$(cat "$LAB/$s/serving_mode" 2>/dev/null)" "$(cat "$LAB/$s/cluster" 2>/dev/null)"
		for name in relay ha bird shim; do
			st=dead
			alive "$s" "$name" && st=running
			printf '  %-6s %s\n' "$name" "$st"
		done
		printf 'router %s: anycast via %s / %s\n' "$(upper "$s")" "$(route_via "r$s")" \
			"$(route6_via "r$s")"
		birdc_ "r$s" show protocols | sed 's/^/  /'
	done
}

# Drop every packet on the site's uplink, in both directions, leaving the
# link up: only BFD (or the BGP hold time) can tell.
links_down() {
	nsx "$1" nft -f - <<EOF
table inet any14_fail {
	chain in { type filter hook input priority 0; policy accept; iifname "eth0" drop; }
	chain out { type filter hook output priority 0; policy accept; oifname "eth0" drop; }
}
EOF
}

links_up() {
	nsx "$1" nft delete table inet any14_fail 2>/dev/null
	return 0
}

cmd_fail_site() {
	local s how=${2:-kill}
	need_root
	s=$(site_arg "${1:-}")
	case $how in
	kill)
		alive "$s" relay || die "site $s: relay not running"
		stop_pid KILL "$(pid_of "$s" relay)"
		;;
	links) links_down "$s" || die "site $s: nft failed" ;;
	*) die "usage: $0 fail-site A|B [kill|links]" ;;
	esac
	echo "anycast.sh: failed site $(upper "$s") ($how)"
}

cmd_restore() {
	local s
	need_root
	s=$(site_arg "${1:-}")
	links_up "$s"
	start_site "$s"
	wait_converged || die "routers do not reach their own sites after restore"
	wait_sibling "$(other "$s")" || die "site $(other "$s") does not hear site $s's reports"
	echo "anycast.sh: site $(upper "$s") restored"
}

# drain|undrain: the relay's own verb when it has /serving, else the stand-in.
cmd_drain() {
	local verb=$1 s
	s=$(site_arg "${2:-}")
	if [ "$(serving_mode "$s")" = relay ]; then
		nsx "$s" "$BIN/twistctl" --socket "$LAB/$s/control.sock" "$verb"
		return
	fi
	mkdir -p "$LAB/$s/serving"
	if [ "$verb" = drain ]; then
		: >"$LAB/$s/serving/draining"
	else
		rm -f "$LAB/$s/serving/draining"
	fi
	echo "anycast.sh: site $(upper "$s") ${verb}ed (stand-in /serving: this relay has none)"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
fail-site) cmd_fail_site "${2:-}" "${3:-}" ;;
restore) cmd_restore "${2:-}" ;;
drain | undrain) cmd_drain "$1" "${2:-}" ;;
wait-route) cmd_wait_route "${2:-}" "${3:-}" "${4:-}" "${5:-}" ;;
*)
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
