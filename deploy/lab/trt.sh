#!/bin/bash
# The TRT lab (issue 12): an IPv6-only client, a plain IPv6 router, the
# translator, and an IPv4-only server network. Network namespaces and
# documentation addresses only. Needs root.
#
#   trt.sh up                 build the lab and start the servers (no translator)
#   trt.sh down               stop everything by PID, remove the namespaces
#   trt.sh env                shell assignments (eval "$(trt.sh env)")
#   trt.sh config             print the lab's twist-relay config (trt: section)
#   trt.sh relay BIN [CONFIG] start twist-relay in trt12-xlt (default config:
#                             the one `trt.sh config` prints)
#   trt.sh tayga              start TAYGA in trt12-xlt instead (benchmark anchor)
#   trt.sh stop-xlt           stop whichever translator runs
#   trt.sh mtu N              the MTU of the router's client-side link (both ends)
#
#   trt12-cli  2001:db8:12:1::2/64, 2001:db8:12:1::66/64 (denied by the config)
#              IPv6 only, default via 2001:db8:12:1::1; resolv.conf -> DNS64
#   trt12-rtr  2001:db8:12:1::1/64 (t12rc) | 2001:db8:12:2::1/64 (t12rx)
#              routes PREFIX to 2001:db8:12:2::10
#   trt12-xlt  2001:db8:12:2::10/64 (t12xr), default via 2001:db8:12:2::1
#              198.51.100.1/24 (t12xs), and 198.51.100.2, .3 (trt.ipv4_sources)
#              unbound DNS64 on [2001:db8:12:2::10]:53 (dns64-prefix PREFIX)
#              the translator: twist-relay (trt.sh relay) or TAYGA (trt.sh tayga)
#   trt12-srv  198.51.100.10/24, default via 198.51.100.1; IPv4 only
#              trt-srv.py: HTTP :80 (/big.bin, /big.sha256, PUT/POST answer
#              the body's SHA-256), TCP echo :7, reply-after-EOF :8007, UDP
#              echo :8007, UDP who-am-i :8009; socat UDP echo :7; vsftpd :21
#              (anonymous, read-only, /pub/file.bin 10 MB + file.sha256);
#              trt-ftp522.py :2121 (pyftpdlib, the same files, refuses EPSV
#              with 522: the ALG's EPSV-to-PASV case);
#              unbound, authoritative for test. and 100.51.198.in-addr.arpa.
#
# TAYGA: tun nat64 in trt12-xlt, prefix PREFIX, dynamic pool 203.0.113.0/24,
# masqueraded to 198.51.100.1 on the IPv4 side (nft table ip trt12_tayga).
#
# Environment: TRT_LAB_DIR (pids, logs, configs, web and FTP roots; default
# /run/trt12-lab), TRT_LAB_BIG_MB (big.bin, default 100), TRT_LAB_FTP_MB
# (file.bin, default 10), TRT_UDP_IDLE / TRT_TCP_IDLE (the idle timeouts
# `config` writes; defaults 300 and 7440).
set -u

LAB_TOOL=trt.sh
# shellcheck source-path=SCRIPTDIR source=netns_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns_lib.sh"

P=trt12
LAB=${TRT_LAB_DIR:-/run/$P-lab}
BIG_MB=${TRT_LAB_BIG_MB:-100}
FTP_MB=${TRT_LAB_FTP_MB:-10}
HERE=$(cd "$(dirname "$0")" && pwd)

CLI=$P-cli
RTR=$P-rtr
XLT=$P-xlt
SRV=$P-srv
ALL_NS="$CLI $RTR $XLT $SRV"

