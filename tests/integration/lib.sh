# Shared helpers for the integration tests. Source it from a bash script:
#   . "$(dirname "$0")/lib.sh"
#
# Every process a test starts goes through tw_start, which records its PID;
# the EXIT trap stops them all by PID (SIGTERM, then SIGKILL after a grace
# period). Nothing here ever kills by name. Every wait is bounded.
#
# Environment (all optional):
#   TWIST_TEST_SERVER        twist (default) or coturn: which relay to start
#   TWIST_TEST_PORT          relay listen port (default 3478)
#   TWIST_TEST_PEER_PORT     turnutils_peer port (default 3480)
#   TWIST_TEST_METRICS_PORT  twist-relay metrics port (default 9641)
#   TWIST_TEST_KEEP          1: keep the scratch directory (logs) after the test
#   TWIST_TEST_NETNS         auto (default): run the test in a private network
#                            namespace holding only lo when `unshare -n` works
#                            (root), so it cannot collide with anything else on
#                            3478/3480/9641 and no packet can leave the host;
#                            1: require it; 0: use the host's namespace.

TW_NAME=${TW_NAME:-$(basename "$0" .sh)}

# Re-exec the sourcing script inside a new network namespace. At top level on
# purpose: "$0" "$@" are the script and its arguments.
if [ "${TW_IN_NETNS:-}" != 1 ]; then
	case ${TWIST_TEST_NETNS:-auto} in
	0 | no | off) ;;
	*)
		if command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
			unshare -n true 2>/dev/null; then
			export TW_IN_NETNS=1
			exec unshare -n -- bash "$0" "$@"
		elif [ "${TWIST_TEST_NETNS:-auto}" = 1 ]; then
			printf '[%s] FAIL: TWIST_TEST_NETNS=1 but "unshare -n" does not work here (needs root, util-linux and iproute2)\n' \
				"$TW_NAME" >&2
			exit 1
		fi
		;;
	esac
else
	# The fresh namespace from the exec above: bring lo up (127.0.0.1, ::1).
	ip link set lo up || { printf '[%s] FAIL: cannot bring up lo in the test namespace\n' "$TW_NAME" >&2; exit 1; }
	printf '[%s] in a private network namespace (lo only; TWIST_TEST_NETNS=0 to use the host'"'"'s)\n' "$TW_NAME"
fi

TW_SERVER=${TWIST_TEST_SERVER:-twist}
TW_PORT=${TWIST_TEST_PORT:-3478}
# shellcheck disable=SC2034 # used by the scripts that source this file
TW_PEER_PORT=${TWIST_TEST_PEER_PORT:-3480}
TW_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9641}
TW_REALM=twist.local
TW_USER=demo
TW_PASS=demo
TW_REST_SECRET=twist-test-rest-secret # twist-relay wants >= 16 bytes
# Seconds between SIGTERM and SIGKILL: an ASan relay on a loaded machine can
# take a while to shut down and run its leak check; this bounds a wait only.
TW_STOP_GRACE=${TW_STOP_GRACE:-30}

TW_PIDS=()      # started processes, in start order
TW_PID_NAMES=() # parallel array: a name for messages
TW_PID_LOGS=()  # parallel array: where the output went
TW_TMP=""
TW_NETNS=()     # namespaces tw_netns_new made, deleted after the processes
TW_RESULT=1 # set to 0 by tw_pass; the EXIT trap reports it

tw_log() { printf '[%s] %s\n' "$TW_NAME" "$*"; }
tw_warn() { printf '[%s] WARNING: %s\n' "$TW_NAME" "$*" >&2; }

# Fail the test, loudly. Output of the processes we started is shown by the
# EXIT trap, so the reason is in the ctest log.
tw_fail() {
	printf '\n[%s] FAIL: %s\n\n' "$TW_NAME" "$*" >&2
	exit 1
}

