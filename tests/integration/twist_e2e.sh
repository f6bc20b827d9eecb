#!/usr/bin/env bash
# Issue 9's "Must show", end to end in the TWIST lab (deploy/lab/twist.sh):
# unmodified curl, socat-style UDP and dig through twist-client and
# twist-relay, listen, 1:1 flows, interworking, keepalive and expiry, and the
# client's errors (wrong password; coturn answering 420).
#
#   twist_e2e.sh PATH/TO/twist-relay PATH/TO/twist-client [CASE...]
#
# TWIST_E2E_MODE=tunnel runs every twist-client with --mode tunnel (RFC
# 3948 ESP, docs/twist-protocol.md §9; the test twist_e2e_tunnel) and adds
# the case tunnel_mode_used: each client's flows were answered tunnel mode.
#
# Each case prints "ok NAME: ..." or "FAIL NAME: ...", and the test fails
# when any case fails; a case whose piece is missing fails, never skips.
# With CASE arguments only those run (names below, in run order).
#
# The lab's namespaces (tw9-*) belong to this test while it runs: it takes
# the lab down first and at the end. TWIST_E2E_IDLE sets the relay's
# twist.idle_timeout (default 25 s: above the 20 s keepalive interval that
# docs/twist-protocol.md fixes, so keepalives alone must keep a flow).
# tw_ok never fails, so "cond && tw_ok || tw_bad" is an if-then-else here; the lab's
# names (RELAY_NS, RELAY_IP, ...) come from eval "$(twist.sh env)".
# shellcheck disable=SC2015,SC2153,SC1091
set -u
export TWIST_TEST_NETNS=0 # the lab builds its own namespaces
MODE=${TWIST_E2E_MODE:-transport}
TW_NAME=twist_e2e
[ "$MODE" = tunnel ] && TW_NAME=twist_e2e_tunnel
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: twist_e2e.sh PATH/TO/twist-relay PATH/TO/twist-client [CASE...]}
CLIENT=${2:?usage: twist_e2e.sh PATH/TO/twist-relay PATH/TO/twist-client [CASE...]}
shift 2
ONLY=" $* "
HERE=$(cd "$(dirname "$0")" && pwd)
LABSH=$HERE/../../deploy/lab/twist.sh
DRIVER=$HERE/twist_e2e.py
PY=/usr/bin/python3
IDLE=${TWIST_E2E_IDLE:-25}
METRICS=127.0.0.1:9641
USER_=demo
PASS=demo

ALL_CASES="tcp_curl_100m download_tso tcp_peer_sees_relayed tcp_no_rst udp_echo_1000 dns_dig
keepalive_outlives_idle one_to_one client_sigterm listen_tcp listen_gro listen_udp
expiry_without_keepalive v6_to_v4_nat64 v4_to_v6_map wrong_password
coturn_420 relay_clean_exit"
[ "$MODE" = tunnel ] && ALL_CASES="$ALL_CASES tunnel_mode_used"
case $MODE in transport | tunnel) ;; *) tw_fail "TWIST_E2E_MODE=$MODE: want transport or tunnel" ;; esac

[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces, TUN devices)"
tw_need ip iproute2
tw_need nft nftables
tw_need curl curl
tw_need dig dnsutils
tw_need socat socat
tw_need tcpdump tcpdump
tw_need conntrack conntrack
tw_need unbound unbound
tw_need turnserver coturn
tw_need sha256sum coreutils
[ -x "$PY" ] || tw_fail "$PY not found: apt-get install python3"
[ -x "$LABSH" ] || tw_fail "$LABSH missing or not executable"

tw_tmpdir
tw_lab_trap "$LABSH"

# ---- verdicts ----

wanted() { [ "$ONLY" = "  " ] || [[ $ONLY == *" $1 "* ]]; }
# fail_all REASON CASE...: cases that cannot run because a piece is missing.
fail_all() {
	local why=$1 c
	shift
	for c in "$@"; do
		wanted "$c" && tw_bad "$c" "$why"
	done
}

# ---- the lab, the relay, the client ----

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

