#!/usr/bin/env bash
# The translator (trt: in twist-relay, docs/trt.md) in three namespaces of
# its own:
#
#   trtc-cli ------------------ trtc-xlt ------------------ trtc-srv
#   2001:db8:12:1::2/64         2001:db8:12:1::1 | 198.51.100.1   198.51.100.10/24
#   (::66, a denied source)     twist-relay, prefix fd64:7472::/96
#
# The client has IPv6 only, the server IPv4 only. Shown: curl downloads a
# file through PREFIX::c633:640a (SHA-256 matches); a UDP echo through socat
# (300 datagrams up to 1,472 bytes, none lost) and a reply from another
# server port filtered; a closed TCP port is "Connection refused" and a
# closed UDP port an ICMPv6 port unreachable; the denied source and
# PREFIX::7f00:1 / PREFIX::e000:1 are refused, with the log line; an
# absent IPv4 host is an ICMPv6 address unreachable; nc -N
# gets the server's answer after its EOF (half-close); an urgent byte and
# a server's RST cross; FTP from vsftpd by EPSV, and by EPRT through the
# ALG's active-mode proxy; the UDP mapping expires; a table left by a killed
# relay is replaced, and SIGTERM removes the table and the route. Then, with
# twist-syncd (ha.enabled), a UDP mapping outlives a relay restart: the new
# relay imports its tuple, binds the same IPv4 address and port, and relays.
#
#   trt_smoke.sh PATH/TO/twist-relay PATH/TO/twist-syncd
set -u
export TWIST_TEST_NETNS=0 # the namespaces are built here
TW_NAME=trt_smoke
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: trt_smoke.sh twist-relay twist-syncd}
SYNCD=${2:?usage: trt_smoke.sh twist-relay twist-syncd}
HERE=$(cd "$(dirname "$0")" && pwd)
NS_C=trtc-cli
NS_X=trtc-xlt
NS_S=trtc-srv
SRV4=198.51.100.10
SRV6=fd64:7472::c633:640a
TABLE=trtc_smoke
METRICS=127.0.0.1:9641

tw_need ip iproute2
tw_need nft nftables
tw_need curl curl
tw_need socat socat
tw_need nc netcat-openbsd
tw_need python3 python3
tw_need sha256sum coreutils
[ -x /usr/sbin/vsftpd ] || tw_fail "vsftpd not found: apt-get install vsftpd"
[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces, TPROXY, NFQUEUE)"
[ -x "$RELAY" ] || tw_fail "twist-relay '$RELAY' not built"
[ -x "$SYNCD" ] || tw_fail "twist-syncd '$SYNCD' not built"

# ip netns exec execs its command: tw_start records the PID of the program
# itself (a shell function here would be a subshell, and stopping it would
# leave the program running).
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

lab_up() {
	tw_netns_new $NS_C $NS_X $NS_S
	ip link add trtc-c0 netns $NS_C type veth peer name trtc-x0 netns $NS_X &&
		ip link add trtc-x1 netns $NS_X type veth peer name trtc-s0 netns $NS_S ||
		tw_fail "veth pairs"
	ip -n $NS_C addr add 2001:db8:12:1::2/64 dev trtc-c0 nodad
	# Deprecated, so that it is a source only when asked for (--interface, bind).
	ip -n $NS_C addr add 2001:db8:12:1::66/64 dev trtc-c0 nodad preferred_lft 0
	ip -n $NS_X addr add 2001:db8:12:1::1/64 dev trtc-x0 nodad
	ip -n $NS_X addr add 198.51.100.1/24 dev trtc-x1
	ip -n $NS_S addr add $SRV4/24 dev trtc-s0
	ip -n $NS_C link set trtc-c0 up
	ip -n $NS_X link set trtc-x0 up
	ip -n $NS_X link set trtc-x1 up
	ip -n $NS_S link set trtc-s0 up
	ip -n $NS_C -6 route add default via 2001:db8:12:1::1 || tw_fail "client route"
	ip -n $NS_S route add default via 198.51.100.1 || tw_fail "server route"
}

