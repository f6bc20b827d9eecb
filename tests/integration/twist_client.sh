#!/usr/bin/env bash
# twist-client end to end, through twist-relay, in namespaces of its own:
#
#   tw9c-cli ---------------- tw9c-rly ----------------- tw9c-peer
#   203.0.113.2               203.0.113.10 | 198.51.100.1  198.51.100.2
#   2001:db8:2::2             2001:db8:2::10 | 2001:db8:3::1  2001:db8:3::2
#   TUN tw9cc0 (192.0.2.2,    twist TUN tw9ct0: 203.0.113.200, 2001:db8:4::200
#    2001:db8:1::2)
#
# The client namespace has no route to the peer network but its TUN, so
# every byte to the peer crossed TWIST. Cases (argument):
#   connect   curl downloads a file from python3 http.server (SHA-256 must
#             match, the server logs the relayed address) and its flow is
#             closed after FIN both ways; 100 UDP datagrams echoed by socat,
#             one 5-tuple, closed after --udp-idle; a peer the relay refuses (403) makes curl's
#             connect fail at once (the shim's RST); SIGTERM removes the TUN.
#   interwork --nat64 64:ff9b::/96 (IPv6 app, IPv4 server) and --map
#             192.0.2.66=2001:db8:3::2 (IPv4 app, IPv6-only server), with
#             the client talking to the relay over IPv6.
#   listen    --listen tcp:8000: two curls from the peer to the printed
#             relayed address reach a server in the client namespace, and
#             the flow is re-armed each time; --listen udp:7000: 20
#             datagrams echoed by socat behind the client; after 45 s of
#             silence (relay idle_timeout 30 s) keepalives kept the armed flow.
#   errors    a wrong password, coturn's turnserver (no TWIST: 420) and a
#             missing CAP_NET_ADMIN each make twist-client exit non-zero
#             with a clear message.
#
#   twist_client.sh PATH/TO/twist-relay PATH/TO/twist-client CASE
set -u
export TWIST_TEST_NETNS=0 # the namespaces are built here
TW_NAME=twist_client_${3:-}
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: twist_client.sh twist-relay twist-client CASE}
CLIENT=${2:?usage: twist_client.sh twist-relay twist-client CASE}
CASE=${3:?usage: twist_client.sh twist-relay twist-client CASE}
NS_C=tw9c-cli
NS_R=tw9c-rly
NS_P=tw9c-peer
SRV=203.0.113.10
PEER=198.51.100.2
PEER6=2001:db8:3::2
TWIST4=203.0.113.200
TUNC=tw9cc0

tw_need ip iproute2
tw_need curl curl
tw_need socat socat
tw_need python3 python3
tw_need sha256sum coreutils
tw_need setpriv util-linux
[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces, TUN devices)"
[ -x "$RELAY" ] || tw_fail "twist-relay '$RELAY' not built"
[ -x "$CLIENT" ] || tw_fail "twist-client '$CLIENT' not built"

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

lab_up() {
	tw_netns_new $NS_C $NS_R $NS_P
	ip link add tw9c-c0 netns $NS_C type veth peer name tw9c-r0 netns $NS_R &&
		ip link add tw9c-r1 netns $NS_R type veth peer name tw9c-p0 netns $NS_P ||
		tw_fail "veth pairs"
	ip -n $NS_C addr add 203.0.113.2/28 dev tw9c-c0
	ip -n $NS_C addr add 2001:db8:2::2/64 dev tw9c-c0 nodad
	ip -n $NS_R addr add $SRV/28 dev tw9c-r0
	ip -n $NS_R addr add 2001:db8:2::10/64 dev tw9c-r0 nodad
	ip -n $NS_R addr add 198.51.100.1/28 dev tw9c-r1
	ip -n $NS_R addr add 2001:db8:3::1/64 dev tw9c-r1 nodad
	ip -n $NS_P addr add $PEER/28 dev tw9c-p0
	ip -n $NS_P addr add $PEER6/64 dev tw9c-p0 nodad
	ip -n $NS_C link set tw9c-c0 up
	ip -n $NS_R link set tw9c-r0 up
	ip -n $NS_R link set tw9c-r1 up
	ip -n $NS_P link set tw9c-p0 up
	ip -n $NS_P route add default via 198.51.100.1 || tw_fail "peer route"
	ip -n $NS_P -6 route add default via 2001:db8:3::1 || tw_fail "peer route6"
	nsx $NS_R sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		tw_fail "forwarding on the relay"
	if nsx $NS_C ip route get $PEER >/dev/null 2>&1; then
		tw_fail "the client namespace reaches $PEER without TWIST"
	fi
}

