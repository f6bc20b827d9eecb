#!/usr/bin/env bash
# coturn's turnutils_uclient against a relay whose only users are 100,000
# rows of a SQLite user database (auth.database, no auth.users).
#
#   userdb_100k.sh RELAY_BINARY TWISTCTL_BINARY [USERS]
#
#  1. twistctl makes the database; userdb_fill.py (shared with
#     tests/bench/userdb.sh) adds USERS users (default 100000) in bulk.
#  2. The relay starts from it; `twistctl status` must show every user.
#  3. A user from the middle of the table (neither the first nor the last
#     row) relays with turnutils_uclient over UDP and over TCP, with every
#     message back and none lost.
#  4. A user that is not in the database is refused: uclient cannot
#     allocate and the relay counts unknown_user. A listed user with a
#     wrong password is refused too, counted as bad_integrity.
# The relay runs on port 3594 (not 3478), in a private network namespace
# when lib.sh can make one.
set -uo pipefail
TW_NAME=userdb_100k
TWIST_TEST_PORT=${TWIST_TEST_PORT:-3594}
TWIST_TEST_PEER_PORT=${TWIST_TEST_PEER_PORT:-3595}
TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9694}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
CTL=${2:-}
USERS=${3:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
PORT_MIN=52000
PORT_MAX=52999
[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
[ -x "$CTL" ] || tw_fail "twistctl binary '$CTL' not found (build first)"
[ "$USERS" -ge 3 ] 2>/dev/null || tw_fail "USERS must be a number >= 3, not '$USERS'"
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need python3 python3
tw_need curl curl
tw_need timeout coreutils
tw_trap
tw_tmpdir

DB=$TW_TMP/users.db
SOCK=$TW_TMP/relay.sock
METRICS=http://127.0.0.1:$TW_METRICS_PORT/metrics
ctl() { "$CTL" --db "$DB" --socket "$SOCK" "$@"; }

# The row picked: about the middle, so neither end of the table.
ROW=$((USERS / 2 + 321 % (USERS / 2)))
NAME=$(printf 'user%07d' "$ROW")
PASS=$(printf 'pw%07d' "$ROW")

# 1. the database
ctl secret list >/dev/null 2>&1 || tw_fail "twistctl cannot create $DB"
out=$(python3 "$HERE/userdb_fill.py" "$DB" "$USERS" "$TW_REALM" 2>&1) ||
	tw_fail "userdb_fill.py: $out"
tw_log "database: $out, $(du -k "$DB" | cut -f1) KiB; test user $NAME (row $ROW)"
case $out in *" first=$NAME "* | *" last=$NAME") tw_fail "$NAME is the first or last row" ;; esac

# 2. the relay, from the database alone
cat >"$TW_TMP/relay.yaml" <<YAML
listen:
  - { address: 127.0.0.1, port: $TW_PORT, transports: [udp, tcp] }
relay: { addresses: [127.0.0.1], port_min: $PORT_MIN, port_max: $PORT_MAX }
auth: { realm: $TW_REALM, database: "$DB" }
peers: { allow_loopback: true, allow_self: true }
metrics: { enabled: true, listen: "127.0.0.1:$TW_METRICS_PORT" }
control: { socket: "$SOCK" }
compat: { rfc5766_channels: true }
YAML
for p in udp tcp; do tw_port_free $p 127.0.0.1 "$TW_PORT"; done
tw_port_free udp 127.0.0.1 "$TW_PEER_PORT"
tw_start twist-relay "$TW_TMP/relay.log" "$BIN" --config "$TW_TMP/relay.yaml"
TW_RELAY_PID=$TW_LAST_PID
# The first load of 100,000 rows under ASan on a busy machine: a minute.
tw_wait_port udp 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 60
tw_wait_port tcp 127.0.0.1 "$TW_PORT" "$TW_RELAY_PID" 10
tw_wait_http "$METRICS" "$TW_RELAY_PID" 30
tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1
tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$TW_LAST_PID" 10
st=$(ctl status 2>&1) || tw_fail "twistctl status: $st"
tw_log "relay: $st"
grep -q "^ok users=$USERS " <<<"$st" || tw_fail "the relay does not hold all $USERS users: $st"

# uclient_run NAME PASSWORD TAG [FLAGS...]: 2 clients x 20 messages (each
# client also holds uclient's RTCP allocation). Sets RUN_RC and RUN_LOG.
uclient_run() {
	local user=$1 pw=$2 tag=$3
	shift 3
	RUN_LOG=$TW_TMP/uclient-$tag.log
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $RUN_LOG"
	timeout -k 5 90 turnutils_uclient "$@" -m 2 -n 20 -u "$user" -w "$pw" \
		-e 127.0.0.1 -r "$TW_PEER_PORT" -p "$TW_PORT" 127.0.0.1 </dev/null >"$RUN_LOG" 2>&1
	RUN_RC=$?
	[ $RUN_RC -ne 124 ] || tw_fail "turnutils_uclient ($tag) did not finish within 90 s"
}

# auth_failures REASON: the relay's twist_auth_failures_total for it.
auth_failures() {
	curl -fsS --max-time 5 "$METRICS" |
		awk -v r="twist_auth_failures_total{reason=\"$1\"}" '$1 == r { print $2; f = 1 } END { exit !f }'
}

# 3. a user from the middle of the table, over UDP and TCP
for t in udp tcp; do
	flags=()
	[ $t = tcp ] && flags=(-t)
	uclient_run "$NAME" "$PASS" "$t" ${flags[@]+"${flags[@]}"}
	why=$(tw_uclient_check "$RUN_LOG" "$RUN_RC" 40) || tw_fail "$NAME over $t: $why"
	tw_log "$NAME over $t: $why"
done

# 4. refusals: not in the database, and a wrong password.
# refused USER PASSWORD TAG REASON: uclient cannot allocate, and the relay's
# twist_auth_failures_total{reason=REASON} grew.
refused() {
	local before after why
	before=$(auth_failures "$4") || tw_fail "no $4 counter at $METRICS"
	uclient_run "$1" "$2" "$3"
	why=$(tw_uclient_check "$RUN_LOG" "$RUN_RC" 40) && tw_fail "$3: $1 relayed: $why"
	grep -q 'Cannot complete Allocation' "$RUN_LOG" ||
		tw_fail "$3: uclient failed, but not with 'Cannot complete Allocation': $why"
	after=$(auth_failures "$4") || tw_fail "no $4 counter at $METRICS"
	[ "$after" -gt "$before" ] || tw_fail "$3: the relay did not count it ($4 $before -> $after)"
	tw_log "$3: $1 refused ($why); $4 $before -> $after"
}
refused nosuchuser "$PASS" unknown unknown_user
refused "$NAME" "not-$PASS" wrong-password bad_integrity

tw_stop "$TW_RELAY_PID" || tw_fail "the relay did not stop on SIGTERM"
tw_forget "$TW_RELAY_PID"
[ "$TW_STOP_STATUS" = 0 ] || tw_fail "twist-relay exited with status $TW_STOP_STATUS"
tw_pass "$NAME of $USERS database users relayed over UDP and TCP; unknown user and wrong password refused"
