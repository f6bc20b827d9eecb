#!/usr/bin/env bash
# twist-client's recovery (draft §12), with two twist-relays, in
# namespaces of its own:
#
#                      tw10r-a (relay A 203.0.113.10, TWIST 203.0.113.200)
#                    /          \
#   tw10r-cli -------            ------- tw10r-peer (198.51.100.100 on lo:
#   TUN tw10rc0      \          /         UDP echo :7, TCP echo :8007)
#                      tw10r-b (relay B 203.0.113.26, TWIST 203.0.113.201)
#
#   twist-client --server A --server B. Cases (argument):
#   failover  an application in tw10r-cli holds a UDP exchange (a numbered
#             request every 100 ms, 2 s to answer) and a TCP connection
#             (a line echoed every 100 ms, reconnecting on an error). Relay
#             A is SIGKILLed (by PID): the shim reopens its flows on B; the
#             UDP exchange sees exactly one reconnect (one run of failed
#             requests: the one that found A gone, and the one in flight
#             when it died if there was one) and the TCP side opens
#             exactly one new connection (the old one's flow is on
#             B now, where the peer knows nothing of it: RST), nothing
#             fails before the kill, and the shim keeps running (same PID,
#             TUN up).
#   redirect  twist-client --server A. A, draining, answers the Allocate
#             300 naming B (its cluster sibling); the flow lives on B,
#             learned. A takes allocations again (undrain), B is
#             SIGKILLed: the flow goes back to A, the server before the
#             300; one UDP reconnect as above, the shim keeps running.
#
#   twist_client_recover.sh PATH/TO/twist-relay PATH/TO/twist-client PATH/TO/twistctl CASE
set -u
export TWIST_TEST_NETNS=0 # the namespaces are built here
TW_NAME=twist_client_recover_${4:-}
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: twist_client_recover.sh twist-relay twist-client twistctl CASE}
CLIENT=${2:?usage: twist_client_recover.sh twist-relay twist-client twistctl CASE}
CTL=${3:?usage: twist_client_recover.sh twist-relay twist-client twistctl CASE}
CASE=${4:?usage: twist_client_recover.sh twist-relay twist-client twistctl CASE}
NS_C=tw10r-cli
NS_A=tw10r-a
NS_B=tw10r-b
NS_P=tw10r-peer
SRV_A=203.0.113.10
SRV_B=203.0.113.26
TWIST_A=203.0.113.200
TWIST_B=203.0.113.201
PEER=198.51.100.100
TUNC=tw10rc0

tw_need ip iproute2
tw_need socat socat
tw_need python3 python3
[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces, TUN devices)"
for b in "$RELAY" "$CLIENT" "$CTL"; do
	[ -x "$b" ] || tw_fail "'$b' not built"
done

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# link NS1 DEV1 ADDR1 NS2 DEV2 ADDR2: a veth pair, addressed and up.
link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || tw_fail "veth $2"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

lab_up() {
	tw_netns_new $NS_C $NS_A $NS_B $NS_P
	link $NS_C tw10r-ca 203.0.113.2/28 $NS_A tw10r-ac $SRV_A/28
	link $NS_C tw10r-cb 203.0.113.18/28 $NS_B tw10r-bc $SRV_B/28
	link $NS_A tw10r-ap 198.51.100.1/28 $NS_P tw10r-pa 198.51.100.2/28
	link $NS_B tw10r-bp 198.51.100.17/28 $NS_P tw10r-pb 198.51.100.18/28
	# A and B also see each other (their cluster reports, the redirect case).
	link $NS_A tw10r-ab 192.0.2.129/30 $NS_B tw10r-ba 192.0.2.130/30
	ip -n $NS_P addr add $PEER/32 dev lo
	ip -n $NS_P route add $TWIST_A/32 via 198.51.100.1 || tw_fail "peer route A"
	ip -n $NS_P route add $TWIST_B/32 via 198.51.100.17 || tw_fail "peer route B"
	ip -n $NS_A route add $PEER/32 via 198.51.100.2 || tw_fail "A route to the peer"
	ip -n $NS_B route add $PEER/32 via 198.51.100.18 || tw_fail "B route to the peer"
	local ns
	for ns in $NS_A $NS_B; do
		# Port unreachable at once and every time: how the shim hears of a dead relay here.
		nsx $ns sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 ||
			tw_fail "sysctls in $ns"
	done
	if nsx $NS_C ip route get $PEER >/dev/null 2>&1; then
		tw_fail "the client namespace reaches $PEER without TWIST"
	fi
}