metric_sum() {
	nsx "$RELAY_NS" curl -s -m 2 "http://$METRICS/metrics" |
		awk -v re="^$1([{ ]|$)" '$0 ~ re { s += $NF; n++ } END { if (n) print s }'
}

# coalesced CASE READS ITEMS TEXT1 TEXT2: the relay read batches (READS
# counts them, ITEMS what they carried) and each carried at least two.
coalesced() {
	local r i
	r=$(metric_sum "$2")
	i=$(metric_sum "$3")
	if [ "${r:-0}" -gt 0 ] && [ "${i:-0}" -ge $((2 * r)) ]; then
		tw_ok "$1" "$i $4 $r $5"
	else
		tw_bad "$1" "none: $2=${r:-absent} $3=${i:-absent}"
	fi
}

lab_up() {
	"$LABSH" down
	"$LABSH" up || tw_fail "deploy/lab/twist.sh up failed"
	eval "$("$LABSH" env)"
	export TW_EXTRA_LOGS="$LAB_DIR/logs/http4.log $LAB_DIR/logs/http6.log"
}

write_relay_config() {
	cat >"$TW_TMP/relay.yaml" <<-EOF
		listen:
		  - { address: $RELAY_IP, port: 3478, transports: [udp] }
		  - { address: "$RELAY_IP6", port: 3478, transports: [udp] }
		relay: { addresses: [198.51.100.1, "2001:db8:3::1"] }
		workers: 1
		auth: { realm: twist.test, users: [{ name: $USER_, password: $PASS }] }
		peers: { allow: [198.51.100.0/28, "2001:db8:3::/64"] }
		metrics: { enabled: true, listen: "$METRICS" }
		twist:
		  enabled: true
		  relay_ipv4: $TWIST_RELAY_IP
		  relay_ipv6: "$TWIST_RELAY_IP6"
		  ports: 49152-65535
		  tun: twist0
		  idle_timeout: $IDLE
		  max_flows_per_user: 64
	EOF
}

# Sets RELAY_UP=1 when the relay serves STUN, metrics and has its TUN.
start_relay() {
	local i
	RELAY_UP=0
	RELAY_WHY="twist-relay '$RELAY' not built"
	[ -x "$RELAY" ] || return
	write_relay_config
	tw_start twist-relay "$TW_TMP/relay.log" ip netns exec "$RELAY_NS" "$RELAY" --config "$TW_TMP/relay.yaml"
	RELAY_PID=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		if ! tw_running "$RELAY_PID"; then
			RELAY_WHY="twist-relay exited: $(tail -n 3 "$TW_TMP/relay.log" | tr '\n' ' ')"
			return
		fi
		if nsx "$RELAY_NS" curl -fs -o /dev/null -m 1 "http://$METRICS/health" &&
			ip -n "$RELAY_NS" link show twist0 >/dev/null 2>&1; then
			RELAY_UP=1
			return
		fi
		sleep 0.1
	done
	RELAY_WHY="twist-relay not healthy with a twist0 device after 30 s"
}

# start_client NAME NS TUN ARGS...: twist-client in NS; waits (bounded) for
# its TUN device. Sets CLIENT_PID and CLIENT_LOG; returns 1 with a reason in
# WHY when it did not come up.
start_client() {
	local name=$1 ns=$2 tun=$3 i
	shift 3
	WHY=""
	CLIENT_LOG=$TW_TMP/$name.log
	if [ ! -x "$CLIENT" ]; then
		WHY="twist-client '$CLIENT' not built"
		return 1
	fi
	tw_start "$name" "$CLIENT_LOG" ip netns exec "$ns" "$CLIENT" --user "$USER_" --password "$PASS" \
		--tun "$tun" --mode "$MODE" "$@"
	CLIENT_PID=$TW_LAST_PID
	for ((i = 0; i < 200; i++)); do
		if ! tw_running "$CLIENT_PID"; then
			WHY="twist-client exited: $(tail -n 3 "$CLIENT_LOG" | tr '\n' ' ')"
			return 1
		fi
		ip -n "$ns" link show "$tun" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	WHY="twist-client made no TUN device $tun in 20 s"
	return 1
}

