# shellcheck shell=bash
# Shared by the labs (pair.sh, anycast.sh); sourced, needs LAB. Every
# daemon is started detached in a namespace, its PID recorded under
# $LAB/NODE/NAME.pid, and it is stopped by that PID only.

# shellcheck source-path=SCRIPTDIR source=exec_wait.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/exec_wait.sh"

pid_of() {
	local f=$LAB/$1/$2.pid
	[ -s "$f" ] && cat "$f" 2>/dev/null
}

# Alive and still ours (the command line names the lab dir or binary).
alive() {
	local pid
	pid=$(pid_of "$1" "$2") || return 1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	grep -qa -e "$LAB" -e "$2" "/proc/$pid/cmdline" 2>/dev/null
}

# spawn NODE NAME NS CMD...: start detached, stdio to the log, record PID.
spawn() {
	local node=$1 name=$2 ns=$3
	shift 3
	# ip netns exec and setsid exec in place (not a group leader here),
	# so $! is the daemon's own PID.
	(exec ip netns exec "$ns" setsid "$@" </dev/null >>"$LAB/$node/$name.log" 2>&1) &
	echo $! >"$LAB/$node/$name.pid"
	exec_wait $!
}

stop_pid() {
	local sig=$1 pid=$2
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && kill "-$sig" "$pid" 2>/dev/null
}