start_relay() {
	cat >"$TW_TMP/relay.yaml" <<-EOF
		listen:
		  - { address: $SRV, port: 3478, transports: [udp] }
		  - { address: "2001:db8:2::10", port: 3478, transports: [udp] }
		relay: { addresses: [$SRV] }
		workers: 1
		auth: { realm: twist.test, users: [{ name: demo, password: demo }] }
		peers: { allow: [198.51.100.0/28, "2001:db8:3::/64"] }
		metrics: { enabled: true, listen: "127.0.0.1:9641" }
		twist:
		  enabled: true
		  relay_ipv4: $TWIST4
		  relay_ipv6: "2001:db8:4::200"
		  tun: tw9ct0
		  idle_timeout: 30
	EOF
	tw_start twist-relay "$TW_TMP/relay.log" ip netns exec $NS_R "$RELAY" --config "$TW_TMP/relay.yaml"
	RELAY_PID=$TW_LAST_PID
	local i
	for ((i = 0; i < 300; i++)); do
		nsx $NS_R curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:9641/health 2>/dev/null &&
			return 0
		tw_alive "$RELAY_PID" || tw_fail "twist-relay exited at start-up"
		sleep 0.1
	done
	tw_fail "twist-relay /health not ready after 30 s"
}

# start_client NAME ARGS...: twist-client in the client namespace; waits
# until its TUN is up (or it exits). Sets CLIENT_PID, CLIENT_LOG.
start_client() {
	local name=$1 i
	shift
	CLIENT_LOG=$TW_TMP/$name.log
	tw_start "$name" "$CLIENT_LOG" ip netns exec $NS_C "$CLIENT" --server "${CLIENT_SERVER:-$SRV}" --tun $TUNC \
		--tun-addr4 192.0.2.2 --tun-addr6 2001:db8:1::2 "$@"
	CLIENT_PID=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		grep -q "$TUNC up" "$CLIENT_LOG" 2>/dev/null && return 0
		tw_alive "$CLIENT_PID" || return 1
		sleep 0.1
	done
	tw_fail "$name: $TUNC not up after 30 s"
}

# stop_client: SIGTERM; it must exit 0 and take its TUN with it.
stop_client() {
	local i
	tw_stop "$CLIENT_PID" || tw_fail "twist-client ignored SIGTERM"
	tw_forget "$CLIENT_PID"
	[ "$TW_STOP_STATUS" -eq 0 ] || tw_fail "twist-client exited $TW_STOP_STATUS on SIGTERM"
	# The kernel unregisters a closed TUN once the last reference goes (the
	# host's TIME-WAIT sockets hold routes through it for a moment, longer
	# on a loaded machine: the bound is generous, it is not a speed test).
	for ((i = 0; i < 600; i++)); do
		ip -n $NS_C link show $TUNC >/dev/null 2>&1 || break
		sleep 0.1
	done
	if ip -n $NS_C link show $TUNC >/dev/null 2>&1; then
		tw_fail "$TUNC still exists 60 s after SIGTERM"
	fi
	[ $i -eq 0 ] || tw_log "$TUNC went $i polls after twist-client's exit"
	if ip -n $NS_C route show table all | grep -q "$TUNC"; then
		tw_fail "routes into $TUNC remain after SIGTERM"
	fi
	if ip -n $NS_C rule show | grep -q "lookup 29815"; then
		tw_fail "the listen flows' source rule remains after SIGTERM"
	fi
}