stop_client() {
	tw_stop "$CLIENT_PID" || tw_warn "twist-client needed SIGKILL"
	tw_forget "$CLIENT_PID"
	CLIENT_STATUS=$TW_STOP_STATUS
	CLIENT_LOGS+=("$CLIENT_LOG")
}
CLIENT_LOGS=()

# Tunnel mode: every flow of every client that ran was answered tunnel
# mode, and the relay dropped no ESP as malformed or hostile.
case_tunnel_mode_used() {
	local n_tun n_other drops
	n_tun=$(cat "${CLIENT_LOGS[@]}" /dev/null | grep -c 'relayed .*, tunnel mode')
	n_other=$(cat "${CLIENT_LOGS[@]}" /dev/null | grep -c 'relayed .*, transport mode')
	drops=$(metric_sum 'twist_twist_dropped_total[{]reason="(esp_[a-z]*|wrong_spi|inner_[a-z]*)"[}]')
	if [ "$n_tun" -gt 0 ] && [ "$n_other" -eq 0 ] && [ "${drops:-x}" = 0 ]; then
		tw_ok tunnel_mode_used "$n_tun flows in tunnel mode, 0 in transport; ESP drops at the relay: 0"
	else
		tw_bad tunnel_mode_used "$n_tun flows in tunnel mode, $n_other in transport; ESP drops ${drops:-none on /metrics}"
	fi
}

# listen_line PROTO:PORT: the relayed address twist-client printed (bounded).
listen_line() {
	local i l
	for ((i = 0; i < 200; i++)); do
		l=$(sed -n "s/^listen $1 relayed \([0-9.]*\):\([0-9]*\)\$/\1 \2/p" "$CLIENT_LOG" | head -n1)
		[ -n "$l" ] && { echo "$l"; return 0; }
		tw_running "$CLIENT_PID" || return 1
		sleep 0.1
	done
	return 1
}

# ---- connect: TCP, UDP, DNS, 1:1 ----

start_rst_capture() {
	local i
	tw_start tcpdump "$TW_TMP/tcpdump.log" ip netns exec "$RELAY_NS" \
		tcpdump -i tw9rp -n -U -s 96 -w "$TW_TMP/peerside.pcap" tcp
	CAP_PID=$TW_LAST_PID
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$TW_TMP/tcpdump.log" && return 0
		sleep 0.1
	done
	return 1
}

pcap_count() {
	tcpdump -r "$TW_TMP/peerside.pcap" -n "$1" 2>/dev/null | wc -l
}