servers_up() {
	mkdir -p "$TW_TMP/www"
	head -c 20000000 /dev/urandom >"$TW_TMP/www/big.bin"
	tw_start http "$TW_TMP/http.log" ip netns exec $NS_S python3 -m http.server 80 --bind $SRV4 \
		--directory "$TW_TMP/www"
	tw_start echo "$TW_TMP/echo.log" ip netns exec $NS_S socat UDP4-RECVFROM:7,bind=$SRV4,fork EXEC:cat
	tw_start halfclose "$TW_TMP/hc.log" ip netns exec $NS_S socat TCP4-LISTEN:9000,bind=$SRV4,reuseaddr,fork \
		SYSTEM:'wc -c'
	tw_start helpers "$TW_TMP/helpers.log" ip netns exec $NS_S python3 "$HERE/trt_smoke.py" serve $SRV4
	# vsftpd, anonymous and read-only; its root must be root's and not writable.
	mkdir -p "$TW_TMP/ftp/pub" "$TW_TMP/empty"
	head -c 3000000 /dev/urandom >"$TW_TMP/ftp/pub/file.bin"
	chmod 555 "$TW_TMP/ftp"
	cat >"$TW_TMP/vsftpd.conf" <<-EOF
		listen=YES
		listen_ipv6=NO
		listen_address=$SRV4
		background=NO
		anonymous_enable=YES
		local_enable=NO
		write_enable=NO
		anon_root=$TW_TMP/ftp
		no_anon_password=YES
		secure_chroot_dir=$TW_TMP/empty
		connect_from_port_20=NO
		seccomp_sandbox=NO
		xferlog_enable=NO
	EOF
	tw_start vsftpd "$TW_TMP/vsftpd.log" ip netns exec $NS_S /usr/sbin/vsftpd "$TW_TMP/vsftpd.conf"
	for ((i = 0; i < 100; i++)); do
		[ "$(nsx $NS_S ss -Htln | grep -c "$SRV4:\(21\|80\|9000\|9001\|9002\) ")" = 5 ] &&
			[ "$(nsx $NS_S ss -Huln | grep -c "$SRV4:\(7\|9003\) ")" = 2 ] && return 0
		sleep 0.1
	done
	tw_fail "the servers did not come up in 10 s"
}

write_config() {
	cat >"$TW_TMP/relay.yaml" <<-EOF
		listen: [{address: 127.0.0.1, port: 3478}]
		relay: {addresses: [127.0.0.1]}
		auth: {users: [{name: demo, password: demo}]}
		metrics: {listen: "$METRICS"}
		control: {socket: ""}
		trt:
		  enabled: true
		  prefix: fd64:7472::/96
		  nft_table: $TABLE
		  ipv4_sources: [198.51.100.1]
		  allow: [{src: "2001:db8:12:1::/64", dst: 198.51.100.0/24}]
		  deny: [{src: "2001:db8:12:1::66/128", dst: 0.0.0.0/0}]
		  udp_idle_timeout: 3
		  tcp_idle_timeout: 60
	EOF
}

# start_relay LOG: sets RELAY_PID once the table is in and /metrics answers.
start_relay() {
	local i
	tw_start twist-relay "$1" ip netns exec $NS_X "$RELAY" --config "$TW_TMP/relay.yaml"
	RELAY_PID=$TW_LAST_PID
	for ((i = 0; i < 100; i++)); do
		tw_running $RELAY_PID || tw_fail "twist-relay exited at start"
		nsx $NS_X curl -sf "http://$METRICS/ready" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tw_fail "twist-relay not ready after 10 s"
}