# wait_exit PID SECONDS: the exit status of a process that must end by itself.
wait_exit() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		tw_running "$pid" || break
		sleep 0.1
	done
	tw_running "$pid" && return 255
	wait "$pid" 2>/dev/null
}

# wait_status TEXT: until a SIGUSR1 status dump says "status: TEXT" (30 tries).
wait_status() {
	local i
	for ((i = 0; i < 30; i++)); do
		kill -USR1 "$CLIENT_PID"
		sleep 1
		grep -qF "status: $1" "$CLIENT_LOG" && return 0
	done
	return 1
}

# udp_echo NS HOST PORT COUNT: sends COUNT datagrams from NS, one at a time,
# and prints how many came back unchanged (3 s for each).
udp_echo() {
	nsx "$1" python3 - "$2" "$3" "$4" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.settimeout(3)
		s.connect((sys.argv[1], int(sys.argv[2])))
		ok = 0
		for i in range(int(sys.argv[3])):
		    msg = b"twist-client %d " % i + bytes(200)
		    s.send(msg)
		    try:
		        if s.recv(2048) == msg:
		            ok += 1
		    except socket.timeout:
		        pass
		print(ok)
	EOF
}

start_http() {
	local ns=$1 addr=$2 port=$3 dir=$4 name=$5 i
	tw_start "$name" "$TW_TMP/$name.log" ip netns exec "$ns" python3 -u -m http.server \
		--bind "$addr" --directory "$dir" "$port"
	for ((i = 0; i < 100; i++)); do
		nsx "$ns" ss -H -ltn "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	tw_fail "$name: http.server on $addr:$port did not start"
}

