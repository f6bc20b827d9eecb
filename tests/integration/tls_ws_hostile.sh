#!/usr/bin/env bash
# Hostile clients on the TLS and WebSocket listeners: tls_ws_hostile.py
# against twist-relay (ports chosen by the script), in a private network
# namespace when lib.sh can make one (no relay on 3478, so no lock).
#
#   tls_ws_hostile.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=tls_ws_hostile
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need python3 python3
tw_need timeout coreutils
timeout -k 10 400 python3 "$(dirname "$0")/tls_ws_hostile.py" "$BIN" ||
	tw_fail "tls_ws_hostile.py failed"
tw_pass "TLS and WebSocket floods refused or closed at their caps, counted, RSS back"
