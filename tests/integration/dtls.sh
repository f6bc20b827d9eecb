#!/usr/bin/env bash
# TURN over DTLS (RFC 7350) on a dtls listener, port 5361, in a private
# network namespace when lib.sh can make one.
#
#   dtls.sh RELAY_BINARY
#
#  1. With a test CA's server certificate: turnutils_uclient -S (no -t:
#     DTLS over UDP) relays to turnutils_peer with every message back;
#     openssl s_client -dtls1_2 verifies the certificate against the CA;
#     s_client -dtls1 gets a protocol_version alert (after the cookie).
#  2. Amplification: a ClientHello without a cookie, from s_client -msg and
#     from a raw socket with the smallest ClientHello, is answered with one
#     HelloVerifyRequest no larger than itself, and no session is kept.
#  3. Random datagrams (some shaped like a ClientHello, some oversized) do
#     not stop the relay: it still serves uclient afterwards.
#  4. SIGHUP with a new certificate serves it to new DTLS sessions.
#  5. Without tls.cert: the throwaway self-signed certificate; uclient again.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=dtls
TWIST_TEST_PORT=${TWIST_TEST_PORT:-5361}
TWIST_TEST_PEER_PORT=${TWIST_TEST_PEER_PORT:-5362}
TWIST_TEST_METRICS_PORT=${TWIST_TEST_METRICS_PORT:-9662}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_KIND=dtls TLS_PROTO=udp TLS_UCLIENT="-S" TLS_PORTS="54000 54999"
# shellcheck source=tls_lib.sh
. "$(dirname "$0")/tls_lib.sh"

# --- 1. the test CA's certificate ---
cp "$T/one.pem" "$T/live.pem"
cp "$T/one.key" "$T/live.key"
config "$T/relay.yaml" "$T/live.pem" "$T/live.key"
start_relay "$T/relay.yaml"
uclient ca
ok=$(metric twist_dtls_handshakes_total 'result="ok"') || tw_fail "no handshake counter"
[ "$ok" -ge 2 ] || tw_fail "twist_dtls_handshakes_total{result=\"ok\"} is $ok after uclient"

s_client verify -dtls1_2 -CAfile "$T/ca.pem" -verify_return_error -verify_ip 127.0.0.1
[ $S_RC -eq 0 ] || tw_fail "s_client -dtls1_2 failed: $(tail -n3 "$T/s_client-verify.out")"
grep -q "Verify return code: 0 (ok)" "$T/s_client-verify.out" || tw_fail "certificate not verified"
grep -q "subject=CN = twist $TW_NAME one" "$T/s_client-verify.out" || tw_fail "not certificate one"
tw_log "DTLS 1.2: verified against the test CA (ok=$ok)"

v0=$(metric twist_dtls_handshakes_total 'result="version"') || tw_fail "no version counter"
s_client dtls10 -dtls1 -msg
[ $S_RC -ne 0 ] || tw_fail "a DTLS 1.0 handshake succeeded"
grep -q "Alert.*protocol_version\|alert protocol version" "$T/s_client-dtls10.out" ||
	tw_fail "DTLS 1.0 refused without a protocol_version alert: $(grep -m2 -i 'error\|alert' "$T/s_client-dtls10.out")"
v1=$(metric twist_dtls_handshakes_total 'result="version"')
[ "$v1" -eq $((v0 + 1)) ] || tw_fail "the DTLS 1.0 refusal was not counted (version $v0 -> $v1)"
tw_log "DTLS 1.0: protocol_version alert, counted (version $v0 -> $v1)"

# --- 2. amplification: the answer to a cookie-less ClientHello ---
# The first record each way in s_client -msg: its header shows the length.
s_client msg -dtls1_2 -msg
[ $S_RC -eq 0 ] || tw_fail "s_client -dtls1_2 -msg failed: $(tail -n3 "$T/s_client-msg.out")"
read -r hello hvr < <(python3 - "$T/s_client-msg.out" <<'PY'
import sys
want, sizes, lines = None, {}, open(sys.argv[1], errors="replace").read().splitlines()
for line in lines:
    if line.startswith((">>>", "<<<")):
        want = line[:3]
        continue
    f = line.split()
    if want and len(f) == 13 and f[0] == "16" and f[1] == "fe":
        sizes.setdefault(want, 13 + int(f[11] + f[12], 16))
    want = None
print(sizes.get(">>>", 0), sizes.get("<<<", 0))
PY
)
[ "$hello" -gt 0 ] && [ "$hvr" -gt 0 ] || tw_fail "no record headers in s_client -msg output"
[ "$hvr" -le "$hello" ] || tw_fail "the cookie answer ($hvr bytes) is larger than the ClientHello ($hello)"
tw_log "s_client: ClientHello $hello bytes, HelloVerifyRequest $hvr bytes"

