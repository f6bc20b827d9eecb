#!/usr/bin/env bash
# TWIST flows in twist-relay (docs/twist-protocol.md), in a lab of three
# network namespaces of its own:
#
#   tw9r-cli-PID  203.0.113.2/28 ---- 203.0.113.10/28  tw9r-rly-PID  198.51.100.1/28 ---- 198.51.100.2/28  tw9r-peer-PID
#   (the client)                      (twist-relay x2,   2001:db8:3::1/64   2001:db8:3::2/64  (UDP echo on :7,
#                                      forwarding on)                       198.51.100.3/28    v4 and v6)
#
# Relay A also has the relayed IPv6 address 2001:db8:4::200 (interworking:
# an IPv4 client reaches an IPv6 peer).
# Relay A listens on 203.0.113.10:3478 with relayed TWIST address
# 203.0.113.200 (TUN tw9ra); relay B on :3479 with 203.0.113.201 (TUN
# tw9rb), one relayed port, idle_timeout 3 s and no per-user cap, for
# expiry, 508 and the armed flows' cap on one port.
# tw9r_relay.py (the test's own STUN encoder, sockets placed in each
# namespace with setns) runs the cases; an nft counter in the relay
# namespace counts TCP RSTs that pass it, which must stay 0.
#
#   tw9r_relay.sh RELAY_BINARY
set -uo pipefail
TW_NAME=tw9r_relay
TWIST_TEST_NETNS=0 # named namespaces of its own
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
[ "$(id -u)" = 0 ] || tw_fail "needs root (network namespaces, TUN devices)"
tw_need ip iproute2
tw_need nft nftables
tw_need python3 python3
tw_need promtool prometheus
tw_need curl curl
[ -c /dev/net/tun ] || tw_fail "/dev/net/tun is missing (the tun module)"

SUF=$$
CLI=tw9r-cli-$SUF
RLY=tw9r-rly-$SUF
PEER=tw9r-peer-$SUF

tw_trap
tw_tmpdir

tw_netns_new "$CLI" "$RLY" "$PEER"
ip -n "$CLI" link add tw9rc type veth peer name tw9rr0 netns "$RLY" || tw_fail "veth cli-rly"
ip -n "$PEER" link add tw9rp type veth peer name tw9rr1 netns "$RLY" || tw_fail "veth peer-rly"
ip -n "$CLI" addr add 203.0.113.2/28 dev tw9rc
ip -n "$CLI" link set tw9rc up
ip -n "$CLI" route add default via 203.0.113.1 2>/dev/null || true
ip -n "$RLY" addr add 203.0.113.10/28 dev tw9rr0
ip -n "$RLY" addr add 198.51.100.1/28 dev tw9rr1
ip -n "$RLY" link set tw9rr0 up
ip -n "$RLY" link set tw9rr1 up
ip -n "$PEER" addr add 198.51.100.2/28 dev tw9rp
ip -n "$PEER" addr add 198.51.100.3/28 dev tw9rp
ip -n "$RLY" addr add 2001:db8:3::1/64 dev tw9rr1 nodad
ip -n "$PEER" addr add 2001:db8:3::2/64 dev tw9rp nodad
ip -n "$PEER" link set tw9rp up
ip -n "$PEER" route add default via 198.51.100.1
ip -n "$PEER" -6 route add default via 2001:db8:3::1
ip netns exec "$RLY" sysctl -qw net.ipv4.ip_forward=1 || tw_fail "cannot turn forwarding on in $RLY"
ip netns exec "$RLY" sysctl -qw net.ipv6.conf.all.forwarding=1 || tw_fail "cannot turn IPv6 forwarding on in $RLY"
# RSTs that pass the relay's namespace, whoever sent them: the relay must
# never answer a peer's segment, nor make the peer answer with one.
ip netns exec "$RLY" nft -f - <<NFT || tw_fail "nft table in $RLY"
table inet tw9r_rst {
	counter rsts { }
	chain tw9r_fwd { type filter hook forward priority 0; tcp flags & rst == rst counter name rsts; }
	chain tw9r_out { type filter hook output priority 0; tcp flags & rst == rst counter name rsts; }
}
NFT

relay_conf() { # NAME PORT METRICS RELAYED TUN PORTS IDLE TURN_PORT_BASE MAX_FLOWS [RELAYED6]
	cat >"$TW_TMP/$1.yaml" <<YAML
listen:
  - address: 203.0.113.10
    port: $2
    transports: [udp]
relay:
  addresses: [203.0.113.10]
  port_min: ${8}000
  port_max: ${8}999
workers: 2
auth:
  realm: twist.local
  users:
    - {name: demo, password: demo}
    - {name: other, password: other}
    - {name: quota, password: quota}
peers:
  allow: [198.51.100.0/24, "2001:db8:3::/64"]
limits:
  default_lifetime: 600
metrics:
  enabled: true
  listen: 127.0.0.1:$3
control:
  socket: ""
log:
  level: debug
twist:
  enabled: true
  relay_ipv4: $4
${10:+  relay_ipv6: ${10}}
  ports: $6
  tun: $5
  idle_timeout: $7
  max_flows_per_user: $9
YAML
}
relay_conf a 3478 9751 203.0.113.200 tw9ra 50000-50999 60 40 6 2001:db8:4::200
relay_conf b 3479 9752 203.0.113.201 tw9rb 60000-60000 3 41 0
for r in a b; do
	"$BIN" --check-config "$TW_TMP/$r.yaml" >"$TW_TMP/check-$r.log" 2>&1 ||
		tw_fail "config $r refused: $(cat "$TW_TMP/check-$r.log")"