cases_connect() {
	local want got drops0 drops1 line n_rst n_from res
	start_client connect "$CLIENT_NS" twc0 --server "$RELAY_IP:3478" \
		--route "$TUN_PREFIX4" --route "$TUN_PREFIX6" || {
		fail_all "$WHY" tcp_curl_100m download_tso tcp_peer_sees_relayed tcp_no_rst udp_echo_1000 \
			dns_dig keepalive_outlives_idle one_to_one client_sigterm
		return
	}
	if wanted tcp_curl_100m || wanted tcp_peer_sees_relayed || wanted tcp_no_rst; then
		start_rst_capture || tw_warn "tcpdump did not start"
		want=$(cat "$LAB_DIR/www/big.sha256")
		drops0=$("$LABSH" tcp-drops)
		got=$(nsx "$CLIENT_NS" curl -sS --max-time 300 "http://$PEER_IP:8080/big.bin" 2>"$TW_TMP/curl.err" |
			sha256sum | cut -d' ' -f1)
		drops1=$("$LABSH" tcp-drops)
		sleep 1 # the capture's last packets
		tw_stop "$CAP_PID"
		tw_forget "$CAP_PID"
		if [ "$got" = "$want" ] && [ "$drops0" = "$drops1" ]; then
			tw_ok tcp_curl_100m "SHA-256 $got matches; NAT tcp_peer drops $drops0 -> $drops1"
		else
			tw_bad tcp_curl_100m "SHA-256 got $got want $want ($(head -c 200 "$TW_TMP/curl.err"));" \
				"NAT tcp_peer drops $drops0 -> $drops1"
		fi
		# The peer's TCP handed the relay's TUN 64 KB super-packets, cut
		# there into the client's segments (relay/twist_peer.c,
		# from_tun_tso): the SHA-256 above checks the cutting.
		wanted download_tso && coalesced download_tso twist_twist_tso_reads_total \
			twist_twist_tso_segments_total "segments came up the TUN in" "super-packets"
		line=$(grep '"GET /big.bin' "$LAB_DIR/logs/http4.log" | tail -n1)
		case $line in
		"$TWIST_RELAY_IP "*) tw_ok tcp_peer_sees_relayed "http.server: $line" ;;
		*) tw_bad tcp_peer_sees_relayed "http.server log, want $TWIST_RELAY_IP: '${line:-no GET /big.bin}'" ;;
		esac
		n_from=$(pcap_count "src host $TWIST_RELAY_IP")
		n_rst=$(pcap_count "not src host $PEER_IP and tcp[tcpflags] & tcp-rst != 0")
		if [ "$n_from" -gt 0 ] && [ "$n_rst" -eq 0 ]; then
			tw_ok tcp_no_rst "$n_from segments from $TWIST_RELAY_IP on the relay's peer link, 0 RST from the relay side"
		else
			tw_bad tcp_no_rst "$n_from segments from $TWIST_RELAY_IP, $n_rst RST from the relay side" \
				"($(pcap_count "tcp[tcpflags] & tcp-rst != 0") RST in all)"
		fi
	fi
	if wanted udp_echo_1000; then
		res=$(timeout 120 ip netns exec "$CLIENT_NS" "$PY" "$DRIVER" udp-echo "$PEER_IP" 7 1000 --wait 2)
		if [ "$res" = "sent 1000 received 1000" ]; then
			tw_ok udp_echo_1000 "$res, 0 lost"
		else
			tw_bad udp_echo_1000 "${res:-driver gave no result}"
		fi
	fi
	if wanted dns_dig; then
		res=$(nsx "$CLIENT_NS" dig +short +time=2 +tries=3 "@$PEER_IP" peer.twist.test A 2>&1)
		[ "$res" = "$PEER_IP" ] && tw_ok dns_dig "peer.twist.test A $res" ||
			tw_bad dns_dig "dig answered '$res'"
	fi
	if wanted keepalive_outlives_idle; then
		# One UDP connect flow (a fixed source port: the same 5-tuple, so the
		# same flow, before and after), then no application traffic for the
		# idle timeout and more: only the client's keepalives can keep it.
		res=$(timeout 60 ip netns exec "$CLIENT_NS" "$PY" "$DRIVER" udp-echo "$PEER_IP" 7 3 --sport 40017 --wait 2)
		sleep $((IDLE + 10))
		res="$res; then $(timeout 60 ip netns exec "$CLIENT_NS" "$PY" "$DRIVER" udp-echo "$PEER_IP" 7 3 \
			--sport 40017 --wait 2)"
		[ "$res" = "sent 3 received 3; then sent 3 received 3" ] &&
			tw_ok keepalive_outlives_idle "after $((IDLE + 10)) s idle (idle_timeout $IDLE): $res" ||
			tw_bad keepalive_outlives_idle "after $((IDLE + 10)) s idle (idle_timeout $IDLE): $res"
	fi
	wanted one_to_one && case_one_to_one
	if wanted client_sigterm; then
		stop_client
		if [ "$CLIENT_STATUS" = 0 ] && ! ip -n "$CLIENT_NS" link show twc0 >/dev/null 2>&1 &&
			! ip -n "$CLIENT_NS" route show | grep -q twc0; then
			tw_ok client_sigterm "exit 0, twc0 and its routes gone"
		else
			tw_bad client_sigterm "exit status $CLIENT_STATUS; left: $(ip -n "$CLIENT_NS" -br link show twc0 2>/dev/null)" \
				"$(ip -n "$CLIENT_NS" route show | grep twc0 | tr '\n' ' ')"
		fi
	else
		stop_client
	fi
}

# Source ports of the client's UDP flows to the relay, as the NAT tracks them.
nat_flows() {
	nsx "$NAT_NS" conntrack -L -p udp --orig-src 192.0.2.2 --orig-dst "$RELAY_IP" --dport 3478 2>/dev/null |
		sed -n 's/.* sport=\([0-9]*\) dport=3478 .*/\1/p' | sort -u
}