# relay_conf NAME ADDR TWIST_ADDR [CLUSTER_YAML]: a relay's config file.
relay_conf() {
	cat >"$TW_TMP/$1.yaml" <<-EOF
		listen:
		  - { address: $2, port: 3478, transports: [udp] }
		relay: { addresses: [$2] }
		workers: 1
		auth: { realm: twist.test, nonce_secret: "tw10r-recover-nonce-secret", users: [{ name: demo, password: demo }] }
		peers: { allow: [198.51.100.0/24] }
		metrics: { enabled: true, listen: "127.0.0.1:9641" }
		control: { socket: "${5:-}" }
		twist:
		  enabled: true
		  relay_ipv4: $3
		  tun: tw10r$1t
		  idle_timeout: 30
	EOF
	[ -z "${4:-}" ] || printf '%s\n' "$4" >>"$TW_TMP/$1.yaml"
}

# start_relay NAME NS: sets PID_<NAME>.
start_relay() {
	local name=$1 ns=$2 i pid
	tw_start "relay-$name" "$TW_TMP/relay-$name.log" ip netns exec "$ns" "$RELAY" \
		--config "$TW_TMP/$name.yaml"
	pid=$TW_LAST_PID
	printf -v "PID_$name" %s "$pid"
	for ((i = 0; i < 300; i++)); do
		nsx "$ns" python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:9641/health', timeout=2)" \
			2>/dev/null && return 0
		tw_alive "$pid" || tw_fail "relay $name exited at start-up"
		sleep 0.1
	done
	tw_fail "relay $name: /health not ready after 30 s"
}

# kill_relay NAME: SIGKILL by PID, as a crash would.
kill_relay() {
	local var=PID_$1
	kill -KILL "${!var}" || tw_fail "kill relay $1"
	wait "${!var}" 2>/dev/null
	tw_forget "${!var}"
	tw_log "relay $1 (pid ${!var}) SIGKILLed"
}

start_peer() {
	tw_start udp-echo "$TW_TMP/udp-echo.log" ip netns exec $NS_P socat UDP4-RECVFROM:7,bind=$PEER,fork PIPE
	TW_SS_NS=$NS_P tw_wait_port udp "$PEER" 7 "$TW_LAST_PID" 60
	tw_start tcp-echo "$TW_TMP/tcp-echo.log" ip netns exec $NS_P socat \
		TCP4-LISTEN:8007,bind=$PEER,reuseaddr,fork PIPE
	TW_SS_NS=$NS_P tw_wait_port tcp "$PEER" 8007 "$TW_LAST_PID" 60
}

# start_client ARGS...: twist-client in tw10r-cli until its TUN is up.
start_client() {
	local i
	CLIENT_LOG=$TW_TMP/client.log
	tw_start client "$CLIENT_LOG" ip netns exec $NS_C "$CLIENT" --tun $TUNC --tun-addr4 192.0.2.2 \
		--tun-addr6 none --user demo --password demo --route $PEER/32 "$@"
	CLIENT_PID=$TW_LAST_PID
	for ((i = 0; i < 300; i++)); do
		grep -q "$TUNC up" "$CLIENT_LOG" 2>/dev/null && return 0
		tw_alive "$CLIENT_PID" || tw_fail "twist-client exited at start-up"
		sleep 0.1
	done
	tw_fail "$TUNC not up after 30 s"
}

