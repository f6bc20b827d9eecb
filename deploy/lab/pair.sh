#!/bin/bash
# An HA pair of twist nodes in network namespaces, for experiments and the
# chaos tests (tests/chaos/). Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).
#
#   pair.sh up                 build the lab, start node A (master) then B
#   pair.sh down               stop every process, remove every namespace
#   pair.sh status             who is master, process states, a few metrics
#   pair.sh env                shell assignments (eval "$(pair.sh env)")
#   pair.sh fail-active kill   SIGKILL keepalived, relay, syncd, twist-ha
#                              on the node that holds the VIP
#   pair.sh fail-active link   take that node's links down
#   pair.sh restore            links up, restart what is dead; the node
#                              comes back as standby (nopreempt + demotion)
#
# Topology (a switch namespace with three bridges):
#
#   client 203.0.113.10-.19 --br-c-- A .2  B .3  VIP 203.0.113.1
#   peer   198.51.100.10    --br-p-- A .2  B .3  VIP 198.51.100.1 (relayed)
#                              br-s-- A 192.0.2.2  B 192.0.2.3 (syncd only)
#
# Environment: TWIST_LAB (namespace prefix, default tw), TWIST_LAB_DIR (all
# state: configs, pids, logs, fifos; default /run/$TWIST_LAB-lab), TWIST_BIN
# (twist-relay, twist-syncd, twist-ha; default build/bin of this tree),
# TWIST_LAB_HA (auto|0|1: replication through twist-syncd; auto = when the
# binary exists), TWIST_LAB_LOG (info|debug), TWIST_LAB_VIP_LO (1: put both
# VIPs on lo of both nodes, hidden from ARP, the LVS-DR way; see
# docs/ha.md "IP_TRANSPARENT": a workaround for a relay that connects its
# standby sockets with IP_FREEBIND only, which Linux refuses),
# TWIST_LAB_FASTPATH (off|auto|on: the relays' fastpath.enabled on eth-c
# and eth-p, with IPv4 forwarding on in the nodes for bpf_fib_lookup;
# docs/fastpath.md; default off), TWIST_LAB_RELAY_EXTRA (a file of YAML
# appended to both nodes' relay.yaml: deploy/lab/twist_pair.sh adds its
# twist section so), TWIST_LAB_FORWARD (1: IPv4 forwarding on the nodes,
# which TWIST's TUN needs),
# TWIST_LAB_ADVERT (VRRPv3 advert_int in seconds, default 0.02),
# TWIST_LAB_RT (keepalived's VRRP real-time priority, 1..99, or 0 for
# none; default 50), TWIST_LAB_PRIO ("A B": the VRRP priorities, default
# "250 240": a small skew, see docs/ha.md).
set -u

P=${TWIST_LAB:-tw}
LAB=${TWIST_LAB_DIR:-/run/$P-lab}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${TWIST_BIN:-$ROOT/build/bin}
LOGLEVEL=${TWIST_LAB_LOG:-info}

SW=$P-sw
CL=$P-client
PE=$P-peer
NODES="a b"
VIP=203.0.113.1
RVIP=198.51.100.1
CLIENT_IP=203.0.113.10
PEER_IP=198.51.100.10
ECHO_PORT=9000
WHOAMI_PORT=9001
RELAY_METRICS=127.0.0.1:9641
SYNCD_METRICS=127.0.0.1:9642
HA_METRICS=127.0.0.1:9643
SYNC_PORT=7400
VRID=51
ADVERT=${TWIST_LAB_ADVERT:-0.02}
RT=${TWIST_LAB_RT:-50}
PRIO=${TWIST_LAB_PRIO:-250 240}
NONCE_SECRET=twist-lab-shared-nonce-secret-0123456789
# Every wait is bounded: tenths of a second.
WAIT_UP=300

die() {
	echo "pair.sh: $*" >&2
	exit 1
}

node_ns() { echo "$P-$1"; }
node_octet() { [ "$1" = a ] && echo 2 || echo 3; }
node_prio() { [ "$1" = a ] && echo "${PRIO% *}" || echo "${PRIO#* }"; }
node_id() { [ "$1" = a ] && echo 1 || echo 2; }
other() { [ "$1" = a ] && echo b || echo a; }

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, VRRP, IP_FREEBIND)"
	command -v keepalived >/dev/null || die "keepalived not found (apt-get install keepalived)"
	command -v curl >/dev/null || die "curl not found (apt-get install curl)"
	command -v python3 >/dev/null || die "python3 not found"
	[ -x "$BIN/twist-relay" ] || die "$BIN/twist-relay not found: build first or set TWIST_BIN"
}