case_one_to_one() {
	local n=5 before after new i hold_pid
	before=$(nat_flows)
	tw_start hold-tcp "$TW_TMP/hold.log" ip netns exec "$CLIENT_NS" "$PY" "$DRIVER" hold-tcp "$PEER_IP" 8080 $n 60
	hold_pid=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		grep -q "^ready $n" "$TW_TMP/hold.log" && break
		tw_running "$hold_pid" || break
		sleep 0.1
	done
	after=$(nat_flows)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -c .)
	if grep -q "^ready $n" "$TW_TMP/hold.log" && [ "$new" -eq $n ]; then
		tw_ok one_to_one "$n concurrent TCP connections, $new new UDP flows to 3478 in tw9-nat's conntrack"
	else
		tw_bad one_to_one "$n connections ($(head -n1 "$TW_TMP/hold.log")), $new new UDP flows in the NAT's conntrack"
	fi
	tw_stop "$hold_pid"
	tw_forget "$hold_pid"
}

# ---- listen, keepalive, expiry ----

cases_listen() {
	local addr port want r1 r2 res flows0 flows1 tun4
	mkdir -p "$TW_TMP/lwww"
	head -c 1048576 /dev/urandom >"$TW_TMP/lwww/l.bin"
	want=$(sha256sum <"$TW_TMP/lwww/l.bin" | cut -d' ' -f1)
	tw_start client-http "$TW_TMP/client-http.log" ip netns exec "$CLIENT_NS" \
		"$PY" -m http.server 8000 --directory "$TW_TMP/lwww"
	# A peer's SYN reaching the client before the server listens gets an RST
	# from the client's kernel: the curls below would fail for the test's sake.
	TW_SS_NS=$CLIENT_NS tw_wait_port tcp 0.0.0.0 8000 "$TW_LAST_PID" 60
	start_client listen "$CLIENT_NS" twc1 --server "$RELAY_IP:3478" \
		--listen tcp:8000 --listen udp:7007 || {
		fail_all "$WHY" listen_tcp listen_gro listen_udp expiry_without_keepalive
		return
	}
	# A UDP server's answers reach the TUN only from the TUN's own address
	# (twist-client(8), "Listen"): the echo binds it.
	tun4=$(ip -n "$CLIENT_NS" -4 -o addr show dev twc1 | awk '{ sub("/.*", "", $4); print $4; exit }')
	tw_start client-echo "$TW_TMP/client-echo.log" ip netns exec "$CLIENT_NS" \
		socat -T 120 "UDP4-RECVFROM:7007,bind=${tun4:-0.0.0.0},fork" PIPE
	TW_SS_NS=$CLIENT_NS tw_wait_port udp "${tun4:-0.0.0.0}" 7007 "$TW_LAST_PID" 60
	if wanted listen_tcp; then
		if read -r addr port < <(listen_line tcp:8000); then
			# Two peers at once: the second needs the flow re-armed with the cookie.
			nsx "$PEER_NS" curl -sS --max-time 60 "http://$addr:$port/l.bin" 2>"$TW_TMP/l1.err" |
				sha256sum | cut -d' ' -f1 >"$TW_TMP/l1.sha" &
			local p1=$!
			nsx "$PEER_NS" curl -sS --max-time 60 "http://$addr:$port/l.bin" 2>"$TW_TMP/l2.err" |
				sha256sum | cut -d' ' -f1 >"$TW_TMP/l2.sha" &
			local p2=$!
			wait $p1 $p2
			r1=$(cat "$TW_TMP/l1.sha")
			r2=$(cat "$TW_TMP/l2.sha")
			if [ "$r1" = "$want" ] && [ "$r2" = "$want" ]; then
				tw_ok listen_tcp "two concurrent curls from the peer to $addr:$port, both SHA-256 match"
			else
				tw_bad listen_tcp "curls to $addr:$port: $r1 / $r2 want $want" \
					"($(cat "$TW_TMP/l1.err" "$TW_TMP/l2.err" | head -c 200))"
			fi
		else
			tw_bad listen_tcp "no 'listen tcp:8000 relayed ADDR:PORT' line on stdout within 20 s"
		fi
	fi
	# The client served those megabytes in TSO reads sent with UDP GSO: the
	# relay must have read them back coalesced (UDP_GRO, relay/twist_flow.c)
	# and cut them up right, or the SHA-256s above would not match.
	wanted listen_gro && coalesced listen_gro twist_twist_gro_reads_total \
		twist_twist_gro_datagrams_total "datagrams arrived in" "coalesced reads"
	if ! read -r addr port < <(listen_line udp:7007); then
		fail_all "no 'listen udp:7007 relayed ADDR:PORT' line on stdout within 20 s" \
			listen_udp expiry_without_keepalive
		stop_client
		return
	fi
	# A fixed peer source port, so every run below is the one latched flow.
	res=$(timeout 60 ip netns exec "$PEER_NS" "$PY" "$DRIVER" udp-echo "$addr" "$port" 20 --sport 40007 --wait 2)
	if wanted listen_udp; then
		[ "$res" = "sent 20 received 20" ] && tw_ok listen_udp "echo via $addr:$port: $res" ||
			tw_bad listen_udp "echo via $addr:$port: ${res:-no result}"
	fi
	if wanted expiry_without_keepalive; then
		# The client frozen: no keepalives. The peer alone keeps sending.
		flows0=$(metric_sum twist_twist_flows)
		kill -STOP "$CLIENT_PID"
		res=$(timeout $((IDLE + 30)) ip netns exec "$PEER_NS" "$PY" "$DRIVER" udp-trickle "$addr" "$port" \
			$((IDLE + 10)) --sport 40007)
		flows1=$(metric_sum twist_twist_flows)
		kill -CONT "$CLIENT_PID"
		if [ -z "$flows0" ] || [ -z "$flows1" ]; then
			tw_bad expiry_without_keepalive "the relay exposes no twist_twist_flows gauge on /metrics"
		elif [ "$flows1" -lt "$flows0" ] && [ "$flows1" -eq 0 ]; then
			tw_ok expiry_without_keepalive "peer-only traffic ($res datagrams) for $((IDLE + 10)) s:" \
				"twist_twist_flows $flows0 -> $flows1"
		else
			tw_bad expiry_without_keepalive "peer-only traffic ($res) for $((IDLE + 10)) s:" \
				"twist_twist_flows $flows0 -> $flows1 (want 0)"
		fi
	fi
	stop_client
}

