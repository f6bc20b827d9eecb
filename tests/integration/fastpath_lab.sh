# shellcheck shell=bash
# The fast path's veth lab (docs/fastpath.md), sourced by
# tests/integration/fastpath.sh and tests/bench/fastpath.sh after lib.sh:
#
#   $FP_CLI  203.0.113.2/28     ---- 203.0.113.1/28     $FP_RLY  198.51.100.1/28    ---- 198.51.100.2/28    $FP_PEER
#            2001:db8:15:1::2/64     2001:db8:15:1::1/64  (relay)  2001:db8:15:2::1/64     2001:db8:15:2::2/64
#            dev fp15c               dev fp15r0                    dev fp15r1              dev fp15p
#
# The relay listens on 203.0.113.1 and 2001:db8:15:1::1 and relays from
# 198.51.100.1 and 2001:db8:15:2::1. Forwarding is on in the relay's
# namespace because bpf_fib_lookup answers only for interfaces that forward
# (docs/fastpath.md, "Limits"); the relay itself never routes between them.
#
#   fp_lab_up TAG     namespaces fp15-cli-TAG, fp15-rly-TAG, fp15-peer-TAG
#   fp_lab_config FILE FASTPATH METRICS_PORT [EXTRA_YAML]

FP_CLI_IP=203.0.113.2
FP_LISTEN_IP=203.0.113.1
FP_RELAY_IP=198.51.100.1
FP_PEER_IP=198.51.100.2
FP_CLI_IP6=2001:db8:15:1::2
FP_LISTEN_IP6=2001:db8:15:1::1
FP_RELAY_IP6=2001:db8:15:2::1
FP_PEER_IP6=2001:db8:15:2::2

fp_lab_up() {
	local tag=$1
	FP_CLI=fp15-cli-$tag
	FP_RLY=fp15-rly-$tag
	FP_PEER=fp15-peer-$tag
	tw_netns_new "$FP_CLI" "$FP_RLY" "$FP_PEER"
	ip -n "$FP_CLI" link add fp15c type veth peer name fp15r0 netns "$FP_RLY" || tw_fail "veth cli-rly"
	ip -n "$FP_PEER" link add fp15p type veth peer name fp15r1 netns "$FP_RLY" || tw_fail "veth peer-rly"
	ip -n "$FP_CLI" addr add "$FP_CLI_IP/28" dev fp15c
	ip -n "$FP_CLI" addr add "$FP_CLI_IP6/64" dev fp15c nodad
	ip -n "$FP_RLY" addr add "$FP_LISTEN_IP/28" dev fp15r0
	ip -n "$FP_RLY" addr add "$FP_LISTEN_IP6/64" dev fp15r0 nodad
	ip -n "$FP_RLY" addr add "$FP_RELAY_IP/28" dev fp15r1
	ip -n "$FP_RLY" addr add "$FP_RELAY_IP6/64" dev fp15r1 nodad
	ip -n "$FP_PEER" addr add "$FP_PEER_IP/28" dev fp15p
	ip -n "$FP_PEER" addr add "$FP_PEER_IP6/64" dev fp15p nodad
	local ns
	for ns in "$FP_CLI:fp15c" "$FP_RLY:fp15r0" "$FP_RLY:fp15r1" "$FP_PEER:fp15p"; do
		ip -n "${ns%%:*}" link set "${ns##*:}" up || tw_fail "link up ${ns##*:}"
	done
	ip -n "$FP_CLI" route add default via "$FP_LISTEN_IP"
	ip -n "$FP_CLI" -6 route add default via "$FP_LISTEN_IP6"
	ip -n "$FP_PEER" route add default via "$FP_RELAY_IP"
	ip -n "$FP_PEER" -6 route add default via "$FP_RELAY_IP6"
	ip netns exec "$FP_RLY" sysctl -qw net.ipv4.ip_forward=1 || tw_fail "IPv4 forwarding in $FP_RLY"
	ip netns exec "$FP_RLY" sysctl -qw net.ipv6.conf.all.forwarding=1 ||
		tw_fail "IPv6 forwarding in $FP_RLY"
	tw_log "lab up: $FP_CLI / $FP_RLY / $FP_PEER"
}

