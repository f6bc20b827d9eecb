#!/usr/bin/env bash
# Issue 12's "Must show" for the transport relay translator, in the lab of
# deploy/lab/trt.sh: an IPv6-only client reaches an IPv4-only server through
# twist-relay's trt: section (or TAYGA, to prove the lab itself).
#
#   trt_must.sh PATH/TO/twist-relay CASE
#
#   http       curl 200, 100 MB download and 100 MB curl -T upload, SHA-256
#   dns64      curl and wget by name through unbound's DNS64, a real AAAA
#              not synthesized, dig -x on a synthesized address
#   udp        1,000 echoes up to 1,472 bytes, 0 lost; a datagram from
#              another server port dropped; the mapping expires
#   refused    closed TCP port: "Connection refused"; closed UDP port: an
#              ICMPv6 port unreachable from the dummy address
#   halfclose  nc -N: the server's answer arrives after the client's EOF
#   acl        the denied source gets a RST and a "trt: denied" log line;
#              PREFIX::7f00:1 and PREFIX::e000:1 refused
#   ftp        from vsftpd (:21, answers EPSV itself: passed through):
#              curl (EPSV), curl --ftp-port - (EPRT), lftp with EPSV not
#              preferred, lftp active, 1-byte command writes (EPSV, EPRT);
#              from trt-ftp522.py (:2121, EPSV refused with 522): curl's
#              EPSV turned into PASV by the ALG (counted)
#   pmtu       the client link drops to MTU 1280 in the middle of a download
#   load       5,000 TCP flows and 5,000 UDP mappings at once; the relay's
#              fds back to the start, RSS within 5 %
#
# Each check prints "ok NAME: ..." or "FAIL NAME: ..."; the test fails when
# one fails. The lab's namespaces (trt12-*) belong to the test while it runs:
# it takes the lab down first and at the end (RESOURCE_LOCK trt12).
# TRT_XLT=tayga runs the same case through TAYGA instead of twist-relay (a
# manual check of the lab; checks that only twist can pass say "n/a").
# tw_ok never fails, so "cond && tw_ok || tw_bad" is an if-then-else here; the lab's
# names come from eval "$(trt.sh env)".
# shellcheck disable=SC2015,SC2153,SC1091,SC2034
set -u
export TWIST_TEST_NETNS=0 # the lab builds its own namespaces
TW_NAME=trt_${2:-must}
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: trt_must.sh PATH/TO/twist-relay CASE}
CASE=${2:?usage: trt_must.sh PATH/TO/twist-relay CASE}
HERE=$(cd "$(dirname "$0")" && pwd)
LABSH=$HERE/../../deploy/lab/trt.sh
DRIVER=$HERE/trt_client.py
PY=/usr/bin/python3
XLT=${TRT_XLT:-twist}
NA=()

[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces, nftables)"
tw_need ip iproute2
tw_need nft nftables
tw_need curl curl
tw_need sha256sum coreutils
tw_need unbound unbound
tw_need vsftpd vsftpd
tw_need socat socat
[ -x "$PY" ] || tw_fail "$PY not found: apt-get install python3"
[ -x "$LABSH" ] || tw_fail "$LABSH missing or not executable"
case $XLT in
twist) [ -x "$RELAY" ] || tw_fail "twist-relay '$RELAY' not built" ;;
tayga) tw_need tayga tayga ;;
*) tw_fail "TRT_XLT must be twist or tayga, not '$XLT'" ;;
esac

tw_tmpdir
tw_lab_trap "$LABSH"

# twist_only NAME: true under twist; under TAYGA the check is "n/a".
twist_only() {
	[ "$XLT" = twist ] && return 0
	NA+=("$1")
	tw_log "n/a $1 (TAYGA has no such feature)"
	return 1
}

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
cli() { nsx "$CLIENT_NS" "$@"; }
drv() { cli timeout 300 "$PY" "$DRIVER" "$@"; }

