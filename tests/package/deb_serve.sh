#!/usr/bin/env bash
# Run by deb_install.sh inside a private mount and network namespace:
#
#   deb_serve.sh ROOT
#
# ROOT holds Debian 12 with the twist package installed. twist-relay starts
# from the installed /etc/twist/twist-relay.yaml, unchanged, as the twist
# user with the capabilities of twist-relay.service. The config's example
# addresses (192.0.2.10, 2001:db8::10) are put on lo here, and the peer on
# 198.51.100.20, which the config's peers.allow lets clients reach. The
# host's turnutils_uclient then relays UDP on 3478 and TCP on 443 (a port
# the twist user may only bind with CAP_NET_BIND_SERVICE) with no loss.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=deb_serve
# shellcheck source=../integration/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/../integration/lib.sh"

ROOT=${1:?usage: deb_serve.sh ROOT}
CONF=/etc/twist/twist-relay.yaml
RELAY_IP=192.0.2.10
PEER_IP=198.51.100.20
PEER_PORT=3480
CLIENTS=10
MESSAGES=200
# The unit's AmbientCapabilities (deploy/systemd/twist-relay.service).
CAPS=+net_bind_service,+net_admin

[ "${TW_IN_NETNS:-}" = 1 ] || tw_fail "run me through deb_install.sh (private network namespace)"
tw_trap
tw_tmpdir
ip addr add "$RELAY_IP/32" dev lo &&
	ip -6 addr add 2001:db8::10/128 dev lo nodad &&
	ip addr add "$PEER_IP/32" dev lo || tw_fail "cannot add the example addresses to lo"
# Private to this mount namespace: gone with it.
mount -t proc proc "$ROOT/proc" && mount --rbind /dev "$ROOT/dev" && mount --rbind /sys "$ROOT/sys" ||
	tw_fail "cannot mount /proc, /dev, /sys in $ROOT"

as_twist=(chroot "$ROOT" setpriv --reuid twist --regid twist --init-groups
	--inh-caps "$CAPS" --ambient-caps "$CAPS" --bounding-set "-all,$CAPS")
"${as_twist[@]}" /usr/sbin/twist-relay --check-config "$CONF" ||
	tw_fail "the installed $CONF does not load as the twist user"

tw_start twist-relay "$TW_TMP/relay.log" "${as_twist[@]}" /usr/sbin/twist-relay --config "$CONF"
relay=$TW_LAST_PID
tw_wait_http http://127.0.0.1:9641/health "$relay" 30

# Really the twist user: real, effective, saved and filesystem ids.
uid=$(chroot "$ROOT" id -u twist)
read -r _ ids < <(grep '^Uid:' "/proc/$relay/status")
[ "$(tr -s '\t ' ' ' <<<"$ids")" = "$uid $uid $uid $uid" ] ||
	tw_fail "twist-relay runs with uids '$ids', not twist's $uid"
[ "$(readlink "/proc/$relay/exe")" = "$ROOT/usr/sbin/twist-relay" ] ||
	tw_fail "pid $relay is $(readlink "/proc/$relay/exe"), not the installed twist-relay"
tw_log "twist-relay (pid $relay) runs as twist (uid $uid) from the installed $CONF"
tw_wait_port tcp "$RELAY_IP" 443 "$relay" 10

tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$PEER_PORT" -L "$PEER_IP"
tw_wait_port udp "$PEER_IP" "$PEER_PORT" "$TW_LAST_PID" 10

# The config's probe user; turnutils_uclient -s sends Send indications
# (without channels: the example config keeps compat.rfc5766_channels off).
uclient() {
	local name=$1 port=$2 rc why
	shift 2
	timeout -k 5 120 turnutils_uclient "$@" -s -m "$CLIENTS" -n "$MESSAGES" \
		-u probe -w change-me-probe-password -e "$PEER_IP" -r "$PEER_PORT" -p "$port" "$RELAY_IP" \
		</dev/null >"$TW_TMP/uclient-$name.log" 2>&1
	rc=$?
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $TW_TMP/uclient-$name.log"
	why=$(tw_uclient_check "$TW_TMP/uclient-$name.log" "$rc" $((CLIENTS * MESSAGES))) ||
		tw_fail "uclient $name to $RELAY_IP:$port: $why"
	tw_log "uclient $name to $RELAY_IP:$port: $why"
}
uclient udp 3478
uclient tcp 443 -t

tw_stop "$relay"
tw_forget "$relay"
[ "$TW_STOP_STATUS" -eq 0 ] || tw_fail "twist-relay exited $TW_STOP_STATUS on SIGTERM"
tw_pass "installed relay served uclient over UDP and TCP as the twist user"