# fp_lab_offload on|off|partial: checksum offloads of the four veth ends.
#   on       veth's default: CHECKSUM_PARTIAL packets that nobody verifies
#   off      every datagram carries its full checksum; receivers verify it
#   partial  client and peer send CHECKSUM_PARTIAL, the relay's ends have no
#            TX offload so the kernel completes the checksum from csum_start
#            as a NIC would, and client and peer verify what arrives
fp_lab_offload() {
	local ns edge=$1 mid=$1
	[ "$1" = partial ] && edge="tx on rx off" mid="tx off rx on"
	[ "$1" = partial ] || edge="tx $1 rx $1" mid=$edge
	for ns in "$FP_CLI:fp15c:edge" "$FP_RLY:fp15r0:mid" "$FP_RLY:fp15r1:mid" "$FP_PEER:fp15p:edge"; do
		local n=${ns%%:*} rest=${ns#*:}
		local dev=${rest%%:*} which=${rest##*:} opts
		opts=$edge
		[ "$which" = mid ] && opts=$mid
		# shellcheck disable=SC2086 # opts is a list of ethtool words
		ip netns exec "$n" ethtool -K "$dev" $opts >/dev/null 2>&1 || tw_fail "ethtool -K $dev $opts"
	done
}

# fp_lab_napi: the four veth ends receive in NAPI (GRO on and TSO off,
# which veth needs for NAPI) with threaded NAPI, so that each end's receive path (the TC
# program included) runs in a kernel thread of its own, "napi/DEV-ID",
# instead of in the softirq of whichever process sent the packet. The
# benchmark can then charge each end's kernel work to its side. Sets
# FP_NAPI_PIDS to "DEV:PID ..." (one thread per end: veth has one queue).
fp_lab_napi() {
	local ns dev pid comm
	FP_NAPI_PIDS=""
	for ns in "$FP_CLI:fp15c" "$FP_RLY:fp15r0" "$FP_RLY:fp15r1" "$FP_PEER:fp15p"; do
		dev=${ns##*:}
		# veth_xmit() hands a packet to the peer's NAPI only when the
		# sending end has no TSO (or forwards UDP GRO); otherwise it is
		# received in the sender's softirq as before. UDP only here.
		ip netns exec "${ns%%:*}" ethtool -K "$dev" gro on tso off >/dev/null 2>&1 ||
			tw_fail "ethtool -K $dev gro on tso off"
		ip netns exec "${ns%%:*}" sh -c "echo 1 > /sys/class/net/$dev/threaded" ||
			tw_fail "threaded NAPI on $dev"
	done
	for ns in fp15c fp15r0 fp15r1 fp15p; do
		pid=""
		for comm in /proc/[0-9]*/comm; do
			case $(cat "$comm" 2>/dev/null) in
			"napi/$ns-"*)
				[ -z "$pid" ] || tw_fail "two NAPI threads for $ns: is another fp15 lab up?"
				pid=${comm#/proc/} pid=${pid%/comm}
				;;
			esac
		done
		[ -n "$pid" ] || tw_fail "no NAPI thread for $ns"
		FP_NAPI_PIDS="$FP_NAPI_PIDS $ns:$pid"
	done
	tw_log "threaded NAPI:$FP_NAPI_PIDS"
}

# fp_csum_errors NS: UDP datagrams NS dropped for a bad checksum (v4 + v6).
fp_csum_errors() {
	ip netns exec "$1" cat /proc/net/snmp /proc/net/snmp6 |
		awk '/^Udp: InDatagrams/ { split($0, h) } /^Udp: [0-9]/ { for (i = 2; i <= NF; i++) if (h[i] == "InCsumErrors") n += $i }
		     $1 == "Udp6InCsumErrors" { n += $2 } END { print n + 0 }'
}

# fp_lab_config FILE FASTPATH(auto|on|off) METRICS_PORT [EXTRA_YAML_LINES]
# (FP_CONTROL_SOCK: the control socket's path, none if unset)
fp_lab_config() {
	cat >"$1" <<YAML
listen:
  - { address: $FP_LISTEN_IP, port: 3478, transports: [udp] }
  - { address: "$FP_LISTEN_IP6", port: 3478, transports: [udp] }
relay: { addresses: [$FP_RELAY_IP, "$FP_RELAY_IP6"], port_min: 49152, port_max: 65535 }
auth: { realm: twist.local, users: [{ name: demo, password: demo }], nonce_secret: "fp15-lab-shared-nonce-secret-0123" }
peers: { allow: [198.51.100.0/24, "2001:db8:15:2::/64"] }
metrics: { enabled: true, listen: "127.0.0.1:$3" }
control: { socket: "${FP_CONTROL_SOCK:-}" }
compat: { rfc5766_channels: true }
fastpath: { enabled: $2, interfaces: [fp15r0, fp15r1] }
${4:-}
YAML
}

# fp_metric NAME_WITH_LABELS: one sample from the relay's /metrics (0 if absent).
fp_metric() {
	local v
	v=$(ip netns exec "$FP_RLY" curl -s --max-time 5 "http://127.0.0.1:$FP_METRICS_PORT/metrics" |
		awk -v n="$1" '$1 == n { print $2 }')
	echo "${v:-0}"
}
