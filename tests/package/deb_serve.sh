#!/usr/bin/env bash
# Run by deb_install.sh inside a private mount and network namespace:
#
#   deb_serve.sh ROOT
#
# ROOT holds Debian 12 with the twist package installed. twist-relay starts
# from the installed /etc/twist/twist-relay.yaml, unchanged, as the twist
# user with the capabilities of twist-relay.service, after the package's
# tmpfiles.d directories are made; root adds a user with twistctl. The config's example
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

# What systemd-tmpfiles does at boot with the package's tmpfiles.d file
# (there is no systemd in the root): its 'd' lines, as written there.
tmpfiles=$ROOT/usr/lib/tmpfiles.d/twist.conf
[ -f "$tmpfiles" ] || tw_fail "the package installs no /usr/lib/tmpfiles.d/twist.conf"
while read -r type path mode user group _; do
	[ "$type" = d ] || continue
	chroot "$ROOT" install -d -m "$mode" -o "$user" -g "$group" "$path" ||
		tw_fail "tmpfiles line 'd $path $mode $user $group' failed"
done < <(grep -v '^[[:space:]]*#' "$tmpfiles")

# Every file of the user database belongs to twist, as the root's passwd
# names it (the host's uid 100 is another user).
db_owned_by_twist() {
	local f owner
	for f in "$ROOT"/var/lib/twist/users.db*; do
		[ -e "$f" ] || tw_fail "no user database in /var/lib/twist"
		owner=$(chroot "$ROOT" stat -c %U "${f#"$ROOT"}")
		[ "$owner" = twist ] || tw_fail "${f#"$ROOT"} belongs to $owner, not twist"
	done
}

# Before any relay runs, root creates the database with a first user:
# twistctl becomes the directory's owner first, so the relay can open it.
PASSWORD=$(head -c 18 /dev/urandom | base64)
chroot "$ROOT" twistctl user add probe --password-stdin <<<"$PASSWORD" >"$TW_TMP/twistctl.log" 2>&1 ||
	{ cat "$TW_TMP/twistctl.log"; tw_fail "twistctl user add (no relay running) failed"; }
db_owned_by_twist
tw_log "twistctl (as root, no relay running) created the database with user probe"

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

# The installed config takes its users from the database, empty at first.
# Root adds a user with twistctl while the relay runs, and the relay has it
# when twistctl returns. The files SQLite made stay the twist user's.
PASSWORD2=$(head -c 18 /dev/urandom | base64)
chroot "$ROOT" twistctl user add probe2 --password-stdin <<<"$PASSWORD2" >"$TW_TMP/twistctl2.log" 2>&1 ||
	{ cat "$TW_TMP/twistctl2.log"; tw_fail "twistctl user add failed in the installed root"; }
grep -q "relay reloaded" "$TW_TMP/twistctl2.log" ||
	{ cat "$TW_TMP/twistctl2.log"; tw_fail "twistctl did not get the running relay to reload"; }
db_owned_by_twist
tw_log "twistctl (as root) added user probe2 to the running relay, which reloaded"

tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$PEER_PORT" -L "$PEER_IP"
tw_wait_port udp "$PEER_IP" "$PEER_PORT" "$TW_LAST_PID" 10

# The users twistctl added; turnutils_uclient -s sends Send indications
# (without channels: the example config keeps compat.rfc5766_channels off).
uclient() {
	local name=$1 port=$2 rc why
	shift 2
	timeout -k 5 120 turnutils_uclient "$@" -s -m "$CLIENTS" -n "$MESSAGES" \
		-e "$PEER_IP" -r "$PEER_PORT" -p "$port" "$RELAY_IP" \
		</dev/null >"$TW_TMP/uclient-$name.log" 2>&1
	rc=$?
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $TW_TMP/uclient-$name.log"
	why=$(tw_uclient_check "$TW_TMP/uclient-$name.log" "$rc" $((CLIENTS * MESSAGES))) ||
		tw_fail "uclient $name to $RELAY_IP:$port: $why"
	tw_log "uclient $name to $RELAY_IP:$port: $why"
}
uclient udp 3478 -u probe -w "$PASSWORD"
uclient tcp 443 -t -u probe2 -w "$PASSWORD2"

tw_stop "$relay"
tw_forget "$relay"
[ "$TW_STOP_STATUS" -eq 0 ] || tw_fail "twist-relay exited $TW_STOP_STATUS on SIGTERM"
tw_pass "installed relay served uclient over UDP and TCP as the twist user"