# metric NAME [k=v...]: the sum of NAME's samples whose labels hold every
# k="v" (empty when the relay exposes none).
metric() {
	local name=$1
	shift
	nsx "$XLT_NS" curl -s -m 3 "http://$METRICS/metrics" |
		awk -v n="$name" -v want="$*" '
		index($0, n) == 1 && (substr($0, length(n) + 1, 1) ~ /[{ ]/) {
			k = split(want, w, " ")
			for (i = 1; i <= k; i++) {
				split(w[i], kv, "=")
				if (index($0, kv[1] "=\"" kv[2] "\"") == 0) next
			}
			s += $NF; f = 1
		}
		END { if (f) print s }'
}

relay_pid() { cat "$LAB_DIR/pids/relay.pid" 2>/dev/null; }

# ---- the lab and the translator ----

lab_up() {
	local big=1
	case $CASE in http | pmtu) big=100 ;; esac
	"$LABSH" down
	TRT_LAB_BIG_MB=$big "$LABSH" up || tw_fail "deploy/lab/trt.sh up failed"
	eval "$("$LABSH" env)"
	H=$SERVER_IP6
	export TW_EXTRA_LOGS="$LAB_DIR/logs/srv.log $LAB_DIR/logs/relay.log $LAB_DIR/logs/tayga.log"
}

# start_xlt [VAR=VALUE...]: the translator for this case; the variables
# (TRT_UDP_IDLE, TRT_TCP_IDLE) go to `trt.sh config`.
start_xlt() {
	if [ "$XLT" = tayga ]; then
		"$LABSH" tayga || tw_fail "trt.sh tayga failed"
		return
	fi
	env "$@" "$LABSH" config >"$TW_TMP/relay.yaml" || tw_fail "trt.sh config failed"
	tw_log "twist-relay config:"
	sed 's/^/    /' "$TW_TMP/relay.yaml"
	"$LABSH" relay "$RELAY" "$TW_TMP/relay.yaml" || tw_fail "trt.sh relay failed"
}

# The relay leaves on SIGTERM without a sanitizer report.
stop_xlt() {
	"$LABSH" stop-xlt
	[ "$XLT" = twist ] || return 0
	if grep -q 'Sanitizer' "$LAB_DIR/logs/relay.log"; then
		tw_bad relay_clean_exit "sanitizer report: $(grep -m1 'Sanitizer' "$LAB_DIR/logs/relay.log")"
	else
		tw_ok relay_clean_exit "stopped, no sanitizer report in its log"
	fi
}

# ---- the cases ----