# ---- interworking ----

cases_interworking() {
	local res
	if wanted v6_to_v4_nat64; then
		if start_client nat64 "$CLIENT6_NS" twc6 --server "[$RELAY_IP6]:3478" --nat64 64:ff9b::/96; then
			res=$(nsx "$CLIENT6_NS" curl -sS -g --max-time 30 "http://[64:ff9b::$PEER_IP]:8080/index.txt" 2>&1)
			[ "$res" = "twist lab peer, IPv4 only" ] &&
				tw_ok v6_to_v4_nat64 "IPv6-only tw9-cli6 fetched from the IPv4-only server: '$res'" ||
				tw_bad v6_to_v4_nat64 "curl [64:ff9b::$PEER_IP]:8080: '$res'"
			stop_client
		else
			tw_bad v6_to_v4_nat64 "$WHY"
		fi
	fi
	if wanted v4_to_v6_map; then
		if start_client map "$CLIENT_NS" twc2 --server "$RELAY_IP:3478" --map "192.0.2.66=$PEER_IP6"; then
			res=$(nsx "$CLIENT_NS" curl -sS --max-time 30 "http://192.0.2.66:8081/index.txt" 2>&1)
			[ "$res" = "twist lab peer, IPv6 only" ] &&
				tw_ok v4_to_v6_map "tw9-cli (IPv4) fetched from the IPv6-only server: '$res'" ||
				tw_bad v4_to_v6_map "curl 192.0.2.66:8081 (mapped to $PEER_IP6): '$res'"
			stop_client
		else
			tw_bad v4_to_v6_map "$WHY"
		fi
	fi
}

# ---- errors ----