ha_mode() {
	if [ -f "$LAB/ha" ]; then
		cat "$LAB/ha"
		return
	fi
	case ${TWIST_LAB_HA:-auto} in
	0 | 1) echo "$TWIST_LAB_HA" ;;
	*) [ -x "$BIN/twist-syncd" ] && echo 1 || echo 0 ;;
	esac
}

have_ha_daemon() { [ -x "$BIN/twist-ha" ]; }

# ---- processes: started in a namespace, recorded by PID, stopped by PID ----

# shellcheck source=deploy/lab/proc.sh
. "$HERE/proc.sh"

# ---- namespaces and links ----

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

ns_prep() {
	local ns=$1
	ip netns add "$ns" || die "cannot create namespace $ns"
	ip -n "$ns" link set lo up
	nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# link HOSTNS HOSTIF SWPORT BRIDGE
link() {
	ip -n "$SW" link add "$3" type veth peer name "$2" netns "$1" || die "veth $3"
	ip -n "$SW" link set "$3" master "$4" up
	ip -n "$1" link set "$2" up
}

lab_exists() {
	ip netns list 2>/dev/null | grep -qw -e "$SW" -e "$CL" -e "$PE" -e "$(node_ns a)" -e "$(node_ns b)"
}

build_net() {
	local n ns o
	ns_prep "$SW"
	for br in br-c br-p br-s; do
		ip -n "$SW" link add "$br" type bridge forward_delay 0 mcast_snooping 0
		ip -n "$SW" link set "$br" up
	done
	ns_prep "$CL"
	link "$CL" eth-c cl-c br-c
	for o in $(seq 10 19); do
		ip -n "$CL" addr add 203.0.113.$o/24 dev eth-c
	done
	ns_prep "$PE"
	link "$PE" eth-p pe-p br-p
	ip -n "$PE" addr add $PEER_IP/24 dev eth-p
	# Take gratuitous ARP from the new master at once (no locktime).
	nsx "$CL" sysctl -qw net.ipv4.neigh.eth-c.locktime=0
	nsx "$PE" sysctl -qw net.ipv4.neigh.eth-p.locktime=0
	for n in $NODES; do
		ns=$(node_ns "$n")
		o=$(node_octet "$n")
		ns_prep "$ns"
		link "$ns" eth-c "$n-c" br-c
		link "$ns" eth-p "$n-p" br-p
		link "$ns" eth-s "$n-s" br-s
		ip -n "$ns" addr add 203.0.113.$o/24 dev eth-c
		ip -n "$ns" addr add 198.51.100.$o/24 dev eth-p
		ip -n "$ns" addr add 192.0.2.$o/24 dev eth-s
		# A standby binds the VIP before it has it (IP_FREEBIND does
		# this per socket; the sysctl covers helpers that do not).
		nsx "$ns" sysctl -qw net.ipv4.ip_nonlocal_bind=1
		# bpf_fib_lookup answers only for an ingress interface that
		# forwards (docs/fastpath.md, "Limits"), and TWIST's TUN needs
		# forwarding; otherwise nothing routes through the nodes.
		if [ "$(fastpath_mode)" != off ] || [ "${TWIST_LAB_FORWARD:-0}" = 1 ]; then
			nsx "$ns" sysctl -qw net.ipv4.ip_forward=1
		fi
		if [ "$(vip_lo)" = 1 ]; then
			nsx "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
				net.ipv4.conf.all.arp_announce=2
			ip -n "$ns" addr add $VIP/32 dev lo
			ip -n "$ns" addr add $RVIP/32 dev lo
		fi
	done
}

fastpath_mode() {
	if [ -f "$LAB/fastpath" ]; then
		cat "$LAB/fastpath"
	else
		echo "${TWIST_LAB_FASTPATH:-off}"
	fi
}

vip_lo() {
	if [ -f "$LAB/vip_lo" ]; then
		cat "$LAB/vip_lo"
	else
		echo "${TWIST_LAB_VIP_LO:-0}"
	fi
}

# ---- configuration ----

write_relay_yaml() {
	local n=$1 ha=$2
	cat >"$LAB/$n/relay.yaml" <<EOF
# twist-relay, lab node $n (generated by deploy/lab/pair.sh)
listen:
  - address: $VIP
    port: 3478
    transports: [udp, tcp]
relay:
  addresses: [$RVIP]
  port_min: 49152
  port_max: 65535
workers: 2
auth:
  realm: twist.local
  users:
    - { name: demo, password: demo }
  nonce_secret: "$NONCE_SECRET"
peers:
  allow: [198.51.100.0/24]
metrics:
  enabled: true
  listen: $RELAY_METRICS
log:
  level: $LOGLEVEL
compat:
  rfc5766_channels: true
ha:
  enabled: $([ "$ha" = 1 ] && echo true || echo false)
  ipc_dir: $LAB/$n/ipc
  sync_deadline_ms: 5
fastpath:
  enabled: $(fastpath_mode)
  interfaces: [eth-c, eth-p]
EOF
	if [ -n "${TWIST_LAB_RELAY_EXTRA:-}" ]; then
		cat "$TWIST_LAB_RELAY_EXTRA" >>"$LAB/$n/relay.yaml" || die "$TWIST_LAB_RELAY_EXTRA"
	fi
}

# Short adverts: a VRRP process starved of CPU for 3 adverts (a busy
# machine) lets the backup take over. Real-time scheduling keeps the
# adverts on time whatever else runs (docs/ha.md, "Spurious failover").
rt_conf() {
	[ "$RT" = 0 ] && return
	printf '\tvrrp_rt_priority %s\n' "$RT"
}

write_keepalived_conf() {
	local n=$1
	cat >"$LAB/$n/keepalived.conf" <<EOF
# keepalived, lab node $n (generated by deploy/lab/pair.sh)
global_defs {
	router_id twist-lab-$n
	vrrp_version 3
	notify_fifo $LAB/$n/notify.fifo
	# Fast takeover: announce the VIPs at once, a few times, and keep
	# refreshing the neighbours' caches while master.
	vrrp_garp_master_delay 1
	vrrp_garp_master_repeat 3
	vrrp_garp_interval 0.001
	vrrp_garp_master_refresh 1
	vrrp_garp_master_refresh_repeat 1
	vrrp_min_garp true
	vrrp_garp_lower_prio_repeat 3
$(rt_conf)
}

# twist-ha writes 0 when healthy, a negative number otherwise: -254 puts
# the instance in FAULT (relay down), smaller values lower the priority
# (syncd not ready: resyncing).
track_file twist_health {
	file "$LAB/$n/track"
	weight 1
	init_file -254
}

vrrp_instance VI_TWIST {
	state BACKUP
	nopreempt
	interface eth-c
	virtual_router_id $VRID
	priority $(node_prio "$n")
	advert_int $ADVERT
	virtual_ipaddress {
		$VIP/24 dev eth-c
		$RVIP/24 dev eth-p
	}
	track_interface {
		eth-p
	}
	track_file {
		twist_health
	}
}
EOF
}

# ---- per-node daemons ----

start_ha() {
	local n=$1 ns ha
	ns=$(node_ns "$n")
	ha=$(ha_mode)
	if ! have_ha_daemon; then
		# Without twist-ha: healthy, fixed role.
		echo 0 >"$LAB/$n/track"
		return
	fi
	local args=(--fifo "$LAB/$n/notify.fifo" --role-file "$LAB/$n/role"
		--track-file "$LAB/$n/track" --instance VI_TWIST
		--relay "$RELAY_METRICS" --keepalived-pidfile "$LAB/$n/vrrp.pid"
		--vip "$VIP" --metrics "$HA_METRICS" --log-level "$LOGLEVEL")
	if [ "$ha" = 1 ]; then
		args+=(--syncd "$SYNCD_METRICS" --syncd-pidfile "$LAB/$n/syncd.pid")
	fi
	spawn "$n" ha "$ns" "$BIN/twist-ha" "${args[@]}"
}

start_syncd() {
	local n=$1 ns o po
	[ "$(ha_mode)" = 1 ] || return 0
	ns=$(node_ns "$n")
	o=$(node_octet "$n")
	po=$(node_octet "$(other "$n")")
	[ -f "$LAB/$n/role" ] || echo backup >"$LAB/$n/role"
	spawn "$n" syncd "$ns" "$BIN/twist-syncd" --node-id "$(node_id "$n")" \
		--peer-id "$(node_id "$(other "$n")")" \
		--listen "tcp://192.0.2.$o:$SYNC_PORT" --peer "tcp://192.0.2.$po:$SYNC_PORT" \
		--ipc-dir "$LAB/$n/ipc" --role-file "$LAB/$n/role" \
		--metrics "$SYNCD_METRICS" --log-level "$LOGLEVEL"
}

start_relay() {
	local n=$1
	spawn "$n" relay "$(node_ns "$n")" "$BIN/twist-relay" --config "$LAB/$n/relay.yaml"
}

# A SIGKILLed keepalived leaves its VIPs behind; a node that starts again
# must not hold them (nor let twist-ha think it is master) before VRRP says so.
drop_stale_vips() {
	local ns
	ns=$(node_ns "$1")
	ip -n "$ns" addr del $VIP/24 dev eth-c 2>/dev/null
	ip -n "$ns" addr del $RVIP/24 dev eth-p 2>/dev/null
}

start_keepalived() {
	local n=$1 ns
	ns=$(node_ns "$n")
	drop_stale_vips "$n"
	# A SIGKILLed keepalived may linger as a zombie for a moment, and its
	# pid files would make the new one think it is still running.
	rm -f "$LAB/$n/vrrp.pid" "$LAB/$n/kd-parent.pid"
	spawn "$n" keepalived "$ns" keepalived -f "$LAB/$n/keepalived.conf" \
		-p "$LAB/$n/kd-parent.pid" -r "$LAB/$n/vrrp.pid" -c "$LAB/$n/checkers.pid" \
		-b "$LAB/$n/bfd.pid" -P -n -l -D -G
	# keepalived refuses to start when its -p file names a live process,
	# so it gets its own file (same PID as ours, from $!).
	for _ in $(seq 50); do
		[ -s "$LAB/$n/vrrp.pid" ] && return 0
		sleep 0.1
	done
	echo "pair.sh: keepalived on $n did not start its VRRP child" >&2
	return 1
}

# start_node NODE: whatever is not running, in dependency order.
start_node() {
	local n=$1
	mkdir -p "$LAB/$n/ipc"
	[ -f "$LAB/$n/relay.yaml" ] || write_relay_yaml "$n" "$(ha_mode)"
	[ -f "$LAB/$n/keepalived.conf" ] || write_keepalived_conf "$n"
	alive "$n" keepalived || drop_stale_vips "$n"
	alive "$n" ha || start_ha "$n"
	alive "$n" syncd || start_syncd "$n"
	alive "$n" relay || start_relay "$n"
	# keepalived last: the track file is written and the relay holds
	# its sockets before VRRP may make this node master. (Not "ready":
	# a lone syncd in backup is never ready until VRRP makes it master.)
	wait_node_started "$n" 100 || true
	if ! alive "$n" keepalived; then
		start_keepalived "$n"
	fi
}

start_echo() {
	mkdir -p "$LAB/peer"
	alive peer echo && return 0
	spawn peer echo "$PE" python3 "$HERE/udp-echo.py" "$PEER_IP" "$ECHO_PORT" "$WHOAMI_PORT"
}

# ---- observation ----

http_code() {
	nsx "$1" curl -s -o /dev/null -m 0.5 -w '%{http_code}' "http://$2" 2>/dev/null
}

has_vip() {
	ip -n "$(node_ns "$1")" -4 addr show dev eth-c 2>/dev/null | grep -q " $VIP/"
}

# The node that holds the VIP and whose keepalived runs (a SIGKILLed one
# leaves the address behind); "" when none.
master() {
	local n
	for n in $NODES; do
		if has_vip "$n" && alive "$n" keepalived; then
			echo "$n"
			return
		fi
	done
	for n in $NODES; do
		has_vip "$n" && echo "$n" && return
	done
}

node_healthy() {
	local n=$1 ns
	ns=$(node_ns "$n")
	alive "$n" vrrp || return 1
	alive "$n" relay || return 1
	[ "$(http_code "$ns" $RELAY_METRICS/health)" = 200 ] || return 1
	if [ "$(ha_mode)" = 1 ]; then
		alive "$n" syncd || return 1
		[ "$(http_code "$ns" $SYNCD_METRICS/ready)" = 200 ] || return 1
	fi
	if have_ha_daemon; then
		alive "$n" ha || return 1
		[ "$(cat "$LAB/$n/track" 2>/dev/null)" = 0 ] || return 1
	fi
	return 0
}

node_started() {
	local n=$1 ns
	ns=$(node_ns "$n")
	[ "$(http_code "$ns" $RELAY_METRICS/health)" = 200 ] || return 1
	if [ "$(ha_mode)" = 1 ]; then
		[ "$(http_code "$ns" $SYNCD_METRICS/health)" = 200 ] || return 1
	fi
	if have_ha_daemon; then
		[ -s "$LAB/$n/track" ] || return 1
	fi
}

wait_node_started() {
	for _ in $(seq "$2"); do
		node_started "$1" && return 0
		sleep 0.1
	done
	return 1
}

wait_node_healthy() {
	for _ in $(seq "$2"); do
		node_healthy "$1" && return 0
		sleep 0.1
	done
	return 1
}

wait_master() {
	local m
	for _ in $(seq "$2"); do
		m=$(master)
		[ -n "$m" ] && { [ "$1" = any ] || [ "$m" = "$1" ]; } && return 0
		sleep 0.1
	done
	return 1
}

metric() {
	nsx "$(node_ns "$1")" curl -s -m 0.5 "http://$2/metrics" 2>/dev/null |
		awk -v k="$3" '$1 == k { print $2; exit }'
}

# ---- subcommands ----

cmd_up() {
	need_root
	lab_exists && die "lab '$P' exists: run '$0 down' first"
	rm -rf "$LAB"
	mkdir -p "$LAB/a/ipc" "$LAB/b/ipc" "$LAB/peer"
	ha_mode >"$LAB/ha.tmp" && mv "$LAB/ha.tmp" "$LAB/ha"
	vip_lo >"$LAB/vip_lo.tmp" && mv "$LAB/vip_lo.tmp" "$LAB/vip_lo"
	case $(fastpath_mode) in
	off | auto | on) ;;
	*) die "TWIST_LAB_FASTPATH must be off, auto or on, not '$(fastpath_mode)'" ;;
	esac
	fastpath_mode >"$LAB/fastpath.tmp" && mv "$LAB/fastpath.tmp" "$LAB/fastpath"
	echo "pair.sh: lab '$P' in $LAB, binaries from $BIN, replication $(ha_mode)," \
		"VIPs on lo $(vip_lo), fast path $(fastpath_mode)"
	build_net
	start_echo
	start_node a
	wait_master a $WAIT_UP || die "node A did not become master (see $LAB/a/*.log)"
	start_node b
	wait_node_healthy b $WAIT_UP || die "node B not healthy (see $LAB/b/*.log)"
	wait_node_healthy a $WAIT_UP || die "node A not healthy (see $LAB/a/*.log)"
	[ "$(master)" = a ] || die "node A lost the VIP during start-up"
	echo "pair.sh: up, master a"
}