done
tw_start relay-a "$TW_TMP/relay-a.log" ip netns exec "$RLY" "$BIN" -c "$TW_TMP/a.yaml"
PID_A=$TW_LAST_PID
tw_start relay-b "$TW_TMP/relay-b.log" ip netns exec "$RLY" "$BIN" -c "$TW_TMP/b.yaml"
PID_B=$TW_LAST_PID
# One process answers every datagram: socat's fork-per-datagram echo fell
# behind on a loaded machine (a child per datagram), which is not the relay's loss.
ECHO='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((sys.argv[1], 7))
while True:
    d, a = s.recvfrom(65536)
    s.sendto(d, a)
'
tw_start echo "$TW_TMP/echo.log" ip netns exec "$PEER" python3 -c "$ECHO" 198.51.100.2
tw_start echo6 "$TW_TMP/echo6.log" ip netns exec "$PEER" python3 -c "$ECHO" 2001:db8:3::2
for i in $(seq 1 200); do
	if grep -q ready "$TW_TMP/relay-a.log" && grep -q ready "$TW_TMP/relay-b.log"; then
		break
	fi
	tw_running "$PID_A" || tw_fail "relay A exited at start: $(tail -5 "$TW_TMP/relay-a.log")"
	tw_running "$PID_B" || tw_fail "relay B exited at start: $(tail -5 "$TW_TMP/relay-b.log")"
	sleep 0.1
done
grep -q ready "$TW_TMP/relay-a.log" || tw_fail "relay A not ready after 20 s"
routes=$(ip -n "$RLY" route show)
grep -q '203.0.113.200 dev tw9ra' <<<"$routes" || tw_fail "no route for 203.0.113.200 into tw9ra: $routes"
routes=$(ip -n "$RLY" -6 route show)
grep -q '2001:db8:4::200 dev tw9ra' <<<"$routes" || tw_fail "no route for 2001:db8:4::200 into tw9ra: $routes"

ip netns exec "$CLI" python3 "$HERE/tw9r_relay.py" "$CLI" "$RLY" "$PEER" ${TW9R_CASES:-} ||
	tw_fail "tw9r_relay.py failed"

rst=$(ip netns exec "$RLY" nft list counter inet tw9r_rst rsts | awk '/packets/ {print $2}')
[ "$rst" = 0 ] || tw_fail "$rst TCP RSTs passed the relay namespace"
tw_log "RSTs seen in the relay namespace: $rst"

# The TWIST metric families (only on a relay with twist.enabled) pass promtool.
ip netns exec "$RLY" curl -sf http://127.0.0.1:9751/metrics >"$TW_TMP/a.prom" || tw_fail "no /metrics from relay A"
grep -q '^twist_twist_flows{type="connect",proto="udp"} 0$' "$TW_TMP/a.prom" ||
	tw_fail "twist_twist_flows not back to 0: $(grep twist_twist_flows "$TW_TMP/a.prom")"
out=$(promtool check metrics <"$TW_TMP/a.prom" 2>&1) || tw_fail "promtool: $out"
[ -z "$out" ] || tw_fail "promtool complains: $out"
tw_log "promtool check metrics: clean ($(grep -c '^twist_twist_' "$TW_TMP/a.prom") twist_twist_ samples)"

# SIGHUP with another twist section: kept as it runs, and the log says so.
sed -i 's/idle_timeout: 60/idle_timeout: 61/' "$TW_TMP/a.yaml"
kill -HUP "$PID_A"
for i in $(seq 1 100); do
	grep -q 'twist section changes only on a restart' "$TW_TMP/relay-a.log" && break
	sleep 0.1
done
grep -q 'twist section changes only on a restart' "$TW_TMP/relay-a.log" ||
	tw_fail "no warning for a changed twist section on SIGHUP"

# Forwarding off: the relay refuses to start, and says why.
ip netns exec "$RLY" sysctl -qw net.ipv4.ip_forward=0
sed -e 's/tw9rb/tw9rc/; s/3479/3477/; s/9752/9753/; s/203.0.113.201/203.0.113.202/' "$TW_TMP/b.yaml" >"$TW_TMP/c.yaml"
if ip netns exec "$RLY" timeout 30 "$BIN" -c "$TW_TMP/c.yaml" >"$TW_TMP/relay-c.log" 2>&1; then
	tw_fail "relay started with forwarding off"
fi
grep -q 'forwarding is off' "$TW_TMP/relay-c.log" || tw_fail "no clear message with forwarding off: $(tail -3 "$TW_TMP/relay-c.log")"
ip netns exec "$RLY" sysctl -qw net.ipv4.ip_forward=1

for pid in $PID_A $PID_B; do
	tw_stop "$pid"
	tw_forget "$pid"
	[ "$TW_STOP_STATUS" = 0 ] || tw_fail "relay pid $pid exited with $TW_STOP_STATUS"
done
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TW_TMP"/relay-*.log && tw_fail "sanitizer report"
ip -n "$RLY" link show tw9ra >/dev/null 2>&1 && tw_fail "tw9ra still there after the relay stopped"
tw_pass "TWIST connect/listen UDP and TCP, errors, keepalive and expiry, no RST"
