#!/usr/bin/env bash
# The user database while the relay runs: twistctl against a live
# twist-relay, with coturn's turnutils_uclient and the independent Python
# encoder (turn_conformance.py) as clients.
#
#   userdb.sh RELAY_BINARY TWISTCTL_BINARY
#
#  1. twistctl with no relay running: it says so and still succeeds.
#  2. `twistctl user add` returns only after the relay loaded the user:
#     turnutils_uclient allocates with it at once (no sleep in between).
#  3. `twistctl user del`: that user's Refresh on its existing allocation
#     gets 401, and its next Allocate too (userdb_turn.py).
#  4. REST secret rotation: a client signed with a secret works; after
#     `secret add` of a new one and `secret del` of the old, the old one is
#     refused and the new one works.
#  5. The control socket answers a bad line with an error line.
# The relay runs on port 3590 (not 3478), in a private network namespace
# when lib.sh can make one.
set -uo pipefail
TW_NAME=userdb
TWIST_TEST_PORT=${TWIST_TEST_PORT:-3590}
TWIST_TEST_PEER_PORT=${TWIST_TEST_PEER_PORT:-3592}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
CTL=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PORT_MIN=51000
PORT_MAX=51999
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
[ -x "$CTL" ] || tw_fail "twistctl binary '$CTL' not found (build first)"
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need python3 python3
tw_need timeout coreutils
tw_trap
tw_tmpdir

DB=$TW_TMP/users.db
SOCK=$TW_TMP/relay.sock
ctl() { "$CTL" --db "$DB" --socket "$SOCK" "$@"; }

# uclient_run NAME AUTH...: 2 clients x 20 messages; 0 when all came back.
uclient_run() {
	local name=$1 logf
	shift
	logf=$TW_TMP/uclient-$name.log
	timeout -k 5 60 turnutils_uclient -m 2 -n 20 "$@" -e 127.0.0.1 -r "$TW_PEER_PORT" \
		-p "$TW_PORT" 127.0.0.1 </dev/null >"$logf" 2>&1 || return 1
	! grep -q ERROR "$logf" && grep -q 'tot_send_msgs=40, tot_recv_msgs=40$' "$logf" &&
		grep -q 'Total lost packets 0 ' "$logf"
}

# 1. No relay yet: the database is made and written anyway.
out=$(printf 'old-rest-secret-0123\n' | ctl secret add --secret-stdin 2>&1) ||
	tw_fail "secret add without a relay failed: $out"
tw_log "without a relay: $out"
grep -q 'no relay answers' <<<"$out" || tw_fail "twistctl did not say that no relay runs: $out"
[ -f "$DB" ] || tw_fail "twistctl did not create $DB"

cat >"$TW_TMP/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp, tcp] }
relay: { addresses: [127.0.0.1], port_min: $PORT_MIN, port_max: $PORT_MAX }
auth: { realm: $TW_REALM, database: "$DB" }
peers: { allow_loopback: true, allow_self: true }
metrics: { enabled: false }
control: { socket: "$SOCK" }
compat: { rfc5766_channels: true }
YAML
tw_port_free udp 127.0.0.1 "$TW_PORT"
tw_start twist-relay "$TW_TMP/relay.log" "$BIN" --config "$TW_TMP/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
tw_wait_port udp 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 30
tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1
tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$TW_LAST_PID" 10

# 2. add, then allocate at once
uclient_run before -u carol -w carol-pw && tw_fail "carol allocated before she was added"
out=$(printf 'carol-pw\n' | ctl user add carol --password-stdin --quota 8 2>&1) ||
	tw_fail "user add failed: $out"
tw_log "$out"
grep -q '^relay reloaded: users=1 ' <<<"$out" || tw_fail "user add did not wait for the relay's reload: $out"
uclient_run added -u carol -w carol-pw || tw_fail "carol cannot allocate right after user add"
tw_log "carol allocated right after 'twistctl user add'"
ctl user list | grep -q '^carol ' || tw_fail "user list does not show carol"

# 3. del: refresh and allocate refused
state=$TW_TMP/turn.state
python3 "$HERE/userdb_turn.py" "$TW_PORT" "$PORT_MIN" "$PORT_MAX" carol carol-pw "$state" \
	>"$TW_TMP/turn.log" 2>&1 &
py=$!
for ((i = 0; i < 300; i++)); do
	grep -q allocated "$state" 2>/dev/null && break
	tw_alive $py || break
	sleep 0.1
done
grep -q allocated "$state" 2>/dev/null || { cat "$TW_TMP/turn.log"; tw_fail "the Python client did not allocate"; }
out=$(ctl user del carol 2>&1) || tw_fail "user del failed: $out"
tw_log "$out"
echo deleted >"$state"
wait $py
rc=$?
sed 's/^/    /' "$TW_TMP/turn.log"
[ $rc -eq 0 ] || tw_fail "after user del, carol's Refresh or Allocate was not refused with 401"
ctl user del carol >/dev/null 2>&1 && tw_fail "deleting a missing user succeeded"

# 4. REST secret rotation
rest_user="$(($(date +%s) + 3600)):dave"
uclient_run rest-old -u "$rest_user" -W old-rest-secret-0123 ||
	tw_fail "a REST credential with the database's secret is refused"
out=$(printf 'new-rest-secret-4567\n' | ctl secret add --secret-stdin 2>&1) || tw_fail "secret add: $out"
grep -q '^relay reloaded: users=0 secrets=2' <<<"$out" || tw_fail "secret add: $out"
uclient_run rest-both-old -u "$rest_user" -W old-rest-secret-0123 ||
	tw_fail "the old secret is refused while both are active"
uclient_run rest-both-new -u "$rest_user" -W new-rest-secret-4567 ||
	tw_fail "the new secret is refused while both are active"
old_id=$(ctl secret list | awk '$2 == "old-..." { print $1 }')
[ -n "$old_id" ] || tw_fail "secret list does not show the old secret: $(ctl secret list)"
out=$(ctl secret del "$old_id" 2>&1) || tw_fail "secret del: $out"
uclient_run rest-retired -u "$rest_user" -W old-rest-secret-0123 &&
	tw_fail "the deleted secret is still accepted"
uclient_run rest-new -u "$rest_user" -W new-rest-secret-4567 ||
	tw_fail "the new secret is refused after the old one went"
tw_log "REST secret rotation: both accepted during the overlap, the deleted one refused"

# 5. the control socket's errors
ans=$(python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"frobnicate\nping\n")
f = s.makefile("rb")
print(f.readline().decode().strip() + " | " + f.readline().decode().strip())
PY
)
tw_log "control socket: $ans"
[ "$ans" = "error unknown command (try 'help') | ok pong" ] || tw_fail "control socket answered '$ans'"
ctl status | grep -q '^ok users=0 secrets=1' || tw_fail "status: $(ctl status)"
"$CTL" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || tw_fail "twistctl --bogus does not exit 2"

tw_stop "$TW_RELAY_PID" || tw_fail "the relay did not stop on SIGTERM"
tw_forget "$TW_RELAY_PID"
[ "$TW_STOP_STATUS" = 0 ] || tw_fail "twist-relay exited with status $TW_STOP_STATUS"
[ ! -e "$SOCK" ] || tw_fail "the relay left its control socket behind"
tw_pass "user add/del, secret rotation and the control socket on a running relay"