tw_pass() {
	TW_RESULT=0
	printf '\n[%s] PASS: %s\n' "$TW_NAME" "$*"
}

# tw_need TOOL PACKAGE: a missing tool fails the test (never a silent skip).
tw_need() {
	command -v "$1" >/dev/null 2>&1 ||
		tw_fail "'$1' not found: apt-get install $2 (scripts/setup.sh installs everything the tests need)"
}

# tw_test_ca DIR [NAME...]: a test CA (DIR/ca.pem) and, for each NAME
# (default: server), a server certificate it signs for 127.0.0.1 and
# localhost (DIR/NAME.pem, DIR/NAME.key).
tw_test_ca() {
	local d=$1 n
	shift
	_tw_ossl() { openssl "$@" >>"$d/openssl.log" 2>&1 || tw_fail "openssl $1 failed (see $d/openssl.log)"; }
	_tw_ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=twist $TW_NAME test CA" -keyout "$d/ca.key" -out "$d/ca.pem"
	for n in "${@:-server}"; do
		_tw_ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=twist $TW_NAME $n" \
			-keyout "$d/$n.key" -out "$d/$n.csr"
		_tw_ossl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n') -out "$d/$n.pem"
	done
}

tw_tmpdir() {
	TW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/twist-${TW_NAME}.XXXXXX") || tw_fail "mktemp failed"
}

# tw_start NAME LOGFILE CMD [ARGS...]: run CMD in the background, output to
# LOGFILE. Sets TW_LAST_PID.
tw_start() {
	local name=$1 logf=$2
	shift 2
	tw_log "starting $name: $*"
	"$@" </dev/null >"$logf" 2>&1 &
	TW_LAST_PID=$!
	TW_PIDS+=("$TW_LAST_PID")
	TW_PID_NAMES+=("$name")
	TW_PID_LOGS+=("$logf")
	tw_log "$name has pid $TW_LAST_PID (log $logf)"
}

tw_alive() { kill -0 "$1" 2>/dev/null; }

