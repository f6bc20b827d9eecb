#!/usr/bin/env bash
# Install everything twist needs to build and test, on Debian 12, as root.
# Idempotent: each step checks first and is skipped when already done, so a
# second run takes a second or two. Used by ./twist.sh run|test and CI.
#
# What it installs:
#   build:   build-essential cmake pkg-config clang (+ libclang-rt-14-dev for
#            libFuzzer) and the -dev packages of libevent nanomsg protobuf-c
#            libyaml cmocka openssl zlib, protobuf-c-compiler
#   TRT lab: tayga, vsftpd, lftp, wget, netcat-openbsd, python3-pyftpdlib
#            (the FTP server that refuses EPSV; deploy/lab/trt.sh,
#            tests/integration/trt_must.sh, tests/bench/trt_iperf.sh)
#   tests:   coturn (turnutils_uclient/turnutils_peer and the reference
#            turnserver), chromium, python3-aioice, tshark, iproute2 (ss, ip),
#            util-linux (unshare), curl, gnuplot-nox; keepalived for the HA
#            pair; bird2 for the anycast lab (deploy/lab/anycast.sh);
#            stress-ng (tests/stress.sh: the suite under CPU load);
#            prometheus (promtool, tests/integration/metrics.sh), openssl
#            (s_client, tests/integration/misdirect.sh); dpkg-dev, lintian,
#            debootstrap (tests/package: the .deb), mandoc, groff-base,
#            man-db (the man page checks);
#            nodejs/npm only when node/npm are absent; playwright-core
#            (npm ci) in tests/integration/webrtc, never a browser download;
#            turn-server and ws (npm ci) in tests/integration/turnws
# The coturn, keepalived and prometheus services are kept from starting
# (policy-rc.d during the install) and are disabled, so nothing holds port
# 3478 (or 9090).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '[setup] %s\n' "$*"; }
die() {
	printf '[setup] ERROR: %s\n' "$*" >&2
	exit 1
}

PKGS=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libevent-dev libnanomsg-dev libprotobuf-c-dev protobuf-c-compiler
	libyaml-dev libcmocka-dev libssl-dev zlib1g-dev libsqlite3-dev
	coturn keepalived chromium python3-aioice libnice-dev tshark
	iproute2 util-linux coreutils curl gnuplot-nox stress-ng
	prometheus openssl
	dpkg-dev lintian debootstrap mandoc groff-base man-db
	nftables stun-client golang-go golang-github-pion-stun-dev libmnl-dev socat
	libnftables-dev libnftnl-dev netcat-openbsd vsftpd
	python3-websockets libnss3-tools
	unbound socat iperf3 dnsutils conntrack tcpdump
	bird2
	tayga vsftpd lftp wget netcat-openbsd python3-pyftpdlib
	libbpf-dev bpftool ethtool
)
# Installed for a tool only (turnutils_*, keepalived, unbound, bird, vsftpd
# and tayga in the labs, promtool): their services never run (tayga's would
# make a nat64 device and NAT44 rules on the host).
SERVICES=(coturn keepalived prometheus unbound bird vsftpd tayga)

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

# Node: a node/npm already on PATH wins (e.g. a nodesource node 20 with its
# npm: Debian's npm package conflicts with that nodejs, so never mix them).
if ! command -v node >/dev/null 2>&1; then
	PKGS+=(nodejs)
	command -v npm >/dev/null 2>&1 || PKGS+=(npm)
elif ! command -v npm >/dev/null 2>&1; then
	if dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
		die "node is nodesource's but npm is missing; Debian's npm conflicts with it: reinstall nodesource's nodejs (it ships npm)"
	fi
	PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#PKGS[@]} Debian packages already installed: skipping apt-get"
else
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run this as root"
	[ -r /etc/debian_version ] || die "this script targets Debian 12"
	say "missing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# tshark would ask whether non-root users may capture.
	echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
	# Keep coturn/keepalived/prometheus from starting during the install (and from
	# taking 3478); keep any policy-rc.d the machine already has.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		say "installing a temporary $policy (exit 101: no service starts)"
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT # removed when this script ends
	fi
	apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
	say "apt-get update"
	"${apt[@]}" update
	say "apt-get install ${missing[*]}"
	"${apt[@]}" install --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# Services: never enabled, never running. With systemd as PID 1, systemctl