cmd_down() {
	local n name pid ns pids
	for n in a b peer; do
		for name in keepalived ha relay syncd echo; do
			alive "$n" "$name" && stop_pid TERM "$(pid_of "$n" "$name")"
		done
	done
	# Bounded wait, then SIGKILL whatever is still running.
	for _ in $(seq 30); do
		pids=""
		for n in a b peer; do
			for name in keepalived vrrp ha relay syncd echo; do
				alive "$n" "$name" && pids="$pids $(pid_of "$n" "$name")"
			done
		done
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for pid in $pids; do
		stop_pid KILL "$pid"
	done
	# Anything else left in our namespaces was started in them by us
	# (test clients): stopped by PID too.
	for ns in "$CL" "$PE" "$(node_ns a)" "$(node_ns b)" "$SW"; do
		ip netns list 2>/dev/null | grep -qw "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			stop_pid KILL "$pid"
		done
	done
	for ns in "$CL" "$PE" "$(node_ns a)" "$(node_ns b)" "$SW"; do
		ip netns list 2>/dev/null | grep -qw "$ns" && ip netns del "$ns"
	done
	rm -rf "$LAB"
	return 0
}

cmd_status() {
	local n ns name pid st m
	lab_exists || {
		echo "lab '$P': down"
		return 1
	}
	m=$(master)
	echo "lab '$P' ($LAB), replication $(ha_mode), master: ${m:-none}"
	for n in $NODES; do
		ns=$(node_ns "$n")
		printf 'node %s (%s): vip=%s role=%s track=%s links=%s\n' "$n" "$ns" \
			"$(has_vip "$n" && echo yes || echo no)" \
			"$(cat "$LAB/$n/role" 2>/dev/null || echo -)" \
			"$(cat "$LAB/$n/track" 2>/dev/null || echo -)" \
			"$(ip -n "$SW" -o link show "$n-c" 2>/dev/null | grep -q 'state UP' && echo up || echo down)"
		for name in keepalived ha syncd relay; do
			pid=$(pid_of "$n" "$name" 2>/dev/null)
			st=dead
			alive "$n" "$name" && st=running
			printf '  %-10s pid %-7s %s\n' "$name" "${pid:--}" "$st"
		done
		printf '  relay /health %s, allocations %s, imported %s, sync peer ready %s\n' \
			"$(http_code "$ns" $RELAY_METRICS/health)" \
			"$(metric "$n" $RELAY_METRICS twist_allocations)" \
			"$(metric "$n" $RELAY_METRICS twist_sync_imported_total)" \
			"$(metric "$n" $RELAY_METRICS twist_sync_peer_ready)"
		if [ "$(ha_mode)" = 1 ]; then
			printf '  syncd /health %s (%s), /ready %s\n' \
				"$(http_code "$ns" $SYNCD_METRICS/health)" \
				"$(nsx "$ns" curl -s -m 0.5 http://$SYNCD_METRICS/health 2>/dev/null | head -c 40)" \
				"$(http_code "$ns" $SYNCD_METRICS/ready)"
		fi
		if have_ha_daemon; then
			printf '  twist-ha master %s, healthy %s, demotions %s\n' \
				"$(metric "$n" $HA_METRICS twist_ha_master)" \
				"$(metric "$n" $HA_METRICS 'twist_ha_health{verdict="healthy"}')" \
				"$(metric "$n" $HA_METRICS 'twist_ha_health_changes_total{verdict="demoted"}')"
		fi
	done
}