# A zombie child still answers kill -0 until it is reaped. Reads /proc with
# builtins only (no subshell, so no extra child for bash to track).
tw_running() {
	local line st
	tw_alive "$1" || return 1
	read -r line <"/proc/$1/stat" 2>/dev/null || return 1
	st=${line##*) }
	[ "${st%% *}" != Z ]
}

# tw_stop PID: SIGTERM, wait up to TW_STOP_GRACE s, then SIGKILL. Reaps the
# child and sets TW_STOP_STATUS to its exit status (128+N when killed by N).
# Returns 0 when it ended on SIGTERM, 1 when it needed SIGKILL.
tw_stop() {
	local pid=$1 i rc=0
	TW_STOP_STATUS=""
	if tw_running "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < TW_STOP_GRACE * 10; i++)); do
			tw_running "$pid" || break
			sleep 0.1
		done
		if tw_running "$pid"; then
			tw_warn "pid $pid ignored SIGTERM for ${TW_STOP_GRACE}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
			rc=1
		fi
	fi
	wait "$pid" 2>/dev/null
	TW_STOP_STATUS=$?
	return $rc
}

# tw_forget PID: the process was stopped by hand; the trap leaves it alone.
tw_forget() {
	local pid=$1 i
	for i in "${!TW_PIDS[@]}"; do
		[ "${TW_PIDS[i]}" = "$pid" ] && TW_PIDS[i]=""
	done
}

tw_show_logs() {
	local i f
	for i in "${!TW_PID_LOGS[@]}"; do
		f=${TW_PID_LOGS[$i]}
		[ -s "$f" ] || continue
		printf '\n----- last 40 lines of %s (%s) -----\n' "${TW_PID_NAMES[$i]}" "$f" >&2
		tail -n 40 "$f" >&2
	done
	for f in ${TW_EXTRA_LOGS:-}; do
		[ -s "$f" ] || continue
		printf '\n----- last 40 lines of %s -----\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

tw_cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	[ $TW_RESULT -eq 0 ] || [ $rc -ne 0 ] || rc=1
	for ((i = ${#TW_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${TW_PIDS[$i]}
		[ -n "$pid" ] || continue
		tw_stop "$pid" || true
		tw_log "stopped ${TW_PID_NAMES[$i]} (pid $pid, status $TW_STOP_STATUS)"
	done
	for i in "${TW_NETNS[@]}"; do
		ip netns del "$i" 2>/dev/null
	done
	[ $rc -eq 0 ] || tw_show_logs
	if [ -n "$TW_TMP" ] && [ -d "$TW_TMP" ]; then
		if [ "${TWIST_TEST_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ -n "${CI:-}" ]; }; then
			tw_log "kept scratch directory $TW_TMP"
		else
			rm -rf "$TW_TMP"
		fi
	fi
	exit $rc
}

# tw_netns_new NAME...: fresh network namespaces for a lab (one left by a
# killed run of the same test is deleted first), with lo up. tw_cleanup
# deletes them after it has stopped the processes that run inside them.
tw_netns_new() {
	local ns
	for ns in "$@"; do
		ip netns del "$ns" 2>/dev/null
		ip netns add "$ns" || tw_fail "cannot create network namespace $ns"
		TW_NETNS+=("$ns")
		ip -n "$ns" link set lo up || tw_fail "lo up in $ns"
	done
}

tw_trap() {
	trap tw_cleanup EXIT
	trap 'tw_fail "interrupted"' INT TERM
}

# tw_listening udp|tcp ADDR PORT: is something listening there? ADDR is
# 127.0.0.1 or ::1 (without brackets).
tw_listening() {
	local proto=$1 addr=$2 port=$3 flag want
	[ "$proto" = udp ] && flag=-u || flag=-t
	case $addr in *:*) want="[$addr]:$port" ;; *) want="$addr:$port" ;; esac
	${TW_SS_NS:+ip netns exec "$TW_SS_NS"} ss -H -l -n $flag 2>/dev/null | awk -v w="$want" '$5 == w || $4 == w { f = 1 } END { exit !f }'
}

# tw_port_free udp|tcp ADDR PORT: fail now if another process holds the port,
# rather than testing some other relay by mistake.
tw_port_free() {
	tw_listening "$@" || return 0
	tw_fail "$1 $2:$3 is already in use by another process (another relay running?" \
		"'ss -lnp | grep :$3' shows it); stop it or choose another port with TWIST_TEST_PORT"
}

# tw_wait_port udp|tcp ADDR PORT PID [SECONDS]: until it listens; fail if PID dies.
# With TW_SS_NS set, it looks in that network namespace.
tw_wait_port() {
	local proto=$1 addr=$2 port=$3 pid=$4 secs=${5:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		tw_listening "$proto" "$addr" "$port" && return 0
		tw_alive "$pid" || tw_fail "pid $pid exited before listening on $proto $addr:$port"
		sleep 0.1
	done
	tw_fail "nothing listens on $proto $addr:$port after ${secs}s"
}

# tw_wait_http URL PID [SECONDS]: until URL answers 200.
tw_wait_http() {
	local url=$1 pid=$2 secs=${3:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
		tw_alive "$pid" || tw_fail "pid $pid exited before $url answered"
		sleep 0.1
	done
	tw_fail "$url did not answer 200 within ${secs}s"
}

# tw_uclient_check LOG RC EXPECTED: 0 when uclient's output shows a clean run.
# Prints the reason otherwise; uclient.sh badauth proves it rejects failures.
# The lines it reads (coturn 4.6.1):
#   N: : start_mclient: tot_send_msgs=2000, tot_recv_msgs=2000
#   N: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
tw_uclient_check() {
	local logf=$1 rc=$2 expected=$3 sent recv lost dropped
	if [ "$rc" -ne 0 ]; then
		echo "turnutils_uclient exited with status $rc"
		return 1
	fi
	if grep -q 'ERROR' "$logf"; then
		echo "turnutils_uclient reported errors: $(grep -m3 'ERROR' "$logf" | tr '\n' ' ')"
		return 1
	fi
	read -r sent recv < <(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$logf" | tail -n1)
	read -r lost dropped < <(sed -n 's/.*Total lost packets \([0-9]*\) (.*total send dropped \([0-9]*\) (.*/\1 \2/p' "$logf" | tail -n1)
	if [ -z "${sent:-}" ] || [ -z "${recv:-}" ]; then
		echo "no 'tot_send_msgs=N, tot_recv_msgs=N' summary in uclient output"
		return 1
	fi
	if [ -z "${lost:-}" ] || [ -z "${dropped:-}" ]; then
		echo "no 'Total lost packets' line in uclient output"
		return 1
	fi
	echo "sent $sent, received $recv, lost $lost, send dropped $dropped (expected $expected each way)"
	[ "$sent" -eq "$expected" ] || { echo "sent $sent messages, expected $expected"; return 1; }
	[ "$recv" -eq "$sent" ] || { echo "received $recv of $sent messages"; return 1; }
	[ "$lost" -eq 0 ] || { echo "$lost packets lost"; return 1; }
	[ "$dropped" -eq 0 ] || { echo "$dropped packets dropped on send"; return 1; }
	return 0
}

# tw_twist_config FILE [rest]: a config equivalent to the embedded default,
# on TW_PORT/TW_METRICS_PORT; "rest" adds the TURN REST secret.
tw_twist_config() {
	local f=$1 rest=${2:-}
	{
		echo "listen:"
		echo "  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp, tcp] }"
		echo "  - { address: \"::1\", port: $TW_PORT, transports: [udp, tcp] }"
		echo "relay: { addresses: [127.0.0.1, \"::1\"], port_min: 49152, port_max: 65535 }"
		if [ "$rest" = rest ]; then
			echo "auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }], rest_secret: \"$TW_REST_SECRET\" }"
		else
			echo "auth: { realm: $TW_REALM, users: [{ name: $TW_USER, password: $TW_PASS }] }"
		fi
		# turnutils_peer shares 127.0.0.1 and ::1 with the relay: allow_self,
		# unless the test says otherwise (TW_ALLOW_SELF=false)
		echo "peers: { allow_loopback: true, allow_self: ${TW_ALLOW_SELF:-true} }"
		echo "metrics: { enabled: true, listen: \"127.0.0.1:$TW_METRICS_PORT\" }"
		# turnutils_uclient binds channels up to 0x7FFF, as the embedded default allows
		echo "compat: { rfc5766_channels: true }"
	} >"$f"
}

# tw_start_relay BINARY [rest]: start the relay under test and wait until it
# serves UDP and TCP on 127.0.0.1 and ::1. BINARY is twist-relay; it is
# ignored with TWIST_TEST_SERVER=coturn. Sets TW_RELAY_PID.
tw_start_relay() {
	local bin=$1 mode=${2:-plain} a p
	tw_need ss iproute2
	for a in 127.0.0.1 ::1; do
		for p in udp tcp; do tw_port_free $p $a "$TW_PORT"; done
	done
	case $TW_SERVER in
	twist)
		if [ -z "$bin" ] || [ ! -x "$bin" ]; then
			tw_fail "twist-relay binary '$bin' not found or not executable (build first)"
		fi
		tw_need curl curl
		if [ "$mode" = plain ] && [ "$TW_PORT" = 3478 ] && [ "$TW_METRICS_PORT" = 9641 ]; then
			# The README quick start: no config at all, the embedded default.
			tw_start twist-relay "$TW_TMP/relay.log" "$bin"
		else
			tw_twist_config "$TW_TMP/relay.yaml" "$mode"
			tw_log "config $TW_TMP/relay.yaml:"
			sed 's/^/    /' "$TW_TMP/relay.yaml"
			tw_start twist-relay "$TW_TMP/relay.log" "$bin" --config "$TW_TMP/relay.yaml"
		fi
		;;
	coturn)
		tw_need turnserver coturn
		local auth=(--lt-cred-mech --user "$TW_USER:$TW_PASS")
		# coturn refuses static users together with the REST secret.
		[ "$mode" = rest ] && auth=(--use-auth-secret --static-auth-secret "$TW_REST_SECRET")
		# -n: no config file. --no-rfc5780: no alternate port (TW_PORT+1).
		tw_start turnserver "$TW_TMP/turnserver.out" turnserver -n \
			--listening-ip 127.0.0.1 --listening-ip ::1 \
			--relay-ip 127.0.0.1 --relay-ip ::1 \
			--listening-port "$TW_PORT" --min-port 49152 --max-port 65535 \
			--realm "$TW_REALM" "${auth[@]}" --fingerprint \
			--allow-loopback-peers --no-cli --no-tls --no-dtls --no-rfc5780 \
			--log-file "$TW_TMP/turnserver.log" --simple-log --no-stdout-log \
			--pidfile "$TW_TMP/turnserver.pid" --db "$TW_TMP/turndb"
		TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $TW_TMP/turnserver.log"
		;;
	*)
		tw_fail "TWIST_TEST_SERVER must be twist or coturn, not '$TW_SERVER'"
		;;
	esac
	TW_RELAY_PID=$TW_LAST_PID
	for a in 127.0.0.1 ::1; do
		for p in udp tcp; do tw_wait_port $p $a "$TW_PORT" "$TW_RELAY_PID" 30; done
	done
	if [ "$TW_SERVER" = twist ]; then
		tw_wait_http "http://127.0.0.1:$TW_METRICS_PORT/health" "$TW_RELAY_PID" 30
	fi
	tw_log "relay ($TW_SERVER) ready on udp+tcp 127.0.0.1:$TW_PORT and [::1]:$TW_PORT"
}

# tw_stop_relay: stop the relay; twist-relay must exit 0 on SIGTERM (a leak
# report from ASan or a crash at shutdown fails the test).
tw_stop_relay() {
	local pid=$TW_RELAY_PID
	tw_stop "$pid" || tw_fail "the relay (pid $pid) did not stop within ${TW_STOP_GRACE}s of SIGTERM"
	tw_forget "$pid"
	tw_log "relay stopped, exit status $TW_STOP_STATUS"
	if [ "$TW_SERVER" = twist ] && [ "$TW_STOP_STATUS" != 0 ]; then
		tw_fail "twist-relay exited with status $TW_STOP_STATUS on SIGTERM (expected 0)"
	fi
}

# ---- tests made of named checks (twist_e2e.sh, trt_must.sh) ----
# tw_ok NAME DETAIL and tw_bad NAME DETAIL record one check; tw_ok never
# fails, so "cond && tw_ok ... || tw_bad ..." is an if-then-else.
TW_PASSED=()
TW_FAILED=()
tw_ok() {
	TW_PASSED+=("$1")
	tw_log "ok $1: ${*:2}"
}
tw_bad() {
	TW_FAILED+=("$1")
	printf '[%s] FAIL %s: %s\n' "$TW_NAME" "$1" "${*:2}" >&2
}

# tw_lab_trap LABSH: for a test in a lab script's namespaces. On exit the
# test's processes are stopped (tw_cleanup), then "LABSH down" removes the
# lab, and the test's status is kept.
tw_lab_trap() {
	TW_LABSH=$1
	trap _tw_lab_exit EXIT
	trap 'tw_fail "interrupted"' INT TERM
}
_tw_lab_exit() {
	local rc=$?
	trap - EXIT
	( (exit $rc); tw_cleanup )
	rc=$?
	"$TW_LABSH" down
	exit $rc
}