# stops exactly the unit's processes. Without it (containers) only a PID read
# from the service's own pidfile is stopped, and only if that PID really runs
# the daemon: never /etc/init.d/X stop, whose fallback stops every process
# running the binary, including relays that tests or people started by hand.
# systemctl enable/disable work on files, with or without systemd running.
declare -A DAEMON=([coturn]=/usr/bin/turnserver [keepalived]=/usr/sbin/keepalived
	[prometheus]=/usr/bin/prometheus [unbound]=/usr/sbin/unbound [bird]=/usr/sbin/bird
	[vsftpd]=/usr/sbin/vsftpd [tayga]=/usr/sbin/tayga)
declare -A PIDFILE=([coturn]=/var/run/turnserver.pid [keepalived]=/var/run/keepalived.pid
	[prometheus]=/run/prometheus/prometheus.pid [unbound]=/run/unbound.pid
	[bird]=/run/bird/bird.pid [vsftpd]=/var/run/vsftpd/vsftpd.pid [tayga]=/var/run/tayga.pid)
# The package, where it is not named like its service.
declare -A PACKAGE=([bird]=bird2)
for s in "${SERVICES[@]}"; do
	installed "${PACKAGE[$s]:-$s}" || continue
	if [ -d /run/systemd/system ]; then
		if systemctl is-active --quiet "$s" 2>/dev/null; then
			say "stopping the $s service"
			systemctl stop "$s"
		fi
	elif [ -r "${PIDFILE[$s]}" ]; then
		pid=$(head -c 32 "${PIDFILE[$s]}" | tr -dc 0-9)
		if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "${DAEMON[$s]}" ]; then
			say "stopping the $s service (pid $pid from ${PIDFILE[$s]})"
			kill -TERM "$pid" || say "WARNING: could not stop $s (pid $pid)"
		fi
	fi
	if command -v systemctl >/dev/null 2>&1 &&
		[ "$(systemctl is-enabled "$s" 2>/dev/null || true)" = enabled ]; then
		say "disabling the $s service"
		systemctl disable "$s" >/dev/null 2>&1 || say "WARNING: could not disable $s"
	fi
done

# npm_locked DIR PACKAGE [NPM_CI_ARGS...]: the test's node_modules in DIR
# exactly as its package-lock.json says, unless PACKAGE is already there at
# the pinned version and newer than the lock. Never any install script.
npm_locked() {
	local rel=$1 dir=$ROOT/$1 pkg=$2 want have
	shift 2
	want=$(sed -n 's/.*"'"$pkg"'": *"\([^"]*\)".*/\1/p' "$dir/package.json" | head -n1)
	have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$pkg/package.json" 2>/dev/null | head -n1 || true)
	if [ -n "$want" ] && [ "$have" = "$want" ] &&
		[ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
		say "$pkg $have already installed in $rel"
	else
		say "npm ci in $rel ($pkg $want)"
		(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error "$@")
	fi
}

# playwright-core for the WebRTC test. No browser download: the test drives
# Debian's /usr/bin/chromium.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_locked tests/integration/webrtc playwright-core
# turn-server's TURN client and ws for the TURN-over-WebSocket test; its
# optional DTLS, mDNS and port-mapping helpers are not needed.
npm_locked tests/integration/turnws turn-server --omit=optional

# Something else on 3478 would make the integration tests fail; say so now.
if command -v ss >/dev/null 2>&1 && ss -H -ln '( sport = :3478 )' 2>/dev/null | grep -q .; then
	say "NOTE: something already listens on port 3478 in this network namespace (ss -lnp 'sport = :3478');" \
		"the integration tests use a private namespace when they can (TWIST_TEST_NETNS)"
fi

say "ready: $(cmake --version | head -n1), $(clang --version | head -n1), node $(node --version)," \
	"$(turnserver --version 2>/dev/null | head -n1 | tr -d '\r' || echo coturn), $(chromium --version 2>/dev/null || echo chromium)"