metric() {
	nsx $NS_X curl -sf "http://$METRICS/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

check() {
	local what=$1
	shift
	nsx $NS_C timeout 30 python3 "$HERE/trt_smoke.py" "$@" || tw_fail "$what"
	tw_log "ok: $what"
}

tw_tmpdir
tw_trap
lab_up
servers_up
write_config

# A table and route as a killed relay leaves them: replaced at start.
start_relay "$TW_TMP/relay0.log"
kill -KILL $RELAY_PID
wait $RELAY_PID 2>/dev/null
tw_forget $RELAY_PID
nsx $NS_X nft list table inet $TABLE >/dev/null 2>&1 || tw_fail "no table after start"
start_relay "$TW_TMP/relay.log"

# TCP through the prefix.
nsx $NS_C curl -sS -g --max-time 60 -o "$TW_TMP/big.out" "http://[$SRV6]/big.bin" ||
	tw_fail "curl through the translator"
[ "$(sha256sum <"$TW_TMP/big.out")" = "$(sha256sum <"$TW_TMP/www/big.bin")" ] ||
	tw_fail "downloaded file differs"
tw_log "ok: 20 MB download, SHA-256 matches"
got=$(head -c 300000 /dev/urandom | nsx $NS_C timeout 20 nc -N $SRV6 9000) ||
	tw_fail "nc -N through the translator"
[ "$(echo $got)" = 300000 ] || tw_fail "half-close: server answered '$got', want 300000"
tw_log "ok: half-close (nc -N), the answer came after the EOF"
check "urgent byte forwarded" oob $SRV6
check "server's RST reaches the client" rst $SRV6

# FTP: EPSV passes as it is; EPRT goes through the ALG's active-mode proxy.
want=$(sha256sum <"$TW_TMP/ftp/pub/file.bin")
nsx $NS_C curl -sS -g --max-time 60 -o "$TW_TMP/ftp1.out" "ftp://[$SRV6]/pub/file.bin" ||
	tw_fail "curl ftp:// (EPSV)"
[ "$(sha256sum <"$TW_TMP/ftp1.out")" = "$want" ] || tw_fail "FTP (EPSV) file differs"
nsx $NS_C curl -sS -g --max-time 60 --ftp-port - -o "$TW_TMP/ftp2.out" "ftp://[$SRV6]/pub/file.bin" ||
	tw_fail "curl --ftp-port - (EPRT)"
[ "$(sha256sum <"$TW_TMP/ftp2.out")" = "$want" ] || tw_fail "FTP (EPRT) file differs"
[ "$(metric 'twist_trt_alg_rewrites_total{kind="eprt"}')" = 1 ] || tw_fail "EPRT not rewritten"
tw_log "ok: FTP by EPSV and by EPRT (the ALG's PORT and active-mode proxy)"

# Refusals.
check "closed TCP port refused" refused $SRV6 81
check "denied source refused" refused $SRV6 80 2001:db8:12:1::66
grep -q 'trt: denied tcp \[2001:db8:12:1::66\]:[0-9]* -> 198.51.100.10:80 via 198.51.100.1:0: acl' \
	"$TW_TMP/relay.log" || tw_fail "no log line for the denied source"
check "PREFIX::7f00:1 refused" refused fd64:7472::7f00:1 80
check "PREFIX::e000:1 refused" refused fd64:7472::e000:1 80
check "an absent IPv4 host: ICMPv6 address unreachable" unreachable fd64:7472::c633:640b 80
[ "$(metric 'twist_trt_icmp_sent_total{type="host_unreachable"}')" = 1 ] ||
	tw_fail "address unreachable not counted"
[ "$(metric 'twist_trt_denied_total{reason="loopback"}')" = 1 ] || tw_fail "loopback not counted"
[ "$(metric 'twist_trt_denied_total{reason="multicast"}')" = 1 ] || tw_fail "multicast not counted"

# UDP.
check "UDP echo, 300 datagrams up to 1472 bytes" udp_echo $SRV6 300
check "closed UDP port: ICMPv6 port unreachable" udp_unreach $SRV6
check "reply from another server port filtered" udp_filter $SRV6
[ "$(metric 'twist_trt_dropped_total{reason="filtered"}')" -ge 1 ] || tw_fail "filtered not counted"
[ "$(metric 'twist_trt_icmp_sent_total{type="port_unreachable"}')" -ge 1 ] ||
	tw_fail "ICMPv6 not counted"
echo ping | nsx $NS_C timeout 10 socat -t 3 - UDP6:[$SRV6]:7 | grep -q ping ||
	tw_fail "socat UDP echo"
# A live mapping, read while a sender keeps it busy: socat's own 3 s wait
# after EOF is as long as udp_idle_timeout, so its mapping may be gone
# already on a loaded machine. The sender stops by itself after 30 s.
# ip netns exec, not nsx: $! must be the process that is killed below.
ip netns exec $NS_C timeout 30 sh -c "while :; do echo keep; sleep 0.3; done | socat -u - UDP6:[$SRV6]:7" &
KEEP=$!
for ((i = 0; i < 100; i++)); do
	[ "$(metric 'twist_trt_mappings{proto="udp"}')" -ge 1 ] 2>/dev/null && break
	sleep 0.2
done
kill $KEEP 2>/dev/null
wait $KEEP 2>/dev/null
[ "$i" -lt 100 ] || tw_fail "no live UDP mapping"
for ((i = 0; i < 100; i++)); do
	[ "$(metric 'twist_trt_mappings{proto="udp"}')" = 0 ] && break
	sleep 0.2
done
[ "$(metric 'twist_trt_mappings{proto="udp"}')" = 0 ] || tw_fail "UDP mappings did not expire"
tw_log "ok: UDP mappings expired after udp_idle_timeout"
[ "$(metric 'twist_trt_mappings{proto="tcp"}')" = 0 ] || tw_fail "TCP pairs left open"

# SIGTERM: the table and the route go.
tw_stop $RELAY_PID || tw_fail "twist-relay ignored SIGTERM"
tw_forget $RELAY_PID
[ "$TW_STOP_STATUS" = 0 ] || tw_fail "twist-relay exit status $TW_STOP_STATUS"
nsx $NS_X nft list table inet $TABLE >/dev/null 2>&1 && tw_fail "nft table left after SIGTERM"
nsx $NS_X ip -6 route show table local | grep -q fd64:7472:: && tw_fail "route left after SIGTERM"
tw_log "ok: SIGTERM removed the nft table and the route"

# HA: the mapping goes to twist-syncd as a tuple and comes back at restart.
mkdir -p "$TW_TMP/ipc"
echo master >"$TW_TMP/ipc/role"
sed -i -e 's/udp_idle_timeout: 3/udp_idle_timeout: 120/' \
	-e 's/^auth: .*/auth: {users: [{name: demo, password: demo}], nonce_secret: "trtc-smoke-0123456789"}/' \
	"$TW_TMP/relay.yaml"
printf 'ha: {enabled: true, ipc_dir: %s}\n' "$TW_TMP/ipc" >>"$TW_TMP/relay.yaml"
tw_start twist-syncd "$TW_TMP/syncd.log" ip netns exec $NS_X "$SYNCD" --node-id 1 --peer-id 2 \
	--listen tcp://127.0.0.1:7101 --peer tcp://127.0.0.1:7102 --ipc-dir "$TW_TMP/ipc"
start_relay "$TW_TMP/relay-ha1.log"
check "UDP through the HA relay" udp_port $SRV6 41000
src1=$(nsx $NS_X ss -Huan src 198.51.100.1 | awk '{ print $4 }')
[ -n "$src1" ] || tw_fail "no IPv4 socket for the mapping"
for ((i = 0; i < 50; i++)); do
	[ "$(metric twist_sync_exported_total)" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
tw_stop $RELAY_PID || tw_fail "twist-relay ignored SIGTERM"
tw_forget $RELAY_PID
start_relay "$TW_TMP/relay-ha2.log"
for ((i = 0; i < 50; i++)); do
	[ "$(metric 'twist_trt_mappings{proto="udp"}')" = 1 ] && break
	sleep 0.1
done
[ "$(metric 'twist_trt_mappings{proto="udp"}')" = 1 ] || tw_fail "the mapping was not imported"
src2=$(nsx $NS_X ss -Huan src 198.51.100.1 | awk '{ print $4 }')
[ "$src1" = "$src2" ] || tw_fail "imported mapping on $src2, the original was on $src1"
check "UDP through the imported mapping" udp_port $SRV6 41000
tw_log "ok: a UDP mapping outlived the relay restart on $src1"
tw_stop $RELAY_PID || tw_fail "twist-relay ignored SIGTERM"
tw_forget $RELAY_PID
! grep -l 'runtime error\|Sanitizer' "$TW_TMP"/relay*.log || tw_fail "a sanitizer spoke (log above)"
tw_pass "TCP, UDP, FTP, refusals, ACL, ICMPv6, half-close, urgent data, RST, cleanup, HA"