# client_must_refuse NAME PATTERN ARGS...: twist-client exits non-zero
# within 30 s, its message matching PATTERN (extended, case-insensitive).
# A client with routes only talks to the server at the first connection, so
# one curl toward the peer pokes it.
client_must_refuse() {
	local name=$1 pat=$2 i pid out
	shift 2
	[ -x "$CLIENT" ] || { tw_bad "$name" "twist-client '$CLIENT' not built"; return; }
	tw_start "$name" "$TW_TMP/$name.log" ip netns exec "$CLIENT_NS" "$CLIENT" --tun twc3 "$@"
	pid=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		tw_running "$pid" || break
		[ $i = 10 ] && nsx "$CLIENT_NS" curl -s -o /dev/null -m 3 "http://$PEER_IP:8080/index.txt"
		sleep 0.1
	done
	tw_stop "$pid"
	tw_forget "$pid"
	out=$(cat "$TW_TMP/$name.log")
	if [ $i -ge 300 ]; then
		tw_bad "$name" "twist-client still running 30 s after a connection attempt"
	elif [ "$TW_STOP_STATUS" = 0 ]; then
		tw_bad "$name" "twist-client exited 0: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	elif echo "$out" | grep -Eqi "$pat"; then
		tw_ok "$name" "exit $TW_STOP_STATUS: $(echo "$out" | grep -Ei "$pat" | head -n1)"
	else
		tw_bad "$name" "exit $TW_STOP_STATUS but no message matching /$pat/: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
}

case_coturn_420() {
	local i cpid
	tw_start turnserver "$TW_TMP/turnserver.out" ip netns exec "$RELAY_NS" turnserver -n \
		--listening-ip "$RELAY_IP" --relay-ip 198.51.100.1 --listening-port 3478 \
		--min-port 49152 --max-port 65535 --realm twist.test --lt-cred-mech --user "$USER_:$PASS" \
		--fingerprint --no-cli --no-tls --no-dtls --no-rfc5780 --no-tcp \
		--log-file "$TW_TMP/turnserver.log" --simple-log --no-stdout-log \
		--pidfile "$TW_TMP/turnserver.pid" --db "$TW_TMP/turndb"
	cpid=$TW_LAST_PID
	for ((i = 0; i < 100; i++)); do
		nsx "$RELAY_NS" ss -H -lun | grep -q "$RELAY_IP:3478" && break
		sleep 0.1
	done
	client_must_refuse coturn_420 '420|twist|unknown attribute' --server "$RELAY_IP:3478" \
		--user "$USER_" --password "$PASS" --route "$TUN_PREFIX4"
	tw_stop "$cpid"
	tw_forget "$cpid"
}

# ---- main ----

lab_up
start_relay
if [ "$RELAY_UP" = 1 ]; then
	cases_connect
	cases_listen
	cases_interworking
	wanted wrong_password && client_must_refuse wrong_password '401|password|credential|unauthori' \
		--server "$RELAY_IP:3478" --user "$USER_" --password wrong --route "$TUN_PREFIX4"
	[ "$MODE" = tunnel ] && wanted tunnel_mode_used && case_tunnel_mode_used
	tw_stop "$RELAY_PID"
	tw_forget "$RELAY_PID"
	if wanted relay_clean_exit; then
		[ "$TW_STOP_STATUS" = 0 ] && tw_ok relay_clean_exit "twist-relay exit 0 on SIGTERM" ||
			tw_bad relay_clean_exit "twist-relay exit status $TW_STOP_STATUS on SIGTERM"
	fi
else
	# Every case but coturn_420, which needs no twist-relay.
	# shellcheck disable=SC2046
	fail_all "$RELAY_WHY" \
		$(echo "$ALL_CASES" | tr ' ' '\n' | grep -vx coturn_420)
	tw_running "${RELAY_PID:-0}" && tw_stop "$RELAY_PID" && tw_forget "$RELAY_PID"
fi
wanted coturn_420 && case_coturn_420

tw_log "passed ${#TW_PASSED[@]}: ${TW_PASSED[*]-}"
if [ ${#TW_FAILED[@]} -gt 0 ]; then
	tw_fail "${#TW_FAILED[@]} case(s) failed: ${TW_FAILED[*]}"
fi
tw_pass "${#TW_PASSED[@]} cases"