case_http() {
	local code want got up
	code=$(cli curl -sS -g -o /dev/null -w '%{http_code}' --max-time 20 "http://[$H]/" 2>&1)
	[ "$code" = 200 ] && tw_ok http_200 "curl -g http://[$H]/ -> $code" || tw_bad http_200 "curl: '$code'"
	want=$(cat "$LAB_DIR/www/big.sha256")
	got=$(cli curl -sS -g --max-time 240 "http://[$H]/big.bin" 2>"$TW_TMP/dl.err" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && tw_ok http_download "100 MB, SHA-256 $got" ||
		tw_bad http_download "SHA-256 $got, want $want ($(head -c 200 "$TW_TMP/dl.err"))"
	up=$(cli curl -sS -g --max-time 240 -T "$LAB_DIR/www/big.bin" "http://[$H]/upload" 2>"$TW_TMP/up.err")
	[ "$up" = "$want" ] && tw_ok http_upload "curl -T 100 MB, the server's SHA-256 $up" ||
		tw_bad http_upload "server says '$up', want $want ($(head -c 200 "$TW_TMP/up.err"))"
}

# dig +short, answer lines only: a first try that timed out (unbound's cold
# recursion to the lab's authoritative server, on a loaded machine) leaves a
# ';; communications error' line before the answer of the next try.
dig_short() {
	cli dig +short +time=5 +tries=3 "$@" 2>&1 | grep -v '^;;'
}

case_dns64() {
	local res ip
	res=$(dig_short v4only.test AAAA)
	[ "$res" = "$H" ] && tw_ok dns64_synth "v4only.test AAAA $res" || tw_bad dns64_synth "v4only.test AAAA: '$res'"
	res=$(dig_short dual.test AAAA)
	[ "$res" = "$XLT_IP6" ] && tw_ok dns64_real_aaaa "dual.test AAAA $res (not synthesized)" ||
		tw_bad dns64_real_aaaa "dual.test AAAA: '$res', want only $XLT_IP6"
	res=$(dig_short -x "$H" | tail -n1)
	[ "$res" = v4only.test. ] && tw_ok dns64_ptr "dig -x $H -> $res" || tw_bad dns64_ptr "dig -x $H: '$res'"
	res=$(cli curl -sS -w ' %{remote_ip}' --max-time 20 http://v4only.test/ 2>&1)
	ip=${res##* }
	[ "$ip" = "$H" ] && [[ $res == "trt lab server"* ]] && tw_ok dns64_curl "curl http://v4only.test/ via $ip" ||
		tw_bad dns64_curl "curl http://v4only.test/: '$res'"
	res=$(cli wget -q -O - -T 20 -t 1 http://v4only.test/ 2>&1)
	[[ $res == "trt lab server"* ]] && tw_ok dns64_wget "wget http://v4only.test/: '$res'" ||
		tw_bad dns64_wget "wget: '$res'"
}

case_udp() {
	local res n i
	# 1,472 bytes fill an IPv4 packet of 1,500; on IPv6 it is 1,520, so
	# the translator must not leave DF on the IPv4 side nor refuse to
	# fragment on the IPv6 side. (TAYGA loses the first: the server's echo
	# has DF, TAYGA answers "fragmentation needed", later ones pass.)
	res=$(drv udp-echo "$H" 7 1000 --max 1472)
	[[ $res == *"sent 1000 received 1000" ]] && tw_ok udp_echo_1000 "$res, 0 lost, payloads 1..1472" ||
		tw_bad udp_echo_1000 "$(echo "$res" | tr '\n' ' ')"
	res=$(drv udp-filter "$H" 7 8009 "$SERVER_IP" "$SERVER_NS" 2>&1)
	[[ $res == *" echo 1 rogue 0 control 1" ]] &&
		tw_ok udp_filter "$res (another server port toward the mapping: dropped)" ||
		tw_bad udp_filter "$(echo "$res" | tr '\n' ' ')"
	twist_only udp_expiry || return
	# udp_idle_timeout is 2 s in this case's config: the gauge must rise
	# with the mappings above and fall back to 0 (polled, bounded).
	drv udp-echo "$H" 8007 3 >/dev/null
	n=$(metric twist_trt_mappings proto=udp)
	for ((i = 0; i < 300; i++)); do
		[ "$(metric twist_trt_mappings proto=udp)" = 0 ] && break
		sleep 0.1
	done
	res=$(metric twist_trt_mappings proto=udp)
	[ -n "$n" ] && [ "$n" -ge 1 ] && [ "$res" = 0 ] &&
		tw_ok udp_expiry "twist_trt_mappings{proto=\"udp\"} $n -> 0 (udp_idle_timeout 2)" ||
		tw_bad udp_expiry "twist_trt_mappings{proto=\"udp\"} '${n:-none}' -> '${res:-none}' after 30 s"
}

case_refused() {
	local rc err res
	# curl 7.88 says "Couldn't connect to server" unless verbose, which
	# names the errno: "connect to ... port 81 failed: Connection refused".
	cli curl -sS -v -g -o /dev/null --max-time 10 "http://[$H]:81/" 2>"$TW_TMP/c81.err"
	rc=$?
	err=$(grep -m1 -i 'refused' "$TW_TMP/c81.err" || tail -n1 "$TW_TMP/c81.err")
	[ $rc = 7 ] && [[ $err == *"Connection refused"* ]] && tw_ok tcp_refused "curl exit 7: $err" ||
		tw_bad tcp_refused "curl exit $rc, want 7 'Connection refused': $err"
	res=$(drv udp-unreach "$H" 9 2>&1)
	[ "$res" = "errno 111 origin 3 type 1 code 4 from $H" ] &&
		tw_ok udp_port_unreachable "ICMPv6 type 1 code 4 from $H (ECONNREFUSED)" ||
		tw_bad udp_port_unreachable "$(echo "$res" | tr '\n' ' ')"
}

case_halfclose() {
	local want res
	tw_need nc.openbsd netcat-openbsd
	head -c 300000 /dev/urandom >"$TW_TMP/half.bin"
	want="got 300000 sha256 $(sha256sum <"$TW_TMP/half.bin" | cut -d' ' -f1)"
	# The server answers only once it has read EOF; nc -N sends that EOF
	# (shutdown) after its input, and must still print the answer.
	res=$(cli timeout 30 nc.openbsd -N "$H" 8007 <"$TW_TMP/half.bin" 2>&1)
	[ "$res" = "$want" ] && tw_ok half_close "nc -N: '$res'" || tw_bad half_close "nc -N: '$res', want '$want'"
}

# refused_fast NAME URL [CURL ARGS...]: curl fails with 7 or 56 (RST).
refused_fast() {
	local name=$1 url=$2 rc
	shift 2
	cli curl -sS -g -o /dev/null --max-time 5 "$@" "$url" 2>"$TW_TMP/$name.err"
	rc=$?
	case $rc in
	7 | 56) tw_ok "$name" "curl exit $rc: $(head -c 120 "$TW_TMP/$name.err")" ;;
	*) tw_bad "$name" "curl exit $rc (want 7 or 56): $(head -c 160 "$TW_TMP/$name.err")" ;;
	esac
}

case_acl() {
	local cap i n line d0 d1 r
	tw_need tcpdump tcpdump
	tw_start tcpdump "$TW_TMP/tcpdump.log" ip netns exec "$CLIENT_NS" \
		tcpdump -i t12c -n -U -s 128 -w "$TW_TMP/acl.pcap" "ip6 and tcp and dst host $DENIED_IP"
	cap=$TW_LAST_PID
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$TW_TMP/tcpdump.log" && break
		sleep 0.1
	done
	d0=$(metric twist_trt_denied_total reason=acl)
	twist_only acl_denied_source && refused_fast acl_denied_source "http://[$H]/" --interface "$DENIED_IP"
	sleep 1 # the capture's last packets
	tw_stop "$cap"
	tw_forget "$cap"
	# Read every packet and look at the flags: libpcap's tcp[] filters
	# index IPv4 headers only, so 'tcp[tcpflags] & tcp-rst' never matches
	# an IPv6 packet.
	tcpdump -r "$TW_TMP/acl.pcap" -n >"$TW_TMP/acl.txt" 2>&1
	tw_log "capture toward $DENIED_IP:"
	sed 's/^/    /' "$TW_TMP/acl.txt"
	n=$(grep -c "^.* $H\.80 > $DENIED_IP\.[0-9]*: Flags \[R" "$TW_TMP/acl.txt")
	if twist_only acl_rst; then
		[ "$n" -ge 1 ] && tw_ok acl_rst "$n RST from $H to $DENIED_IP seen in the client namespace" ||
			tw_bad acl_rst "no RST toward $DENIED_IP in the capture"
	fi
	refused_fast acl_allowed_control "http://[$H]:81/" # a closed port: refused by the server
	if twist_only acl_log; then
		d1=$(metric twist_trt_denied_total reason=acl)
		line=$(grep -m1 'trt: denied' "$LAB_DIR/logs/relay.log")
		[[ $line == *"[$DENIED_IP]:"*"-> $SERVER_IP:80 "*": acl"* ]] && [ "${d1:-0}" -gt "${d0:-0}" ] &&
			tw_ok acl_log "'$line'; denied{reason=acl} ${d0:-none} -> $d1" ||
			tw_bad acl_log "log: '${line:-none}'; denied{reason=acl} ${d0:-none} -> ${d1:-none}"
	fi
	for r in 7f00:1=loopback e000:1=multicast; do
		d0=$(metric twist_trt_denied_total reason="${r#*=}")
		refused_fast "refused_${r#*=}" "http://[$PREFIX_BASE${r%=*}]/"
		if twist_only "refused_${r#*=}_counted"; then
			d1=$(metric twist_trt_denied_total reason="${r#*=}")
			[ "${d1:-0}" -gt "${d0:-0}" ] && tw_ok "refused_${r#*=}_counted" "denied{reason=${r#*=}} ${d0:-none} -> $d1" ||
				tw_bad "refused_${r#*=}_counted" "denied{reason=${r#*=}} ${d0:-none} -> ${d1:-none}"
		fi
	done
}

# ftp_check NAME RESULT_SHA DETAIL
ftp_check() {
	[ "$2" = "$FTP_SHA" ] && tw_ok "$1" "SHA-256 $2 ${*:3}" || tw_bad "$1" "SHA-256 '$2', want $FTP_SHA ${*:3}"
}

case_ftp() {
	local got mode k k0 v url="ftp://[$H]/pub/file.bin"
	tw_need lftp lftp
	FTP_SHA=$(cat "$LAB_DIR/ftp/pub/file.sha256")
	got=$(cli curl -sS -g --max-time 60 "$url" 2>"$TW_TMP/f1.err" | sha256sum | cut -d' ' -f1)
	ftp_check ftp_curl_epsv "$got" "$(head -c 120 "$TW_TMP/f1.err")"
	# EPRT carries the client's IPv6 address: only an ALG makes an IPv4
	# server accept it (TAYGA has none; vsftpd answers 500).
	if twist_only ftp_curl_eprt; then
		got=$(cli curl -sS -g --max-time 60 --ftp-port - "$url" 2>"$TW_TMP/f2.err" | sha256sum | cut -d' ' -f1)
		ftp_check ftp_curl_eprt "$got" "$(head -c 120 "$TW_TMP/f2.err")"
	fi
	# lftp over IPv6 still says EPSV with prefer-epsv off (it has no PASV
	# for IPv6); the log shows what it sent. Active mode makes it EPRT.
	for mode in "prefer-epsv no" "passive-mode no"; do
		k=${mode%% *} v=${mode##* }
		[ "$k" = passive-mode ] && ! twist_only "ftp_lftp_$k" && continue
		rm -f "$TW_TMP/lftp.bin"
		cli timeout 90 lftp -d -c "set ftp:$k $v; set net:max-retries 1; set net:timeout 20; open ftp://[$H]; get pub/file.bin -o $TW_TMP/lftp.bin" \
			>"$TW_TMP/lftp-$k.log" 2>&1
		got=$(sha256sum <"$TW_TMP/lftp.bin" 2>/dev/null | cut -d' ' -f1)
		ftp_check "ftp_lftp_$k" "${got:-none}" "(lftp sent: $(grep -Eo -- '---> (EPSV|PASV|EPRT|PORT)' \
			"$TW_TMP/lftp-$k.log" | cut -c6- | tr '\n' ' '))"
	done
	for mode in epsv eprt; do
		[ $mode = eprt ] && ! twist_only ftp_split_eprt && continue
		got=$(drv ftp-split "$H" $mode 2>"$TW_TMP/split-$mode.err" | tail -n1)
		ftp_check "ftp_split_$mode" "$got" "(commands in 1-byte writes)"
	done
	# vsftpd answers EPSV over IPv4: the ALG passes it on, no rewrite.
	k0=$(metric twist_trt_alg_rewrites_total kind=epsv)
	if twist_only ftp_epsv_passthrough; then
		[ "${k0:-0}" = 0 ] && tw_ok ftp_epsv_passthrough "vsftpd answered EPSV: alg_rewrites{kind=epsv} ${k0:-none}" ||
			tw_bad ftp_epsv_passthrough "alg_rewrites{kind=epsv} '${k0:-none}' after vsftpd only, want 0"
	fi
	# An IPv4 server that refuses EPSV with 522 (RFC 6384): the ALG
	# swallows the 522 and asks PASV. (curl alone would retry PASV itself
	# after the 522; the counter tells the two apart.)
	url="ftp://[$H]:$FTP522_PORT/pub/file.bin"
	got=$(cli curl -sS -g -v --max-time 60 "$url" 2>"$TW_TMP/f522.err" | sha256sum | cut -d' ' -f1)
	ftp_check ftp_curl_epsv_522 "$got" "(curl sent: $(grep -Eo '^> (EPSV|PASV)' "$TW_TMP/f522.err" |
		cut -c3- | tr '\n' ' ')got: $(grep -Eo '^< (229|227|522)' "$TW_TMP/f522.err" | cut -c3- | tr '\n' ' '))"
	if twist_only ftp_alg_counted; then
		k=$(metric twist_trt_alg_rewrites_total kind=epsv)
		v=$(metric twist_trt_alg_rewrites_total kind=eprt)
		[ "${k:-0}" -gt "${k0:-0}" ] && ! grep -q '^< 522' "$TW_TMP/f522.err" && [ "${v:-0}" -ge 1 ] &&
			tw_ok ftp_alg_counted "alg_rewrites{kind=epsv} ${k0:-none} -> $k (:$FTP522_PORT), {kind=eprt} $v" ||
			tw_bad ftp_alg_counted "alg_rewrites{kind=epsv} '${k0:-none}' -> '${k:-none}' (:$FTP522_PORT)," \
				"{kind=eprt} '${v:-none}'; curl saw 522: $(grep -c '^< 522' "$TW_TMP/f522.err")"
	fi
}

# Packet Too Big messages the router has sent so far.
ptb_sent() {
	# The line is there only once the count is not 0.
	# shellcheck disable=SC2016 # awk, not shell
	nsx "$ROUTER_NS" awk '$1 == "Icmp6OutType2" { n = $2 } END { print n + 0 }' /proc/net/snmp6
}

case_pmtu() {
	local want got dl i size p0 p1 rc
	want=$(cat "$LAB_DIR/www/big.sha256")
	p0=$(ptb_sent)
	# Slow enough that the MTU drops while it runs; the drop waits for the
	# first 10 MB rather than for a time.
	cli curl -sS -g --max-time 240 --limit-rate 25M -o "$TW_TMP/pmtu.bin" "http://[$H]/big.bin" \
		2>"$TW_TMP/pmtu.err" &
	dl=$!
	for ((i = 0; i < 600; i++)); do
		size=$(stat -c %s "$TW_TMP/pmtu.bin" 2>/dev/null || echo 0)
		[ "$size" -ge 10485760 ] && break
		kill -0 $dl 2>/dev/null || break
		sleep 0.1
	done
	"$LABSH" mtu 1280 || tw_fail "trt.sh mtu 1280 failed"
	tw_log "client link MTU 1280 at $size bytes of the download"
	wait $dl
	rc=$?
	p1=$(ptb_sent)
	got=$(sha256sum <"$TW_TMP/pmtu.bin" | cut -d' ' -f1)
	if [ $rc = 0 ] && [ "$got" = "$want" ] && [ "$size" -lt 104857600 ] && [ "$p1" -gt "$p0" ]; then
		tw_ok pmtu_1280 "MTU 1280 after $size bytes; the router sent $((p1 - p0)) Packet Too Big; SHA-256 matches"
	else
		tw_bad pmtu_1280 "curl exit $rc, SHA-256 $got want $want; MTU dropped at $size bytes;" \
			"Packet Too Big sent $p0 -> $p1 ($(head -c 160 "$TW_TMP/pmtu.err"))"
	fi
}

# fds and VmRSS (KiB) of the relay.
relay_fds() { find "/proc/$(relay_pid)/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
relay_rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$(relay_pid)/status"; }

# load_round N: N TCP flows held open at once, then N UDP mappings.
load_round() {
	local n=$1 i res m
	rm -f "$TW_TMP/release"
	tw_start tcp-load "$TW_TMP/tcp-load.log" ip netns exec "$CLIENT_NS" "$PY" "$DRIVER" tcp-load "$H" 7 "$n" \
		--release "$TW_TMP/release" --hold 120
	local tpid=$TW_LAST_PID
	for ((i = 0; i < 1200; i++)); do
		grep -q '^tcp open' "$TW_TMP/tcp-load.log" && break
		tw_running "$tpid" || break
		sleep 0.1
	done
	res=$(grep '^tcp open' "$TW_TMP/tcp-load.log")
	m=$(metric twist_trt_mappings proto=tcp)
	touch "$TW_TMP/release"
	for ((i = 0; i < 600; i++)); do
		tw_running "$tpid" || break
		sleep 0.1
	done
	tw_stop "$tpid"
	tw_forget "$tpid"
	LOAD_TCP="$res; twist_trt_mappings{proto=\"tcp\"} ${m:-none} while open"
	[ "$res" = "tcp open $n echoed $n" ] && [ "${m:-0}" -ge "$n" ] || LOAD_TCP_OK=0
	res=$(drv udp-load "$H" 8007 "$n")
	LOAD_UDP=$res
	[ "$res" = "udp $n ports $n answered $n" ] || LOAD_UDP_OK=0
}

case_load() {
	local fd0 rss0 fd1 rss1 i n=5000
	ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 16384 ] || tw_fail "the fd limit is $(ulimit -n): 5,000 TCP flows need 16384 or more"
	# Warm-up at full size: first-use allocations (tables, pools) are not
	# leaks, and some grow with the number of descriptors ever used. libevent
	# keeps a small record per descriptor number it has watched, never
	# freed; made during a flood, between the pairs' memory, they pin the
	# pages around them. Such high-water marks stay flat over a second flood
	# (measured: 5,000 flows a round), where a leak would grow again.
	load_round $n
	sleep 3 # the 2 s UDP idle timeout
	fd0=$(relay_fds)
	rss0=$(relay_rss)
	# Each check has its own flag (one flag made a TCP failure fail UDP too).
	LOAD_TCP_OK=1 LOAD_UDP_OK=1
	load_round $n
	[ $LOAD_TCP_OK = 1 ] && tw_ok load_tcp "$LOAD_TCP" || tw_bad load_tcp "$LOAD_TCP"
	[ $LOAD_UDP_OK = 1 ] && tw_ok load_udp "$LOAD_UDP" || tw_bad load_udp "$LOAD_UDP"
	# Closed TCP flows go at once, UDP mappings after udp_idle_timeout (2 s):
	# poll, bounded, for the fds and the RSS to come back.
	for ((i = 0; i < 600; i++)); do
		fd1=$(relay_fds)
		rss1=$(relay_rss)
		[ "$fd1" -le "$fd0" ] && [ "$((rss1 * 100))" -le "$((rss0 * 105))" ] && break
		sleep 0.1
	done
	# A relay that is gone has no fds and no RSS: that must not pass.
	if [ -z "$rss0" ] || [ -z "$rss1" ] || [ -z "$(relay_pid)" ] || ! [ -d "/proc/$(relay_pid)" ]; then
		tw_bad load_alive "twist-relay (pid '$(relay_pid)') not running: RSS '$rss0' -> '$rss1'"
		return
	fi
	[ "$fd1" -le "$fd0" ] && tw_ok load_fds "relay fds $fd0 before, $fd1 after" ||
		tw_bad load_fds "relay fds $fd0 before, $fd1 after 60 s"
	[ "$((rss1 * 100))" -le "$((rss0 * 105))" ] && tw_ok load_rss "relay VmRSS $rss0 KiB before, $rss1 after" ||
		tw_bad load_rss "relay VmRSS $rss0 KiB before, $rss1 after 60 s (more than 5 %)"
}

# ---- main ----

lab_up
case $CASE in
http | dns64 | refused | halfclose | acl | ftp | pmtu) start_xlt ;;
udp) start_xlt TRT_UDP_IDLE=2 ;;
load)
	[ "$XLT" = twist ] || tw_fail "the load case measures twist-relay's fds and RSS: TRT_XLT=twist only"
	# ASan keeps freed memory in quarantine and its allocator keeps free
	# pages: without this RSS shows what ASan holds, not what the relay does.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:allocator_release_to_os_interval_ms=0"
	# The flows are held open on purpose (up to 120 s, closed by the client):
	# an idle timeout shorter than that would end the first ones while the
	# last are still being opened, and under a busy machine it did.
	start_xlt TRT_UDP_IDLE=2 TRT_TCP_IDLE=300
	;;
*) tw_fail "unknown case '$CASE'" ;;
esac
"case_$CASE"
stop_xlt

tw_log "passed ${#TW_PASSED[@]}: ${TW_PASSED[*]-}"
[ ${#NA[@]} -eq 0 ] || tw_log "not applicable under $XLT: ${NA[*]}"
[ ${#TW_FAILED[@]} -eq 0 ] || tw_fail "${#TW_FAILED[@]} check(s) failed: ${TW_FAILED[*]}"
tw_pass "${#TW_PASSED[@]} checks ($CASE, through $XLT)"