case_connect() {
	local want got n rc
	mkdir -p "$TW_TMP/www"
	head -c 8000000 /dev/urandom >"$TW_TMP/www/blob" || tw_fail "test file"
	want=$(sha256sum <"$TW_TMP/www/blob" | cut -d' ' -f1)
	start_http $NS_P $PEER 8080 "$TW_TMP/www" http4
	tw_start udp-echo "$TW_TMP/echo.log" ip netns exec $NS_P socat -T 30 \
		UDP4-RECVFROM:7,bind=$PEER,fork PIPE
	TW_SS_NS=$NS_P tw_wait_port udp "$PEER" 7 "$TW_LAST_PID" 60
	start_client client --user demo --password demo --route 198.51.100.0/28 \
		--route 10.99.0.0/16 --udp-idle 5 || tw_fail "twist-client exited at start-up"
	got=$(nsx $NS_C curl -fsS --max-time 120 "http://$PEER:8080/blob" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || tw_fail "curl through TWIST: SHA-256 $got, want $want"
	tw_log "curl: 8000000 bytes through TWIST, SHA-256 matches"
	grep -q "^$TWIST4 .*GET /blob" "$TW_TMP/http4.log" ||
		tw_fail "the peer did not see the download from the relayed address $TWIST4"
	# FIN both ways, then the grace (5 s): the flow ends with a Refresh of 0.
	wait_status "flows 0 (created 1 failed 0 closed 1)" ||
		tw_fail "the TCP flow was not closed after the download"
	tw_log "the download's flow closed after FIN both ways"
	n=$(udp_echo $NS_C $PEER 7 100)
	[ "$n" = 100 ] || tw_fail "UDP echo through TWIST: $n of 100 datagrams came back"
	tw_log "UDP: 100 of 100 datagrams echoed"
	# --udp-idle 5: keepalives do not count, so the quiet flow ends.
	wait_status "flows 0 (created 2 failed 0 closed 2)" ||
		tw_fail "the UDP flow did not end after --udp-idle 5"
	tw_log "the idle UDP flow closed"
	# 10.99.0.1 is private (RFC 1918): the relay answers 403, and the shim
	# answers the SYN with an RST, so curl sees "connection refused" (7).
	nsx $NS_C curl -sS -o /dev/null --max-time 60 "http://10.99.0.1:8080/"
	rc=$?
	[ $rc -eq 7 ] || tw_fail "a refused flow: curl exit $rc, want 7 (connection refused)"
	tw_log "a peer the relay refuses: the application's connect() fails at once (RST)"
	kill -USR1 "$CLIENT_PID"
	sleep 0.5
	grep -q "status: flows" "$CLIENT_LOG" || tw_fail "no status dump on SIGUSR1"
	stop_client
	tw_pass "curl (8 MB, SHA-256), 100 UDP datagrams, a refused peer through twist-client"
}

case_interwork() {
	local want got
	mkdir -p "$TW_TMP/www"
	head -c 1000000 /dev/urandom >"$TW_TMP/www/blob" || tw_fail "test file"
	want=$(sha256sum <"$TW_TMP/www/blob" | cut -d' ' -f1)
	start_http $NS_P $PEER 8080 "$TW_TMP/www" http4
	start_http $NS_P $PEER6 8081 "$TW_TMP/www" http6
	# The client reaches the relay over IPv6 here.
	CLIENT_SERVER="[2001:db8:2::10]:3478" start_client client --user demo --password demo \
		--nat64 64:ff9b::/96 --map 192.0.2.66=$PEER6 ||
		tw_fail "twist-client exited at start-up"
	got=$(nsx $NS_C curl -fsS --max-time 60 -g "http://[64:ff9b::$PEER]:8080/blob" |
		sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || tw_fail "--nat64: SHA-256 $got, want $want"
	tw_log "--nat64: an IPv6 application fetched from the IPv4-only server"
	got=$(nsx $NS_C curl -fsS --max-time 60 "http://192.0.2.66:8081/blob" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || tw_fail "--map: SHA-256 $got, want $want"
	grep -q "2001:db8:4::200.*GET /blob" "$TW_TMP/http6.log" ||
		tw_fail "the IPv6 server did not see the relayed IPv6 address"
	tw_log "--map: an IPv4 application fetched from the IPv6-only server"
	stop_client
	tw_pass "interworking: --nat64 and --map, SHA-256 both ways"
}

case_listen() {
	local line addr uaddr i got
	mkdir -p "$TW_TMP/www"
	echo "served from behind twist-client" >"$TW_TMP/www/hello"
	start_http $NS_C 0.0.0.0 8000 "$TW_TMP/www" http-client
	start_client client --user demo --password demo --listen tcp:8000 --listen udp:7000 ||
		tw_fail "twist-client exited at start-up"
	# Bound to the TUN's address: a wildcard UDP socket's answers would
	# miss the source rule (twist-client(8), Listen).
	tw_start udp-echo "$TW_TMP/echo.log" ip netns exec $NS_C socat -T 30 \
		UDP4-RECVFROM:7000,bind=192.0.2.2,fork PIPE
	TW_SS_NS=$NS_C tw_wait_port udp 192.0.2.2 7000 "$TW_LAST_PID" 60
	for ((i = 0; i < 100; i++)); do
		line=$(grep -m1 '^listen tcp:8000 relayed ' "$CLIENT_LOG")
		[ -n "$line" ] && break
		sleep 0.1
	done
	[ -n "$line" ] || tw_fail "no 'listen tcp:8000 relayed ADDR' line"
	addr=${line##* }
	tw_log "published $addr"
	for i in 1 2; do
		got=$(nsx $NS_P curl -fsS --max-time 20 "http://$addr/hello") ||
			tw_fail "curl $i from the peer to $addr failed"
		[ "$got" = "served from behind twist-client" ] || tw_fail "curl $i got '$got'"
	done
	[ "$(grep -c '^listen tcp:8000 relayed ' "$CLIENT_LOG")" -ge 3 ] ||
		tw_fail "the listen flow was not re-armed after each connection"
	line=$(grep -m1 '^listen udp:7000 relayed ' "$CLIENT_LOG")
	[ -n "$line" ] || tw_fail "no 'listen udp:7000 relayed ADDR' line"
	uaddr=${line##* }
	got=$(udp_echo $NS_P "${uaddr%:*}" "${uaddr##*:}" 20)
	[ "$got" = 20 ] || tw_fail "UDP listen: $got of 20 datagrams echoed from behind the client"
	tw_log "UDP listen: 20 of 20 datagrams echoed at $uaddr"
	# The armed TCP flow says nothing for 45 s: the relay's idle_timeout is
	# 30 s, so only the keepalives (after 20 s of silence) keep it.
	sleep 45
	got=$(nsx $NS_P curl -fsS --max-time 20 "http://$addr/hello") || {
		kill -USR1 "$CLIENT_PID"
		sleep 0.5
		tw_fail "after 45 s idle, curl to $addr failed: the armed flow expired"
	}
	kill -USR1 "$CLIENT_PID"
	sleep 0.5
	grep -Eq "status: .* keepalives [1-9]" "$CLIENT_LOG" || tw_fail "no keepalive counted"
	tw_log "an armed flow idle for 45 s (relay idle_timeout 30 s) still served: keepalives"
	stop_client
	tw_pass "listen: two curls to $addr and a UDP echo at $uaddr reached servers behind twist-client"
}

case_errors() {
	local rc out i
	start_client badpass --user demo --password wrong --listen tcp:8000
	wait_exit "$CLIENT_PID" 60
	rc=$?
	tw_forget "$CLIENT_PID"
	[ $rc -ne 0 ] && [ $rc -ne 255 ] || tw_fail "wrong password: exit status $rc, want non-zero"
	grep -q "wrong user name or password" "$CLIENT_LOG" ||
		tw_fail "wrong password: no clear message"
	tw_log "wrong password: exit $rc, '$(grep -m1 -o 'refused the credentials.*' "$CLIENT_LOG")'"

	tw_need turnserver coturn
	tw_start turnserver "$TW_TMP/coturn.log" ip netns exec $NS_R turnserver -n --no-cli \
		-L $SRV -p 3488 --lt-cred-mech --user demo:demo --realm twist.test --no-tls --no-dtls \
		--no-rfc5780 --pidfile "$TW_TMP/coturn.pid" --log-file stdout --min-port 49152 --max-port 49200
	for ((i = 0; i < 100; i++)); do
		nsx $NS_R ss -H -lun "sport = :3488" | grep -q . && break
		sleep 0.1
	done
	CLIENT_LOG=$TW_TMP/coturn-client.log
	tw_start coturn-client "$CLIENT_LOG" ip netns exec $NS_C "$CLIENT" --server $SRV:3488 \
		--tun $TUNC --tun-addr4 192.0.2.2 --user demo --password demo --route 198.51.100.0/28
	CLIENT_PID=$TW_LAST_PID
	wait_exit "$CLIENT_PID" 60
	rc=$?
	tw_forget "$CLIENT_PID"
	[ $rc -ne 0 ] && [ $rc -ne 255 ] || tw_fail "coturn: exit status $rc, want non-zero"
	grep -q "does not support TWIST" "$CLIENT_LOG" || tw_fail "coturn: no clear message"
	ip -n $NS_C link show $TUNC >/dev/null 2>&1 && tw_fail "coturn: $TUNC left behind"
	tw_log "coturn: exit $rc, '$(grep -m1 -o 'does not support TWIST.*' "$CLIENT_LOG")'"
	# Without CAP_NET_ADMIN (dropped from the bounding set): it says so, exit 1.
	out=$(nsx $NS_C setpriv --bounding-set=-net_admin -- "$CLIENT" --server $SRV \
		--user demo --password demo --route 198.51.100.0/28 --tun $TUNC 2>&1)
	rc=$?
	[ $rc -eq 1 ] || tw_fail "without CAP_NET_ADMIN: exit $rc, want 1 ($out)"
	grep -q "needs root or CAP_NET_ADMIN" <<<"$out" ||
		tw_fail "without CAP_NET_ADMIN: no clear message ($out)"
	tw_log "without CAP_NET_ADMIN: exit 1, '${out##*error }'"
	tw_pass "wrong password, a server without TWIST (coturn) and no CAP_NET_ADMIN end twist-client non-zero"
}

tw_tmpdir
tw_trap
lab_up
start_relay
case $CASE in
connect | interwork | listen | errors) "case_$CASE" ;;
*) tw_fail "unknown case $CASE" ;;
esac
