# Helpers shared by the namespace labs (deploy/lab/twist.sh, trt.sh):
# namespaces, veths, addresses, and processes started in a namespace,
# recorded by PID and stopped by PID only. Sourced; the lab sets LAB_TOOL
# (its name in messages), LAB (its state directory) and ALL_NS.
# shellcheck shell=bash

# shellcheck source-path=SCRIPTDIR source=exec_wait.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/exec_wait.sh"

die() {
	echo "$LAB_TOOL: $*" >&2
	exit 1
}

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install $2 (scripts/setup.sh)"
}

pid_of() {
	local f=$LAB/pids/$1.pid
	[ -s "$f" ] && cat "$f" 2>/dev/null
}

# Alive and still ours: the command line names the program we started.
alive() {
	local pid
	pid=$(pid_of "$1") || return 1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	grep -qa -e "$2" "/proc/$pid/cmdline" 2>/dev/null
}

# spawn NAME NS CMD...: detached, output to the log, PID recorded. ip netns
# exec and setsid exec in place, so $! is the program's own PID.
spawn() {
	local name=$1 ns=$2
	shift 2
	# The load test's 5,000 TCP flows (two fds each) and 5,000 UDP
	# mappings: as many fds as the hard limit allows.
	(ulimit -n "$(ulimit -Hn)"
		exec ip netns exec "$ns" setsid "$@" </dev/null >>"$LAB/logs/$name.log" 2>&1) &
	echo $! >"$LAB/pids/$name.pid"
	echo "$1" >"$LAB/pids/$name.cmd"
	exec_wait $!
}

ns_add() {
	ip netns add "$1" || die "cannot create namespace $1"
	ip -n "$1" link set lo up
}

# veth NS_A IF_A NS_B IF_B
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || die "veth $2-$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# Addresses at once, without duplicate address detection's delay.
addr() {
	local ns=$1 dev=$2
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || die "address $a on $ns/$dev" ;;
		*) ip -n "$ns" addr add "$a" dev "$dev" || die "address $a on $ns/$dev" ;;
		esac
	done
}

# listening NS udp|tcp ADDR:PORT
listening() {
	local flag=-t
	[ "$2" = udp ] && flag=-u
	nsx "$1" ss -H -l -n $flag | awk -v w="$3" '$4 == w { f = 1 } END { exit !f }'
}

lab_exists() {
	local ns
	for ns in $ALL_NS; do
		ip netns list 2>/dev/null | grep -qw "^$ns" && return 0
	done
	return 1
}

# lab_remove: the processes in LAB/pids get SIGTERM, and SIGKILL after
# LAB_STOP_GRACE tenths of a second (default 30); then the namespaces go.
lab_remove() {
	local f name pid pids ns
	for f in "$LAB"/pids/*.pid; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .pid)
		alive "$name" "$(cat "$LAB/pids/$name.cmd" 2>/dev/null)" &&
			kill -TERM "$(pid_of "$name")" 2>/dev/null
	done
	for ((i = 0; i < ${LAB_STOP_GRACE:-30}; i++)); do
		pids=""
		for f in "$LAB"/pids/*.pid; do
			[ -e "$f" ] || continue
			name=$(basename "$f" .pid)
			alive "$name" "$(cat "$LAB/pids/$name.cmd" 2>/dev/null)" && pids="$pids $(pid_of "$name")"
		done
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null
	done
	# Anything else still in our namespaces was started in them for the
	# lab (socat children, a test's relay or client): stopped by PID.
	for ns in $ALL_NS; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	# Deleting a namespace removes its veths, bridges, TUNs and nft tables.
	for ns in $ALL_NS; do
		ip netns list 2>/dev/null | grep -qw "^$ns" && ip netns del "$ns"
	done
	return 0
}

# lab_up: the up subcommand of every lab: refuse a lab that is up, clear a
# half-built one, then the lab's own build_net, start_servers and
# wait_servers (and its cmd_down and need_root, which it defines).
lab_up() {
	need_root
	if [ -f "$LAB/up" ] && lab_exists; then
		die "the lab is up (since $(cat "$LAB/up")): run '$0 down' first"
	fi
	if lab_exists || [ -d "$LAB" ]; then
		echo "$LAB_TOOL: removing a half-built lab first"
		cmd_down
	fi
	mkdir -p "$LAB/pids" "$LAB/logs" || die "mkdir $LAB"
	build_net
	start_servers
	wait_servers
	date -u +%FT%TZ >"$LAB/up"
	echo "$LAB_TOOL: up (state in $LAB); eval \"\$($0 env)\" for the names"
}