PREFIX=fd64:7472::/96
PREFIX_BASE=fd64:7472::
SERVER_IP=198.51.100.10
XLT_IP4=198.51.100.1
XLT_IP6=2001:db8:12:2::10
DNS_IP=$XLT_IP6
CLIENT_IP=2001:db8:12:1::2
DENIED_IP=2001:db8:12:1::66
SOURCES4="198.51.100.2 198.51.100.3"
TAYGA_POOL=203.0.113.0/24
METRICS=127.0.0.1:9641
TRT_PORT=4630
FTP522_PORT=2121
# Every wait is bounded: tenths of a second. An ASan relay may take a
# while to exit (its leak check).
WAIT_UP=150
LAB_STOP_GRACE=100

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, nftables)"
	need ip iproute2
	need nft nftables
	need socat socat
	need unbound unbound
	need vsftpd vsftpd
	need /usr/bin/python3 python3
	/usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null ||
		die "python3's pyftpdlib missing: apt-get install python3-pyftpdlib"
	need sha256sum coreutils
}

cmd_env() {
	cat <<EOF
CLIENT_NS=$CLI
ROUTER_NS=$RTR
XLT_NS=$XLT
SERVER_NS=$SRV
PREFIX=$PREFIX
PREFIX_BASE=$PREFIX_BASE
SERVER_IP=$SERVER_IP
SERVER_IP6=${PREFIX_BASE}c633:640a
DNS_IP=$DNS_IP
CLIENT_IP=$CLIENT_IP
DENIED_IP=$DENIED_IP
XLT_IP4=$XLT_IP4
XLT_IP6=$XLT_IP6
SOURCES4="$SOURCES4"
METRICS=$METRICS
FTP522_PORT=$FTP522_PORT
LAB_DIR=$LAB
EOF
}

# The lab's twist-relay config: a loopback TURN listener (the relay needs
# one), metrics on loopback in trt12-xlt, and the trt: section of the
# contract. ::66 is denied first; the client's /64 may reach the server's /24.
cmd_config() {
	local s
	cat <<EOF
listen:
  - { address: 127.0.0.1, port: 3478, transports: [udp] }
relay: { addresses: [127.0.0.1] }
workers: 1
auth: { realm: trt.test, users: [{ name: demo, password: demo }] }
metrics: { enabled: true, listen: "$METRICS" }
control: { socket: "" }
trt:
  enabled: true
  prefix: "$PREFIX"
  port: $TRT_PORT
  nft: true
  nft_table: twist_trt
  ipv4_sources: [$(for s in $SOURCES4; do printf '%s, ' "$s"; done | sed 's/, $//')]
  allow: [{ src: "2001:db8:12:1::/64", dst: 198.51.100.0/24 }]
  deny: [{ src: "$DENIED_IP/128", dst: 0.0.0.0/0 }]
  allow_private: false
  tcp_idle_timeout: ${TRT_TCP_IDLE:-7440}
  tcp_keepalive: 600
  udp_idle_timeout: ${TRT_UDP_IDLE:-300}
  ftp_ports: [21, $FTP522_PORT]
  max_tcp: 20000
  max_udp: 20000
EOF
}

# ---- processes: started in a namespace, recorded by PID, stopped by PID ----

# stop NAME: SIGTERM, up to 10 s, then SIGKILL; only if it is still ours.
stop() {
	local name=$1 cmd pid i
	cmd=$(cat "$LAB/pids/$name.cmd" 2>/dev/null) || return 0
	pid=$(pid_of "$name") || return 0
	if alive "$name" "$cmd"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			alive "$name" "$cmd" || break
			sleep 0.1
		done
		alive "$name" "$cmd" && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$LAB/pids/$name.pid" "$LAB/pids/$name.cmd"
}

# ---- namespaces and links ----