s0=$(metric twist_dtls_sessions) || tw_fail "no sessions gauge"
c0=$(metric twist_dtls_cookies_total) || tw_fail "no cookie counter"
out=$(timeout -k 5 60 python3 - "$TW_PORT" <<'PY'
import os, socket, struct, sys

def client_hello():
    # RFC 6347 §4.2.2: the smallest ClientHello, one suite, no extensions.
    body = b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00"
    body += b"\x00\x04\xc0\x2b\xc0\x2f" + b"\x01\x00"
    hs = bytes([1]) + len(body).to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00"
    hs += len(body).to_bytes(3, "big") + body
    return b"\x16\xfe\xfd" + b"\x00" * 8 + struct.pack(">H", len(hs)) + hs

for i in range(3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    ch = client_hello()
    s.sendto(ch, ("127.0.0.1", int(sys.argv[1])))
    try:
        got = [s.recv(65536)]
    except socket.timeout:
        print("no answer to a ClientHello without a cookie"); sys.exit(1)
    s.settimeout(0.5)
    try:
        while True:
            got.append(s.recv(65536))
    except socket.timeout:
        pass
    if len(got) != 1:
        print("%d datagrams in answer to one ClientHello" % len(got)); sys.exit(1)
    r = got[0]
    if len(r) < 26 or r[0] != 22 or r[13] != 3:
        print("the answer is no HelloVerifyRequest: %s" % r[:16].hex()); sys.exit(1)
    if len(r) > len(ch):
        print("HelloVerifyRequest %d bytes for a %d-byte ClientHello" % (len(r), len(ch)))
        sys.exit(1)
    s.close()
print("ok %d %d" % (len(ch), len(r)))
PY
)
[ "${out%% *}" = ok ] || tw_fail "raw ClientHello: $out"
s1=$(metric twist_dtls_sessions)
c1=$(metric twist_dtls_cookies_total)
[ "$s1" -eq "$s0" ] || tw_fail "cookie-less ClientHellos made sessions ($s0 -> $s1)"
[ "$c1" -ge $((c0 + 3)) ] || tw_fail "cookies sent $c0 -> $c1, expected +3"
read -r _ chl hvl <<<"$out"
tw_log "raw ClientHello $chl bytes -> one HelloVerifyRequest $hvl bytes, no session (gauge $s0 -> $s1)"

# --- 3. garbage datagrams ---
g0=$(metric twist_dtls_garbage_total) || tw_fail "no garbage counter"
out=$(timeout -k 5 60 python3 - "$TW_PORT" <<'PY'
import os, random, socket, sys
rnd = random.Random(7350)
dst = ("127.0.0.1", int(sys.argv[1]))
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
n = 0
for i in range(3000):
    size = rnd.choice([1, 12, 13, 25, 60, 200, 1200, 1500, 5000])
    b = bytearray(os.urandom(size))
    if i % 3 == 0 and size >= 26:   # past the cheap check: into OpenSSL
        b[0:3] = b"\x16\xfe\xfd"
        b[13] = 1
    try:
        socks[i % 8].sendto(bytes(b), dst)
        n += 1
    except OSError:
        pass
print(n)
PY
)
[ "${out:-0}" -gt 2000 ] || tw_fail "garbage: only '$out' datagrams sent"
tw_alive "$TW_RELAY_PID" || tw_fail "the relay died on garbage datagrams"
uclient after-garbage
g1=$(metric twist_dtls_garbage_total)
[ "$g1" -gt "$g0" ] || tw_fail "garbage datagrams not counted ($g0 -> $g1)"
tw_log "$out garbage datagrams: relay still serves, garbage $g0 -> $g1"

# --- 4. SIGHUP: a new certificate for new sessions ---
cp "$T/two.pem" "$T/live.pem"
cp "$T/two.key" "$T/live.key"
kill -HUP "$TW_RELAY_PID"
for ((i = 0; i < 50; i++)); do
	s_client hup -dtls1_2 -CAfile "$T/ca.pem"
	grep -q "subject=CN = twist $TW_NAME two" "$T/s_client-hup.out" && break
	sleep 0.2
done
grep -q "subject=CN = twist $TW_NAME two" "$T/s_client-hup.out" ||
	tw_fail "after SIGHUP new DTLS sessions do not see certificate two"
tw_log "SIGHUP: certificate two served over DTLS"
tw_stop_relay

# --- 5. no tls.cert: the throwaway self-signed certificate ---
: >"$T/relay.log"
config "$T/self.yaml"
start_relay "$T/self.yaml"
grep -q "THROWAWAY SELF-SIGNED" "$T/relay.log" || tw_fail "the self-signed certificate was not announced"
uclient self-signed
s_client self -dtls1_2
grep -q "subject=CN" "$T/s_client-self.out" || tw_fail "self-signed: no certificate served over DTLS"
tw_stop_relay
tw_pass "DTLS relaying with a CA and a self-signed certificate, DTLS 1.0 alerted, no amplification, garbage survived, reload"