# The application: UDP requests and a TCP connection, counted per phase
# (before or after the file $TW_TMP/killed appears), until $TW_TMP/stop.
start_app() {
	cat >"$TW_TMP/app.py" <<-'EOF'
		import os, socket, sys, threading, time
		peer, tmp, tcp_on = sys.argv[1], sys.argv[2], sys.argv[3] == "tcp"
		phase = lambda: "after" if os.path.exists(tmp + "/killed") else "before"
		stop = lambda: os.path.exists(tmp + "/stop")
		n = {}
		lock = threading.Lock()
		def count(what):
		    with lock:
		        k = "%s_%s" % (what, phase())
		        n[k] = n.get(k, 0) + 1
		        print(k, n[k], flush=True)
		def udp():
		    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		    s.connect((peer, 7))
		    run = 0  # failed requests in a row: one outage
		    for i in range(3000):  # bounded: 3000 requests
		        if stop():
		            return
		        msg = b"req %d " % i + bytes(100)
		        s.send(msg)
		        end, ok = time.monotonic() + 2, False
		        while not ok and time.monotonic() < end:
		            s.settimeout(max(0.01, end - time.monotonic()))
		            try:
		                ok = s.recv(2048) == msg  # a late answer is not this one's
		            except socket.timeout:
		                break
		            except OSError:
		                break
		        count("udp_ok" if ok else "udp_fail")
		        if not ok and run == 0:
		            count("udp_outage")
		        run = 0 if ok else run + 1
		        if run > n.get("udp_maxrun", 0):
		            n["udp_maxrun"] = run
		            print("udp_maxrun", run, flush=True)
		        time.sleep(0.1)
		def tcp():
		    c = None
		    for i in range(3000):
		        if stop():
		            return
		        try:
		            if c is None:
		                c = socket.create_connection((peer, 8007), timeout=3)
		                c.settimeout(3)
		                f = c.makefile("rb")
		                count("tcp_connect")
		            line = b"line %d\n" % i
		            c.sendall(line)
		            if f.readline() != line:
		                raise OSError("bad echo")
		            count("tcp_ok")
		        except OSError as e:
		            count("tcp_error")
		            print("tcp error: %s" % e, flush=True)
		            if c is not None:
		                c.close()
		            c = None
		        time.sleep(0.1)
		ts = [threading.Thread(target=udp)] + ([threading.Thread(target=tcp)] if tcp_on else [])
		for t in ts:
		    t.start()
		for t in ts:
		    t.join()
		print("summary", " ".join("%s=%d" % kv for kv in sorted(n.items())), flush=True)
	EOF
	APP_LOG=$TW_TMP/app.log
	tw_start app "$APP_LOG" ip netns exec $NS_C python3 -u "$TW_TMP/app.py" $PEER "$TW_TMP" "$1"
	APP_PID=$TW_LAST_PID
}

# last COUNTER: the app's latest value of COUNTER (0 before any).
last() {
	local v
	v=$(grep "^$1 " "$APP_LOG" | tail -n 1 | cut -d' ' -f2)
	echo "${v:-0}"
}

# wait_app COUNTER N: until the app counted N of COUNTER (60 s at most).
wait_app() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(last "$1")" -ge "$2" ] && return 0
		tw_alive "$APP_PID" || tw_fail "the application exited"
		sleep 0.1
	done
	tw_fail "the application's $1 never reached $2 (at $(last "$1"))"
}

stop_app() {
	local i
	touch "$TW_TMP/stop"
	for ((i = 0; i < 100; i++)); do
		tw_running "$APP_PID" || break
		sleep 0.1
	done
	tw_stop "$APP_PID"
	tw_forget "$APP_PID"
	tw_log "application: $(grep '^summary' "$APP_LOG")"
}

# expect COUNTER N: the app's final COUNTER is N.
expect() {
	[ "$(last "$1")" -eq "$2" ] || tw_fail "application: $1 = $(last "$1"), want $2"
}

# udp_one_outage: the UDP exchange saw one reconnect: one run of failed
# requests, of the one that found the relay gone and at most the one in
# flight when it died.
udp_one_outage() {
	expect udp_outage_after 1
	[ "$(last udp_maxrun)" -le 2 ] ||
		tw_fail "application: $(last udp_maxrun) requests in a row failed, want 2 at most"
}