build_net() {
	local ns s
	for ns in $ALL_NS; do
		ns_add "$ns"
	done
	veth $CLI t12c $RTR t12rc
	veth $RTR t12rx $XLT t12xr
	veth $XLT t12xs $SRV t12s

	addr $CLI t12c $CLIENT_IP/64
	# Deprecated, so source address selection never picks it: only a
	# socket bound to it (curl --interface) uses the denied source.
	ip -n $CLI -6 addr add $DENIED_IP/64 dev t12c nodad preferred_lft 0 || die "address $DENIED_IP"
	addr $RTR t12rc 2001:db8:12:1::1/64
	addr $RTR t12rx 2001:db8:12:2::1/64
	addr $XLT t12xr $XLT_IP6/64
	addr $XLT t12xs $XLT_IP4/24
	for s in $SOURCES4; do
		addr $XLT t12xs "$s/24"
	done
	addr $SRV t12s $SERVER_IP/24

	ip -n $CLI -6 route add default via 2001:db8:12:1::1 || die "client route"
	ip -n $RTR -6 route add $PREFIX via $XLT_IP6 || die "router route to the prefix"
	ip -n $XLT -6 route add default via 2001:db8:12:2::1 || die "translator v6 route"
	ip -n $SRV route add default via $XLT_IP4 || die "server route"
	nsx $RTR sysctl -qw net.ipv6.conf.all.forwarding=1 || die "forwarding in $RTR"
	# The client's resolver: ip netns exec bind-mounts this over /etc/resolv.conf.
	mkdir -p /etc/netns/$CLI || die "mkdir /etc/netns/$CLI"
	echo "nameserver $DNS_IP" >/etc/netns/$CLI/resolv.conf
}

# ---- the servers ----

# The server side's unbound serves test. and the reverse of 198.51.100.0/24
# from local-data, answering with the AA bit: all an authoritative server
# must do for the DNS64 resolver's stub zones (docs/trt.md "DNS64" says why not
# nsd or bind9 here).
write_auth_conf() {
	cat >"$LAB/auth.conf" <<EOF
# authoritative test. for the TRT lab (generated by deploy/lab/trt.sh)
server:
	interface: $SERVER_IP
	port: 53
	do-ip6: no
	access-control: 0.0.0.0/0 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$LAB"
	pidfile: "$LAB/auth.pid"
	logfile: ""
	use-syslog: no
	verbosity: 1
	local-zone: "test." static
	local-data: "test. SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
	local-data: "test. NS ns.test."
	local-data: "ns.test. A $SERVER_IP"
	local-data: "v4only.test. A $SERVER_IP"
	local-data: "dual.test. A $SERVER_IP"
	local-data: "dual.test. AAAA $XLT_IP6"
	local-zone: "100.51.198.in-addr.arpa." static
	local-data: "100.51.198.in-addr.arpa. SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
	local-data: "100.51.198.in-addr.arpa. NS ns.test."
	local-data-ptr: "$SERVER_IP v4only.test."
remote-control:
	control-enable: no
EOF
}

# DNS64 for the client (RFC 6147): AAAA synthesized from A under PREFIX when
# a name has none; PTR for PREFIX::a.b.c.d answered from a.b.c.d's PTR. The
# default local zones for test., the TEST-NET-2 reverse and the ULA reverse
# would answer NXDOMAIN before any module ran: nodefault.
write_dns64_conf() {
	cat >"$LAB/dns64.conf" <<EOF
# DNS64 resolver in the translator's namespace (generated by deploy/lab/trt.sh)
server:
	interface: $DNS_IP
	port: 53
	do-ip4: yes
	do-ip6: yes
	access-control: 2001:db8:12::/48 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$LAB"
	pidfile: "$LAB/dns64.pid"
	logfile: ""
	use-syslog: no
	verbosity: 1
	module-config: "dns64 iterator"
	dns64-prefix: $PREFIX
	qname-minimisation: no
	local-zone: "test." nodefault
	local-zone: "100.51.198.in-addr.arpa." nodefault
	local-zone: "d.f.ip6.arpa." nodefault
stub-zone:
	name: "test."
	stub-addr: $SERVER_IP
stub-zone:
	name: "100.51.198.in-addr.arpa."
	stub-addr: $SERVER_IP
remote-control:
	control-enable: no
EOF
}

