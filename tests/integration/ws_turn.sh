#!/usr/bin/env bash
# TURN over WebSocket (docs/websocket.md): ws_turn.py against twist-relay
# with a ws listener on port 8081, in a private network namespace when
# lib.sh can make one (no relay on 3478, so no lock).
#
#   ws_turn.sh RELAY_BINARY
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=ws_turn
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
WS_PORT=8081
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
tw_need python3 python3
tw_need timeout coreutils
# The Debian package installs into the system interpreter, which a PATH
# python3 (pyenv, venv) may not be.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import websockets' 2>/dev/null ||
	tw_fail "python3-websockets is not installed for $PY (apt-get install python3-websockets)"
tw_port_free tcp 127.0.0.1 "$WS_PORT"
timeout 240 "$PY" "$(dirname "$0")/ws_turn.py" "$BIN" "$WS_PORT" || tw_fail "ws_turn.py failed"
tw_pass "TURN over WebSocket"
