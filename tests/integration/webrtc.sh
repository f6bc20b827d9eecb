#!/usr/bin/env bash
# Headless Chromium (WebRTC data channel, relay-only ICE) through the relay
# under test.
#
#   webrtc.sh RELAY_BINARY udp|tcp|tls
#
# RELAY_BINARY is twist-relay (ignored when TWIST_TEST_SERVER=coturn). The
# browser side is webrtc/webrtc.mjs (playwright-core driving /usr/bin/chromium;
# no browser is downloaded). Pass = 200 data-channel messages arrive in order
# and both peers' selected candidate pairs are relay/relay over the requested
# transport; and twist-relay exits 0 on SIGTERM afterwards.
#
# tls: turns:127.0.0.1:5349?transport=tcp, twist only. The test makes a CA
# and a server certificate for IP:127.0.0.1 with openssl, and Chromium trusts
# that CA the way a user would: an NSS database in a scratch $HOME
# ($HOME/.pki/nssdb, certutil from libnss3-tools) with the CA trusted for
# TLS servers ("C,,"). Certificate checks stay on, so three runs:
#   1. CA-signed certificate, CA not in the database: Chromium refuses it
#      (no relay candidate, the relay counts no completed handshake);
#   2. the same certificate with the CA installed: every message arrives;
#   3. the relay's throwaway self-signed certificate (no tls.cert), CA not
#      installed: refused again.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME="webrtc-${2:-?}"
# Both peers are relayed: each reaches the other's relayed port on the
# relay's own IP, which needs no allow_self (the production setting).
TW_ALLOW_SELF=false
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
TRANSPORT=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
COUNT=${TWIST_WEBRTC_COUNT:-200}
# In-page budget, seconds: bounds the waits, generous for a loaded machine.
WEBRTC_TIMEOUT=${TWIST_WEBRTC_TIMEOUT:-120}
TURN_HOST=${TWIST_WEBRTC_HOST:-127.0.0.1}    # ::1 works too
TURN_PASS=${TWIST_WEBRTC_PASSWORD:-$TW_PASS} # set it wrong to see a failure

case $TRANSPORT in
udp | tcp) ;;
tls)
	[ "$TW_SERVER" = twist ] || tw_fail "tls mode runs against twist only"
	TW_PORT=${TWIST_TEST_PORT:-5349}
	;;
*) tw_fail "usage: webrtc.sh RELAY_BINARY udp|tcp|tls" ;;
esac

tw_need node "nodejs (any node >= 18)"
tw_need timeout coreutils
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
	tw_fail "${CHROMIUM:-/usr/bin/chromium} not found: apt-get install chromium (scripts/setup.sh does)"
[ -f "$HERE/webrtc/node_modules/playwright-core/package.json" ] ||
	tw_fail "playwright-core missing: run 'npm ci' in $HERE/webrtc (scripts/setup.sh does)"

tw_trap
tw_tmpdir

# run_webrtc COUNT [ENV...]: Chromium through the relay; sets RC (0 = every
# message arrived) and leaves the output in $TW_TMP/webrtc.out too.
run_webrtc() {
	local n=$1
	shift
	local cmd=(node "$HERE/webrtc/webrtc.mjs" --host "$TURN_HOST" --port "$TW_PORT"
		--transport "$TRANSPORT" --user "$TW_USER" --password "$TURN_PASS" --count "$n"
		--timeout "$WEBRTC_TIMEOUT")
	tw_log "running: $* ${cmd[*]}"
	# webrtc.mjs has its own watchdog (timeout + 30 s); this one is the backstop.
	env "$@" timeout -k 10 $((WEBRTC_TIMEOUT + 60)) "${cmd[@]}" </dev/null 2>&1 |
		tee "$TW_TMP/webrtc.out"
	RC=${PIPESTATUS[0]}
	[ "$RC" -ne 124 ] || tw_fail "webrtc.mjs did not finish within $((WEBRTC_TIMEOUT + 60))s"
}

if [ "$TRANSPORT" != tls ]; then
	tw_start_relay "$BIN" plain
	run_webrtc "$COUNT"
	[ "$RC" -eq 0 ] || tw_fail "Chromium WebRTC over TURN/$TRANSPORT failed (webrtc.mjs status $RC)"
	tw_stop_relay
	tw_pass "$COUNT data-channel messages through the relay over $TRANSPORT"
	exit 0
fi

# shellcheck source=webrtc_tls.sh
. "$HERE/webrtc_tls.sh"