cmd_env() {
	cat <<EOF
TWIST_LAB=$P
LAB_DIR=$LAB
CLIENT_NS=$CL
PEER_NS=$PE
NODE_A_NS=$(node_ns a)
NODE_B_NS=$(node_ns b)
SWITCH_NS=$SW
VIP=$VIP
RELAY_VIP=$RVIP
CLIENT_IP=$CLIENT_IP
PEER_IP=$PEER_IP
ECHO_PORT=$ECHO_PORT
WHOAMI_PORT=$WHOAMI_PORT
RELAY_METRICS=$RELAY_METRICS
SYNCD_METRICS=$SYNCD_METRICS
HA_METRICS=$HA_METRICS
HA=$(ha_mode)
VIP_LO=$(vip_lo)
FASTPATH=$(fastpath_mode)
EOF
}

cmd_fail_active() {
	local how=${1:-} m pids name
	need_root
	m=$(master)
	[ -n "$m" ] || die "no node holds the VIP"
	case $how in
	kill)
		pids=""
		for name in vrrp keepalived relay syncd ha; do
			alive "$m" "$name" && pids="$pids $(pid_of "$m" "$name")"
		done
		# One kill(1) for all: a crash, not a shutdown sequence.
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		;;
	link)
		for l in c p s; do
			ip -n "$SW" link set "$m-$l" down
		done
		;;
	*) die "usage: $0 fail-active kill|link" ;;
	esac
	echo "$m" >"$LAB/failed"
	echo "pair.sh: failed node $m ($how)"
}

cmd_restore() {
	local n before after
	need_root
	lab_exists || die "lab '$P' is down"
	before=$(master)
	for n in $NODES; do
		for l in c p s; do
			ip -n "$SW" link set "$n-$l" up
		done
	done
	for n in $NODES; do
		start_node "$n"
	done
	for n in $NODES; do
		wait_node_healthy "$n" $WAIT_UP || die "node $n not healthy after restore (see $LAB/$n/*.log)"
	done
	wait_master any $WAIT_UP || die "no master after restore"
	after=$(master)
	rm -f "$LAB/failed"
	if [ -n "$before" ] && [ "$before" != "$after" ]; then
		die "VIP moved from $before to $after during restore (preempted)"
	fi
	echo "pair.sh: restored, master ${after}"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
fail-active) cmd_fail_active "${2:-}" ;;
restore) cmd_restore ;;
*)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