# vsftpd standalone on the server's address: anonymous, read-only, PASV and
# PORT (the ALG turns EPSV/EPRT into them for servers that lack them).
write_vsftpd_conf() {
	cat >"$LAB/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$SERVER_IP
listen_port=21
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_upload_enable=NO
anon_mkdir_write_enable=NO
no_anon_password=YES
anon_root=$LAB/ftp
secure_chroot_dir=$LAB/ftp-empty
pasv_enable=YES
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
xferlog_enable=YES
vsftpd_log_file=$LAB/logs/vsftpd-xfer.log
dual_log_enable=YES
xferlog_file=$LAB/logs/vsftpd-xferlog.log
log_ftp_protocol=YES
max_clients=200
max_per_ip=200
EOF
}

make_roots() {
	mkdir -p "$LAB/www" "$LAB/ftp/pub" "$LAB/ftp-empty" || die "mkdir roots"
	head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$LAB/www/big.bin" || die "big.bin"
	(cd "$LAB/www" && sha256sum big.bin | cut -d' ' -f1 >big.sha256)
	echo "trt lab server, IPv4 only" >"$LAB/www/index.html"
	head -c "$((FTP_MB * 1024 * 1024))" /dev/urandom >"$LAB/ftp/pub/file.bin" || die "file.bin"
	(cd "$LAB/ftp/pub" && sha256sum file.bin | cut -d' ' -f1 >file.sha256)
	# vsftpd refuses a writable anonymous root; the ftp user reads it.
	chmod 755 "$LAB" "$LAB/ftp" "$LAB/ftp/pub" "$LAB/ftp-empty"
	chmod 644 "$LAB/ftp/pub/"*
}

start_servers() {
	make_roots
	write_auth_conf
	write_dns64_conf
	write_vsftpd_conf
	spawn srv $SRV /usr/bin/python3 "$HERE/trt-srv.py" --bind $SERVER_IP --www "$LAB/www"
	# One child per client mapping, gone after 60 s idle.
	spawn echo $SRV socat -T 60 UDP4-LISTEN:7,bind=$SERVER_IP,reuseaddr,fork PIPE
	spawn ftp $SRV vsftpd "$LAB/vsftpd.conf"
	spawn ftp522 $SRV /usr/bin/python3 "$HERE/trt-ftp522.py" --bind $SERVER_IP --port $FTP522_PORT \
		--root "$LAB/ftp"
	spawn auth $SRV unbound -d -c "$LAB/auth.conf"
	spawn dns64 $XLT unbound -d -c "$LAB/dns64.conf"
}

# wait_listen NS PROTO ADDR:PORT WHAT PID_NAME
wait_listen() {
	local i
	for ((i = 0; i < WAIT_UP; i++)); do
		listening "$1" "$2" "$3" && return 0
		sleep 0.1
	done
	die "$4 did not start listening on $2 $3 (see $LAB/logs/)"
}

wait_servers() {
	local w
	for w in "tcp $SERVER_IP:80" "tcp $SERVER_IP:7" "tcp $SERVER_IP:8007" "udp $SERVER_IP:8007" \
		"udp $SERVER_IP:8009" "udp $SERVER_IP:7" "tcp $SERVER_IP:21" "tcp $SERVER_IP:$FTP522_PORT" "udp $SERVER_IP:53"; do
		# shellcheck disable=SC2086 # "proto addr" on purpose
		wait_listen $SRV $w "server"
	done
	wait_listen $XLT udp "[$DNS_IP]:53" "the DNS64 unbound"
}

# ---- the translator ----

xlt_running() {
	alive relay twist-relay || alive tayga tayga
}