# shim_alive: the same process, its TUN up, its status counting MOVE.
shim_alive() {
	local i
	tw_running "$CLIENT_PID" || tw_fail "twist-client exited after the relay died"
	ip -n $NS_C link show $TUNC | grep -q "state UP\|,UP" || tw_fail "$TUNC is not up"
	for ((i = 0; i < 30; i++)); do
		kill -USR1 "$CLIENT_PID"
		sleep 0.5
		grep -q "status: server $1.* server_switches [1-9]" "$CLIENT_LOG" && return 0
	done
	tw_fail "no status line naming server $1 with a server switch"
}

case_failover() {
	relay_conf a $SRV_A $TWIST_A
	relay_conf b $SRV_B $TWIST_B
	start_relay a $NS_A
	start_relay b $NS_B
	start_peer
	start_client --server $SRV_A --server $SRV_B
	start_app tcp
	wait_app udp_ok_before 20
	wait_app tcp_ok_before 20
	touch "$TW_TMP/killed"
	kill_relay a
	wait_app udp_ok_after 20
	wait_app tcp_ok_after 20
	stop_app
	expect udp_fail_before 0
	expect tcp_error_before 0
	expect tcp_connect_before 1
	udp_one_outage
	expect tcp_connect_after 1
	tw_log "UDP: one outage of $(last udp_fail_after) request(s); TCP: one new connection"
	grep -q "server $SRV_A:3478 failed: new flows go to $SRV_B:3478" "$CLIENT_LOG" ||
		tw_fail "no log of A given up for B"
	grep -q "reopening on $SRV_A:3478" "$CLIENT_LOG" ||
		tw_fail "no log of a flow reopened on the same server first"
	grep -q "reopened, relayed $TWIST_B" "$CLIENT_LOG" || tw_fail "no flow reopened on B"
	shim_alive $SRV_B:3478
	tw_pass "relay A SIGKILLed: the shim moved to B; one UDP reconnect, one TCP reconnect"
}

case_redirect() {
	local sib
	sib=$(
		cat <<-EOF
			cluster:
			  node: N
			  secret: "tw10r-cluster-secret-0123456789"
			  listen: tcp://ME:3491
			  interval_ms: 100
			  siblings:
			    - { name: S, report: "tcp://OTHER:3491", alternate: [ALT] }
		EOF
	)
	relay_conf a $SRV_A $TWIST_A "$(echo "$sib" | sed "s/N/a/;s/ME/192.0.2.129/;s/S/b/;s/OTHER/192.0.2.130/;s/ALT/$SRV_B:3478/")" \
		"$TW_TMP/a.sock"
	relay_conf b $SRV_B $TWIST_B "$(echo "$sib" | sed "s/N/b/;s/ME/192.0.2.130/;s/S/a/;s/OTHER/192.0.2.129/;s/ALT/$SRV_A:3478/")"
	start_relay a $NS_A
	start_relay b $NS_B
	start_peer
	local i
	# A drains once it hears B: its new Allocates go to B (300).
	for ((i = 0; i < 100; i++)); do
		nsx $NS_A "$CTL" --socket "$TW_TMP/a.sock" drain 2>&1 | grep -q "siblings_available=1" && break
		sleep 0.2
	done
	[ $i -lt 100 ] || tw_fail "relay A never saw B as a sibling to drain to"
	start_client --server $SRV_A
	start_app udp
	wait_app udp_ok_before 20
	grep -q "redirected by 300 to $SRV_B:3478" "$CLIENT_LOG" || tw_fail "the flow was not redirected to B"
	nsx $NS_A "$CTL" --socket "$TW_TMP/a.sock" undrain | grep -q "draining=false" ||
		tw_fail "twistctl undrain on A"
	touch "$TW_TMP/killed"
	kill_relay b
	wait_app udp_ok_after 20
	stop_app
	expect udp_fail_before 0
	udp_one_outage
	grep -q "server $SRV_B:3478 failed: new flows go to $SRV_A:3478 (the server before the 300)" \
		"$CLIENT_LOG" || tw_fail "no log of the learned B given up for A"
	shim_alive $SRV_A:3478
	tw_pass "a server learned from a 300 died: the shim went back to the one before it"
}

tw_trap
tw_tmpdir
lab_up
case "$CASE" in
failover) case_failover ;;
redirect) case_redirect ;;
*) tw_fail "unknown case $CASE" ;;
esac
