# Processes a bench script started, stopped by PID only. Sourced by
# compare.sh, soak.sh, standby_ready.sh, twist_iperf.sh and trt_iperf.sh; the
# caller sets STOP_GRACE (seconds) and defines log (messages to the user). PIDS holds what is still to stop.
PIDS=()

running() { # PID: a zombie still answers kill -0, so read its state
	local st
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	read -r st <"/proc/$1/stat" 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

stop_pid() { # PID: TERM, then KILL after STOP_GRACE; STOP_STATUS is its exit status
	local pid=$1 i
	if running "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < STOP_GRACE * 10; i++)); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			log "pid $pid ignored SIGTERM for ${STOP_GRACE}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	STOP_STATUS=$?
	local -a keep=()
	for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
	PIDS=(${keep[@]+"${keep[@]}"})
}

# For `trap stop_all_exit EXIT`: stops what PIDS holds, newest first, and
# leaves with the status the script was leaving with.
stop_all_exit() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
	exit $rc
}

# CPU ticks (user + system) of PID, all its threads, from /proc/PID/stat.
ticks() {
	local s
	read -r s <"/proc/$1/stat" || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}