cmd_relay() {
	local bin=${1:-} conf=${2:-} i pid
	[ -x "$bin" ] || die "usage: $0 relay PATH/twist-relay [CONFIG] (not executable: '$bin')"
	[ -f "$LAB/up" ] || die "the lab is not up: $0 up"
	xlt_running && die "a translator already runs in $XLT: $0 stop-xlt"
	if [ -z "$conf" ]; then
		conf=$LAB/relay.yaml
		cmd_config >"$conf"
	fi
	[ -r "$conf" ] || die "config '$conf' not readable"
	spawn relay $XLT "$bin" --config "$conf"
	pid=$(pid_of relay)
	for ((i = 0; i < 300; i++)); do
		alive relay "$bin" || die "twist-relay exited: $(tail -n 5 "$LAB/logs/relay.log")"
		nsx $XLT ss -H -l -n -t | awk -v p=":$TRT_PORT" '$4 ~ p "$" { f = 1 } END { exit !f }' &&
			break
		sleep 0.1
	done
	[ $i -lt 300 ] || die "twist-relay (pid $pid) has no TCP listener on port $TRT_PORT after 30 s"
	echo "trt.sh: twist-relay pid $pid in $XLT (log $LAB/logs/relay.log)"
}

cmd_tayga() {
	local i
	[ -f "$LAB/up" ] || die "the lab is not up: $0 up"
	need tayga tayga
	xlt_running && die "a translator already runs in $XLT: $0 stop-xlt"
	mkdir -p "$LAB/tayga" || die "mkdir"
	cat >"$LAB/tayga.conf" <<EOF
tun-device nat64
ipv4-addr 203.0.113.1
prefix $PREFIX
dynamic-pool $TAYGA_POOL
data-dir $LAB/tayga
EOF
	nsx $XLT tayga -c "$LAB/tayga.conf" --mktun >>"$LAB/logs/tayga.log" 2>&1 || die "tayga --mktun"
	ip -n $XLT link set nat64 up || die "nat64 up"
	ip -n $XLT addr add $XLT_IP4 dev nat64 || die "nat64 address"
	ip -n $XLT -6 addr add $XLT_IP6 dev nat64 nodad || die "nat64 address v6"
	ip -n $XLT route add $TAYGA_POOL dev nat64 || die "route to the pool"
	ip -n $XLT -6 route add $PREFIX dev nat64 || die "route to the prefix"
	nsx $XLT sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || die "forwarding"
	nsx $XLT nft -f - <<EOF || die "nft masquerade"
table ip ${P}_tayga {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr $TAYGA_POOL oifname "t12xs" masquerade
	}
}
EOF
	spawn tayga $XLT tayga -c "$LAB/tayga.conf" --nodetach
	for ((i = 0; i < 20; i++)); do
		alive tayga tayga || die "tayga exited: $(tail -n 5 "$LAB/logs/tayga.log")"
		sleep 0.1
	done
	echo "trt.sh: tayga pid $(pid_of tayga) in $XLT (tun nat64, pool $TAYGA_POOL)"
}

cmd_stop_xlt() {
	stop relay
	if [ -e "$LAB/tayga.conf" ]; then
		stop tayga
		nsx $XLT nft delete table ip ${P}_tayga 2>/dev/null
		ip -n $XLT link del nat64 2>/dev/null
		nsx $XLT sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
		rm -rf "$LAB/tayga.conf" "$LAB/tayga"
	fi
	return 0
}

cmd_mtu() {
	local n=${1:-}
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1280 ] || [ "$n" -gt 9000 ]; then
		die "usage: $0 mtu N (1280..9000)"
	fi
	ip -n $RTR link set t12rc mtu "$n" || die "mtu on $RTR/t12rc"
	ip -n $CLI link set t12c mtu "$n" || die "mtu on $CLI/t12c"
}

# ---- up and down ----

cmd_up() {
	lab_up
}

cmd_down() {
	lab_remove
	rm -rf "/etc/netns/$CLI" "$LAB"
	return 0
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
config) cmd_config ;;
relay) cmd_relay "${2:-}" "${3:-}" ;;
tayga) cmd_tayga ;;
stop-xlt) cmd_stop_xlt ;;
mtu) cmd_mtu "${2:-}" ;;
*)
	echo "usage: $0 up|down|env|config|relay BIN [CONFIG]|tayga|stop-xlt|mtu N" >&2
	exit 2
	;;
esac
